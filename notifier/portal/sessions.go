package portal

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/breachnotify/breachnotify/notifier"
)

// registerSessions mounts the member's device list and its sign-outs.
func (s *Server) registerSessions(page func(pattern string, h http.HandlerFunc)) {
	page("GET /portal/sessions", s.signedIn(s.sessionsPage))
	page("POST /portal/sessions/{id}/end", s.signedIn(s.endSession))
	page("POST /portal/sessions/end", s.signedIn(s.endSessions))
}

// deviceView is one session on the devices page.
type deviceView struct {
	notifier.PortalDevice
	// Device is a short description from the User-Agent (data).
	Device string
}

// sessionsPage is the devices page's data.
type sessionsPage struct {
	Devices []deviceView
	// Ended is how many sessions the last sign-out ended (-1: none asked).
	Ended int
}

// sessionsPage serves GET /portal/sessions: the member's own signed-in
// devices, this one marked.
func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	list, err := s.svc.PortalDevices(r.Context(), sess)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	v := sessionsPage{Ended: -1}
	if n, err := strconv.Atoi(r.URL.Query().Get("ended")); err == nil && n >= 0 {
		v.Ended = n
	}
	for _, d := range list {
		v.Devices = append(v.Devices, deviceView{PortalDevice: d, Device: deviceName(d.UserAgent)})
	}
	s.render(w, r, http.StatusOK, "sessions", s.portalData(sess, "sessions", pageData{Title: "nav.sessions", Page: v}))
}

// endSession serves POST /portal/sessions/{id}/end: one of the member's
// own sessions ends at once; any other number is the neutral 404.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	id, ok := pathID(r)
	if !ok {
		s.portalFail(w, r, sess, notifier.Errorf(notifier.CodeNotFound, "no such session"))
		return
	}
	if err := s.svc.EndPortalDevice(r.Context(), sess, id); err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	if id == sess.ID {
		// The member ended the session of this very request.
		s.cookies.Delete(w, sessionCookie)
		seeOther(w, r, "/portal/login?signed_out=1")
		return
	}
	seeOther(w, r, "/portal/sessions?ended=1")
}

// endSessions serves POST /portal/sessions/end: every other session of
// the member ends, or all of them (scope=all), this one too.
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request, sess notifier.PortalSession) {
	all := r.PostForm.Get("scope") == "all"
	n, err := s.svc.EndPortalDevices(r.Context(), sess, all)
	if err != nil {
		s.portalFail(w, r, sess, err)
		return
	}
	if all {
		s.cookies.Delete(w, sessionCookie)
		seeOther(w, r, "/portal/login?signed_out=1")
		return
	}
	seeOther(w, r, "/portal/sessions?ended="+strconv.Itoa(n))
}

// deviceName is a short description of a browser from its User-Agent:
// the browser and system it names, else its first characters. It is
// data (escaped and isolated where printed), never markup.
func deviceName(ua string) string {
	var browser, system string
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " · " + system
	case browser != "" || system != "":
		return browser + system
	}
	if r := []rune(strings.TrimSpace(ua)); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return strings.TrimSpace(ua)
}

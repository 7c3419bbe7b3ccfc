package admin

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
	"github.com/breachnotify/breachnotify/templates"
)

// pageFuncs are the helpers pages may call.
var pageFuncs = template.FuncMap{
	"datetime": datetime,
	// orgStateSample is how many organizations a state lists at most.
	"orgStateSample": func() int { return notifier.OrgStateSample },
	"now":            time.Now,
	"ago":            func(t time.Time) string { return duration(time.Since(t).Seconds()) },
	"seconds":        duration,
	"kind":           templates.Kind.Label,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"waveBlock": func(d pageData, w waveView, showIncident bool) waveBlock {
		return waveBlock{Wave: w, Incident: showIncident, CSRF: d.CSRF,
			CanOperate: d.Session != nil && d.Session.Role.Allows(notifier.RoleOperator)}
	},
	// svgnum writes a coordinate of the progress bar.
	"svgnum":     func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"policyForm": policyForm,
	"uploadForm": uploadFormOf,
}

// waveBlock is what the "wave" template shows: a wave, and whether the
// session may act on it.
type waveBlock struct {
	Wave waveView
	// Incident links the wave to its incident (pages listing waves of
	// several incidents).
	Incident   bool
	CanOperate bool
	CSRF       web.Verbatim
}

// datetime writes a time (or a *time.Time, nil as "never") in UTC.
func datetime(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	case *time.Time:
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	return ""
}

// duration writes an age in seconds the way a person would say it.
func duration(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d < 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

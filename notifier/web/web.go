// Package web is what the server-rendered pages share: security headers,
// cookies, form tokens, client addresses, per-address rate limits, caps
// on what a key has running at once and per-route deadlines, and with
// them the sessions kept in a cookie and the parsing and writing of
// pages. The customer pages (notifier/portal) and the staff dashboard
// (notifier/admin) each decide their own policy (the Content-Security-
// Policy, the cookies' names and SameSite mode, the form purposes, the
// rate-limit numbers, which proxies to trust); the mechanisms are here,
// once, so that a fix to one is a fix to both.
package web

import "net/http"

// SecureHeaders sets the headers every page, redirect and download of the
// server-rendered pages carries: csp, the caller's own
// Content-Security-Policy (the pages differ in what they may load), and
// the same rest for all. Their URLs may carry a token and their bodies
// personal data, so nothing may frame them, cache them, sniff their type
// or send their address to another site in a Referer.
func SecureHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

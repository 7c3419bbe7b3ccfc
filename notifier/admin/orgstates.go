package admin

import "github.com/breachnotify/breachnotify/notifier"

// orgStateRow is one state of the incident page's organization table: its
// count, the first organizations, and the command that lists them all
// (there is no console page for the full lists).
type orgStateRow struct {
	Key, Label string
	Count      int
	First      []string
	// More is true when First is only the start of the list.
	More bool
	Full string
}

// orgStateRows orders the states as a coordinator reads them: who was
// told, who answered, who could not be reached, who still waits.
func orgStateRows(st notifier.OrgStates, slug string) []orgStateRow {
	row := func(key, label string, s notifier.OrgState, full string) orgStateRow {
		return orgStateRow{Key: key, Label: label, Count: s.Count, First: s.First, More: s.Count > len(s.First), Full: full}
	}
	return []orgStateRow{
		row("notified", "Notified", st.Notified, "breachnotify notice list "+slug),
		row("acknowledged", "Acknowledged", st.Acknowledged, "breachnotify notice list "+slug+" --acknowledged=true"),
		row("unreachable", "Unreachable", st.Unreachable, "breachnotify notice unreachable "+slug),
		row("awaiting_initial", "Awaiting initial notice", st.AwaitingInitial, "breachnotify incident deadlines "+slug+" (once the clock runs)"),
		row("urgent", "Urgent (live secrets not yet notified)", st.Urgent, "breachnotify wave plan "+slug+" --urgent-only (plans a wave: its targets)"),
	}
}

package notifier

import "strings"

// SafeCSVCell neutralises a value a spreadsheet would run as a formula
// (starting with =, +, -, @, tab or CR) by prefixing a single quote, as
// OWASP recommends for CSV exports.
func SafeCSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
)

// apiClient builds the client every IR verb uses. The server and key come
// from, in order: the --url and --api-key-file flags, the environment
// (BREACHNOTIFY_URL, BREACHNOTIFY_API_KEY or BREACHNOTIFY_API_KEY_FILE),
// the config file's profile, the default URL. It refuses to run without a
// key rather than let the server answer 401 to every request.
func apiClient(e *env) (*apiclient.Client, error) {
	base, key, err := resolveServer(e)
	if err != nil {
		return nil, err
	}
	return apiclient.New(base, key), nil
}

// resolveServer finds the server's URL and the API key (see apiClient).
func resolveServer(e *env) (base, key string, err error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return "", "", err
	}
	g := e.globals
	if g == nil {
		g = &globals{}
	}
	base, key = cfg.URL, cfg.APIKey
	envKey := e.env("BREACHNOTIFY_API_KEY") != "" || e.env("BREACHNOTIFY_API_KEY_FILE") != ""
	if e.env("BREACHNOTIFY_URL") == "" || !envKey {
		p, err := loadProfile(g, e.env)
		if err != nil {
			return "", "", err
		}
		if e.env("BREACHNOTIFY_URL") == "" && p.URL != "" {
			base = p.URL
		}
		if !envKey && p.APIKeyFile != "" {
			if key, err = readKeyFile(p.APIKeyFile); err != nil {
				return "", "", err
			}
		}
	}
	if g.url != "" {
		base = g.url
	}
	if g.apiKeyFile != "" {
		if key, err = readKeyFile(g.apiKeyFile); err != nil {
			return "", "", err
		}
	}
	if strings.TrimSpace(key) == "" {
		return "", "", errNoAPIKey
	}
	return base, key, nil
}

// errNoAPIKey exits with exitAuth: the command needs credentials.
var errNoAPIKey = errors.New("no API key: pass --api-key-file, set BREACHNOTIFY_API_KEY (or BREACHNOTIFY_API_KEY_FILE), or name an api_key_file in a profile; make a key with `breachnotify apikey create`")

// subcommands dispatches a verb group (incident, wave, ...) to its verb.
func subcommands(ctx context.Context, e *env, args []string, use string, verbs map[string]command) error {
	if len(args) == 0 {
		return usageError{use}
	}
	verb, ok := verbs[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown verb %q\n%s", args[0], use)}
	}
	return explain(ctx, verb(ctx, e, args[1:]))
}

// explain turns errors that would only say "connection refused" or
// "context canceled" into ones that say what to do. API error replies
// already explain themselves and pass through untouched.
func explain(ctx context.Context, err error) error {
	var ue usageError
	var apiErr *apiclient.Error
	var urlErr *url.Error
	switch {
	case err == nil, errors.As(err, &ue), errors.As(err, &apiErr):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %w", err)
	case errors.As(err, &urlErr):
		return fmt.Errorf("%w\n(is the server at --url or BREACHNOTIFY_URL running and reachable?)", err)
	}
	return err
}

// newFlags starts a verb's flag set; every verb has --json.
func newFlags(e *env, name string) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs, fs.Bool("json", false, "print the API reply as JSON, for scripts")
}

// parseArgs parses flags wherever they appear, so that both
// `wave status 3 --watch` and `wave status --watch 3` work (the flag
// package alone stops at the first argument that is not a flag), and
// checks that exactly want positional arguments remain (want < 0: any).
func parseArgs(fs *flag.FlagSet, args []string, want int, use string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if want >= 0 && len(pos) != want {
		return nil, usageError{use}
	}
	return pos, nil
}

// flagSet reports whether the flag was given on the command line, to tell
// --require-approval=false from no flag at all.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// parseID reads a wave id argument.
func parseID(s, use string) (int64, error) {
	id, ok := notifier.ParseInt(s)
	if !ok {
		return 0, usageError{fmt.Sprintf("%q is not an id (a positive integer)\n%s", s, use)}
	}
	return id, nil
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// isTerminal reports whether w is a terminal, where a progress line can be
// redrawn in place; pipes and files get one line per change instead.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// terminalText is text from breach data (an archive member's name, a parser's
// reason quoting a header) made safe to print on a terminal: every
// character that is not graphic (escape sequences, which can move the
// cursor, retitle the window or make an OSC 8 link; bidi overrides; other
// controls) and every byte that is not UTF-8 is shown escaped, as Go would
// quote it, instead of being written through.
func terminalText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unicode.IsGraphic(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

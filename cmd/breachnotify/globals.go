package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// globals are the flags every verb takes, wherever they stand on the
// command line.
type globals struct {
	url        string
	apiKeyFile string
	profile    string
	configPath string
	output     string
}

// globalFlag describes one global flag for both cobra (help, completion,
// the verbs cobra parses) and take (the verbs that parse their own).
type globalFlag struct {
	name, short, usage string
	target             func(*globals) *string
}

var globalFlags = []globalFlag{
	{"url", "", "server URL for the IR verbs (default: BREACHNOTIFY_URL, else the profile's url)", func(g *globals) *string { return &g.url }},
	{"api-key-file", "", "file holding the API key (default: BREACHNOTIFY_API_KEY(_FILE), else the profile's api_key_file)", func(g *globals) *string { return &g.apiKeyFile }},
	{"profile", "", "profile of the config file to use (default: BREACHNOTIFY_PROFILE, else the file's current_profile)", func(g *globals) *string { return &g.profile }},
	{"config", "", "config file with profiles (default: BREACHNOTIFY_CONFIG, else $XDG_CONFIG_HOME/breachnotify/config.yaml)", func(g *globals) *string { return &g.configPath }},
	{"output", "o", "output format: table, json or yaml (field names are the API's JSON names)", func(g *globals) *string { return &g.output }},
}

// register declares the global flags on the root, for help, completion
// and the commands cobra parses itself (version, migrate).
func (g *globals) register(root *cobra.Command) {
	for _, f := range globalFlags {
		root.PersistentFlags().StringVarP(f.target(g), f.name, f.short, "", f.usage)
	}
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{outputTable, outputJSON, outputYAML}, cobra.ShellCompDirectiveNoFileComp
	})
}

// take removes the global flags from a verb's arguments (up to "--") and
// keeps their values: --url X, --url=X, -o json, -ojson, -o=json. A verb's
// own flag of the same long name (report --output FILE) is the verb's.
func (g *globals) take(args []string, own ...string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), nil
		}
		f, value, hasValue := matchGlobal(a, own)
		if f == nil {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, usageError{fmt.Sprintf("flag needs an argument: %s", a)}
			}
			i++
			value = args[i]
		}
		*f.target(g) = value
	}
	return rest, g.check()
}

func matchGlobal(arg string, own []string) (f *globalFlag, value string, hasValue bool) {
	for i := range globalFlags {
		gf := &globalFlags[i]
		for _, prefix := range []string{"--" + gf.name, "-" + gf.name} {
			if slices.Contains(own, gf.name) {
				break
			}
			if arg == prefix {
				return gf, "", false
			}
			if v, ok := strings.CutPrefix(arg, prefix+"="); ok {
				return gf, v, true
			}
		}
		if gf.short != "" {
			if arg == "-"+gf.short {
				return gf, "", false
			}
			if v, ok := strings.CutPrefix(arg, "-"+gf.short); ok {
				return gf, strings.TrimPrefix(v, "="), true
			}
		}
	}
	return nil, "", false
}

func (g *globals) check() error {
	switch g.output {
	case "", outputTable, outputJSON, outputYAML:
		return nil
	}
	return usageError{fmt.Sprintf("-o must be table, json or yaml, not %q", g.output)}
}

// runWithOutput runs a verb in the format -o asks for: json is the verb's
// own --json; yaml is that JSON re-encoded (the same field names), one
// YAML document per JSON value (wave status --watch prints several).
func runWithOutput(ctx context.Context, e *env, run command, args []string) error {
	switch e.globals.output {
	case "", outputTable:
		return run(ctx, e, args)
	case outputJSON:
		return jsonUnsupported(run(ctx, e, append(args, "--json")))
	}
	var buf bytes.Buffer
	inner := *e
	inner.stdout = &buf
	// A verb may print its JSON and still fail (doctor with a failed
	// check): print what it said, then report the failure.
	err := jsonUnsupported(run(ctx, &inner, append(args, "--json")))
	if buf.Len() > 0 {
		if yerr := jsonToYAML(e.stdout, &buf); yerr != nil && err == nil {
			err = yerr
		}
	}
	return err
}

// jsonUnsupported names the problem when a verb has no JSON output.
func jsonUnsupported(err error) error {
	var ue usageError
	if errors.As(err, &ue) && strings.Contains(ue.msg, "flag provided but not defined: -json") {
		return usageError{"this verb prints no JSON or YAML: -o table only"}
	}
	return err
}

// jsonToYAML re-encodes a stream of JSON values as YAML documents.
func jsonToYAML(w io.Writer, r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("re-encode as YAML: %w", err)
		}
		if err := enc.Encode(yamlable(v)); err != nil {
			return err
		}
	}
	return enc.Close()
}

// yamlable turns json.Number into int64 or float64 so YAML prints numbers,
// not quoted strings.
func yamlable(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = yamlable(val)
		}
	case []any:
		for i, val := range x {
			x[i] = yamlable(val)
		}
	}
	return v
}

// profileFile is the config file's format (YAML):
//
//	current_profile: prod
//	profiles:
//	  prod:
//	    url: https://breachnotify.example.com
//	    api_key_file: ~/.config/breachnotify/prod.key
type profileFile struct {
	CurrentProfile string             `yaml:"current_profile"`
	Profiles       map[string]profile `yaml:"profiles"`
}

// profile is one server and the key to use with it.
type profile struct {
	URL        string `yaml:"url"`
	APIKeyFile string `yaml:"api_key_file"`
}

// loadProfile reads the chosen profile; no file and no profile chosen is
// no profile. A profile named but absent is an error.
func loadProfile(g *globals, getenv func(string) string) (profile, error) {
	path := firstNonEmpty(g.configPath, getenv("BREACHNOTIFY_CONFIG"))
	explicitPath := path != ""
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return profile{}, nil
		}
		path = filepath.Join(dir, "breachnotify", "config.yaml")
	}
	name := firstNonEmpty(g.profile, getenv("BREACHNOTIFY_PROFILE"))
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicitPath && name == "" {
		return profile{}, nil
	}
	if err != nil {
		return profile{}, fmt.Errorf("config file: %w", err)
	}
	var f profileFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return profile{}, fmt.Errorf("config file %s: %w", path, err)
	}
	if name == "" {
		name = f.CurrentProfile
	}
	if name == "" {
		return profile{}, nil
	}
	p, ok := f.Profiles[name]
	if !ok {
		return profile{}, fmt.Errorf("config file %s has no profile %q (it has: %s)", path, name, strings.Join(slices.Sorted(maps.Keys(f.Profiles)), ", "))
	}
	p.APIKeyFile = expandHome(p.APIKeyFile)
	return p, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// readKeyFile reads an API key from a file, trimmed of its newline.
func readKeyFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("API key file: %w", err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return "", fmt.Errorf("API key file %s is empty", path)
	}
	return key, nil
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachnotify/breachnotify/config"
)

// The command tree is spf13/cobra's: it is what kubectl and gh are built
// on, so `--help` on every level, `help VERB`, unknown-verb suggestions,
// `completion bash|zsh|fish` and the flag syntax behave as people already
// expect. The verbs themselves keep their own flag sets (each leaf passes
// its arguments through untouched), so that moving to cobra changed no
// verb's behaviour; cobra owns the tree, the global flags and help.

// Command groups on the top-level help.
const (
	groupServer = "server"
	groupIR     = "ir"
)

// verbSpec is one leaf of the tree: a name, a line for the listing, the
// full usage shown by --help, and the existing implementation it runs.
type verbSpec struct {
	name, short, use string
	run              command
	// ownFlags are the verb's flags that share a global flag's long name.
	ownFlags []string
}

// group builds a verb group (wave, incident, ...) whose leaves run
// through the group's dispatcher, so `wave plan ARGS` still reaches
// cmdWave with ["plan", ARGS...].
func group(ctx context.Context, e *env, name, short, use string, dispatch command, verbs ...verbSpec) *cobra.Command {
	g := &cobra.Command{
		Use:   name + " VERB",
		Short: short,
		Long:  short + "\n\n" + use,
		Args:  cobra.ArbitraryArgs,
		// Two edits away ("statsu") still suggests "status".
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Only reached without a known verb: say which exist.
			if len(args) == 0 {
				return usageError{"a verb is needed\n" + use}
			}
			msg := fmt.Sprintf("unknown verb %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usageError{msg + "\n" + use}
		},
	}
	for _, v := range verbs {
		v := v
		run := v.run
		if run == nil {
			run = func(ctx context.Context, e *env, args []string) error {
				return dispatch(ctx, e, append([]string{v.name}, args...))
			}
		}
		g.AddCommand(leaf(ctx, e, verbSpec{name: v.name, short: v.short, use: v.use, run: run}))
	}
	return g
}

// leaf is a verb that parses its own flags: cobra hands it every argument
// after the verb. The global flags (--url, -o, ...) are taken out first,
// wherever they stand, and -h/--help shows the verb's usage and flags
// without running it.
func leaf(ctx context.Context, e *env, v verbSpec) *cobra.Command {
	return &cobra.Command{
		Use:                v.name,
		Short:              v.short,
		Long:               v.short + "\n\n" + v.use,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := e.globals.take(args, v.ownFlags...)
			if err != nil {
				return err
			}
			if wantsHelp(args) {
				return leafHelp(ctx, e, cmd, v)
			}
			return runWithOutput(ctx, e, v.run, args)
		},
	}
}

// wantsHelp reports a -h or --help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help", "-help":
			return true
		}
	}
	return false
}

// leafHelp prints the verb's usage and its flags on stdout. The flags are
// read from the verb's own flag set by running it with -h against an
// environment that fails any attempt to load the configuration, so help
// can never reach a server or a database.
func leafHelp(ctx context.Context, e *env, cmd *cobra.Command, v verbSpec) error {
	var flags bytes.Buffer
	probe := &env{stdout: io.Discard, stderr: &flags, globals: &globals{},
		loadConfig: func() (*config.Config, error) { return nil, errors.New("help loads no configuration") }}
	_ = v.run(ctx, probe, []string{"-h"})
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%s\n\n%s\n", v.short, v.use)
	if text := verbFlags(flags.String()); text != "" {
		fmt.Fprintf(out, "\nFlags:\n%s", text)
	}
	fmt.Fprintf(out, "\nGlobal flags:\n%s", cmd.InheritedFlags().FlagUsages())
	return nil
}

// verbFlags keeps the flag list of the flag package's usage text (without
// its "Usage of NAME:" line).
func verbFlags(usage string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(usage, "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// newRoot builds the whole command tree for one run.
func newRoot(ctx context.Context, e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "breachnotify",
		Short: "breach notification campaigns, end to end",
		Long: `breachnotify: breach notification campaigns, end to end.

The server verbs run where the service runs (they read BREACHNOTIFY_*
environment variables, see the README). The IR verbs talk to a running
server: --url and --api-key-file, else BREACHNOTIFY_URL and
BREACHNOTIFY_API_KEY(_FILE), else the profile in the config file.

Exit codes: ` + exitCodesText,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return e.globals.check()
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	e.globals.register(root)
	root.AddGroup(
		&cobra.Group{ID: groupServer, Title: "Server and database (run where the service runs):"},
		&cobra.Group{ID: groupIR, Title: "IR verbs (talk to a running server):"},
	)
	for _, c := range serverCommands(ctx, e) {
		c.GroupID = groupServer
		root.AddCommand(c)
	}
	for _, c := range irCommands(ctx, e) {
		c.GroupID = groupIR
		root.AddCommand(c)
	}
	root.AddCommand(versionCommand(e))
	return root
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, e *env, args []string) int {
	if e.globals == nil {
		e.globals = &globals{}
	}
	root := newRoot(ctx, e)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	name := strings.TrimPrefix(cmd.CommandPath(), "breachnotify ")
	if cmd == root {
		name = ""
		if strings.HasPrefix(err.Error(), "unknown command") {
			err = usageError{err.Error() + "\nRun 'breachnotify --help' for the list of commands."}
		}
	}
	prefix := "breachnotify"
	if name != "" {
		prefix += " " + strings.Fields(name)[0]
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", prefix, err)
	return exitCode(err)
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

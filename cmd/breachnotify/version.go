package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/breachnotify/breachnotify/notifier/buildinfo"
)

// versionCommand prints which build this is: what a bug report needs.
func versionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, VCS revision, build time and Go version (-o json|yaml)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			if done, err := printStructured(e, info); done {
				return err
			}
			dirty := ""
			if info.Modified {
				dirty = " (modified)"
			}
			t := newTable(e.stdout, "version", info.Version)
			t.row("revision", info.Revision+dirty)
			t.row("commit time", info.CommitTime)
			t.row("build time", info.BuildTime)
			t.row("go", info.GoVersion)
			return t.flush()
		},
	}
}

// printStructured prints v as JSON or YAML when -o asks for it, and says
// whether it did; the table is the caller's.
func printStructured(e *env, v any) (bool, error) {
	switch e.globals.output {
	case outputJSON:
		return true, printJSON(e.stdout, v)
	case outputYAML:
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			return true, fmt.Errorf("encode: %w", err)
		}
		return true, jsonToYAML(e.stdout, &buf)
	}
	return false, nil
}

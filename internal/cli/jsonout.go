package cli

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// With --json every outcome of a redstage command prints exactly one JSON
// document, and nothing else on that stream: on stdout, or on stderr when
// stdout carries the command's data (scan -o -, infer without -o). A job
// command's document is its Summary; jobs, status, cancel, workers,
// sample-data and version print their records; and a run that fails before
// printing its document (a usage error, an unknown job id) prints an error
// document: a Summary with command, state "rejected" or "failed", ok false,
// exit_code, error and hint.

// jsonStream is where this run's JSON document goes.
func (a *App) jsonStream() io.Writer {
	if a.stdoutData {
		return a.Stderr
	}
	return a.Stdout
}

// errorDocument is the JSON document of a run that failed before printing
// its own.
func errorDocument(root *cobra.Command, args []string, start time.Time, err error) *Summary {
	name := root.Name()
	if c, _, ferr := root.Find(args); ferr == nil && c != nil && c != root {
		name = strings.TrimSpace(strings.TrimPrefix(c.CommandPath(), root.Name()))
	}
	s := &Summary{Command: name}
	s.finish(start, err)
	return s
}

// jsonFlag reports whether args ask for --json, read before (and even when)
// the command line fails to parse.
func jsonFlag(args []string) bool {
	on := false
	for _, arg := range args {
		if arg == "--" {
			break
		}
		switch {
		case arg == "--json":
			on = true
		case strings.HasPrefix(arg, "--json="):
			v, err := strconv.ParseBool(strings.TrimPrefix(arg, "--json="))
			on = err == nil && v
		}
	}
	return on
}

// stdoutCarriesData reports whether the parsed command writes its data to
// stdout: scan -o -, or infer without -o (or -o -).
func stdoutCarriesData(cmd *cobra.Command) bool {
	out := cmd.Flags().Lookup("output")
	switch {
	case out == nil:
		return false
	case cmd.Name() == "scan":
		return out.Value.String() == "-"
	case cmd.Name() == "infer":
		return out.Value.String() == "" || out.Value.String() == "-"
	}
	return false
}

// argsPutDataOnStdout is stdoutCarriesData for a command line that may not
// parse: it looks for the subcommand and its -o/--output value in args.
func argsPutDataOnStdout(root *cobra.Command, args []string) bool {
	c, _, err := root.Find(args)
	if err != nil || c == nil || (c.Name() != "scan" && c.Name() != "infer") {
		return false
	}
	out, given := "", false
	for i := 0; i < len(args) && args[i] != "--"; i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				out, given = args[i+1], true
				i++
			}
		case strings.HasPrefix(a, "--output="):
			out, given = strings.TrimPrefix(a, "--output="), true
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			out, given = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "="), true
		}
	}
	if c.Name() == "scan" {
		return out == "-"
	}
	return !given || out == "" || out == "-"
}

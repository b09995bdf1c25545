package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// runApp runs the redstage program on buffers.
func runApp(t *testing.T, app *App, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	app.Stdin, app.Stdout, app.Stderr = strings.NewReader(""), &out, &errb
	if app.Getenv == nil {
		app.Getenv = env()
	}
	code = app.Run(t.Context(), "redstage", args)
	return code, out.String(), errb.String()
}

func TestSuggestions(t *testing.T) {
	tests := []struct {
		args []string
		hint string
	}{
		{[]string{"scna", "-o", "x.parquet"}, "did you mean: redstage scan?"},
		{[]string{"lod", "a.csv"}, "redstage load"},
		{[]string{"load", "a.csv", "--key-colum", "id"}, "did you mean --key-column?"},
		{[]string{"scan", "x:*", "-o", "a.csv", "--inclde-ttl"}, "did you mean --include-ttl?"},
		{[]string{"delete", "x:*", "--dryrun"}, "did you mean --dry-run?"},
	}
	for _, tc := range tests {
		code, _, stderr := runApp(t, &App{}, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.hint) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.hint)
		}
	}
}

func TestBinaryToTerminalRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"scan", "x:*", "--schema", "a:utf8", "-o", "-"}, ExitUsage},
		{[]string{"scan", "x:*", "--schema", "a:utf8", "-o", "-", "--format", "parquet"}, ExitUsage},
	} {
		code, stdout, stderr := runApp(t, &App{StdoutTTY: true}, tc.args...)
		if code != tc.code || !strings.Contains(stderr, "--force") || stdout != "" {
			t.Errorf("%q to a terminal: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
	// Text formats, and --force, pass the check.
	for _, args := range [][]string{
		{"scan", "x:*", "--schema", "a:utf8", "-o", "-", "--format", "csv"},
		{"scan", "x:*", "--schema", "a:utf8", "-o", "-", "--force"},
	} {
		app := &App{StdoutTTY: true, parseOnly: true}
		if code, _, stderr := runApp(t, app, args...); code != ExitOK || app.parsed == nil {
			t.Errorf("%q to a terminal: exit %d, stderr %q; want it accepted", args, code, stderr)
		}
	}
}

func TestJSONUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		toStderr bool
	}{
		{"unknown flag", []string{"load", "a.csv", "--nope", "--json"}, false},
		{"unknown command", []string{"frob", "--json"}, false},
		{"missing argument", []string{"infer", "--json", "-o", "s.json"}, false},
		{"scan to stdout", []string{"scan", "x:*", "-o", "-", "--json", "--bogus"}, true},
		{"infer to stdout", []string{"infer", "--json"}, true},
		{"jobs without a cluster", []string{"jobs", "--json"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runApp(t, &App{}, tc.args...)
			doc, other := stdout, stderr
			if tc.toStderr {
				doc, other = stderr, stdout
			}
			dec := json.NewDecoder(strings.NewReader(doc))
			var s Summary
			if err := dec.Decode(&s); err != nil {
				t.Fatalf("no JSON document (%v): stdout %q stderr %q", err, stdout, stderr)
			}
			if dec.More() {
				t.Errorf("more than one document: %q", doc)
			}
			if s.OK || s.ExitCode != code || code != ExitUsage || s.Error == "" || s.Hint == "" || s.State != "rejected" {
				t.Errorf("document %+v, exit %d", s, code)
			}
			if tc.toStderr && other != "" {
				t.Errorf("stdout carries data, yet got %q", other)
			}
			if tc.toStderr && strings.Contains(stderr, "redstage: error") {
				t.Errorf("stderr has the human error besides the JSON document: %q", stderr)
			}
		})
	}
}

func TestJSONFlagAndStdoutData(t *testing.T) {
	for args, want := range map[string]bool{
		"scan x --json":         true,
		"scan x --json=false":   false,
		"scan x --json=1":       true,
		"scan x -- --json":      false,
		"scan x -o out.parquet": false,
	} {
		if got := jsonFlag(strings.Fields(args)); got != want {
			t.Errorf("jsonFlag(%q) = %v", args, got)
		}
	}
	root := (&App{Getenv: env()}).redstageCommand()
	for args, want := range map[string]bool{
		"scan x -o -":             true,
		"scan x --output=-":       true,
		"scan x -o-":              true,
		"scan x -o a.parquet":     false,
		"infer x":                 true,
		"infer x -o s.json":       false,
		"infer x --output s.json": false,
		"load a.csv":              false,
	} {
		if got := argsPutDataOnStdout(root, strings.Fields(args)); got != want {
			t.Errorf("argsPutDataOnStdout(%q) = %v", args, got)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"scna", "scan", 2}, {"key-colum", "key-column", 1}, {"kitten", "sitting", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

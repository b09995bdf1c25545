package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/redstage/redstage/cluster"
)

// App holds what a program talks to: its streams, its environment, and
// whether stderr is a terminal. Tests build one with buffers; Main uses the
// process's own.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// StderrTTY: stderr is a terminal (progress bar instead of log lines).
	StderrTTY bool

	// StdoutTTY: stdout is a terminal (binary output is refused there).
	StdoutTTY bool

	// parseOnly makes commands check and record their options instead of
	// running (Parse).
	parseOnly bool
	parsed    *Parsed

	// --json bookkeeping of one Run (see jsonout.go): jsonWanted = --json
	// was given; stdoutData = stdout carries the command's data, so the
	// JSON document goes to stderr; jsonDone = the document was written.
	jsonWanted bool
	stdoutData bool
	jsonDone   bool
}

// NewApp returns an App on the process's streams and environment.
func NewApp() *App {
	return &App{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Getenv:    os.Getenv,
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// Parsed is a command line checked but not run (see Parse).
type Parsed struct {
	Program string // redstage, coordinator or worker
	Command string // the subcommand path, e.g. "scan" or "jobs"; "" for coordinator and worker
	Options any    // *LoadOptions, *ScanOptions, *CoordinatorOptions, ...
}

// Parse parses and checks a command line of program exactly as the program
// would, with getenv as its environment, and returns the resulting options
// without connecting to anything or reading input files. The Kubernetes
// manifests are tested with it so that they cannot drift from the flags.
func Parse(program string, args []string, getenv func(string) string) (*Parsed, error) {
	app := &App{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: getenv, parseOnly: true}
	cmd, err := app.command(program)
	if err != nil {
		return nil, err
	}
	cmd.SetArgs(args)
	if err := execute(context.Background(), cmd); err != nil {
		return nil, err
	}
	if app.parsed == nil {
		return nil, fmt.Errorf("%s %s: nothing to run (help or version)", program, strings.Join(args, " "))
	}
	app.parsed.Program = program
	return app.parsed, nil
}

// command returns the root command of program.
func (a *App) command(program string) (*cobra.Command, error) {
	var cmd *cobra.Command
	switch program {
	case "redstage":
		cmd = a.redstageCommand()
	case "coordinator":
		cmd = a.coordinatorCommand()
	case "worker":
		cmd = a.workerCommand()
	default:
		return nil, fmt.Errorf("unknown program %q (want redstage, coordinator or worker)", program)
	}
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.SetIn(a.Stdin)
	cmd.SetOut(a.Stdout)
	cmd.SetErr(a.Stderr)
	cmd.SetVersionTemplate(program + " {{.Version}}\n")
	setFlagErrors(cmd)
	return cmd, nil
}

// setFlagErrors turns flag parse errors into usage errors, on every
// command, suggesting the flag meant when one is close.
func setFlagErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		hint := fmt.Sprintf("see: %s --help", c.CommandPath())
		if s := suggestFlag(c, err); s != "" {
			hint = fmt.Sprintf("did you mean %s? (see: %s --help)", s, c.CommandPath())
		}
		return usageErrorf(hint, "%w", err)
	})
	for _, sub := range cmd.Commands() {
		setFlagErrors(sub)
	}
}

// execute runs a program's root command and turns cobra's own errors
// (an unknown command) into usage errors with suggestions.
func execute(ctx context.Context, root *cobra.Command) error {
	_, err := root.ExecuteContextC(ctx)
	return commandError(root, err)
}

// record stores the options of a command in parse-only mode and reports
// whether the command should stop there.
func (a *App) record(cmd *cobra.Command, opts any) bool {
	if !a.parseOnly {
		return false
	}
	path := strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()))
	a.parsed = &Parsed{Command: path, Options: opts}
	return true
}

// Main runs program with args (without the program name) on the process's
// streams, handling SIGINT and SIGTERM, and returns the exit code. The first
// signal cancels the command's context (the command cancels its job on the
// cluster and returns); a second one exits at once.
func Main(program string, args []string) int {
	app := NewApp()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A closed output pipe (scan -o - | head) makes writes fail with EPIPE
	// instead of killing the process: the command then cancels its job,
	// removes its temporary store and exits with ExitBrokenPipe.
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				cancel()
				continue
			}
			fmt.Fprintf(app.Stderr, "%s: second signal: exiting at once\n", program)
			cluster.RemoveTempStores()
			os.Exit(ExitInterrupted)
		}
	}()
	return app.Run(ctx, program, args)
}

// Run runs program with args and returns the exit code. Errors are printed
// to stderr with a hint saying what to do.
func (a *App) Run(ctx context.Context, program string, args []string) int {
	cmd, err := a.command(program)
	if err != nil {
		fmt.Fprintf(a.Stderr, "%s: error: %v\n", program, err)
		return ExitFailure
	}
	cmd.SetArgs(args)
	a.jsonWanted = program == "redstage" && jsonFlag(args)
	a.stdoutData = a.jsonWanted && argsPutDataOnStdout(cmd, args)
	start := time.Now()
	err = execute(ctx, cmd)
	if err == nil {
		return ExitOK
	}
	code, hint := Classify(err)
	if a.jsonWanted && !a.jsonDone {
		a.writeJSONDoc(a.jsonStream(), errorDocument(cmd, args, start, err))
	}
	if !a.jsonWanted || !a.stdoutData {
		a.printError(program, err, hint) // else stderr holds the JSON document only
	}
	return code
}

func (a *App) printError(program string, err error, hint string) {
	fmt.Fprintf(a.Stderr, "%s: error: %v\n", program, err)
	if hint != "" {
		fmt.Fprintf(a.Stderr, "%s: what to do: %s\n", program, hint)
	}
}

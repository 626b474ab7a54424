// Command epmc is the command-line tool of the epmc toolkit for
// embarrassingly parallel MCMC: it samples subposteriors on data shards,
// combines their draws, summarises, diagnoses, compares and plots draws,
// runs the whole job locally or writes it out for Slurm, samples
// Dirichlet-process mixtures in parallel and filters state-space models.
//
// Run "epmc help" for the list of subcommands and "epmc CMD --help" for
// one subcommand's flags. Exit status is 0 on success, 1 when a run fails
// and 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/epmc/epmc"
)

// command is one subcommand. setup declares the flags on fs and returns the
// function that runs the command with the positional arguments.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // synopsis, e.g. "epmc summary [flags] FILE..."
	help    string // what it does, with an example
	setup   func(fs *flag.FlagSet) func(e *env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("epmc: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// env is what a command may touch of the outside world; tests replace it.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// progress is true when stderr is a terminal: long runs then draw
	// progress there; in pipes and CI they stay quiet.
	progress bool
	getenv   func(string) string
	// self is the path of the epmc executable, for commands that start
	// epmc processes.
	self string
}

// usageError marks an error as bad usage (exit status 2).
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	e := &env{
		ctx: ctx, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		progress: term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("EPMC_NO_PROGRESS") == "",
		getenv:   os.Getenv, self: self,
	}
	code := run(e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status.
func run(e *env, args []string) int {
	if len(args) == 0 {
		printCommands(e.stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printUsage(e.stdout, c, newFlagSet(c))
				return 0
			}
			fmt.Fprintf(e.stderr, "epmc: unknown command %q\n", args[1])
			return 2
		}
		printCommands(e.stdout)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(e.stdout, "epmc", epmc.Version)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "epmc: unknown command %q (run \"epmc help\" for the list)\n", name)
		return 2
	}
	fs := newFlagSet(c)
	exec := c.setup(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printUsage(e.stdout, c, fs)
		return 0
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "epmc %s: %v\n(run \"epmc %s --help\" for usage)\n", name, err, name)
		return 2
	}
	err = exec(e, pos)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "epmc %s: %v\n(run \"epmc %s --help\" for usage)\n", name, err, name)
		return 2
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "epmc %s: interrupted\n", name)
		return 1
	}
	fmt.Fprintf(e.stderr, "epmc %s: %v\n", name, err)
	return 1
}

func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("epmc "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (so "epmc combine a.arrow b.arrow -o out.arrow"
// works); everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func printCommands(w io.Writer) {
	fmt.Fprintf(w, "epmc %s: embarrassingly parallel MCMC\n\nUsage: epmc COMMAND [flags] [args]\n\nCommands:\n", epmc.Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"epmc COMMAND --help\" for a command's flags.")
}

func printUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.usage, strings.TrimSpace(c.help))
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "  %s%s", dash, f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", b.String())
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// exitError ends the program with a code after the command already printed why.
type exitError int

func (e exitError) Error() string { return "exit " + strconv.Itoa(int(e)) }

// usageError is a command used wrongly: main prints the reason and the command's usage on
// standard error and exits 2.
type usageError struct {
	err   error
	usage string
}

func (e *usageError) Error() string { return e.err.Error() }

// cmdFlags is one command's flag set: -h prints the command's usage with only its own flags.
type cmdFlags struct {
	*flag.FlagSet
	name, args, summary string
	out                 io.Writer // where -h prints
}

// newFlags makes the flag set of "opsflow name": args describes its arguments ("[flags] ID").
func newFlags(out io.Writer, name, args, summary string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &cmdFlags{FlagSet: fs, name: name, args: args, summary: summary, out: out}
}

// help is the command's usage: what it does and its flags.
func (c *cmdFlags) help() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\n%s\n", strings.TrimSpace("opsflow "+c.name+" "+c.args), c.summary)
	n := 0
	c.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags (each also an environment variable, named in brackets):\n")
		c.SetOutput(&b)
		c.PrintDefaults()
		c.SetOutput(io.Discard)
	}
	return b.String()
}

// usage is a usage error of this command.
func (c *cmdFlags) usage(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...), usage: c.help()}
}

// parse reads the flags and checks the number of arguments left (nargs; -1: any). -h prints the
// help and ends the command with exit 0.
func (c *cmdFlags) parse(args []string, nargs int) error {
	if err := c.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.out, c.help())
			return exitError(0)
		}
		return &usageError{err: err, usage: c.help()}
	}
	switch {
	case nargs == 0 && c.NArg() > 0:
		return c.usage("%s takes no arguments, got %q", c.name, c.Arg(0))
	case nargs > 0 && c.NArg() != nargs:
		return c.usage("%s wants %s", c.name, c.args)
	}
	return nil
}

// subcommands dispatches "opsflow name SUB ..." to subs; no or an unknown SUB is a usage error
// listing them, and -h lists them.
func subcommands(out io.Writer, name string, args []string, subs map[string]func([]string, io.Writer) error) error {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	help := fmt.Sprintf("Usage: opsflow %s %s ...\n\nRun \"opsflow %s SUBCOMMAND -h\" for each one's flags.\n", name, strings.Join(names, "|"), name)
	if len(args) == 0 {
		return &usageError{err: fmt.Errorf("%s needs a subcommand: %s", name, strings.Join(names, ", ")), usage: help}
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, help)
		return exitError(0)
	}
	run, ok := subs[args[0]]
	if !ok {
		return &usageError{err: fmt.Errorf("unknown %s subcommand %q (want %s)", name, args[0], strings.Join(names, ", ")), usage: help}
	}
	return run(args[1:], out)
}

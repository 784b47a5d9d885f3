package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// helpPage is the help of one subcommand: what it does, its flags grouped by
// purpose (each with its value, its meaning and its default, taken from the
// flag set), and examples. Flags are shown in the --flag spelling; the flag
// package accepts -flag as well.
type helpPage struct {
	usage    string // "segloop import [flags] FILE|-|DATABASE-URL"
	about    string // a few sentences, already wrapped
	sections []helpSection
	examples string // already formatted, one command a line
}

// helpSection is a group of flags, by name, in the order shown.
type helpSection struct {
	title string
	flags []string
}

// Layout of a flag's line: the text starts at helpIndent and wraps at
// helpWidth.
const (
	helpIndent = 25
	helpWidth  = 80
)

// write prints the page with the flags of fs. A flag of fs that no section
// names is listed under "Other flags", so that a flag registered elsewhere
// (see limiterFlags.register) is never left out.
func (p *helpPage) write(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", p.usage, strings.TrimRight(p.about, "\n"))
	listed := map[string]bool{}
	for _, s := range p.sections {
		fmt.Fprintf(&b, "\n%s:\n", s.title)
		for _, name := range s.flags {
			if f := fs.Lookup(name); f != nil && !listed[name] {
				listed[name] = true
				writeFlag(&b, f)
			}
		}
	}
	var other []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			other = append(other, f)
		}
	})
	if len(other) > 0 {
		b.WriteString("\nOther flags:\n")
		for _, f := range other {
			writeFlag(&b, f)
		}
	}
	if p.examples != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", strings.TrimRight(p.examples, "\n"))
	}
	io.WriteString(w, b.String())
}

// summary is the page's sections as one line of flag names each, for the
// overview of every command (segloop help).
func (p *helpPage) summary(w io.Writer) {
	width := 0
	for _, s := range p.sections {
		width = max(width, len(s.title)+1)
	}
	for _, s := range p.sections {
		names := make([]string, len(s.flags))
		for i, n := range s.flags {
			names[i] = "--" + n
		}
		line := fmt.Sprintf("    %-*s ", width, strings.ToLower(s.title)+":")
		wrapTo(w, line, strings.Join(names, " "), len(line))
	}
}

// writeFlag writes one flag: "  --name VALUE" and its text, wrapped.
func writeFlag(b *strings.Builder, f *flag.Flag) {
	value, text := helpText(f)
	head := "  --" + f.Name
	if value != "" {
		head += " " + value
	}
	if def := f.DefValue; !slices.Contains([]string{"", "0", "false"}, def) && !strings.Contains(text, "(default") {
		text += " (default " + def + ")"
	}
	if len(head) >= helpIndent-1 {
		b.WriteString(head + "\n")
		head = ""
	}
	wrapTo(b, fmt.Sprintf("%-*s", helpIndent, head), text, helpIndent)
}

// helpText splits a flag's usage into its value name and its text. A usage
// that starts with a back-quoted word names the value ("`FILE` the mapping"
// shows as --map FILE); otherwise the value is named by its type, as the
// flag package does, and a boolean flag takes none.
func helpText(f *flag.Flag) (value, text string) {
	if rest, ok := strings.CutPrefix(f.Usage, "`"); ok {
		if name, text, ok := strings.Cut(rest, "`"); ok {
			return name, strings.TrimSpace(text)
		}
	}
	value, text = flag.UnquoteUsage(f)
	if value == "value" {
		value = "VALUE"
	}
	return value, text
}

// wrapTo writes text after first (a line's start, already padded), wrapped
// at helpWidth with the lines after it indented by indent.
func wrapTo(w io.Writer, first, text string, indent int) {
	line := first
	pad := strings.Repeat(" ", indent)
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > helpWidth {
			fmt.Fprintln(w, strings.TrimRight(line, " "))
			line, empty = pad, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}

// parseFlags parses args with fs, flags before and after the positional
// arguments alike, and returns the positional ones. With -h or --help it
// writes page to stdout and returns an error that exits 0; a bad flag is
// reported on stderr (by the flag package) with a pointer to the help, and
// exits 2.
func parseFlags(fs *flag.FlagSet, page *helpPage, args []string, stdout, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // the help goes to stdout, and only when asked for
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				page.write(stdout, fs)
				return nil, withCode(exitOK, errReported)
			}
			fmt.Fprintf(stderr, "run '%s -h' for the flags\n", fs.Name())
			return nil, withCode(exitUsage, errReported)
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(rest, left...), nil // after "--" every argument is positional
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

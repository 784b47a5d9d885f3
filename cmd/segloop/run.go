package main

import (
	"context"
	"fmt"
	"io"
)

// version is the segloop version, set at build time with
// -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// run is the whole command line: main only adds the signals and the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageHead+"\nRun 'segloop help' for the flags of each command.\n")
		return withCode(exitUsage, errReported)
	}
	switch args[0] {
	case "import":
		return runImport(ctx, args[1:], stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "segloop %s\n", version)
		return nil
	case "help", "-h", "--help":
		return runHelp(ctx, args[1:], stdout)
	default:
		fmt.Fprint(stderr, usageHead)
		return usageError("unknown command %q (run 'segloop help')", args[0])
	}
}

// runHelp is segloop help [COMMAND]: the overview of every command with its
// flags grouped by purpose, or one command's help (its -h), on stdout.
func runHelp(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageHead+"\nsegloop import flags:\n")
		importHelp.summary(stdout)
		fmt.Fprint(stdout, "\nsegloop serve flags (as import's for pace and destination):\n")
		serveHelp.summary(stdout)
		fmt.Fprint(stdout, usageTail)
		return nil
	}
	help := []string{"-h"}
	switch args[0] {
	case "import":
		return runImport(ctx, help, nil, stdout, stdout)
	case "serve":
		return runServe(ctx, help, stdout, stdout)
	case "sandbox":
		return runSandbox(ctx, help, stdout, stdout)
	}
	return usageError("help: no command %q (import, serve or sandbox)", args[0])
}

package main

import (
	"context"
	"fmt"
	"io"
)

// version is the segloop version, set at build time with
// -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `usage:
  segloop import [flags] FILE|-    send every item to Segment Identify; results NDJSON to stdout
  segloop serve [flags]            run segloop as an HTTP service (API, page, metrics)
  segloop sandbox [--addr A]       run a Segment-compatible server locally and print its URL
  segloop version

Run 'segloop import -h' for the import flags, 'segloop serve -h' for the service's.
`

// run is the whole command line: main only adds the signals and the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
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
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError("unknown command %q", args[0])
	}
}

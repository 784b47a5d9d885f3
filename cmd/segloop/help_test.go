package main

import (
	"context"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestImportHelp: import -h lists every flag once, in --flag spelling,
// grouped by purpose, with examples, on stdout.
func TestImportHelp(t *testing.T) {
	t.Setenv("SEGLOOP_REDIS_URL", "redis://:hunter2hunter2@redis.internal:6379/0")
	for _, args := range [][]string{{"import", "-h"}, {"import", "--help"}, {"help", "import"}} {
		r := runCLI(t, context.Background(), nil, args...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"usage: segloop import", "Input:", "Mapping:", "Destination:", "Pace and retries:",
			"Results and failures:", "Resume and diff:", "Logging:", "Examples:", "  --rate N ", "  --query SQL|@FILE ", "(default 250)"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("%v: no %q in\n%s", args, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "Other flags") || strings.Contains(r.stdout, "hunter2") {
			t.Fatalf("%v: a flag in no group, or the Redis password shown:\n%s", args, r.stdout)
		}
		var raw rawImportFlags
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		(&importFlags{}).register(fs, &raw, func(string) string { return "" })
		fs.VisitAll(func(f *flag.Flag) {
			if n := len(regexp.MustCompile(`(?m)^  --`+regexp.QuoteMeta(f.Name)+`( |$)`).FindAllString(r.stdout, -1)); n != 1 {
				t.Errorf("--%s listed %d times", f.Name, n)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := runCLI(t, context.Background(), nil, "help")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"segloop import [flags] FILE|-|DATABASE-URL", "segloop serve", "input:", "--query --key", "resume and diff:", "--diff", "Examples:", "segloop help import"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("no %q in\n%s", want, r.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "serve"}, "--token-file FILE"},
		{[]string{"help", "sandbox"}, "--fail-rate F"},
		{[]string{"sandbox", "-h"}, "Segment's behaviour:"},
	} {
		r := runCLI(t, context.Background(), nil, tc.args...)
		if r.code != exitOK || !strings.Contains(r.stdout, tc.want) {
			t.Fatalf("%v: exit %d, want %q on stdout\nstdout:\n%s\nstderr:\n%s", tc.args, r.code, tc.want, r.stdout, r.stderr)
		}
	}
	if r := runCLI(t, context.Background(), nil, "help", "export"); r.code != exitUsage || !strings.Contains(r.stderr, `no command "export"`) {
		t.Fatalf("help export: exit %d\n%s", r.code, r.stderr)
	}
}

// TestSingleDashFlags: the flag package's -flag spelling keeps working, and
// a bad flag points to the help.
func TestSingleDashFlags(t *testing.T) {
	file := writeFile(t, "u.csv", genCSV(3))
	r := runCLI(t, context.Background(), nil, "import", "-dry-run", "-quiet", "-batch", "2", "-format=csv", file)
	if r.code != exitOK || len(parseResults(t, r.stdout)) != 3 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, context.Background(), nil, "import", "--dry-run", "--bogus", file)
	if r.code != exitUsage || !strings.Contains(r.stderr, "run 'segloop import -h' for the flags") || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--", "-odd.csv")
	if r.code != exitUsage || !strings.Contains(r.stderr, "-odd.csv") {
		t.Fatalf("after --, a name starting with - is the input: exit %d\n%s", r.code, r.stderr)
	}
}

// TestHelpPageOther: a flag that no section names is still listed.
func TestHelpPageOther(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("known", "a", "`V` a known flag")
	fs.Bool("stray", false, "a flag registered elsewhere")
	page := helpPage{usage: "x", about: "About.", sections: []helpSection{{"Known", []string{"known", "missing"}}}}
	var b strings.Builder
	page.write(&b, fs)
	want := "usage: x\n\nAbout.\n\nKnown:\n  --known V              a known flag (default a)\n\nOther flags:\n  --stray                a flag registered elsewhere\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	page.summary(io.Discard)
}

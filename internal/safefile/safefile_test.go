package safefile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/segloop/segloop/internal/safefile"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// names returns other names of the file at path: a hard link, a symlink, a
// name through a symlinked directory, one with "..", and /proc/self/fd/N.
func names(t *testing.T, path string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	hard, sym, dirlink := filepath.Join(dir, "hard"), filepath.Join(dir, "sym"), filepath.Join(dir, "dirlink")
	for _, err := range []error{os.Link(path, hard), os.Symlink(path, sym), os.Symlink(filepath.Dir(path), dirlink)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return map[string]string{
		"hard link":           hard,
		"symlink":             sym,
		"symlinked directory": filepath.Join(dirlink, filepath.Base(path)),
		"dot-dot":             filepath.Join(filepath.Dir(path), "..", filepath.Base(filepath.Dir(path)), filepath.Base(path)),
		"proc fd":             fmt.Sprintf("/proc/self/fd/%d", f.Fd()),
		"dev fd":              fmt.Sprintf("/dev/fd/%d", f.Fd()),
	}
}

func TestInputByAnotherName(t *testing.T) {
	in := write(t, t.TempDir(), "in.csv", "id\nu1\n")
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for kind, name := range names(t, in) {
		t.Run(kind, func(t *testing.T) {
			var s safefile.Set
			if err := s.Input("the input", in, f); err != nil {
				t.Fatal(err)
			}
			err := s.Check("--results", name)
			var se *safefile.SameFileError
			if !errors.As(err, &se) || !errors.Is(err, safefile.ErrSameFile) || se.OtherRole != "the input" || se.Role != "--results" {
				t.Fatalf("Check(%s) = %v, want a *SameFileError naming the input", name, err)
			}
			if kind != "proc fd" && kind != "dev fd" { // those descriptors are read-only: Create refuses them anyway
				if out, err := s.Create(context.Background(), "--results", name); !errors.Is(err, safefile.ErrSameFile) {
					if out != nil {
						out.Close()
					}
					t.Fatalf("Create(%s) = %v, want ErrSameFile", name, err)
				}
			}
			if data, _ := os.ReadFile(in); string(data) != "id\nu1\n" {
				t.Fatalf("the input changed: %q", data)
			}
		})
	}
}

func TestOutputsByTwoNames(t *testing.T) {
	dir := t.TempDir()
	results := write(t, dir, "results", "precious\n")
	for kind, name := range names(t, results) {
		if kind == "proc fd" || kind == "dev fd" {
			continue // read-only descriptors
		}
		t.Run(kind, func(t *testing.T) {
			var s safefile.Set
			if err := s.Check("--results", results); err != nil {
				t.Fatal(err)
			}
			out, err := s.Create(context.Background(), "--results", results)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			if _, err := s.Create(context.Background(), "--failed", name); !errors.Is(err, safefile.ErrSameFile) {
				t.Fatalf("second Create = %v, want ErrSameFile", err)
			}
			// Nothing was committed: the first output is untouched.
			if data, _ := os.ReadFile(results); string(data) != "precious\n" {
				t.Fatalf("truncated before Commit: %q", data)
			}
		})
	}
	t.Run("planned", func(t *testing.T) {
		var s safefile.Set
		a := filepath.Join(dir, "new.ndjson")
		if err := s.Check("--results", a); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "link")
		os.Symlink(dir, link)
		if err := s.Check("--failed", filepath.Join(link, "new.ndjson")); !errors.Is(err, safefile.ErrSameFile) {
			t.Fatalf("Check of the same new file by another name = %v, want ErrSameFile", err)
		}
	})
}

func TestCreateAndCommit(t *testing.T) {
	dir := t.TempDir()
	old := write(t, dir, "old", "old content\n")
	target := filepath.Join(dir, "target")
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(target, dangling)
	fresh := filepath.Join(dir, "fresh")

	var s safefile.Set
	var outs []*os.File
	for _, name := range []string{old, dangling, fresh, os.DevNull, os.DevNull} {
		f, err := s.Create(context.Background(), name, name)
		if err != nil {
			t.Fatalf("Create(%s): %v", name, err)
		}
		defer f.Close()
		outs = append(outs, f)
	}
	if data, _ := os.ReadFile(old); string(data) != "old content\n" {
		t.Fatalf("truncated before Commit: %q", data)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, f := range outs {
		if _, err := io.WriteString(f, "new\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{old, target, fresh} {
		if data, _ := os.ReadFile(name); string(data) != "new\n" {
			t.Errorf("%s holds %q, want %q", name, data, "new\n")
		}
	}
	for _, name := range []string{target, fresh} {
		if st, _ := os.Stat(name); st.Mode().Perm() != safefile.Perm {
			t.Errorf("%s created %v, want %v", name, st.Mode().Perm(), safefile.Perm)
		}
	}
	if st, _ := os.Lstat(dangling); st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced")
	}
	// Outputs are write-only.
	if _, err := outs[0].Read(make([]byte, 1)); err == nil {
		t.Errorf("an output can be read")
	}
}

func TestDescriptorNames(t *testing.T) {
	dir := t.TempDir()
	log := write(t, dir, "log", "before\n")
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s safefile.Set
	out, err := s.Create(context.Background(), "--results", fmt.Sprintf("/dev/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(out, "after\n")
	out.Close()
	if data, _ := os.ReadFile(log); string(data) != "before\nafter\n" {
		t.Fatalf("the descriptor's file holds %q, want it appended to, not truncated", data)
	}
	if _, err := s.Create(context.Background(), "--failed", "/proc/self/fd/"+fmt.Sprint(f.Fd())); !errors.Is(err, safefile.ErrSameFile) {
		t.Fatalf("the same descriptor again: %v, want ErrSameFile", err)
	}
	r, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := s.Create(context.Background(), "--x", fmt.Sprintf("/dev/fd/%d", r.Fd())); err == nil {
		t.Fatal("a read-only descriptor was accepted as an output")
	}
	if _, err := s.Create(context.Background(), "--x", "/dev/fd/987"); err == nil {
		t.Fatal("a closed descriptor was accepted")
	}
}

func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFIFOGivesUp: opening a FIFO without its other end waits, and ends with
// the context's cause when the context ends.
func TestFIFOGivesUp(t *testing.T) {
	cause := errors.New("interrupted")
	for _, dir := range []string{"output", "input"} {
		t.Run(dir, func(t *testing.T) {
			fifo := mkfifo(t)
			ctx, cancel := context.WithCancelCause(context.Background())
			done := make(chan error, 1)
			go func() {
				var err error
				if dir == "output" {
					var s safefile.Set
					_, err = s.Create(ctx, "--results", fifo)
				} else {
					_, err = safefile.Open(ctx, fifo)
				}
				done <- err
			}()
			cancel(cause)
			if err := <-done; !errors.Is(err, cause) {
				t.Fatalf("err = %v, want the context's cause", err)
			}
		})
	}
}

// TestFIFOOutput: a FIFO output is opened write-only, so its reader sees the
// end of the data when the writer closes it.
func TestFIFOOutput(t *testing.T) {
	fifo := mkfifo(t)
	got := make(chan string, 1)
	go func() {
		r, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		defer r.Close()
		data, _ := io.ReadAll(r)
		got <- string(data)
	}()
	var s safefile.Set
	w, err := s.Create(context.Background(), "--results", fifo)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "line\n")
	w.Close()
	if data := <-got; data != "line\n" {
		t.Fatalf("reader got %q", data)
	}
}

func TestOutputOpenedElsewhere(t *testing.T) {
	dir := t.TempDir()
	in := write(t, dir, "in", "x")
	var s safefile.Set
	if err := s.InputPath("--map", in); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(in)
	if err := s.Output("--checkpoint", in, st); !errors.Is(err, safefile.ErrSameFile) {
		t.Fatalf("Output = %v, want ErrSameFile", err)
	}
	other, _ := os.Stat(dir)
	if err := s.Output("--checkpoint", dir, other); err != nil {
		t.Fatal(err)
	}
	if err := s.Check("--results", dir); !errors.Is(err, safefile.ErrSameFile) {
		t.Fatalf("Check after Output = %v, want ErrSameFile", err)
	}
}

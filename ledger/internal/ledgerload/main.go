// Command ledgerload measures a diff-mode ledger the way an import uses
// it: per batch of items, hash each event (ledger.Sum over a typical
// Identify event), one Lookup, then Commit the changed items as if Segment
// had accepted them. Run 1 starts from an empty ledger (every user is new);
// run 2 changes a fraction of the users. It prints items/s per run and the
// process's peak RSS (getrusage ru_maxrss).
//
//	go run ./ledger/internal/ledgerload -users 1000000 -batch 500
//	go run ./ledger/internal/ledgerload -ledger postgres://…  (a fresh database)
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/segloop/segloop/ledger"
)

func main() {
	var (
		users    = flag.Int("users", 1_000_000, "users in the ledger")
		batch    = flag.Int("batch", 500, "items per Lookup and Commit")
		changed  = flag.Float64("changed", 0.01, "fraction of users changed in run 2")
		location = flag.String("ledger", "", "ledger file or postgres:// URL (default: a new file in a temporary directory)")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of run 2 to this file")
		group    = flag.Int("commit", 0, "commit accepted items in groups of at least this many (0: per batch)")
		order    = flag.String("order", "sorted", "input order: sorted (users in the order of their ids) or random (one fixed random order)")
	)
	flag.Parse()
	cpuProfile, commitGroup = *profile, *group
	if *order != "sorted" && *order != "random" {
		fmt.Fprintln(os.Stderr, "ledgerload: -order is sorted or random")
		os.Exit(2)
	}
	if err := run(*location, *users, *batch, *changed, *order == "random"); err != nil {
		fmt.Fprintln(os.Stderr, "ledgerload:", err)
		os.Exit(1)
	}
}

// cpuProfile names the file for a CPU profile of run 2, if any;
// commitGroup is the -commit flag.
var (
	cpuProfile  string
	commitGroup int
)

func run(location string, users, batch int, changed float64, random bool) error {
	ctx := context.Background()
	if location == "" {
		dir, err := os.MkdirTemp("", "ledgerload-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		location = filepath.Join(dir, "ledger.db")
	}
	l, err := ledger.Open(ctx, location, "ledgerload/"+strconv.Itoa(users))
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Printf("ledger %s, %d users, batches of %d, %s order\n", l.Location(), users, batch, map[bool]string{false: "sorted", true: "random"}[random])

	rng := rand.New(rand.NewPCG(1, 2))
	version := make([]uint8, users) // the content each user has in the input
	var order []int32               // the input's order of users; nil: sorted
	if random {
		order = make([]int32, users)
		for i := range order {
			order[i] = int32(i)
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	for run, frac := range []float64{1, changed} {
		for i := range version {
			if run > 0 && rng.Float64() < frac {
				version[i]++
			}
		}
		if run == 1 && cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		start, cpu0 := time.Now(), cpuTime()
		sent, skipped, err := sync(ctx, l, version, order, batch)
		if run == 1 && cpuProfile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return err
		}
		el, cpu := time.Since(start), cpuTime()-cpu0
		fmt.Printf("run %d: %d items in %v: %.0f items/s (CPU %v: %.0f items per CPU-second); %d changed (sent and committed), %d unchanged\n",
			run+1, len(version), el.Round(time.Millisecond), float64(len(version))/el.Seconds(),
			cpu.Round(time.Millisecond), float64(len(version))/cpu.Seconds(), sent, skipped)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	fmt.Printf("peak RSS: %.1f MiB\n", float64(ru.Maxrss)/1024)
	return nil
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sync runs every user, in order (nil: by index), through hash, Lookup
// and Commit.
func sync(ctx context.Context, l *ledger.Ledger, version []uint8, order []int32, size int) (sent, skipped int, err error) {
	var (
		event     []byte
		entries   = make([]ledger.Entry, 0, size)
		unchanged = make([]bool, size)
		accepted  = make([]ledger.Entry, 0, max(size, commitGroup))
	)
	for start := 0; start < len(version); start += size {
		entries = entries[:0]
		for p := start; p < min(start+size, len(version)); p++ {
			i := p
			if order != nil {
				i = int(order[p])
			}
			user := "u" + strconv.Itoa(1_000_000_000+i)
			event = appendEvent(event[:0], user, i, version[i])
			h, err := ledger.Sum(event)
			if err != nil {
				return 0, 0, err
			}
			entries = append(entries, ledger.Entry{User: user, Hash: h})
		}
		if err := l.Lookup(ctx, entries, unchanged); err != nil {
			return 0, 0, err
		}
		for i, e := range entries {
			if unchanged[i] {
				skipped++
				continue
			}
			accepted = append(accepted, e) // sent; Segment accepted it
		}
		if len(accepted) >= commitGroup || start+size >= len(version) {
			if err := l.Commit(ctx, accepted); err != nil {
				return 0, 0, err
			}
			sent += len(accepted)
			accepted = accepted[:0]
		}
	}
	return sent, skipped, nil
}

// appendEvent writes a typical mapped CSV row as segment.Identify.AppendJSON
// would: its traits depend on the user's index and content version.
func appendEvent(dst []byte, user string, i int, version uint8) []byte {
	dst = append(dst, `{"type":"identify","messageId":"sl-3905d338d6d3cd7f34e0f4ece14c2391","userId":"`...)
	dst = append(dst, user...)
	dst = append(dst, `","traits":{"company":"Acme","created_at":"2023-04-05T06:07:08Z","plan":"pro","seats":`...)
	dst = strconv.AppendInt(dst, int64(i%50), 10)
	dst = append(dst, `,"score":0.75,"tags":["beta","eu"],"version":`...)
	dst = strconv.AppendInt(dst, int64(version), 10)
	dst = append(dst, `,"email":"`...)
	dst = append(dst, user...)
	dst = append(dst, `@example.com","name":"Ada Lovelace"},"timestamp":"2024-01-02T03:04:05.123456789Z","context":{"ip":"127.0.0.1"}}`...)
	return dst
}

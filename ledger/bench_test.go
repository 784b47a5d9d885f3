package ledger_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ledger"
)

func BenchmarkSum(b *testing.B) {
	event := []byte(typicalEvent)
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ledger.Sum(event); err != nil {
			b.Fatal(err)
		}
	}
}

// benchUsers is the number of users in the ledgers of the Lookup and
// Commit benchmarks.
const benchUsers = 1_000_000

// BenchmarkFile measures an embedded ledger of 1M users the way an import
// with 1% changed uses it: per batch one Lookup, then one Commit of the
// changed items. The 1M users are committed once, before the sub-benchmarks
// (and their -count repetitions).
func BenchmarkFile(b *testing.B) {
	benchLedger(b, filepath.Join(b.TempDir(), "ledger.db"))
}

// BenchmarkPostgres is BenchmarkFile against the test PostgreSQL server
// (on loopback).
func BenchmarkPostgres(b *testing.B) {
	u, _ := testserver.SharedPostgres(b)
	benchLedger(b, u)
}

func benchLedger(b *testing.B, location string) {
	ctx := context.Background()
	l := open(b, location)
	users := make([]string, benchUsers)
	version := make([]uint32, benchUsers)
	for i := range users {
		users[i] = "u" + strconv.Itoa(1_000_000_000+i)
	}
	hash := func(i int) ledger.Hash { // cheap and distinct per (user, version)
		var h ledger.Hash
		binary.BigEndian.PutUint64(h[:8], uint64(i))
		binary.BigEndian.PutUint32(h[8:], version[i])
		return h
	}
	fill := make([]ledger.Entry, 0, 10000)
	for i := range users {
		fill = append(fill, ledger.Entry{User: users[i], Hash: hash(i)})
		if len(fill) == cap(fill) || i == len(users)-1 {
			if err := l.Commit(ctx, fill); err != nil {
				b.Fatal(err)
			}
			fill = fill[:0]
		}
	}
	perm := rand.New(rand.NewPCG(7, 7)).Perm(benchUsers) // one fixed input order
	for _, order := range []string{"sorted", "random"} {
		for _, size := range []int{100, 500} {
			b.Run("order="+order+"/batch="+strconv.Itoa(size), func(b *testing.B) {
				at := func(p int) int { return p }
				if order == "random" {
					at = func(p int) int { return perm[p] }
				}
				benchBatches(b, l, size, users, version, hash, at)
			})
		}
	}
}

// benchBatches runs batches of size users, in the order at gives, through
// Lookup and Commit, 1% of them changed. Besides ns/op (per batch) it
// reports items/s, ns/item and cpu-ns/item: the process's CPU time per
// item, which the load of the shared machine disturbs less.
func benchBatches(b *testing.B, l *ledger.Ledger, size int, users []string, version []uint32, hash func(int) ledger.Hash, at func(int) int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	batch := make([]ledger.Entry, size)
	unchanged := make([]bool, size)
	accepted := make([]ledger.Entry, 0, size)
	next, items, changed := 0, 0, 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for j := range batch {
			i := at((next + j) % benchUsers)
			if rng.IntN(100) == 0 { // 1% changed
				version[i]++
			}
			batch[j] = ledger.Entry{User: users[i], Hash: hash(i)}
		}
		next += size
		if err := l.Lookup(ctx, batch, unchanged); err != nil {
			b.Fatal(err)
		}
		accepted = accepted[:0]
		for j, e := range batch {
			if !unchanged[j] {
				accepted = append(accepted, e) // as if Segment accepted it
			}
		}
		if err := l.Commit(ctx, accepted); err != nil {
			b.Fatal(err)
		}
		items += size
		changed += len(accepted)
	}
	if changed == 0 || changed > items/50 {
		b.Fatalf("%d of %d items changed, want about 1%%", changed, items)
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(items), "ns/item")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(items), "cpu-ns/item")
}

// cpuTime returns the CPU time (user and system) the process has used: a
// figure that the machine's load disturbs less than elapsed time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

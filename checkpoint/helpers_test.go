package checkpoint_test

import (
	"strconv"
	"sync/atomic"
)

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) inc() int64 { return c.v.Add(1) - 1 }

func fmtInt(n int) string { return strconv.Itoa(n) }

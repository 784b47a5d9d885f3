package testserver_test

import (
	"net"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
)

func TestRedisStartStopRestart(t *testing.T) {
	r := testserver.Redis(t, testserver.RedisOptions{Password: "s3cret"})
	dial := func() error {
		c, err := net.Dial("tcp", r.Addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("dial a started server: %v", err)
	}
	r.Stop()
	if dial() == nil {
		t.Fatal("a stopped server still accepts connections")
	}
	r.Restart(t)
	if err := dial(); err != nil {
		t.Fatalf("dial a restarted server: %v", err)
	}
	if want := "redis://:s3cret@" + r.Addr + "/0"; r.URL != want {
		t.Errorf("URL = %q, want %q", r.URL, want)
	}
}

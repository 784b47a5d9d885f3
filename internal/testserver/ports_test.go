package testserver

import (
	"fmt"
	"net"
	"testing"
)

// TestFreePort: the port can be listened on, and lies below the kernel's
// ephemeral range when that leaves room.
func TestFreePort(t *testing.T) {
	for range 20 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if first := ephemeralStart(); first > lowestPort && (port < lowestPort || port >= first) {
			t.Fatalf("port %d, want one in [%d, %d)", port, lowestPort, first)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		ln.Close()
	}
}

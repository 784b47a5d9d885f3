package testserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// lowestPort is the lowest port freePort picks from.
const lowestPort = 10000

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// below the kernel's ephemeral range (ip_local_port_range) when there is
// room: the kernel gives ports of that range to outgoing connections, and
// tests make many, so a port from it could be taken as a connection's own
// while its server is down between a stop and a restart on the same port
// (Redis's and PostgreSQL's restart tests), and the restart would fail.
func freePort() (int, error) {
	if first := ephemeralStart(); first > lowestPort {
		for range 50 {
			port := lowestPort + rand.IntN(first-lowestPort)
			if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				ln.Close()
				return port, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralStart returns the first port of the kernel's ephemeral range,
// or 0 if it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var first, last int
	if _, err := fmt.Sscan(string(b), &first, &last); err != nil {
		return 0
	}
	return first
}

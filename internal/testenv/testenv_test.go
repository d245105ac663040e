package testenv

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeAddr: the ports are outside the kernel's ephemeral range, where
// outgoing connections cannot take them, bindable, and never repeated.
func TestFreeAddr(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		addr := FreeAddr(t)
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if port >= ephemeralLow() {
			t.Errorf("port %d is in the ephemeral range (from %d)", port, ephemeralLow())
		}
		if seen[addr] {
			t.Errorf("%s handed out twice", addr)
		}
		seen[addr] = true
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		l.Close()
	}
}

package devenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// freePort asks the OS for a free TCP port on host.
//
// On Linux, ephemeral ports are handed out randomly and may be handed out again
// soon after the listener closes. To make that unlikely we connect to the
// listener and close the accepted side first: the port then sits in TIME_WAIT,
// during which bind(:0) will not hand it out again, while an explicit bind to
// it (with SO_REUSEADDR, which Go sets on listeners) still succeeds.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second)
	if err != nil {
		return port, nil // the port is still fine, just not reserved
	}
	defer c.Close()
	if s, err := l.Accept(); err == nil {
		s.Close() // server side closes first: TIME_WAIT is kept on our side
	}
	return port, nil
}

// portFree reports whether host:port can be bound right now.
func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// waitPortFree polls until addr can be bound or the timeout passes.
func waitPortFree(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := portFree(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is still in use: %w", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// splitAddr splits host:port, maps "localhost" and "" to 127.0.0.1 (the
// Temporal server wants IP addresses) and requires a numeric port.
func splitAddr(what, addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: want host:port: %w", what, addr, err)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%s %q: host must be an IP address (or localhost)", what, addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s %q: port must be a number between 1 and 65535", what, addr)
	}
	return host, port, nil
}

// reachableHost is how a local client reaches a server bound on host: a
// wildcard bind (0.0.0.0, ::) over loopback.
func reachableHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if ip.To4() == nil {
			return "::1"
		}
		return "127.0.0.1"
	}
	return host
}

package stack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Ports are the 127.0.0.1 TCP ports of every part; 0 picks a free port.
type Ports struct {
	Gateway   int
	AuthProxy int
	Catalog   int
	Inventory int
	DevIDP    int
	Redis     int
}

// DefaultPorts are the run command's ports. Redis gets a free port so that a Redis already
// running on 6379 does not get in the way; nothing outside the stack talks to it.
func DefaultPorts() Ports {
	return Ports{Gateway: 8000, AuthProxy: 4180, Catalog: 8081, Inventory: 8082, DevIDP: 9011}
}

// ErrPortInUse is returned (wrapped, naming the part and the port) when a fixed port is taken.
var ErrPortInUse = errors.New("port already in use")

type namedPort struct {
	name string
	port *int
}

func (p *Ports) named() []namedPort {
	return []namedPort{
		{"gateway", &p.Gateway}, {"authproxy", &p.AuthProxy}, {"catalog", &p.Catalog},
		{"inventory", &p.Inventory}, {"devidp", &p.DevIDP}, {"redis", &p.Redis},
	}
}

// resolve checks that every fixed port is free and distinct and replaces every 0 with a free
// port. Every problem is reported at once. On success it returns the listeners that hold the
// ports: the caller closes them just before the parts start, so that nothing else the stack
// sets up meanwhile (a fault proxy listening on port 0) is given one of them.
func (p Ports) resolve() (_ Ports, held []net.Listener, err error) {
	var errs []error
	seen := map[int]string{}
	defer func() {
		if err != nil {
			closeAll(held)
		}
	}()
	for _, np := range p.named() {
		if *np.port == 0 {
			continue
		}
		if *np.port < 0 || *np.port > 65535 {
			errs = append(errs, fmt.Errorf("stack: %s port %d: out of range", np.name, *np.port))
			continue
		}
		if other, dup := seen[*np.port]; dup {
			errs = append(errs, fmt.Errorf("stack: %s port %d: also given to %s", np.name, *np.port, other))
			continue
		}
		seen[*np.port] = np.name
		l, err := listen(*np.port)
		if err != nil {
			errs = append(errs, fmt.Errorf("stack: %s port %d: %w", np.name, *np.port, err))
			continue
		}
		held = append(held, l)
	}
	if len(errs) > 0 {
		return p, held, errors.Join(errs...)
	}
	for _, np := range p.named() {
		if *np.port != 0 {
			continue
		}
		l, err := listen(0)
		if err != nil {
			return p, held, fmt.Errorf("stack: %s: find a free port: %w", np.name, err)
		}
		held = append(held, l)
		*np.port = l.Addr().(*net.TCPAddr).Port
	}
	return p, held, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		_ = l.Close()
	}
}

func listen(port int) (net.Listener, error) {
	l, err := net.Listen("tcp", addr(port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("127.0.0.1:%d: %w", port, ErrPortInUse)
	}
	return l, err
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func httpURL(port int) string { return "http://" + addr(port) }

package realtrino

import (
	"fmt"
	"net/netip"
	"sync"
)

// ENI is the coordinator ENI as a real interface: one end of a veth pair, with its own
// MAC, whose other end stays on the bridge. Attaching moves it into the holder's
// namespace as eth1 (device index 1) and configures it there; detaching moves it back
// into the VPC namespace, down and without an address. The MAC moves with it, so the
// bridge and the neighbours' ARP caches stay right, as the VPC fabric keeps them right
// on EC2.
type ENI struct {
	nw   *Network
	Addr netip.Addr
	MAC  string

	mu     sync.Mutex
	holder string // host name; "" when parked in the VPC namespace
}

const eniIfname = "eth1"

// NewENI makes the ENI, parked (detached).
func (nw *Network) NewENI(addr netip.Addr, mac string) (*ENI, error) {
	e := &ENI{nw: nw, Addr: addr, MAC: mac}
	err := firstErr(
		nw.vpc.ip("link", "add", "eni-port", "type", "veth", "peer", "name", eniIfname),
		nw.vpc.ip("link", "set", eniIfname, "address", mac),
		nw.vpc.ip("link", "set", "eni-port", "master", "br0", "up"),
	)
	if err != nil {
		return nil, fmt.Errorf("making the ENI: %w", err)
	}
	return e, nil
}

// Holder returns the host the ENI is in ("" when detached).
func (e *ENI) Holder() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.holder
}

// Attach moves the ENI into host's namespace and configures it as amazon-ec2-net-utils
// does for a hot-attached secondary interface on Amazon Linux 2023: link up, the
// address, and policy routing so that traffic from the ENI's address leaves by the ENI
// (route table 10000+device index, a rule from the address). Attaching to the holder
// again does nothing.
func (e *ENI) Attach(host string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.holder == host {
		return nil
	}
	if e.holder != "" {
		if err := e.parkLocked(); err != nil {
			return err
		}
	}
	h := e.nw.Host(host)
	if h == nil {
		return fmt.Errorf("attaching the ENI: no host %s", host)
	}
	if err := e.nw.vpc.ip("link", "set", eniIfname, "netns", h.Name); err != nil {
		return fmt.Errorf("moving the ENI into %s: %w", host, err)
	}
	e.holder = host
	subnet := e.nw.Prefix.String()
	err := firstErr(
		h.ip("link", "set", eniIfname, "up"),
		h.ip("addr", "add", netip.PrefixFrom(e.Addr, e.nw.Prefix.Bits()).String(), "dev", eniIfname),
		h.ip("route", "add", subnet, "dev", eniIfname, "src", e.Addr.String(), "table", "10001"),
		h.ip("rule", "add", "from", e.Addr.String(), "lookup", "10001", "pref", "10001"),
	)
	if err != nil {
		return fmt.Errorf("configuring the ENI in %s: %w", host, err)
	}
	return nil
}

// Detach moves the ENI back into the VPC namespace (the instance no longer has it).
func (e *ENI) Detach() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parkLocked()
}

func (e *ENI) parkLocked() error {
	if e.holder == "" {
		return nil
	}
	h := e.nw.Host(e.holder)
	e.holder = ""
	if h == nil {
		return nil
	}
	_ = h.ip("rule", "del", "from", e.Addr.String(), "lookup", "10001", "pref", "10001")
	if err := h.ip("link", "set", eniIfname, "netns", e.nw.vpc.Name); err != nil {
		return fmt.Errorf("moving the ENI out of %s: %w", h.Name, err)
	}
	return e.nw.vpc.ip("link", "set", eniIfname, "down")
}

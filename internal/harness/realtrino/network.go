package realtrino

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Network is the drill's private VPC: a bridge in its own namespace, and one namespace
// per host (coordinator instance, worker, client), each joined to the bridge by a veth
// pair whose two ends both live in namespaces the Network made.
type Network struct {
	prefix string // chatr<pid>-<tag>
	Prefix netip.Prefix
	vpc    *NS

	mu    sync.Mutex
	hosts map[string]*NS // by host name
	n     int
}

// NewNetwork makes the VPC namespace with its bridge for subnet (in 198.18.0.0/15).
// tag tells the namespaces of concurrent networks of one process apart.
func NewNetwork(tag string, subnet netip.Prefix) (*Network, error) {
	if !netip.MustParsePrefix("198.18.0.0/15").Contains(subnet.Addr()) {
		return nil, fmt.Errorf("realtrino: subnet %s is outside 198.18.0.0/15", subnet)
	}
	nw := &Network{prefix: fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), tag), Prefix: subnet, hosts: map[string]*NS{}}
	vpc, err := newNS(nw.prefix + "-vpc")
	if err != nil {
		return nil, err
	}
	nw.vpc = vpc
	if err := firstErr(vpc.ip("link", "add", "br0", "type", "bridge"), vpc.ip("link", "set", "br0", "up")); err != nil {
		_ = vpc.Delete()
		return nil, err
	}
	return nw, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// AddHost makes a namespace for a host with its primary interface eth0 on the bridge at
// addr. The namespace has one route, the subnet's: no default route.
func (nw *Network) AddHost(name string, addr netip.Addr) (*NS, error) {
	nw.mu.Lock()
	nw.n++
	port := fmt.Sprintf("p%d", nw.n)
	nw.mu.Unlock()
	h, err := newNS(nw.prefix + "-" + name)
	if err != nil {
		return nil, err
	}
	cidr := netip.PrefixFrom(addr, nw.Prefix.Bits()).String()
	err = firstErr(
		nw.vpc.ip("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.Name),
		nw.vpc.ip("link", "set", port, "master", "br0", "up"),
		h.ip("addr", "add", cidr, "dev", "eth0"),
		h.ip("link", "set", "eth0", "up"),
	)
	if err != nil {
		_ = h.Delete()
		return nil, fmt.Errorf("wiring host %s: %w", name, err)
	}
	nw.mu.Lock()
	nw.hosts[name] = h
	nw.mu.Unlock()
	return h, nil
}

// RemoveHost kills the host's processes and removes its namespace (the instance is
// gone). The ENI must have been parked first, or it goes with the namespace.
func (nw *Network) RemoveHost(name string) error {
	nw.mu.Lock()
	h := nw.hosts[name]
	delete(nw.hosts, name)
	nw.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.Delete()
}

// Host returns a host's namespace.
func (nw *Network) Host(name string) *NS {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.hosts[name]
}

// Close removes every namespace of the network with its processes.
func (nw *Network) Close() error {
	nw.mu.Lock()
	hosts := make([]*NS, 0, len(nw.hosts))
	for _, h := range nw.hosts {
		hosts = append(hosts, h)
	}
	nw.hosts = map[string]*NS{}
	nw.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Delete())
	}
	errs = append(errs, nw.vpc.Delete())
	return firstErr(errs...)
}

// namespaces returns the names of every namespace of the network.
func (nw *Network) namespaces() []string {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	out := []string{nw.vpc.Name}
	for _, h := range nw.hosts {
		out = append(out, h.Name)
	}
	return out
}

// CheckIsolated proves that no packet can leave the network's namespaces, from the
// kernel's own tables:
//   - no namespace has a default route, and every route is on-link inside the subnet
//     (or loopback), so the kernel has nowhere to send a packet for another address;
//   - every veth has its peer in one of the network's namespaces (the kernel reports
//     the peer's namespace as link-netnsid; a peer in the machine's namespace would
//     show as a netnsid of that namespace), and there is no other kind of interface
//     than loopback, veth and the bridge, so there is no wire to leave by;
//   - the machine's own namespace has no interface whose name this package uses.
//
// Together these say a packet can only travel between the network's namespaces.
func (nw *Network) CheckIsolated() error {
	names := nw.namespaces()
	ours := map[string]bool{}
	for _, n := range names {
		ours[n] = true
	}
	for _, n := range names {
		if err := checkRoutes(n, nw.Prefix); err != nil {
			return err
		}
		if err := checkLinks(n, ours); err != nil {
			return err
		}
	}
	return nil
}

func checkRoutes(ns string, subnet netip.Prefix) error {
	out, err := exec.Command("ip", "-n", ns, "-j", "route", "show", "table", "all").Output()
	if err != nil {
		return fmt.Errorf("reading the routes of %s: %w", ns, err)
	}
	var routes []struct {
		Dst, Gateway, Dev, Type string
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return fmt.Errorf("decoding the routes of %s: %w", ns, err)
	}
	for _, r := range routes {
		if r.Dst == "default" || r.Gateway != "" {
			return fmt.Errorf("namespace %s has a route out: %+v", ns, r)
		}
		if r.Dev == "lo" || r.Type == "local" || r.Type == "broadcast" || r.Type == "multicast" {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				return fmt.Errorf("namespace %s: unreadable route %+v", ns, r)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			continue // on-link only, never forwarded (IPv6 is off; kept for a kernel that adds it anyway)
		}
		if !subnet.Contains(p.Addr()) || p.Bits() < subnet.Bits() {
			return fmt.Errorf("namespace %s routes %s, outside the drill's subnet %s", ns, r.Dst, subnet)
		}
	}
	return nil
}

func checkLinks(ns string, ours map[string]bool) error {
	out, err := exec.Command("ip", "-n", ns, "-j", "-d", "link", "show").Output()
	if err != nil {
		return fmt.Errorf("reading the links of %s: %w", ns, err)
	}
	var links []struct {
		Ifname   string `json:"ifname"`
		NetnsID  *int   `json:"link_netnsid"`
		LinkInfo struct {
			InfoKind string `json:"info_kind"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return fmt.Errorf("decoding the links of %s: %w", ns, err)
	}
	peers, err := netnsIDs(ns)
	if err != nil {
		return err
	}
	for _, l := range links {
		switch l.LinkInfo.InfoKind {
		case "":
			if l.Ifname != "lo" {
				return fmt.Errorf("namespace %s has an interface %s of unknown kind", ns, l.Ifname)
			}
		case "bridge":
		case "veth":
			if l.NetnsID == nil {
				continue // both ends in this namespace (the parked ENI and its bridge port)
			}
			if peer := peers[*l.NetnsID]; !ours[peer] {
				return fmt.Errorf("namespace %s: veth %s has its peer outside the drill's namespaces (netnsid %d, %q)", ns, l.Ifname, *l.NetnsID, peer)
			}
		default:
			return fmt.Errorf("namespace %s has a %s interface %s", ns, l.LinkInfo.InfoKind, l.Ifname)
		}
	}
	return nil
}

// netnsIDs maps the namespace ids that ns uses for its peers to namespace names.
func netnsIDs(ns string) (map[int]string, error) {
	out, err := exec.Command("ip", "-n", ns, "-j", "netns", "list-id").Output()
	if err != nil {
		return nil, fmt.Errorf("reading the peer namespaces of %s: %w", ns, err)
	}
	var ids []struct {
		NSID int    `json:"nsid"`
		Name string `json:"name"`
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &ids); err != nil {
			return nil, fmt.Errorf("decoding the peer namespaces of %s: %w", ns, err)
		}
	}
	m := map[int]string{}
	for _, i := range ids {
		m[i.NSID] = i.Name
	}
	return m, nil
}

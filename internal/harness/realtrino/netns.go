package realtrino

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// NS is one Linux network namespace made by this package (ip netns add).
type NS struct{ Name string }

// nsPrefix starts the name of every namespace this package makes; the owner's pid
// follows, so that a later run can tell a leftover of a dead run from a live one.
const nsPrefix = "chatr"

// ip runs the ip command and returns its combined output in the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNS makes a namespace with loopback up and ARP tuned as an EC2 host with two
// interfaces in one subnet needs it (each address answered on its own interface only).
func newNS(name string) (*NS, error) {
	if err := ip("netns", "add", name); err != nil {
		return nil, err
	}
	n := &NS{Name: name}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
	} {
		if err := n.ip(args...); err != nil {
			_ = n.Delete()
			return nil, err
		}
	}
	// IPv6 off: the drill's network is IPv4 only, and then nothing speaks on it unasked
	// (router solicitations, duplicate address detection).
	for _, kv := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
		if err := n.exec("sysctl", "-q", "-w", kv); err != nil {
			_ = n.Delete()
			return nil, err
		}
	}
	return n, nil
}

// ip runs `ip -n <ns> args...`.
func (n *NS) ip(args ...string) error { return ip(append([]string{"-n", n.Name}, args...)...) }

// exec runs a command inside the namespace and waits for it.
func (n *NS) exec(name string, args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("in %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Command returns a command that runs inside the namespace (ip netns exec execs it, so
// its pid is the program's).
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// PIDs returns the processes inside the namespace.
func (n *NS) PIDs() []int { return nsPIDs(n.Name) }

func nsPIDs(name string) []int {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() {
			pids = append(pids, p)
		}
	}
	return pids
}

// Signal sends sig to every process inside the namespace.
func (n *NS) Signal(sig syscall.Signal) {
	for _, p := range n.PIDs() {
		_ = syscall.Kill(p, sig)
	}
}

// Delete kills what runs inside and removes the namespace.
func (n *NS) Delete() error { return deleteNS(n.Name) }

func deleteNS(name string) error {
	for _, p := range nsPIDs(name) {
		_ = syscall.Kill(p, syscall.SIGKILL)
		_ = syscall.Kill(p, syscall.SIGCONT)
	}
	return ip("netns", "delete", name)
}

// RemoveStale removes the namespaces (and their processes) left by runs of this
// package whose process is gone: a crashed run leaves nothing behind for long.
func RemoveStale() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var removed []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		owner, ok := nsOwner(name)
		if !ok || processAlive(owner) {
			continue
		}
		if deleteNS(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// nsOwner parses chatr<pid>-<rest>.
func nsOwner(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, nsPrefix)
	if !ok {
		return 0, false
	}
	pid, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(pid)
	return p, err == nil
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// inNS runs f on an OS thread switched into the namespace: sockets f creates belong to
// the namespace for their whole life. The thread returns to the original namespace; if
// it cannot, it stays locked and Go retires it when the goroutine ends.
func (n *NS) inNS(f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering %s: %w", n.Name, err)
			return
		}
		f()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	return <-errc
}

// DialContext dials from inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var derr error
	if err := n.inNS(func() { c, derr = (&net.Dialer{}).DialContext(ctx, network, addr) }); err != nil {
		return nil, err
	}
	return c, derr
}

// Listen listens inside the namespace.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	var lerr error
	if err := n.inNS(func() { l, lerr = net.Listen(network, addr) }); err != nil {
		return nil, err
	}
	return l, lerr
}

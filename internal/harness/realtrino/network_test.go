package realtrino

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needNamespaces skips unless this process may make network namespaces.
func needNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("SKIPPED: no ip command")
	}
}

// The ENI moves between host namespaces with its address and MAC; a client in its own
// namespace reaches whichever host holds it, and only that one; nothing can leave.
func TestENIMovesBetweenHosts(t *testing.T) {
	needNamespaces(t)
	nw, err := NewNetwork("t", netip.MustParsePrefix("198.18.7.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := nw.Close(); err != nil {
			t.Error(err)
		}
		if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), nw.prefix) {
			t.Errorf("namespaces left behind: %s", out)
		}
	}()
	eniAddr := netip.MustParseAddr("198.18.7.100")
	for i, name := range []string{"h1", "h2"} {
		h, err := nw.AddHost(name, netip.AddrFrom4([4]byte{198, 18, 7, byte(10 + i)}))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := h.Listen("tcp", ":7000")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(name + "\n"))
				_ = c.Close()
			}
		}()
	}
	client, err := nw.AddHost("client", netip.MustParseAddr("198.18.7.200"))
	if err != nil {
		t.Fatal(err)
	}
	eni, err := nw.NewENI(eniAddr, "02:00:00:00:00:77")
	if err != nil {
		t.Fatal(err)
	}
	ask := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, "tcp", net.JoinHostPort(eniAddr.String(), "7000"))
		if err != nil {
			return "error"
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	if got := ask(); got != "error" {
		t.Fatalf("detached ENI answered: %q", got)
	}
	for _, want := range []string{"h1", "h2", "h1"} {
		if err := eni.Attach(want); err != nil {
			t.Fatal(err)
		}
		// The client may take a moment to learn the moved address (its neighbour entry for
		// the ENI IP): ask until it answers. What decides is who answers, never how soon;
		// the bound only keeps a broken network from hanging the test.
		got := ask()
		for deadline := time.Now().Add(time.Minute); got == "error" && time.Now().Before(deadline); got = ask() {
			time.Sleep(100 * time.Millisecond)
		}
		if got != want {
			t.Fatalf("ENI on %s: the client reached %q", want, got)
		}
	}
	if err := nw.CheckIsolated(); err != nil {
		t.Fatal(err)
	}
	if err := eni.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := nw.RemoveHost("h1"); err != nil {
		t.Fatal(err)
	}
	if err := eni.Attach("h2"); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got != "h2" {
		t.Fatalf("after h1 was removed: %q", got)
	}
}

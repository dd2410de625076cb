package realtrino

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"
)

// A coordinator and a worker in their namespaces answer the real client through the
// ENI's address. Runs with REALTRINO=1 (make test-trino); it needs root and Java.
func TestSmokeQueryThroughENI(t *testing.T) {
	if os.Getenv("REALTRINO") != "1" {
		t.Skip("REALTRINO=1 runs it")
	}
	needNamespaces(t)
	ctx := context.Background()
	home, st, err := Fetch(ctx, Trino368, CacheDir(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetch: %+v", st)
	nw, err := NewNetwork("s", netip.MustParsePrefix("198.18.8.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	eniAddr := netip.MustParseAddr("198.18.8.100")
	disc := "http://" + net.JoinHostPort(eniAddr.String(), strconv.Itoa(Port))
	dir := t.TempDir()
	start := func(name string, addr string, coord bool) *Process {
		a := netip.MustParseAddr(addr)
		ns, err := nw.AddHost(name, a)
		if err != nil {
			t.Fatal(err)
		}
		d := "http://127.0.0.1:8080"
		if !coord {
			d = disc
		}
		p, err := Start(ns, "java", home, NodeSpec{ID: name, Environment: "smoke", Coordinator: coord, Addr: a, Discovery: d, Dir: dir + "/" + name})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t0 := time.Now()
	c1 := start("c1", "198.18.8.10", true)
	w := start("w", "198.18.8.20", false)
	defer c1.Kill()
	defer w.Kill()
	eni, err := nw.NewENI(eniAddr, "02:00:00:00:08:64")
	if err != nil {
		t.Fatal(err)
	}
	if err := eni.Attach("c1"); err != nil {
		t.Fatal(err)
	}
	cns, err := nw.AddHost("client", netip.MustParseAddr("198.18.8.30"))
	if err != nil {
		t.Fatal(err)
	}
	cl := &Client{NS: cns, Addr: net.JoinHostPort(eniAddr.String(), strconv.Itoa(Port)), Interval: time.Second, Timeout: 10 * time.Second}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	go func() { _ = cl.Run(cctx) }()
	for cctx.Err() == nil && !c1.Exited() && !w.Exited() {
		if s, ok := cl.FirstOK(t0, ""); ok {
			t.Logf("first success %.1fs after start: %+v", s.End.Sub(t0).Seconds(), s)
			break
		}
		time.Sleep(time.Second)
	}
	for _, s := range cl.Samples() {
		t.Logf("%5.1fs %s %s", s.Start.Sub(t0).Seconds(), s.ErrName, s.Err)
	}
	if _, ok := cl.FirstOK(t0, ""); !ok {
		t.Fatalf("no query succeeded; coordinator log: %s\nworker log: %s", c1.LogTail(), w.LogTail())
	}
	if err := nw.CheckIsolated(); err != nil {
		t.Fatal(err)
	}
}

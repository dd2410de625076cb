package drill

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"

	"github.com/prestoha/coordinator-ha/internal/harness/drill/host"
)

// coordinatorPort is the Presto/Trino HTTP port of every simulated coordinator on the
// in-process network.
const coordinatorPort = "8080"

// hostNet is the in-process network of the deterministic drill, as one caller sees it:
// no socket is opened and no packet is sent. 127.0.0.1 is the caller's own coordinator
// process (self; none for the client), the ENI's private IP is the coordinator of the
// instance the ENI is attached to, and every other address refuses the connection. A
// request runs the server's handler on the caller's goroutine, so that on a simulated
// clock a hanging coordinator holds the caller in simulated time and the caller's
// (simulated) timeout cuts it.
type hostNet struct {
	c    *Cluster
	self *host.Server
}

func (n hostNet) client() *http.Client {
	return &http.Client{Transport: n, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (n hostNet) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	h, port, _ := net.SplitHostPort(req.URL.Host)
	var srv *host.Server
	switch h {
	case "127.0.0.1":
		srv = n.self
	case n.c.ENIIP:
		if hst, _, ok := n.c.holderHost(); ok {
			srv = hst.Server
		}
	}
	if srv == nil || srv.Refused() || port != coordinatorPort {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: simAddr(req.URL.Host), Err: syscall.ECONNREFUSED}
	}
	rec := httptest.NewRecorder()
	defer func() {
		if r := recover(); r != nil {
			if r != http.ErrAbortHandler {
				panic(r)
			}
			resp, err = nil, &net.OpError{Op: "read", Net: "tcp", Addr: simAddr(req.URL.Host), Err: syscall.ECONNRESET}
			if cerr := req.Context().Err(); cerr != nil {
				err = fmt.Errorf("%w (%w)", cerr, err)
			}
		}
	}()
	srv.ServeHTTP(rec, req)
	if cerr := req.Context().Err(); cerr != nil {
		return nil, cerr
	}
	return rec.Result(), nil
}

// simAddr is an address of the in-process network, for error messages.
type simAddr string

func (a simAddr) Network() string { return "tcp" }
func (a simAddr) String() string  { return string(a) }

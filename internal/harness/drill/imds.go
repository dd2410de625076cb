package drill

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// fakeIMDS serves the part of the EC2 instance metadata service the agent reads
// (IMDSv2 token, instance-id, the interfaces by MAC), so the real agent can run on this
// machine. IMDSv2 is enforced: a metadata GET needs a token that a PUT handed out.
// interfaces returns the instance's interfaces now (MAC -> ENI id): in the real-Trino
// drill it is backed by the simulated account, so the ENI shows once it is attached.
type fakeIMDS struct {
	ln         net.Listener
	srv        *http.Server
	instanceID string
	interfaces func() map[string]string

	mu     sync.Mutex
	tokens map[string]bool
}

// startFakeIMDS serves on loopback for an instance that holds the ENI as its second
// interface (the agent binary's footprint run).
func startFakeIMDS(instanceID, eniID string) (*fakeIMDS, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the fake IMDS: %w", err)
	}
	macs := map[string]string{"0a:00:00:00:00:01": "eni-0000000000000000a", "0a:00:00:00:00:02": eniID}
	return serveIMDS(ln, instanceID, func() map[string]string { return macs }), nil
}

// serveIMDS serves the metadata on ln.
func serveIMDS(ln net.Listener, instanceID string, interfaces func() map[string]string) *fakeIMDS {
	f := &fakeIMDS{ln: ln, instanceID: instanceID, interfaces: interfaces, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", f.token)
	mux.HandleFunc("GET /latest/meta-data/", f.metadata)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f
}

func (f *fakeIMDS) token(w http.ResponseWriter, r *http.Request) {
	ttl := r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds")
	if ttl == "" {
		http.Error(w, "missing TTL", http.StatusBadRequest)
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
	w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl)
	_, _ = w.Write([]byte(tok))
}

func (f *fakeIMDS) metadata(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	ok := f.tokens[r.Header.Get("X-Aws-Ec2-Metadata-Token")]
	f.mu.Unlock()
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")
	macs := f.interfaces()
	switch {
	case p == "instance-id":
		_, _ = w.Write([]byte(f.instanceID))
	case p == "placement/region":
		_, _ = w.Write([]byte("us-east-1"))
	case p == "network/interfaces/macs/":
		var list []string
		for mac := range macs {
			list = append(list, mac+"/")
		}
		sort.Strings(list)
		_, _ = w.Write([]byte(strings.Join(list, "\n")))
	case strings.HasPrefix(p, "network/interfaces/macs/") && strings.HasSuffix(p, "/interface-id"):
		mac := strings.TrimSuffix(strings.TrimPrefix(p, "network/interfaces/macs/"), "/interface-id")
		if id, ok := macs[mac]; ok {
			_, _ = w.Write([]byte(id))
			return
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIMDS) URL() string { return "http://" + f.ln.Addr().String() }

func (f *fakeIMDS) Close() { _ = f.srv.Close() }

package drill

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// fakeIMDS serves the part of the EC2 instance metadata service the agent reads
// (IMDSv2 token, instance-id, the interfaces by MAC), so the real agent binary can run
// on this machine. The ENI is attached as the second interface: the host is the active.
type fakeIMDS struct {
	ln  net.Listener
	srv *http.Server
}

func startFakeIMDS(instanceID, eniID string) (*fakeIMDS, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the fake IMDS: %w", err)
	}
	macs := map[string]string{"0a:00:00:00:00:01": "eni-0000000000000000a", "0a:00:00:00:00:02": eniID}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
		_, _ = w.Write([]byte("drill-token"))
	})
	mux.HandleFunc("GET /latest/meta-data/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "drill-token" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")
		switch {
		case p == "instance-id":
			_, _ = w.Write([]byte(instanceID))
		case p == "placement/region":
			_, _ = w.Write([]byte("us-east-1"))
		case p == "network/interfaces/macs/":
			var b strings.Builder
			for mac := range macs {
				b.WriteString(mac + "/\n")
			}
			_, _ = w.Write([]byte(b.String()))
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
	})
	f := &fakeIMDS{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

func (f *fakeIMDS) URL() string { return "http://" + f.ln.Addr().String() }

func (f *fakeIMDS) Close() { _ = f.srv.Close() }

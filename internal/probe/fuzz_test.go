package probe

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prestoha/coordinator-ha/internal/signal"
)

// FuzzClassify: any answer a server (or something pretending to be one) gives is
// classified without panicking, and only an answer that meets the whole health rule is
// Healthy.
func FuzzClassify(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "info", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no /v1/info fixtures in testdata/info: %v", err)
	}
	for _, p := range files {
		body, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(http.StatusOK, body)
		f.Add(http.StatusServiceUnavailable, body)
	}
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		r := Classify(code, body)
		switch r.Status {
		case signal.Healthy, signal.Unhealthy, signal.Starting:
		default:
			t.Fatalf("status %v is not one the agent publishes", r.Status)
		}
		if (r.Status == signal.Healthy) != (r.Reason == "") {
			t.Fatalf("status %v with reason %q: a reason exactly when not healthy", r.Status, r.Reason)
		}
		if r.Status == signal.Healthy || r.Status == signal.Starting || r.Answered {
			if code != http.StatusOK {
				t.Fatalf("HTTP %d classified %v (answered %v)", code, r.Status, r.Answered)
			}
			if r.Info == nil || r.Info.Coordinator == nil || !*r.Info.Coordinator {
				t.Fatalf("%v without coordinator=true: %+v", r.Status, r.Info)
			}
		}
		if r.Status == signal.Healthy {
			if r.Info.Starting != nil && *r.Info.Starting {
				t.Fatal("healthy while starting")
			}
			if r.Info.State != nil && *r.Info.State != "ACTIVE" {
				t.Fatalf("healthy in state %q", *r.Info.State)
			}
			if !r.Answered {
				t.Fatal("healthy but not answered")
			}
		}
		if r.Status == signal.Starting && (r.Info.Starting == nil || !*r.Info.Starting) {
			t.Fatal("starting without starting=true")
		}
		_ = r.Info.Version() // nil-safe on any answer
	})
}

// FuzzParsePin: a pin is accepted only as the 32 bytes of a SHA-256 digest.
func FuzzParsePin(f *testing.F) {
	f.Add("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	f.Add("9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08")
	f.Add("")
	f.Add("zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParsePin(s)
		if err != nil {
			if b != nil {
				t.Fatal("bytes with an error")
			}
			if !strings.Contains(err.Error(), "pin") {
				t.Fatalf("error does not say what was wrong: %v", err)
			}
			return
		}
		if len(b) != 32 {
			t.Fatalf("pin %q gave %d bytes", s, len(b))
		}
	})
}

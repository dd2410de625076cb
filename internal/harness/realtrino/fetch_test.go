package realtrino

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// download resumes an interrupted transfer with a Range request and starts over when
// the bytes do not match the pinned checksums.
func TestDownloadResumesAndVerifies(t *testing.T) {
	defer func(p func(int) time.Duration) { retryPause = p }(retryPause)
	retryPause = func(int) time.Duration { return time.Millisecond }
	body := bytes.Repeat([]byte("trino-server "), 10000)
	s1, s256 := sha1.Sum(body), sha256.Sum256(body) //nolint:gosec
	var calls, corrupt atomic.Int32
	corrupt.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		data := body
		if n == 1 { // the first transfer breaks off half way
			w.Header().Set("Content-Length", "999999")
			_, _ = w.Write(body[:len(body)/2])
			return
		}
		if n == 2 && corrupt.Load() == 1 { // the resumed one delivers wrong bytes
			data = bytes.ToUpper(body)
		}
		http.ServeContent(w, r, "t.tar.gz", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	r := Release{Version: "t", URL: srv.URL, SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:]), Size: int64(len(body))}
	path := filepath.Join(t.TempDir(), "t.tar.gz")
	if err := download(context.Background(), r, path, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := verify(path, r); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d requests, want 3 (broken, corrupt resume, fresh)", calls.Load())
	}
	if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
		t.Fatalf("the partial file is left: %v", err)
	}
	bad := r
	bad.SHA256 = strings.Repeat("0", 64)
	if err := verify(path, bad); err == nil {
		t.Fatal("a wrong pinned SHA-256 passed")
	}
}

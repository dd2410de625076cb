package realtrino

import (
	"context"
	"crypto/sha1" //nolint:gosec // Maven Central publishes SHA-1; SHA-256 is checked too
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Release is one pinned Trino server release.
type Release struct {
	Version string
	URL     string
	SHA1    string // as Maven Central publishes beside the artifact
	SHA256  string // computed once from the verified download and pinned here
	Size    int64
	Java    int // the Java feature release it needs at least
}

// Trino368 runs on Java 17 (this machine kind's), the oldest of the versions the facts
// were measured on.
var Trino368 = Release{
	Version: "368",
	URL:     "https://repo1.maven.org/maven2/io/trino/trino-server/368/trino-server-368.tar.gz",
	SHA1:    "ce1d9f3a7fc412357b3e6ea73e96a824efb772ad",
	SHA256:  "794a7df6faae51895183b52c6d7f36f0a9715140fab317dac5400f71729c05cd",
	Size:    652847472,
	Java:    17,
}

// keepPlugins are the plugins the drill needs; the others are removed after unpacking,
// which shortens start-up (Trino loads every plugin before it is ready).
var keepPlugins = map[string]bool{"tpch": true}

// CacheDir is where Fetch keeps the tarball and the unpacked server:
// $XDG_CACHE_HOME/coordinator-ha/trino (or ~/.cache/...), outside the repository.
func CacheDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "coordinator-ha", "trino")
}

// FetchStats say what Fetch did.
type FetchStats struct {
	Downloaded bool
	Bytes      int64
	Download   time.Duration
	Unpacked   bool
	Unpack     time.Duration
}

// Fetch returns the server's home directory (unpacked, pruned) in dir, downloading and
// verifying the tarball the first time. A partial download resumes; a download that
// fails its checksums is removed and fetched again, up to attempts times.
func Fetch(ctx context.Context, r Release, dir string, log *slog.Logger) (string, FetchStats, error) {
	var st FetchStats
	home := filepath.Join(dir, "trino-server-"+r.Version+"-pruned")
	if _, err := os.Stat(filepath.Join(home, ".complete")); err == nil {
		return home, st, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", st, err
	}
	// One fetch at a time per cache: concurrent runs (two worktrees' make test) wait
	// here, then find the server in place.
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", st, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", st, fmt.Errorf("locking %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(home, ".complete")); err == nil {
		return home, st, nil
	}
	tarball := filepath.Join(dir, "trino-server-"+r.Version+".tar.gz")
	if err := verify(tarball, r); err != nil {
		start := time.Now()
		if err := download(ctx, r, tarball, log); err != nil {
			return "", st, err
		}
		st.Downloaded, st.Bytes, st.Download = true, r.Size, time.Since(start)
	}
	start := time.Now()
	if err := unpack(tarball, home, r.Version); err != nil {
		return "", st, err
	}
	st.Unpacked, st.Unpack = true, time.Since(start)
	return home, st, nil
}

const fetchAttempts = 4

// retryPause is the pause before attempt n (n >= 2): 4 s, 9 s, 16 s.
var retryPause = func(n int) time.Duration { return time.Duration(n*n) * time.Second }

// download fetches r into path, resuming a partial file, retrying transient failures
// with a growing pause, and starting over when the checksums do not match.
func download(ctx context.Context, r Release, path string, log *slog.Logger) error {
	part := path + ".part"
	var last error
	for attempt := 1; attempt <= fetchAttempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(retryPause(attempt)):
			}
		}
		log.Info("downloading Trino", "version", r.Version, "url", r.URL, "attempt", attempt)
		if err := getResume(ctx, r.URL, part); err != nil {
			last = err
			log.Warn("download interrupted; will resume", "err", err)
			continue
		}
		if err := verify(part, r); err != nil {
			last = err
			log.Warn("download does not match the pinned checksums; starting over", "err", err)
			_ = os.Remove(part)
			continue
		}
		return os.Rename(part, path)
	}
	return fmt.Errorf("downloading %s (%d attempts): %w", r.URL, fetchAttempts, last)
}

// getResume appends to part what the server has beyond its current size.
func getResume(ctx context.Context, url, part string) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return nil // complete already; verify decides
	case off > 0 && resp.StatusCode == http.StatusOK:
		if err := f.Truncate(0); err != nil { // no range support: start over
			return err
		}
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent:
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(f, resp.Body)
	return err
}

// verify checks size, SHA-1 and SHA-256 of path against r.
func verify(path string, r Release) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h1, h256 := sha1.New(), sha256.New() //nolint:gosec
	n, err := io.Copy(io.MultiWriter(h1, h256), f)
	if err != nil {
		return err
	}
	if r.Size > 0 && n != r.Size {
		return fmt.Errorf("%s: %d bytes, want %d", path, n, r.Size)
	}
	for _, c := range []struct {
		name, want string
		h          hash.Hash
	}{{"sha1", r.SHA1, h1}, {"sha256", r.SHA256, h256}} {
		if got := hex.EncodeToString(c.h.Sum(nil)); got != c.want {
			return fmt.Errorf("%s: %s %s, want %s", path, c.name, got, c.want)
		}
	}
	return nil
}

// unpack extracts the tarball into home (through a temporary directory, so a half
// unpacked tree is never taken for a whole one) and removes unneeded plugins.
func unpack(tarball, home, version string) error {
	tmp := home + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("tar", "-xzf", tarball, "-C", tmp, "--strip-components=1").CombinedOutput(); err != nil {
		return fmt.Errorf("unpacking %s: %w: %s", tarball, err, out)
	}
	plugins, err := os.ReadDir(filepath.Join(tmp, "plugin"))
	if err != nil {
		return fmt.Errorf("unpacking %s: %w", tarball, err)
	}
	for _, p := range plugins {
		if !keepPlugins[p.Name()] {
			if err := os.RemoveAll(filepath.Join(tmp, "plugin", p.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(version+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(home)
	if err := os.Rename(tmp, home); err != nil {
		return errors.Join(fmt.Errorf("installing %s", home), err)
	}
	return nil
}

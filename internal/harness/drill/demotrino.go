package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/drill/report"
	"github.com/prestoha/coordinator-ha/internal/harness/realtrino"
)

// TrinoDemoOptions configure DemoTrino.
type TrinoDemoOptions struct {
	Scenarios []string // empty: all of TrinoScenarios
	Out       string   // "": out/demo-trino
	Progress  io.Writer
}

// ErrTrinoUnavailable wraps what the real-Trino drill is missing on this machine.
var ErrTrinoUnavailable = errors.New("the real-Trino drill cannot run here")

// TrinoPrerequisites checks what the real-Trino drill needs (root for network
// namespaces, the ip command, Java 17 or newer for Trino 368), removes namespaces a
// crashed run left, and fetches Trino (once; later runs reuse the cache).
func TrinoPrerequisites(ctx context.Context, out string, log *slog.Logger) (TrinoOptions, realtrino.FetchStats, error) {
	var st realtrino.FetchStats
	if os.Geteuid() != 0 {
		return TrinoOptions{}, st, fmt.Errorf("%w: network namespaces need root", ErrTrinoUnavailable)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return TrinoOptions{}, st, fmt.Errorf("%w: no ip command (iproute2)", ErrTrinoUnavailable)
	}
	java, err := findJava(realtrino.Trino368.Java)
	if err != nil {
		return TrinoOptions{}, st, fmt.Errorf("%w: %v", ErrTrinoUnavailable, err)
	}
	if gone := realtrino.RemoveStale(); len(gone) > 0 {
		log.Warn("removed namespaces left by a crashed run", "namespaces", gone)
	}
	home, st, err := realtrino.Fetch(ctx, realtrino.Trino368, realtrino.CacheDir(), log)
	if err != nil {
		return TrinoOptions{}, st, fmt.Errorf("%w: fetching Trino %s: %v", ErrTrinoUnavailable, realtrino.Trino368.Version, err)
	}
	return TrinoOptions{Home: home, Java: java, Dir: trinoLogDir(out)}, st, nil
}

var javaVersionRe = regexp.MustCompile(`version "(\d+)`)

// findJava returns a java on PATH (or $JAVA_HOME) of at least feature release want.
func findJava(want int) (string, error) {
	java := "java"
	if h := os.Getenv("JAVA_HOME"); h != "" {
		java = filepath.Join(h, "bin", "java")
	}
	path, err := exec.LookPath(java)
	if err != nil {
		return "", fmt.Errorf("no Java (Trino %s needs Java %d)", realtrino.Trino368.Version, want)
	}
	out, _ := exec.Command(path, "-version").CombinedOutput()
	m := javaVersionRe.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("cannot read the version of %s: %s", path, out)
	}
	if v, _ := strconv.Atoi(string(m[1])); v < want {
		return "", fmt.Errorf("%s is Java %d; Trino %s needs Java %d", path, v, realtrino.Trino368.Version, want)
	}
	return path, nil
}

// DemoTrino runs the real-Trino scenarios one after the other, prints their timelines
// and what the client saw, and writes report.json. It returns ErrMisbehaved (wrapped)
// when a scenario is not ok, ErrTrinoUnavailable when the machine lacks a prerequisite.
func DemoTrino(ctx context.Context, o TrinoDemoOptions) (*report.Report, error) {
	w := o.Progress
	if w == nil {
		w = io.Discard
	}
	if o.Out == "" {
		o.Out = filepath.Join("out", "demo-trino")
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	start := time.Now()
	topts, fst, err := TrinoPrerequisites(ctx, o.Out, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "Trino %s in %s (downloaded: %v %s, unpacked: %v %s)\n", realtrino.Trino368.Version, topts.Home,
		fst.Downloaded, fst.Download.Round(time.Second), fst.Unpacked, fst.Unpack.Round(time.Second))
	st := TrinoSettings()
	scs, err := pickScenarios(TrinoScenarios(st), o.Scenarios)
	if err != nil {
		return nil, err
	}
	r := &report.Report{GeneratedAt: time.Now().UTC(), Settings: reportSettings(st)}
	r.OK = true
	for _, sc := range scs {
		fmt.Fprintf(w, "\n== %s: %s\n", sc.Name, sc.Description)
		res, _ := runScenario(ctx, sc, runOptions{Settings: st, Trino: &topts,
			Progress: func(f string, a ...any) { fmt.Fprintf(w, f+"\n", a...) }})
		r.Scenarios = append(r.Scenarios, res)
		r.OK = r.OK && res.OK
		printClient(w, &res)
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	fmt.Fprintf(w, "\nreal-Trino drill: %s of wall time\n", time.Since(start).Round(time.Second))
	return r, writeTrinoReport(w, r, o.Out)
}

func writeTrinoReport(w io.Writer, r *report.Report, out string) error {
	if err := r.Write(out); err != nil {
		return err
	}
	for i := range r.Scenarios {
		report.PrintTimeline(w, &r.Scenarios[i])
	}
	report.PrintSummary(w, r.Scenarios)
	fmt.Fprintf(w, "\nwrote %s\n", filepath.Join(out, "report.json"))
	return misbehaved(r)
}

// pickScenarios selects by name, in the order given (all when names is empty).
func pickScenarios(all []Scenario, names []string) ([]Scenario, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []Scenario
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown real-Trino scenario %q", n)
		}
	}
	return out, nil
}

// printClient prints what the real client saw around the fault.
func printClient(w io.Writer, s *report.Scenario) {
	c := s.Client
	if c == nil {
		return
	}
	f := func(v *float64) string {
		if v == nil {
			return "never"
		}
		return fmt.Sprintf("T%+.1fs", *v)
	}
	worker := ", worker on the new coordinator " + f(c.WorkerSeenS)
	if !s.FailedOver {
		worker = ""
	}
	fmt.Fprintf(w, "  client (%s): last rows before the fault %s, first after %s%s\n",
		c.Query, f(c.LastOKBeforeS), f(c.FirstOKAfterS), worker)
	for _, e := range c.Errors {
		fmt.Fprintf(w, "    T%+.1fs..T%+.1fs %-20s x%-3d %s\n", e.FromS, e.ToS, e.Name, e.Count, trim(e.Example, 110))
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

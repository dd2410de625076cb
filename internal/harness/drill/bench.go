package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prestoha/coordinator-ha/internal/harness/drill/coldstart"
	"github.com/prestoha/coordinator-ha/internal/harness/drill/report"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// BenchOptions configure Bench.
type BenchOptions struct {
	Scenarios     []string // empty: every scenario that must fail over
	Out           string   // "": out/bench
	Runs          int      // runs per scenario; 0: 20
	UnkindRuns    int      // runs per scenario under the unkind model, whose tails are rarer draws; 0: 5*Runs
	Parallel      int      // runs at once; 0: 2
	AgentSeconds  int      // wall seconds of the agent footprint run; 0: 40
	ColdStartRuns int      // cold starts per Lambda; 0: 10
	ModuleDir     string   // "": the current directory
	Progress      io.Writer
}

// PublishedColdStartMS is the init time the model charges for each cold step Lambda on
// the critical path: the upper end of the published figure for a Go provided.al2023
// arm64 function (36-44 ms, maxday/lambda-perf, 2025-12; see shared aws-facts). The
// bench also measures the init of the real bootstraps on this machine, and reports it
// beside the model, but a local process start is neither Lambda's nor deterministic.
const PublishedColdStartMS = 44.0

// Lambdas are the functions the stack deploys (make build builds each).
var Lambdas = statemachine.Lambdas

// BenchScenario is the timing distribution of one failover scenario over its runs.
type BenchScenario struct {
	Name   string   `json:"name"`
	Runs   int      `json:"runs"`
	OK     int      `json:"ok"`
	Failed []string `json:"failed,omitempty"` // violations of the runs that misbehaved
	// Seconds of drill (production-equivalent) time.
	Detect           Dist `json:"fault_to_detection_s"`
	DetectToAttached Dist `json:"detection_to_eni_attached_s"`
	Attached         Dist `json:"fault_to_eni_attached_s"`
	Serving          Dist `json:"fault_to_serving_s"`
	Overhead         Dist `json:"overhead_s"` // Serving - Floor
	// BlipRuns counts the runs in which a coordinator that was not faulted reported
	// anything but healthy. On simulated time the machine cannot cause one: each is the
	// product's doing (or the scenario's), and worth a look.
	BlipRuns int `json:"standby_blip_runs"`
}

// BinarySize is one shipped binary.
type BinarySize struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Model is the modeled production fault-to-serving time.
type Model struct {
	Description string  `json:"description"`
	ServingP99  float64 `json:"serving_p99_s"`
	ServingP50  float64 `json:"serving_p50_s"`
	ColdStartS  float64 `json:"cold_start_allowance_s"`
}

// BenchReport is out/bench/report.json.
type BenchReport struct {
	GeneratedAt time.Time       `json:"generated_at"`
	Machine     string          `json:"machine"`
	Load        LoadNote        `json:"machine_load"`
	Settings    report.Settings `json:"settings"`
	FloorS      float64         `json:"floor_s"`
	FloorNote   string          `json:"floor_note"`
	Scenarios   []BenchScenario `json:"scenarios"`
	AllFast     BenchScenario   `json:"all_hot_standby_scenarios"`
	Model       Model           `json:"model"`
	// The same scenarios and seeds under the unkind model (sim.DefaultConsistency and
	// sim.DefaultRealism), beside today's.
	RealisticScenarios []BenchScenario `json:"realistic_scenarios"`
	RealisticAllFast   BenchScenario   `json:"realistic_all_hot_standby_scenarios"`
	RealisticModel     Model           `json:"realistic_model"`
	RealismParams      []string        `json:"realistic_model_parameters"`
	// Levers are issue 14's cost levers, each turned off alone and all together, beside
	// the defaults.
	Levers []LeverEffect `json:"cost_levers,omitempty"`
	// RealisticWorst are the slowest hot-standby runs under the unkind model, slowest
	// first: where its tail comes from.
	RealisticWorst []WorstRun `json:"realistic_worst_runs"`
	// The same runs under the unkind model without the static ENI configuration
	// (amazon-ec2-net-utils alone: the guest's configuration of the moved ENI waits on
	// instance metadata; sim.Realism.StaticENIConfig off), the model before the boot
	// script wrote it.
	NoStaticENIAllFast BenchScenario              `json:"realistic_without_static_eni_all_hot_standby_scenarios"`
	NoStaticENIModel   Model                      `json:"realistic_without_static_eni_model"`
	NoStaticENIParams  string                     `json:"realistic_without_static_eni_parameters"`
	NoStaticENIWorst   []WorstRun                 `json:"realistic_without_static_eni_worst_runs"`
	Agent              *AgentFootprint            `json:"agent,omitempty"`
	Binaries           []BinarySize               `json:"binaries"`
	ColdStarts         map[string]coldstart.Stats `json:"cold_starts_ms"`
	Cost               *Cost                      `json:"cost,omitempty"`
	Errors             []string                   `json:"errors,omitempty"`
	WallSeconds        float64                    `json:"wall_s"`
	// Runs are the individual runs (without the health check's running commentary).
	Runs []report.Scenario `json:"runs"`
}

// WorstRun is one of the slowest runs (seconds after the fault); its seed replays it.
type WorstRun struct {
	Scenario  string  `json:"scenario"`
	Seed      int64   `json:"seed"`
	DetectS   float64 `json:"detect_s"`
	AttachedS float64 `json:"eni_attached_s"`
	ServingS  float64 `json:"serving_s"`
	// AttachedToServingS is the guest OS configuring the moved ENI (and the first
	// sample that sees it serve).
	AttachedToServingS float64 `json:"attached_to_serving_s"`
}

// worstRuns returns the n slowest hot-standby runs by fault-to-serving, slowest first.
func worstRuns(scs []Scenario, results map[string][]report.Scenario, n int) []WorstRun {
	var out []WorstRun
	for _, sc := range scs {
		if sc.HACount != 0 {
			continue // the slow path has its own figure
		}
		for _, r := range results[sc.Name] {
			if r.ServingS == nil {
				continue
			}
			w := WorstRun{Scenario: sc.Name, Seed: r.Seed, DetectS: val(r.DetectS), AttachedS: val(r.ENIAttachedS), ServingS: *r.ServingS}
			if r.ENIAttachedS != nil {
				w.AttachedToServingS = round3(*r.ServingS - *r.ENIAttachedS)
			}
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ServingS != out[j].ServingS {
			return out[i].ServingS > out[j].ServingS
		}
		return out[i].Seed < out[j].Seed
	})
	return out[:min(n, len(out))]
}

// Bench runs the benchmark and writes out/bench/report.json and summary.md.
func Bench(ctx context.Context, o BenchOptions) error {
	start := time.Now()
	b := newBench(o)
	scs, err := selectScenarios(b.st, b.o.Scenarios, true)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "drill-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rep := b.newReport()

	// 1. Failover timings, on simulated time: the same seeds give the same figures on
	// any machine, busy or idle.
	results, transitions, err := b.failovers(ctx, scs, false, false)
	if err != nil {
		return err
	}
	rep.Runs, rep.Scenarios, rep.AllFast = b.distributions(scs, results, "all hot-standby failovers")
	// 1b. The same scenarios and seeds under the unkind model.
	b.say("bench: the same runs under the unkind model (%s)", sim.DefaultRealism())
	rres, _, err := b.failovers(ctx, scs, true, false)
	if err != nil {
		return err
	}
	_, rep.RealisticScenarios, rep.RealisticAllFast = b.distributions(scs, rres, "all hot-standby failovers (unkind model)")
	rep.RealismParams = []string{"account: " + sim.DefaultConsistency().String(), "around it: " + sim.DefaultRealism().String()}
	rep.RealisticWorst = worstRuns(scs, rres, 5)
	// 1c. And once more without the static ENI configuration: the model before it.
	alone := sim.DefaultRealism()
	alone.StaticENIConfig = false
	b.say("bench: the same runs under the unkind model without the static ENI configuration (%s)", alone)
	nres, _, err := b.failovers(ctx, scs, true, true)
	if err != nil {
		return err
	}
	_, _, rep.NoStaticENIAllFast = b.distributions(scs, nres, "all hot-standby failovers (unkind model, amazon-ec2-net-utils alone)")
	rep.NoStaticENIParams = "around it: " + alone.String()
	rep.NoStaticENIWorst = worstRuns(scs, nres, 5)
	// 2. The production model, today's and the unkind one.
	rep.Model = model(rep.AllFast, b.st)
	rep.RealisticModel = realisticModel(rep.RealisticAllFast, b.st)
	rep.NoStaticENIModel = realisticModel(rep.NoStaticENIAllFast, b.st)
	// 3. What only this machine's wall clock can tell: cold starts, the agent's
	// footprint, binary sizes.
	b.measureMachine(ctx, rep, tmp)
	// 4. The monthly cost from a steady-state run.
	b.say("bench: steady-state AWS calls for the cost model (3 coordinators, 20 minutes of simulated time)")
	if in, err := measureSteady(ctx, DefaultSettings(), 20*time.Minute, nil); err != nil {
		rep.Errors = append(rep.Errors, "cost run: "+err.Error())
	} else {
		in.FailoverTransitions = transitions
		c := MonthlyCost(in)
		rep.Cost = &c
	}
	// 5. Issue 14's cost levers: each turned off alone, and all of them, against the
	// defaults: the monthly cost and the modeled p99 under both models.
	if rep.Cost != nil {
		if err := b.levers(ctx, scs, rep); err != nil {
			return err
		}
	}
	rep.WallSeconds = time.Since(start).Seconds()
	rep.Load = newLoadNote(b.load0, loadAverage())
	return b.write(rep)
}

// LeverEffect is the control plane with one configuration of the cost levers.
type LeverEffect struct {
	Configuration string  `json:"configuration"`
	CostUSD       float64 `json:"monthly_cost_usd"`
	ServingP99    float64 `json:"serving_p99_s"`
	RealisticP99  float64 `json:"unkind_serving_p99_s"`
	// Fault to detection, which the levers act on (the unkind model's serving tail is
	// mostly attachments that stay attaching, drawn on different runs as the calls change).
	DetectP99          float64 `json:"detect_p99_s"`
	RealisticDetectP99 float64 `json:"unkind_detect_p99_s"`
}

// levers measures the cost and the modeled p99 with each lever off, and with all off.
func (b *bench) levers(ctx context.Context, scs []Scenario, rep *BenchReport) error {
	rep.Levers = []LeverEffect{{Configuration: "defaults (every lever on)", CostUSD: round3(rep.Cost.TotalUSD),
		ServingP99: rep.Model.ServingP99, RealisticP99: rep.RealisticModel.ServingP99,
		DetectP99: rep.AllFast.Detect.P99, RealisticDetectP99: rep.RealisticAllFast.Detect.P99}}
	type config struct {
		name string
		st   Settings
	}
	var configs []config
	for _, l := range Levers {
		st := b.st
		l.Off(&st)
		configs = append(configs, config{"without: " + l.Name, st})
	}
	configs = append(configs, config{"without any (before issue 14)", b.st.WithoutLevers()})
	for _, c := range configs {
		b.say("bench: cost lever: %s", c.name)
		in, err := measureSteady(ctx, c.st, 20*time.Minute, nil)
		if err != nil {
			return fmt.Errorf("cost run %s: %w", c.name, err)
		}
		today, _, err := b.failoversWith(ctx, c.st, scs, false, false)
		if err != nil {
			return err
		}
		unkind, _, err := b.failoversWith(ctx, c.st, scs, true, false)
		if err != nil {
			return err
		}
		_, _, all := b.distributions(scs, today, "all")
		_, _, rall := b.distributions(scs, unkind, "all")
		rep.Levers = append(rep.Levers, LeverEffect{Configuration: c.name, CostUSD: round3(MonthlyCost(in).TotalUSD),
			ServingP99: model(all, c.st).ServingP99, RealisticP99: realisticModel(rall, c.st).ServingP99,
			DetectP99: all.Detect.P99, RealisticDetectP99: rall.Detect.P99})
	}
	return nil
}

// bench is one run of Bench.
type bench struct {
	o     BenchOptions
	st    Settings
	load0 float64
	mu    sync.Mutex // serializes progress lines
}

func newBench(o BenchOptions) *bench {
	if o.Runs <= 0 {
		o.Runs = 20
	}
	if o.UnkindRuns <= 0 {
		o.UnkindRuns = 5 * o.Runs
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.AgentSeconds <= 0 {
		o.AgentSeconds = 40
	}
	if o.ColdStartRuns <= 0 {
		o.ColdStartRuns = 10
	}
	if o.Out == "" {
		o.Out = filepath.Join("out", "bench")
	}
	if o.ModuleDir == "" {
		o.ModuleDir = "."
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return &bench{o: o, st: DefaultSettings(), load0: loadAverage()}
}

func (b *bench) say(format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.o.Progress, format+"\n", a...)
}

func (b *bench) newReport() *BenchReport {
	st := b.st
	return &BenchReport{GeneratedAt: time.Now().UTC(), Machine: machine(), Settings: reportSettings(st), FloorS: st.Floor().Seconds(),
		FloorNote:  fmt.Sprintf("grace %s + check interval %s + report (publish) interval %s + ingestion allowance %s: the configuration's detection budget; a coordinator that stops answering is detected within it, so the overhead (fault-to-serving minus this budget) is negative when the control plane beats its own budget", st.Grace, st.CheckInterval, st.PublishInterval, st.IngestionAllow),
		ColdStarts: map[string]coldstart.Stats{}}
}

// failovers runs every scenario o.Runs times, o.Parallel at a time, and returns the
// results by scenario and the state transitions of one process-exit failover.
// realistic runs them under the unkind model, withoutStaticENI without the static ENI
// configuration.
func (b *bench) failovers(ctx context.Context, scs []Scenario, realistic, withoutStaticENI bool) (map[string][]report.Scenario, int, error) {
	return b.failoversWith(ctx, b.st, scs, realistic, withoutStaticENI)
}

// failoversWith is failovers at settings st.
func (b *bench) failoversWith(ctx context.Context, st Settings, scs []Scenario, realistic, withoutStaticENI bool) (map[string][]report.Scenario, int, error) {
	runs := b.o.Runs
	if realistic {
		runs = b.o.UnkindRuns // a 5 % tail needs more than 80 runs to show as a p99 rather than a maximum
	}
	b.say("bench: %d failover scenarios x %d runs on simulated time, %d at a time", len(scs), runs, b.o.Parallel)
	kind := "run"
	if realistic {
		kind = "unkind run"
		if withoutStaticENI {
			kind = "unkind run, ec2-net-utils alone"
		}
	}
	type job struct {
		sc  Scenario
		run int
	}
	results := map[string][]report.Scenario{}
	transitions := 0
	var rmu sync.Mutex
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range b.o.Parallel {
		wg.Go(func() {
			for j := range jobs {
				seed := runSeed(j.sc.Name, j.run)
				res, stats := runScenario(ctx, j.sc, runOptions{Settings: st, Seed: seed, Simulated: true, FaultDelay: faultPhase(seed, st.Schedule), Realistic: realistic, WithoutStaticENI: withoutStaticENI})
				rmu.Lock()
				results[j.sc.Name] = append(results[j.sc.Name], res)
				if j.sc.Name == "process-exit" && stats.transitions > 0 {
					transitions = stats.transitions
				}
				n := len(results[j.sc.Name])
				rmu.Unlock()
				line := fmt.Sprintf("  %-20s %s %2d/%d: ", j.sc.Name, kind, n, runs)
				if res.OK {
					line += fmt.Sprintf("detect %5.1fs  attached %5.1fs  serving %5.1fs  (seed %d, %.2fs wall)", val(res.DetectS), val(res.ENIAttachedS), val(res.ServingS), seed, res.WallSeconds)
				} else {
					line += "MISBEHAVED: " + strings.Join(res.Violations, "; ")
				}
				b.say("%s", line)
			}
		})
	}
	for r := 0; r < runs && ctx.Err() == nil; r++ {
		for _, sc := range scs {
			select {
			case jobs <- job{sc, r}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	return results, transitions, ctx.Err()
}

// distributions returns the runs in seed order (without their running commentary), the
// per-scenario distributions and the one of all hot-standby failovers.
func (b *bench) distributions(scs []Scenario, results map[string][]report.Scenario, allName string) (runs []report.Scenario, per []BenchScenario, all BenchScenario) {
	var fast []report.Scenario
	for _, sc := range scs {
		sort.SliceStable(results[sc.Name], func(i, j int) bool { return results[sc.Name][i].Seed < results[sc.Name][j].Seed })
		for _, r := range results[sc.Name] {
			r.Observed = nil
			runs = append(runs, r)
		}
		per = append(per, benchScenario(sc.Name, results[sc.Name], b.st))
		if sc.HACount == 0 {
			fast = append(fast, results[sc.Name]...)
		}
	}
	return runs, per, benchScenario(allName, fast, b.st)
}

// measureMachine measures on the wall clock: the Lambdas' cold-start init (the real
// bootstrap, built for this machine), the agent's CPU and RSS, and the binaries' sizes.
func (b *bench) measureMachine(ctx context.Context, rep *BenchReport, tmp string) {
	for _, name := range Lambdas {
		b.say("bench: cold starts of %s (%d runs)", name, b.o.ColdStartRuns)
		bin, err := coldstart.BuildNative(ctx, b.o.ModuleDir, tmp, name)
		if err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		s, err := coldstart.Measure(ctx, bin, name, b.o.ColdStartRuns)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("cold start of %s: %v", name, err))
			continue
		}
		rep.ColdStarts[name] = s
	}
	b.say("bench: agent CPU and RSS over %ds of wall time", b.o.AgentSeconds)
	if fp, err := MeasureAgent(ctx, b.o.ModuleDir, tmp, time.Duration(b.o.AgentSeconds)*time.Second); err != nil {
		rep.Errors = append(rep.Errors, "agent footprint: "+err.Error())
	} else {
		rep.Agent = &fp
	}
	b.say("bench: binary sizes")
	bins, err := binarySizes(ctx, b.o.ModuleDir, tmp)
	if err != nil {
		rep.Errors = append(rep.Errors, "binary sizes: "+err.Error())
	}
	rep.Binaries = bins
}

// write writes report.json and summary.md, prints the summary, and fails when a run
// misbehaved or a measurement failed.
func (b *bench) write(rep *BenchReport) error {
	if err := os.MkdirAll(b.o.Out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.o.Out, "report.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	writeSummary(&md, rep, b.o.Runs, b.o.UnkindRuns)
	if err := os.WriteFile(filepath.Join(b.o.Out, "summary.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(b.o.Progress, "\n%s\nwrote %s and %s\n", md.String(), filepath.Join(b.o.Out, "report.json"), filepath.Join(b.o.Out, "summary.md"))
	bad := 0
	for _, s := range rep.Scenarios {
		bad += s.Runs - s.OK
	}
	if bad > 0 || len(rep.Errors) > 0 {
		return fmt.Errorf("%w: %d runs misbehaved, %d measurement errors", ErrMisbehaved, bad, len(rep.Errors))
	}
	return nil
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func benchScenario(name string, rs []report.Scenario, st Settings) BenchScenario {
	bs := BenchScenario{Name: name, Runs: len(rs)}
	var det, d2a, att, srv, over []float64
	for _, r := range rs {
		if !r.OK {
			bs.Failed = append(bs.Failed, strings.Join(r.Violations, "; "))
			continue
		}
		bs.OK++
		if r.StandbyNoise > 0 {
			bs.BlipRuns++
		}
		if r.DetectS == nil || r.ENIAttachedS == nil || r.ServingS == nil {
			continue
		}
		det = append(det, *r.DetectS)
		d2a = append(d2a, *r.ENIAttachedS-*r.DetectS)
		att = append(att, *r.ENIAttachedS)
		srv = append(srv, *r.ServingS)
		over = append(over, *r.ServingS-st.Floor().Seconds())
	}
	bs.Detect, bs.DetectToAttached, bs.Attached, bs.Serving, bs.Overhead = NewDist(det), NewDist(d2a), NewDist(att), NewDist(srv), NewDist(over)
	return bs
}

// model: production fault-to-serving = the simulated drill's fault-to-serving
// (production timings on simulated time) + the cold starts the drill does not have on
// the critical path: the Terminate and AttachENI Lambdas, each assumed cold (a failover
// is rare, so they usually are), at the published init time. Every term is
// deterministic: the same seeds give the same model on any machine. Not modelled: Step
// Functions' own latency between states, the new holder's OS bringing up the secondary
// interface, and real EC2 API latencies beyond the simulation's AWS-like delays.
func model(all BenchScenario, st Settings) Model {
	cs := 2 * PublishedColdStartMS / 1000
	return Model{
		Description: fmt.Sprintf("fault-to-serving of the drill on simulated time at default settings (grace %s, check %s, probe %s, publish %s, ingestion allowance %s, EC2 attach/detach delays of the simulation; each run's fault at a seeded phase of the schedule) plus the published cold-start init of the Terminate and AttachENI Lambdas (%.0f ms each, both assumed cold, on the critical path). Deterministic: it does not depend on this machine's speed or load. Not modelled: Step Functions latency between states, the OS configuring the secondary interface on the new holder, EC2 API latency beyond the simulated delays.",
			st.Grace, st.CheckInterval, st.ProbeInterval, st.PublishInterval, st.IngestionAllow, PublishedColdStartMS),
		ServingP99: round3(all.Serving.P99 + cs),
		ServingP50: round3(all.Serving.P50 + cs),
		ColdStartS: round3(cs),
	}
}

// realisticModel: fault-to-serving under the unkind model. Its runs already pay the
// Step Functions transitions, the step Lambdas' cold starts (drawn), the guest OS
// configuring the moved ENI, late ticks and eventually consistent reads, so nothing is
// added on top.
func realisticModel(all BenchScenario, st Settings) Model {
	return Model{
		Description: fmt.Sprintf("fault-to-serving of the same runs (seeds, fault phases) on simulated time at default settings (grace %s, check %s, probe %s, publish %s, ingestion allowance %s) under the unkind model: every term drawn in the run itself (see its parameters). Deterministic.",
			st.Grace, st.CheckInterval, st.ProbeInterval, st.PublishInterval, st.IngestionAllow),
		ServingP99: round3(all.Serving.P99),
		ServingP50: round3(all.Serving.P50),
	}
}

// binarySizes reads the sizes of the stripped linux/arm64 binaries of make build, and
// builds them into tmp the same way when bin/ does not have them.
func binarySizes(ctx context.Context, moduleDir, tmp string) ([]BinarySize, error) {
	type target struct{ name, path, pkg string }
	var ts []target
	for _, l := range Lambdas {
		ts = append(ts, target{"lambda " + l + " (bootstrap)", filepath.Join("bin", "lambda", l, "bootstrap"), "./lambdas/" + l})
	}
	ts = append(ts, target{"agent", filepath.Join("bin", "agent", "coordinator-agent-linux-arm64"), "./agent"})
	var out []BinarySize
	var errs []string
	for _, t := range ts {
		p := filepath.Join(moduleDir, t.path)
		fi, err := os.Stat(p)
		if err != nil {
			p = filepath.Join(tmp, "arm64", strings.ReplaceAll(t.pkg, "/", "_"))
			args := []string{"build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", p}
			if strings.HasPrefix(t.pkg, "./lambdas/") {
				args = append(args, "-tags", "lambda.norpc")
			}
			cmd := exec.CommandContext(ctx, "go", append(args, t.pkg)...)
			cmd.Dir = moduleDir
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v: %s", t.pkg, err, b))
				continue
			}
			if fi, err = os.Stat(p); err != nil {
				errs = append(errs, err.Error())
				continue
			}
		}
		out = append(out, BinarySize{Name: t.name, Path: t.path, Bytes: fi.Size()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func machine() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model := ""
	cores := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") && model == "" {
			_, model, _ = strings.Cut(l, ":")
		}
		if strings.HasPrefix(l, "processor") {
			cores++
		}
	}
	return fmt.Sprintf("%s, %d cores, %s", strings.TrimSpace(model), cores, hostArch())
}

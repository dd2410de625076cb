package drill

import (
	"fmt"
	"strings"
)

func writeSummary(b *strings.Builder, r *BenchReport, runs, unkindRuns int) {
	fmt.Fprintf(b, "# Failover benchmark\n\n")
	fmt.Fprintf(b, "Generated %s on %s by `make bench` (`go run ./drill bench`). The failover timings run on simulated time (clock.Sim: time advances only when every component waits), with production timings: they are the same on any machine, busy or idle, and each run replays from its seed. Only the cold starts and the agent's footprint are measured on this machine's wall clock: %s.\n\n",
		r.GeneratedAt.Format("2006-01-02 15:04 MST"), r.Machine, r.Load.Note)
	fmt.Fprintf(b, "Settings: grace %gs, check interval %gs, health-check schedule %gs, agent probe %gs and publish %gs, CloudWatch ingestion %ss, EC2 pending-to-running %gs, Presto start-up %gs, %d coordinators.\n\n",
		r.Settings.GraceS, r.Settings.CheckIntervalS, r.Settings.ScheduleS, r.Settings.ProbeIntervalS, r.Settings.PublishIntervalS, r.Settings.IngestionDelayS, r.Settings.PendingToRunS, r.Settings.StartupS, r.Settings.Coordinators)

	fmt.Fprintf(b, "## Failover timings (%d runs per scenario)\n\n", runs)
	fmt.Fprintf(b, "| scenario | ok runs | fault to detection p50 / p99 | detection to ENI attached p50 / p99 | fault to serving p50 / p99 | overhead p50 / p99 | standby blips |\n|---|---:|---:|---:|---:|---:|---:|\n")
	rows := append(append([]BenchScenario(nil), r.Scenarios...), r.AllFast)
	for _, s := range rows {
		name := s.Name
		if s.Name == r.AllFast.Name {
			name = "**" + s.Name + "**"
		}
		fmt.Fprintf(b, "| %s | %d/%d | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %+.1f / %+.1f | %d |\n", name, s.OK, s.Runs,
			s.Detect.P50, s.Detect.P99, s.DetectToAttached.P50, s.DetectToAttached.P99, s.Serving.P50, s.Serving.P99, s.Overhead.P50, s.Overhead.P99, s.BlipRuns)
	}
	fmt.Fprintf(b, "\nOverhead = fault-to-serving minus the floor set by configuration, %.0f s (%s).\n\n", r.FloorS, r.FloorNote)
	fmt.Fprintf(b, "Standby blips: runs in which a coordinator that was not faulted sent a report other than healthy. On simulated time a busy machine cannot cause one, so each is the product's (or the scenario's) doing.\n\n")
	fmt.Fprintf(b, "Detection to ENI attached is the failover execution (the product's state machine definition, interpreted by the Go interpreter that `internal/harness/asl`'s differential test holds to aws-local-stepfunctions): fence (terminate through Auto Scaling, confirm it is shutting down, force the ENI off it, confirm the ENI is available), then attach to a standby with enough consecutive healthy reports.\n\n")
	fmt.Fprintf(b, "**Modeled production fault-to-serving at default settings: p50 %.1f s, p99 %.1f s.** Model: %s\n\n", r.Model.ServingP50, r.Model.ServingP99, r.Model.Description)

	fmt.Fprintf(b, "## Under the unkind model (AWS as its documentation describes it)\n\n")
	fmt.Fprintf(b, "%d runs per scenario (the first %d are the runs above, the same seeds and fault phases; its tails are rare draws, so a p99 needs more runs than a maximum), with eventually consistent reads, late and early schedule ticks over overlapping health-check sandboxes, Step Functions transitions and step cold starts, and the guest OS configuring the moved ENI before the coordinator IP serves. Parameters:\n\n", unkindRuns, runs)
	for _, p := range r.RealismParams {
		fmt.Fprintf(b, "- %s\n", p)
	}
	fmt.Fprintf(b, "\nNot on the bench's critical path, exercised by the chaos campaign instead: instance metadata lag (the agents' role only), agent clock skew, lifecycle hooks, per-query metric errors, failing scale-in protection.\n\n")
	fmt.Fprintf(b, "| scenario | ok runs | fault to detection p50 / p99 | detection to ENI attached p50 / p99 | fault to serving p50 / p99 | today's model, fault to serving p50 / p99 |\n|---|---:|---:|---:|---:|---:|\n")
	today := map[string]BenchScenario{}
	for _, s := range rows {
		today[s.Name] = s
	}
	rrows := append(append([]BenchScenario(nil), r.RealisticScenarios...), r.RealisticAllFast)
	for i, s := range rrows {
		name, t := s.Name, today[s.Name]
		if i == len(rrows)-1 {
			name, t = "**"+s.Name+"**", r.AllFast
		}
		fmt.Fprintf(b, "| %s | %d/%d | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f |\n", name, s.OK, s.Runs,
			s.Detect.P50, s.Detect.P99, s.DetectToAttached.P50, s.DetectToAttached.P99, s.Serving.P50, s.Serving.P99, t.Serving.P50, t.Serving.P99)
	}
	fmt.Fprintf(b, "\n**Modeled production fault-to-serving under the unkind model: p50 %.1f s, p99 %.1f s** (today's model: p50 %.1f s, p99 %.1f s; goal p99 at most 45 s). %s\n\n",
		r.RealisticModel.ServingP50, r.RealisticModel.ServingP99, r.Model.ServingP50, r.Model.ServingP99, r.RealisticModel.Description)
	writeWorst(b, "The slowest hot-standby runs under the unkind model", r.RealisticWorst)
	fmt.Fprintf(b, "### Without the static ENI configuration (the model before it)\n\n")
	fmt.Fprintf(b, "The same runs with the guest OS configuring the moved ENI through amazon-ec2-net-utils alone, which waits on instance metadata (%s): fault to detection p50 %.1f / p99 %.1f s, detection to ENI attached p50 %.1f / p99 %.1f s, **fault to serving p50 %.1f s, p99 %.1f s**.\n\n",
		r.NoStaticENIParams, r.NoStaticENIAllFast.Detect.P50, r.NoStaticENIAllFast.Detect.P99, r.NoStaticENIAllFast.DetectToAttached.P50, r.NoStaticENIAllFast.DetectToAttached.P99,
		r.NoStaticENIModel.ServingP50, r.NoStaticENIModel.ServingP99)
	writeWorst(b, "The slowest hot-standby runs without the static ENI configuration", r.NoStaticENIWorst)

	fmt.Fprintf(b, "## Lambda cold starts (init time, process start to the first Runtime API `next`)\n\n| function | runs | p50 ms | p99 ms |\n|---|---:|---:|---:|\n")
	for _, l := range Lambdas {
		if s, ok := r.ColdStarts[l]; ok {
			fmt.Fprintf(b, "| %s | %d | %.1f | %.1f |\n", l, s.Runs, s.P50, s.P99)
		}
	}
	fmt.Fprintf(b, "\nMeasured on this machine (%s) with the real `bootstrap` built for it, a local Runtime API and every AWS endpoint on a closed loopback port; Lambda's own sandbox start is not included. The model above charges the published %.0f ms per cold step instead (%s).\n\n", hostArch(), PublishedColdStartMS, r.Load.Note)

	if a := r.Agent; a != nil {
		fmt.Fprintf(b, "## Host agent footprint\n\n")
		fmt.Fprintf(b, "The real agent binary (%s) at its default intervals with `-publish=stdout` against one simulated coordinator, %.0f s of wall time: **CPU %.3f%% of one core** (%.2f s of CPU), **RSS %.1f MiB** mean, %.1f MiB max (peak %.1f MiB); %d probes answered, %d datums written.\n\n",
			a.Binary, a.Summary.WallSeconds, a.Summary.CPUPercent, a.Summary.CPUSeconds, a.Summary.RSSMeanMiB, a.Summary.RSSMaxMiB, a.Summary.PeakRSSMiB, a.ProbeCalls, a.Datums)
	}
	if len(r.Binaries) > 0 {
		fmt.Fprintf(b, "## Binary sizes (stripped, linux/arm64, as `make build` builds them)\n\n| binary | bytes | MiB |\n|---|---:|---:|\n")
		for _, x := range r.Binaries {
			fmt.Fprintf(b, "| %s | %d | %.1f |\n", x.Name, x.Bytes, float64(x.Bytes)/(1<<20))
		}
		b.WriteString("\n")
	}
	if r.Cost != nil {
		fmt.Fprintf(b, "## Monthly cost of the control plane (3 coordinators, default settings)\n\n")
		r.Cost.WriteMarkdown(b)
		b.WriteString("\n")
	}
	if len(r.Levers) > 0 {
		d := r.Levers[0]
		fmt.Fprintf(b, "## Cost levers (issue 14): each turned off alone, and all of them\n\n")
		fmt.Fprintf(b, "The same cost run and the same failover runs (seeds, fault phases) with one lever off; the effect of a lever is what turning it off changes. The goal: at most 20 USD a month at the defaults, with the modeled p99 no worse than without the levers. The levers act on detection; under the unkind model the serving tail is mostly attachments that stay attaching, and which runs draw one moves as the calls change, so compare its serving p99 with that in mind.\n\n")
		fmt.Fprintf(b, "| configuration | USD / month | change | p99 detection / serving, today's model | change | p99 detection / serving, unkind model | change |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, l := range r.Levers {
			fmt.Fprintf(b, "| %s | %.2f | %+.2f | %.1f / %.1f s | %+.1f / %+.1f s | %.1f / %.1f s | %+.1f / %+.1f s |\n", l.Configuration, l.CostUSD, l.CostUSD-d.CostUSD,
				l.DetectP99, l.ServingP99, l.DetectP99-d.DetectP99, l.ServingP99-d.ServingP99,
				l.RealisticDetectP99, l.RealisticP99, l.RealisticDetectP99-d.RealisticDetectP99, l.RealisticP99-d.RealisticP99)
		}
		b.WriteString("\n")
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(b, "## Errors\n\n")
		for _, e := range r.Errors {
			fmt.Fprintf(b, "- %s\n", e)
		}
	}
}

// writeWorst lists the slowest runs with what their time was spent on.
func writeWorst(b *strings.Builder, title string, ws []WorstRun) {
	if len(ws) == 0 {
		return
	}
	fmt.Fprintf(b, "%s (seconds after the fault; ENI attached to serving is the guest OS configuring the moved ENI; the seed replays the run on simulated time):\n\n", title)
	fmt.Fprintf(b, "| scenario | seed | detection | ENI attached | serving | attached to serving |\n|---|---:|---:|---:|---:|---:|\n")
	for _, w := range ws {
		fmt.Fprintf(b, "| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", w.Scenario, w.Seed, w.DetectS, w.AttachedS, w.ServingS, w.AttachedToServingS)
	}
	b.WriteString("\n")
}

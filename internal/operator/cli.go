package operator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Usage is the command's help text.
const Usage = `coordinator-ha: operate a coordinator-ha cluster (finds everything from its stack)

usage: coordinator-ha <command> --stack NAME [flags]

commands:
  status      the cluster at a glance: who holds the IP, each coordinator's verdict, last
              report, role, scale-in protection and AZ; healthy standbys; pause; circuit
              breaker; the last failovers. Exit code 0 healthy, 1 degraded, 2 down.
  history     the failover executions with their timelines, newest first (--since)
  switchover  move the coordinator IP to a healthy standby (--to INSTANCE, or the best),
              through the failover lease; the old active is replaced as in a failover
  pause       pause automatic failover (--for 2h, --reason required); expires by itself
  resume      end a pause now
  roll        replace every coordinator not on the launch template's current version:
              standbys first (surge-first), then the active by a switchover
  policy      print the IAM policy an operator needs for every command on this stack

flags (every command): --stack NAME (or COORDINATOR_HA_STACK), --json
AWS: the default credential chain (AWS_PROFILE, AWS_REGION, ...).

exit codes: 0 healthy/done, 1 degraded, 2 down, 3 failed, 4 no credentials or access
denied, 5 no such stack, 6 another failover running, 7 nothing to do, 64 usage
`

// Opener builds the Operator for a stack (the command: real AWS clients; tests: the
// simulated account).
type Opener func(ctx context.Context, stack string, progress io.Writer) (*Operator, error)

// Run runs the command line args (without the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, open Opener) int {
	code, err := run(ctx, args, stdout, stderr, open)
	if err != nil {
		fmt.Fprintf(stderr, "coordinator-ha: %v\n", err)
		var usage *UsageError
		if errors.As(err, &usage) {
			fmt.Fprint(stderr, "\n"+Usage)
		}
		return ExitCode(err)
	}
	return code
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, open Opener) (int, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, Usage)
		if len(args) == 0 {
			return ExitUsage, nil
		}
		return 0, nil
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stack := fs.String("stack", os.Getenv("COORDINATOR_HA_STACK"), "the cluster's CloudFormation stack")
	asJSON := fs.Bool("json", false, "print JSON")
	var (
		since  = fs.String("since", "", "history: only executions started within this duration (24h) or after this RFC 3339 time")
		limit  = fs.Int("limit", 20, "history: at most this many executions")
		to     = fs.String("to", "", "switchover: the standby to move the IP to (default: the best healthy standby)")
		reason = fs.String("reason", "", "pause (required), switchover, roll: why, recorded with the change")
		dur    = fs.Duration("for", DefaultPauseFor, "pause: how long (at most 24h)")
	)
	switch cmd {
	case "status", "history", "switchover", "pause", "resume", "roll", "policy":
	default:
		return 0, &UsageError{Msg: fmt.Sprintf("unknown command %q", cmd)}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 0, &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return 0, &UsageError{Msg: fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	// --since: a duration back from now, or a time.
	var sinceAgo time.Duration
	var sinceT time.Time
	if *since != "" {
		var err error
		if sinceAgo, err = time.ParseDuration(*since); err != nil {
			if sinceT, err = time.Parse(time.RFC3339, *since); err != nil {
				return 0, &UsageError{Msg: fmt.Sprintf("--since %q: a duration (24h) or an RFC 3339 time", *since)}
			}
		}
	}
	o, err := open(ctx, *stack, stderr) // progress lines go to stderr, results to stdout
	if err != nil {
		return 0, err
	}
	if sinceAgo > 0 {
		sinceT = o.clk.Now().Add(-sinceAgo)
	}
	print := func(v any, text func(io.Writer)) {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
			return
		}
		text(stdout)
	}
	switch cmd {
	case "policy":
		doc, err := o.PolicyDocument()
		if err != nil {
			return 0, err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	case "status":
		s, err := o.Status(ctx)
		if err != nil {
			return 0, err
		}
		print(s, func(w io.Writer) { WriteStatus(w, s) })
		return s.Health.ExitCode(), nil
	case "history":
		h, err := o.History(ctx, sinceT, *limit)
		if err != nil {
			return 0, err
		}
		print(h, func(w io.Writer) { WriteHistory(w, h) })
	case "switchover":
		r, err := o.Switchover(ctx, strings.TrimSpace(*to), *reason)
		if r != nil && r.Execution != "" {
			print(r, func(w io.Writer) { WriteSwitchover(w, r) })
		}
		if err != nil {
			return 0, err
		}
	case "pause":
		r, err := o.Pause(ctx, *dur, *reason)
		if err != nil {
			return 0, err
		}
		print(r, func(w io.Writer) {
			if r.Replaced != nil {
				fmt.Fprintf(w, "replaced the pause by %s until %s (%s)\n", r.Replaced.By, r.Replaced.Until.Format(time.RFC3339), r.Replaced.Reason)
			}
			fmt.Fprintf(w, "automatic failover of %s paused until %s by %s: %s\n(the health check logs it at every evaluation; resume with: coordinator-ha resume --stack %s)\n",
				o.Stack.Cluster, r.Pause.Until.Format(time.RFC3339), r.Pause.By, r.Pause.Reason, o.Stack.Name)
		})
	case "resume":
		r, err := o.Resume(ctx)
		if err != nil {
			return 0, err
		}
		print(r, func(w io.Writer) {
			state := "in force"
			if r.Expired {
				state = "already expired"
			}
			fmt.Fprintf(w, "automatic failover of %s resumed (removed the pause by %s until %s, %s: %s)\n",
				o.Stack.Cluster, r.Pause.By, r.Pause.Until.Format(time.RFC3339), state, r.Pause.Reason)
		})
	case "roll":
		r, err := o.Roll(ctx, *reason)
		if r != nil {
			print(r, func(w io.Writer) {
				fmt.Fprintf(w, "rolled to launch template version %s: retired %v, launched %v\n", r.Version, r.Retired, r.Launched)
				if r.Switchover != nil {
					WriteSwitchover(w, r.Switchover)
				}
				fmt.Fprintf(w, "healthy standbys: %d before, never fewer than %d during the roll\n", r.HealthyStandbysBefore, r.MinHealthyStandbys)
			})
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Command coordinator-agent runs on every Presto/Trino coordinator host, active or
// standby: it probes the local /v1/info, witnesses the active coordinator from standbys,
// and publishes both to CloudWatch. The logic lives in internal/agent; see agent/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/prestoha/coordinator-ha/internal/agent"
	hasignal "github.com/prestoha/coordinator-ha/internal/signal"
)

// version is set at build time with -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	cfg, err := agent.ParseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "coordinator-agent: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	if cfg.ShowVersion {
		fmt.Println("coordinator-agent", buildVersion())
		return
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	deps, err := clients(ctx, cfg)
	if err != nil {
		log.Error("cannot build the AWS clients", "err", err)
		os.Exit(1)
	}
	deps.Logger = log
	a, err := agent.New(cfg, deps)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(2)
	}
	log.Info("coordinator-agent", "version", buildVersion())
	if err := a.Run(ctx); err != nil {
		log.Error("stopped with unsent samples", "err", err)
		os.Exit(1)
	}
}

// clients builds the CloudWatch, STS and (with a doorbell) Lambda clients once: the SDK's default chain (instance
// profile on EC2), with the region from IMDS (v2 only) when the environment does not
// name one. The stdout dry run needs neither and writes to a placeholder namespace.
func clients(ctx context.Context, cfg agent.Config) (agent.Deps, error) {
	if cfg.Publish == agent.PublishStdout {
		return agent.Deps{CloudWatch: agent.NewStdoutCloudWatch(os.Stdout), Namespace: hasignal.HostNamespace("dry-run")}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The instance role's credentials come from IMDS too: with the same v2-only client.
	awsCfg, err := config.LoadDefaultConfig(lctx, config.WithEC2RoleCredentialOptions(func(o *ec2rolecreds.Options) {
		o.Client = agent.NewIMDSClient(cfg.IMDSEndpoint)
	}))
	if err != nil {
		return agent.Deps{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		out, err := agent.NewIMDSClient(cfg.IMDSEndpoint).GetRegion(lctx, &imds.GetRegionInput{})
		if err != nil {
			return agent.Deps{}, fmt.Errorf("no AWS region set and IMDS did not tell it: %w", err)
		}
		awsCfg.Region = out.Region
	}
	d := agent.Deps{CloudWatch: cloudwatch.NewFromConfig(awsCfg), STS: sts.NewFromConfig(awsCfg)}
	if cfg.Doorbell != "" {
		d.Doorbell = agent.NewLambdaDoorbell(lambda.NewFromConfig(awsCfg), cfg.Doorbell, nil)
	}
	return d, nil
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

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
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/prestoha/coordinator-ha/internal/agent"
	"github.com/prestoha/coordinator-ha/internal/awsapi"
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

	cw, err := cloudWatch(ctx, cfg)
	if err != nil {
		log.Error("cannot build the CloudWatch client", "err", err)
		os.Exit(1)
	}
	a, err := agent.New(cfg, agent.Deps{CloudWatch: cw, Logger: log})
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

// cloudWatch builds the client once: the SDK's default chain (instance profile on EC2),
// with the region from IMDS when the environment does not name one.
func cloudWatch(ctx context.Context, cfg agent.Config) (awsapi.CloudWatchAPI, error) {
	if cfg.Publish == agent.PublishStdout {
		return agent.NewStdoutCloudWatch(os.Stdout), nil
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	awsCfg, err := config.LoadDefaultConfig(lctx)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		out, err := imds.New(imds.Options{Endpoint: cfg.IMDSEndpoint}).GetRegion(lctx, &imds.GetRegionInput{})
		if err != nil {
			return nil, fmt.Errorf("no AWS region set and IMDS did not tell it: %w", err)
		}
		awsCfg.Region = out.Region
	}
	return cloudwatch.NewFromConfig(awsCfg), nil
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

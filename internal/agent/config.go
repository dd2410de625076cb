package agent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/probe"

	"github.com/prestoha/coordinator-ha/internal/verdict"
)

// Environment variables that give the flags their defaults (the systemd unit reads them
// from /etc/coordinator-agent.env). A flag on the command line wins.
const (
	EnvCluster         = "AGENT_CLUSTER"
	EnvENIID           = "AGENT_ENI_ID"
	EnvENIIP           = "AGENT_ENI_IP"
	EnvProbeURL        = "AGENT_PROBE_URL"
	EnvProbeInterval   = "AGENT_PROBE_INTERVAL"
	EnvProbeTimeout    = "AGENT_PROBE_TIMEOUT"
	EnvPublishInterval = "AGENT_PUBLISH_INTERVAL"
	EnvStandbyPublish  = "AGENT_STANDBY_PUBLISH_INTERVAL"
	EnvRoleInterval    = "AGENT_ROLE_INTERVAL"
	EnvShutdownTimeout = "AGENT_SHUTDOWN_TIMEOUT"
	EnvMaxBuffered     = "AGENT_MAX_BUFFERED"
	EnvCAFile          = "AGENT_CA_FILE"
	EnvPinSHA256       = "AGENT_PIN_SHA256"
	EnvServerName      = "AGENT_SERVER_NAME"
	EnvPublish         = "AGENT_PUBLISH"
	EnvIMDSEndpoint    = "AGENT_IMDS_ENDPOINT"
	EnvLogLevel        = "AGENT_LOG_LEVEL"
	EnvDoorbell        = "AGENT_DOORBELL_FUNCTION"
)

// Defaults.
const (
	DefaultProbeURL        = "http://127.0.0.1:8080/v1/info"
	DefaultProbeInterval   = 5 * time.Second
	DefaultProbeTimeout    = 2 * time.Second
	DefaultPublishInterval = 5 * time.Second                // the active's, while every sample is healthy and unchanged
	DefaultStandbyPublish  = verdict.DefaultPublishInterval // a standby's (10 s)
	MaxPublishInterval     = verdict.DefaultPublishInterval // the health check allows for no longer (verdict.Params.PublishInterval)
	DefaultRoleInterval    = 30 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
	DefaultMaxBuffered     = 4096
	MaxDatumsPerCall       = 1000 // PutMetricData limit
)

// Publish modes.
const (
	PublishCloudWatch = "cloudwatch"
	PublishStdout     = "stdout"
)

// Config is the agent's whole configuration, parsed once at start.
type Config struct {
	Cluster         string        // cluster name (metric dimension)
	ENIID           string        // the coordinator ENI; holding it makes this host the active
	ENIIP           string        // the ENI's private IP, probed by standbys as witnesses
	ProbeURL        string        // the self probe, on loopback
	ProbeInterval   time.Duration // time between probes
	ProbeTimeout    time.Duration // per-request timeout of each probe
	PublishInterval time.Duration // on the active: longest a healthy, unchanged sample waits to be sent (others go at once)
	StandbyPublish  time.Duration // the same on a standby
	RoleInterval    time.Duration // time between IMDS role checks
	ShutdownTimeout time.Duration // deadline of the final flush on SIGTERM
	MaxBuffered     int           // samples kept while CloudWatch is unreachable (oldest dropped)
	CAFile          string        // PEM CA bundle for HTTPS probes
	Pins            []string      // SPKI SHA-256 pins for HTTPS probes
	ServerName      string        // TLS server name for HTTPS probes
	Publish         string        // cloudwatch or stdout
	IMDSEndpoint    string        // override of the IMDS endpoint (tests, drills)
	LogLevel        string        // debug, info, warn, error
	Doorbell        string        // the health check function (name or ARN) to invoke when the active fails; "" rings nothing
	ShowVersion     bool          // -version: print and exit
}

// TLS returns the probe TLS options of the configuration.
func (c Config) TLS() probe.TLSOptions {
	return probe.TLSOptions{CAFile: c.CAFile, Pins: c.Pins, ServerName: c.ServerName}
}

// WitnessURL is the self-probe URL with the host replaced by the ENI IP (same scheme,
// port and path): the active coordinator as clients and workers reach it.
func (c Config) WitnessURL() (string, error) {
	u, err := url.Parse(c.ProbeURL)
	if err != nil {
		return "", fmt.Errorf("parsing probe URL: %w", err)
	}
	host := c.ENIIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	u.Host = host
	return u.String(), nil
}

// ParseFlags parses args (without the program name) with defaults from getenv, then
// validates. Usage goes to out. A -version request skips validation.
func ParseFlags(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var c Config
	var perr []error
	envDur := func(key string, def time.Duration) time.Duration {
		v := getenv(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			perr = append(perr, fmt.Errorf("%s=%q: not a duration (e.g. 5s): %w", key, v, err))
			return def
		}
		return d
	}
	envStr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	envInt := func(key string, def int) int {
		v := getenv(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			perr = append(perr, fmt.Errorf("%s=%q: not an integer", key, v))
			return def
		}
		return n
	}
	fs := flag.NewFlagSet("coordinator-agent", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Cluster, "cluster", envStr(EnvCluster, ""), "cluster name, 1-40 letters, digits, '-' or '_' (env "+EnvCluster+")")
	fs.StringVar(&c.ENIID, "eni-id", envStr(EnvENIID, ""), "coordinator ENI id, eni-... (env "+EnvENIID+")")
	fs.StringVar(&c.ENIIP, "eni-ip", envStr(EnvENIIP, ""), "coordinator ENI private IP, probed by standbys (env "+EnvENIIP+")")
	fs.StringVar(&c.ProbeURL, "probe-url", envStr(EnvProbeURL, DefaultProbeURL), "self probe URL, must be loopback (env "+EnvProbeURL+")")
	fs.DurationVar(&c.ProbeInterval, "probe-interval", envDur(EnvProbeInterval, DefaultProbeInterval), "time between probes (env "+EnvProbeInterval+")")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", envDur(EnvProbeTimeout, DefaultProbeTimeout), "timeout of one probe (env "+EnvProbeTimeout+")")
	fs.DurationVar(&c.PublishInterval, "publish-interval", envDur(EnvPublishInterval, DefaultPublishInterval), "on the active, longest a healthy, unchanged sample is held before it is sent, at least the probe interval; a sample that is not healthy, or differs from the one before, is sent at once (env "+EnvPublishInterval+")")
	fs.DurationVar(&c.StandbyPublish, "standby-publish-interval", envDur(EnvStandbyPublish, DefaultStandbyPublish), "the same on a standby (env "+EnvStandbyPublish+")")
	fs.DurationVar(&c.RoleInterval, "role-interval", envDur(EnvRoleInterval, DefaultRoleInterval), "time between IMDS checks of who holds the ENI (env "+EnvRoleInterval+")")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDur(EnvShutdownTimeout, DefaultShutdownTimeout), "deadline of the final flush on SIGTERM (env "+EnvShutdownTimeout+")")
	fs.IntVar(&c.MaxBuffered, "max-buffered", envInt(EnvMaxBuffered, DefaultMaxBuffered), "samples kept while CloudWatch is unreachable; oldest dropped beyond (env "+EnvMaxBuffered+")")
	fs.StringVar(&c.CAFile, "ca-file", envStr(EnvCAFile, ""), "PEM CA bundle for an HTTPS probe URL (env "+EnvCAFile+")")
	pins := fs.String("pin-sha256", envStr(EnvPinSHA256, ""), "comma-separated hex SHA-256 of the server certificate's SubjectPublicKeyInfo; replaces host-name verification (env "+EnvPinSHA256+")")
	fs.StringVar(&c.ServerName, "server-name", envStr(EnvServerName, ""), "TLS server name to send and verify instead of the URL host (env "+EnvServerName+")")
	fs.StringVar(&c.Publish, "publish", envStr(EnvPublish, PublishCloudWatch), "where samples go: cloudwatch or stdout (JSON lines, a dry run) (env "+EnvPublish+")")
	fs.StringVar(&c.IMDSEndpoint, "imds-endpoint", envStr(EnvIMDSEndpoint, ""), "instance metadata endpoint override (env "+EnvIMDSEndpoint+")")
	fs.StringVar(&c.LogLevel, "log-level", envStr(EnvLogLevel, "info"), "debug, info, warn or error (env "+EnvLogLevel+")")
	fs.StringVar(&c.Doorbell, "doorbell-function", envStr(EnvDoorbell, ""), "health check Lambda function (name or ARN) to invoke at once when the active coordinator fails; empty: none (env "+EnvDoorbell+")")
	fs.BoolVar(&c.ShowVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		perr = append(perr, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	for _, p := range strings.Split(*pins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.Pins = append(c.Pins, p)
		}
	}
	if c.ShowVersion {
		return c, nil
	}
	if len(perr) > 0 {
		return c, errors.Join(perr...)
	}
	return c, c.Validate()
}

// Validate checks the configuration and reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if !events.ValidCluster(c.Cluster) {
		bad("-cluster %q: use 1 to 40 letters, digits, '-' or '_'", c.Cluster)
	}
	if !events.ValidENIID(c.ENIID) {
		bad("-eni-id %q: not an ENI id (eni- and 8 to 17 hex digits)", c.ENIID)
	}
	if ip, err := netip.ParseAddr(c.ENIIP); err != nil || ip.Zone() != "" {
		bad("-eni-ip %q: not an IP address", c.ENIIP)
	} else if ip.IsLoopback() || ip.IsUnspecified() {
		bad("-eni-ip %s: must be the ENI's private IP, not loopback or unspecified", c.ENIIP)
	}
	if u, err := url.Parse(c.ProbeURL); err != nil {
		bad("-probe-url %q: %v", c.ProbeURL, err)
	} else {
		if u.Scheme != "http" && u.Scheme != "https" {
			bad("-probe-url %q: scheme must be http or https", c.ProbeURL)
		}
		if !isLoopback(u.Hostname()) {
			bad("-probe-url %q: host must be loopback (127.0.0.0/8, ::1 or localhost)", c.ProbeURL)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("-probe-url %q: no user info, query or fragment", c.ProbeURL)
		}
		if u.Scheme == "http" && (c.CAFile != "" || len(c.Pins) > 0 || c.ServerName != "") {
			bad("-ca-file, -pin-sha256 and -server-name need an https -probe-url")
		}
	}
	if c.ProbeTimeout <= 0 {
		bad("-probe-timeout %s: must be positive", c.ProbeTimeout)
	}
	if c.ProbeInterval <= c.ProbeTimeout {
		bad("-probe-interval %s must be longer than -probe-timeout %s", c.ProbeInterval, c.ProbeTimeout)
	}
	for _, p := range []struct {
		flag string
		d    time.Duration
	}{{"-publish-interval", c.PublishInterval}, {"-standby-publish-interval", c.StandbyPublish}} {
		if p.d < c.ProbeInterval {
			bad("%s %s must be at least -probe-interval %s", p.flag, p.d, c.ProbeInterval)
		}
		if p.d > MaxPublishInterval {
			bad("%s %s: at most %s, or the health check reads a live agent as silent", p.flag, p.d, MaxPublishInterval)
		}
	}
	if c.RoleInterval < c.ProbeInterval {
		bad("-role-interval %s must be at least -probe-interval %s", c.RoleInterval, c.ProbeInterval)
	}
	if c.ShutdownTimeout <= 0 {
		bad("-shutdown-timeout %s: must be positive", c.ShutdownTimeout)
	}
	if c.MaxBuffered < MaxDatumsPerCall || c.MaxBuffered > 100000 {
		bad("-max-buffered %d: between %d and 100000", c.MaxBuffered, MaxDatumsPerCall)
	}
	if c.CAFile != "" {
		if _, err := probe.LoadCAFile(c.CAFile); err != nil {
			bad("-ca-file: %v", err)
		}
	}
	for _, p := range c.Pins {
		if _, err := probe.ParsePin(p); err != nil {
			bad("-pin-sha256: %v", err)
		}
	}
	if c.Publish != PublishCloudWatch && c.Publish != PublishStdout {
		bad("-publish %q: cloudwatch or stdout", c.Publish)
	}
	if c.IMDSEndpoint != "" {
		if u, err := url.Parse(c.IMDSEndpoint); err != nil || u.Scheme != "http" || u.Host == "" {
			bad("-imds-endpoint %q: want http://host[:port]", c.IMDSEndpoint)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("-log-level %q: debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

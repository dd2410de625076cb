//go:build contract

package contract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Fake credentials for moto. AKIAIOSFODNN7EXAMPLE is the example key of the AWS
// documentation; the repository's secrets scan allow-lists exactly this value.
const (
	fakeAccessKey = "AKIAIOSFODNN7EXAMPLE"
	fakeSecretKey = "moto-fake-secret-not-a-real-key"
	region        = "us-east-1"
)

// moto is one running moto_server.
type moto struct {
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

var server *moto

func TestMain(m *testing.M) {
	var err error
	server, err = startMoto()
	if err != nil {
		// Reported by every test through requireMoto, so `go test` fails loudly with the
		// reason instead of passing an empty suite.
		fmt.Fprintf(os.Stderr, "\n!!! CONTRACT SUITE CANNOT RUN: %v\n!!! run `make venv` (installs moto[server] from requirements-dev.txt into .venv)\n\n", err)
	}
	code := m.Run()
	if server != nil {
		server.stop()
	}
	os.Exit(code)
}

// requireMoto fails the test when moto is not running; never a silent skip.
func requireMoto(t *testing.T) *moto {
	t.Helper()
	if server == nil {
		where := "locally"
		if os.Getenv("CI") == "true" {
			where = "in CI"
		}
		t.Fatalf("moto_server could not be started %s, so the AWS contract checks did not run: this is a failure, not a skip (run `make venv`; see the log above)", where)
	}
	return server
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMoto() (*moto, error) {
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		root, err := repoRoot()
		if err != nil {
			return nil, fmt.Errorf("finding the repository root: %w", err)
		}
		bin = filepath.Join(root, ".venv", "bin", "moto_server")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("moto_server not found at %s: %w", bin, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		m := &moto{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &lockedBuffer{}}
		m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		m.cmd.Stdout = m.logs
		m.cmd.Stderr = m.logs
		if err := m.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- m.cmd.Wait() }()
		if err := m.waitReady(exited, 60*time.Second); err != nil {
			lastErr = fmt.Errorf("moto_server on port %d: %w; its output:\n%s", port, err, m.logs.String())
			m.stop()
			continue
		}
		return m, nil
	}
	return nil, lastErr
}

func (m *moto) waitReady(exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before it was ready: %v", err)
		default:
		}
		resp, err := client.Get(m.url + "/moto-api/data.json")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

func (m *moto) stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
	}
}

// reset clears every resource moto holds, so each test starts from an empty account.
func (m *moto) reset(t *testing.T) {
	t.Helper()
	resp, err := http.Post(m.url+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("resetting moto: %v", err)
	}
	resp.Body.Close()
}

// dumpLogs prints moto's recent output when a test failed, to explain a rejected request.
func (m *moto) dumpLogs(t *testing.T) {
	t.Helper()
	if t.Failed() {
		lines := strings.Split(m.logs.String(), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("moto_server output (last lines):\n%s", strings.Join(lines, "\n"))
	}
}

// clients are the real SDK clients pointed at moto, exactly as the Lambdas build them
// except for the endpoint and the credentials.
type clients struct {
	EC2         *ec2.Client
	AutoScaling *autoscaling.Client
	CloudWatch  *cloudwatch.Client
	SFN         *sfn.Client
	SNS         *sns.Client
	STS         *sts.Client
	// CloudFormation is the operator command's (DescribeStacks).
	CloudFormation *cloudformation.Client
}

func (m *moto) clients() clients {
	cfg := aws.Config{
		Region:           region,
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(fakeAccessKey, fakeSecretKey, "")),
		RetryMaxAttempts: 2,
	}
	ep := aws.String(m.url)
	return clients{
		EC2:         ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = ep }),
		AutoScaling: autoscaling.NewFromConfig(cfg, func(o *autoscaling.Options) { o.BaseEndpoint = ep }),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			o.BaseEndpoint = ep
			// ONLY in this suite: service/cloudwatch speaks Smithy RPC v2 CBOR by default
			// (v1.53.0 and later), which moto does not understand. AWS itself speaks both,
			// and the request and response shapes are the same; only the encoding differs.
			o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
		}),
		SFN:            sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = ep }),
		SNS:            sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = ep }),
		STS:            sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep }),
		CloudFormation: cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.BaseEndpoint = ep }),
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

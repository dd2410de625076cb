package coldstart

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// The test binary doubles as a Lambda function: started with the helper's function
// name it runs the real aws-lambda-go runtime client against the stand-in API.
const helperName = "coldstart-test-helper"
const failingName = "coldstart-test-failing"

func TestMain(m *testing.M) {
	switch os.Getenv("AWS_LAMBDA_FUNCTION_NAME") {
	case helperName:
		lambda.Start(func(_ context.Context, in map[string]string) (map[string]string, error) {
			return map[string]string{"echo": in["say"]}, nil
		})
		return
	case failingName:
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestInitTime(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	d, err := InitTime(context.Background(), self, helperName, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d > 20*time.Second {
		t.Fatalf("init time %v out of range", d)
	}
	if _, err := InitTime(context.Background(), self, failingName, 20*time.Second); err == nil || !strings.Contains(err.Error(), "exited during init") {
		t.Fatalf("failing function: err = %v, want an early-exit error", err)
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	api, err := StartRuntimeAPI()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	endpoint, err := ClosedPort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := execHelper(ctx, self, api.Addr(), endpoint)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	id := api.Invoke([]byte(`{"say":"hello"}`))
	for ctx.Err() == nil {
		if b, ok := api.Response(id); ok {
			if string(b) != `{"echo":"hello"}` {
				t.Fatalf("response %s", b)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no response")
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.Runs != 100 || s.P50 != 50 || s.P99 != 99 || s.Min != 1 || s.Max != 100 {
		t.Fatalf("Summarize = %+v", s)
	}
	if Summarize(nil).Runs != 0 {
		t.Fatal("empty summary")
	}
}

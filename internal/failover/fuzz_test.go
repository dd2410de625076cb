package failover

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prestoha/coordinator-ha/events"
	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// mutating are the calls that change the account; a refused input must make none.
var mutating = map[string]bool{
	"AttachNetworkInterface": true, "DetachNetworkInterface": true, "TerminateInstances": true, "CreateTags": true,
	"TerminateInstanceInAutoScalingGroup": true, "SetInstanceProtection": true, "SetDesiredCapacity": true,
	"PutMetricData": true, "StartExecution": true, "Publish": true,
}

// FuzzStepInput feeds every step whatever JSON the Lambda runtime could hand it (it
// decodes leniently with encoding/json, as aws-lambda-go does). A document that does not
// validate for this cluster must be refused with an InvalidInputError that says why, and
// with no AWS call that changes anything.
func FuzzStepInput(f *testing.F) {
	for _, p := range []string{"failover-input.json", "unattached-input.json", "manual-failover-input.json", "terminate-output.json", "attacheni-output.json", "failover-caught-error.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "events", p))
		if err != nil {
			f.Fatal(err)
		}
		for step := range uint8(4) {
			f.Add(step, data)
		}
	}
	f.Add(uint8(0), []byte(`{"cluster":"other","eniId":"eni-0a1b2c3d4e5f60718","failedInstanceId":"i-0123456789abcdef0","verdict":"FAILED","detectedAt":"2026-11-24T10:00:40Z"}`))
	f.Add(uint8(1), []byte(`{"cluster":"prod","eniId":"eni-0a1b2c3d4e5f60718","verdict":"HEALTHY","detectedAt":"2026-11-24T10:00:40Z"}`))
	f.Add(uint8(2), []byte(`{}`))
	steps := []string{events.StepTerminate, events.StepAttachENI, events.StepLaunch, events.StepNotify}
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, step uint8, data []byte) {
		var st events.FailoverState
		if json.Unmarshal(data, &st) != nil {
			return // the Lambda runtime refuses it before the handler runs
		}
		clk := clock.NewVirtual(t0)
		acct := sim.New(sim.Options{Clock: clk, Seed: 1})
		pool, err := sim.NewPool(acct, sim.PoolSpec{Cluster: "prod", Max: 5, Topic: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		eni := pool.ENIID
		name := steps[int(step)%len(steps)]
		c := acct.Clients(name)
		s, err := New(Config{Cluster: "prod", ENIID: eni, ASGName: pool.ASGName, HACount: 2, TopicARN: pool.TopicARN},
			Deps{EC2: c.EC2, AutoScaling: c.AutoScaling, CloudWatch: c.CloudWatch, SNS: c.SNS, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		// The document is valid only for this cluster's ENI; anything else must be refused.
		valid := st.Validate() == nil && st.Cluster == "prod" && st.ENIID == eni
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, herr := s.Handlers()[name](ctx, st)
		if valid {
			return // a valid document may act; the steps' own tests cover what it does
		}
		var inv *InvalidInputError
		if !errors.As(herr, &inv) {
			t.Fatalf("%s accepted an invalid document (err %v): %s", name, herr, data)
		}
		if ErrorType(herr) != "InvalidInputError" || inv.Error() == "" {
			t.Fatalf("%s: error type %q message %q", name, ErrorType(herr), herr)
		}
		for _, call := range acct.Calls() {
			if call.Caller == name && mutating[call.Operation] {
				t.Fatalf("%s refused the document but called %s first", name, call.Action())
			}
		}
	})
}

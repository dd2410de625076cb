package sim

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

func TestIDsHaveAWSShapesAndAreDeterministic(t *testing.T) {
	ids := func() []string {
		f := newFixture(t)
		inst := f.launchRunning(t, "subnet-a")
		e := f.newENI(t, "subnet-a")
		out, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{
			NetworkInterfaceId: &e, InstanceId: &inst, DeviceIndex: aws.Int32(1)})
		must(t, err)
		return []string{inst, e, *out.AttachmentId}
	}
	a, b := ids(), ids()
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave %v then %v", a, b)
	}
	for i, re := range []string{`^i-0[0-9a-f]{16}$`, `^eni-0[0-9a-f]{16}$`, `^eni-attach-0[0-9a-f]{16}$`} {
		if !regexp.MustCompile(re).MatchString(a[i]) {
			t.Errorf("%s does not match %s", a[i], re)
		}
	}
}

// AWS: an instance is pending, then running; TerminateInstances moves it to
// shutting-down then terminated; terminated instances stay visible for about an hour.
func TestInstanceLifecycle(t *testing.T) {
	f := newFixture(t)
	id, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: "subnet-a", Tags: map[string]string{"Name": "x"}})
	must(t, err)
	state := func() string {
		out, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Reservations[0].Instances[0].State.Name)
	}
	steps := []struct {
		advance time.Duration
		want    string
	}{{0, "pending"}, {29 * time.Second, "pending"}, {time.Second, "running"}}
	for _, s := range steps {
		f.clk.Advance(s.advance)
		if got := state(); got != s.want {
			t.Fatalf("after +%v: %s, want %s", s.advance, got, s.want)
		}
	}
	out, err := f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	must(t, err)
	if ch := out.TerminatingInstances[0]; ch.PreviousState.Name != "running" || ch.CurrentState.Name != "shutting-down" {
		t.Fatalf("terminate reported %s -> %s", ch.PreviousState.Name, ch.CurrentState.Name)
	}
	// Idempotent: terminating again is fine and reports the current state.
	out, err = f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	must(t, err)
	if ch := out.TerminatingInstances[0]; ch.PreviousState.Name != "shutting-down" || ch.CurrentState.Name != "shutting-down" {
		t.Fatalf("second terminate reported %s -> %s", ch.PreviousState.Name, ch.CurrentState.Name)
	}
	f.clk.Advance(30 * time.Second)
	if got := state(); got != "terminated" {
		t.Fatalf("got %s, want terminated", got)
	}
	_, err = f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	must(t, err) // terminating a terminated instance is fine
	f.clk.Advance(time.Hour)
	_, err = f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	wantCode(t, err, awserr.CodeInvalidInstanceIDNotFound)
}

func TestStopInstance(t *testing.T) {
	f := newFixture(t)
	id := f.launchRunning(t, "subnet-a")
	must(t, f.acct.StopInstance(id))
	if i, _ := f.acct.Instance(id); i.State != "stopping" {
		t.Fatalf("got %s", i.State)
	}
	f.clk.Advance(30 * time.Second)
	if i, _ := f.acct.Instance(id); i.State != "stopped" {
		t.Fatalf("got %s", i.State)
	}
}

// AWS: unknown ids give *.NotFound, ids of the wrong shape *.Malformed.
func TestUnknownAndMalformedIDs(t *testing.T) {
	f := newFixture(t)
	inst := f.launchRunning(t, "subnet-a")
	e := f.newENI(t, "subnet-a")
	ghostI, ghostE := "i-0123456789abcdef0", "eni-0123456789abcdef0"
	cases := []struct {
		name string
		call func() error
		code string
	}{
		{"DescribeInstances unknown id", func() error {
			_, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst, ghostI}})
			return err
		}, awserr.CodeInvalidInstanceIDNotFound},
		{"DescribeInstances malformed id", func() error {
			_, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-xyz"}})
			return err
		}, "InvalidInstanceID.Malformed"},
		{"TerminateInstances unknown id", func() error {
			_, err := f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{ghostI}})
			return err
		}, awserr.CodeInvalidInstanceIDNotFound},
		{"TerminateInstances malformed id", func() error {
			_, err := f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"bogus"}})
			return err
		}, "InvalidInstanceID.Malformed"},
		{"DescribeNetworkInterfaces unknown id", func() error {
			_, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{ghostE}})
			return err
		}, awserr.CodeInvalidNetworkInterfaceIDNotFound},
		{"Attach unknown ENI", func() error {
			_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &ghostE, InstanceId: &inst, DeviceIndex: aws.Int32(1)})
			return err
		}, awserr.CodeInvalidNetworkInterfaceIDNotFound},
		{"Attach unknown instance", func() error {
			_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &ghostI, DeviceIndex: aws.Int32(1)})
			return err
		}, awserr.CodeInvalidInstanceIDNotFound},
		{"Detach unknown attachment", func() error {
			_, err := f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: aws.String("eni-attach-0123456789abcdef0")})
			return err
		}, awserr.CodeInvalidAttachmentIDNotFound},
		{"Detach malformed attachment (an ENI id)", func() error {
			_, err := f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &e})
			return err
		}, "InvalidNetworkInterfaceAttachmentId.Malformed"},
		{"CreateTags unknown instance", func() error {
			_, err := f.c.EC2.CreateTags(f.ctx, &ec2.CreateTagsInput{Resources: []string{ghostI}, Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}, awserr.CodeInvalidInstanceIDNotFound},
		{"CreateTags reserved aws: prefix", func() error {
			_, err := f.c.EC2.CreateTags(f.ctx, &ec2.CreateTagsInput{Resources: []string{inst}, Tags: []ec2types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
			return err
		}, awserr.CodeInvalidParameterValue},
		{"DescribeInstances unknown filter", func() error {
			_, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("colour"), Values: []string{"x"}}}})
			return err
		}, awserr.CodeInvalidParameterValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}
}

// Every illegal ENI move is rejected with AWS's error code.
func TestAttachRules(t *testing.T) {
	type setup struct {
		f        *fixture
		eni, ins string
		index    int32
	}
	attach := func(s setup) error {
		_, err := s.f.c.EC2.AttachNetworkInterface(s.f.ctx, &ec2.AttachNetworkInterfaceInput{
			NetworkInterfaceId: &s.eni, InstanceId: &s.ins, DeviceIndex: aws.Int32(s.index)})
		return err
	}
	attachOK := func(t *testing.T, f *fixture, e, i string, idx int32) string {
		out, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{
			NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(idx)})
		must(t, err)
		return *out.AttachmentId
	}
	cases := []struct {
		name    string
		prepare func(t *testing.T, f *fixture) setup
		code    string // "" = success
	}{
		{"running instance, same AZ, free index: hot attach succeeds", func(t *testing.T, f *fixture) setup {
			return setup{f, f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a"), 1}
		}, ""},
		{"stopped instance: warm attach is legal in AWS", func(t *testing.T, f *fixture) setup {
			i := f.launchRunning(t, "subnet-a")
			must(t, f.acct.StopInstance(i))
			f.clk.Advance(time.Minute)
			return setup{f, f.newENI(t, "subnet-a"), i, 1}
		}, ""},
		{"pending instance: IncorrectInstanceState", func(t *testing.T, f *fixture) setup {
			i, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: "subnet-a"})
			must(t, err)
			return setup{f, f.newENI(t, "subnet-a"), i, 1}
		}, awserr.CodeIncorrectInstanceState},
		{"stopping instance: IncorrectInstanceState", func(t *testing.T, f *fixture) setup {
			i := f.launchRunning(t, "subnet-a")
			must(t, f.acct.StopInstance(i))
			return setup{f, f.newENI(t, "subnet-a"), i, 1}
		}, awserr.CodeIncorrectInstanceState},
		{"shutting-down instance: IncorrectInstanceState", func(t *testing.T, f *fixture) setup {
			i := f.launchRunning(t, "subnet-a")
			must(t, f.acct.TerminateFromOutside(i))
			return setup{f, f.newENI(t, "subnet-a"), i, 1}
		}, awserr.CodeIncorrectInstanceState},
		{"terminated instance: IncorrectInstanceState", func(t *testing.T, f *fixture) setup {
			i := f.launchRunning(t, "subnet-a")
			must(t, f.acct.TerminateFromOutside(i))
			f.clk.Advance(time.Minute)
			return setup{f, f.newENI(t, "subnet-a"), i, 1}
		}, awserr.CodeIncorrectInstanceState},
		{"ENI and instance in different AZs: InvalidParameterCombination", func(t *testing.T, f *fixture) setup {
			return setup{f, f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-b"), 1}
		}, awserr.CodeInvalidParameterCombination},
		{"ENI attached elsewhere: InvalidNetworkInterface.InUse", func(t *testing.T, f *fixture) setup {
			e, other := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
			attachOK(t, f, e, other, 1)
			f.clk.Advance(time.Minute)
			return setup{f, e, f.launchRunning(t, "subnet-a"), 1}
		}, "InvalidNetworkInterface.InUse"},
		{"ENI still attaching elsewhere: InvalidNetworkInterface.InUse", func(t *testing.T, f *fixture) setup {
			e, other, target := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a"), f.launchRunning(t, "subnet-a")
			attachOK(t, f, e, other, 1)
			return setup{f, e, target, 1}
		}, "InvalidNetworkInterface.InUse"},
		{"ENI already attached to the same instance: InvalidNetworkInterface.InUse", func(t *testing.T, f *fixture) setup {
			e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
			attachOK(t, f, e, i, 1)
			return setup{f, e, i, 2}
		}, "InvalidNetworkInterface.InUse"},
		{"ENI still detaching: InvalidNetworkInterface.InUse", func(t *testing.T, f *fixture) setup {
			e, other, target := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a"), f.launchRunning(t, "subnet-a")
			att := attachOK(t, f, e, other, 1)
			f.clk.Advance(time.Minute)
			_, err := f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &att})
			must(t, err)
			return setup{f, e, target, 1}
		}, "InvalidNetworkInterface.InUse"},
		{"device index already used: InvalidParameterValue", func(t *testing.T, f *fixture) setup {
			e1, e2, i := f.newENI(t, "subnet-a"), f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
			attachOK(t, f, e1, i, 1)
			return setup{f, e2, i, 1}
		}, awserr.CodeInvalidParameterValue},
		{"device index 0 is the primary ENI's: InvalidParameterValue", func(t *testing.T, f *fixture) setup {
			return setup{f, f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a"), 0}
		}, awserr.CodeInvalidParameterValue},
		{"primary ENI of another instance: InvalidNetworkInterface.InUse", func(t *testing.T, f *fixture) setup {
			other := f.launchRunning(t, "subnet-a")
			i, _ := f.acct.Instance(other)
			return setup{f, i.Attachments[0].ENIID, f.launchRunning(t, "subnet-a"), 1}
		}, "InvalidNetworkInterface.InUse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := tc.prepare(t, f)
			err := attach(s)
			if tc.code == "" {
				must(t, err)
				return
			}
			wantCode(t, err, tc.code)
		})
	}
}

// AWS: attaching -> attached; the ENI is in-use from the attach call; DescribeInstances
// shows the attachment on the instance with its device index, status and time.
func TestAttachThenDetach(t *testing.T) {
	f := newFixture(t)
	e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
	out, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(1)})
	must(t, err)
	att := *out.AttachmentId
	check := func(wantStatus, wantAtt string) {
		t.Helper()
		d, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{e}})
		must(t, err)
		n := d.NetworkInterfaces[0]
		got := ""
		if n.Attachment != nil {
			got = string(n.Attachment.Status)
		}
		if string(n.Status) != wantStatus || got != wantAtt {
			t.Fatalf("ENI %s/%s, want %s/%s", n.Status, got, wantStatus, wantAtt)
		}
	}
	check("in-use", "attaching")
	f.clk.Advance(2 * time.Second)
	check("in-use", "attached")
	di, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{i}})
	must(t, err)
	nis := di.Reservations[0].Instances[0].NetworkInterfaces
	if len(nis) != 2 || *nis[1].NetworkInterfaceId != e || *nis[1].Attachment.DeviceIndex != 1 ||
		*nis[1].Attachment.AttachmentId != att || nis[1].Attachment.AttachTime == nil || *nis[0].Attachment.DeviceIndex != 0 {
		t.Fatalf("unexpected instance interfaces: %+v", nis)
	}
	_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &att})
	must(t, err)
	check("in-use", "detaching")
	_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &att})
	must(t, err) // repeated detach while detaching is accepted
	f.clk.Advance(3 * time.Second)
	check("available", "")
	// The attachment is gone: detaching it again is InvalidAttachmentID.NotFound.
	_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &att})
	wantCode(t, err, awserr.CodeInvalidAttachmentIDNotFound)
}

// AWS: the primary network interface (device index 0) cannot be detached.
func TestDetachPrimaryENIIsNotPermitted(t *testing.T) {
	f := newFixture(t)
	i, _ := f.acct.Instance(f.launchRunning(t, "subnet-a"))
	_, err := f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: &i.Attachments[0].ID, Force: aws.Bool(true)})
	wantCode(t, err, awserr.CodeOperationNotPermitted)
}

// AWS: Force detach is the last resort for an instance that does not release the
// device; it completes even when a normal detach hangs.
func TestStuckDetachAndForce(t *testing.T) {
	for _, force := range []bool{false, true} {
		f := newFixture(t)
		e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
		out, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(1)})
		must(t, err)
		f.clk.Advance(5 * time.Second)
		must(t, f.acct.StickENIDetach(e, 10*time.Minute))
		_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: out.AttachmentId, Force: aws.Bool(force)})
		must(t, err)
		f.clk.Advance(time.Minute)
		n, _ := f.acct.ENI(e)
		if want := map[bool]string{false: "in-use", true: "available"}[force]; n.Status != want {
			t.Fatalf("force=%v: ENI %s after a minute, want %s", force, n.Status, want)
		}
		if !force {
			// A forced detach on top of the stuck one completes it.
			_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: out.AttachmentId, Force: aws.Bool(true)})
			must(t, err)
			f.clk.Advance(time.Second)
			if n, _ := f.acct.ENI(e); n.Status != "available" {
				t.Fatalf("force on a stuck detach: ENI %s", n.Status)
			}
		}
	}
}

// AWS: terminating an instance detaches a secondary ENI with DeleteOnTermination=false,
// which becomes available; the primary ENI is deleted with the instance.
func TestTerminationReleasesSecondaryENI(t *testing.T) {
	f := newFixture(t)
	e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
	_, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(1)})
	must(t, err)
	f.clk.Advance(5 * time.Second)
	inst, _ := f.acct.Instance(i)
	primary := inst.Attachments[0].ENIID
	_, err = f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{i}})
	must(t, err)
	if n, _ := f.acct.ENI(e); n.Status != "in-use" || n.Attachment.Status != "detaching" {
		t.Fatalf("during shutting-down: %+v", n)
	}
	f.clk.Advance(30 * time.Second)
	if n, _ := f.acct.ENI(e); n.Status != "available" {
		t.Fatalf("after termination: %s", n.Status)
	}
	if _, ok := f.acct.ENI(primary); ok {
		t.Fatal("primary ENI survived termination")
	}
	// The freed ENI can move to another running instance in its AZ.
	other := f.launchRunning(t, "subnet-a")
	_, err = f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &other, DeviceIndex: aws.Int32(1)})
	must(t, err)
}

func TestDescribeFiltersAndTags(t *testing.T) {
	f := newFixture(t)
	a, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: "subnet-a", Tags: map[string]string{"Cluster": "c1", "Role": "coordinator"}})
	must(t, err)
	b, err := f.acct.LaunchInstance(InstanceSpec{SubnetID: "subnet-b", Tags: map[string]string{"Cluster": "c2"}})
	must(t, err)
	f.clk.Advance(time.Minute)
	e := f.newENI(t, "subnet-a")
	_, err = f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &a, DeviceIndex: aws.Int32(1)})
	must(t, err)
	_, err = f.c.EC2.CreateTags(f.ctx, &ec2.CreateTagsInput{Resources: []string{b, e}, Tags: []ec2types.Tag{{Key: aws.String("Stamp"), Value: aws.String("yes")}}})
	must(t, err)
	eniInfo, _ := f.acct.ENI(e)
	filt := func(name string, values ...string) []ec2types.Filter {
		return []ec2types.Filter{{Name: aws.String(name), Values: values}}
	}
	instCases := []struct {
		filters []ec2types.Filter
		want    []string
	}{
		{filt("tag:Cluster", "c1"), []string{a}},
		{filt("tag:Cluster", "c*"), []string{a, b}},
		{filt("tag-key", "Role"), []string{a}},
		{filt("tag:Stamp", "yes"), []string{b}},
		{filt("instance-state-name", "running"), []string{a, b}},
		{filt("instance-state-name", "pending", "stopped"), nil},
		{filt("subnet-id", "subnet-b"), []string{b}},
		{filt("availability-zone", "us-east-1a"), []string{a}},
		{filt("network-interface.network-interface-id", e), []string{a}},
		{append(filt("tag:Cluster", "c1", "c2"), filt("availability-zone", "us-east-1b")...), []string{b}},
	}
	for _, tc := range instCases {
		out, err := f.c.EC2.DescribeInstances(f.ctx, &ec2.DescribeInstancesInput{Filters: tc.filters, MaxResults: aws.Int32(5)})
		must(t, err)
		var got []string
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				got = append(got, *i.InstanceId)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("DescribeInstances %s=%v: got %v, want %v", *tc.filters[0].Name, tc.filters[0].Values, got, tc.want)
		}
	}
	eniCases := []struct {
		filters []ec2types.Filter
		want    []string
	}{
		{filt("attachment.instance-id", a), nil}, // filled below: primary + e
		{filt("tag:Role", "coordinator-eni"), []string{e}},
		{filt("tag:Stamp", "yes"), []string{e}},
		{filt("private-ip-address", eniInfo.PrivateIP), []string{e}},
		{append(filt("status", "in-use"), filt("subnet-id", "subnet-a")...), nil},
		{filt("status", "available"), nil},
	}
	ia, _ := f.acct.Instance(a)
	eniCases[0].want = []string{ia.Attachments[0].ENIID, e}
	eniCases[4].want = []string{ia.Attachments[0].ENIID, e}
	for _, tc := range eniCases {
		out, err := f.c.EC2.DescribeNetworkInterfaces(f.ctx, &ec2.DescribeNetworkInterfacesInput{Filters: tc.filters})
		must(t, err)
		var got []string
		for _, n := range out.NetworkInterfaces {
			got = append(got, *n.NetworkInterfaceId)
		}
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("DescribeNetworkInterfaces %s=%v: got %v, want %v", *tc.filters[0].Name, tc.filters[0].Values, got, want)
		}
	}
}

// Private IPs come from the subnet, skipping AWS's reserved addresses; a fixed IP is
// honoured once.
func TestPrivateIPs(t *testing.T) {
	f := newFixture(t)
	e1, err := f.acct.CreateNetworkInterface("subnet-a", "10.0.1.10", "fixed", nil)
	must(t, err)
	if n, _ := f.acct.ENI(e1); n.PrivateIP != "10.0.1.10" || n.AZ != "us-east-1a" {
		t.Fatalf("got %+v", n)
	}
	if _, err := f.acct.CreateNetworkInterface("subnet-a", "10.0.1.10", "dup", nil); err == nil {
		t.Fatal("duplicate IP accepted")
	}
	if _, err := f.acct.CreateNetworkInterface("subnet-a", "10.0.2.10", "wrong subnet", nil); err == nil {
		t.Fatal("IP outside the subnet accepted")
	}
	i, _ := f.acct.Instance(f.launchRunning(t, "subnet-a"))
	if i.PrivateIP != "10.0.1.4" {
		t.Fatalf("first free address %s, want 10.0.1.4", i.PrivateIP)
	}
}

// OnAttachmentChange reports every change of a secondary ENI's attachment, in order,
// and nothing for primary ENIs.
func TestOnAttachmentChange(t *testing.T) {
	f := newFixture(t)
	var got []string
	f.acct.OnAttachmentChange(func(ch AttachmentChange) { got = append(got, ch.InstanceID+"/"+ch.Status) })
	e, i := f.newENI(t, "subnet-a"), f.launchRunning(t, "subnet-a")
	other := f.launchRunning(t, "subnet-a")
	out, err := f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &i, DeviceIndex: aws.Int32(1)})
	must(t, err)
	f.clk.Advance(5 * time.Second)
	f.acct.Tick()
	_, err = f.c.EC2.DetachNetworkInterface(f.ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: out.AttachmentId})
	must(t, err)
	f.clk.Advance(5 * time.Second)
	f.acct.Tick()
	_, err = f.c.EC2.AttachNetworkInterface(f.ctx, &ec2.AttachNetworkInterfaceInput{NetworkInterfaceId: &e, InstanceId: &other, DeviceIndex: aws.Int32(1)})
	must(t, err)
	f.clk.Advance(5 * time.Second)
	f.acct.Tick()
	_, err = f.c.EC2.TerminateInstances(f.ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{other}})
	must(t, err)
	f.clk.Advance(time.Minute)
	f.acct.Tick()
	want := []string{i + "/attaching", i + "/attached", i + "/detaching", "/",
		other + "/attaching", other + "/attached", other + "/detaching", "/"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changes:\n got %v\nwant %v", got, want)
	}
}

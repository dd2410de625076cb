package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/harness/sim"
)

// A coordinator pool in one subnet, the cluster ENI on the first coordinator, and the
// failover's fence-then-move done through the clients as the Lambdas would.
func Example() {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	acct := sim.New(sim.Options{Clock: clk, Seed: 42})
	_ = acct.AddSubnet("subnet-a", "us-east-1a", "10.0.1.0/24")
	eni, _ := acct.CreateNetworkInterface("subnet-a", "10.0.1.10", "presto coordinator", map[string]string{"Cluster": "c1"})
	_ = acct.CreateAutoScalingGroup(sim.ASGSpec{Name: "c1-coordinators", SubnetID: "subnet-a", Min: 1, Max: 3, Desired: 2})
	clk.Advance(time.Minute) // both coordinators are running

	ctx := context.Background()
	c := acct.Clients("attacheni")
	g, _ := acct.ASG("c1-coordinators")
	active, standby := g.Members[0].InstanceID, g.Members[1].InstanceID
	att, _ := c.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: &eni, InstanceId: &active, DeviceIndex: aws.Int32(1)})
	clk.Advance(5 * time.Second)

	// Fence: terminate the active one and force the ENI off it, then move it.
	_, _ = c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{active}})
	_, _ = c.EC2.DetachNetworkInterface(ctx, &ec2.DetachNetworkInterfaceInput{AttachmentId: att.AttachmentId, Force: aws.Bool(true)})
	clk.Advance(2 * time.Second)
	_, err := c.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		NetworkInterfaceId: &eni, InstanceId: &standby, DeviceIndex: aws.Int32(1)})
	fmt.Println("moved:", err == nil)
	clk.Advance(time.Minute) // the group replaces the terminated coordinator

	e, _ := acct.ENI(eni)
	fmt.Println("ENI on standby:", e.Attachment.InstanceID == standby, e.Attachment.Status)
	fmt.Println("actions:", acct.Actions("attacheni"))
	g, _ = acct.ASG("c1-coordinators")
	fmt.Println("group members:", len(g.Members))
	// Output:
	// moved: true
	// ENI on standby: true attached
	// actions: [ec2:AttachNetworkInterface ec2:DetachNetworkInterface ec2:TerminateInstances]
	// group members: 2
}

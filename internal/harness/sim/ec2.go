package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// EC2 instance states and their codes, as DescribeInstances reports them.
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
	stateStopping     = "stopping"
	stateStopped      = "stopped"

	attAttaching = "attaching"
	attAttached  = "attached"
	attDetaching = "detaching"
)

var stateCodes = map[string]int32{
	statePending: 0, stateRunning: 16, stateShuttingDown: 32, stateTerminated: 48, stateStopping: 64, stateStopped: 80,
}

func ec2Err(code, format string, args ...any) error {
	return awserr.New(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// InstanceSpec describes an instance for LaunchInstance.
type InstanceSpec struct {
	SubnetID     string
	InstanceType string // "" means m5.xlarge
	ImageID      string // "" means ami-0123456789abcdef0
	PrivateIP    string // primary private IP; "" means the next free address of the subnet
	Tags         map[string]string
}

// ASGSpec describes an Auto Scaling group for CreateAutoScalingGroup.
type ASGSpec struct {
	Name                  string
	SubnetID              string // one subnet (so one AZ), as the coordinator pool uses
	Min, Max, Desired     int
	InstanceType          string
	ImageID               string
	Tags                  map[string]string // propagated to the instances at launch
	NewInstancesProtected bool              // NewInstancesProtectedFromScaleIn
}

// Instance is a snapshot of an EC2 instance for assertions.
type Instance struct {
	ID, State, SubnetID, AZ, PrivateIP string
	InstanceType, ImageID              string
	ASG                                string // owning Auto Scaling group, "" for none
	Tags                               map[string]string
	LaunchTime, StateSince             time.Time
	Attachments                        []Attachment // primary first, by device index
}

// ENI is a snapshot of a network interface for assertions.
type ENI struct {
	ID, SubnetID, AZ, PrivateIP, Description string
	Status                                   string // "available" or "in-use"
	Tags                                     map[string]string
	Primary                                  bool
	Attachment                               *Attachment // nil when available
}

// Attachment is an ENI attachment.
type Attachment struct {
	ID, ENIID, InstanceID string
	DeviceIndex           int32
	Status                string // attaching, attached, detaching
	AttachTime            time.Time
	DeleteOnTermination   bool
}

// CreateNetworkInterface creates an available ENI in subnetID with privateIP ("" means
// the next free address) and returns its id.
func (a *Account) CreateNetworkInterface(subnetID, privateIP, description string, tags map[string]string) (string, error) {
	var id string
	err := a.setup(func(time.Time) error {
		s, ok := a.subnets[subnetID]
		if !ok {
			return fmt.Errorf("sim: no subnet %s", subnetID)
		}
		ip, err := s.allocate(privateIP)
		if err != nil {
			return err
		}
		id = a.ids.eni()
		a.w.addENI(&eni{id: id, subnetID: s.id, az: s.az, privateIP: ip, description: description, tags: cloneTags(tags)})
		return nil
	})
	return id, err
}

// LaunchInstance launches an instance outside any Auto Scaling group. It is pending
// for Timings.PendingToRunning, then running, with a primary ENI at device index 0.
func (a *Account) LaunchInstance(spec InstanceSpec) (string, error) {
	for k := range spec.Tags {
		if hasPrefixFold(k, "aws:") {
			// RunInstances refuses them too: only AWS services write aws: tags.
			return "", fmt.Errorf("sim: tag %s: tag keys starting with 'aws:' are reserved for AWS", k)
		}
	}
	var id string
	err := a.setup(func(now time.Time) error {
		var err error
		id, err = a.launch(spec, "", now)
		return err
	})
	return id, err
}

// launch creates a pending instance and its primary ENI. Callers hold the lock.
func (a *Account) launch(spec InstanceSpec, asg string, now time.Time) (string, error) {
	s, ok := a.subnets[spec.SubnetID]
	if !ok {
		return "", fmt.Errorf("sim: no subnet %s", spec.SubnetID)
	}
	ip, err := s.allocate(spec.PrivateIP)
	if err != nil {
		return "", err
	}
	if spec.InstanceType == "" {
		spec.InstanceType = "m5.xlarge"
	}
	if spec.ImageID == "" {
		spec.ImageID = "ami-0123456789abcdef0"
	}
	id := a.ids.instance()
	primary := &eni{
		id: a.ids.eni(), subnetID: s.id, az: s.az, privateIP: ip, description: "Primary network interface",
		tags: map[string]string{}, primary: true,
	}
	primary.att = &attachment{
		id: a.ids.attachment(), instanceID: id, deviceIndex: 0, status: attAttached, attachTime: now,
		deleteOnTermination: true,
	}
	a.w.addENI(primary)
	inst := &instance{
		id: id, subnetID: s.id, az: s.az, privateIP: ip, instanceType: spec.InstanceType, imageID: spec.ImageID,
		asg: asg, reservationID: a.ids.reservation(), tags: cloneTags(spec.Tags), state: statePending,
		stateSince: now, launchTime: now, primaryENI: primary.id,
	}
	a.w.addInstance(inst)
	for _, f := range a.onLaunched {
		a.hookQueue = append(a.hookQueue, func() { f(id) })
	}
	a.queueStateChange(id, "", statePending, now)
	return id, nil
}

func (a *Account) queueStateChange(id, from, to string, at time.Time) {
	ch := InstanceStateChange{InstanceID: id, From: from, To: to, At: at}
	for _, f := range a.onStateChange {
		a.hookQueue = append(a.hookQueue, func() { f(ch) })
	}
}

// setState moves an instance to a new state at t and tells the owning group when the
// instance stops being usable. Callers hold the lock.
func (a *Account) setState(i *instance, to string, t time.Time) {
	from := i.state
	if from == to {
		return
	}
	i.state, i.stateSince = to, t
	a.queueStateChange(i.id, from, to, t)
	if to == stateRunning {
		if m := a.memberOf(i); m != nil && m.lifecycle == lcPending {
			m.lifecycle = lcInService
		}
	}
	if to == stateShuttingDown || to == stateStopping {
		if m := a.memberOf(i); m != nil && m.lifecycle != lcTerminating && m.lostAt.IsZero() {
			m.lostAt = t
		}
	}
}

// beginTermination moves a pending/running/stopping/stopped instance to shutting-down.
// Secondary ENIs (DeleteOnTermination=false) start detaching and become available
// when the instance reaches terminated, as AWS releases them during shutdown.
func (a *Account) beginTermination(i *instance, t time.Time) {
	switch i.state {
	case stateShuttingDown, stateTerminated:
		return
	}
	a.setState(i, stateShuttingDown, t)
	done := t.Add(a.shutdownFor(i))
	for _, e := range a.w.attachmentsOf(i.id) {
		if e.primary {
			continue
		}
		if e.att.status != attDetaching || e.att.doneAt.After(done) {
			e.att.status, e.att.doneAt = attDetaching, done
		}
	}
}

// finishTermination: shutting-down -> terminated. The primary ENI is deleted with the
// instance and its address returns to the subnet; any secondary ENI still attached is
// released.
func (a *Account) finishTermination(i *instance, t time.Time) {
	for _, e := range a.w.attachmentsOf(i.id) {
		if e.primary || e.att.deleteOnTermination {
			if s := a.subnets[e.subnetID]; s != nil {
				s.release(e.privateIP)
			}
			a.w.removeENI(e.id)
			continue
		}
		e.att = nil
	}
	a.setState(i, stateTerminated, t)
	if g := a.w.asgs[i.asg]; g != nil {
		if m := a.memberOf(i); m != nil && m.lifecycle == lcTerminating {
			g.removeMember(i.id)
		}
	}
}

// TerminateFromOutside terminates an instance the way an operator or AWS would
// (console, spot reclaim, hardware retirement), not through the control plane: the
// instance goes shutting-down, and its Auto Scaling group, if any, notices after
// Timings.ASGReplaceDelay and launches a replacement.
func (a *Account) TerminateFromOutside(instanceID string) error {
	return a.setup(func(now time.Time) error {
		i, ok := a.w.instances[instanceID]
		if !ok {
			return fmt.Errorf("sim: no instance %s", instanceID)
		}
		a.beginTermination(i, now)
		return nil
	})
}

// StopInstance stops a running instance (running -> stopping -> stopped), as an
// operator or a failed host would. ENIs stay attached, as in AWS. An Auto Scaling group
// treats a stopped member as unhealthy, terminates and replaces it.
func (a *Account) StopInstance(instanceID string) error {
	return a.setup(func(now time.Time) error {
		i, ok := a.w.instances[instanceID]
		if !ok {
			return fmt.Errorf("sim: no instance %s", instanceID)
		}
		if i.state != stateRunning {
			return fmt.Errorf("sim: instance %s is %s, not running", instanceID, i.state)
		}
		a.setState(i, stateStopping, now)
		return nil
	})
}

// StickENIDetach makes non-forced detaches of the ENI take until d from now to
// complete (an unresponsive instance that does not release the device). A Force detach
// still completes after Timings.ForceDetachDelay.
func (a *Account) StickENIDetach(eniID string, d time.Duration) error {
	return a.setup(func(now time.Time) error {
		e, ok := a.w.enis[eniID]
		if !ok {
			return fmt.Errorf("sim: no ENI %s", eniID)
		}
		e.stuckUntil = now.Add(d)
		if e.att != nil && e.att.status == attDetaching && e.att.doneAt.Before(e.stuckUntil) {
			e.att.doneAt = e.stuckUntil
		}
		return nil
	})
}

// StickInstanceShutdown makes the instance take d in shutting-down (instead of
// Timings.ShuttingDownToTerminated) when it is terminated, as instances sometimes hang
// in shutting-down.
func (a *Account) StickInstanceShutdown(instanceID string, d time.Duration) error {
	return a.setup(func(time.Time) error {
		i, ok := a.w.instances[instanceID]
		if !ok {
			return fmt.Errorf("sim: no instance %s", instanceID)
		}
		i.shutdownFor = d
		return nil
	})
}

// Instance returns a snapshot of the instance, or false when it does not exist (never
// did, or terminated longer than Timings.TerminatedVisibleFor ago).
func (a *Account) Instance(id string) (Instance, bool) {
	var out Instance
	var ok bool
	a.read(func() {
		var i *instance
		if i, ok = a.w.instances[id]; ok {
			out = a.w.instanceInfo(i)
		}
	})
	return out, ok
}

// Instances returns snapshots of every describable instance, in launch order.
func (a *Account) Instances() []Instance {
	var out []Instance
	a.read(func() {
		for _, id := range a.w.instOrder {
			out = append(out, a.w.instanceInfo(a.w.instances[id]))
		}
	})
	return out
}

// ENI returns a snapshot of the network interface, or false when it does not exist.
func (a *Account) ENI(id string) (ENI, bool) {
	var out ENI
	var ok bool
	a.read(func() {
		var e *eni
		if e, ok = a.w.enis[id]; ok {
			out = e.info()
		}
	})
	return out, ok
}

func (w *world) instanceInfo(i *instance) Instance {
	out := Instance{
		ID: i.id, State: i.state, SubnetID: i.subnetID, AZ: i.az, PrivateIP: i.privateIP,
		InstanceType: i.instanceType, ImageID: i.imageID, ASG: i.asg, Tags: maps.Clone(i.tags),
		LaunchTime: i.launchTime, StateSince: i.stateSince,
	}
	for _, e := range w.attachmentsOf(i.id) {
		out.Attachments = append(out.Attachments, e.att.info(e.id))
	}
	slices.SortFunc(out.Attachments, func(x, y Attachment) int { return int(x.DeviceIndex - y.DeviceIndex) })
	return out
}

func (e *eni) status() string {
	if e.att != nil {
		return "in-use"
	}
	return "available"
}

func (e *eni) info() ENI {
	out := ENI{
		ID: e.id, SubnetID: e.subnetID, AZ: e.az, PrivateIP: e.privateIP, Description: e.description,
		Status: e.status(), Tags: maps.Clone(e.tags), Primary: e.primary,
	}
	if e.att != nil {
		at := e.att.info(e.id)
		out.Attachment = &at
	}
	return out
}

func (at *attachment) info(eniID string) Attachment {
	return Attachment{
		ID: at.id, ENIID: eniID, InstanceID: at.instanceID, DeviceIndex: at.deviceIndex, Status: at.status,
		AttachTime: at.attachTime, DeleteOnTermination: at.deleteOnTermination,
	}
}

// ec2Client implements awsapi.EC2API for one caller.
type ec2Client struct{ client }

func (c *ec2Client) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return read(ctx, c.client, "DescribeInstances", in, c.a.describeInstances)
}

func (c *ec2Client) DescribeNetworkInterfaces(ctx context.Context, in *ec2.DescribeNetworkInterfacesInput, _ ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error) {
	return read(ctx, c.client, "DescribeNetworkInterfaces", in, c.a.describeNetworkInterfaces)
}

func (c *ec2Client) AttachNetworkInterface(ctx context.Context, in *ec2.AttachNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.AttachNetworkInterfaceOutput, error) {
	return write(ctx, c.client, "AttachNetworkInterface", in, c.a.attach)
}

func (c *ec2Client) DetachNetworkInterface(ctx context.Context, in *ec2.DetachNetworkInterfaceInput, _ ...func(*ec2.Options)) (*ec2.DetachNetworkInterfaceOutput, error) {
	return write(ctx, c.client, "DetachNetworkInterface", in, ack[ec2.DetachNetworkInterfaceOutput](c.a.detach))
}

func (c *ec2Client) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return write(ctx, c.client, "TerminateInstances", in, c.a.terminateInstances)
}

func (c *ec2Client) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return write(ctx, c.client, "CreateTags", in, ack[ec2.CreateTagsOutput](c.a.createTags))
}

func (c *ec2Client) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return write(ctx, c.client, "DeleteTags", in, ack[ec2.DeleteTagsOutput](c.a.deleteTags))
}

// --- operations (callers hold the lock) ---

func checkInstanceID(id string) error {
	if !instanceIDRe.MatchString(id) {
		// AWS: InvalidInstanceID.Malformed for an id that is not i- plus 8 or 17 hex digits.
		return ec2Err("InvalidInstanceID.Malformed", "Invalid id: %q (expecting \"i-...\")", id)
	}
	return nil
}

func (a *Account) describeInstances(w *world, in *ec2.DescribeInstancesInput) (*ec2.DescribeInstancesOutput, error) {
	var missing []string
	for _, id := range in.InstanceIds {
		if err := checkInstanceID(id); err != nil {
			return nil, err
		}
		if _, ok := w.instances[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(in.InstanceIds) > 0 && len(missing) == 0 && (a.plan.notFound || a.justCreated(w, in.InstanceIds)) {
		// Eventual consistency: an id that exists can still answer NotFound (see NotFound
		// and Consistency.NewInstanceNotFound).
		missing = in.InstanceIds
	}
	if len(missing) > 0 {
		// AWS fails the whole call when any listed id does not exist.
		return nil, ec2Err(awserr.CodeInvalidInstanceIDNotFound, "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	for _, f := range in.Filters {
		if !validInstanceFilter(aws.ToString(f.Name)) {
			return nil, ec2Err(awserr.CodeInvalidParameterValue, "The filter '%s' is invalid", aws.ToString(f.Name))
		}
	}
	out := &ec2.DescribeInstancesOutput{}
	for _, id := range w.instOrder {
		i := w.instances[id]
		if len(in.InstanceIds) > 0 && !slices.Contains(in.InstanceIds, id) {
			continue
		}
		if !matchFilters(in.Filters, func(name string) []string { return w.instanceFilterValues(i, name, a.vpcID) }) {
			continue
		}
		out.Reservations = append(out.Reservations, ec2types.Reservation{
			ReservationId: aws.String(i.reservationID), OwnerId: aws.String(a.accountID),
			Instances: []ec2types.Instance{w.toEC2Instance(a, i)},
		})
	}
	return out, nil
}

func validInstanceFilter(name string) bool {
	if strings.HasPrefix(name, "tag:") {
		return true
	}
	switch name {
	case "instance-id", "instance-state-name", "instance-state-code", "subnet-id", "availability-zone",
		"placement-availability-zone", "vpc-id", "private-ip-address", "instance-type", "image-id",
		"tag-key", "tag-value", "network-interface.network-interface-id", "network-interface.attachment.device-index",
		"network-interface.attachment.status", "network-interface.addresses.private-ip-address":
		return true
	}
	return false
}

func (w *world) instanceFilterValues(i *instance, name, vpcID string) []string {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := i.tags[key]; ok {
			return []string{v}
		}
		return nil
	}
	switch name {
	case "instance-id":
		return []string{i.id}
	case "instance-state-name":
		return []string{i.state}
	case "instance-state-code":
		return []string{strconv.Itoa(int(stateCodes[i.state]))}
	case "subnet-id":
		return []string{i.subnetID}
	case "availability-zone", "placement-availability-zone":
		return []string{i.az}
	case "private-ip-address":
		return []string{i.privateIP}
	case "instance-type":
		return []string{i.instanceType}
	case "image-id":
		return []string{i.imageID}
	case "tag-key":
		return sortedKeys(i.tags)
	case "tag-value":
		var vs []string
		for _, k := range sortedKeys(i.tags) {
			vs = append(vs, i.tags[k])
		}
		return vs
	}
	if i.state == stateTerminated {
		return nil
	}
	if name == "vpc-id" {
		return []string{vpcID}
	}
	var vs []string
	for _, e := range w.attachmentsOf(i.id) {
		switch name {
		case "network-interface.network-interface-id":
			vs = append(vs, e.id)
		case "network-interface.attachment.device-index":
			vs = append(vs, strconv.Itoa(int(e.att.deviceIndex)))
		case "network-interface.attachment.status":
			vs = append(vs, e.att.status)
		case "network-interface.addresses.private-ip-address":
			vs = append(vs, e.privateIP)
		}
	}
	return vs
}

func (w *world) toEC2Instance(a *Account, i *instance) ec2types.Instance {
	out := ec2types.Instance{
		InstanceId: aws.String(i.id), ImageId: aws.String(i.imageID), InstanceType: ec2types.InstanceType(i.instanceType),
		LaunchTime: aws.Time(i.launchTime),
		State:      &ec2types.InstanceState{Name: ec2types.InstanceStateName(i.state), Code: aws.Int32(stateCodes[i.state])},
		Placement:  &ec2types.Placement{AvailabilityZone: aws.String(i.az), Tenancy: ec2types.TenancyDefault},
		Tags:       toEC2Tags(i.tags),
	}
	if i.state == stateTerminated {
		return out // AWS drops network details from terminated instances
	}
	out.SubnetId, out.VpcId = aws.String(i.subnetID), aws.String(a.vpcID)
	out.PrivateIpAddress = aws.String(i.privateIP)
	out.PrivateDnsName = aws.String("ip-" + strings.ReplaceAll(i.privateIP, ".", "-") + ".ec2.internal")
	enis := w.attachmentsOf(i.id)
	slices.SortFunc(enis, func(x, y *eni) int { return int(x.att.deviceIndex - y.att.deviceIndex) })
	for _, e := range enis {
		out.NetworkInterfaces = append(out.NetworkInterfaces, ec2types.InstanceNetworkInterface{
			NetworkInterfaceId: aws.String(e.id), SubnetId: aws.String(e.subnetID), VpcId: aws.String(a.vpcID),
			PrivateIpAddress: aws.String(e.privateIP), Description: aws.String(e.description),
			OwnerId: aws.String(a.accountID), Status: ec2types.NetworkInterfaceStatus(e.status()),
			Attachment: &ec2types.InstanceNetworkInterfaceAttachment{
				AttachmentId: aws.String(e.att.id), DeviceIndex: aws.Int32(e.att.deviceIndex),
				Status: ec2types.AttachmentStatus(e.att.status), AttachTime: aws.Time(e.att.attachTime),
				DeleteOnTermination: aws.Bool(e.att.deleteOnTermination), NetworkCardIndex: aws.Int32(0),
			},
		})
	}
	return out
}

func toEC2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// matchFilters applies EC2 filter semantics: filters are ANDed, the values of one
// filter are ORed, and values may use the * and ? wildcards.
func matchFilters(filters []ec2types.Filter, values func(name string) []string) bool {
	for _, f := range filters {
		have := values(aws.ToString(f.Name))
		ok := false
		for _, want := range f.Values {
			for _, h := range have {
				if globMatch(want, h) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// globMatch matches s against pattern with * (any run) and ? (one character).
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, t := []rune(pattern), []rune(s)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '*':
				for k := j; k <= len(t); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '?':
				if j >= len(t) {
					return false
				}
			default:
				if j >= len(t) || p[i] != t[j] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(t)
	}
	return match(0, 0)
}

func (a *Account) describeNetworkInterfaces(w *world, in *ec2.DescribeNetworkInterfacesInput) (*ec2.DescribeNetworkInterfacesOutput, error) {
	for _, id := range in.NetworkInterfaceIds {
		if !eniIDRe.MatchString(id) {
			return nil, ec2Err("InvalidNetworkInterfaceId.Malformed", "Invalid id: %q (expecting \"eni-...\")", id)
		}
		if _, ok := w.enis[id]; !ok {
			return nil, ec2Err(awserr.CodeInvalidNetworkInterfaceIDNotFound, "The networkInterface ID '%s' does not exist", id)
		}
	}
	for _, f := range in.Filters {
		if !validENIFilter(aws.ToString(f.Name)) {
			return nil, ec2Err(awserr.CodeInvalidParameterValue, "The filter '%s' is invalid", aws.ToString(f.Name))
		}
	}
	out := &ec2.DescribeNetworkInterfacesOutput{}
	for _, id := range w.eniOrder {
		e := w.enis[id]
		if len(in.NetworkInterfaceIds) > 0 && !slices.Contains(in.NetworkInterfaceIds, id) {
			continue
		}
		if !matchFilters(in.Filters, func(name string) []string { return a.eniFilterValues(e, name) }) {
			continue
		}
		out.NetworkInterfaces = append(out.NetworkInterfaces, a.toEC2ENI(e))
	}
	return out, nil
}

func validENIFilter(name string) bool {
	if strings.HasPrefix(name, "tag:") {
		return true
	}
	switch name {
	case "network-interface-id", "attachment.instance-id", "attachment.attachment-id", "attachment.status",
		"attachment.device-index", "status", "tag-key", "tag-value", "subnet-id", "availability-zone",
		"private-ip-address", "addresses.private-ip-address", "vpc-id", "description":
		return true
	}
	return false
}

func (a *Account) eniFilterValues(e *eni, name string) []string {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := e.tags[key]; ok {
			return []string{v}
		}
		return nil
	}
	switch name {
	case "network-interface-id":
		return []string{e.id}
	case "status":
		return []string{e.status()}
	case "subnet-id":
		return []string{e.subnetID}
	case "availability-zone":
		return []string{e.az}
	case "private-ip-address", "addresses.private-ip-address":
		return []string{e.privateIP}
	case "vpc-id":
		return []string{a.vpcID}
	case "description":
		return []string{e.description}
	case "tag-key":
		return sortedKeys(e.tags)
	case "tag-value":
		var vs []string
		for _, k := range sortedKeys(e.tags) {
			vs = append(vs, e.tags[k])
		}
		return vs
	}
	if e.att == nil {
		return nil
	}
	switch name {
	case "attachment.instance-id":
		return []string{e.att.instanceID}
	case "attachment.attachment-id":
		return []string{e.att.id}
	case "attachment.status":
		return []string{e.att.status}
	case "attachment.device-index":
		return []string{strconv.Itoa(int(e.att.deviceIndex))}
	}
	return nil
}

func (a *Account) toEC2ENI(e *eni) ec2types.NetworkInterface {
	out := ec2types.NetworkInterface{
		NetworkInterfaceId: aws.String(e.id), SubnetId: aws.String(e.subnetID), VpcId: aws.String(a.vpcID),
		AvailabilityZone: aws.String(e.az), PrivateIpAddress: aws.String(e.privateIP),
		Description: aws.String(e.description), Status: ec2types.NetworkInterfaceStatus(e.status()),
		OwnerId: aws.String(a.accountID), InterfaceType: ec2types.NetworkInterfaceTypeInterface,
		TagSet: toEC2Tags(e.tags),
		PrivateIpAddresses: []ec2types.NetworkInterfacePrivateIpAddress{
			{Primary: aws.Bool(true), PrivateIpAddress: aws.String(e.privateIP)},
		},
	}
	if e.att != nil {
		out.Attachment = &ec2types.NetworkInterfaceAttachment{
			AttachmentId: aws.String(e.att.id), InstanceId: aws.String(e.att.instanceID),
			InstanceOwnerId: aws.String(a.accountID), DeviceIndex: aws.Int32(e.att.deviceIndex),
			Status: ec2types.AttachmentStatus(e.att.status), AttachTime: aws.Time(e.att.attachTime),
			DeleteOnTermination: aws.Bool(e.att.deleteOnTermination), NetworkCardIndex: aws.Int32(0),
		}
	}
	return out
}

// attach implements AttachNetworkInterface with AWS's rules, each with AWS's code:
//   - malformed/unknown ENI id: InvalidNetworkInterfaceId.Malformed / InvalidNetworkInterfaceID.NotFound
//   - malformed/unknown instance id: InvalidInstanceID.Malformed / InvalidInstanceID.NotFound
//   - missing device index: MissingParameter
//   - the instance must be running (hot attach) or stopped (warm attach); pending,
//     stopping, shutting-down, terminated: IncorrectInstanceState
//   - ENI and instance in different Availability Zones: InvalidParameterCombination
//     ("You may not attach a network interface to an instance if they are not in the
//     same availability zone")
//   - the ENI must be available: attached, attaching or still detaching anywhere
//     (including the same instance): InvalidNetworkInterface.InUse
//   - the device index must be free on the instance (an attachment still detaching
//     holds its index): InvalidParameterValue
func (a *Account) attach(in *ec2.AttachNetworkInterfaceInput) (*ec2.AttachNetworkInterfaceOutput, error) {
	eniID, instID := aws.ToString(in.NetworkInterfaceId), aws.ToString(in.InstanceId)
	if !eniIDRe.MatchString(eniID) {
		return nil, ec2Err("InvalidNetworkInterfaceId.Malformed", "Invalid id: %q (expecting \"eni-...\")", eniID)
	}
	e, ok := a.w.enis[eniID]
	if !ok {
		return nil, ec2Err(awserr.CodeInvalidNetworkInterfaceIDNotFound, "The networkInterface ID '%s' does not exist", eniID)
	}
	if err := checkInstanceID(instID); err != nil {
		return nil, err
	}
	i, ok := a.w.instances[instID]
	if !ok {
		return nil, ec2Err(awserr.CodeInvalidInstanceIDNotFound, "The instance ID '%s' does not exist", instID)
	}
	if in.DeviceIndex == nil {
		return nil, ec2Err("MissingParameter", "The request must contain the parameter deviceIndex")
	}
	idx := *in.DeviceIndex
	if idx < 0 || idx > 31 {
		return nil, ec2Err(awserr.CodeInvalidParameterValue, "Value (%d) for parameter deviceIndex is invalid.", idx)
	}
	if i.state != stateRunning && i.state != stateStopped {
		return nil, ec2Err(awserr.CodeIncorrectInstanceState, "Instance '%s' is not 'running' or 'stopped'.", instID)
	}
	if e.az != i.az {
		return nil, ec2Err(awserr.CodeInvalidParameterCombination,
			"You may not attach a network interface to an instance if they are not in the same availability zone")
	}
	if e.att != nil {
		return nil, ec2Err("InvalidNetworkInterface.InUse", "Interface: [%s] in use.", eniID)
	}
	for _, other := range a.w.attachmentsOf(instID) {
		if other.att.deviceIndex == idx {
			return nil, ec2Err(awserr.CodeInvalidParameterValue,
				"Instance '%s' already has an interface attached at device index '%d'.", instID, idx)
		}
	}
	now := a.clk.Now()
	e.att = &attachment{
		id: a.ids.attachment(), instanceID: instID, deviceIndex: idx, status: attAttaching, attachTime: now,
		doneAt: now.Add(a.timings.AttachDelay + a.draw(a.cons.AttachStuckP, a.cons.AttachStuckMax)),
	}
	if i.state == stateStopped {
		e.att.status = attAttached // warm attach completes at once
	}
	return &ec2.AttachNetworkInterfaceOutput{AttachmentId: aws.String(e.att.id), NetworkCardIndex: aws.Int32(0)}, nil
}

// detach implements DetachNetworkInterface:
//   - malformed attachment id: InvalidNetworkInterfaceAttachmentId.Malformed
//   - unknown (or already completed) attachment: InvalidAttachmentID.NotFound
//   - the primary ENI (device index 0): OperationNotPermitted
//   - an attachment already detaching: accepted again (no-op), and Force=true
//     shortens it to Timings.ForceDetachDelay
//   - otherwise detaching, then detached (ENI available) after Timings.DetachDelay, or
//     later if the ENI is stuck (StickENIDetach); Force=true completes after
//     Timings.ForceDetachDelay even when stuck.
func (a *Account) detach(in *ec2.DetachNetworkInterfaceInput) error {
	id := aws.ToString(in.AttachmentId)
	if !attachmentIDRe.MatchString(id) {
		return ec2Err("InvalidNetworkInterfaceAttachmentId.Malformed", "Invalid id: %q (expecting \"eni-attach-...\")", id)
	}
	var e *eni
	for _, eid := range a.w.eniOrder {
		if x := a.w.enis[eid]; x.att != nil && x.att.id == id {
			e = x
		}
	}
	if e == nil {
		return ec2Err(awserr.CodeInvalidAttachmentIDNotFound, "The attachment ID '%s' does not exist", id)
	}
	if e.att.deviceIndex == 0 {
		return ec2Err(awserr.CodeOperationNotPermitted, "The network interface at device index 0 cannot be detached.")
	}
	now := a.clk.Now()
	force := aws.ToBool(in.Force)
	done := now.Add(a.timings.DetachDelay)
	if e.stuckUntil.After(done) {
		done = e.stuckUntil
	}
	if force {
		done = now.Add(a.timings.ForceDetachDelay)
	}
	if e.att.status == attDetaching {
		if force && done.Before(e.att.doneAt) {
			e.att.doneAt = done
		}
		return nil
	}
	e.att.status, e.att.doneAt = attDetaching, done
	return nil
}

// terminateInstances implements TerminateInstances: every id must be well formed and
// exist (else the whole call fails); terminating is idempotent (shutting-down and
// terminated instances are reported unchanged).
func (a *Account) terminateInstances(in *ec2.TerminateInstancesInput) (*ec2.TerminateInstancesOutput, error) {
	if len(in.InstanceIds) == 0 {
		return nil, ec2Err("MissingParameter", "The request must contain the parameter InstanceId")
	}
	for _, id := range in.InstanceIds {
		if err := checkInstanceID(id); err != nil {
			return nil, err
		}
		if _, ok := a.w.instances[id]; !ok {
			return nil, ec2Err(awserr.CodeInvalidInstanceIDNotFound, "The instance ID '%s' does not exist", id)
		}
	}
	now := a.clk.Now()
	out := &ec2.TerminateInstancesOutput{}
	for _, id := range in.InstanceIds {
		i := a.w.instances[id]
		prev := i.state
		a.beginTermination(i, now)
		out.TerminatingInstances = append(out.TerminatingInstances, ec2types.InstanceStateChange{
			InstanceId:    aws.String(id),
			PreviousState: &ec2types.InstanceState{Name: ec2types.InstanceStateName(prev), Code: aws.Int32(stateCodes[prev])},
			CurrentState:  &ec2types.InstanceState{Name: ec2types.InstanceStateName(i.state), Code: aws.Int32(stateCodes[i.state])},
		})
	}
	return out, nil
}

// createTags implements CreateTags on instances and ENIs: every resource must exist,
// keys must be 1-128 characters and must not start with "aws:" (reserved).
func (a *Account) createTags(in *ec2.CreateTagsInput) error {
	if len(in.Resources) == 0 {
		return ec2Err("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	if len(in.Tags) == 0 {
		return ec2Err("MissingParameter", "The request must contain the parameter tagSet")
	}
	for _, t := range in.Tags {
		k := aws.ToString(t.Key)
		if k == "" || len(k) > 128 || len(aws.ToString(t.Value)) > 256 {
			return ec2Err(awserr.CodeInvalidParameterValue, "Tag key must be 1-128 characters and value at most 256")
		}
		if hasPrefixFold(k, "aws:") {
			return ec2Err(awserr.CodeInvalidParameterValue, "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	targets, err := a.tagTargets(in.Resources)
	if err != nil {
		return err
	}
	for _, m := range targets {
		for _, t := range in.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return nil
}

// tagTargets resolves the resources of a CreateTags or DeleteTags call to their tag
// maps: instances and ENIs, each of which must exist (nothing is changed when one does
// not).
func (a *Account) tagTargets(resources []string) ([]map[string]string, error) {
	var targets []map[string]string
	for _, r := range resources {
		switch {
		case strings.HasPrefix(r, "i-"):
			if err := checkInstanceID(r); err != nil {
				return nil, err
			}
			i, ok := a.w.instances[r]
			if !ok {
				return nil, ec2Err(awserr.CodeInvalidInstanceIDNotFound, "The instance ID '%s' does not exist", r)
			}
			targets = append(targets, i.tags)
		case strings.HasPrefix(r, "eni-"):
			e, ok := a.w.enis[r]
			if !ok {
				return nil, ec2Err(awserr.CodeInvalidNetworkInterfaceIDNotFound, "The networkInterface ID '%s' does not exist", r)
			}
			targets = append(targets, e.tags)
		default:
			return nil, ec2Err("InvalidID", "The ID '%s' is not valid", r)
		}
	}
	return targets, nil
}

// deleteTags implements DeleteTags on instances and ENIs: a tag given with a value is
// deleted only when the value matches; a key that is not there is no error; no tags at
// all deletes every tag not starting with "aws:" (DeleteTags reference).
func (a *Account) deleteTags(in *ec2.DeleteTagsInput) error {
	if len(in.Resources) == 0 {
		return ec2Err("MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	targets, err := a.tagTargets(in.Resources)
	if err != nil {
		return err
	}
	for _, m := range targets {
		if len(in.Tags) == 0 {
			for k := range m {
				if !hasPrefixFold(k, "aws:") {
					delete(m, k)
				}
			}
		}
		for _, t := range in.Tags {
			k := aws.ToString(t.Key)
			if t.Value == nil || m[k] == aws.ToString(t.Value) {
				delete(m, k)
			}
		}
	}
	return nil
}

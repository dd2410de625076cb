package sim

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/prestoha/coordinator-ha/internal/clock"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/permissions"
	"github.com/prestoha/coordinator-ha/internal/signal"
)

// Defaults of PoolSpec.
const (
	DefaultPoolSubnetID = "subnet-0aaaaaaaaaaaaaaa1"
	DefaultPoolAZ       = "us-east-1a"
	DefaultPoolCIDR     = "10.0.1.0/24"
)

// Callers of the calls NewPool and Pool make through the clients (see Account.Calls and
// Account.Actions): they are the world's, not the control plane's.
const (
	SetupCaller = "setup" // NewPool's attachment and role tags
	AgentCaller = "agent" // Pool.Report's PutMetricData
)

// PoolSpec describes a coordinator pool for NewPool. Only Cluster is required.
type PoolSpec struct {
	Cluster      string // the cluster's name, tagged config.TagCluster on the ENI and the group
	Coordinators int    // HACoordinatorsCount: the group's desired capacity; 0 means 2
	Min, Max     int    // the group's bounds; Max 0 means Coordinators+1

	// The subnet the pool lives in, created by NewPool: "" means DefaultPoolSubnetID,
	// DefaultPoolAZ, DefaultPoolCIDR. Set ExistingSubnet when the test added it already.
	SubnetID, AZ, CIDR string
	ExistingSubnet     bool

	ENIIP          string            // the coordinator ENI's address; "" means the subnet's next free one
	ENIDescription string            // "" means "coordinator"
	ENITags        map[string]string // nil means {config.TagCluster: Cluster}

	ASGName               string            // "" means Cluster+"-coordinators"
	ASGTags               map[string]string // added to {config.TagCluster: Cluster}; propagated to every instance the group launches
	NewInstancesProtected bool

	// HostRole is the name of the coordinator hosts' IAM role: "" means ASGName+"-host".
	// Its unique id (Pool.HostRoleID) is what the hosts' report namespaces embed.
	HostRole string

	StateMachine string // when set, NewPool registers a state machine of that name (Pool.StateMachineARN)
	Topic        string // when set, NewPool creates an SNS topic of that name (Pool.TopicARN)

	// AttachActive brings the instances to running and attaches the ENI (device index 1)
	// to the group's first member, the active; the others are the standbys. Without it
	// the instances are left pending and the ENI available, as a fresh stack is before
	// the health check's first run attaches it.
	AttachActive bool
	// TagRoles (with AttachActive) tags the active config.TagRole=config.RoleActive and
	// each standby config.RoleStandby, as the failover steps would have.
	TagRoles bool
	// Warmup is how long NewPool lets time pass between creating the group and
	// attaching: 0 means Timings().PendingToRunning, the least that brings the
	// instances to running. After attaching it waits AttachSettle (0 means
	// Timings().AttachDelay) so that the attachment is "attached".
	Warmup, AttachSettle time.Duration
	// Wait lets time pass (for AttachActive). nil means: advance the account's clock,
	// which must then be a *clock.Virtual, and Tick. A test whose agents report as
	// time passes passes its own advance function.
	Wait func(time.Duration)
}

// Pool is a coordinator pool built by NewPool: one subnet, the cluster's coordinator
// ENI, an Auto Scaling group of coordinators and, when asked for, a state machine and
// a topic. The fields are fixed at creation; Holder and Account's getters say what
// changed since.
type Pool struct {
	Account         *Account
	Cluster         string
	SubnetID, AZ    string
	ENIID, ENIIP    string
	ASGName         string
	Instances       []string // the group's members at creation, in launch order
	StateMachineARN string   // "" unless PoolSpec.StateMachine was set
	TopicARN        string   // "" unless PoolSpec.Topic was set
	HostRole        string   // the hosts' IAM role
	HostRoleID      string   // its unique id (signal.ReportNamespace)
	attached        bool
}

// NewPool builds the coordinator pool that nearly every test of the control plane
// starts from (see PoolSpec for what it creates and the defaults). Register the
// account's hooks (OnInstanceLaunched, OnInstanceStateChange, OnStartExecution) before
// calling it, so that they see the pool's instances launch.
//
// Resources are created in a fixed order (subnet, ENI, state machine, topic, group,
// attachment), so the generated ids depend only on the account's seed and on what was
// created before.
func NewPool(acct *Account, spec PoolSpec) (*Pool, error) {
	if spec.Cluster == "" {
		return nil, fmt.Errorf("sim: pool needs a cluster name")
	}
	if spec.Coordinators == 0 {
		spec.Coordinators = 2
	}
	if spec.Max == 0 {
		spec.Max = spec.Coordinators + 1
	}
	if spec.SubnetID == "" {
		spec.SubnetID = DefaultPoolSubnetID
	}
	if spec.AZ == "" {
		spec.AZ = DefaultPoolAZ
	}
	if spec.CIDR == "" {
		spec.CIDR = DefaultPoolCIDR
	}
	if spec.ENIDescription == "" {
		spec.ENIDescription = "coordinator"
	}
	if spec.ENITags == nil {
		spec.ENITags = map[string]string{config.TagCluster: spec.Cluster}
	}
	if spec.ASGName == "" {
		spec.ASGName = spec.Cluster + "-coordinators"
	}
	if spec.TagRoles && !spec.AttachActive {
		return nil, fmt.Errorf("sim: pool %s: TagRoles needs AttachActive", spec.Cluster)
	}
	if spec.AttachActive && spec.Wait == nil {
		v, ok := acct.Clock().(*clock.Virtual)
		if !ok {
			return nil, fmt.Errorf("sim: pool %s: AttachActive on a %T clock needs PoolSpec.Wait", spec.Cluster, acct.Clock())
		}
		spec.Wait = func(d time.Duration) { v.Advance(d); acct.Tick() }
	}

	if spec.HostRole == "" {
		spec.HostRole = spec.ASGName + "-host"
	}
	p := &Pool{Account: acct, Cluster: spec.Cluster, SubnetID: spec.SubnetID, ASGName: spec.ASGName,
		HostRole: spec.HostRole, HostRoleID: acct.RoleID(spec.HostRole)}
	if !spec.ExistingSubnet {
		if err := acct.AddSubnet(spec.SubnetID, spec.AZ, spec.CIDR); err != nil {
			return nil, fmt.Errorf("pool %s: %w", spec.Cluster, err)
		}
	}
	eni, err := acct.CreateNetworkInterface(spec.SubnetID, spec.ENIIP, spec.ENIDescription, spec.ENITags)
	if err != nil {
		return nil, fmt.Errorf("pool %s: creating the coordinator ENI: %w", spec.Cluster, err)
	}
	e, _ := acct.ENI(eni)
	p.ENIID, p.ENIIP, p.AZ = eni, e.PrivateIP, e.AZ
	if spec.StateMachine != "" {
		p.StateMachineARN = acct.CreateStateMachine(spec.StateMachine)
	}
	if spec.Topic != "" {
		p.TopicARN = acct.CreateTopic(spec.Topic)
	}
	acct.CreateFunction(p.HealthCheckFunction())
	tags := map[string]string{config.TagCluster: spec.Cluster}
	maps.Copy(tags, spec.ASGTags)
	if err := acct.CreateAutoScalingGroup(ASGSpec{Name: spec.ASGName, SubnetID: spec.SubnetID, Min: spec.Min, Max: spec.Max,
		Desired: spec.Coordinators, Tags: tags, NewInstancesProtected: spec.NewInstancesProtected}); err != nil {
		return nil, fmt.Errorf("pool %s: %w", spec.Cluster, err)
	}
	g, _ := acct.ASG(spec.ASGName)
	for _, m := range g.Members {
		p.Instances = append(p.Instances, m.InstanceID)
	}
	if !spec.AttachActive {
		return p, nil
	}

	warmup := spec.Warmup
	if warmup == 0 {
		warmup = acct.Timings().PendingToRunning
	}
	spec.Wait(warmup)
	for _, id := range p.Instances {
		if i, _ := acct.Instance(id); i.State != "running" {
			return nil, fmt.Errorf("pool %s: instance %s is %s after a %s warmup, want running", spec.Cluster, id, i.State, warmup)
		}
	}
	ctx := context.Background()
	setup := acct.Clients(SetupCaller)
	if _, err := setup.EC2.AttachNetworkInterface(ctx, &ec2.AttachNetworkInterfaceInput{
		DeviceIndex: aws.Int32(1), InstanceId: aws.String(p.Instances[0]), NetworkInterfaceId: aws.String(eni)}); err != nil {
		return nil, fmt.Errorf("pool %s: attaching %s to %s: %w", spec.Cluster, eni, p.Instances[0], err)
	}
	p.attached = true
	if spec.TagRoles {
		for i, id := range p.Instances {
			role := config.RoleStandby
			if i == 0 {
				role = config.RoleActive
			}
			if _, err := setup.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
				Tags: []ec2types.Tag{{Key: aws.String(config.TagRole), Value: aws.String(role)}}}); err != nil {
				return nil, fmt.Errorf("pool %s: tagging %s %s: %w", spec.Cluster, id, role, err)
			}
		}
	}
	settle := spec.AttachSettle
	if settle == 0 {
		settle = acct.Timings().AttachDelay
	}
	spec.Wait(settle)
	return p, nil
}

// Active returns the instance NewPool attached the ENI to ("" when it did not attach).
// It is not updated when the ENI moves: Holder is.
func (p *Pool) Active() string {
	if !p.attached {
		return ""
	}
	return p.Instances[0]
}

// Standbys returns the members NewPool did not attach the ENI to (every member when it
// attached none).
func (p *Pool) Standbys() []string {
	if !p.attached {
		return append([]string(nil), p.Instances...)
	}
	return append([]string(nil), p.Instances[1:]...)
}

// Holder returns the instance the ENI is attached to now and the attachment's status
// ("", "" when it is available).
func (p *Pool) Holder() (instanceID, status string) {
	e, ok := p.Account.ENI(p.ENIID)
	if !ok || e.Attachment == nil {
		return "", ""
	}
	return e.Attachment.InstanceID, e.Attachment.Status
}

// Report publishes n self-reports of instance id with status s, every `every` from
// `from` (CloudWatch accepts timestamps up to two hours ahead, so a test can publish a
// running agent's future reports at once), as the agent's caller, in PutMetricData
// calls of at most 500 datapoints. The datapoints become visible after the account's
// metric ingestion delay.
func (p *Pool) Report(id string, s signal.Status, from time.Time, every time.Duration, n int) error {
	data := make([]cwtypes.MetricDatum, 0, n)
	for i := range n {
		data = append(data, signal.HealthDatum(p.Cluster, id, s, from.Add(time.Duration(i)*every)))
	}
	cw := p.HostClients(id).CloudWatch
	for len(data) > 0 {
		k := min(len(data), 500)
		if _, err := cw.PutMetricData(context.Background(), &cloudwatch.PutMetricDataInput{
			Namespace: aws.String(p.ReportNamespace(id)), MetricData: data[:k]}); err != nil {
			return fmt.Errorf("reporting %s %v for %s: %w", id, s, p.Cluster, err)
		}
		data = data[k:]
	}
	return nil
}

// ReportNamespace is the namespace only instance id's agent can write.
func (p *Pool) ReportNamespace(id string) string { return signal.ReportNamespace(p.HostRoleID, id) }

// HostPrincipal is the principal of instance id's instance profile: the hosts' role,
// with the instance id as the session name, recorded as AgentCaller.
func (p *Pool) HostPrincipal(id string) Principal {
	return Principal{Caller: AgentCaller, RoleName: p.HostRole, Session: id}
}

// HostClients returns the clients of the agent on instance id (see HostPrincipal).
func (p *Pool) HostClients(id string) Clients { return p.Account.ClientsAs(p.HostPrincipal(id)) }

// LambdaRole is the name of the role of the control plane's caller (a Lambda).
func (p *Pool) LambdaRole(caller string) string { return p.ASGName + "-" + caller }

// ClientsOf returns the clients of a control plane caller, with its own role (see
// EnforcePolicies), recorded under caller.
func (p *Pool) ClientsOf(caller string) Clients {
	return p.Account.ClientsAs(Principal{Caller: caller, RoleName: p.LambdaRole(caller), Session: caller})
}

// HealthCheckFunction is the name of the pool's health check Lambda function, which
// the agents' doorbell invokes (the stack names it after the stack's id).
func (p *Pool) HealthCheckFunction() string { return p.ASGName + "-healthcheck" }

// PolicyResources are the pool's resources as the permission table names them.
func (p *Pool) PolicyResources() permissions.Resources {
	a := p.Account
	r := permissions.Resources{Partition: "aws", Region: a.region, Account: a.accountID, Cluster: p.Cluster,
		ASGName: p.ASGName, ENIID: p.ENIID, StateMachineARN: p.StateMachineARN, TopicARN: p.TopicARN,
		SecretARN:              a.arn("secretsmanager", "secret:"+p.Cluster+"-host-key"),
		SecretKeyARN:           a.arn("kms", "key/"+p.Cluster),
		StackID:                a.arn("cloudformation", "stack/"+p.ASGName+"/00000000-0000-0000-0000-000000000000"),
		HealthCheckFunctionARN: a.FunctionARN(p.HealthCheckFunction())}
	if p.StateMachineARN != "" {
		r.StateMachineName = p.StateMachineARN[strings.LastIndex(p.StateMachineARN, ":")+1:]
	}
	return r
}

// EnforcePolicies attaches to each caller's role (ClientsOf) and to the hosts' role
// (HostClients) the policy the stack synthesizes for it (permissions.Statements), so
// that every call through those clients is evaluated as IAM would.
func (p *Pool) EnforcePolicies() {
	r := p.PolicyResources()
	for _, c := range permissions.Callers {
		role := p.LambdaRole(c)
		if c == permissions.Agent {
			role = p.HostRole
		}
		p.Account.SetPolicy(role, permissions.Statements(c, r))
	}
}

package sim

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// The account's IAM model, after the IAM policy evaluation logic
// (docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
// reduced to what the product's policies use: identity-based Allow statements, so a
// request is allowed when, for every resource it touches, some statement names the
// action, matches the resource ARN (wildcards * and ?) and satisfies all its conditions.
// Operators: StringEquals, StringLike and ForAllValues:StringEquals. Keys:
// aws:ResourceTag/<key> (the tags of the resource being evaluated), aws:TagKeys and
// aws:RequestTag/<key> (CreateTags), cloudwatch:namespace (PutMetricData), and
// kms:* keys, which no simulated call carries. Policy variable: ${aws:userid}, which
// for a role session is "<role id>:<session name>", the session name of an EC2 instance
// role being the instance id (IAM policy variables reference).
//
// A principal whose role has no policy is not restricted (setup, most tests); SetPolicy
// turns enforcement on for a role. sts:GetCallerIdentity is always allowed, as in AWS.

// Principal is who makes the calls of a Clients.
type Principal struct {
	Caller   string // the name the calls are recorded under (see Calls and Actions)
	RoleName string // the IAM role; "" for an unrestricted principal
	Session  string // the role session name: the instance id for an instance profile
}

// Statement is one IAM Allow statement (the type the product's permission table uses).
type Statement = permissions.Statement

// SetPolicy attaches statements to role: every call of a principal with that role is
// evaluated against them from now on. nil statements remove the policy.
func (a *Account) SetPolicy(roleName string, statements []Statement) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.policies == nil {
		a.policies = map[string][]Statement{}
	}
	if statements == nil {
		delete(a.policies, roleName)
		return
	}
	a.policies[roleName] = append([]Statement(nil), statements...)
}

// RoleID returns the unique id IAM gives the role ("AROA" and 17 characters), the
// same for the same account and name.
func (a *Account) RoleID(roleName string) string {
	sum := sha256.Sum256([]byte(a.accountID + "/" + roleName))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b strings.Builder
	b.WriteString("AROA")
	for i := 0; i < 17; i++ {
		b.WriteByte(alphabet[int(sum[i])%len(alphabet)])
	}
	return b.String()
}

// UserID is aws:userid of p: "<role id>:<session>" for a role session.
func (a *Account) UserID(p Principal) string {
	if p.RoleName == "" {
		return "AIDA" + strings.TrimPrefix(a.RoleID("user/"+p.Caller), "AROA")
	}
	return a.RoleID(p.RoleName) + ":" + p.Session
}

// ClientsAs returns clients whose calls are made by p: recorded under p.Caller and,
// when p's role has a policy, evaluated against it.
func (a *Account) ClientsAs(p Principal) Clients {
	c := Clients{}
	mk := func(service string) client { return client{a: a, caller: p.Caller, service: service, principal: p} }
	c.EC2 = &ec2Client{mk("ec2")}
	c.OperatorEC2 = c.EC2.(*ec2Client)
	c.CloudFormation = &cfnClient{mk("cloudformation")}
	c.AutoScaling = &asgClient{mk("autoscaling")}
	c.CloudWatch = &cwClient{mk("cloudwatch")}
	c.SFN = &sfnClient{mk("states")}
	c.SNS = &snsClient{mk("sns")}
	c.STS = &stsClient{mk("sts")}
	c.Lambda = &lambdaClient{mk("lambda")}
	return c
}

type stsClient struct{ client }

func (c *stsClient) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return read(ctx, c.client, "GetCallerIdentity", in, func(_ *world, _ *sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) {
		p := c.principal
		arn := fmt.Sprintf("arn:aws:iam::%s:user/%s", c.a.accountID, p.Caller)
		if p.RoleName != "" {
			arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", c.a.accountID, p.RoleName, p.Session)
		}
		return &sts.GetCallerIdentityOutput{Account: aws.String(c.a.accountID), Arn: aws.String(arn), UserId: aws.String(c.a.UserID(p))}, nil
	})
}

// resource is one resource a request touches, with its tags.
type resource struct {
	arn  string
	tags map[string]string
}

// request is what the evaluation looks at.
type request struct {
	action    string
	resources []resource
	keys      map[string][]string // request condition keys
}

func (a *Account) arn(service, res string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, a.region, a.accountID, res)
}

// GroupARN is the ARN of an Auto Scaling group (the UUID part is derived from the name).
func (a *Account) GroupARN(name string) string {
	sum := sha256.Sum256([]byte(name))
	u := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return a.arn("autoscaling", "autoScalingGroup:"+u+":autoScalingGroupName/"+name)
}

// authorize evaluates p's policy for one call, under the lock. Callers without a
// policy, and requests the model cannot resolve to resources (an unknown id: the
// operation itself then answers NotFound), pass.
func (a *Account) authorize(w *world, p Principal, service, op string, in any) error {
	stmts, ok := a.policies[p.RoleName]
	if p.RoleName == "" || !ok || service == "sts" {
		return nil
	}
	req := request{action: service + ":" + op, keys: map[string][]string{}}
	inst := func(id string) {
		if i, ok := w.instances[id]; ok {
			req.resources = append(req.resources, resource{a.arn("ec2", "instance/"+id), i.tags})
		}
	}
	netif := func(id string) {
		if e, ok := w.enis[id]; ok {
			req.resources = append(req.resources, resource{a.arn("ec2", "network-interface/"+id), e.tags})
		}
	}
	grp := func(name string) {
		if g, ok := w.asgs[name]; ok {
			req.resources = append(req.resources, resource{a.GroupARN(name), g.tags})
		}
	}
	switch in := in.(type) {
	case *cloudwatch.PutMetricDataInput:
		req.keys["cloudwatch:namespace"] = []string{aws.ToString(in.Namespace)}
		req.resources = []resource{{arn: "*"}}
	case *ec2.AttachNetworkInterfaceInput:
		inst(aws.ToString(in.InstanceId))
		netif(aws.ToString(in.NetworkInterfaceId))
	case *ec2.DetachNetworkInterfaceInput:
		for _, e := range w.enis {
			if e.att != nil && e.att.id == aws.ToString(in.AttachmentId) {
				inst(e.att.instanceID)
				netif(e.id)
			}
		}
	case *ec2.TerminateInstancesInput:
		for _, id := range in.InstanceIds {
			inst(id)
		}
	case *ec2.CreateTagsInput:
		for _, t := range in.Tags {
			k := aws.ToString(t.Key)
			req.keys["aws:TagKeys"] = append(req.keys["aws:TagKeys"], k)
			req.keys["aws:RequestTag/"+k] = []string{aws.ToString(t.Value)}
		}
		for _, r := range in.Resources {
			inst(r)
			netif(r)
		}
	case *ec2.DeleteTagsInput:
		for _, t := range in.Tags {
			req.keys["aws:TagKeys"] = append(req.keys["aws:TagKeys"], aws.ToString(t.Key))
		}
		for _, r := range in.Resources {
			inst(r)
			netif(r)
		}
	case *cloudformation.DescribeStacksInput:
		req.resources = []resource{{arn: a.stackResource(aws.ToString(in.StackName))}}
	case *autoscaling.SetDesiredCapacityInput:
		grp(aws.ToString(in.AutoScalingGroupName))
	case *autoscaling.SetInstanceProtectionInput:
		grp(aws.ToString(in.AutoScalingGroupName))
	case *autoscaling.UpdateAutoScalingGroupInput:
		grp(aws.ToString(in.AutoScalingGroupName))
	case *autoscaling.TerminateInstanceInAutoScalingGroupInput:
		if i, ok := w.instances[aws.ToString(in.InstanceId)]; ok && i.asg != "" {
			grp(i.asg)
		}
	case *sfn.StartExecutionInput:
		req.resources = []resource{{arn: aws.ToString(in.StateMachineArn)}}
	case *sfn.ListExecutionsInput:
		req.resources = []resource{{arn: aws.ToString(in.StateMachineArn)}}
	case *sfn.DescribeExecutionInput:
		req.resources = []resource{{arn: aws.ToString(in.ExecutionArn)}}
	case *sns.PublishInput:
		req.resources = []resource{{arn: aws.ToString(in.TopicArn)}}
	case *lambda.InvokeInput:
		fn := aws.ToString(in.FunctionName)
		if !strings.HasPrefix(fn, "arn:") {
			fn = a.FunctionARN(fn)
		}
		req.resources = []resource{{arn: fn}}
	default: // Describe*, GetMetricData: no resource-level permissions
		req.resources = []resource{{arn: "*"}}
	}
	userID := a.UserID(p)
	for _, r := range req.resources {
		if !allowed(stmts, req, r, userID) {
			return accessDenied(service, op, a.UserID(p), r.arn)
		}
	}
	return nil
}

func allowed(stmts []Statement, req request, r resource, userID string) bool {
	sub := func(s string) string { return strings.ReplaceAll(s, permissions.UserIDVariable, userID) }
	for _, st := range stmts {
		if !anyMatch(st.Actions, req.action, sub) || !anyMatch(st.Resources, r.arn, sub) {
			continue
		}
		if conditionsHold(st.Condition, req, r, sub) {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string, sub func(string) string) bool {
	for _, p := range patterns {
		if globMatch(sub(p), s) {
			return true
		}
	}
	return false
}

func conditionsHold(cond map[string]map[string][]string, req request, r resource, sub func(string) string) bool {
	for op, keys := range cond {
		for key, want := range keys {
			var got []string
			var present bool
			if tk, ok := strings.CutPrefix(key, "aws:ResourceTag/"); ok {
				v, has := r.tags[tk]
				got, present = []string{v}, has
			} else {
				got, present = req.keys[key]
			}
			eq := func(g string, like bool) bool {
				for _, w := range want {
					if w = sub(w); (!like && g == w) || (like && globMatch(w, g)) {
						return true
					}
				}
				return false
			}
			switch op {
			case "StringEquals", "StringLike":
				if !present {
					return false
				}
				ok := false
				for _, g := range got {
					ok = ok || eq(g, op == "StringLike")
				}
				if !ok {
					return false
				}
			case "Null":
				// "true": the key must be absent; "false": present.
				if len(want) != 1 || (want[0] == "true") == present {
					return false
				}
			case "ForAllValues:StringEquals":
				for _, g := range got {
					if !eq(g, false) {
						return false
					}
				}
			default:
				return false // an operator the model does not know never grants
			}
		}
	}
	return true
}

func accessDenied(service, op, userID, arn string) error {
	code := map[string]string{"ec2": awserr.CodeUnauthorizedOperation, "states": awserr.CodeAccessDeniedException,
		"sns": awserr.CodeAuthorizationError}[service]
	if code == "" {
		code = awserr.CodeAccessDenied
	}
	return awserr.New(code, fmt.Sprintf("User: %s is not authorized to perform: %s:%s on resource: %s", userID, service, op, arn), smithy.FaultClient)
}

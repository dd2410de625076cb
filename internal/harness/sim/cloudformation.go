package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// The account's CloudFormation: just enough for the operator command to find a
// cluster's resources from its stack. A stack is created complete with its outputs
// (CreateStack, a setup call); DescribeStacks answers as the CloudFormation API reference
// documents: by stack name or stack id, every stack without a name, and for a stack
// that does not exist the error AWS gives, ValidationError "Stack with id <name> does
// not exist" (HTTP 400).

type stack struct {
	id, name string
	created  time.Time
	status   string
	outputs  map[string]string
}

// CreateStack registers a stack in CREATE_COMPLETE with outputs and returns its id
// (arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>).
func (a *Account) CreateStack(name string, outputs map[string]string) (string, error) {
	var id string
	err := a.setup(func(now time.Time) error {
		if a.stacks == nil {
			a.stacks = map[string]*stack{}
		}
		if _, ok := a.stacks[name]; ok {
			return fmt.Errorf("sim: stack %s exists", name)
		}
		id = a.arn("cloudformation", "stack/"+name+"/"+a.ids.uuid())
		a.stacks[name] = &stack{id: id, name: name, created: now, status: string(cfntypes.StackStatusCreateComplete), outputs: cloneTags(outputs)}
		return nil
	})
	return id, err
}

// StackID returns the id of a stack ("" when there is none).
func (a *Account) StackID(name string) string {
	var id string
	a.read(func() {
		if s, ok := a.stacks[name]; ok {
			id = s.id
		}
	})
	return id
}

type cfnClient struct{ client }

func (c *cfnClient) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return read(ctx, c.client, "DescribeStacks", in, c.a.describeStacks)
}

func cfnErr(format string, args ...any) error {
	return awserr.New(awserr.CodeValidationError, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// findStack finds a stack by name or id (callers hold the lock).
func (a *Account) findStack(nameOrID string) *stack {
	if s, ok := a.stacks[nameOrID]; ok {
		return s
	}
	for _, s := range a.stacks {
		if s.id == nameOrID {
			return s
		}
	}
	return nil
}

func (a *Account) describeStacks(_ *world, in *cloudformation.DescribeStacksInput) (*cloudformation.DescribeStacksOutput, error) {
	var found []*stack
	if name := aws.ToString(in.StackName); name != "" {
		s := a.findStack(name)
		if s == nil {
			return nil, cfnErr("Stack with id %s does not exist", name)
		}
		found = append(found, s)
	} else {
		for _, s := range a.stacks {
			found = append(found, s)
		}
		sort.Slice(found, func(i, j int) bool { return found[i].name < found[j].name })
	}
	out := &cloudformation.DescribeStacksOutput{}
	for _, s := range found {
		st := cfntypes.Stack{StackId: aws.String(s.id), StackName: aws.String(s.name), CreationTime: aws.Time(s.created),
			StackStatus: cfntypes.StackStatus(s.status)}
		keys := make([]string, 0, len(s.outputs))
		for k := range s.outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			st.Outputs = append(st.Outputs, cfntypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(s.outputs[k])})
		}
		out.Stacks = append(out.Stacks, st)
	}
	return out, nil
}

// stackResource is the ARN IAM evaluates DescribeStacks against: the stack's id, or,
// for a name no stack has, the ARN that name would have (arn:...:stack/<name>/*), which
// a policy on "stack/*" allows and the operation then answers with ValidationError.
func (a *Account) stackResource(nameOrID string) string {
	if s := a.findStack(nameOrID); s != nil {
		return s.id
	}
	if strings.HasPrefix(nameOrID, "arn:") {
		return nameOrID
	}
	return a.arn("cloudformation", "stack/"+nameOrID+"/*")
}

package sim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/prestoha/coordinator-ha/internal/awserr"
)

// Message is a captured SNS publication.
type Message struct {
	ID       string
	TopicARN string
	Subject  string
	Message  string
	At       time.Time
	Caller   string
}

// CreateTopic creates a standard SNS topic and returns its ARN (the same ARN again for
// an existing name).
func (a *Account) CreateTopic(name string) string {
	arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", a.region, a.accountID, name)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.topics[arn] = name
	return arn
}

// Messages returns every published message, oldest first.
func (a *Account) Messages() []Message {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.messages)
}

// snsClient implements awsapi.SNSAPI for one caller.
type snsClient struct{ client }

func snsErr(code, format string, args ...any) error {
	return awserr.New(code, fmt.Sprintf(format, args...), smithy.FaultClient)
}

// Publish implements SNS Publish to a topic: TopicArn must name an existing topic
// (NotFound; TargetArn/PhoneNumber are not supported: InvalidParameter), Message is
// required (InvalidParameter) and at most 256 KiB; a Subject, when given, is 1-100
// characters of printable ASCII without line breaks (InvalidParameter).
func (c *snsClient) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return write(ctx, c.client, "Publish", in, c.publish)
}

func (c *snsClient) publish(in *sns.PublishInput) (*sns.PublishOutput, error) {
	a := c.a
	arn := aws.ToString(in.TopicArn)
	if arn == "" {
		return nil, snsErr("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	if _, ok := a.topics[arn]; !ok {
		return nil, snsErr(awserr.CodeNotFound, "Topic does not exist")
	}
	msg := aws.ToString(in.Message)
	if msg == "" {
		return nil, snsErr("InvalidParameter", "Invalid parameter: Message Reason: cannot be empty")
	}
	if len(msg) > 256*1024 {
		return nil, snsErr("InvalidParameter", "Invalid parameter: Message too long")
	}
	subj := aws.ToString(in.Subject)
	if in.Subject != nil {
		if subj == "" || utf8.RuneCountInString(subj) > 100 || strings.ContainsAny(subj, "\r\n") || !isPrintableASCII(subj) {
			return nil, snsErr("InvalidParameter", "Invalid parameter: Subject")
		}
	}
	id := a.ids.uuid()
	a.messages = append(a.messages, Message{ID: id, TopicARN: arn, Subject: subj, Message: msg, At: a.clk.Now(), Caller: c.caller})
	return &sns.PublishOutput{MessageId: aws.String(id)}, nil
}

func isPrintableASCII(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

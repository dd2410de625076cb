package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// Role is what the agent knows about its host.
type Role struct {
	InstanceID string
	// HoldsENI: the coordinator ENI is attached to this instance, so it is the active
	// coordinator and does not witness itself.
	HoldsENI bool
}

// RoleSource tells the agent who it is and whether it holds the ENI. On EC2 it is
// IMDSRole; the local drill supplies its own, backed by the simulated account.
type RoleSource interface {
	Role(ctx context.Context) (Role, error)
}

// IMDSAPI is the part of the IMDS client IMDSRole uses (*imds.Client fits it).
type IMDSAPI interface {
	GetMetadata(ctx context.Context, params *imds.GetMetadataInput, optFns ...func(*imds.Options)) (*imds.GetMetadataOutput, error)
}

var _ IMDSAPI = (*imds.Client)(nil)

// IMDSRole reads the role from instance metadata (IMDSv2 only: the client fetches and
// refreshes the session token itself, and never sends a request without one). A MAC
// whose interface-id answers 404 is skipped, not fatal. The instance id is read once; the interfaces are
// read on every call, because a failover moves the ENI.
type IMDSRole struct {
	client IMDSAPI
	eniID  string

	mu         sync.Mutex
	instanceID string
}

// NewIMDSRole returns a role source for the ENI eniID. endpoint overrides the IMDS
// address ("" is the EC2 default). It speaks IMDSv2 only (NewIMDSClient).
func NewIMDSRole(eniID, endpoint string) *IMDSRole {
	return NewIMDSRoleWith(NewIMDSClient(endpoint), eniID)
}

// NewIMDSClient returns an IMDS client that never falls back to IMDSv1: by default the
// SDK's client, after one failed token request, sends requests without a token for the
// life of the process. Here a failed token request fails that call only, and the next
// call asks for a token again.
func NewIMDSClient(endpoint string) *imds.Client {
	return imds.New(imds.Options{Endpoint: endpoint, EnableFallback: aws.FalseTernary})
}

// NewIMDSRoleWith returns a role source that uses client.
func NewIMDSRoleWith(client IMDSAPI, eniID string) *IMDSRole {
	return &IMDSRole{client: client, eniID: eniID}
}

// Role implements RoleSource.
func (r *IMDSRole) Role(ctx context.Context) (Role, error) {
	id, err := r.instance(ctx)
	if err != nil {
		return Role{}, err
	}
	macs, err := r.get(ctx, "network/interfaces/macs/")
	if err != nil {
		return Role{}, fmt.Errorf("listing network interfaces of %s: %w", id, err)
	}
	for _, line := range strings.Fields(macs) {
		mac := strings.TrimSuffix(line, "/")
		if mac == "" {
			continue
		}
		eni, err := r.get(ctx, "network/interfaces/macs/"+mac+"/interface-id")
		if notFound(err) {
			// An interface that is going away (or not yet fully listed) answers 404 for
			// a moment: it is not the coordinator ENI now, and the others still count.
			continue
		}
		if err != nil {
			return Role{}, fmt.Errorf("reading interface id of MAC %s on %s: %w", mac, id, err)
		}
		if strings.TrimSpace(eni) == r.eniID {
			return Role{InstanceID: id, HoldsENI: true}, nil
		}
	}
	return Role{InstanceID: id}, nil
}

func (r *IMDSRole) instance(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.instanceID != "" {
		return r.instanceID, nil
	}
	id, err := r.get(ctx, "instance-id")
	if err != nil {
		return "", fmt.Errorf("reading instance id: %w", err)
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("reading instance id: empty answer")
	}
	r.instanceID = id
	return id, nil
}

func (r *IMDSRole) get(ctx context.Context, path string) (string, error) {
	out, err := r.client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 64<<10))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// notFound reports whether an IMDS error is HTTP 404.
func notFound(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return err != nil && errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// StaticRole is a RoleSource with a fixed answer that can be changed (tests, drills).
type StaticRole struct {
	mu   sync.Mutex
	role Role
	err  error
}

// NewStaticRole returns a StaticRole answering role.
func NewStaticRole(role Role) *StaticRole { return &StaticRole{role: role} }

// Set changes the answer (and clears any error).
func (s *StaticRole) Set(role Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.role, s.err = role, nil
}

// Fail makes Role return err until the next Set.
func (s *StaticRole) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Role implements RoleSource.
func (s *StaticRole) Role(context.Context) (Role, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.role, s.err
}

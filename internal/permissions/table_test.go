package permissions

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	if len(Actions) != len(Callers) {
		t.Fatalf("Actions has %d callers, Callers lists %d", len(Actions), len(Callers))
	}
	all := map[string][]string{"boot": BootActions}
	for _, c := range Callers {
		a, ok := Actions[c]
		if !ok {
			t.Fatalf("caller %s has no actions", c)
		}
		all[c] = a
	}
	for caller, actions := range all {
		if len(actions) == 0 {
			t.Errorf("%s: no actions", caller)
		}
		if !slices.IsSorted(actions) || len(slices.Compact(slices.Clone(actions))) != len(actions) {
			t.Errorf("%s: actions not sorted and unique: %v", caller, actions)
		}
		for _, a := range actions {
			svc, op, ok := strings.Cut(a, ":")
			if !ok || svc == "" || op == "" || strings.ContainsAny(a, "*?") {
				t.Errorf("%s: %q is not one exact service:Operation action", caller, a)
			}
			if _, ok := Scopes[a]; !ok {
				t.Errorf("%s: %s has no scope", caller, a)
			}
		}
	}
	for a, s := range Scopes {
		if s.String() == "" || strings.HasPrefix(s.String(), "scope(") {
			t.Errorf("%s: unnamed scope %d", a, s)
		}
	}
}

func TestByScope(t *testing.T) {
	got := ByScope([]string{"ec2:CreateTags", "ec2:DescribeInstances", "ec2:AttachNetworkInterface", "sns:Publish"})
	want := map[Scope][]string{
		GroupInstances: {"ec2:AttachNetworkInterface", "ec2:CreateTags"},
		AnyResource:    {"ec2:DescribeInstances"},
		Topic:          {"sns:Publish"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ByScope = %v, want %v", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("ByScope accepted an action without a scope")
		}
	}()
	ByScope([]string{"iam:PassRole"})
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name            string
		called, granted []string
		missing, unused []string
	}{
		{"equal", []string{"a:B", "c:D"}, []string{"c:D", "a:B"}, nil, nil},
		{"missing", []string{"a:B", "c:D"}, []string{"a:B"}, []string{"c:D"}, nil},
		{"unused", []string{"a:B"}, []string{"a:B", "e:F"}, nil, []string{"e:F"}},
		{"both", []string{"x:Y"}, []string{"a:B"}, []string{"x:Y"}, []string{"a:B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, u := Diff(tt.called, tt.granted)
			if !reflect.DeepEqual(m, tt.missing) || !reflect.DeepEqual(u, tt.unused) {
				t.Fatalf("Diff = %v, %v; want %v, %v", m, u, tt.missing, tt.unused)
			}
		})
	}
	if Service("ec2:CreateTags") != "ec2" {
		t.Fatal("Service")
	}
}

// Package cdktest holds what the infra/ tests share: a fake asset directory (so CDK unit
// tests do not need `make build`), a panic-to-failure wrapper for CDK assertions (an
// assertion failure in CDK Go is a panic), and template helpers.
package cdktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/prestoha/coordinator-ha/internal/statemachine"
)

// Lambdas are the Lambda asset directories the stack expects under lambda/.
var Lambdas = statemachine.Lambdas

// FakeAssets writes the layout `make build` produces (lambda/<name>/bootstrap, and
// agent/coordinator-agent-linux-{arm64,amd64}) with placeholder contents into a new
// temporary directory, and returns it.
func FakeAssets() (string, error) {
	dir, err := os.MkdirTemp("", "infra-assets-")
	if err != nil {
		return "", err
	}
	write := func(rel, content string) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o755)
	}
	for _, n := range Lambdas {
		if err := write(filepath.Join("lambda", n, "bootstrap"), "fake "+n); err != nil {
			return "", err
		}
	}
	for _, a := range []string{"arm64", "amd64"} {
		if err := write(filepath.Join("agent", "coordinator-agent-linux-"+a), "fake agent "+a); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// Main is the TestMain of a CDK test package: it writes the fake assets, lets build
// synthesize the package's one stack from them (every test then asserts on that
// template, because each synthesis is slow), runs the tests, removes the assets and
// closes the jsii runtime. It exits with the tests' code, or 1 when build fails.
func Main(m *testing.M, build func(assets string) error) {
	os.Exit(func() int {
		defer jsii.Close()
		assets, err := FakeAssets()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(assets)
		if err := build(assets); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// Check runs a CDK assertion and turns its panic into a test failure named what.
func Check(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// JSON returns the template as plain Go values.
func JSON(t *testing.T, tpl assertions.Template) map[string]any {
	t.Helper()
	b, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatalf("encoding template: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding template: %v", err)
	}
	return m
}

// OfType returns the resources of a type by logical id.
func OfType(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := tpl["Resources"].(map[string]any)
	for id, r := range res {
		m, _ := r.(map[string]any)
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// Props returns a resource's Properties.
func Props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// Keys returns the sorted keys of a map.
func Keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Flatten renders a value (e.g. a user data Fn::Join) as one string for substring checks;
// intrinsic functions appear as their JSON.
func Flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			s := ""
			for _, p := range parts {
				s += Flatten(p)
			}
			return s
		}
		if b, ok := x["Fn::Base64"]; ok {
			return Flatten(b)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Statements returns every IAM statement of the AWS::IAM::Policy resources whose
// Roles reference roleLogicalID.
func Statements(tpl map[string]any, roleLogicalID string) []map[string]any {
	var out []map[string]any
	for _, pol := range OfType(tpl, "AWS::IAM::Policy") {
		p := Props(pol)
		roles, _ := p["Roles"].([]any)
		match := false
		for _, r := range roles {
			if m, ok := r.(map[string]any); ok && m["Ref"] == roleLogicalID {
				match = true
			}
		}
		if !match {
			continue
		}
		doc, _ := p["PolicyDocument"].(map[string]any)
		sts, _ := doc["Statement"].([]any)
		for _, s := range sts {
			if m, ok := s.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// Actions returns a statement's actions as a list.
func Actions(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// CheckovSkips returns the check ids of resource r's checkov skips (Metadata.checkov.skip,
// in order) and fails t for a skip without an id or a comment.
func CheckovSkips(t *testing.T, id string, r map[string]any) []string {
	t.Helper()
	md, _ := r["Metadata"].(map[string]any)
	ck, _ := md["checkov"].(map[string]any)
	skips, _ := ck["skip"].([]any)
	var ids []string
	for _, x := range skips {
		s, _ := x.(map[string]any)
		check, _ := s["id"].(string)
		comment, _ := s["comment"].(string)
		if check == "" || strings.TrimSpace(comment) == "" {
			t.Errorf("%s: checkov skip %v without an id or a comment", id, s)
		}
		ids = append(ids, check)
	}
	return ids
}

// Eval evaluates a template value built from strings, the pseudo parameters in pseudo
// (by name, e.g. "AWS::StackId"), Fn::Join, Fn::Select and Fn::Split, the way
// CloudFormation would. It fails on anything else (a reference to a resource or
// parameter, another intrinsic), so a value that Eval accepts depends on no resource.
func Eval(v any, pseudo map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := Eval(e, pseudo)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) != 1 {
			return nil, fmt.Errorf("not one intrinsic function: %v", x)
		}
		for fn, arg := range x {
			args, _ := arg.([]any)
			switch fn {
			case "Ref":
				name, _ := arg.(string)
				if val, ok := pseudo[name]; ok {
					return val, nil
				}
				return nil, fmt.Errorf("reference %v: not a given pseudo parameter", arg)
			case "Fn::Join":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Join %v", arg)
				}
				sep, _ := args[0].(string)
				parts, err := Eval(args[1], pseudo)
				if err != nil {
					return nil, err
				}
				list, _ := parts.([]any)
				var ss []string
				for _, p := range list {
					s, ok := p.(string)
					if !ok {
						return nil, fmt.Errorf("Fn::Join part %v is not a string", p)
					}
					ss = append(ss, s)
				}
				return strings.Join(ss, sep), nil
			case "Fn::Split":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Split %v", arg)
				}
				sep, _ := args[0].(string)
				s, err := Eval(args[1], pseudo)
				if err != nil {
					return nil, err
				}
				str, ok := s.(string)
				if !ok {
					return nil, fmt.Errorf("Fn::Split of %v", s)
				}
				var out []any
				for _, p := range strings.Split(str, sep) {
					out = append(out, p)
				}
				return out, nil
			case "Fn::Select":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Select %v", arg)
				}
				i, ok := args[0].(float64)
				if !ok {
					return nil, fmt.Errorf("Fn::Select index %v", args[0])
				}
				l, err := Eval(args[1], pseudo)
				if err != nil {
					return nil, err
				}
				list, _ := l.([]any)
				if int(i) < 0 || int(i) >= len(list) {
					return nil, fmt.Errorf("Fn::Select %v out of %v", i, list)
				}
				return list[int(i)], nil
			}
			return nil, fmt.Errorf("%s: not evaluated", fn)
		}
	}
	return nil, fmt.Errorf("cannot evaluate %v", v)
}

// EvalString is Eval for a value that must be a string.
func EvalString(v any, pseudo map[string]string) (string, error) {
	r, err := Eval(v, pseudo)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", r)
	}
	return s, nil
}

// Dependencies returns, for each resource, the resources it depends on: its DependsOn,
// and every Ref, Fn::GetAtt and ${Name} (or ${Name.Attr}) of Fn::Sub in its Properties,
// Metadata, CreationPolicy and UpdatePolicy that names another resource.
func Dependencies(tpl map[string]any) map[string][]string {
	res, _ := tpl["Resources"].(map[string]any)
	sub := regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z0-9.]+)?\}`)
	out := map[string][]string{}
	for id, r := range res {
		m, _ := r.(map[string]any)
		seen := map[string]bool{}
		add := func(n string) {
			if _, ok := res[n]; ok && n != id && !seen[n] {
				seen[n] = true
				out[id] = append(out[id], n)
			}
		}
		switch d := m["DependsOn"].(type) {
		case string:
			add(d)
		case []any:
			for _, x := range d {
				s, _ := x.(string)
				add(s)
			}
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
					add(ref)
				}
				if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
					s, _ := ga[0].(string)
					add(s)
				}
				if s, ok := x["Fn::Sub"]; ok {
					str, _ := s.(string)
					if l, ok := s.([]any); ok && len(l) > 0 {
						str, _ = l[0].(string)
					}
					for _, mm := range sub.FindAllStringSubmatch(str, -1) {
						add(mm[1])
					}
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		for _, k := range []string{"Properties", "Metadata", "CreationPolicy", "UpdatePolicy"} {
			walk(m[k])
		}
		sort.Strings(out[id])
	}
	return out
}

// Cycle returns a dependency cycle among the template's resources (the first resource
// repeated at the end), or nil when CloudFormation can order them all.
func Cycle(tpl map[string]any) []string {
	deps := Dependencies(tpl)
	res, _ := tpl["Resources"].(map[string]any)
	ids := Keys(res)
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				found = append(append([]string{}, stack[i:]...), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, id := range ids {
		if color[id] == white && visit(id) {
			return found
		}
	}
	return nil
}

package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/prestoha/coordinator-ha/infra/internal/cdktest"
	"github.com/prestoha/coordinator-ha/internal/config"
	"github.com/prestoha/coordinator-ha/internal/operator"
)

// One synthesis for the whole package (each jsii start is slow): the full stack with
// fake assets and cdk-nag's AwsSolutions pack applied as an aspect.
var (
	st     *Stack
	tpl    assertions.Template
	raw    map[string]any
	tplDir string
)

func TestMain(m *testing.M) {
	cdktest.Main(m, func(assets string) error {
		tplDir = filepath.Join(assets, "cdk.out") // removed with the assets
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(tplDir)})
		awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
		st = New(app, "CoordinatorHA-test", &Props{Cluster: "test", AssetDir: assets})
		tpl = assertions.Template_FromStack(st.Stack, nil)
		return nil
	})
}

func TestParameters(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	n := func(v float64) *float64 { return &v }
	cases := []struct {
		name  string
		props map[string]any
	}{
		{ParamHACount, map[string]any{"Type": "Number", "Default": n(2), "MinValue": n(1), "MaxValue": n(5)}},
		{ParamKeep, map[string]any{"Type": "String", "Default": "no", "AllowedValues": []string{"yes", "no"}}},
		{ParamVpc, map[string]any{"Type": "AWS::EC2::VPC::Id"}},
		{ParamSubnet, map[string]any{"Type": "AWS::EC2::Subnet::Id"}},
		{ParamInstanceType, map[string]any{"Type": "String", "Default": DefaultInstanceType}},
		{ParamImage, map[string]any{"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": DefaultImageParam}},
		{ParamKeyName, map[string]any{"Type": "String", "Default": ""}},
		{ParamPort, map[string]any{"Type": "Number", "Default": n(8080), "MinValue": n(1), "MaxValue": n(65535)}},
		{ParamGrace, map[string]any{"Type": "Number", "Default": n(20), "MinValue": n(15), "MaxValue": n(300)}},
		{ParamInterval, map[string]any{"Type": "Number", "Default": n(5), "MinValue": n(5), "MaxValue": n(60)}},
		{ParamEmail, map[string]any{"Type": "String", "Default": ""}},
		{ParamClientCidr, map[string]any{"Type": "String", "Default": ""}},
		{ParamClientSG, map[string]any{"Type": "String", "Default": ""}},
		{ParamPrivateIP, map[string]any{"Type": "String", "Default": ""}},
		{ParamPinnedImage, map[string]any{"Type": "String", "Default": ""}},
		{ParamConcurrency, map[string]any{"Type": "String", "Default": "unreserved", "AllowedValues": []string{"unreserved", "reserved"}}},
	}
	for _, c := range cases {
		cdktest.Check(t, "parameter "+c.name, func() { tpl.HasParameter(jsii.String(c.name), c.props) })
	}
	// Every user parameter is in exactly one console group and has a label.
	params, _ := raw["Parameters"].(map[string]any)
	iface := raw["Metadata"].(map[string]any)["AWS::CloudFormation::Interface"].(map[string]any)
	labels := iface["ParameterLabels"].(map[string]any)
	seen := map[string]int{}
	for _, g := range iface["ParameterGroups"].([]any) {
		for _, p := range g.(map[string]any)["Parameters"].([]any) {
			seen[p.(string)]++
		}
	}
	for name := range params {
		if name == "BootstrapVersion" { // CDK's own, hidden from the groups on purpose
			continue
		}
		if seen[name] != 1 {
			t.Errorf("parameter %s is in %d console groups, want 1", name, seen[name])
		}
		if _, ok := labels[name]; !ok {
			t.Errorf("parameter %s has no console label", name)
		}
		if d, _ := params[name].(map[string]any)["Description"].(string); d == "" {
			t.Errorf("parameter %s has no description", name)
		}
	}
	if len(seen) != len(cases) {
		t.Errorf("console groups list %d parameters, the stack declares %d", len(seen), len(cases))
	}
	// Patterns of the optional parameters accept empty and a sample, and reject junk.
	for _, c := range []struct{ param, good, bad string }{
		{ParamEmail, "ops@example.com", "not-an-email"},
		{ParamClientCidr, "10.0.0.0/16", "10.0.0.0"},
		{ParamClientCidr, "192.168.1.7/32", "0.0.0.0/0"},
		{ParamClientCidr, "10.0.0.0/8", "8.0.0.0/8"},          // a public /8
		{ParamClientCidr, "10.1.2.0/24", "999.1.1.1/8"},       // not an address
		{ParamClientCidr, "172.16.0.0/12", "172.32.0.0/16"},   // outside 172.16.0.0/12
		{ParamClientCidr, "172.31.255.0/24", "172.16.0.0/11"}, // wider than the range
		{ParamClientCidr, "192.168.0.0/16", "192.169.0.0/16"},
		{ParamClientCidr, "192.168.10.0/24", "192.168.0.0/15"},
		{ParamClientCidr, "100.64.0.0/10", "100.128.0.0/10"},
		{ParamClientCidr, "10.255.255.255/32", "10.256.0.0/16"},
		{ParamClientCidr, "10.0.0.0/32", "10.0.0.0/33"},
		{ParamPrivateIP, "10.0.1.255", "10.0.1.256"},
		{ParamPinnedImage, "ami-0123456789abcdef0", "ami-123"},
		{ParamClientSG, "sg-0123456789abcdef0", "group"},
		{ParamPrivateIP, "10.0.1.10", "10.0.1.10/32"},
		{ParamInstanceType, "m7g.xlarge", "M7G"},
	} {
		pat := params[c.param].(map[string]any)["AllowedPattern"].(string)
		if err := checkPattern(pat, c.good, c.bad, c.param != ParamInstanceType); err != nil {
			t.Errorf("%s: %v", c.param, err)
		}
	}
}

func TestConditionsAndMapping(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	conds := raw["Conditions"].(map[string]any)
	for _, c := range []string{"HasKeyName", "HasCoordinatorPrivateIp", "HasNotificationEmail", "HasClientCidr", "HasClientSecurityGroup", "HasStandbys", "HasPinnedImageId", "ReserveLambdaConcurrency"} {
		if _, ok := conds[c]; !ok {
			t.Errorf("condition %s missing", c)
		}
	}
	pool := raw["Mappings"].(map[string]any)["PoolSize"].(map[string]any)
	for i := 1; i <= 5; i++ {
		if got := pool[fmt.Sprint(i)].(map[string]any)["Max"]; got != fmt.Sprint(i+1) {
			t.Errorf("PoolSize[%d].Max = %v, want %d", i, got, i+1)
		}
	}
	cdktest.Check(t, "ASG sizing", func() {
		tpl.HasResourceProperties(jsii.String("AWS::AutoScaling::AutoScalingGroup"), map[string]any{
			"MinSize":           map[string]any{"Ref": ParamHACount},
			"DesiredCapacity":   map[string]any{"Ref": ParamHACount},
			"MaxSize":           map[string]any{"Fn::FindInMap": []any{"PoolSize", map[string]any{"Ref": ParamHACount}, "Max"}},
			"VPCZoneIdentifier": []any{map[string]any{"Ref": ParamSubnet}},
		})
	})
	cdktest.Check(t, "ENI in the subnet with the optional fixed IP", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::NetworkInterface"), map[string]any{
			"SubnetId":         map[string]any{"Ref": ParamSubnet},
			"PrivateIpAddress": map[string]any{"Fn::If": []any{"HasCoordinatorPrivateIp", map[string]any{"Ref": ParamPrivateIP}, map[string]any{"Ref": "AWS::NoValue"}}},
		})
	})
	cdktest.Check(t, "email subscription under its condition", func() {
		tpl.HasResource(jsii.String("AWS::SNS::Subscription"), map[string]any{
			"Condition":  "HasNotificationEmail",
			"Properties": map[string]any{"Protocol": "email", "Endpoint": map[string]any{"Ref": ParamEmail}},
		})
	})
	cdktest.Check(t, "standby alarm under HasStandbys", func() {
		tpl.HasResource(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
			"Condition":  "HasStandbys",
			"Properties": map[string]any{"AlarmDescription": assertions.Match_StringLikeRegexp(jsii.String("^No healthy standby")), "ComparisonOperator": "LessThanThreshold", "Threshold": 1},
		})
	})
	cdktest.Check(t, "health check gets KeepCoordinatorNode and the timings", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
				"KEEP_COORDINATOR_NODE":  map[string]any{"Ref": ParamKeep},
				"GRACE_SECONDS":          map[string]any{"Ref": ParamGrace},
				"CHECK_INTERVAL_SECONDS": map[string]any{"Ref": ParamInterval},
				"HA_COORDINATORS_COUNT":  map[string]any{"Ref": ParamHACount},
			})},
		})
	})
}

// TestRulesAndImage: the subnet must belong to VpcId (checked before anything is
// created), and a pinned AMI overrides the SSM parameter that CloudFormation re-reads on
// every deploy.
func TestRulesAndImage(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	rule := cdktest.Flatten(raw["Rules"].(map[string]any)["SubnetInVpc"])
	if want := `{"Assertions":[{"Assert":{"Fn::EachMemberEquals":[{"Fn::ValueOfAll":["AWS::EC2::Subnet::Id","VpcId"]},{"Ref":"` + ParamVpc + `"}]},"AssertDescription":"` + ParamSubnet + ` must be a subnet of ` + ParamVpc + `"}]}`; rule != want {
		t.Errorf("rules %s, want %s", rule, want)
	}
	cdktest.Check(t, "launch template image: pinned, else the SSM parameter", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::LaunchTemplate"), map[string]any{
			"LaunchTemplateData": assertions.Match_ObjectLike(&map[string]any{
				"ImageId": map[string]any{"Fn::If": []any{"HasPinnedImageId", map[string]any{"Ref": ParamPinnedImage}, map[string]any{"Ref": ParamImage}}},
			}),
		})
	})
	cdktest.Check(t, "CreationPolicy and UpdatePolicy follow HACoordinatorsCount", func() {
		tpl.HasResource(jsii.String("AWS::AutoScaling::AutoScalingGroup"), map[string]any{
			"CreationPolicy": map[string]any{"ResourceSignal": map[string]any{"Count": map[string]any{"Ref": ParamHACount}, "Timeout": "PT20M"}},
			"UpdatePolicy": map[string]any{"AutoScalingRollingUpdate": assertions.Match_ObjectLike(&map[string]any{
				"MinInstancesInService": map[string]any{"Ref": ParamHACount}, "MaxBatchSize": 1, "WaitOnResourceSignals": true})},
		})
	})
	// A Presto port change reaches running hosts: the port is in the user data, so the
	// launch template changes and the UpdatePolicy rolls the pool.
	for _, lt := range cdktest.OfType(raw, "AWS::EC2::LaunchTemplate") {
		ud := cdktest.Flatten(cdktest.Props(lt)["LaunchTemplateData"].(map[string]any)["UserData"])
		if !strings.Contains(ud, `PORT='{"Ref":"`+ParamPort+`"}'`) {
			t.Errorf("user data does not carry %s", ParamPort)
		}
	}
}

func TestOutputs(t *testing.T) {
	for _, o := range append([]string{OutURL, OutSSH, OutConsole, OutDashboard, OutENI, OutENIIP, OutASG, OutClusterSG, OutStateMachine, OutTopic},
		operator.RequiredOutputs...) {
		cdktest.Check(t, "output "+o, func() { tpl.HasOutput(jsii.String(o), map[string]any{}) })
	}
	raw = cdktest.JSON(t, tpl)
	outs := raw["Outputs"].(map[string]any)
	url := cdktest.Flatten(outs[OutURL].(map[string]any)["Value"])
	if !strings.HasPrefix(url, "http://") || !strings.Contains(url, "PrimaryPrivateIpAddress") || !strings.Contains(url, `"Ref":"`+ParamPort+`"`) {
		t.Errorf("%s = %s, want http://<ENI IP>:<port>", OutURL, url)
	}
	ssh := cdktest.Flatten(outs[OutSSH].(map[string]any)["Value"])
	if !strings.HasPrefix(ssh, "ssh ec2-user@") || !strings.Contains(ssh, "PrimaryPrivateIpAddress") {
		t.Errorf("%s = %s", OutSSH, ssh)
	}
	if c := cdktest.Flatten(outs[OutConsole].(map[string]any)["Value"]); !strings.Contains(c, "/states/home?region=") {
		t.Errorf("%s = %s", OutConsole, c)
	}
	if c := cdktest.Flatten(outs[OutDashboard].(map[string]any)["Value"]); !strings.Contains(c, "#dashboards:name=") {
		t.Errorf("%s = %s", OutDashboard, c)
	}
	// The operator command's: the cluster's name, the hosts' role id (a GetAtt of the
	// role), the health check's own log group (a Ref to it).
	if c := cdktest.Flatten(outs[OutCluster].(map[string]any)["Value"]); c != "test" {
		t.Errorf("%s = %s", OutCluster, c)
	}
	if c := cdktest.Flatten(outs[OutHostRoleID].(map[string]any)["Value"]); !strings.Contains(c, "RoleId") {
		t.Errorf("%s = %s, want the role's RoleId", OutHostRoleID, c)
	}
	if c := cdktest.Flatten(outs[OutHealthCheckLogs].(map[string]any)["Value"]); !strings.Contains(c, "HealthCheckLogs") {
		t.Errorf("%s = %s, want a Ref to the health check's log group", OutHealthCheckLogs, c)
	}
	// The dashboard shows the pauses: the Paused metric and the health check's log lines.
	for _, d := range cdktest.OfType(raw, "AWS::CloudWatch::Dashboard") {
		body := cdktest.Flatten(cdktest.Props(d)["DashboardBody"])
		if !strings.Contains(body, `filter msg = \"failover paused\"`) || !strings.Contains(body, `HealthCheckLogs`) {
			t.Errorf("the dashboard lacks the pause log widget")
		}
	}
}

func TestResourceCounts(t *testing.T) {
	for typ, n := range map[string]float64{
		"AWS::Lambda::Function":               6,
		"AWS::CloudFormation::CustomResource": 0, // typed Custom::CoordinatorTeardown, counted below
		"Custom::CoordinatorTeardown":         1,
		"AWS::StepFunctions::StateMachine":    1,
		"AWS::Events::Rule":                   1,
		"AWS::SNS::Topic":                     1,
		"AWS::KMS::Key":                       1,
		"AWS::EC2::NetworkInterface":          1,
		"AWS::EC2::LaunchTemplate":            1,
		"AWS::AutoScaling::AutoScalingGroup":  1,
		"AWS::SecretsManager::Secret":         1,
		"AWS::CloudWatch::Dashboard":          1,
		"AWS::CloudWatch::Alarm":              4,
		"AWS::EC2::SecurityGroup":             2,
		"AWS::Logs::LogGroup":                 7,
		"AWS::IAM::Role":                      8,
	} {
		cdktest.Check(t, typ, func() { tpl.ResourceCountIs(jsii.String(typ), jsii.Number(n)) })
	}
}

// TestLeastPrivilege: no role has a managed policy or an action wildcard beyond the
// ones CDK writes for asset reads, and no statement allows "*" as an action.
func TestLeastPrivilege(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	for id, r := range cdktest.OfType(raw, "AWS::IAM::Role") {
		if m, ok := cdktest.Props(r)["ManagedPolicyArns"]; ok {
			t.Errorf("role %s has managed policies %v", id, m)
		}
	}
	allowedWildcards := map[string]bool{"s3:GetObject*": true, "s3:GetBucket*": true, "s3:List*": true}
	for id, pol := range cdktest.OfType(raw, "AWS::IAM::Policy") {
		doc := cdktest.Props(pol)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			for _, a := range cdktest.Actions(s.(map[string]any)) {
				if a == "*" || strings.HasSuffix(a, ":*") || (strings.Contains(a, "*") && !allowedWildcards[a]) {
					t.Errorf("policy %s allows wildcard action %s", id, a)
				}
			}
		}
	}
}

// TestCdkNag: the AwsSolutions pack finds nothing that is not suppressed with a reason.
func TestCdkNag(t *testing.T) {
	ann := assertions.Annotations_FromStack(st.Stack)
	nagRule := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	errs := ann.FindError(jsii.String("*"), nagRule)
	warns := ann.FindWarning(jsii.String("*"), nagRule)
	for _, m := range append(*errs, *warns...) {
		t.Errorf("cdk-nag %s at %s: %v", m.Level, *m.Id, m.Entry.Data)
	}
	// Every suppression in the template carries a reason.
	raw = cdktest.JSON(t, tpl)
	count := 0
	for id, r := range raw["Resources"].(map[string]any) {
		md, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, x := range rules {
			rule := x.(map[string]any)
			count++
			if reason, _ := rule["reason"].(string); len(reason) < 40 {
				t.Errorf("%s: suppression %v has no real reason", id, rule["id"])
			}
		}
	}
	if count == 0 {
		t.Error("no cdk-nag suppression metadata found: the check above cannot be trusted")
	}
	t.Logf("cdk-nag: %d errors, %d warnings, %d suppressions", len(*errs), len(*warns), count)
}

// TestCheckov: what make scan's checkov sees. Every Lambda and log group carries its
// skips with a comment; the step Lambdas have reserved
// concurrency; the host-key secret is encrypted with the stack's key and skips nothing.
func TestCheckov(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	want := map[string]string{
		"AWS::Lambda::Function": "CKV_AWS_117 CKV_AWS_116 CKV_AWS_173",
		"AWS::Logs::LogGroup":   "CKV_AWS_158",
	}
	skipped := 0
	for id, r := range raw["Resources"].(map[string]any) {
		res := r.(map[string]any)
		got := strings.Join(cdktest.CheckovSkips(t, id, res), " ")
		w := want[res["Type"].(string)]
		if strings.HasPrefix(id, "ControlPlaneTeardown") && res["Type"] == "AWS::Lambda::Function" {
			w = "CKV_AWS_117 CKV_AWS_173 CKV_AWS_116 CKV_AWS_115" // the delete-time step
		}
		if got != w {
			t.Errorf("%s (%s): checkov skips %q, want %q", id, res["Type"], got, w)
		}
		if got != "" {
			skipped++
		}
	}
	if skipped != 6+7 {
		t.Errorf("%d resources with checkov skips, want 13 (6 Lambdas, 7 log groups)", skipped)
	}
	// Reserved concurrency only with LambdaConcurrency=reserved (a new account's limit
	// of 10 allows no reservation at all).
	for id, fn := range cdktest.OfType(raw, "AWS::Lambda::Function") {
		rc := cdktest.Flatten(cdktest.Props(fn)["ReservedConcurrentExecutions"])
		if strings.HasPrefix(id, "ControlPlaneTeardown") { // runs once, at deletion: never reserved
			if _, ok := cdktest.Props(fn)["ReservedConcurrentExecutions"]; ok {
				t.Errorf("%s: reserved concurrency %s, want none", id, rc)
			}
		} else if !regexp.MustCompile(`^\{"Fn::If":\["ReserveLambdaConcurrency",[28],\{"Ref":"AWS::NoValue"\}\]\}$`).MatchString(rc) {
			t.Errorf("%s: reserved concurrency %s, want Fn::If(ReserveLambdaConcurrency, 2 (steps) or 8 (health check), NoValue)", id, rc)
		}
		if tr := cdktest.Flatten(cdktest.Props(fn)["TracingConfig"]); tr != `{"Mode":"Active"}` {
			t.Errorf("%s: tracing %s, want Active", id, tr)
		}
	}
	for id, s := range cdktest.OfType(raw, "AWS::SecretsManager::Secret") {
		if k := cdktest.Flatten(cdktest.Props(s)["KmsKeyId"]); !strings.Contains(k, "NotificationsKey") {
			t.Errorf("%s: KmsKeyId %s, want the stack's key", id, k)
		}
	}
}

// TestCfnLint runs the pinned cfn-lint (make venv) on the synthesized template: no
// errors, no warnings and no informational findings (--include-checks I), but I1022
// ("prefer Fn::Sub over Fn::Join"): CDK writes every string with a token in it as an
// Fn::Join, so the rule would flag CDK's output, not a choice of this stack.
func TestCfnLint(t *testing.T) {
	lint, err := filepath.Abs("../../.venv/bin/cfn-lint")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lint); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cfn-lint not installed at %s (make venv): %v", lint, err)
		}
		t.Skipf("cfn-lint not installed at %s; run `make venv` (make test does)", lint)
	}
	path := filepath.Join(tplDir, "lint.template.json")
	b, err := json.MarshalIndent(tpl.ToJSON(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lint, "--include-checks", "I", "--ignore-checks", "I1022", "--format", "parseable", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

func checkPattern(pat, good, bad string, emptyOK bool) error {
	re, err := compileCfnPattern(pat)
	if err != nil {
		return err
	}
	if !re.MatchString(good) {
		return fmt.Errorf("pattern %s rejects %q", pat, good)
	}
	if re.MatchString(bad) {
		return fmt.Errorf("pattern %s accepts %q", pat, bad)
	}
	if re.MatchString("") != emptyOK {
		return fmt.Errorf("pattern %s: empty accepted = %v, want %v", pat, !emptyOK, emptyOK)
	}
	return nil
}

// TestDoorbell: the agents ring the health check (issue 14). The function's name
// depends on the stack id alone, so the host role's policy (which the group waits for)
// and the user data name it without a reference to the function, whose environment
// names the group: no dependency cycle. The host policy's doorbell statement names
// exactly that function's ARN, the user data hands the same name to the agent, and the
// health check knows the agents ring.
func TestDoorbell(t *testing.T) {
	raw = cdktest.JSON(t, tpl)
	if c := cdktest.Cycle(raw); c != nil {
		t.Fatalf("dependency cycle: %s", strings.Join(c, " -> "))
	}
	const uuid = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	pseudo := map[string]string{
		"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1", "AWS::AccountId": "111122223333",
		"AWS::StackId": "arn:aws-cn:cloudformation:cn-north-1:111122223333:stack/CoordinatorHA-test/" + uuid,
	}
	var hc map[string]any
	for id, fn := range cdktest.OfType(raw, "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "ControlPlaneHealthCheck") {
			hc = cdktest.Props(fn)
		}
	}
	if hc == nil {
		t.Fatal("no health check function")
	}
	name, err := cdktest.EvalString(hc["FunctionName"], pseudo)
	if err != nil {
		t.Fatalf("health check FunctionName %v: %v (it must depend on the stack id only)", hc["FunctionName"], err)
	}
	if name != "coordinator-ha-"+uuid || len(name) != 51 {
		t.Errorf("health check named %q (%d characters), want coordinator-ha-<the stack id's UUID> (51)", name, len(name))
	}
	env, _ := hc["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env[config.EnvDoorbell] != "yes" {
		t.Errorf("health check %s = %v, want yes", config.EnvDoorbell, env[config.EnvDoorbell])
	}

	// The host role: one doorbell statement, on exactly that function.
	var hostRole string
	for id := range cdktest.OfType(raw, "AWS::IAM::Role") {
		if strings.HasPrefix(id, "CoordinatorRole") {
			hostRole = id
		}
	}
	wantARN := "arn:aws-cn:lambda:cn-north-1:111122223333:function:" + name
	var invokes int
	for _, pol := range cdktest.OfType(raw, "AWS::IAM::Policy") {
		doc := cdktest.Props(pol)["PolicyDocument"].(map[string]any)
		roles := cdktest.Flatten(cdktest.Props(pol)["Roles"])
		for _, s := range doc["Statement"].([]any) {
			stmt := s.(map[string]any)
			if !slices.Contains(cdktest.Actions(stmt), "lambda:InvokeFunction") || !strings.Contains(roles, `"`+hostRole+`"`) {
				continue
			}
			invokes++
			arn, err := cdktest.EvalString(stmt["Resource"], pseudo)
			if err != nil || arn != wantARN || stmt["Sid"] != "HealthCheckDoorbell" || stmt["Effect"] != "Allow" {
				t.Errorf("host doorbell statement %v on %q (%v), want Allow on %s", stmt, arn, err, wantARN)
			}
		}
	}
	if invokes != 1 {
		t.Errorf("%d host statements grant lambda:InvokeFunction, want 1", invokes)
	}

	// The agent gets the same name in its environment.
	var ud string
	for _, lt := range cdktest.OfType(raw, "AWS::EC2::LaunchTemplate") {
		ud = cdktest.Flatten(cdktest.Props(lt)["LaunchTemplateData"].(map[string]any)["UserData"])
	}
	if want := "DOORBELL_FUNCTION='" + cdktest.Flatten(hc["FunctionName"]) + "'\n"; !strings.Contains(ud, want) {
		t.Errorf("user data lacks %q", want)
	}
	if !strings.Contains(ud, `"AGENT_DOORBELL_FUNCTION=$DOORBELL_FUNCTION"`) {
		t.Error("the boot script does not write AGENT_DOORBELL_FUNCTION into the agent's environment")
	}
}

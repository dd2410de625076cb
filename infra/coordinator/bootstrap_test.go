package coordinator

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/prestoha/coordinator-ha/internal/permissions"
)

// The boot script, tested by execution: the rendered user data runs under bash in a
// sandbox, with a fake root (COORDINATOR_HA_ROOT) and stub commands in front of PATH
// (aws, systemctl, systemd-run, curl, uname, sleep, sshd, networkctl) that record every call and
// answer from a state directory. ssh-keygen is the real one: the key the script installs
// must be a key OpenSSH accepts.

const (
	sbInstance = "i-0123456789abcdef0"
	sbENIID    = "eni-0123456789abcdef0"
	sbENIMAC   = "0a:1b:2c:3d:4e:5f"
	sbOwnMAC   = "02:00:00:00:00:01"
	sbSubnet   = "subnet-0abc1234"
	sbENIIP    = "10.0.0.5"
	sbPort     = "8080"
	sbToken    = "11111111-2222-3333-4444-555555555555"
	sbSignalID = "CoordinatorGroupABCD1234"
	sbDoorbell = "coordinator-ha-" + sbToken // the health check function: the stack id's UUID
)

var stubs = map[string]string{
	// aws: the AWS CLI. S3 outages (s3_fails: failures left, -1 for ever), the secret and
	// its lock tag, Secrets Manager outages (sm_down), a racing host (race_key: its key,
	// already written under the same token, so this host's put is refused), the
	// coordinator ENI as EC2 describes it (eni: MAC, IP, subnet; ec2_fails as s3_fails,
	// ec2_stale: that many empty answers first, as an eventually consistent read gives).
	"aws": `#!/bin/bash
st=$STUB_STATE
printf 'aws %s\n' "$*" >>"$st/calls"
case "$1 $2" in
"s3 cp")
  n=$(cat "$st/s3_fails" 2>/dev/null || echo 0)
  if [ "$n" != 0 ]; then
    if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$st/s3_fails"; fi
    echo "fatal error: Could not connect to the endpoint URL" >&2
    exit 1
  fi
  for dest; do :; done
  printf '#!/bin/sh\necho agent\n' >"$dest"
  ;;
"secretsmanager get-secret-value")
  [ -e "$st/sm_down" ] && { echo "Could not connect to the endpoint URL" >&2; exit 255; }
  cat "$st/secret"
  ;;
"secretsmanager put-secret-value")
  [ -e "$st/sm_down" ] && exit 255
  [ -e "$st/locked" ] && { echo "AccessDeniedException" >&2; exit 254; }
  if [ -e "$st/race_key" ]; then
    cp "$st/race_key" "$st/secret"
    echo "ResourceExistsException: a version with this token already exists with other content" >&2
    exit 254
  fi
  for a; do case "$a" in file://*) cp "${a#file://}" "$st/secret" ;; esac; done
  echo '{}'
  ;;
"secretsmanager tag-resource") [ -e "$st/sm_down" ] && exit 255; touch "$st/locked" ;;
"ec2 describe-network-interfaces")
  n=$(cat "$st/ec2_fails" 2>/dev/null || echo 0)
  if [ "$n" != 0 ]; then
    if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$st/ec2_fails"; fi
    echo "An error occurred (RequestLimitExceeded)" >&2
    exit 254
  fi
  n=$(cat "$st/ec2_stale" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$st/ec2_stale"; echo "None	None	None"; exit 0; fi
  if [ -e "$st/eni" ]; then cat "$st/eni"; else printf '` + sbENIMAC + `\t` + sbENIIP + `\t` + sbSubnet + `\n'; fi
  ;;
"autoscaling set-instance-health" | "cloudformation signal-resource") ;;
*) echo "stub aws: unexpected call: $*" >&2; exit 2 ;;
esac
`,
	// systemctl: units known (ssh_unit: sshd or ssh), failing restarts (sshd_fails:
	// failures left; agent_fails).
	"systemctl": `#!/bin/bash
st=$STUB_STATE
printf 'systemctl %s\n' "$*" >>"$st/calls"
unit=$(cat "$st/ssh_unit" 2>/dev/null || echo sshd).service
case "$1" in
cat) [ "$2" = "$unit" ] ;;
restart)
  if [ "$2" = "$unit" ]; then
    n=$(cat "$st/sshd_fails" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$st/sshd_fails"; echo "Job for $unit failed" >&2; exit 1; fi
  fi
  if [ "$2" = coordinator-agent.service ] && [ -e "$st/agent_fails" ]; then exit 1; fi
  ;;
is-active)
  for unit; do :; done
  case "$unit" in
  systemd-networkd.service) [ ! -e "$st/no_networkd" ] ;;
  *) grep -q '^systemctl restart coordinator-agent.service' "$st/calls" ;;
  esac ;;
esac
`,
	// systemd-run: runs the command in the foreground (the test waits for the signal).
	"systemd-run": `#!/bin/bash
printf 'systemd-run %s\n' "$*" >>"$STUB_STATE/calls"
while [ "${1#--}" != "$1" ]; do shift; done
exec "$@"
`,
	// curl: IMDSv2 (imds_down; the primary interface's MAC, subnet and CIDR, own_subnet
	// overriding the subnet) and the coordinator's /v1/info (coordinator: healthy,
	// starting or down).
	"curl": `#!/bin/bash
st=$STUB_STATE
printf 'curl %s\n' "$*" >>"$st/calls"
for url; do :; done
case "$url" in
*/latest/api/token) [ -e "$st/imds_down" ] && exit 7; echo token ;;
*/meta-data/instance-id) [ -e "$st/imds_down" ] && exit 7; echo ` + sbInstance + ` ;;
*/meta-data/mac) echo ` + sbOwnMAC + ` ;;
*/meta-data/network/interfaces/macs/` + sbOwnMAC + `/subnet-id) cat "$st/own_subnet" 2>/dev/null || echo ` + sbSubnet + ` ;;
*/meta-data/network/interfaces/macs/` + sbOwnMAC + `/subnet-ipv4-cidr-block) echo 10.0.0.0/24 ;;
http://127.0.0.1:*/v1/info)
  case "$(cat "$st/coordinator" 2>/dev/null || echo healthy)" in
  healthy) echo '{"nodeVersion":{"version":"476"},"coordinator":true,"starting":false,"state":"ACTIVE"}' ;;
  starting) echo '{"nodeVersion":{"version":"368"},"coordinator":true,"starting":true}' ;;
  *) exit 7 ;;
  esac ;;
*) exit 6 ;;
esac
`,
	// networkctl: reload (networkctl_fails makes it fail).
	"networkctl": "#!/bin/bash\nprintf 'networkctl %s\\n' \"$*\" >>\"$STUB_STATE/calls\"\n[ ! -e \"$STUB_STATE/networkctl_fails\" ]\n",
	"uname":      "#!/bin/bash\nif [ \"$1\" = -m ]; then echo aarch64; else exec /usr/bin/uname \"$@\"; fi\n",
	"sleep":      "#!/bin/bash\nprintf 'sleep %s\\n' \"$*\" >>\"$STUB_STATE/calls\"\n",
	// sshd: only `sshd -t` is called (sshd_t_fails makes it refuse the configuration).
	"sshd": "#!/bin/bash\nprintf 'sshd %s\\n' \"$*\" >>\"$STUB_STATE/calls\"\n[ ! -e \"$STUB_STATE/sshd_t_fails\" ]\n",
}

type sandbox struct {
	t                 *testing.T
	dir, root, state  string
	script, stubs     string
	ownKey, ownPubKey []byte
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh-keygen not installed")
		}
		t.Skip("ssh-keygen not installed")
	}
	d := t.TempDir()
	sb := &sandbox{t: t, dir: d, root: filepath.Join(d, "root"), state: filepath.Join(d, "state"), stubs: filepath.Join(d, "bin"),
		script: filepath.Join(d, "part-001")}
	for _, p := range []string{sb.state, sb.stubs, filepath.Join(sb.root, "etc/ssh/sshd_config.d"), filepath.Join(sb.root, "etc/trino")} {
		must(t, os.MkdirAll(p, 0o755))
	}
	for name, body := range stubs {
		must(t, os.WriteFile(filepath.Join(sb.stubs, name), []byte(body), 0o755))
	}
	sb.write("etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n")
	sb.keygen(filepath.Join(sb.root, "etc/ssh/ssh_host_ed25519_key"))
	sb.ownKey, sb.ownPubKey = sb.read("etc/ssh/ssh_host_ed25519_key"), sb.read("etc/ssh/ssh_host_ed25519_key.pub")
	// A config.properties without a final newline, with a stale discovery.uri.
	sb.write("etc/trino/config.properties", "coordinator=true\ndiscovery.uri=http://10.9.9.9:8080\nhttp-server.http.port=8080\nquery.max-memory=1GB")
	sb.setState("secret", HostKeyPlaceholder+"\n")
	must(t, os.WriteFile(sb.script, []byte(renderSandboxScript()), 0o755))
	return sb
}

func renderSandboxScript() string {
	return userData(userDataValues{Region: "eu-west-1", Cluster: "sandbox", ENIID: sbENIID, ENIIP: sbENIIP, Port: sbPort,
		AgentArm64: "s3://assets/agent-arm64", AgentAmd64: "s3://assets/agent-amd64", Unit: DefaultUnit,
		SecretARN: "arn:aws:secretsmanager:eu-west-1:111111111111:secret:hostkey", HostKeyToken: sbToken,
		StackName: "CoordinatorHA-sandbox", SignalID: sbSignalID, StartupBudgetSeconds: 600, DoorbellFunction: sbDoorbell})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (sb *sandbox) write(rel, content string) {
	must(sb.t, os.WriteFile(filepath.Join(sb.root, rel), []byte(content), 0o644))
}

func (sb *sandbox) read(rel string) []byte {
	b, err := os.ReadFile(filepath.Join(sb.root, rel))
	if err != nil {
		sb.t.Fatalf("reading %s: %v", rel, err)
	}
	return b
}

func (sb *sandbox) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(sb.root, rel))
	return err == nil
}

func (sb *sandbox) setState(name, content string) {
	must(sb.t, os.WriteFile(filepath.Join(sb.state, name), []byte(content), 0o644))
}

func (sb *sandbox) keygen(path string) {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path).CombinedOutput(); err != nil {
		sb.t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

// run executes the script once (a boot); it returns the exit code and the calls made.
func (sb *sandbox) run() (int, []string) {
	sb.t.Helper()
	_ = os.Remove(filepath.Join(sb.state, "calls"))
	cmd := exec.Command("bash", sb.script)
	cmd.Env = []string{"PATH=" + sb.stubs + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + sb.dir, "TMPDIR=" + sb.dir,
		"COORDINATOR_HA_ROOT=" + sb.root, "STUB_STATE=" + sb.state, "LANG=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		sb.t.Fatalf("running the script: %v", err)
	}
	if out.Len() > 0 {
		sb.t.Errorf("the script wrote to its own stdout/stderr instead of its log: %s", out.String())
	}
	calls, _ := os.ReadFile(filepath.Join(sb.state, "calls"))
	return code, strings.Split(strings.TrimSpace(string(calls)), "\n")
}

func (sb *sandbox) log() string { return string(sb.read("var/log/coordinator-ha-bootstrap.log")) }

// index returns the index of the first call starting with prefix, or -1.
func index(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (sb *sandbox) secret() []byte {
	b, err := os.ReadFile(filepath.Join(sb.state, "secret"))
	must(sb.t, err)
	return b
}

const (
	agentRestart = "systemctl restart coordinator-agent.service"
	sshdRestart  = "systemctl restart sshd.service"
	signalOK     = "aws cloudformation signal-resource --stack-name CoordinatorHA-sandbox --logical-resource-id " + sbSignalID +
		" --unique-id " + sbInstance + " --status SUCCESS"
	signalFailure = "aws cloudformation signal-resource --stack-name CoordinatorHA-sandbox --logical-resource-id " + sbSignalID +
		" --unique-id " + sbInstance + " --status FAILURE"
	markUnhealthy = "aws autoscaling set-instance-health --instance-id " + sbInstance + " --health-status Unhealthy --no-should-respect-grace-period"
	wantConfig    = "coordinator=true\nhttp-server.http.port=8080\nquery.max-memory=1GB\ndiscovery.uri=http://" + sbENIIP + ":" + sbPort + "\n"
	describeENI   = "aws ec2 describe-network-interfaces --network-interface-ids " + sbENIID
	eniNetwork    = "etc/systemd/network/05-coordinator-ha-eni.network"
	// The coordinator ENI's systemd-networkd file: matched by the ENI's MAC, its fixed IP
	// in the subnet's prefix, and (as amazon-ec2-net-utils writes for device index 1) a
	// rule sending what leaves from that IP through table 10001, whose default route is
	// the VPC router (the subnet's base address plus one).
	wantNetwork = `# Written by the coordinator HA boot script (infra/coordinator/bootstrap.sh) for cluster
# sandbox: the coordinator ENI ` + sbENIID + `, configured as soon as it is attached to this host,
# without waiting for instance metadata. Sorts before amazon-ec2-net-utils' files, which
# it replaces for this interface only.
[Match]
MACAddress=` + sbENIMAC + `

[Link]
MTUBytes=9001

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no

[Address]
Address=10.0.0.5/24
RouteMetric=513

[Route]
Destination=10.0.0.0/24
Table=10001

[Route]
Gateway=10.0.0.1
GatewayOnLink=yes
Table=10001

[RoutingPolicyRule]
From=10.0.0.5
Table=10001
Priority=10001
`
)

// checkServing: the agent is installed, configured and started before anything optional,
// discovery.uri is set, and the ready signal went out.
func (sb *sandbox) checkServing(code int, calls []string, signal string) {
	t := sb.t
	t.Helper()
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s", code, sb.log())
	}
	agent := index(calls, agentRestart)
	if agent < 0 {
		t.Fatalf("the agent was not started: %v", calls)
	}
	if i := index(calls, "aws secretsmanager"); i >= 0 && i < agent {
		t.Errorf("the host key (call %d) came before the agent (call %d)", i, agent)
	}
	if i := index(calls, "systemctl enable coordinator-agent.service"); i < 0 || i > agent {
		t.Errorf("the agent is not enabled before it starts: %v", calls)
	}
	env := string(sb.read("etc/coordinator-agent.env"))
	for _, want := range []string{"AGENT_CLUSTER=sandbox\n", "AGENT_ENI_IP=" + sbENIIP + "\n", "AGENT_PROBE_URL=http://127.0.0.1:" + sbPort + "/v1/info\n",
		"AGENT_DOORBELL_FUNCTION=" + sbDoorbell + "\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("agent env lacks %q:\n%s", want, env)
		}
	}
	// Exactly these variables, one per line, each once (the agent reads the file as a
	// systemd EnvironmentFile).
	if want := "AGENT_CLUSTER=sandbox\nAGENT_ENI_ID=eni-0123456789abcdef0\nAGENT_ENI_IP=" + sbENIIP + "\nAGENT_PROBE_URL=http://127.0.0.1:" + sbPort + "/v1/info\n" +
		"AGENT_DOORBELL_FUNCTION=" + sbDoorbell + "\n"; env != want {
		t.Errorf("agent env:\n%s\nwant\n%s", env, want)
	}
	if unit := string(sb.read("etc/systemd/system/coordinator-agent.service")); unit != DefaultUnit {
		t.Errorf("unit file differs from the unit:\n%s", unit)
	}
	if st, err := os.Stat(filepath.Join(sb.root, "usr/local/bin/coordinator-agent")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("agent binary: %v %v", st, err)
	}
	if got := string(sb.read("etc/trino/config.properties")); got != wantConfig {
		t.Errorf("config.properties:\n%q\nwant\n%q", got, wantConfig)
	}
	if got := string(sb.read("etc/coordinator-ha/discovery.properties")); got != "discovery.uri=http://"+sbENIIP+":"+sbPort+"\n" {
		t.Errorf("discovery.properties %q", got)
	}
	if count(calls, signal) != 1 || index(calls, signal) < agent {
		t.Errorf("want one %q after the agent started; calls:\n%s", signal, strings.Join(calls, "\n"))
	}
	if index(calls, "aws autoscaling set-instance-health") >= 0 {
		t.Error("a serving host marked itself Unhealthy")
	}
	sb.checkENINetwork(calls)
}

// checkENINetwork: where systemd-networkd runs, the coordinator ENI's file is in place
// (written after the agent, before the optional host key) and networkd has loaded it;
// elsewhere there is no file and the log says why.
func (sb *sandbox) checkENINetwork(calls []string) {
	t := sb.t
	t.Helper()
	if _, err := os.Stat(filepath.Join(sb.state, "no_networkd")); err == nil {
		if sb.exists(eniNetwork) || index(calls, describeENI) >= 0 || index(calls, "networkctl") >= 0 {
			t.Errorf("no systemd-networkd, yet the ENI was described or configured: %v", calls)
		}
		if !strings.Contains(sb.log(), "WARNING: systemd-networkd does not run here") {
			t.Errorf("the log does not say why the ENI has no static configuration:\n%s", sb.log())
		}
		return
	}
	if !sb.exists(eniNetwork) {
		t.Fatalf("no %s:\n%s", eniNetwork, sb.log())
	}
	if got := string(sb.read(eniNetwork)); got != wantNetwork {
		t.Errorf("%s:\n%s\nwant\n%s", eniNetwork, got, wantNetwork)
	}
	if st, _ := os.Stat(filepath.Join(sb.root, eniNetwork)); st.Mode().Perm() != 0o644 {
		t.Errorf("%s mode %v, want 0644 (networkd reads it as its own user)", eniNetwork, st.Mode().Perm())
	}
	if m, _ := filepath.Glob(filepath.Join(sb.root, eniNetwork+".*")); len(m) > 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
	d := index(calls, describeENI)
	if d < 0 || d < index(calls, agentRestart) {
		t.Errorf("the ENI was not described after the agent started: %v", calls)
	}
	if k := index(calls, "aws secretsmanager"); k >= 0 && k < d {
		t.Errorf("the host key (call %d) came before the ENI's configuration (call %d)", k, d)
	}
	if r := index(calls, "networkctl reload"); r >= 0 && r < d {
		t.Errorf("networkctl reload before the file was written: %v", calls)
	}
}

// checkSharedKey: sshd presents key, a valid ed25519 key, through the drop-in (if
// dropin), after a restart of unit; this host's own key is kept aside.
func (sb *sandbox) checkSharedKey(calls []string, key []byte, dropin bool, unit string) {
	t := sb.t
	t.Helper()
	if got := sb.read("etc/ssh/ssh_host_ed25519_key"); !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(key)) {
		t.Errorf("installed host key differs from the cluster's key:\n%s", sb.log())
	}
	pub, err := exec.Command("ssh-keygen", "-y", "-f", filepath.Join(sb.root, "etc/ssh/ssh_host_ed25519_key")).Output()
	if err != nil || !strings.HasPrefix(string(pub), "ssh-ed25519 ") {
		t.Errorf("installed key is not a valid ed25519 key: %v %s", err, pub)
	}
	if got := sb.read("etc/ssh/ssh_host_ed25519_key.pub"); !bytes.HasPrefix(got, bytes.TrimSpace(pub)) {
		t.Errorf("public key %s does not match the private key (%s)", got, pub)
	}
	if st, _ := os.Stat(filepath.Join(sb.root, "etc/ssh/ssh_host_ed25519_key")); st.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %v, want 0600", st.Mode().Perm())
	}
	if !bytes.Equal(sb.read("etc/ssh/ssh_host_ed25519_key.coordinator-ha-orig"), sb.ownKey) {
		t.Error("this host's own key was not kept aside")
	}
	if got := sb.exists("etc/ssh/sshd_config.d/00-coordinator-ha.conf"); got != dropin {
		t.Errorf("drop-in present = %v, want %v", got, dropin)
	} else if dropin && string(sb.read("etc/ssh/sshd_config.d/00-coordinator-ha.conf")) != "HostKey /etc/ssh/ssh_host_ed25519_key\n" {
		t.Errorf("drop-in: %s", sb.read("etc/ssh/sshd_config.d/00-coordinator-ha.conf"))
	}
	restart := "systemctl restart " + unit
	if i := index(calls, restart); i < 0 || i < index(calls, agentRestart) {
		t.Errorf("want %q after the agent started: %v", restart, calls)
	}
	if index(calls, "sshd -t") > index(calls, restart) {
		t.Error("sshd -t did not run before the restart")
	}
}

// checkOwnKey: the host kept its own key and sshd was left alone.
func (sb *sandbox) checkOwnKey(calls []string, restarts int) {
	t := sb.t
	t.Helper()
	if !bytes.Equal(sb.read("etc/ssh/ssh_host_ed25519_key"), sb.ownKey) || !bytes.Equal(sb.read("etc/ssh/ssh_host_ed25519_key.pub"), sb.ownPubKey) {
		t.Error("the host does not present its own key")
	}
	if sb.exists("etc/ssh/sshd_config.d/00-coordinator-ha.conf") {
		t.Error("the drop-in is left behind")
	}
	if n := count(calls, "systemctl restart ssh"); n != restarts {
		t.Errorf("%d sshd restarts, want %d", n, restarts)
	}
	if !strings.Contains(sb.log(), "host key: keeping this host's own key") {
		t.Errorf("the log does not say the host keeps its key:\n%s", sb.log())
	}
}

func (sb *sandbox) checkFatal(code int, calls []string, mark bool) {
	t := sb.t
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0 after a fatal error\n%s", sb.log())
	}
	if got := index(calls, markUnhealthy) >= 0; got != mark {
		t.Errorf("marked Unhealthy = %v, want %v: %v", got, mark, calls)
	}
	if !mark && index(calls, "systemctl poweroff") < 0 {
		t.Error("no instance id and no poweroff: the group would never replace this host")
	}
	if index(calls, "aws cloudformation signal-resource") >= 0 {
		t.Error("a host that failed its boot signalled CloudFormation")
	}
	if !strings.Contains(sb.log(), "FATAL: ") {
		t.Errorf("the log does not say why:\n%s", sb.log())
	}
}

// sleptSeconds is the total the script slept (with a healthy coordinator, all of it in
// retries: the ready loop does not sleep).
func sleptSeconds(calls []string) int {
	n := 0
	for _, c := range calls {
		if s, ok := strings.CutPrefix(c, "sleep "); ok {
			v, _ := strconv.Atoi(s)
			n += v
		}
	}
	return n
}

func TestBootScriptSandbox(t *testing.T) {
	var allCalls []string
	record := func(calls []string) { allCalls = append(allCalls, calls...) }
	t.Run("first boot: this host writes the key, sshd presents it, the stack is signalled", func(t *testing.T) {
		sb := newSandbox(t)
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		if index(calls, "aws secretsmanager put-secret-value --secret-id arn:aws:secretsmanager:eu-west-1:111111111111:secret:hostkey --client-request-token "+sbToken) < 0 {
			t.Errorf("no put with the stack's token: %v", calls)
		}
		if index(calls, "aws secretsmanager tag-resource --secret-id arn:aws:secretsmanager:eu-west-1:111111111111:secret:hostkey --tags Key="+HostKeyLockTag+",Value=set") < 0 {
			t.Error("the secret was not locked after the write")
		}
		sb.checkSharedKey(calls, sb.secret(), true, "sshd.service")
		if bytes.Equal(sb.secret(), sb.ownKey) {
			t.Error("the secret holds the host's own key instead of a new one")
		}
	})
	t.Run("second host racing: its write is refused, it installs the winner's key", func(t *testing.T) {
		sb := newSandbox(t)
		winner := filepath.Join(sb.dir, "winner")
		sb.keygen(winner)
		w, _ := os.ReadFile(winner)
		sb.setState("race_key", string(w))
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		sb.checkSharedKey(calls, w, true, "sshd.service")
		if !strings.Contains(sb.log(), "another coordinator wrote first") {
			t.Errorf("log:\n%s", sb.log())
		}
	})
	t.Run("reboot: a second run converges and writes nothing new", func(t *testing.T) {
		sb := newSandbox(t)
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		if n := count(calls, "networkctl reload"); n != 1 {
			t.Errorf("first boot: %d networkctl reloads, want 1", n)
		}
		key := sb.secret()
		code, calls = sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		if n := count(calls, "networkctl"); n != 0 {
			t.Errorf("the unchanged ENI file was reloaded again (%d networkctl calls): a holder's link would be reconfigured for nothing", n)
		}
		sb.checkSharedKey(calls, key, true, "sshd.service")
		if index(calls, "aws secretsmanager put-secret-value") >= 0 {
			t.Error("the second run wrote the secret again")
		}
		if !bytes.Equal(sb.secret(), key) {
			t.Error("the cluster's key changed")
		}
		if strings.Count(string(sb.read("etc/trino/config.properties")), "discovery.uri=") != 1 {
			t.Error("discovery.uri is not there exactly once")
		}
	})
	t.Run("the secret holds garbage: the host keeps its own key", func(t *testing.T) {
		sb := newSandbox(t)
		// A PEM frame around junk (split so that the secrets scan does not see a key).
		sb.setState("secret", "-----BEGIN "+"OPENSSH PRIVATE KEY-----\nnot a key\n-----END "+"OPENSSH PRIVATE KEY-----\n")
		sb.setState("locked", "")
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		sb.checkOwnKey(calls, 0)
	})
	t.Run("the secret holds an RSA key: not the ed25519 key sshd is told to use", func(t *testing.T) {
		sb := newSandbox(t)
		rsa := filepath.Join(sb.dir, "rsa")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		k, _ := os.ReadFile(rsa)
		sb.setState("secret", string(k))
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkOwnKey(calls, 0)
	})
	t.Run("Secrets Manager unreachable: the host keeps its own key and serves", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("sm_down", "")
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		sb.checkOwnKey(calls, 0)
	})
	t.Run("no sshd_config.d: the key becomes the default ed25519 host key", func(t *testing.T) {
		sb := newSandbox(t)
		must(t, os.RemoveAll(filepath.Join(sb.root, "etc/ssh/sshd_config.d")))
		sb.write("etc/ssh/sshd_config", "PasswordAuthentication no\n")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkSharedKey(calls, sb.secret(), false, "sshd.service")
	})
	t.Run("sshd_config.d exists but is not included: no drop-in that sshd would ignore", func(t *testing.T) {
		sb := newSandbox(t)
		sb.write("etc/ssh/sshd_config", "PasswordAuthentication no\n")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkSharedKey(calls, sb.secret(), false, "sshd.service")
	})
	t.Run("Debian/Ubuntu: the unit is ssh.service", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("ssh_unit", "ssh")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkSharedKey(calls, sb.secret(), true, "ssh.service")
	})
	t.Run("sshd fails to restart: the own key is restored and sshd restarted with it", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("sshd_fails", "1")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkOwnKey(calls, 2)
	})
	t.Run("sshd -t refuses the configuration: nothing is restarted", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("sshd_t_fails", "")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.checkOwnKey(calls, 0)
	})
	t.Run("S3 down for over two minutes: the download retries with backoff and succeeds", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("s3_fails", "6")
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		if n := count(calls, "aws s3 cp"); n != 7 {
			t.Errorf("%d downloads, want 7", n)
		}
		if s := sleptSeconds(calls); s < 120 {
			t.Errorf("slept %d s between downloads, want over two minutes", s)
		}
		// Backoff: each pause at least the previous base (2, 4, 8, ... s).
		var pauses []int
		for _, c := range calls {
			if s, ok := strings.CutPrefix(c, "sleep "); ok {
				v, _ := strconv.Atoi(s)
				pauses = append(pauses, v)
			}
		}
		if len(pauses) != 6 {
			t.Errorf("pauses %v, want one after each of the 6 failures", pauses)
		}
		for i, p := range pauses {
			if base := min(60, 2<<i); p < base || p > 60 || (base < 60 && p > 2*base) {
				t.Errorf("pause %d is %d s, want %d..%d (pauses %v)", i, p, base, min(60, 2*base), pauses)
			}
		}
	})
	t.Run("S3 down for good: fatal, the instance is marked Unhealthy", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("s3_fails", "-1")
		code, calls := sb.run()
		record(calls)
		sb.checkFatal(code, calls, true)
		if count(calls, "aws s3 cp") != 10 || index(calls, agentRestart) >= 0 {
			t.Errorf("want 10 downloads and no agent: %v", calls)
		}
	})
	t.Run("S3 down at a reboot: the installed agent is kept", func(t *testing.T) {
		sb := newSandbox(t)
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		sb.setState("s3_fails", "-1")
		code, calls = sb.run()
		sb.checkServing(code, calls, signalOK)
	})
	t.Run("the agent does not start: fatal, marked Unhealthy", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("agent_fails", "")
		code, calls := sb.run()
		sb.checkFatal(code, calls, true)
		if index(calls, "aws secretsmanager") >= 0 {
			t.Error("the host key step ran after a fatal error")
		}
	})
	t.Run("instance metadata unreachable: fatal, powered off", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("imds_down", "")
		code, calls := sb.run()
		sb.checkFatal(code, calls, false)
	})
	t.Run("the coordinator is starting: SUCCESS", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("coordinator", "starting")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
	})
	t.Run("the coordinator never answers: FAILURE after the startup budget", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("coordinator", "down")
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalFailure)
		if n := count(calls, "sleep 10"); n != 60 {
			t.Errorf("waited %d x 10 s, want 60 (the 600 s budget)", n)
		}
	})
	t.Run("EC2 answers stale, then throttles: the ENI's description is retried", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("ec2_stale", "1")
		sb.setState("ec2_fails", "2")
		code, calls := sb.run()
		record(calls)
		sb.checkServing(code, calls, signalOK)
		if n := count(calls, describeENI); n != 4 {
			t.Errorf("%d descriptions of the ENI, want 4 (2 refused, 1 stale, 1 answered)", n)
		}
	})
	t.Run("EC2 never describes the ENI: fatal, marked Unhealthy, no half-written file", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("ec2_fails", "-1")
		code, calls := sb.run()
		record(calls)
		sb.checkFatal(code, calls, true)
		if count(calls, describeENI) != 10 || sb.exists(eniNetwork) || index(calls, "networkctl") >= 0 {
			t.Errorf("want 10 descriptions, no file, no reload: %v", calls)
		}
		if m, _ := filepath.Glob(filepath.Join(sb.root, eniNetwork+".*")); len(m) > 0 {
			t.Errorf("temporary files left behind: %v", m)
		}
		if index(calls, "aws secretsmanager") >= 0 {
			t.Error("the host key step ran after a fatal error")
		}
	})
	t.Run("the ENI is in another subnet than this host: fatal", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("own_subnet", "subnet-0def5678\n")
		code, calls := sb.run()
		sb.checkFatal(code, calls, true)
		if sb.exists(eniNetwork) || !strings.Contains(sb.log(), "the ENI cannot be attached here") {
			t.Errorf("file written or reason missing:\n%s", sb.log())
		}
	})
	t.Run("the ENI has another address than the stack says: fatal", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("eni", sbENIMAC+"\t10.0.0.9\t"+sbSubnet+"\n")
		code, calls := sb.run()
		sb.checkFatal(code, calls, true)
		if sb.exists(eniNetwork) || !strings.Contains(sb.log(), "has the address 10.0.0.9, not "+sbENIIP) {
			t.Errorf("file written or reason missing:\n%s", sb.log())
		}
	})
	t.Run("networkd does not reload: fatal", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("networkctl_fails", "")
		code, calls := sb.run()
		sb.checkFatal(code, calls, true)
		if !strings.Contains(sb.log(), "networkctl reload failed") {
			t.Errorf("reason missing:\n%s", sb.log())
		}
	})
	t.Run("no systemd-networkd on this AMI: no static file, said in the log, the host serves", func(t *testing.T) {
		sb := newSandbox(t)
		sb.setState("no_networkd", "")
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
	})
	t.Run("config.properties ending without a newline, with discovery.uri in ':' form", func(t *testing.T) {
		sb := newSandbox(t)
		sb.write("etc/trino/config.properties", "coordinator=true\n  discovery.uri : http://old:1\nhttp-server.http.port=8080\nquery.max-memory=1GB")
		must(t, os.Chmod(filepath.Join(sb.root, "etc/trino/config.properties"), 0o640))
		code, calls := sb.run()
		sb.checkServing(code, calls, signalOK)
		if st, _ := os.Stat(filepath.Join(sb.root, "etc/trino/config.properties")); st.Mode().Perm() != 0o640 {
			t.Errorf("config.properties mode %v, want 0640 kept", st.Mode().Perm())
		}
	})
	if t.Failed() || strings.Contains(flag.Lookup("test.run").Value.String(), "/") {
		return // failed, or only some scenarios ran (-run Test/scenario)
	}
	// The AWS calls the script makes are exactly the boot grants (KMS is called by
	// Secrets Manager on the host's behalf; S3 is the asset's own grant).
	called := map[string]bool{}
	for _, c := range allCalls {
		f := strings.Fields(c)
		if len(f) < 3 || f[0] != "aws" || f[1] == "s3" {
			continue
		}
		called[f[1]+":"+camel(f[2])] = true
	}
	var got []string
	for a := range called {
		got = append(got, a)
	}
	var want []string
	for _, a := range permissions.BootActions {
		if !strings.HasPrefix(a, "kms:") {
			want = append(want, a)
		}
	}
	missing, unused := permissions.Diff(got, want)
	if len(missing)+len(unused) > 0 {
		t.Errorf("boot script calls not granted: %v; granted but never called: %v", missing, unused)
	}
}

// camel turns a CLI operation (put-secret-value) into its API name (PutSecretValue).
func camel(op string) string {
	var b strings.Builder
	for _, part := range strings.Split(op, "-") {
		if part == "" {
			continue
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// TestBootScriptShellcheck: the rendered script is shellcheck clean (every severity).
func TestBootScriptShellcheck(t *testing.T) {
	sc, err := filepath.Abs("../../.venv/bin/shellcheck")
	must(t, err)
	if _, err := os.Stat(sc); err != nil {
		if p, err2 := exec.LookPath("shellcheck"); err2 == nil {
			sc = p
		} else if os.Getenv("CI") != "" {
			t.Fatalf("shellcheck not installed at %s (make venv): %v", sc, err)
		} else {
			t.Skipf("shellcheck not installed at %s; run `make venv`", sc)
		}
	}
	f := filepath.Join(t.TempDir(), "user-data.sh")
	must(t, os.WriteFile(f, []byte(renderSandboxScript()), 0o644))
	if out, err := exec.Command(sc, "--shell=bash", "--severity=style", f).CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^set -uo pipefail$`).MatchString(BootScriptBody) {
		t.Error("the body no longer sets -uo pipefail")
	}
}

# ---- body (infra/coordinator/bootstrap.sh; the values above are rendered by userdata.go) ----
#
# Order: what the control plane needs comes first and is mandatory (instance identity, the
# agent, discovery.uri, the coordinator ENI's static network configuration); a failure
# there is fatal and marks the instance Unhealthy so that the Auto Scaling group replaces
# it. What is only convenient (the shared SSH host key) comes after the agent runs and
# never fails the boot: on any doubt the host keeps its own key. Last, a detached waiter signals CloudFormation once the coordinator answers (the
# stack's CreationPolicy and rolling UpdatePolicy wait for it).
#
# Safe to run again (a reboot with per-boot user data, or by hand): every step converges.
set -uo pipefail

# COORDINATOR_HA_ROOT exists for the sandbox test only (infra/coordinator/bootstrap_test.go):
# every file path below is under it. cloud-init runs user data with a clean environment,
# so on a host it is empty and the paths are the real ones.
root=${COORDINATOR_HA_ROOT:-}
log=$root/var/log/coordinator-ha-bootstrap.log
mkdir -p "$root/var/log"
exec >>"$log" 2>&1
export AWS_DEFAULT_REGION=$REGION

# say MESSAGE: one log line, on stderr so that command substitutions never capture it.
say() { printf '%s coordinator-ha[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${mode:-boot}" "$*" >&2; }

# retry ATTEMPTS COMMAND...: run COMMAND until it succeeds, at most ATTEMPTS times, with
# exponential backoff (2 s doubling, capped at 60 s) and up to 100% jitter so that a pool
# booting together does not retry in step. 10 attempts ride out about 5 to 7 minutes of
# S3 or Secrets Manager trouble, within the CreationPolicy timeout.
retry() {
  local attempts=$1 n=1 delay=2 pause
  shift
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      say "giving up after $n attempts: $1 ${2:-}"
      return 1
    fi
    pause=$((delay + RANDOM % (delay + 1)))
    if [ "$pause" -gt 60 ]; then pause=60; fi
    say "attempt $n of $attempts failed ($1 ${2:-}); next in ${pause}s"
    sleep "$pause"
    n=$((n + 1))
    delay=$((delay * 2))
    if [ "$delay" -gt 60 ]; then delay=60; fi
  done
}

imds_token=''
# shellcheck disable=SC2329 # invoked through retry
# imds PATH: one IMDSv2 read (the launch template requires tokens).
imds() {
  if [ -z "$imds_token" ]; then
    imds_token=$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' http://169.254.169.254/latest/api/token) || return 1
  fi
  curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $imds_token" "http://169.254.169.254/latest/meta-data/$1"
}

instance_id=''
# fatal MESSAGE: this host cannot serve as a coordinator. Mark it Unhealthy (the group
# replaces it at once, without waiting for the grace period); without an instance id
# to name, power off (the group replaces a stopped instance).
fatal() {
  say "FATAL: $*"
  if [ -n "$instance_id" ]; then
    say "marking $instance_id Unhealthy: the Auto Scaling group replaces it"
    if retry 5 aws autoscaling set-instance-health --instance-id "$instance_id" --health-status Unhealthy --no-should-respect-grace-period; then
      exit 1
    fi
  fi
  say "powering off: the Auto Scaling group replaces a stopped instance"
  systemctl poweroff
  exit 1
}

# ---- the ready signal (run detached: `bootstrap ready`) -----------------------------------
# Waits until the agent runs and the coordinator answers /v1/info as a coordinator (healthy,
# or starting: the health check's startup budget covers the rest), then signals SUCCESS to
# the group's CreationPolicy / UpdatePolicy; after STARTUP_BUDGET seconds it signals
# FAILURE with the reason. Outside a stack create or update CloudFormation refuses the
# signal, which is logged and harmless.
coordinator_answers() {
  local info
  systemctl is-active --quiet coordinator-agent.service || return 1
  info=$(curl -fsS -m 5 "$PROBE_URL") || return 1
  printf '%s' "$info" | grep -Eq '"coordinator"[[:space:]]*:[[:space:]]*true' || return 1
  # A state other than ACTIVE (newer Trino: DRAINING, SHUTTING_DOWN, ...) is not ready.
  if printf '%s' "$info" | grep -Eq '"state"[[:space:]]*:'; then
    printf '%s' "$info" | grep -Eq '"state"[[:space:]]*:[[:space:]]*"ACTIVE"' || return 1
  fi
}

ready() {
  local tries=$((STARTUP_BUDGET / 10)) i status=FAILURE
  for ((i = 0; i < tries; i++)); do
    if coordinator_answers; then
      status=SUCCESS
      break
    fi
    sleep 10
  done
  if [ "$status" = SUCCESS ]; then
    say "the agent runs and the coordinator answers on $PROBE_URL: signalling SUCCESS"
  else
    say "the coordinator did not answer on $PROBE_URL within ${STARTUP_BUDGET}s: signalling FAILURE"
  fi
  retry 5 aws cloudformation signal-resource --stack-name "$STACK_NAME" --logical-resource-id "$SIGNAL_RESOURCE" \
    --unique-id "$instance_id" --status "$status" ||
    say "CloudFormation took no signal (normal outside a stack create or update)"
}

# ---- the shared SSH host key (best effort) ------------------------------------------------
sshdir=$root/etc/ssh
hostkey=$sshdir/ssh_host_ed25519_key
dropin=$sshdir/sshd_config.d/00-coordinator-ha.conf

# shellcheck disable=SC2329 # invoked through retry
read_secret() {
  aws secretsmanager get-secret-value --secret-id "$SECRET_ID" --query SecretString --output text
}

# shellcheck disable=SC2329 # invoked through retry
# read_written_secret: the secret once it no longer holds the placeholder (a write may take
# a moment to become visible).
read_written_secret() {
  local v
  v=$(read_secret) || return 1
  [ "$v" != "$PLACEHOLDER" ] || return 1
  printf '%s\n' "$v"
}

ssh_unit() {
  local u
  for u in sshd.service ssh.service; do
    if systemctl cat "$u" >/dev/null 2>&1; then
      printf '%s\n' "$u"
      return 0
    fi
  done
  return 1
}

# restore_own_key: undo install_key (this host's own key, no drop-in).
restore_own_key() {
  rm -f "$dropin"
  if [ -e "$hostkey.coordinator-ha-orig" ]; then
    cp -p "$hostkey.coordinator-ha-orig" "$hostkey"
    cp -p "$hostkey.pub.coordinator-ha-orig" "$hostkey.pub" 2>/dev/null || true
  else
    rm -f "$hostkey" "$hostkey.pub"
  fi
  say "host key: restored this host's own key"
}

# shared_key DIR: the body of install_shared_key, with DIR its private temporary directory.
shared_key() {
  local dir=$1 current unit
  if ! current=$(retry 5 read_secret); then
    say "host key: Secrets Manager unreachable"
    return 1
  fi
  if [ "$current" = "$PLACEHOLDER" ]; then
    ssh-keygen -q -t ed25519 -N '' -C "coordinator-ha $CLUSTER" -f "$dir/new" || return 1
    # One client request token for the whole stack: Secrets Manager keeps one content per
    # token, so of hosts racing here exactly one write succeeds and the others are refused.
    if aws secretsmanager put-secret-value --secret-id "$SECRET_ID" --client-request-token "$HOSTKEY_TOKEN" \
      --secret-string "file://$dir/new" >/dev/null; then
      say "host key: this host wrote the cluster's key"
    else
      say "host key: another coordinator wrote first; using its key"
    fi
    if ! current=$(retry 5 read_written_secret); then
      say "host key: the secret still holds the placeholder"
      return 1
    fi
  fi
  # Close the secret to writes: the host role may put a value only while the lock tag is
  # absent (IAM), so after the first write nobody, this host included, can replace it.
  aws secretsmanager tag-resource --secret-id "$SECRET_ID" --tags "Key=$LOCK_TAG,Value=set" >/dev/null ||
    say "host key: could not set the lock tag (another host will)"

  # Validate before touching sshd: a private key that ssh-keygen can derive an ed25519
  # public key from, on a temporary file.
  (umask 077 && printf '%s\n' "$current" >"$dir/key") || return 1
  if ! ssh-keygen -y -f "$dir/key" >"$dir/key.pub" 2>/dev/null || ! grep -q '^ssh-ed25519 ' "$dir/key.pub"; then
    say "host key: the secret does not hold an ed25519 private key"
    return 1
  fi
  if ! unit=$(ssh_unit); then
    say "host key: no sshd.service or ssh.service unit"
    return 1
  fi
  if cmp -s "$dir/key" "$hostkey" && cmp -s "$dir/key.pub" "$hostkey.pub"; then
    say "host key: the cluster's key is already installed"
  fi
  # Keep this host's own key once, for restore_own_key (not overwritten on a second run).
  if [ -e "$hostkey" ] && [ ! -e "$hostkey.coordinator-ha-orig" ]; then
    cp -p "$hostkey" "$hostkey.coordinator-ha-orig" || return 1
    cp -p "$hostkey.pub" "$hostkey.pub.coordinator-ha-orig" 2>/dev/null || true
  fi
  install -m 0600 "$dir/key" "$hostkey" || { restore_own_key; return 1; }
  install -m 0644 "$dir/key.pub" "$hostkey.pub" || { restore_own_key; return 1; }
  # Offer only that key, so a client never meets another of this host's keys. Needs the
  # Include of sshd_config.d (Amazon Linux 2023, Debian, Ubuntu have it); without it the
  # key replaces the default ed25519 host key and sshd also offers its other default keys.
  if [ -d "$sshdir/sshd_config.d" ] && grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/' "$sshdir/sshd_config" 2>/dev/null; then
    printf 'HostKey /etc/ssh/ssh_host_ed25519_key\n' >"$dropin" || { restore_own_key; return 1; }
  else
    say "host key: sshd_config does not include sshd_config.d; installed as the default ed25519 host key"
  fi
  if command -v sshd >/dev/null 2>&1 && ! sshd -t -f "$sshdir/sshd_config"; then
    say "host key: sshd -t refuses the configuration"
    restore_own_key
    return 1
  fi
  if ! systemctl restart "$unit"; then
    say "host key: restarting $unit failed"
    restore_own_key
    systemctl restart "$unit" || say "host key: $unit does not restart with this host's own key either"
    return 1
  fi
  say "host key: sshd ($unit) presents the cluster's key"
}

install_shared_key() {
  local dir rc
  dir=$(mktemp -d) || return 1
  shared_key "$dir"
  rc=$?
  rm -rf "$dir"
  return "$rc"
}

# ---- discovery.uri ------------------------------------------------------------------------
# set_discovery FILE: replace any discovery.uri line (Java properties: '=', ':' or blanks
# separate the key) and append ours on a line of its own, even when the file does not end
# in a newline. Written to a temporary file with the original's mode and owner, then
# renamed over it: a crash leaves the old or the new file, never half of one.
set_discovery() {
  local f=$1 tmp
  tmp=$(mktemp "$f.coordinator-ha.XXXXXX") || return 1
  if ! { grep -Ev '^[[:space:]]*discovery\.uri([[:space:]]*[=:]|[[:space:]])' "$f"; printf '%s\n' "$DISCOVERY_LINE"; } >"$tmp"; then
    rm -f "$tmp"
    return 1
  fi
  chmod --reference="$f" "$tmp" && chown --reference="$f" "$tmp" && mv -f "$tmp" "$f" && return 0
  rm -f "$tmp"
  return 1
}

# ---- the coordinator ENI's network configuration -------------------------------------------
# A systemd-networkd file for the coordinator ENI, matched by its MAC, with its fixed IP and
# prefix and a policy rule and route table for its source address, as amazon-ec2-net-utils
# writes them for device index 1 (AttachENI's index): rule priority and table 10001, prefix
# route metric 513, MTU 9001. When a failover hot-attaches the ENI to this host, networkd
# applies it as soon as the link appears. Without it the IP serves only once
# ec2-net-utils has read the new interface from instance metadata (device-number,
# local-ipv4s), which can take 18 to 30 s to list it; see internal/harness/sim/realism.go.
# The file sorts before ec2-net-utils' (/run/systemd/network/70-<if>.network on Amazon
# Linux, 07-<if>.network in its Debian package, /usr/lib/systemd/network/80-ec2.network):
# networkd applies the first matching .network file in lexical order across /etc, /run
# and /usr/lib (systemd.network(5)), and ec2-net-utils leaves /etc/systemd/network to the
# administrator. The MAC comes from EC2 (the ENI is not attached here, and CloudFormation
# does not expose it), the prefix from the primary interface's metadata: the ENI and
# every coordinator live in one subnet, which is checked. (Checked by hand against
# systemd-networkd 252, Amazon Linux 2023's version, on a veth in a network namespace
# without udev: the file wins over a matching /run/systemd/network/70-<if>.network and
# installs the address, the rule and table 10001 within about 50 ms of the link
# appearing.)
eni_network=$root/etc/systemd/network/05-coordinator-ha-eni.network
eni_table=10001

# ipv4_int A.B.C.D: the address as a number; fails on anything else.
ipv4_int() {
  local a b c d o
  IFS=. read -r a b c d <<<"$1"
  for o in "$a" "$b" "$c" "$d"; do
    [[ $o =~ ^[0-9]{1,3}$ ]] && [ "$((10#$o))" -le 255 ] || return 1
  done
  printf '%d\n' "$(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d))"
}

# int_ipv4 N: the number as A.B.C.D.
int_ipv4() {
  printf '%d.%d.%d.%d\n' "$(($1 >> 24 & 255))" "$(($1 >> 16 & 255))" "$(($1 >> 8 & 255))" "$(($1 & 255))"
}

# shellcheck disable=SC2329 # invoked through retry
# eni_facts: the coordinator ENI's MAC, primary private IP and subnet, on one line.
eni_facts() {
  local out
  out=$(aws ec2 describe-network-interfaces --network-interface-ids "$ENI_ID" \
    --query 'NetworkInterfaces[0].[MacAddress,PrivateIpAddress,SubnetId]' --output text) || return 1
  # EC2 reads are eventually consistent: an answer without the three values is retried.
  [[ $out =~ ^[0-9a-fA-F:]{17}[[:space:]]+[0-9.]+[[:space:]]+subnet-[0-9a-f]+$ ]] || return 1
  printf '%s\n' "$out"
}

# eni_network_file: print the .network file for the coordinator ENI; fails (with the
# reason logged) when a fact is missing or does not fit.
eni_network_file() {
  local facts mac ip subnet own_mac own_subnet cidr base prefix net mask ipn
  facts=$(retry 10 eni_facts) || { say "cannot describe $ENI_ID (ec2:DescribeNetworkInterfaces)"; return 1; }
  read -r mac ip subnet <<<"$facts"
  if [ "$ip" != "$ENI_IP" ]; then
    say "$ENI_ID has the address $ip, not $ENI_IP"
    return 1
  fi
  own_mac=$(retry 10 imds mac) || { say "no MAC of this host's primary interface in instance metadata"; return 1; }
  own_subnet=$(retry 10 imds "network/interfaces/macs/$own_mac/subnet-id") || { say "no subnet of this host in instance metadata"; return 1; }
  cidr=$(retry 10 imds "network/interfaces/macs/$own_mac/subnet-ipv4-cidr-block") || { say "no subnet CIDR of this host in instance metadata"; return 1; }
  if [ "$own_subnet" != "$subnet" ]; then
    say "$ENI_ID is in $subnet, this host in $own_subnet: the ENI cannot be attached here"
    return 1
  fi
  base=${cidr%/*} prefix=${cidr#*/}
  if ! [[ $prefix =~ ^[0-9]{1,2}$ ]] || [ "$prefix" -lt 16 ] || [ "$prefix" -gt 28 ] ||
    ! net=$(ipv4_int "$base") || ! ipn=$(ipv4_int "$ip"); then
    say "cannot read the subnet CIDR '$cidr' or the address '$ip'"
    return 1
  fi
  mask=$(((0xffffffff << (32 - prefix)) & 0xffffffff))
  if [ $((ipn & mask)) -ne $((net & mask)) ]; then
    say "$ip is not in this host's subnet $cidr"
    return 1
  fi
  net=$((net & mask))
  # The VPC router is the subnet's base address plus one (AWS reserves it in every subnet).
  cat <<NETWORK
# Written by the coordinator HA boot script (infra/coordinator/bootstrap.sh) for cluster
# $CLUSTER: the coordinator ENI $ENI_ID, configured as soon as it is attached to this host,
# without waiting for instance metadata. Sorts before amazon-ec2-net-utils' files, which
# it replaces for this interface only.
[Match]
MACAddress=$mac

[Link]
MTUBytes=9001

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no

[Address]
Address=$ip/$prefix
RouteMetric=513

[Route]
Destination=$(int_ipv4 "$net")/$prefix
Table=$eni_table

[Route]
Gateway=$(int_ipv4 $((net + 1)))
GatewayOnLink=yes
Table=$eni_table

[RoutingPolicyRule]
From=$ip
Table=$eni_table
Priority=$eni_table
NETWORK
}

# install_eni_network: write the file (atomically, only when it changed) and have networkd
# load it. A host whose AMI does not run systemd-networkd gets no file and says so: the
# ENI is then configured by whatever that AMI runs, more slowly.
install_eni_network() {
  local tmp
  if ! systemctl is-active --quiet systemd-networkd.service; then
    say "WARNING: systemd-networkd does not run here: no static configuration for $ENI_ID; when it moves to this host, the OS configures it its own way (amazon-ec2-net-utils waits on instance metadata)"
    return 0
  fi
  mkdir -p "$root/etc/systemd/network" || return 1
  tmp=$(mktemp "$eni_network.XXXXXX") || return 1
  if ! eni_network_file >"$tmp" || ! chmod 0644 "$tmp"; then
    rm -f "$tmp"
    return 1
  fi
  if cmp -s "$tmp" "$eni_network"; then
    rm -f "$tmp"
    say "static configuration of $ENI_ID unchanged in ${eni_network#"$root"}"
    return 0
  fi
  mv -f "$tmp" "$eni_network" || { rm -f "$tmp"; return 1; }
  # Load it now, so that a moved ENI is matched at once. When this host holds the ENI
  # (a reboot of the active), networkd reconfigures it with the same address.
  networkctl reload || { say "networkctl reload failed"; return 1; }
  say "static configuration of $ENI_ID written to ${eni_network#"$root"} and loaded"
}

# ---- main ---------------------------------------------------------------------------------
mode=${1:-boot}
if [ "$mode" = ready ]; then
  instance_id=$(retry 10 imds instance-id) || { say "no instance id: cannot signal"; exit 1; }
  ready
  exit 0
fi
say "boot: cluster $CLUSTER, ENI $ENI_ID ($ENI_IP), port $PORT"

# 1. Identity.
instance_id=$(retry 10 imds instance-id) || fatal "instance metadata (IMDSv2) unreachable"

# 2. The agent, first: without it the control plane cannot see this host.
case "$(uname -m)" in
  aarch64) agent_url=$AGENT_URL_ARM64 ;;
  x86_64) agent_url=$AGENT_URL_AMD64 ;;
  *) fatal "unsupported architecture $(uname -m)" ;;
esac
agent=$root/usr/local/bin/coordinator-agent
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" || fatal "cannot create directories"
if retry 10 aws s3 cp --only-show-errors "$agent_url" "$agent.new"; then
  if ! { chmod 0755 "$agent.new" && mv -f "$agent.new" "$agent"; }; then fatal "cannot install the agent"; fi
elif [ -x "$agent" ]; then
  say "keeping the agent already installed (a reboot): the download failed"
else
  fatal "cannot download the agent from $agent_url"
fi
# AGENT_DOORBELL_FUNCTION: the health check the agent invokes when it sees the active fail.
printf '%s\n' "AGENT_CLUSTER=$CLUSTER" "AGENT_ENI_ID=$ENI_ID" "AGENT_ENI_IP=$ENI_IP" "AGENT_PROBE_URL=$PROBE_URL" \
  "AGENT_DOORBELL_FUNCTION=$DOORBELL_FUNCTION" >"$root/etc/coordinator-agent.env" || fatal "cannot write the agent's environment"
printf '%s\n' "$AGENT_UNIT" >"$root/etc/systemd/system/coordinator-agent.service" || fatal "cannot write the agent's unit"
systemctl daemon-reload || fatal "systemctl daemon-reload failed"
systemctl enable coordinator-agent.service || fatal "cannot enable the agent"
# restart, not start: a second run picks up a new binary or environment.
systemctl restart coordinator-agent.service || fatal "the agent does not start"
say "agent started"

# 3. Presto/Trino reach the coordinator at the ENI IP, whichever host holds it.
if ! { mkdir -p "$root/etc/coordinator-ha" && printf '%s\n' "$DISCOVERY_LINE" >"$root/etc/coordinator-ha/discovery.properties"; }; then
  fatal "cannot write discovery.properties"
fi
for f in "${CONFIG_PATHS[@]}"; do
  [ -f "$root$f" ] || continue
  set_discovery "$root$f" || fatal "cannot set discovery.uri in $f"
  say "discovery.uri set in $f"
done

# 4. The coordinator ENI's static network configuration: its IP serves at once when a
# failover moves the ENI here.
install_eni_network || fatal "cannot write the static network configuration of $ENI_ID"

# 5. The shared SSH host key: best effort, never fatal.
install_shared_key || say "host key: keeping this host's own key"

# 6. Detached: wait until the coordinator answers, then signal CloudFormation. Detached so
# that a Presto/Trino unit ordered after cloud-final.service can start at all.
systemd-run --no-block --collect --unit=coordinator-ha-ready --description='Coordinator HA: signal readiness to CloudFormation' \
  /bin/bash "$0" ready || say "could not start the ready signal; CloudFormation will time out"
say "boot done"
exit 0

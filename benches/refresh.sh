#!/usr/bin/env bash
# The three ways a `token` run ends when its credentials are cached, on the release build:
#   hit       the token entry serves (the fast path);
#   re-sign   the token entry is stale, the cached credentials fresh: signed again with
#             aws-sigv4 alone (the middle path);
#   full      no token entry: AWS config, async runtime, credential cache hit, signing,
#             store and prune (the slow path with cached credentials).
# Twice: with a two-profile ~/.aws/config (a role profile and its source), and with 60
# IAM Identity Center account profiles added (one per account, as `aws configure sso`
# writes them), since the full path parses the whole config and the others never do.
# A role profile's credentials are cached once against moto (from .venv), which is then
# stopped: no timed run can reach AWS. hyperfine -N times each path (the token entry
# restored or removed before every run by --prepare, not timed) beside /bin/true;
# valgrind --tool=callgrind counts one run's instructions.
#   benches/refresh.sh                print both tables (markdown) on stdout
# Exits 1 when a tool is missing or a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "benches/refresh.sh: $*" >&2; exit 1; }
for tool in hyperfine valgrind python3; do
  command -v "$tool" >/dev/null || fail "$tool not found (Debian: apt-get install $tool)"
done
py=$PWD/.venv/bin/python
[ -x "$py" ] || fail ".venv is missing: build it as tests/run.sh does (python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt)"
hyperfine=$(command -v hyperfine)

bin=$(scripts/build-release.sh)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/eks-token-refresh.XXXXXX")
moto_pid=
cleanup() { [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT

# measure LABEL EXTRA_PROFILES: one round in a fresh HOME.
measure() {
  local label=$1 extra=$2 home=$scratch/$2/home
  mkdir -p -m 0700 "$home/.aws"
  # AWS's documented example keys sign the one AssumeRole; moto checks no signature.
  cat > "$home/.aws/config" <<'EOF'
[profile base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
[profile dev]
role_arn = arn:aws:iam::123456789012:role/bench
source_profile = base
EOF
  if [ "$extra" -gt 0 ]; then
    printf '[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n' >> "$home/.aws/config"
    for i in $(seq "$extra"); do
      printf '[profile account-%d]\nsso_session = corp\nsso_account_id = %012d\nsso_role_name = ReadOnly\nregion = eu-west-1\n' "$i" "$i" >> "$home/.aws/config"
    done
  fi

  local port
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$py" -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  moto_pid=$!
  for _ in $(seq 100); do
    "$py" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
    sleep 0.1
  done
  # The endpoint stays in the environment (it is part of the credential key), dead.
  local run_env=(env -i HOME="$home" PATH=/usr/bin:/bin AWS_PROFILE=dev AWS_REGION=eu-west-1
    AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_EC2_METADATA_DISABLED=true
    KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}')
  local token=("$bin" token --cluster-name bench --no-aws-cli-cache)
  "${run_env[@]}" "${token[@]}" >/dev/null || fail "the first run (AssumeRole on moto) failed"
  kill "$moto_pid"; wait "$moto_pid" 2>/dev/null || true; moto_pid=

  local store=$home/.kube/cache/eks-token entries
  entries=("$store"/*.json)
  [ "${#entries[@]}" = 1 ] || fail "expected one token entry in $store"
  local entry=${entries[0]} fresh=$scratch/$extra/fresh.json stale=$scratch/$extra/stale.json
  ls "$store"/*.credentials >/dev/null || fail "no credential entry in $store"
  cp "$entry" "$fresh"
  # Four minutes left: past serving, not expired.
  "$py" - "$entry" "$stale" <<'EOF'
import json, sys, datetime
entry = json.load(open(sys.argv[1]))
at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=4)
entry["expires_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
json.dump(entry, open(sys.argv[2], "w"))
EOF
  local restore_fresh="cp $fresh $entry" restore_stale="cp $stale $entry" remove="rm -f $entry"

  # Each path once with --verbose: the path taken is the one named.
  check() {
    sh -c "$1"
    "${run_env[@]}" "${token[@]}" --verbose 2>"$scratch/verbose" >/dev/null || fail "run failed: $(cat "$scratch/verbose")"
    grep -q "$2" "$scratch/verbose" || fail "expected '$2' in: $(cat "$scratch/verbose")"
  }
  check "$restore_fresh" "cache: hit"
  check "$restore_stale" "re-signed"
  check "$remove" "credential cache: hit"

  instructions() {
    sh -c "$1"; shift
    "${run_env[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  local counts
  counts="$(instructions true /bin/true) $(instructions "$restore_fresh" "${token[@]}")"
  counts="$counts $(instructions "$restore_stale" "${token[@]}") $(instructions "$remove" "${token[@]}")"

  local json=$scratch/$extra/hyperfine.json cmd
  cmd=$(printf '%q ' "${token[@]}")
  # hyperfine itself runs in the clean environment, so every row is one exec.
  "${run_env[@]}" "$hyperfine" -N --warmup 10 --min-runs 200 --export-json "$json" \
    --prepare "$restore_fresh" -n "/bin/true" /bin/true \
    --prepare "$restore_fresh" -n hit "$cmd" \
    --prepare "$restore_stale" -n re-sign "$cmd" \
    --prepare "$remove" -n "full, cached credentials" "$cmd" >&2

  echo
  echo "$label ($(wc -l < "$home/.aws/config") lines of ~/.aws/config)"
  echo
  # shellcheck disable=SC2086
  "$py" - "$json" $counts <<'EOF'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
counts = [int(n) for n in sys.argv[2:]]
floor = statistics.median(results[0]["times"])
print("| path | runs | median (ms) | × /bin/true | instructions |")
print("|---|---|---|---|---|")
for r, n in zip(results, counts):
    m = statistics.median(r["times"])
    print(f"| {r['command']} | {len(r['times'])} | {m * 1000:.2f} | {m / floor:.2f} | {n / 1000:,.0f}k |")
EOF
}

echo "# eks-token refresh paths, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "machine:   $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "eks-token: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes'), $bin"
echo "method:    hyperfine -N --warmup 10 --min-runs 200; instructions: valgrind --tool=callgrind, one run"
measure "two profiles" 0
measure "with 60 IAM Identity Center account profiles" 60

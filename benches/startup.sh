#!/usr/bin/env bash
# Start-up benchmark: eks-token's cache hit and miss beside `aws eks get-token`,
# gke-gcloud-auth-plugin answering from its own cache, and /bin/true, in one hyperfine run;
# and `eks-token oidc` answering from its cache (after one real login to the test OpenID
# Provider, tests/peers/oidc, which is stopped before the timed runs).
#   benches/startup.sh                print machine, build, the table and PASS/FAIL per target
#   benches/startup.sh --link-modes   also build a default dynamic PIE eks-token (slow) and
#                                     compare its cache hit with the static non-PIE build
#   benches/startup.sh --out DIR      keep hyperfine's markdown and JSON exports in DIR
# The report goes to stdout, build and hyperfine progress to stderr. Exit 0 even when a
# target fails (this prints numbers, it is not a test); 1 when a tool is missing or a
# step fails, 2 on a usage error.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

fail() { echo "benches/startup.sh: $*" >&2; exit 1; }

link_modes=0 out=
while [ $# -gt 0 ]; do
  case $1 in
    --link-modes) link_modes=1; shift ;;
    --out) [ $# -ge 2 ] || { echo "benches/startup.sh: --out needs a directory" >&2; exit 2; }
      case $2 in /*) out=$2 ;; *) out=$caller/$2 ;; esac; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "benches/startup.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

warmup=10 min_runs=20 rss_runs=20
cluster=bench region=eu-west-1

# --- tools -------------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || fail "Linux only (it measures the Linux static link and reads /proc)"
command -v python3 >/dev/null || fail "python3 not found (Debian: apt-get install python3 python3-venv)"
if ! command -v hyperfine >/dev/null; then
  echo "benches/startup.sh: hyperfine not found; installing the Debian package" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq hyperfine; } >&2 || true
  command -v hyperfine >/dev/null ||
    fail "hyperfine not found and apt-get could not install it: run \`sudo apt-get install hyperfine\` (or \`cargo install hyperfine\`)"
fi
hyperfine=$(command -v hyperfine)
gke=$(command -v gke-gcloud-auth-plugin) ||
  fail "gke-gcloud-auth-plugin not found: run \`sudo apt-get install google-cloud-cli-gke-gcloud-auth-plugin\` (Google Cloud SDK apt repository)"
# The awscli peer lives in the test venv; build it as tests/run.sh does when it is missing.
if [ ! -x .venv/bin/aws ]; then
  echo "benches/startup.sh: installing test peers into .venv (as tests/run.sh does)" >&2
  python3 -m venv .venv && .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt &&
    sha256sum tests/requirements.txt | cut -d' ' -f1 > .venv/.requirements || fail "cannot build .venv (see above)"
fi
py=$PWD/.venv/bin/python aws=$PWD/.venv/bin/aws
command -v node >/dev/null || fail "node not found (Node 20+): the OIDC cache hit needs the test OpenID Provider"
if [ ! -d tests/peers/oidc/node_modules/oidc-provider ]; then
  echo "benches/startup.sh: installing the test OpenID Provider (npm ci, as tests/run.sh does)" >&2
  (cd tests/peers/oidc && npm ci --silent >&2) || fail "npm ci in tests/peers/oidc failed (see above)"
fi

# --- builds ------------------------------------------------------------------------------
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
  git --no-optional-locks diff --quiet HEAD || commit="$commit + uncommitted changes"
else
  commit="(not a git checkout)"
fi
# Exactly as install.sh builds it: static non-PIE on Linux (glibc).
bin=$(scripts/build-release.sh)
if [ "$link_modes" = 1 ]; then
  # Kept between runs (not scratch): a full release build takes minutes.
  pie_dir=${EKS_TOKEN_BENCH_TARGET_DIR:-${TMPDIR:-/tmp}/eks-token-bench-target}
  pie=$(scripts/build-release.sh --dynamic "$pie_dir")
fi

# --- scratch HOME: both caches warm, nothing from the real ~/.kube or ~/.aws ------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/eks-token-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
home=$scratch/home
mkdir -p -m 0700 "$home" "$home/.kube" "$scratch/empty-path"
# Empty PATH: gke-gcloud-auth-plugin cannot fall back to gcloud, so a cache miss fails loudly.
bench_env=(HOME="$home" PATH="$scratch/empty-path" AWS_EC2_METADATA_DISABLED=true
  AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
  KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}')
in_bench_env() { env -i "${bench_env[@]}" "$@"; }

eks_args=(token --cluster-name "$cluster" --region "$region")
warm=$(in_bench_env "$bin" "${eks_args[@]}")
[ "$(in_bench_env "$bin" "${eks_args[@]}")" = "$warm" ] || fail "eks-token's second run did not print the cached token"

# gke-gcloud-auth-plugin serves ~/.kube/gke_gcloud_auth_plugin_cache (next to the kubeconfig)
# while access_token is set, token_expiry is more than 10 s away, current_context equals the
# kubeconfig's current-context and extra_args equals its own flags (none here).
cat > "$home/.kube/config" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gke_bench
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: gke_bench
  context: {cluster: gke_bench, user: gke_bench}
current-context: gke_bench
users:
- name: gke_bench
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      provideClusterInfo: true
EOF
gke_token=ya29.eks-token-bench-cached-token
printf '{"current_context":"gke_bench","access_token":"%s","token_expiry":"%s","extra_args":""}\n' \
  "$gke_token" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" > "$home/.kube/gke_gcloud_auth_plugin_cache"
chmod 0600 "$home/.kube/config" "$home/.kube/gke_gcloud_auth_plugin_cache"
in_bench_env "$gke" | grep -q "\"token\": \"$gke_token\"" ||
  fail "gke-gcloud-auth-plugin did not answer from the prepared cache (its cache format may have changed)"

# One real OIDC login (the test browser signs in as a person would), then the provider
# stops: every timed `oidc` run must be a hit.
oidc_port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
oidc_config=$(printf '{"clients":[{"client_id":"eks","redirect_uris":["http://localhost:%s"]}],"accounts":[{"sub":"alice","email":"alice@example.com","groups":["eks-admins"]}]}' "$oidc_port")
coproc PROVIDER { exec node tests/peers/oidc/provider.mjs --config "$oidc_config" 2>/dev/null; }
read -r -t 20 ready <&"${PROVIDER[0]}" || fail "the test OpenID Provider did not start"
issuer=$("$py" -c 'import json, sys; print(json.loads(sys.argv[1])["issuer"])' "$ready")
oidc_args=(oidc "--oidc-issuer-url=$issuer" --oidc-client-id=eks --oidc-extra-scope=email,offline_access
  "--listen-address=127.0.0.1:$oidc_port")
# The bench's PATH is empty: the test browser is started by the venv's Python.
in_bench_env BROWSER="$py $PWD/tests/peers/test_browser.py" EKS_TOKEN_TEST_BROWSER_LOGIN=alice \
  EKS_TOKEN_LOGIN=browser "$bin" "${oidc_args[@]}" --login-timeout 30 >/dev/null 2>"$scratch/oidc-login.err" ||
  { cat "$scratch/oidc-login.err" >&2; fail "the OIDC login for the benchmark failed (above)"; }
exec {PROVIDER[1]}>&-
wait "$PROVIDER_PID" 2>/dev/null || true
in_bench_env "$bin" "${oidc_args[@]}" >/dev/null || fail "eks-token oidc did not answer from its cache"

cache_state() { (cd "$home/.kube" && find . -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum); }
before=$(cache_state)

# --- measure -----------------------------------------------------------------------------
q() { printf '%q' "$1"; }
hit_cmd="$(q "$bin") ${eks_args[*]}"
oidc_cmd="$(q "$bin") $(for a in "${oidc_args[@]}"; do q "$a"; printf ' '; done)"
names=("/bin/true" "eks-token hit" "eks-token miss (--no-cache)" "eks-token oidc hit" "gke-gcloud-auth-plugin hit" "aws eks get-token")
cmds=(/bin/true "$hit_cmd" "$hit_cmd --no-cache" "$oidc_cmd" "$(q "$gke")" "$(q "$aws") eks get-token --cluster-name $cluster --region $region")

# bench NAME: peak RSS and hyperfine over the names/cmds arrays, exports under $scratch/NAME.*
bench() {
  local specs=() hf=() i
  for i in "${!names[@]}"; do
    specs+=("${names[$i]}=${cmds[$i]}")
    hf+=(-n "${names[$i]}" "${cmds[$i]}")
  done
  in_bench_env "$py" benches/startup.py rss "$scratch/$1.rss.json" "$rss_runs" "${specs[@]}"
  in_bench_env "$hyperfine" -N --warmup "$warmup" --min-runs "$min_runs" --style basic \
    --export-json "$scratch/$1.json" --export-markdown "$scratch/$1.md" "${hf[@]}" >&2
}
bench startup
after_main=$(cache_state)
if [ "$link_modes" = 1 ]; then
  names=("/bin/true" "static non-PIE hit" "dynamic PIE hit")
  cmds=(/bin/true "$hit_cmd" "$(q "$pie") ${eks_args[*]}")
  bench link-modes
fi

# --- report ------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "# eks-token start-up benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "machine:   ${cpu:-unknown CPU}, $(nproc) cores, $(uname -srm), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "eks-token: $("$bin" --version | cut -d' ' -f2) at $commit"
echo "binary:    ${bin#"$PWD"/} ($(( $(stat -c %s "$bin") / 1024 )) KiB), built by scripts/cargo-static.sh build --release --locked"
echo "link mode: $(command -v file >/dev/null && file -b "$bin" || echo "file(1) not installed")"
echo "           $("$py" benches/startup.py elf "$bin")"
echo "profile:   [profile.release] $(sed -n '/^\[profile\.release\]/,/^\[/{/^[a-z]/p}' Cargo.toml | paste -sd, - | sed 's/,/, /g')"
echo "peers:     $("$aws" --version 2>&1 | cut -d' ' -f1-2); gke-gcloud-auth-plugin $("$gke" --version 2>&1); $("$hyperfine" --version)"
echo "method:    hyperfine -N --warmup $warmup --min-runs $min_runs (at least 3 s each); peak RSS = max ru_maxrss of $rss_runs runs"
echo "           env credentials, cluster $cluster, region $region, KUBERNETES_EXEC_INFO v1beta1, private scratch HOME"
echo
"$py" benches/startup.py report "$scratch/startup.json" "$scratch/startup.rss.json" --targets
hits_verified() {
  [ "$1" = "$before" ] && echo "cache hits: verified (both cache files unchanged by the timed runs)" ||
    echo "cache hits: NOT verified: a cache file changed during the timed runs, so some 'hit' runs were misses"
}
hits_verified "$after_main"
if [ "$link_modes" = 1 ]; then
  echo
  echo "## Link modes (--link-modes): the same cache hit, two builds of the same source"
  echo
  echo "dynamic PIE: cargo build --release --locked --target-dir ${pie_dir} (no RUSTFLAGS)"
  echo "             $("$py" benches/startup.py elf "$pie"), $(( $(stat -c %s "$pie") / 1024 )) KiB"
  echo
  "$py" benches/startup.py report "$scratch/link-modes.json" "$scratch/link-modes.rss.json"
  hits_verified "$(cache_state)"
fi
if [ -n "$out" ]; then
  mkdir -p "$out" && cp "$scratch"/*.json "$scratch"/*.md "$out"/
  echo
  echo "hyperfine exports copied to $out"
fi

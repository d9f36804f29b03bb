#!/usr/bin/env bash
# Working-day benchmark: kubectl runs the plugin every 10 s for 8 simulated hours with a
# role_arn profile (1-hour credentials, STS answering 100 ms late), for eks-token as it is,
# eks-token with only its token cache (today's behaviour) and `aws eks get-token`, beside
# /bin/true. Every process sees a simulated clock through libfaketime.
#   benches/workday.sh                   build a dynamically linked eks-token, replay, report
#   benches/workday.sh --bin PATH        replay with an eks-token already built (dynamic)
#   benches/workday.sh --cli-every S     run `aws eks get-token` every S simulated seconds
#                                        (default 300; a multiple of 10)
#   benches/workday.sh --hours H         a shorter (or longer) day (default 8)
# The report goes to stdout, build and progress to stderr. Exit 0 even when a goal fails
# (this prints numbers, it is not a test); 1 when a tool is missing or a step fails, 2 on a
# usage error.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

fail() { echo "benches/workday.sh: $*" >&2; exit 1; }
usage() { echo "benches/workday.sh: $*" >&2; exit 2; }

bin= driver_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) [ $# -ge 2 ] || usage "--bin needs a path"
      case $2 in /*) bin=$2 ;; *) bin=$caller/$2 ;; esac; shift 2 ;;
    --cli-every|--hours) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "$1 needs a positive whole number"
      [ "$1" = --hours ] || [ $(($2 % 10)) = 0 ] || usage "--cli-every must be a multiple of 10 (seconds)"
      driver_args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown option $1 (try --help)" ;;
  esac
done

# --- tools -------------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || fail "Linux only (libfaketime, pidfd)"
command -v python3 >/dev/null || fail "python3 not found (Debian: apt-get install python3 python3-venv)"
libfaketime() { dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n 1; }
if [ -z "$(libfaketime)" ]; then
  echo "benches/workday.sh: libfaketime not found; installing the Debian package faketime" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq faketime; } >&2 || true
  [ -n "$(libfaketime)" ] ||
    fail "libfaketime not found and apt-get could not install it: run \`sudo apt-get install faketime\`"
fi
lib=$(libfaketime)
# The AWS CLI and moto live in the test venv; build it as tests/run.sh does when it is missing.
if [ ! -x .venv/bin/aws ] || ! .venv/bin/python -c 'import moto.server' 2>/dev/null; then
  echo "benches/workday.sh: installing test peers into .venv (as tests/run.sh does)" >&2
  python3 -m venv .venv && .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt &&
    sha256sum tests/requirements.txt | cut -d' ' -f1 > .venv/.requirements || fail "cannot build .venv (see above)"
fi

# --- build -------------------------------------------------------------------------------
# libfaketime is preloaded by the dynamic loader: install.sh's static build would ignore it.
# Kept between runs (not scratch), shared with startup.sh --link-modes: a release build
# takes minutes.
given=()
if [ -n "$bin" ]; then
  [ -x "$bin" ] || fail "$bin is not an executable"
  given=(--given)
else
  bin=$(scripts/build-release.sh --dynamic "${EKS_TOKEN_BENCH_TARGET_DIR:-${TMPDIR:-/tmp}/eks-token-bench-target}")
fi
.venv/bin/python benches/startup.py elf "$bin" | grep -q 'has PT_INTERP' ||
  fail "$bin is not a dynamically linked executable: libfaketime cannot reach it (\`scripts/build-release.sh --dynamic DIR\` builds one)"

exec .venv/bin/python benches/workday.py day --bin "$bin" "${given[@]}" --aws .venv/bin/aws \
  --libfaketime "$lib" "${driver_args[@]}"

#!/usr/bin/env bash
# The one test command: sets up the Python test peers (moto, botocore, awscli, PyJWT, Authlib)
# in .venv and the OpenID Provider (npm oidc-provider) in tests/peers/oidc/node_modules,
# checks that the kubectl versions the end-to-end tests drive are present, runs every test.
# A missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "tests/run.sh: $*" >&2; exit 1; }

python=${PYTHON:-python3}
command -v "$python" >/dev/null || fail "$python not found: install Python 3.9+ (Debian: apt-get install python3 python3-venv)"

want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
  echo "tests/run.sh: installing test peers into .venv" >&2
  "$python" -m venv .venv || fail "cannot create .venv (Debian: apt-get install python3-venv)"
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > .venv/.requirements
fi
export EKS_TOKEN_TEST_PYTHON="$PWD/.venv/bin/python"

# The OpenID Provider (npm oidc-provider), from its lockfile.
command -v node >/dev/null && command -v npm >/dev/null \
  || fail "node and npm not found: install Node.js 20+ and npm (Debian: apt-get install nodejs npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || fail "Node.js $(node --version) is too old for tests/peers/oidc: install Node.js 20+"
oidc=tests/peers/oidc
want=$(sha256sum "$oidc/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$oidc/node_modules/.lockfile" 2>/dev/null)" != "$want" ]; then
  echo "tests/run.sh: installing the OpenID Provider into $oidc/node_modules" >&2
  (cd "$oidc" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $oidc"
  echo "$want" > "$oidc/node_modules/.lockfile"
fi

# The completion and man page tests (tests/completions.rs, tests/help.rs, tests/install.rs).
for tool in bash zsh fish man git; do
  command -v "$tool" >/dev/null || fail "$tool not found: the completion and man page tests need it (Debian: apt-get install bash zsh fish man-db git)"
done
[ -f /usr/share/bash-completion/bash_completion ] || fail "bash-completion not found (Debian: apt-get install bash-completion)"
zsh -f -c 'zmodload zsh/zpty' || fail "zsh has no zsh/zpty module: the zsh completion test types into a pseudo-terminal"

for v in 1.27 1.28 1.29 1.30 1.31 1.32 1.33; do
  [ -x "/usr/lib/google-cloud-sdk/bin/kubectl.$v" ] || fail "kubectl $v missing at /usr/lib/google-cloud-sdk/bin/kubectl.$v"
done

# The tests run the binary built the way install.sh builds it (static on Linux).
if cargo nextest --version >/dev/null 2>&1; then
  scripts/cargo-static.sh nextest run --locked --no-fail-fast "$@"
else
  scripts/cargo-static.sh test --locked --no-fail-fast "$@"
fi

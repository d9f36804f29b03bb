#!/usr/bin/env bash
# Builds the release binary as install.sh installs it (scripts/cargo-static.sh) and prints
# the path cargo reports for it, so CARGO_TARGET_DIR, build.target-dir and --target are
# honoured and a stale binary left in ./target is never picked up.
#   bin=$(scripts/build-release.sh)
#   bin=$(scripts/build-release.sh --dynamic DIR)   cargo's default link mode (dynamically
#       linked PIE, no RUSTFLAGS) in target directory DIR, for the benches that compare link
#       modes or need LD_PRELOAD (libfaketime); DIR keeps it apart from the static build
set -euo pipefail
cd "$(dirname "$0")/.."
build=(scripts/cargo-static.sh build)
if [ "${1:-}" = --dynamic ]; then
  [ $# -eq 2 ] || { echo "scripts/build-release.sh: --dynamic needs a target directory" >&2; exit 2; }
  build=(env -u RUSTFLAGS cargo build --target-dir "$2")
fi
# Diagnostics are rendered on stderr; stdout carries one JSON message per line, and the
# `compiler-artifact` of the binary target names its `executable` (fresh builds too).
messages=$("${build[@]}" --release --locked --bin eks-token --message-format=json-render-diagnostics)
bin=$(printf '%s\n' "$messages" | grep '"reason":"compiler-artifact"' |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "scripts/build-release.sh: cargo did not report an eks-token executable" >&2
  exit 1
fi
printf '%s\n' "$bin"

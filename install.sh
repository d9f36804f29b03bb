#!/usr/bin/env bash
# Builds eks-token from this checkout and installs it into ${PREFIX:-$HOME/.local}/bin.
#   ./install.sh               build (cargo build --release --locked) and install; safe to re-run
#   ./install.sh --uninstall   remove the installed binary
set -euo pipefail
cd "$(dirname "$0")"

prefix=${PREFIX:-$HOME/.local}
bindir=$prefix/bin
target=$bindir/eks-token

case "${1:-}" in
  --uninstall)
    if [ -e "$target" ]; then
      rm -f "$target"
      echo "eks-token: removed $target"
    else
      echo "eks-token: nothing to remove at $target"
    fi
    exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

command -v cargo >/dev/null || { echo "install.sh: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
# Statically linked on Linux (glibc): see scripts/cargo-static.sh.
built=$(scripts/build-release.sh)
mkdir -p "$bindir"
# Copy to a temporary name and rename, so a running kubectl never sees a half-written binary.
install -m 0755 "$built" "$target.tmp.$$"
mv -f "$target.tmp.$$" "$target"
echo "eks-token: installed $("$target" --version | cut -d' ' -f2) to $target"
case ":$PATH:" in
  *":$bindir:"*) echo "eks-token: $bindir is on your PATH" ;;
  *) echo "eks-token: $bindir is not on your PATH; add it, e.g. echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.bashrc" ;;
esac

#!/usr/bin/env bash
# `cargo` with eks-token's release link mode: on Linux (glibc) a statically linked,
# non-PIE executable. Start-up is dominated by loading and relocating the binary; static
# non-PIE skips the dynamic loader and relocation (benches/README.md has the numbers).
# `--target <host>` keeps the flags off build scripts and proc-macros, which must stay
# dynamic. Elsewhere (macOS, musl, Windows) this is plain cargo.
#   scripts/cargo-static.sh build --release --locked
#   scripts/cargo-static.sh nextest run --locked
set -euo pipefail
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-gnu)
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static"
    export EKS_TOKEN_EXPECT_STATIC=1
    # --target goes before any `--`, after the subcommand and its options.
    args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
    exec cargo "${args[@]}" --target "$host" "$@" ;;
  *) exec cargo "$@" ;;
esac

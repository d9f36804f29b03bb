#!/usr/bin/env bash
# Builds eks-token from this checkout and installs it into ${PREFIX:-$HOME/.local}: the
# binary in bin/, bash, zsh and fish completions and the man pages under share/.
#   ./install.sh               build (cargo build --release --locked) and install; safe to re-run
#   ./install.sh --uninstall   remove everything install.sh installed there, and nothing else
set -euo pipefail
cd "$(dirname "$0")"

prefix=${PREFIX:-$HOME/.local}
bindir=$prefix/bin
target=$bindir/eks-token
share=$prefix/share
bash_dir=$share/bash-completion/completions
zsh_dir=$share/zsh/site-functions
fish_dir=$share/fish/vendor_completions.d
man_dir=$share/man/man1
# What install.sh put under the prefix: `f PATH` for each file, `d PATH` for each
# directory it created (removed on uninstall only when empty).
manifest=$share/eks-token/installed

# manifest_lines KIND: the paths of that kind in the manifest, if there is one.
manifest_lines() {
  [ -f "$manifest" ] || return 0
  sed -n "s/^$1 //p" "$manifest"
}

uninstall() {
  local files dirs path removed=0
  if [ ! -f "$manifest" ]; then
    # Installed by an install.sh that installed only the binary (or not at all).
    if [ -e "$target" ]; then
      rm -f "$target"
      echo "eks-token: removed $target"
    else
      echo "eks-token: nothing to remove under $prefix"
    fi
    return
  fi
  files=$(manifest_lines f)
  dirs=$(manifest_lines d)
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    if [ -e "$path" ] || [ -L "$path" ]; then
      rm -f "$path"
      removed=$((removed + 1))
    fi
  done <<< "$files"
  rm -f "$manifest"
  # Deepest first, and only when nothing else was put there.
  while IFS= read -r path; do
    [ -n "$path" ] && rmdir "$path" 2>/dev/null || true
  done < <(printf '%s\n' "$dirs" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
  echo "eks-token: removed $removed files installed under $prefix (the binary, completions, man pages)"
}

case "${1:-}" in
  --uninstall) uninstall; exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

command -v cargo >/dev/null || { echo "install.sh: cargo not found; install Rust from https://rustup.rs" >&2; exit 1; }
# Statically linked on Linux (glibc): see scripts/cargo-static.sh.
built=$(scripts/build-release.sh)

# Completions and man pages come from the binary just built, from its own CLI definition.
staging=$(mktemp -d "${TMPDIR:-/tmp}/eks-token-install.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$built" completions bash > "$staging/eks-token"
"$built" completions zsh > "$staging/_eks-token"
"$built" completions fish > "$staging/eks-token.fish"
"$built" man --dir "$staging/man1" > /dev/null

new_files=() new_dirs=()
# make_dir DIR: mkdir -p, remembering each directory it creates.
make_dir() {
  local dir=$1
  while [ ! -d "$dir" ]; do new_dirs+=("$dir"); dir=$(dirname "$dir"); done
  mkdir -p "$1"
}
# put SOURCE DEST MODE: copy under a temporary name and rename, so a running kubectl
# never sees a half-written binary and a shell never reads half a script.
put() {
  make_dir "$(dirname "$2")"
  install -m "$3" "$1" "$2.tmp.$$"
  mv -f "$2.tmp.$$" "$2"
  new_files+=("$2")
}

put "$built" "$target" 0755
put "$staging/eks-token" "$bash_dir/eks-token" 0644
put "$staging/_eks-token" "$zsh_dir/_eks-token" 0644
put "$staging/eks-token.fish" "$fish_dir/eks-token.fish" 0644
for page in "$staging"/man1/*.1; do
  put "$page" "$man_dir/${page##*/}" 0644
done
make_dir "$(dirname "$manifest")"

# A page or script an earlier install put there and this one did not is stale.
old_files=$(manifest_lines f)
while IFS= read -r path; do
  [ -n "$path" ] || continue
  printf '%s\n' "${new_files[@]}" | grep -Fxq -- "$path" || rm -f "$path"
done <<< "$old_files"
{
  printf 'f %s\n' "${new_files[@]}"
  { manifest_lines d; [ ${#new_dirs[@]} -eq 0 ] || printf '%s\n' "${new_dirs[@]}"; } | sort -u | sed 's/^/d /'
} > "$manifest.tmp.$$"
mv -f "$manifest.tmp.$$" "$manifest"

echo "eks-token: installed $("$target" --version | cut -d' ' -f2-) to $target"
case ":$PATH:" in
  *":$bindir:"*) echo "eks-token: $bindir is on your PATH" ;;
  *) echo "eks-token: $bindir is not on your PATH; add it, e.g. echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.bashrc" ;;
esac

# in_list DIR LIST: whether DIR is one of the :-separated directories of LIST.
in_list() { case ":$2:" in *":$1:"*) return 0 ;; *) return 1 ;; esac; }
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
# bash-completion's defaults.
data_dirs=${XDG_DATA_DIRS:-/usr/local/share:/usr/share}
echo "eks-token: completions and man pages (also complete --profile and --context names):"
if in_list "$share" "$data_home:$data_dirs"; then
  echo "  bash  $bash_dir/eks-token: loaded by bash-completion (package bash-completion)"
else
  echo "  bash  $bash_dir/eks-token: add 'source $bash_dir/eks-token' to ~/.bashrc"
fi
if [ "$zsh_dir" = /usr/local/share/zsh/site-functions ] || [ "$zsh_dir" = /usr/share/zsh/site-functions ]; then
  echo "  zsh   $zsh_dir/_eks-token: loaded by compinit"
else
  echo "  zsh   $zsh_dir/_eks-token: add 'fpath=($zsh_dir \$fpath)' before compinit in ~/.zshrc"
fi
# fish reads XDG_DATA_DIRS when it is set, else only its own data directory.
if in_list "$share" "$data_home:${XDG_DATA_DIRS:-/usr/share}"; then
  echo "  fish  $fish_dir/eks-token.fish: loaded by fish"
else
  echo "  fish  $fish_dir/eks-token.fish: add 'source $fish_dir/eks-token.fish' to ~/.config/fish/config.fish"
fi
# man-db looks in ../share/man of every directory on PATH.
if in_list "$bindir" "$PATH" || in_list "$share/man" "${MANPATH:-}"; then
  echo "  man   $man_dir: man eks-token, man eks-token-token …"
else
  echo "  man   $man_dir: found once $bindir is on your PATH (or add it to MANPATH)"
fi

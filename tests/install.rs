//! install.sh installs the binary cargo just built, wherever cargo put it
//! (`CARGO_TARGET_DIR`), never a stale one left in `./target`; with it the completions and
//! man pages, where bash-completion, zsh, fish and man find them as it says; and
//! `--uninstall` removes what it installed and nothing else. A stand-in `cargo` on PATH
//! answers as cargo does (`--message-format=json-render-diagnostics`) with the binary
//! under test behind a wrapper that names its build, so no release build is needed here.
//! The crate packages what builds it and nothing else, for `cargo install`.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{BIN, ROOT, Sandbox};
use tempfile::TempDir;

fn write_executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A program that says which build it is, as `eks-token --version` does, and is the
/// binary under test for everything else (completions, man pages).
fn fake_binary(version: &str) -> String {
    format!(
        "#!/bin/sh\ncase \"$1\" in --version) echo 'eks-token {version}' ;; *) exec '{BIN}' \"$@\" ;; esac\n"
    )
}

fn host() -> String {
    String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap()
}

/// A copy of the checkout's install scripts, a stand-in `cargo` that builds
/// `eks-token 9.9.9-fresh` into `$CARGO_TARGET_DIR`, and stale builds in `./target`.
struct Checkout {
    scratch: TempDir,
}

impl Checkout {
    fn new() -> Self {
        let scratch = tempfile::tempdir().unwrap();
        let checkout = scratch.path().join("checkout");
        for file in [
            "install.sh",
            "scripts/cargo-static.sh",
            "scripts/build-release.sh",
        ] {
            let text = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
            write_executable(&checkout.join(file), &text);
        }
        let host = host();
        // What an earlier build without CARGO_TARGET_DIR left behind.
        for stale in [
            format!("target/{host}/release/eks-token"),
            "target/release/eks-token".to_owned(),
        ] {
            write_executable(&checkout.join(stale), &fake_binary("0.0.0-stale"));
        }
        // Builds into $CARGO_TARGET_DIR and reports it: a build-script artifact (no
        // executable), then the binary, as cargo's JSON messages do.
        let fresh = fake_binary("9.9.9-fresh").replace('\'', r"'\''");
        write_executable(
            &scratch.path().join("cargo-bin/cargo"),
            &format!(
                r#"#!/bin/sh
case " $* " in *" build "*"--message-format=json-render-diagnostics"*) ;; *) echo "unexpected: $*" >&2; exit 3 ;; esac
out="$CARGO_TARGET_DIR/{host}/release/eks-token"
mkdir -p "$(dirname "$out")"
printf '%s' '{fresh}' > "$out"
chmod 755 "$out"
echo '{{"reason":"compiler-artifact","target":{{"kind":["custom-build"],"name":"build-script-build"}},"executable":null,"fresh":true}}'
echo "{{\"reason\":\"compiler-artifact\",\"target\":{{\"kind\":[\"bin\"],\"name\":\"eks-token\"}},\"executable\":\"$out\",\"fresh\":false}}"
echo '{{"reason":"build-finished","success":true}}'
"#
            ),
        );
        Self { scratch }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.scratch.path().join(relative)
    }

    /// `install.sh ARGS` in `sandbox`'s clean environment, the stand-in cargo and
    /// `path_also` first on PATH.
    fn install(
        &self,
        sandbox: &Sandbox,
        prefix: Option<&Path>,
        path_also: &str,
        args: &[&str],
    ) -> Output {
        let script = self.path("checkout/install.sh");
        let mut cmd = sandbox.command_of("bash", &[script.to_str().unwrap()]);
        cmd.args(args)
            .env(
                "PATH",
                format!(
                    "{}:{path_also}:{}",
                    self.path("cargo-bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("CARGO_TARGET_DIR", self.path("elsewhere"))
            .stdin(Stdio::null());
        // scripts/cargo-static.sh asks rustc for the host; rustup's rustc finds its
        // toolchains through the real HOME, which the sandbox replaces.
        let real_home = std::env::var("HOME").unwrap_or_default();
        for (var, default) in [
            ("RUSTUP_HOME", format!("{real_home}/.rustup")),
            ("CARGO_HOME", format!("{real_home}/.cargo")),
        ] {
            cmd.env(var, std::env::var(var).unwrap_or(default));
        }
        if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
            cmd.env("RUSTUP_TOOLCHAIN", toolchain);
        }
        if let Some(prefix) = prefix {
            cmd.env("PREFIX", prefix);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "install.sh {args:?}: {}", text(&out));
        out
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file and directory under `dir`, relative, directories ending in `/`.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                found.insert(format!("{relative}/"));
                todo.push(path);
            } else {
                found.insert(relative);
            }
        }
    }
    found
}

/// What the binary under test prints for `args`.
fn generated(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn install_uses_the_binary_cargo_reports_under_cargo_target_dir() {
    let checkout = Checkout::new();
    let prefix = checkout.path("prefix");
    let out = checkout.install(&Sandbox::new(), Some(&prefix), "", &[]);
    let installed = Command::new(prefix.join("bin/eks-token"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&installed.stdout),
        "eks-token 9.9.9-fresh\n"
    );
    assert!(
        text(&out).contains("installed 9.9.9-fresh"),
        "{}",
        text(&out)
    );
}

#[test]
fn completions_and_man_pages_go_in_the_prefix_and_uninstall_removes_exactly_them() {
    let checkout = Checkout::new();
    let sandbox = Sandbox::new();
    let prefix = checkout.path("prefix");
    // Someone else's files, in directories install.sh also uses.
    for other in [
        "bin/other-tool",
        "share/man/man1/other.1",
        "share/zsh/site-functions/_other",
    ] {
        write_executable(&prefix.join(other), "other\n");
    }
    let before = tree(&prefix);

    checkout.install(&sandbox, Some(&prefix), "", &[]);
    let pages_dir = checkout.path("pages");
    generated(&["man", "--dir", pages_dir.to_str().unwrap()]);
    let pages: Vec<String> = tree(&pages_dir).into_iter().collect();
    assert_eq!(pages.len(), 15, "{pages:?}");
    let mut expected: Vec<(String, String, u32)> = vec![
        (
            "share/bash-completion/completions/eks-token".into(),
            generated(&["completions", "bash"]),
            0o644,
        ),
        (
            "share/zsh/site-functions/_eks-token".into(),
            generated(&["completions", "zsh"]),
            0o644,
        ),
        (
            "share/fish/vendor_completions.d/eks-token.fish".into(),
            generated(&["completions", "fish"]),
            0o644,
        ),
    ];
    for page in &pages {
        let roff = std::fs::read_to_string(pages_dir.join(page)).unwrap();
        expected.push((format!("share/man/man1/{page}"), roff, 0o644));
    }
    for (relative, content, mode) in &expected {
        let path = prefix.join(relative);
        assert_eq!(
            &std::fs::read_to_string(&path).unwrap(),
            content,
            "{relative}"
        );
        let actual = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, *mode, "{relative}");
    }
    let binary = std::fs::metadata(prefix.join("bin/eks-token")).unwrap();
    assert_eq!(binary.permissions().mode() & 0o777, 0o755);

    // A page an earlier install put there and this one does not make is removed.
    let manifest = prefix.join("share/eks-token/installed");
    let gone = prefix.join("share/man/man1/eks-token-gone.1");
    std::fs::write(&gone, "old page\n").unwrap();
    let listed = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{listed}f {}\n", gone.display())).unwrap();
    checkout.install(&sandbox, Some(&prefix), "", &[]);
    assert!(!gone.exists());
    for (relative, _, _) in &expected {
        assert!(prefix.join(relative).is_file(), "{relative}");
    }

    let out = checkout.install(&sandbox, Some(&prefix), "", &["--uninstall"]);
    assert!(
        text(&out).contains(&format!("removed {} files", expected.len() + 1)),
        "{}",
        text(&out)
    );
    assert_eq!(tree(&prefix), before);
    let out = checkout.install(&sandbox, Some(&prefix), "", &["--uninstall"]);
    assert!(text(&out).contains("nothing to remove"), "{}", text(&out));

    // A prefix that did not exist is gone again, directories and all.
    std::fs::create_dir(checkout.path("fresh")).unwrap();
    let fresh = checkout.path("fresh/prefix");
    checkout.install(&sandbox, Some(&fresh), "", &[]);
    assert!(fresh.join("share/man/man1/eks-token.1").is_file());
    checkout.install(&sandbox, Some(&fresh), "", &["--uninstall"]);
    assert!(!fresh.exists(), "{:?}", tree(&fresh));
    assert!(checkout.path("fresh").is_dir());
}

/// The default prefix, ~/.local: bash-completion and fish load the scripts by
/// themselves, zsh after the `fpath` line install.sh prints, and man finds the pages
/// through PATH — as install.sh says.
#[test]
fn installed_completions_and_pages_are_found_where_install_sh_says() {
    let checkout = Checkout::new();
    let sandbox = Sandbox::new();
    let bin = sandbox.path(".local/bin");
    let out = checkout.install(&sandbox, None, bin.to_str().unwrap(), &[]);
    let said = text(&out);
    let share = sandbox.path(".local/share");
    let zsh_dir = share.join("zsh/site-functions");
    for line in [
        format!(
            "bash  {}/bash-completion/completions/eks-token: loaded by bash-completion",
            share.display()
        ),
        format!(
            "zsh   {}/_eks-token: add 'fpath=({} $fpath)' before compinit in ~/.zshrc",
            zsh_dir.display(),
            zsh_dir.display()
        ),
        format!(
            "fish  {}/fish/vendor_completions.d/eks-token.fish: loaded by fish",
            share.display()
        ),
        format!("man   {}/man/man1: man eks-token", share.display()),
    ] {
        assert!(said.contains(&line), "{line:?} not in:\n{said}");
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = |program: &str, args: &[&str]| {
        let out = sandbox
            .command_of(program, args)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };

    let bash = run(
        "bash",
        &[
            "--norc",
            "-c",
            "source /usr/share/bash-completion/bash_completion && __load_completion eks-token && complete -p eks-token",
        ],
    );
    assert!(bash.contains("-F _eks_token_names eks-token"), "{bash}");
    let zsh = run(
        "zsh",
        &[
            "-f",
            "-c",
            &format!(
                "fpath=({} $fpath); autoload -U compinit; compinit -u -d $HOME/.zcompdump; print -r -- $_comps[eks-token]",
                zsh_dir.display()
            ),
        ],
    );
    assert_eq!(zsh, "_eks-token\n");
    let fish = run("fish", &["-c", "complete -C 'eks-token tok'"]);
    assert!(fish.starts_with("token\t"), "{fish}");
    let man = run("man", &["-w", "eks-token-token"]);
    assert_eq!(
        man.trim(),
        share
            .join("man/man1/eks-token-token.1")
            .display()
            .to_string()
    );
}

/// `cargo install --path .` and `--git` build from the package: the sources, the build
/// script, the manifest and lockfile, the README it names; no tests, fixtures or peers.
#[test]
fn the_crate_packages_what_builds_and_nothing_else() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["package", "--list", "--locked", "--allow-dirty"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let listed: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| *l != ".cargo_vcs_info.json")
        .map(str::to_owned)
        .collect();
    let mut expected: BTreeSet<String> = [
        "Cargo.lock",
        "Cargo.toml",
        "Cargo.toml.orig",
        "README.md",
        "build.rs",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    expected.extend(
        tree(&Path::new(ROOT).join("src"))
            .into_iter()
            .filter(|p| p.ends_with(".rs"))
            .map(|p| format!("src/{p}")),
    );
    assert_eq!(listed, expected);
}

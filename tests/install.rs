//! install.sh installs the binary cargo just built, wherever cargo put it
//! (`CARGO_TARGET_DIR`), never a stale one left in `./target`. A stand-in `cargo` on PATH
//! answers as cargo does (`--message-format=json-render-diagnostics`), so no release build
//! is needed here.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use support::ROOT;

fn write_executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A program that says which build it is, as `eks-token --version` does.
fn fake_binary(version: &str) -> String {
    format!("#!/bin/sh\necho 'eks-token {version}'\n")
}

#[test]
fn install_uses_the_binary_cargo_reports_under_cargo_target_dir() {
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
    let host = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap();
    // What an earlier build without CARGO_TARGET_DIR left behind.
    for stale in [
        format!("target/{host}/release/eks-token"),
        "target/release/eks-token".to_owned(),
    ] {
        write_executable(&checkout.join(stale), &fake_binary("0.0.0-stale"));
    }
    let target_dir = scratch.path().join("elsewhere");
    let bin_dir = scratch.path().join("bin");
    // Builds into $CARGO_TARGET_DIR and reports it: a build-script artifact (no
    // executable), then the binary, as cargo's JSON messages do.
    write_executable(
        &bin_dir.join("cargo"),
        &format!(
            r#"#!/bin/sh
case " $* " in *" build "*"--message-format=json-render-diagnostics"*) ;; *) echo "unexpected: $*" >&2; exit 3 ;; esac
out="$CARGO_TARGET_DIR/{host}/release/eks-token"
mkdir -p "$(dirname "$out")"
printf '#!/bin/sh\necho "eks-token 9.9.9-fresh"\n' > "$out"
chmod 755 "$out"
echo '{{"reason":"compiler-artifact","target":{{"kind":["custom-build"],"name":"build-script-build"}},"executable":null,"fresh":true}}'
echo "{{\"reason\":\"compiler-artifact\",\"target\":{{\"kind\":[\"bin\"],\"name\":\"eks-token\"}},\"executable\":\"$out\",\"fresh\":false}}"
echo '{{"reason":"build-finished","success":true}}'
"#
        ),
    );
    let prefix = scratch.path().join("prefix");
    let out = Command::new("bash")
        .arg(checkout.join("install.sh"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("PREFIX", &prefix)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let installed = Command::new(prefix.join("bin/eks-token")).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&installed.stdout),
        "eks-token 9.9.9-fresh\n"
    );
    assert!(stdout.contains("installed 9.9.9-fresh"), "{stdout}");
}

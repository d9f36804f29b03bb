//! Cache faults from the bad-input matrix, and the cache half of the secrets test.
//!
//! The rule these tests hold the cache to: the cache only ever saves time. A cache that
//! cannot be written (read-only mount, full disk) or read (a FIFO where an entry should
//! be) costs a warning, never the token, never a hang, and never leaves a partial entry.
//!
//! Read-only and full file systems are real ones: `unshare -rm` gives the test a private
//! mount namespace where it may mount a tiny tmpfs without privileges.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{Run, Sandbox, verify_token};

const AK: &str = "AKIACACHEFAULTKEY001";
const SK: &str = "SENTINELcacheFaultSecret0001";

fn env_creds() -> Sandbox {
    let mut s = Sandbox::new();
    s.env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK)
        .env("AWS_REGION", "eu-west-1");
    s
}

/// Runs eks-token with `args` inside a user + mount namespace where `dir` is a tmpfs
/// mounted with `options` (`size=4k`, `ro`, …).
fn run_on_tmpfs(s: &Sandbox, dir: &Path, options: &str, args: &[&str]) -> Run {
    std::fs::create_dir_all(dir).unwrap();
    let script = format!(
        "mount -t tmpfs -o {options} tmpfs '{}' && exec \"$0\" \"$@\"",
        dir.display()
    );
    let mut cmd: Command = s.command_of("unshare", &["-rm", "sh", "-c", &script]);
    cmd.arg(support::BIN).args(args);
    support::run_command(cmd)
}

fn assert_token_with_cache_warning(run: &Run) {
    verify_token(&run.token(), "c", SK);
    assert!(
        run.stderr.contains("eks-token: warning: "),
        "a cache that cannot be written is worth a warning: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(SK));
    run.assert_within(Duration::from_secs(5));
}

#[test]
fn read_only_cache_dir_still_prints_the_token() {
    let s = env_creds();
    let dir = s.path("ro-cache");
    let dir_arg = dir.display().to_string();
    let run = run_on_tmpfs(
        &s,
        &dir,
        "ro",
        &["token", "-i", "c", "--cache-dir", &dir_arg],
    );
    assert_token_with_cache_warning(&run);
}

#[test]
fn full_disk_still_prints_the_token_and_leaves_no_partial_entry() {
    let s = env_creds();
    let dir = s.path("full-cache");
    let dir_arg = dir.display().to_string();
    // Fill the tmpfs first, then ask for a token with the cache on it.
    let fill = format!(
        "mount -t tmpfs -o size=4k tmpfs '{0}' && dd if=/dev/zero of='{0}/filler' bs=1k count=8 2>/dev/null; exec \"$0\" \"$@\"",
        dir.display()
    );
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = s.command_of("unshare", &["-rm", "sh", "-c", &fill]);
    cmd.arg(support::BIN)
        .args(["token", "-i", "c", "--cache-dir", &dir_arg]);
    let run = support::run_command(cmd);
    assert_token_with_cache_warning(&run);
}

#[test]
fn a_fifo_where_the_entry_should_be_is_not_read() {
    let s = env_creds();
    let dir = s.path("cache");
    let dir_arg = dir.display().to_string();
    let args = ["token", "-i", "c", "--cache-dir", dir_arg.as_str()];
    verify_token(&s.run(&args).token(), "c", SK);
    // Replace every entry the first run wrote with a FIFO: opening one for reading
    // would block forever.
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.path())
        .collect();
    assert!(!entries.is_empty(), "the first run cached nothing");
    for entry in &entries {
        std::fs::remove_file(entry).unwrap();
        assert!(
            Command::new("mkfifo")
                .arg(entry)
                .status()
                .unwrap()
                .success()
        );
    }
    let run = s.run(&args);
    verify_token(&run.token(), "c", SK);
    run.assert_within(Duration::from_secs(5));
}

#[test]
fn cache_entries_hold_the_token_only_and_cache_list_shows_no_secret() {
    let s = env_creds();
    let dir = s.path("cache");
    let dir_arg = dir.display().to_string();
    let run = s.run(&["token", "-i", "c", "--cache-dir", &dir_arg, "--verbose"]);
    let token = run.token();
    assert!(
        run.stderr.contains("cache"),
        "--verbose says what the cache decided: {}",
        run.stderr
    );
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        if !meta.is_file() {
            continue;
        }
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{:?}",
            entry.path()
        );
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(!text.contains(SK), "secret key in {:?}", entry.path());
    }
    let list = s.run(&["cache", "list", "--cache-dir", &dir_arg]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(!list.stdout.contains(SK) && !list.stderr.contains(SK));
    assert!(
        !list.stdout.contains(&token),
        "cache list must not print tokens"
    );
}

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

use support::{AK, Run, SK, Sandbox, env_creds, verify_token};

/// Runs eks-token with `args` inside a user + mount namespace where `dir` is a private
/// (mode 0700) tmpfs mounted with `options` (`size=4k`, `ro`, …), after `prepare` (shell)
/// ran in it. Returns the run and what the tmpfs held afterwards (it vanishes with the
/// namespace, so it is listed from inside).
fn run_on_tmpfs(s: &Sandbox, dir: &Path, options: &str, prepare: &str) -> (Run, Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let listing = s.path("tmpfs-listing");
    let script = format!(
        "mount -t tmpfs -o mode=0700,{options} tmpfs '{dir}' && {{ {prepare} \"$0\" \"$@\"; rc=$?; ls -A '{dir}' > '{listing}'; exit $rc; }}",
        dir = dir.display(),
        listing = listing.display(),
    );
    let dir_arg = dir.display().to_string();
    let mut cmd: Command = s.command_of("unshare", &["-rm", "sh", "-c", &script]);
    cmd.arg(support::BIN)
        .args(["token", "-i", "c", "--cache-dir", &dir_arg]);
    let run = support::run_command(cmd);
    let left = std::fs::read_to_string(&listing)
        .unwrap_or_else(|_| panic!("the tmpfs run did not finish: {}", run.stderr));
    (run, left.lines().map(str::to_owned).collect())
}

/// The token is printed, the warning names the file-system error, and no entry or
/// temporary file is left half-written.
fn assert_token_despite(run: &Run, left: &[String], error: &str) {
    verify_token(&run.token(), "c", SK);
    assert!(
        run.stderr
            .starts_with("eks-token: warning: not using the token cache: ")
            && run.stderr.contains(error),
        "a cache that cannot be written is worth a warning naming {error:?}: {}",
        run.stderr
    );
    assert!(!run.stderr.contains(SK));
    assert!(
        !left
            .iter()
            .any(|f| f.ends_with(".json") || f.ends_with(".tmp")),
        "partial cache files left: {left:?}"
    );
    run.assert_within(Duration::from_secs(5));
}

#[test]
fn read_only_cache_dir_still_prints_the_token() {
    let s = env_creds();
    let (run, left) = run_on_tmpfs(&s, &s.path("ro-cache"), "ro", "");
    assert_token_despite(&run, &left, "Read-only file system");
}

#[test]
fn full_disk_still_prints_the_token_and_leaves_no_partial_entry() {
    let s = env_creds();
    let dir = s.path("full-cache");
    // Fill the tmpfs first (dd stops at ENOSPC), then ask for a token with the cache on it.
    // The filler is named like a writer's temporary file: the cache refuses a directory
    // that holds anything not its own.
    let filler = format!(".{}.1.1.tmp", "0".repeat(64));
    let fill = format!(
        "dd if=/dev/zero of='{}/{filler}' bs=1k count=64 2>/dev/null;",
        dir.display()
    );
    let (run, mut left) = run_on_tmpfs(&s, &dir, "size=16k", &fill);
    left.retain(|f| *f != filler);
    assert_token_despite(&run, &left, "No space left on device");
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

#[test]
fn a_cache_dir_swapped_for_a_symlink_mid_run_is_not_written_through() {
    use std::os::unix::fs::PermissionsExt;
    let mut s = Sandbox::new();
    s.env("AWS_REGION", "eu-west-1");
    let dir = s.path("cache");
    let moved = s.path("cache.moved");
    let elsewhere = s.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The credential helper runs after the run opened and locked the cache and before it
    // stores the token: it moves the directory away and leaves a symlink in its place.
    let helper = s.write(
        "swap.sh",
        &format!(
            "mv '{dir}' '{moved}' && ln -s '{elsewhere}' '{dir}' && \
             printf '{{\"Version\": 1, \"AccessKeyId\": \"{AK}\", \"SecretAccessKey\": \"{SK}\"}}'\n",
            dir = dir.display(),
            moved = moved.display(),
            elsewhere = elsewhere.display(),
        ),
    );
    s.write(
        ".aws/config",
        &format!("[default]\ncredential_process = sh {}\n", helper.display()),
    );
    let dir_arg = dir.display().to_string();
    let run = s.run(&["token", "-i", "c", "--cache-dir", &dir_arg]);
    verify_token(&run.token(), "c", SK);
    assert!(dir.is_symlink(), "the helper did not swap the directory");
    let names = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(
        names(&elsewhere).is_empty(),
        "written through the swapped-in symlink: {:?}",
        names(&elsewhere)
    );
    assert!(
        names(&moved).iter().any(|n| n.ends_with(".json")),
        "the entry belongs in the directory the run opened: {:?} ({})",
        names(&moved),
        run.stderr
    );
}

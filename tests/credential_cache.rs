//! The credential cache through the real binary with moto: one AssumeRole serves the
//! tokens of many clusters, also under a burst of cold runs; another profile, an edited config or credentials near their
//! end get new ones (botocore's windows); the cached secrets never reach stderr,
//! `--verbose` or `cache list`.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;
use support::{AK, Process, SK, Sandbox, assume_role_calls};

const ROLE: &str = "arn:aws:iam::123456789012:role/cached";
const OTHER_ROLE: &str = "arn:aws:iam::123456789012:role/other";

/// A sandbox whose `dev` profile assumes [`ROLE`] through moto, and `ops` [`OTHER_ROLE`].
/// The AWS CLI's role cache is off: these tests count the AssumeRoles eks-token's own
/// cache saves (`aws_cli_cache.rs` tests the other).
fn role_profiles(moto: &Process) -> Sandbox {
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_PROFILE", "dev")
        .env("EKS_TOKEN_NO_AWS_CLI_CACHE", "1");
    s.write(".aws/config", &config(""));
    s
}

fn config(extra: &str) -> String {
    format!(
        "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile dev]\nrole_arn = {ROLE}\nsource_profile = base\n\
         [profile ops]\nrole_arn = {OTHER_ROLE}\nsource_profile = base\n{extra}"
    )
}

/// The credential entries in the sandbox's cache directory.
fn credential_files(s: &Sandbox) -> Vec<PathBuf> {
    let dir = s.path(".kube/cache/eks-token");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|read| {
            read.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "credentials"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The one credential entry, parsed.
fn only_entry(s: &Sandbox) -> (PathBuf, Value) {
    let files = credential_files(s);
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    (files[0].clone(), serde_json::from_str(&text).unwrap())
}

/// Rewrites the entry to expire `left` from now (whole seconds), and returns that time.
fn expire_in(path: &PathBuf, entry: &Value, left: TimeDelta) -> String {
    let at: DateTime<Utc> = DateTime::from_timestamp((Utc::now() + left).timestamp(), 0).unwrap();
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut entry = entry.clone();
    entry["expires_at"] = at.clone().into();
    std::fs::write(path, serde_json::to_vec(&entry).unwrap()).unwrap();
    at
}

#[test]
fn five_clusters_share_one_assume_role_and_another_profile_gets_its_own() {
    let moto = Process::moto();
    let s = role_profiles(&moto);
    for cluster in ["a", "b", "c", "d", "e"] {
        let run = s.run(&["token", "-i", cluster]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(assume_role_calls(&moto), 1);
    let (_, entry) = only_entry(&s);
    assert_eq!(entry["role"], ROLE);
    assert!(entry.get("secret_access_key").is_some());

    s.run(&["token", "-i", "a", "--profile", "ops"]);
    assert_eq!(assume_role_calls(&moto), 2, "a second profile has its own");
    s.run(&["token", "-i", "b", "--profile", "ops"]);
    assert_eq!(assume_role_calls(&moto), 2);
    assert_eq!(credential_files(&s).len(), 2);

    // --no-cache bypasses it, and writes nothing.
    s.run(&["token", "-i", "f", "--no-cache"]);
    assert_eq!(assume_role_calls(&moto), 3);
    assert_eq!(credential_files(&s).len(), 2);

    // `cache clear` counts both kinds; a cluster's clear leaves credentials.
    assert_eq!(
        s.run(&["cache", "clear", "--cluster-id", "a"]).stdout,
        "removed 2 cached tokens and 0 cached credentials\n"
    );
    assert_eq!(
        s.run(&["cache", "clear"]).stdout,
        "removed 5 cached tokens and 2 cached credentials\n"
    );
    s.run(&["token", "-i", "a"]);
    assert_eq!(assume_role_calls(&moto), 4);
}

#[test]
fn thirty_two_cold_runs_across_four_clusters_make_one_assume_role() {
    let moto = Process::moto();
    let s = role_profiles(&moto);
    let children: Vec<_> = (0..32)
        .map(|i| {
            s.command(&["token", "-i", ["w", "x", "y", "z"][i % 4]])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = support::Run::from_output(child.wait_with_output().unwrap(), Duration::ZERO);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(assume_role_calls(&moto), 1);
    assert_eq!(credential_files(&s).len(), 1);
}

#[test]
fn an_edited_config_gets_new_credentials() {
    let moto = Process::moto();
    let s = role_profiles(&moto);
    s.run(&["token", "-i", "a"]);
    assert_eq!(assume_role_calls(&moto), 1);
    s.write(".aws/config", &config("# edited\n"));
    let run = s.run(&["token", "-i", "b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 2);
}

#[test]
fn credentials_under_ten_minutes_are_refreshed_and_between_ten_and_fifteen_serve_a_failed_refresh()
{
    let moto = Process::moto();
    let s = role_profiles(&moto);
    s.run(&["token", "-i", "a"]);
    assert_eq!(assume_role_calls(&moto), 1);

    // Under ten minutes left: refreshed, and the entry replaced.
    let (path, entry) = only_entry(&s);
    expire_in(&path, &entry, TimeDelta::minutes(9));
    let run = s.run(&["token", "-i", "b"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 2);
    let (_, refreshed) = only_entry(&s);
    assert_ne!(refreshed["access_key_id"], entry["access_key_id"]);

    // Between ten and fifteen: a refresh is tried; when STS is gone the cached
    // credentials still sign, and the token does not outlive them.
    let (path, entry) = only_entry(&s);
    let expiry = expire_in(&path, &entry, TimeDelta::minutes(12));
    drop(moto);
    let run = s.run(&["token", "-i", "c"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.credential()["status"]["expirationTimestamp"],
        expiry.as_str()
    );

    // Under ten minutes with STS gone: no token.
    expire_in(&path, &entry, TimeDelta::minutes(9));
    let run = s.run(&["token", "-i", "d"]);
    assert_ne!(run.code, 0, "credentials about to lapse are not used");
    assert!(run.stdout.is_empty());
}

#[test]
fn cached_secrets_never_reach_stderr_verbose_or_cache_list() {
    let moto = Process::moto();
    let mut s = role_profiles(&moto);
    s.run(&["token", "-i", "a"]);
    let (path, entry) = only_entry(&s);
    let secret = entry["secret_access_key"].as_str().unwrap().to_owned();
    let session = entry["session_token"].as_str().unwrap().to_owned();
    assert!(!secret.is_empty() && !session.is_empty());

    let mut outputs = Vec::new();
    // A credential hit, with --verbose and with the variable.
    outputs.push(s.run(&["token", "-i", "b", "--verbose"]).stderr);
    s.env("EKS_TOKEN_LOG", "debug");
    outputs.push(s.run(&["token", "-i", "c"]).stderr);
    // A failed refresh that falls back to them, and one that cannot.
    expire_in(&path, &entry, TimeDelta::minutes(12));
    drop(moto);
    outputs.push(s.run(&["token", "-i", "d", "--verbose"]).stderr);
    expire_in(&path, &entry, TimeDelta::minutes(9));
    outputs.push(s.run(&["token", "-i", "e", "--verbose"]).stderr);
    assert!(
        outputs[0].contains("credential cache: hit"),
        "the hit is visible: {}",
        outputs[0]
    );
    assert!(outputs[2].contains("refresh failed"), "{}", outputs[2]);

    let list = s.run(&["cache", "list"]);
    assert!(
        list.stdout.contains("CREDENTIALS") && list.stdout.contains(ROLE),
        "{}",
        list.stdout
    );
    outputs.push(list.stdout);
    let json = s.run(&["cache", "list", "--output", "json"]).stdout;
    let items: Value = serde_json::from_str(&json).unwrap();
    let credentials: Vec<&Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "credentials")
        .collect();
    assert_eq!(credentials.len(), 1, "{json}");
    assert_eq!(credentials[0]["source"], "profile dev");
    assert_eq!(credentials[0]["role"], ROLE);
    outputs.push(json);
    for out in &outputs {
        for hidden in [&secret, &session, &SK.to_owned()] {
            assert!(!out.contains(hidden.as_str()), "a secret shown in: {out}");
        }
    }
}

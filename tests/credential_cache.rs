//! The credential cache through the real binary: for each source that costs a call (role
//! chains and --role-arn with moto, web identity with moto, SSO with the fake portal, a
//! container endpoint, a credential_process that says when its credentials expire) one
//! fetch serves the tokens of many clusters, also under a burst of cold runs; whoami,
//! kubeconfig and token share it; static, environment and instance metadata credentials
//! are never written; another profile, an edited config or credentials near their end get
//! new ones (botocore's windows); a stale token is signed again without the SDK while the
//! credentials are fresh; the cached secrets never reach stderr, `--verbose`,
//! `cache list` or a file outside the store.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use support::{
    AK, FakeSso, Process, SK, SSO_ACCOUNT, SSO_PROFILE, SSO_REGION, SSO_ROLE, SSO_SESSION, Sandbox,
    assume_role_calls, count_requests, moto_cluster, read_sso_login, repo_file, sso_device_login,
    sso_role_credentials, sso_sandbox, utc_in, verify_token, write_sso_login,
};

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

/// Where eks-token keeps its files in a sandbox (the default cache directory).
const STORE: &str = ".kube/cache/eks-token";

const WEB_ROLE: &str = "arn:aws:iam::123456789012:role/ci-deployer";

/// `token` for each cluster with `extra` flags, `--verbose`, and the AWS CLI's role cache
/// off (so only eks-token's own cache can spare a call); returns each run's stderr.
fn tokens(s: &Sandbox, clusters: &[&str], extra: &[&str]) -> Vec<String> {
    clusters
        .iter()
        .map(|cluster| {
            let mut args = vec!["token", "-i", cluster, "--verbose", "--no-aws-cli-cache"];
            args.extend_from_slice(extra);
            let run = s.run(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
            run.stderr
        })
        .collect()
}

/// `cache list` as text and JSON; a credential entry shows only its source, role and
/// expiry.
fn listings(s: &Sandbox) -> Vec<String> {
    let text = s.run(&["cache", "list"]).stdout;
    let json = s.run(&["cache", "list", "--output", "json"]).stdout;
    let items: Value = serde_json::from_str(&json).unwrap();
    for item in items.as_array().unwrap() {
        if item["kind"] == "credentials" {
            let mut fields: Vec<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            fields.sort();
            assert_eq!(
                fields,
                ["expires_at", "expires_in_seconds", "kind", "role", "source"],
                "{json}"
            );
        }
    }
    vec![text, json]
}

/// The secret key and session token of a credential entry.
fn entry_secrets(entry: &Value) -> Vec<String> {
    ["secret_access_key", "session_token"]
        .iter()
        .map(|k| entry[k].as_str().expect(k).to_owned())
        .collect()
}

/// Every file under `dir` but those under `skip`, read lossily.
fn files_under(dir: &Path, skip: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if path.starts_with(skip) {
                continue;
            } else if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                found.push((path, text));
            }
        }
    }
    found
}

/// Each of `secrets` is in a credential entry (so the check looks for something real) and
/// nowhere else: not in `outputs` (stderr, `--verbose`, `cache list`), not in any file
/// under HOME outside the store.
fn assert_secrets_stay_in_store(s: &Sandbox, secrets: &[String], outputs: &[String]) {
    let stored: String = credential_files(s)
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let outside = files_under(s.home.path(), &s.path(STORE));
    for secret in secrets {
        assert!(
            stored.contains(secret.as_str()),
            "{secret} is not in the store"
        );
        for out in outputs {
            assert!(!out.contains(secret.as_str()), "{secret} shown in: {out}");
        }
        for (path, text) in &outside {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} in {}",
                path.display()
            );
        }
    }
}

/// The one credential entry came from `source` for `role` (null: none), and `secrets`
/// (`None`: the entry's own) are in the store and nowhere else: not in `outputs`, which
/// gains `cache list`'s.
fn assert_only_entry(
    s: &Sandbox,
    source: &str,
    role: impl Into<Value>,
    secrets: Option<&[&str]>,
    outputs: &mut Vec<String>,
) {
    let (_, entry) = only_entry(s);
    assert_eq!(entry["source"], source);
    assert_eq!(entry["role"], role.into());
    outputs.extend(listings(s));
    let secrets = match secrets {
        Some(secrets) => secrets.iter().map(|&secret| secret.to_owned()).collect(),
        None => entry_secrets(&entry),
    };
    assert_secrets_stay_in_store(s, &secrets, outputs);
}

/// Each of `secrets` is nowhere: not in `outputs`, not in any file under HOME.
fn assert_secrets_nowhere(s: &Sandbox, secrets: &[&str], outputs: &[String]) {
    let everywhere = files_under(s.home.path(), &s.path("/nonexistent"));
    for secret in secrets {
        for out in outputs {
            assert!(!out.contains(secret), "{secret} shown in: {out}");
        }
        for (path, text) in &everywhere {
            assert!(!text.contains(secret), "{secret} in {}", path.display());
        }
    }
}

/// `tests/peers/stub_server.py` with `config`, kept outside HOME (with its request log),
/// so the secrets it hands out are in no file under HOME but those eks-token writes.
fn stub(config: &Value) -> (Process, tempfile::TempDir) {
    let outside = tempfile::tempdir().unwrap();
    let path = outside.path().join("stub.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let log = outside.path().join("requests.log");
    let stub = Process::peer(
        "tests/peers/stub_server.py",
        &[
            "--config",
            path.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    (stub, outside)
}

/// The stub's request log (outside HOME): the paths it was asked for, in order.
fn stub_paths(outside: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_to_string(outside.path().join("requests.log"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["path"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn web_identity_from_the_environment_or_a_profile_is_fetched_once_for_many_clusters() {
    let moto = Process::moto();
    let outside = tempfile::tempdir().unwrap();
    let jwt = outside.path().join("token.jwt");
    std::fs::write(&jwt, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln").unwrap();
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        .env("AWS_REGION", "us-west-2")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", jwt.to_str().unwrap())
        .env("AWS_ROLE_ARN", WEB_ROLE);
    let mut outputs = tokens(&s, &["a", "b", "c"], &[]);
    assert_eq!(assume_role_calls(&moto), 1);
    assert_only_entry(&s, "web identity token", WEB_ROLE, None, &mut outputs);

    // Another session name picks other credentials.
    s.env("AWS_ROLE_SESSION_NAME", "pipeline-43");
    tokens(&s, &["a", "b"], &[]);
    assert_eq!(assume_role_calls(&moto), 2);
    assert_eq!(credential_files(&s).len(), 2);

    let mut p = Sandbox::new();
    p.endpoint(&moto.url())
        .env("AWS_REGION", "us-west-2")
        .env("AWS_PROFILE", "ci");
    p.write(
        ".aws/config",
        &format!(
            "[profile ci]\nrole_arn = {OTHER_ROLE}\nweb_identity_token_file = {}\n",
            jwt.display()
        ),
    );
    let mut outputs = tokens(&p, &["a", "b", "c"], &[]);
    assert_eq!(assume_role_calls(&moto), 3);
    assert_only_entry(&p, "profile ci", OTHER_ROLE, None, &mut outputs);
}

#[test]
fn sso_role_credentials_are_fetched_once_for_many_clusters_and_go_with_the_logout() {
    let fake = FakeSso::start(&json!({}));
    let s = sso_sandbox(&fake);
    write_sso_login(&s, SSO_SESSION, &sso_device_login(&fake));
    let profile = ["--profile", SSO_PROFILE, "--region", SSO_REGION];
    let mut outputs = tokens(&s, &["a", "b", "c"], &profile);
    let fetched = || count_requests(&fake.requests(), "GetRoleCredentials", None);
    assert_eq!(fetched(), 1);
    let (_, secret, session) = sso_role_credentials(SSO_ACCOUNT, SSO_ROLE);
    assert_only_entry(
        &s,
        &format!("profile {SSO_PROFILE}"),
        format!("{SSO_ACCOUNT}/{SSO_ROLE} (IAM Identity Center)"),
        Some(&[&secret, &session]),
        &mut outputs,
    );

    // The login expires, and cannot be refreshed: the cached role credentials still sign
    // for a new cluster, as botocore's would, and nothing is asked of the portal.
    let mut login = read_sso_login(&s, SSO_SESSION);
    login["expiresAt"] = utc_in(-TimeDelta::minutes(1)).into();
    login.as_object_mut().unwrap().remove("refreshToken");
    write_sso_login(&s, SSO_SESSION, &login);
    let requests = fake.requests().len();
    tokens(&s, &["d"], &profile);
    assert_eq!(fake.requests().len(), requests);
    // Between 10 and 15 minutes left, a run refreshes them; the refresh needs the lapsed
    // login, and with no one there to log in it falls back to them (botocore's advisory
    // window) instead of failing for the login.
    let (path, entry) = only_entry(&s);
    let expires = expire_in(&path, &entry, TimeDelta::minutes(12));
    let run = s.run(&[
        "token",
        "-i",
        "e",
        "--profile",
        SSO_PROFILE,
        "--region",
        SSO_REGION,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.credential()["status"]["expirationTimestamp"],
        expires.as_str()
    );
    outputs.push(run.stderr);

    // Logged out, what the login gave goes: no run may sign with it any more.
    let run = s.run(&["logout", "--timeout", "5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .ends_with("Removed 5 cached tokens and 1 cached credential.\n"),
        "{}",
        run.stdout
    );
    assert!(credential_files(&s).is_empty());
    let run = s.run(&["token", "-i", "a", "--profile", SSO_PROFILE]);
    assert_ne!(run.code, 0, "signed after the logout: {}", run.stdout);
    assert_eq!(fetched(), 1);
}

#[test]
fn container_credentials_are_fetched_once_for_many_clusters() {
    let container = |auth: &str| {
        json!({"container": {"authorization": auth,
            "access_key_id": "ASIACONTAINERKEY0001", "secret_access_key": "containerSecretSentinel/2",
            "token": "container+token/sentinel="}})
    };
    let (stub, outside) = stub(&container("Bearer vaultAuthSentinel"));
    let mut s = Sandbox::new();
    s.container_endpoint(&stub.url(), "Bearer vaultAuthSentinel")
        .env("AWS_REGION", "us-east-2");
    let mut outputs = tokens(&s, &["a", "b", "c"], &[]);
    assert_eq!(stub_paths(&outside), ["/creds"]);
    assert_only_entry(
        &s,
        "container credentials endpoint",
        Value::Null,
        Some(&["containerSecretSentinel/2", "container+token/sentinel="]),
        &mut outputs,
    );
    // The authorization token keys the entry, hashed, never kept.
    assert_secrets_nowhere(&s, &["vaultAuthSentinel"], &outputs);

    // Another aws-vault session on the same port: its own credentials.
    std::fs::write(
        outside.path().join("stub.json"),
        container("Bearer otherSession").to_string(),
    )
    .unwrap();
    s.env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer otherSession");
    tokens(&s, &["a", "b"], &[]);
    assert_eq!(stub_paths(&outside), ["/creds", "/creds"]);
    assert_eq!(credential_files(&s).len(), 2);
}

#[test]
fn a_credential_process_runs_once_for_many_clusters_only_when_it_says_when_they_expire() {
    let outside = tempfile::tempdir().unwrap();
    let runs = outside.path().join("runs");
    let command = outside.path().join("process.sh");
    std::fs::write(
        &command,
        format!(
            "#!/bin/sh\nexec {} {} --access-key-id ASIAPROCESSKEY000001 --secret procSecretSentinel/x+y --session-token proc+token/sentinel= --count {} \"$@\"\n",
            support::python().display(),
            repo_file("fixtures/credential_process.py").display(),
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &command,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut s = Sandbox::new();
    s.env("AWS_REGION", "eu-west-1");
    s.write(
        ".aws/config",
        &format!(
            "[profile expiring]\ncredential_process = {0} --expiration {1}\n\
             [profile lasting]\ncredential_process = {0}\n",
            command.display(),
            utc_in(TimeDelta::hours(2))
        ),
    );
    let ran = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let mut outputs = tokens(&s, &["a", "b", "c"], &["--profile", "expiring"]);
    assert_eq!(ran(), 1);
    assert_only_entry(
        &s,
        "profile expiring",
        Value::Null,
        Some(&["procSecretSentinel/x+y", "proc+token/sentinel="]),
        &mut outputs,
    );

    // Without an Expiration nothing says how long they last: asked every time.
    let outputs = tokens(&s, &["a", "b", "c"], &["--profile", "lasting"]);
    assert_eq!(ran(), 4);
    assert_eq!(credential_files(&s).len(), 1);
    assert!(
        outputs[0].contains("credential cache: not stored (they do not expire"),
        "{}",
        outputs[0]
    );
}

#[test]
fn static_environment_and_instance_metadata_credentials_are_never_written() {
    let mut s = Sandbox::new();
    s.env("AWS_REGION", "eu-west-1");
    s.write(
        ".aws/credentials",
        &format!("[keys]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"),
    );
    let mut outputs = tokens(&s, &["a", "b"], &["--profile", "keys"]);
    assert!(
        outputs[0].contains("not stored (they do not expire"),
        "{}",
        outputs[0]
    );

    // aws-vault exec: temporary, with an expiry, and already local.
    let mut e = Sandbox::new();
    e.env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "ASIAENVIRONMENTKEY01")
        .env("AWS_SECRET_ACCESS_KEY", "envTemporarySecretSentinel/1")
        .env("AWS_SESSION_TOKEN", "envSessionSentinel+token=")
        .env("AWS_SESSION_EXPIRATION", utc_in(TimeDelta::hours(1)));
    let env_outputs = tokens(&e, &["a", "b"], &[]);
    assert!(
        env_outputs[0].contains("not stored (environment variables are already local"),
        "{}",
        env_outputs[0]
    );

    let (imds, outside) = stub(&json!({"imds": {"role": "instance-role",
        "access_key_id": "ASIAINSTANCEKEY00001", "secret_access_key": "imdsSecretSentinel/3",
        "token": "imds+token/sentinel="}}));
    let mut i = Sandbox::new();
    i.env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
    let imds_outputs = tokens(&i, &["a", "b"], &[]);
    assert!(
        imds_outputs[0].contains("not stored (EC2 instance metadata is a local call"),
        "{}",
        imds_outputs[0]
    );
    // Asked on each run, as the SDKs do.
    let asked = stub_paths(&outside)
        .iter()
        .filter(|p| p.ends_with("/security-credentials/instance-role"))
        .count();
    assert_eq!(asked, 2);

    for (sandbox, secrets, mut outputs) in [
        (&s, vec![SK], std::mem::take(&mut outputs)),
        (
            &e,
            vec!["envTemporarySecretSentinel/1", "envSessionSentinel+token="],
            env_outputs,
        ),
        (
            &i,
            vec!["imdsSecretSentinel/3", "imds+token/sentinel="],
            imds_outputs,
        ),
    ] {
        assert!(credential_files(sandbox).is_empty());
        assert_eq!(
            std::fs::read_dir(sandbox.path(STORE))
                .unwrap()
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|x| x == "json"))
                .count(),
            2,
            "the tokens are cached"
        );
        outputs.extend(listings(sandbox));
        let store = files_under(&sandbox.path(STORE), &sandbox.path("/nonexistent"));
        for secret in &secrets {
            for (path, text) in &store {
                assert!(!text.contains(secret), "{secret} in {}", path.display());
            }
        }
        if sandbox.path(".aws/credentials").exists() {
            // The static keys stay where the user put them, and only there.
            continue;
        }
        assert_secrets_nowhere(sandbox, &secrets, &outputs);
    }
}

#[test]
fn whoami_and_token_share_the_credentials_either_way() {
    let moto = Process::moto();
    let s = role_profiles(&moto);
    tokens(&s, &["a"], &[]);
    assert_eq!(assume_role_calls(&moto), 1);
    let run = s.run(&["whoami", "--no-aws-cli-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(":assumed-role/cached/"),
        "{}",
        run.stdout
    );
    assert_eq!(assume_role_calls(&moto), 1, "whoami after token");

    // whoami first, at a terminal as the README says, in the directory kubectl's runs use.
    let s = role_profiles(&moto);
    let dir = s.path("elsewhere");
    let dir = dir.to_str().unwrap();
    let run = s.run(&["whoami", "--cache-dir", dir, "--no-aws-cli-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 2);
    tokens(&s, &["a", "b"], &["--cache-dir", dir]);
    assert_eq!(assume_role_calls(&moto), 2, "token after whoami");
    assert!(credential_files(&s).is_empty(), "only in --cache-dir");
}

#[test]
fn kubeconfig_uses_the_cached_base_credentials() {
    let moto = Process::moto();
    moto_cluster(&moto, "eu-west-1", "prod");
    let s = role_profiles(&moto);
    tokens(&s, &["a"], &[]);
    assert_eq!(assume_role_calls(&moto), 1);
    let run = s.run(&["kubeconfig", "--cluster-name", "prod", "--no-aws-cli-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 1, "kubeconfig after token");

    // And the reverse, for another profile.
    let run = s.run(&[
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--profile",
        "ops",
        "--no-aws-cli-cache",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 2);
    tokens(&s, &["a", "b"], &["--profile", "ops"]);
    assert_eq!(assume_role_calls(&moto), 2, "token after kubeconfig");
}

#[test]
fn without_the_credential_cache_each_new_token_assumes_the_role() {
    let moto = Process::moto();
    let mut s = role_profiles(&moto);
    tokens(&s, &["a", "b", "c"], &["--no-credential-cache"]);
    assert_eq!(assume_role_calls(&moto), 3);
    // The token cache still serves.
    tokens(&s, &["a"], &["--no-credential-cache"]);
    assert_eq!(assume_role_calls(&moto), 3);
    s.env("EKS_TOKEN_NO_CREDENTIAL_CACHE", "1");
    tokens(&s, &["d"], &[]);
    let run = s.run(&["whoami", "--no-aws-cli-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 5);
    assert!(credential_files(&s).is_empty());
}

/// The token entry of `cluster` in the sandbox's store.
fn token_entry(s: &Sandbox, cluster: &str) -> (PathBuf, Value) {
    std::fs::read_dir(s.path(STORE))
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let entry: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p, entry)
        })
        .find(|(_, entry)| entry["cluster"] == cluster)
        .unwrap_or_else(|| panic!("no token entry for {cluster}"))
}

#[test]
fn a_stale_token_is_signed_again_without_the_sdk_while_its_credentials_are_fresh() {
    let moto = Process::moto();
    let s = role_profiles(&moto);
    let first = s.run(&["token", "-i", "a", "--no-aws-cli-cache"]).token();
    assert_eq!(assume_role_calls(&moto), 1);
    let resign = || s.run(&["token", "-i", "a", "--verbose", "--no-aws-cli-cache"]);
    let make_stale = || {
        let (path, entry) = token_entry(&s, "a");
        expire_in(&path, &entry, TimeDelta::minutes(4));
    };

    // Credentials in botocore's advisory window are refreshed on the slow path instead.
    let (path, credentials) = only_entry(&s);
    expire_in(&path, &credentials, TimeDelta::minutes(12));
    make_stale();
    let run = resign();
    assert!(!run.stderr.contains("re-signed"), "{}", run.stderr);
    assert!(run.stderr.contains("config: profile dev"), "{}", run.stderr);
    run.token();
    assert_eq!(assume_role_calls(&moto), 2);

    // Fresh credentials: signed again from the two entries alone, with STS gone.
    drop(moto);
    let (_, credentials) = only_entry(&s);
    make_stale();
    let run = resign();
    assert!(
        run.stderr.contains("re-signed") && run.stderr.contains("no AWS call"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("config: profile"),
        "the AWS config was read: {}",
        run.stderr
    );
    let token = run.token();
    assert_ne!(token, first);
    let verdict = verify_token(
        &token,
        "a",
        credentials["secret_access_key"].as_str().unwrap(),
    );
    assert_eq!(verdict["host"], "sts.eu-west-1.amazonaws.com");
    assert_eq!(verdict["access_key_id"], credentials["access_key_id"]);
    let expires: DateTime<Utc> = run.credential()["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires > Utc::now() + TimeDelta::minutes(13), "{expires}");
    assert_secrets_stay_in_store(
        &s,
        &entry_secrets(&credentials),
        std::slice::from_ref(&run.stderr),
    );

    // Stored: the next run is a hit.
    let again = resign();
    assert!(again.stderr.contains("cache: hit"), "{}", again.stderr);
    assert_eq!(again.token(), token);
}

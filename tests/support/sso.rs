//! IAM Identity Center in the tests: the fake (`tests/peers/fake_sso.py`) and what it saw,
//! the test browser behind `$BROWSER`, a sandbox whose profiles log in through them, the
//! files the AWS CLI v2 keeps a login in, and botocore reading those files.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use super::keys::sso_cache_name;
use super::peers::{Process, http_get, http_post, python, repo_file};
use super::runner::{Run, Sandbox, run_command};

/// The `sso-session` of profile `sso`, and its start URL.
pub const SESSION: &str = "corp";
pub const START_URL: &str = "https://corp.awsapps.com/start";
/// The start URL of the legacy profile `legacy` (`sso_start_url` in the profile).
pub const LEGACY_START_URL: &str = "https://legacy.awsapps.com/start";
pub const SSO_REGION: &str = "eu-west-1";
pub const SCOPES: &str = "sso:account:access";
/// The account and role both profiles use, and the role credentials the fake gives for it.
pub const SSO_ACCOUNT: &str = "111122223333";
pub const SSO_ROLE: &str = "Admin";
pub const ROLE_AK: &str = "ASIAFAKESSOROLE00001";
pub const ROLE_SK: &str = "fakeSsoRoleSecret/0123456789";

/// A running `tests/peers/fake_sso.py`.
pub struct FakeSso {
    pub server: Process,
}

impl FakeSso {
    /// The fake following `plan`; without `roles` in it, the one role of [`sso_sandbox`]'s
    /// profiles gets [`ROLE_AK`] / [`ROLE_SK`].
    pub fn start(plan: &Value) -> Self {
        let mut plan = plan.clone();
        if plan.get("roles").is_none() {
            plan["roles"] = json!([{"account_id": SSO_ACCOUNT, "role_name": SSO_ROLE,
                "access_key_id": ROLE_AK, "secret_access_key": ROLE_SK,
                "session_token": "fake-sso-role-session"}]);
        }
        let server = Process::peer("tests/peers/fake_sso.py", &["--plan", &plan.to_string()]);
        Self { server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Its request log, oldest first: `{"time", "op", "status", "error"?, "grant"?}`.
    pub fn requests(&self) -> Vec<Value> {
        let log: Value =
            serde_json::from_str(&http_get(&format!("{}/fake/requests", self.url()))).unwrap();
        log.as_array().expect("a JSON list").clone()
    }

    /// The operations it served, in order.
    pub fn ops(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|e| e["op"].as_str().expect("op").to_owned())
            .collect()
    }

    /// How many `op` requests it answered without an error.
    pub fn succeeded(&self, op: &str) -> usize {
        self.requests()
            .iter()
            .filter(|e| e["op"] == op && e.get("error").is_none())
            .count()
    }

    /// The CreateToken requests with `grant` (`authorization_code`, `refresh_token`, or
    /// the device code grant's URN).
    pub fn create_tokens(&self, grant: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|e| e["op"] == "CreateToken" && e["grant"] == grant)
            .collect()
    }

    /// Merges `plan` into its plan (and restarts the scripted device polls).
    pub fn plan(&self, plan: &Value) {
        http_post(&format!("{}/fake/plan", self.url()), &plan.to_string());
    }

    /// Every access token it issued so far expires now.
    pub fn expire(&self) {
        http_post(&format!("{}/fake/expire", self.url()), "{}");
    }
}

/// The device code grant type.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A sandbox whose profiles log in through `fake`: `sso` (sso-session [`SESSION`], with
/// `sso_registration_scopes`) and `legacy` (`sso_start_url` in the profile), both for
/// [`SSO_ACCOUNT`]/[`SSO_ROLE`]; `$BROWSER` is the test browser, which appends each URL it
/// is given to [`browser_opens`]'s log.
pub fn sso_sandbox(fake: &FakeSso) -> Sandbox {
    sso_sandbox_at(&fake.url())
}

/// [`sso_sandbox`] with SSO-OIDC and the SSO portal at `url` (a fault server, a closed
/// port).
pub fn sso_sandbox_at(url: &str) -> Sandbox {
    let mut s = Sandbox::new();
    s.write(
        ".aws/config",
        &format!(
            "[profile sso]\nsso_session = {SESSION}\nsso_account_id = {SSO_ACCOUNT}\n\
             sso_role_name = {SSO_ROLE}\nregion = {SSO_REGION}\n\n\
             [sso-session {SESSION}]\nsso_start_url = {START_URL}\nsso_region = {SSO_REGION}\n\
             sso_registration_scopes = {SCOPES}\n\n\
             [profile legacy]\nsso_start_url = {LEGACY_START_URL}\nsso_region = {SSO_REGION}\n\
             sso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\nregion = {SSO_REGION}\n"
        ),
    );
    let browser_log = s.path("browser.log").display().to_string();
    s.env("AWS_ENDPOINT_URL_SSO", url)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", url)
        .env(
            "BROWSER",
            repo_file("tests/peers/test_browser.py")
                .display()
                .to_string(),
        )
        .env("EKS_TOKEN_TEST_BROWSER_LOG", browser_log);
    s
}

/// The URLs the test browser of [`sso_sandbox`] was opened at, in order.
pub fn browser_opens(s: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(s.path("browser.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Opens `url` in the test browser (as a person would a URL they were shown), with
/// `EKS_TOKEN_TEST_BROWSER` = `mode`; the browser's log goes to `log` under HOME.
pub fn open_in_browser(s: &Sandbox, url: &str, mode: &str, log: &str) -> Run {
    let mut cmd = s.command_of(repo_file("tests/peers/test_browser.py"), &[url]);
    cmd.env("EKS_TOKEN_TEST_BROWSER", mode)
        .env("EKS_TOKEN_TEST_BROWSER_LOG", s.path(log));
    run_command(cmd)
}

/// Where the AWS CLI keeps the SSO login for `key` (an sso-session name, or a legacy
/// profile's start URL).
pub fn sso_login_path(s: &Sandbox, key: &str) -> PathBuf {
    s.path(&format!(".aws/sso/cache/{}.json", sso_cache_name(key)))
}

/// The cached SSO login for `key`.
pub fn read_sso_login(s: &Sandbox, key: &str) -> Value {
    let path = sso_login_path(s, key);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no SSO login at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of the files in `~/.aws/sso/cache`, sorted.
pub fn sso_cache_files(s: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.path(".aws/sso/cache"))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The file name the AWS CLI v2 gives a client registration (`<sha1>.json`): the SHA-1 of
/// `json.dumps({"tool": "botocore", "startUrl", "region", "scopes", "session_name"},
/// sort_keys=True)`, computed by Python's own `json` (botocore's
/// `BaseSSOTokenFetcher._registration_cache_key`).
pub fn registration_cache_name(
    start_url: &str,
    scopes: Option<&[&str]>,
    session: Option<&str>,
) -> String {
    let args = json!({"tool": "botocore", "startUrl": start_url, "region": SSO_REGION,
        "scopes": scopes, "session_name": session});
    let out = Command::new(python())
        .args([
            "-c",
            "import hashlib, json, sys\n\
             args = json.loads(sys.argv[1])\n\
             print(hashlib.sha1(json.dumps(args, sort_keys=True).encode('utf-8')).hexdigest())",
            &args.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{}.json", String::from_utf8(out.stdout).unwrap().trim())
}

/// The credentials botocore (the library under the AWS CLI) resolves for `profile` in
/// `s`'s HOME and environment: `{"access_key", "secret_key", "token"}`. Its SSO token
/// provider refreshes a cached login that expires within 15 minutes and writes it back.
pub fn botocore_credentials(s: &Sandbox, profile: &str) -> Value {
    let code = "import botocore.session, json, sys\n\
                c = botocore.session.Session(profile=sys.argv[1]).get_credentials()\n\
                c = c.get_frozen_credentials()\n\
                print(json.dumps({'access_key': c.access_key, 'secret_key': c.secret_key,\n\
                                  'token': c.token}))";
    let run = run_command(s.command_of(python(), &["-c", code, profile]));
    assert_eq!(run.code, 0, "botocore: {}", run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("botocore printed no JSON: {:?}", run.stdout))
}

/// The AWS CLI (v1, from PyPI) with `args`, in `s`'s HOME and environment.
pub fn aws_cli(s: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["-m", "awscli"];
    all.extend_from_slice(args);
    run_command(s.command_of(python(), &all))
}

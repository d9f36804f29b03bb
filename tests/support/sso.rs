//! IAM Identity Center in the tests: the fake (`tests/peers/fake_sso.py`) and what it saw,
//! the test browser behind `$BROWSER`, a sandbox whose profiles log in through them, the
//! files the AWS CLI v2 keeps a login in (and a login made by hand as a second tool would
//! make it), and botocore reading those files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::keys::{sha1_hex, sso_cache_name, utc_in};
use super::peers::{Process, http_get, http_post_json, python, repo_file, use_test_browser};
use super::runner::{Run, Sandbox, file_mode, read_json, run_command};

/// The `[sso-session]` of profile [`SSO_PROFILE`], and what it says.
pub const SSO_SESSION: &str = "corp";
pub const SSO_START_URL: &str = "https://d-9067c0ffee.awsapps.com/start";
pub const SSO_REGION: &str = "eu-west-1";
pub const SSO_SCOPES: &[&str] = &["sso:account:access"];
/// The profile on [`SSO_SESSION`].
pub const SSO_PROFILE: &str = "corp-admin";
/// The legacy profile (`sso_start_url` in the profile itself), and its start URL.
pub const SSO_LEGACY_PROFILE: &str = "legacy";
pub const SSO_LEGACY_START_URL: &str = "https://legacy.awsapps.com/start";
/// The account and role both profiles ask the portal for.
pub const SSO_ACCOUNT: &str = "111122223333";
pub const SSO_ROLE: &str = "Admin";

/// The device code grant type (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The role credentials the fake hands out for `account` and `role` when its plan has no
/// `roles` (its docstring): access key id, secret, session token.
pub fn sso_role_credentials(account: &str, role: &str) -> (String, String, String) {
    let key = format!(
        "ASIA{}",
        sha1_hex(&format!("{account}/{role}"))[..16].to_uppercase()
    );
    (
        key,
        format!("sso-secret-{account}-{role}"),
        format!("sso-session-{account}-{role}"),
    )
}

/// A running `tests/peers/fake_sso.py`.
pub struct FakeSso {
    pub server: Process,
}

/// One request in the fake's log (its docstring names the fields).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SsoRequest {
    /// When it came (epoch seconds).
    pub time: f64,
    pub op: String,
    pub status: u16,
    /// The error code it answered with, if any.
    pub error: Option<String>,
    /// CreateToken's grant type.
    pub grant: Option<String>,
}

impl FakeSso {
    /// The fake following `plan` (without `roles`: see [`sso_role_credentials`]).
    pub fn start(plan: &Value) -> Self {
        Self::with_args(&["--plan", &plan.to_string()])
    }

    /// The fake started with its command-line `args` (`--plan JSON`, `--log FILE`).
    pub fn with_args(args: &[&str]) -> Self {
        Self {
            server: Process::peer("tests/peers/fake_sso.py", args),
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Its request log, oldest first (`GET /fake/requests`).
    pub fn requests(&self) -> Vec<SsoRequest> {
        let log = http_get(&format!("{}/fake/requests", self.url()));
        serde_json::from_str(&log).unwrap_or_else(|e| panic!("the fake's log: {e}: {log}"))
    }

    /// The operations it served, in order.
    pub fn ops(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.op).collect()
    }

    /// Merges `plan` into its plan (and restarts the scripted device polls).
    pub fn plan(&self, plan: &Value) {
        http_post_json(&format!("{}/fake/plan", self.url()), plan);
    }

    /// Every access token it issued so far expires now.
    pub fn expire(&self) {
        http_post_json(&format!("{}/fake/expire", self.url()), &json!({}));
    }
}

/// How many requests in `log` were `op` answered with `error` (`None`: succeeded).
pub fn count_requests(log: &[SsoRequest], op: &str, error: Option<&str>) -> usize {
    log.iter()
        .filter(|r| r.op == op && r.error.as_deref() == error)
        .count()
}

/// The CreateToken requests in `log` with `grant` (`authorization_code`, `refresh_token`,
/// or [`DEVICE_GRANT`]), answered or refused.
pub fn create_tokens<'a>(log: &'a [SsoRequest], grant: &str) -> Vec<&'a SsoRequest> {
    log.iter()
        .filter(|r| r.op == "CreateToken" && r.grant.as_deref() == Some(grant))
        .collect()
}

/// A sandbox whose profiles log in through `fake`: [`SSO_PROFILE`] (sso-session
/// [`SSO_SESSION`], with `sso_registration_scopes`) and [`SSO_LEGACY_PROFILE`]
/// (`sso_start_url` in the profile), both for [`SSO_ACCOUNT`]/[`SSO_ROLE`]; `$BROWSER` is
/// the test browser, which appends each URL it is given to [`browser_opens`]'s log. No
/// login is cached.
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
            "[profile {SSO_PROFILE}]\nsso_session = {SSO_SESSION}\nsso_account_id = {SSO_ACCOUNT}\n\
             sso_role_name = {SSO_ROLE}\nregion = {SSO_REGION}\n\n\
             [sso-session {SSO_SESSION}]\nsso_start_url = {SSO_START_URL}\n\
             sso_region = {SSO_REGION}\nsso_registration_scopes = {scopes}\n\n\
             [profile {SSO_LEGACY_PROFILE}]\nsso_start_url = {SSO_LEGACY_START_URL}\n\
             sso_region = {SSO_REGION}\nsso_account_id = {SSO_ACCOUNT}\n\
             sso_role_name = {SSO_ROLE}\nregion = {SSO_REGION}\n",
            scopes = SSO_SCOPES.join(",")
        ),
    );
    s.env("AWS_ENDPOINT_URL_SSO", url)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", url);
    use_test_browser(&mut s);
    s
}

/// Opens `url` in the test browser (as a person would a URL they were shown, or as
/// `$BROWSER` is run: the script itself), with `EKS_TOKEN_TEST_BROWSER` = `mode`; the
/// browser's log goes to `log` under HOME.
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
    read_json(&sso_login_path(s, key))
}

/// The files in `~/.aws/sso/cache` by name, with their contents.
pub fn sso_cache_files(s: &Sandbox) -> BTreeMap<String, Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(s.path(".aws/sso/cache")) else {
        return BTreeMap::new();
    };
    dir.map(|e| {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        (name, std::fs::read(e.path()).unwrap())
    })
    .collect()
}

/// A time as the AWS CLI writes `expiresAt` (`2030-01-01T00:00:00Z`, every field padded).
pub fn parse_expires_at(text: &str) -> DateTime<Utc> {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
    // (chrono would also read unpadded fields)
    assert_eq!(
        text.len(),
        "2030-01-01T00:00:00Z".len(),
        "expiresAt {text:?}"
    );
    NaiveDateTime::parse_from_str(text, FORMAT)
        .unwrap_or_else(|e| panic!("expiresAt {text:?} is not {FORMAT}: {e}"))
        .and_utc()
}

/// Checks the cached login for `key` as the AWS CLI v2 writes it (0600, `startUrl`,
/// region, tokens, both expiry times; the fake registers clients for 90 days) and returns
/// it.
pub fn assert_sso_login_file(s: &Sandbox, key: &str, start_url: &str) -> Value {
    let path = sso_login_path(s, key);
    assert!(path.exists(), "no SSO login at {}", path.display());
    assert_eq!(file_mode(&path), 0o600, "{}", path.display());
    let login = read_json(&path);
    assert_eq!(login["startUrl"], start_url, "{login}");
    assert_eq!(login["region"], SSO_REGION, "{login}");
    for field in ["accessToken", "clientId", "clientSecret"] {
        assert!(
            login[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field} missing in {login}"
        );
    }
    parse_expires_at(login["expiresAt"].as_str().expect("expiresAt"));
    let registration = login["registrationExpiresAt"]
        .as_str()
        .expect("registrationExpiresAt");
    let registration = DateTime::parse_from_rfc3339(registration)
        .unwrap_or_else(|e| panic!("registrationExpiresAt {registration:?}: {e}"));
    let days = (registration.with_timezone(&Utc) - Utc::now()).num_days();
    assert!((89..=90).contains(&days), "registration for {days} days");
    login
}

/// Checks the client registration the AWS CLI caches as `name` (see
/// [`super::keys::sso_registration_name`]) against the login that uses it, and returns it.
pub fn assert_registration_file(s: &Sandbox, name: &str, login: &Value) -> Value {
    let path = s.path(&format!(".aws/sso/cache/{name}.json"));
    assert!(
        path.exists(),
        "no client registration where botocore looks ({name}.json); the cache holds {:?}",
        sso_cache_files(s).keys()
    );
    assert_eq!(file_mode(&path), 0o600, "{}", path.display());
    let registration = read_json(&path);
    assert_eq!(
        registration["clientId"], login["clientId"],
        "{registration}"
    );
    assert_eq!(registration["clientSecret"], login["clientSecret"]);
    let expires = registration["expiresAt"].as_str().expect("expiresAt");
    let expires = DateTime::parse_from_rfc3339(expires)
        .unwrap_or_else(|e| panic!("registration expiresAt {expires:?}: {e}"));
    let days = (expires.with_timezone(&Utc) - Utc::now()).num_days();
    assert!((89..=90).contains(&days), "registration for {days} days");
    registration
}

/// A live login from `fake` for [`SSO_START_URL`], made by hand through the device flow
/// (RegisterClient, StartDeviceAuthorization, the approval page, CreateToken), in the form
/// the AWS CLI caches it.
pub fn sso_device_login(fake: &FakeSso) -> Value {
    let url = fake.url();
    let client = http_post_json(
        &format!("{url}/client/register"),
        &json!({"clientName": "by-hand", "clientType": "public", "scopes": SSO_SCOPES,
                "grantTypes": [DEVICE_GRANT, "refresh_token"]}),
    );
    let (id, secret) = (&client["clientId"], &client["clientSecret"]);
    let device = http_post_json(
        &format!("{url}/device_authorization"),
        &json!({"clientId": id, "clientSecret": secret, "startUrl": SSO_START_URL}),
    );
    let user_code = device["userCode"].as_str().expect("userCode");
    http_get(&format!("{url}/device/approve?user_code={user_code}"));
    let token = http_post_json(
        &format!("{url}/token"),
        &json!({"clientId": id, "clientSecret": secret, "grantType": DEVICE_GRANT,
                "deviceCode": device["deviceCode"]}),
    );
    let registration_ends = DateTime::from_timestamp(
        client["clientSecretExpiresAt"]
            .as_i64()
            .expect("clientSecretExpiresAt"),
        0,
    )
    .unwrap();
    json!({
        "startUrl": SSO_START_URL,
        "region": SSO_REGION,
        "accessToken": token["accessToken"],
        "expiresAt": utc_in(TimeDelta::seconds(token["expiresIn"].as_i64().expect("expiresIn"))),
        "clientId": id,
        "clientSecret": secret,
        "registrationExpiresAt": registration_ends.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "refreshToken": token["refreshToken"],
    })
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

/// `aws sts get-caller-identity --profile PROFILE`: the ARN it prints.
pub fn aws_cli_caller(s: &Sandbox, profile: &str) -> String {
    let run = aws_cli(
        s,
        &[
            "sts",
            "get-caller-identity",
            "--profile",
            profile,
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "aws sts get-caller-identity: {}", run.stderr);
    let identity: Value = serde_json::from_str(&run.stdout).unwrap();
    identity["Arn"].as_str().unwrap().to_owned()
}

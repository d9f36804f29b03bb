//! IAM Identity Center for the login tests: a sandbox with an `sso-session` profile served
//! by the fake (`tests/peers/fake_sso.py`) and the test browser as `$BROWSER`, what the
//! fake and the browser saw, and a login made by hand as a second tool would make it.

use std::path::PathBuf;

use chrono::TimeDelta;
use serde_json::{Value, json};

use super::keys::{sha1_hex, utc_in};
use super::peers::{Process, http_get, http_post_json, use_test_browser};
use super::runner::Sandbox;

/// The `[sso-session]` the SSO sandbox's profile uses, and what it says.
pub const SSO_SESSION: &str = "corp";
pub const SSO_START_URL: &str = "https://d-9067c0ffee.awsapps.com/start";
pub const SSO_REGION: &str = "eu-west-1";
pub const SSO_SCOPES: &[&str] = &["sso:account:access"];
/// The profile, and the account and role it asks the portal for.
pub const SSO_PROFILE: &str = "corp-admin";
pub const SSO_ACCOUNT: &str = "111122223333";
pub const SSO_ROLE: &str = "Admin";

/// The device-code grant type (RFC 8628).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// One request in the fake's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRequest {
    pub op: String,
    /// The error code it answered with, if any.
    pub error: Option<String>,
    /// CreateToken's grant type.
    pub grant: Option<String>,
}

/// The fake's request log, in order (`GET /fake/requests`).
pub fn sso_requests(fake: &Process) -> Vec<SsoRequest> {
    let log: Value =
        serde_json::from_str(&http_get(&format!("{}/fake/requests", fake.url()))).unwrap();
    log.as_array()
        .expect("a JSON list")
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().map(str::to_owned);
            SsoRequest {
                op: field("op").expect("op"),
                error: field("error"),
                grant: field("grant"),
            }
        })
        .collect()
}

/// How many requests in `log` were `op` answered with `error` (`None`: succeeded).
pub fn count_requests(log: &[SsoRequest], op: &str, error: Option<&str>) -> usize {
    log.iter()
        .filter(|r| r.op == op && r.error.as_deref() == error)
        .count()
}

/// The role credentials the fake hands out for `account` and `role` (its docstring):
/// access key id, secret, session token.
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

/// A sandbox whose profile [`SSO_PROFILE`] gets its credentials through the
/// `[sso-session corp]` from `fake` (`AWS_ENDPOINT_URL_SSO_OIDC` and
/// `AWS_ENDPOINT_URL_SSO`), with `tests/peers/test_browser.py` as `$BROWSER` logging each
/// open (see `browser_opens`). No login is cached.
pub fn sso_sandbox(fake: &Process) -> Sandbox {
    let mut s = Sandbox::new();
    s.write(
        ".aws/config",
        &format!(
            "[profile {SSO_PROFILE}]\nsso_session = {SSO_SESSION}\nsso_account_id = {SSO_ACCOUNT}\n\
             sso_role_name = {SSO_ROLE}\nregion = eu-west-1\n\n\
             [sso-session {SSO_SESSION}]\nsso_start_url = {SSO_START_URL}\n\
             sso_region = {SSO_REGION}\nsso_registration_scopes = {}\n",
            SSO_SCOPES.join(",")
        ),
    );
    s.env("AWS_ENDPOINT_URL_SSO_OIDC", fake.url())
        .env("AWS_ENDPOINT_URL_SSO", fake.url());
    use_test_browser(&mut s);
    s
}

/// Where the AWS CLI caches the login of [`SSO_SESSION`].
pub fn sso_login_path(s: &Sandbox) -> PathBuf {
    s.path(&format!(
        ".aws/sso/cache/{}.json",
        super::keys::sso_cache_name(SSO_SESSION)
    ))
}

/// A live login from `fake` for [`SSO_START_URL`], made by hand through the device flow
/// (RegisterClient, StartDeviceAuthorization, the approval page, CreateToken), in the form
/// the AWS CLI caches it.
pub fn sso_device_login(fake: &Process) -> Value {
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
    let registration_ends = chrono::DateTime::from_timestamp(
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

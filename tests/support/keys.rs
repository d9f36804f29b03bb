//! The example credentials the tests sign with, and the forms the AWS CLI keeps them in
//! (the SSO login cache, expiry timestamps).

use std::path::PathBuf;
use std::process::Command;

use chrono::TimeDelta;
use serde_json::Value;

use super::peers::python;
use super::runner::{Sandbox, stdout_of, write_json};

/// The example key pair: in the environment (`env_creds`) or a profile's keys. The
/// secret doubles as a sentinel: no test may find it on stderr or in a file.
pub const AK: &str = "AKIAEXAMPLEENVKEY001";
pub const SK: &str = "envSecretKeySentinel/0123456789abcdefghij";

/// A second key pair, for a second profile (`dev`) beside the first.
pub const DEV_AK: &str = "AKIAEXAMPLEDEVKEY001";
pub const DEV_SK: &str = "devSecretKeySentinel/0123456789abcdefghij";

/// A sandbox with the example keys and region eu-west-1 in its environment.
pub fn env_creds() -> Sandbox {
    let mut s = Sandbox::new();
    s.env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK)
        .env("AWS_REGION", "eu-west-1");
    s
}

/// `~/.aws/credentials` with the example pair as profile `default` and the second as `dev`.
pub fn write_profile_keys(sandbox: &Sandbox) {
    sandbox.write(
        ".aws/credentials",
        &format!(
            "[default]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
             [dev]\naws_access_key_id = {DEV_AK}\naws_secret_access_key = {DEV_SK}\n"
        ),
    );
}

/// Both example pairs as a fake EKS server's `secrets` (access key id → secret).
pub fn both_key_pairs() -> Value {
    serde_json::json!({ AK: SK, DEV_AK: DEV_SK })
}

/// Now plus `delta`, as AWS tools write an expiry (`2030-01-01T00:00:00Z`).
pub fn utc_in(delta: TimeDelta) -> String {
    (chrono::Utc::now() + delta)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// SHA-1 hex of `text`, computed by Python's hashlib.
pub fn sha1_hex(text: &str) -> String {
    python_line(
        "import hashlib,sys;print(hashlib.sha1(sys.argv[1].encode()).hexdigest())",
        text,
    )
}

/// The AWS CLI's SSO cache file name for `key` (`~/.aws/sso/cache/<sha1>.json`).
pub fn sso_cache_name(key: &str) -> String {
    sha1_hex(key)
}

/// The name botocore gives the client registration it caches beside a login
/// (`~/.aws/sso/cache/<name>.json`): the SHA-1 of `json.dumps({"tool": "botocore",
/// "startUrl", "region", "scopes", "session_name"}, sort_keys=True)`, computed by Python's
/// json (`scopes` and `session` null when absent; botocore's
/// `BaseSSOTokenFetcher._registration_cache_key`).
pub fn sso_registration_name(
    start_url: &str,
    region: &str,
    scopes: Option<&[&str]>,
    session: Option<&str>,
) -> String {
    let args = serde_json::json!({"startUrl": start_url, "region": region, "scopes": scopes,
                                  "session_name": session});
    python_line(
        "import hashlib,json,sys\n\
         args = dict(json.loads(sys.argv[1]), tool='botocore')\n\
         print(hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest())",
        &args.to_string(),
    )
}

/// The name botocore gives the file it caches a role profile's session in
/// (`~/.aws/cli/cache/<name>.json`): the SHA-1 of `json.dumps(args, sort_keys=True)` of the
/// AssumeRole arguments (`RoleArn`, and `RoleSessionName`, `ExternalId`, `SerialNumber`,
/// `DurationSeconds` when the profile sets them), computed by Python's json
/// (`BaseAssumeRoleCredentialFetcher._create_cache_key`).
pub fn role_cache_name(args: &Value) -> String {
    python_line(
        "import hashlib,json,sys\n\
         print(hashlib.sha1(json.dumps(json.loads(sys.argv[1]), sort_keys=True).encode()).hexdigest())",
        &args.to_string(),
    )
}

/// The role session files in the sandbox's `~/.aws/cli/cache`, sorted.
pub fn role_cache_files(sandbox: &Sandbox) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sandbox.path(".aws/cli/cache"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// The one line the Python `code` prints for `arg`.
fn python_line(code: &str, arg: &str) -> String {
    let mut cmd = Command::new(python());
    cmd.args(["-c", code, arg]);
    stdout_of(cmd).trim().to_owned()
}

/// Writes `login` where the AWS CLI caches the SSO login for `key` (an `sso-session`
/// name, or a legacy profile's start URL).
pub fn write_sso_login(sandbox: &Sandbox, key: &str, login: &Value) -> PathBuf {
    write_json(
        sandbox,
        &format!(".aws/sso/cache/{}.json", sso_cache_name(key)),
        login,
    )
}

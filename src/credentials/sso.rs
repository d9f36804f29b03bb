//! IAM Identity Center (SSO) profiles: which login a profile uses, the state of that
//! login in the AWS CLI's cache (`~/.aws/sso/cache/<sha1 hex>.json`, keyed by the
//! `sso_session` name, or the `sso_start_url` in the legacy form) and the one command
//! that renews it.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AwsConfig, CredentialsError};
use crate::aws_files::{self, home_dir, sso_cache_dir};
use crate::log;
use crate::message::{shell_quote, stamp};
use crate::{secrets, store};

/// A profile that gets its credentials from IAM Identity Center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoProfile {
    pub profile: String,
    /// `sso_session` (new form), refreshed by the SDK.
    pub session: Option<String>,
    /// `sso_start_url` (legacy form).
    pub start_url: Option<String>,
}

impl SsoProfile {
    /// What the login cache is keyed by: the `sso_session` name, else the start URL.
    pub fn cache_key(&self) -> Option<&str> {
        self.session.as_deref().or(self.start_url.as_deref())
    }

    /// The command that renews the login: `eks-token login --profile P`, which finds
    /// the profile's `sso-session` as the AWS CLI does.
    pub fn login_command(&self) -> String {
        login_with("profile", &self.profile)
    }

    /// The hint for a login that is missing or expired.
    pub fn login_hint(&self) -> String {
        format!("run `{}`", self.login_command())
    }

    pub fn login_error(&self, detail: String) -> CredentialsError {
        CredentialsError::SsoLogin {
            sso: self.clone(),
            detail,
        }
    }
}

fn login_with(flag: &str, name: &str) -> String {
    format!("eks-token login --{flag} {}", shell_quote(name))
}

/// Where and how to log in: the settings of an `[sso-session]` section, or of a legacy
/// profile (`sso_start_url` in the profile).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoTarget {
    /// The `sso-session` name (new form).
    pub session: Option<String>,
    /// The profile it was reached through (`None` for `login --sso-session`).
    pub profile: Option<String>,
    pub start_url: String,
    /// `sso_region`: where SSO-OIDC and the portal are.
    pub region: String,
    /// `sso_registration_scopes` as configured; `None` when absent.
    pub scopes: Option<Vec<String>>,
}

impl SsoTarget {
    /// What the login cache file is named by: the session name, else the start URL.
    pub fn cache_key(&self) -> &str {
        self.session.as_deref().unwrap_or(&self.start_url)
    }

    /// How messages name it: `sso-session corp`, `profile legacy`.
    pub fn label(&self) -> String {
        match (&self.session, &self.profile) {
            (Some(s), _) => format!("sso-session {s}"),
            (None, Some(p)) => format!("profile {p}"),
            (None, None) => self.start_url.clone(),
        }
    }

    /// The command that logs it in again.
    pub fn login_command(&self) -> String {
        match (&self.profile, &self.session) {
            (Some(p), _) => login_with("profile", p),
            (None, Some(s)) => login_with("sso-session", s),
            (None, None) => "eks-token login".into(),
        }
    }
}

/// Where the cached login for `key` lives under `home`.
pub fn path(home: &Path, key: &str) -> PathBuf {
    sso_cache_dir(home).join(file_name(key))
}

/// `<sha1 hex of key>.json`, as botocore names its SSO cache files.
fn file_name(key: &str) -> String {
    format!("{}.json", sha1_smol::Sha1::from(key).hexdigest())
}

/// A cached login as the AWS CLI v2 writes it (botocore `SSOTokenFetcher`), every field
/// the SDKs read, and any other field kept as it was when the file is written back.
/// No `Debug`: it holds the tokens.
#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CachedLogin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub access_token: String,
    /// `%Y-%m-%dT%H:%M:%SZ`.
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl CachedLogin {
    /// When the access token expires; `None` when the field is not a time.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.expires_at)
    }

    /// When its client registration expires.
    pub fn registration_expires(&self) -> Option<DateTime<Utc>> {
        self.registration_expires_at.as_deref().and_then(parse_time)
    }

    /// Whether it can be refreshed at `now` without a browser: a refresh token and a
    /// client registration that has not expired.
    pub fn refreshable(&self, now: DateTime<Utc>) -> bool {
        self.client_id.is_some()
            && self.client_secret.is_some()
            && self.refresh_token.is_some()
            && self.registration_expires().is_some_and(|r| r > now)
    }

    /// Remembers its tokens and client secret (see [`crate::secrets`]).
    pub fn remember_secrets(&self) {
        secrets::remember(&self.access_token);
        for secret in [&self.refresh_token, &self.client_secret]
            .into_iter()
            .flatten()
        {
            secrets::remember(secret);
        }
    }
}

/// A client registration as the AWS CLI v2 caches it, keyed by
/// [`registration_file_name`]. No `Debug`: it holds the client secret.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedRegistration {
    pub client_id: String,
    pub client_secret: String,
    /// `%Y-%m-%dT%H:%M:%SZ`.
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Present for authorization-code registrations only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
}

impl CachedRegistration {
    /// When the client secret expires.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        parse_time(&self.expires_at)
    }
}

/// The time format of the SSO cache files.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A time in the AWS CLI's cache files (RFC 3339).
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The registration cache file name the AWS CLI v2 gives a client registration: the
/// SHA-1 of Python's `json.dumps({"tool": "botocore", "startUrl": …, "region": …,
/// "scopes": …, "session_name": …}, sort_keys=True)` (awscli/botocore/utils.py,
/// `_registration_cache_key`), absent values `null`.
pub fn registration_file_name(
    start_url: &str,
    region: &str,
    scopes: Option<&[String]>,
    session: Option<&str>,
) -> String {
    json_file_name(&serde_json::json!({
        "region": region,
        "scopes": scopes,
        "session_name": session,
        "startUrl": start_url,
        "tool": "botocore",
    }))
}

/// `<sha1 hex>.json` of `args` as Python's `json.dumps(args, sort_keys=True)` writes it:
/// how botocore names the cache files it keys by a dictionary (SSO client registrations,
/// role sessions in `~/.aws/cli/cache`).
pub(super) fn json_file_name(args: &serde_json::Value) -> String {
    file_name(&python_json(args))
}

/// `value` as Python's `json.dumps(value, sort_keys=True)` writes it: `", "` and `": "`
/// between items, keys sorted (serde_json's maps are ordered by key, which is Python's
/// order: UTF-8 byte order is code point order), and strings as [`python_json_string`].
fn python_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => python_json_string(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", python_json_string(k), python_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        // null, true, false and integers are written alike.
        other => other.to_string(),
    }
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`): serde_json's
/// escapes, and every non-ASCII character as `\uXXXX` UTF-16 units.
fn python_json_string(text: &str) -> String {
    let json = serde_json::Value::from(text).to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// What the cache says about a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginState {
    /// No cache file: `aws sso login` was never run, or was logged out.
    Missing,
    /// A file that is not a cached token.
    Unreadable,
    /// A token valid until then (possibly in the past).
    ExpiresAt(DateTime<Utc>),
}

/// What a cached login needs before it can be used.
pub enum LoginNeed {
    Nothing,
    /// An `sso-session` login with less than [`ADVISORY_REFRESH`](super::ADVISORY_REFRESH) left that can be
    /// refreshed without a browser.
    Refresh(CachedLogin),
    /// A new login; why (`expired at …`, `no cached login`).
    Login(String),
}

const UNREADABLE: &str = "the cached login is unreadable";

impl LoginNeed {
    /// What the login cached for `key` needs at `now`; `session` says whether it is an
    /// `sso-session` login (legacy logins are never refreshed).
    pub fn of(home: &Path, key: &str, session: bool, now: DateTime<Utc>) -> Self {
        let login = match read_login(home, key) {
            Ok(login) => login,
            Err(LoginState::Missing) => return Self::Login("no cached login".into()),
            Err(_) => return Self::Login(UNREADABLE.into()),
        };
        let Some(expires) = login.expires() else {
            return Self::Login(UNREADABLE.into());
        };
        log::debug(format_args!(
            "sso: cached login for {key} expires {}",
            stamp(expires)
        ));
        if session && expires - now <= super::ADVISORY_REFRESH && login.refreshable(now) {
            Self::Refresh(login)
        } else if expires > now {
            Self::Nothing
        } else if session {
            Self::Login(format!(
                "expired at {} and cannot be refreshed",
                stamp(expires)
            ))
        } else {
            Self::Login(format!("expired at {}", stamp(expires)))
        }
    }
}

/// Reads the login state for `key`.
pub fn state(home: &Path, key: &str) -> LoginState {
    match read_login(home, key) {
        Err(state) => state,
        Ok(login) => login
            .expires()
            .map_or(LoginState::Unreadable, LoginState::ExpiresAt),
    }
}

/// The cached login for `key`, its secrets remembered; the state instead when there is
/// no usable one.
pub fn read_login(home: &Path, key: &str) -> Result<CachedLogin, LoginState> {
    let login: CachedLogin = read(&path(home, key))?;
    login.remember_secrets();
    Ok(login)
}

/// A cached client registration, its secret remembered; `None` when there is none or
/// it cannot be read.
pub fn read_registration(home: &Path, name: &str) -> Option<CachedRegistration> {
    let registration: CachedRegistration = read(&sso_cache_dir(home).join(name)).ok()?;
    secrets::remember(&registration.client_secret);
    Some(registration)
}

/// A JSON cache file of the AWS CLI's (a login, a registration, a role session), read as
/// botocore reads it; the state when there is no readable one.
pub(super) fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoginState> {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(LoginState::Missing);
    }
    // A cache file is a small JSON object, read as a token file is: never from a FIFO,
    // never more than that limit.
    aws_files::read_token_file(path)
        .filter(|bytes| bytes.len() as u64 <= aws_files::MAX_TOKEN_FILE)
        .and_then(|bytes| serde_json::from_slice::<T>(&bytes).ok())
        .ok_or(LoginState::Unreadable)
}

/// Writes the login for `key` where the AWS CLI keeps it, 0600, atomically.
pub fn write_login(home: &Path, key: &str, login: &CachedLogin) -> io::Result<PathBuf> {
    write_in(&sso_cache_dir(home), &file_name(key), login)
}

/// Writes a client registration as `name` beside the logins.
pub fn write_registration(
    home: &Path,
    name: &str,
    registration: &CachedRegistration,
) -> io::Result<PathBuf> {
    write_in(&sso_cache_dir(home), name, registration)
}

/// Writes `value` as JSON to `dir/name` as botocore's `JSONFileCache` does (temporary file,
/// then rename), 0600; returns the path.
pub(super) fn write_in(dir: &Path, name: &str, value: &impl Serialize) -> io::Result<PathBuf> {
    // The AWS CLI creates it with the umask's mode; a new one of ours is private.
    store::create_private_dir(dir)?;
    let dir = dir.canonicalize()?;
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    store::replace(&dir, name.as_ref(), &bytes)?;
    Ok(dir.join(name))
}

/// Removes the cached login at `path` (a symlink itself, never its target).
pub fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every cached login in `home`'s SSO cache (files with an access token, a start URL and
/// a region), with its path; registrations and other files are left out.
pub fn cached_logins(home: &Path) -> Vec<(PathBuf, CachedLogin)> {
    let Ok(dir) = std::fs::read_dir(sso_cache_dir(home)) else {
        return Vec::new();
    };
    let mut logins: Vec<(PathBuf, CachedLogin)> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| {
            let login: CachedLogin = read(&p).ok()?;
            (login.start_url.is_some() && login.region.is_some()).then(|| {
                login.remember_secrets();
                (p, login)
            })
        })
        .collect();
    logins.sort_by(|a, b| a.0.cmp(&b.0));
    logins
}

impl AwsConfig {
    /// The cached SSO login of the profile in use; read again after an SSO error, as the
    /// SDK may have refreshed it.
    pub(super) fn remember_sso_secrets(&self) {
        if let (Some(sso), Some(home)) = (self.sso_profile(&self.profile), home_dir())
            && let Some(key) = sso.cache_key()
        {
            let _ = read_login(&home, key);
        }
    }

    /// The login settings of an SSO profile.
    pub fn sso_target(&self, sso: &SsoProfile) -> Result<SsoTarget, CredentialsError> {
        let not_usable = |detail: String| CredentialsError::ProfileConfig {
            profile: sso.profile.clone(),
            detail,
        };
        match &sso.session {
            Some(session) => {
                let mut target = self.sso_session_target(session)?;
                target.profile = Some(sso.profile.clone());
                Ok(target)
            }
            None => {
                let profile = self.profiles.get_profile(&sso.profile);
                let get = |key: &str| profile.and_then(|p| p.get(key)).map(str::to_owned);
                Ok(SsoTarget {
                    session: None,
                    profile: Some(sso.profile.clone()),
                    start_url: get("sso_start_url")
                        .ok_or_else(|| not_usable("it has no sso_start_url".into()))?,
                    region: get("sso_region").ok_or_else(|| {
                        not_usable("it has sso_start_url but no sso_region".into())
                    })?,
                    scopes: None,
                })
            }
        }
    }

    /// The login settings of the `[sso-session name]` section.
    pub fn sso_session_target(&self, name: &str) -> Result<SsoTarget, CredentialsError> {
        let Some(section) = self.profiles.sso_session(name) else {
            let mut known: Vec<String> = self.profiles.sso_sessions().map(str::to_owned).collect();
            known.sort();
            return Err(CredentialsError::UnknownSsoSession {
                name: name.to_owned(),
                known,
            });
        };
        let get = |key: &str| {
            section
                .get(key)
                .map(str::to_owned)
                .ok_or_else(|| CredentialsError::SsoSessionConfig {
                    name: name.to_owned(),
                    missing: key.to_owned(),
                })
        };
        Ok(SsoTarget {
            session: Some(name.to_owned()),
            profile: None,
            start_url: get("sso_start_url")?,
            region: get("sso_region")?,
            // As the AWS CLI's `parse_sso_registration_scopes`: comma-split, trimmed,
            // empties dropped.
            scopes: section.get("sso_registration_scopes").map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
        })
    }

    /// The account and role an SSO profile gets credentials for (`sso_account_id`,
    /// `sso_role_name`), when `name` is one.
    pub fn sso_role(&self, name: &str) -> Option<(&str, &str)> {
        let profile = self.profiles.get_profile(name)?;
        Some((
            profile.get("sso_account_id")?,
            profile.get("sso_role_name")?,
        ))
    }

    /// The profiles whose SSO login is cached at one of `paths` under `home`.
    pub fn profiles_with_login_at(&self, home: &Path, paths: &[PathBuf]) -> Vec<String> {
        self.profiles
            .profiles()
            .filter(|name| {
                self.sso_profile(name)
                    .and_then(|sso| Some(path(home, sso.cache_key()?)))
                    .is_some_and(|p| paths.contains(&p))
            })
            .map(str::to_owned)
            .collect()
    }

    /// The SSO profile the chain would take credentials from: none when environment keys
    /// come first (no `--profile`) or the profile does not exist.
    pub fn sso_profile_in_use(&self) -> Option<SsoProfile> {
        self.profile_in_use()?;
        self.sso_profile(&self.profile)
    }

    /// Checks the cached SSO login before any network call: the SDK sends a legacy
    /// (`sso_start_url`) token without looking at its expiry, and an expired
    /// `sso-session` token it cannot refresh is a login the user has to redo.
    /// (`login::ensure` has refreshed or renewed it where it could.)
    pub(super) fn check_sso_login(&self) -> Result<(), CredentialsError> {
        let Some(sso) = self.sso_profile(&self.profile) else {
            return Ok(());
        };
        let (Some(home), Some(key)) = (home_dir(), sso.cache_key()) else {
            return Ok(());
        };
        match LoginNeed::of(&home, key, sso.session.is_some(), Utc::now()) {
            LoginNeed::Nothing | LoginNeed::Refresh(_) => Ok(()),
            LoginNeed::Login(detail) => Err(sso.login_error(detail)),
        }
    }

    /// `detail` of a failed SSO call, with when the login expired if it has.
    pub(super) fn sso_login_detail(&self, sso: &SsoProfile, detail: String) -> String {
        let (Some(session), Some(home)) = (&sso.session, home_dir()) else {
            return detail;
        };
        match state(&home, session) {
            LoginState::ExpiresAt(t) if t <= Utc::now() => format!(
                "expired at {} and could not be refreshed: {detail}",
                stamp(t)
            ),
            _ => detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_name_is_the_sha1_of_the_key() {
        // SHA-1 of "my-sso", as Python's hashlib computes it.
        assert_eq!(
            path(Path::new("/h"), "my-sso"),
            Path::new("/h/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json")
        );
    }

    #[test]
    fn one_login_command_for_hints_and_doctor() {
        let sso = |session: Option<&str>| SsoProfile {
            profile: "prod admin".into(),
            session: session.map(Into::into),
            start_url: Some("https://corp.awsapps.com/start".into()),
        };
        for session in [Some("corp"), None] {
            assert_eq!(
                sso(session).login_command(),
                "eks-token login --profile 'prod admin'"
            );
            assert_eq!(
                sso(session).login_hint(),
                "run `eks-token login --profile 'prod admin'`"
            );
        }
        assert_eq!(
            sso(None).cache_key(),
            Some("https://corp.awsapps.com/start")
        );
    }

    /// Vectors from Python: `hashlib.sha1(json.dumps(args, sort_keys=True).encode())`.
    #[test]
    fn registration_files_are_named_as_the_aws_cli_names_them() {
        assert_eq!(
            registration_file_name(
                "https://corp.awsapps.com/start",
                "eu-west-1",
                Some(&["sso:account:access".to_owned()]),
                Some("corp")
            ),
            "787ef34d0a944c01385765faa28b5e67d1c08f33.json"
        );
        // Absent values are null; non-ASCII is escaped as json.dumps escapes it.
        assert_eq!(
            registration_file_name("https://x/start#\u{e9}", "us-east-1", None, None),
            "e8654d549ed467389b0417910e371ae4f63ee72b.json"
        );
    }

    #[test]
    fn states_and_needs() {
        let home = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let need = |session| match LoginNeed::of(home.path(), "k", session, now) {
            LoginNeed::Nothing => "nothing".to_owned(),
            LoginNeed::Refresh(_) => "refresh".to_owned(),
            LoginNeed::Login(why) => why,
        };
        assert_eq!(state(home.path(), "k"), LoginState::Missing);
        assert_eq!(need(true), "no cached login");
        let p = path(home.path(), "k");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(state(home.path(), "k"), LoginState::Unreadable);
        assert_eq!(need(true), "the cached login is unreadable");
        std::fs::write(
            &p,
            r#"{"accessToken":"x","expiresAt":"2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        let want = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(state(home.path(), "k"), LoginState::ExpiresAt(want.into()));
        assert_eq!(need(true), "nothing");
        let write = |expires: DateTime<Utc>, refresh: bool| {
            let mut login = CachedLogin {
                access_token: "x".into(),
                expires_at: format_time(expires),
                ..CachedLogin::default()
            };
            if refresh {
                login.client_id = Some("c".into());
                login.client_secret = Some("s".into());
                login.refresh_token = Some("r".into());
                login.registration_expires_at = Some("2099-01-01T00:00:00Z".into());
            }
            write_login(home.path(), "k", &login).unwrap();
        };
        // Refreshed with 15 minutes or less left, as botocore does; legacy logins never.
        write(now + chrono::TimeDelta::minutes(14), true);
        assert_eq!(need(true), "refresh");
        assert_eq!(need(false), "nothing");
        write(now + chrono::TimeDelta::minutes(16), true);
        assert_eq!(need(true), "nothing");
        write(now - chrono::TimeDelta::minutes(1), true);
        assert_eq!(need(true), "refresh");
        assert!(need(false).starts_with("expired at "));
        write(now - chrono::TimeDelta::minutes(1), false);
        assert!(need(true).ends_with("and cannot be refreshed"));
    }

    #[test]
    fn a_login_written_back_keeps_fields_it_does_not_know() {
        let home = tempfile::tempdir().unwrap();
        let p = path(home.path(), "k");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            r#"{"startUrl":"u","region":"r","accessToken":"a","expiresAt":"2030-01-02T03:04:05Z","somethingNew":[1]}"#,
        )
        .unwrap();
        let mut login = read_login(home.path(), "k").ok().unwrap();
        login.access_token = "b".into();
        write_login(home.path(), "k", &login).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"startUrl":"u","region":"r","accessToken":"b",
                "expiresAt":"2030-01-02T03:04:05Z","somethingNew":[1]})
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

//! IAM Identity Center (SSO) profiles: which login a profile uses, the state of that
//! login in the AWS CLI's cache (`~/.aws/sso/cache/<sha1 hex>.json`, keyed by the
//! `sso_session` name, or the `sso_start_url` in the legacy form) and the one command
//! that renews it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{AwsConfig, CredentialsError};
use crate::aws_files::{self, home_dir, sso_cache_dir};
use crate::log;
use crate::message::{shell_quote, stamp};

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

    /// The state of the cached login; `None` without a home directory.
    pub fn login_state(&self) -> Option<LoginState> {
        Some(state(&home_dir()?, self.cache_key()?))
    }

    /// The command that renews the login (`aws sso login --sso-session corp`).
    pub fn login_command(&self) -> String {
        match &self.session {
            Some(session) => login_with("sso-session", session),
            None => login_with("profile", &self.profile),
        }
    }

    /// The hint for a login that is missing or expired.
    pub fn login_hint(&self) -> String {
        match &self.session {
            // The AWS CLI also finds an sso-session through a profile that names it.
            Some(_) => format!(
                "run `{}` (or `{}`)",
                self.login_command(),
                login_with("profile", &self.profile)
            ),
            None => format!("run `{}`", self.login_command()),
        }
    }

    pub(super) fn login_error(&self, detail: String) -> CredentialsError {
        CredentialsError::SsoLogin {
            sso: self.clone(),
            detail,
        }
    }
}

fn login_with(flag: &str, name: &str) -> String {
    format!("aws sso login --{flag} {}", shell_quote(name))
}

/// Where the cached login for `key` lives under `home`.
pub fn path(home: &Path, key: &str) -> PathBuf {
    let name = sha1_smol::Sha1::from(key).hexdigest();
    sso_cache_dir(home).join(format!("{name}.json"))
}

/// The fields we look at; the token, client secret and refresh token are skipped unread
/// (`IgnoredAny`), so they are never held in memory here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedToken {
    expires_at: String,
    client_id: Option<IgnoredAny>,
    client_secret: Option<IgnoredAny>,
    refresh_token: Option<IgnoredAny>,
    registration_expires_at: Option<String>,
}

/// The secrets a cached login holds, read only to be remembered for redaction.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedSecrets {
    access_token: Option<String>,
    refresh_token: Option<String>,
    client_secret: Option<String>,
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

/// Reads the login state for `key` without exposing the token.
pub fn state(home: &Path, key: &str) -> LoginState {
    match read::<CachedToken>(home, key) {
        Err(state) => state,
        Ok(t) => DateTime::parse_from_rfc3339(&t.expires_at).map_or(LoginState::Unreadable, |t| {
            LoginState::ExpiresAt(t.with_timezone(&Utc))
        }),
    }
}

/// Whether the SDK can refresh the cached login for `key` through SSO-OIDC at `now`: it
/// needs the client registration (still valid) and a refresh token, as `aws sso login`
/// writes them for `sso-session` profiles.
pub fn refreshable(home: &Path, key: &str, now: DateTime<Utc>) -> bool {
    read::<CachedToken>(home, key).is_ok_and(|t: CachedToken| {
        t.client_id.is_some()
            && t.client_secret.is_some()
            && t.refresh_token.is_some()
            && t.registration_expires_at
                .and_then(|r| DateTime::parse_from_rfc3339(&r).ok())
                .is_some_and(|r| r > now)
    })
}

/// Remembers the tokens and client secret of the cached login for `key` (see
/// [`crate::secrets`]): the SDK sends them to the SSO portal and SSO-OIDC.
pub fn remember_secrets(home: &Path, key: &str) {
    let Ok(cached) = read::<CachedSecrets>(home, key) else {
        return;
    };
    for secret in [
        cached.access_token,
        cached.refresh_token,
        cached.client_secret,
    ]
    .into_iter()
    .flatten()
    {
        crate::secrets::remember(&secret);
    }
}

fn read<T: serde::de::DeserializeOwned>(home: &Path, key: &str) -> Result<T, LoginState> {
    let path = path(home, key);
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(LoginState::Missing);
    }
    // A cache file is a small JSON object, read as a token file is: never from a FIFO,
    // never more than that limit.
    aws_files::read_token_file(&path)
        .filter(|bytes| bytes.len() as u64 <= aws_files::MAX_TOKEN_FILE)
        .and_then(|bytes| serde_json::from_slice::<T>(&bytes).ok())
        .ok_or(LoginState::Unreadable)
}

impl AwsConfig {
    /// The cached SSO login of the profile in use; read again after an SSO error, as the
    /// SDK may have refreshed it.
    pub(super) fn remember_sso_secrets(&self) {
        if let (Some(sso), Some(home)) = (self.sso_profile(&self.profile), home_dir())
            && let Some(key) = sso.cache_key()
        {
            remember_secrets(&home, key);
        }
    }

    /// Checks the cached SSO login before any network call: the SDK sends a legacy
    /// (`sso_start_url`) token without looking at its expiry, and an expired
    /// `sso-session` token it cannot refresh is a login the user has to redo.
    pub(super) fn check_sso_login(&self) -> Result<(), CredentialsError> {
        let Some(sso) = self.sso_profile(&self.profile) else {
            return Ok(());
        };
        let (Some(home), Some(key)) = (home_dir(), sso.cache_key()) else {
            return Ok(());
        };
        let now = Utc::now();
        let state = state(&home, key);
        log::debug(format_args!(
            "sso: cached login for {key}: {}",
            match &state {
                LoginState::Missing => "missing".to_owned(),
                LoginState::Unreadable => "unreadable".to_owned(),
                LoginState::ExpiresAt(t) => format!("expires {}", stamp(*t)),
            }
        ));
        match state {
            LoginState::ExpiresAt(t) if t > now => Ok(()),
            LoginState::ExpiresAt(_) if sso.session.is_some() && refreshable(&home, key, now) => {
                log::debug(format_args!("sso: login expired; the SDK will refresh it"));
                Ok(())
            }
            LoginState::ExpiresAt(t) if sso.session.is_some() => {
                Err(sso.login_error(format!("expired at {} and cannot be refreshed", stamp(t))))
            }
            LoginState::ExpiresAt(t) => Err(sso.login_error(format!("expired at {}", stamp(t)))),
            LoginState::Missing => Err(sso.login_error("no cached login".into())),
            LoginState::Unreadable => Err(sso.login_error("the cached login is unreadable".into())),
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
        assert_eq!(
            sso(Some("corp")).login_command(),
            "aws sso login --sso-session corp"
        );
        assert_eq!(
            sso(Some("corp")).login_hint(),
            "run `aws sso login --sso-session corp` (or `aws sso login --profile 'prod admin'`)"
        );
        assert_eq!(
            sso(None).login_command(),
            "aws sso login --profile 'prod admin'"
        );
        assert_eq!(
            sso(None).login_hint(),
            "run `aws sso login --profile 'prod admin'`"
        );
        assert_eq!(
            sso(None).cache_key(),
            Some("https://corp.awsapps.com/start")
        );
    }

    #[test]
    fn states() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(state(home.path(), "k"), LoginState::Missing);
        let p = path(home.path(), "k");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "garbage").unwrap();
        assert_eq!(state(home.path(), "k"), LoginState::Unreadable);
        std::fs::write(
            &p,
            r#"{"accessToken":"x","expiresAt":"2030-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        let want = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(state(home.path(), "k"), LoginState::ExpiresAt(want.into()));
        assert!(!refreshable(home.path(), "k", Utc::now()));
        std::fs::write(
            &p,
            r#"{"accessToken":"x","expiresAt":"2001-01-02T03:04:05Z","clientId":"c","clientSecret":"s","refreshToken":"r","registrationExpiresAt":"2099-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert!(refreshable(home.path(), "k", Utc::now()));
    }
}

//! The AWS CLI's IAM Identity Center login cache: `~/.aws/sso/cache/<sha1 hex>.json`,
//! keyed by the `sso_session` name (new form) or the `sso_start_url` (legacy form).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Cache files are small JSON objects; anything bigger is not one.
const MAX_CACHE_FILE: u64 = 64 * 1024;

/// Where the cached login for `key` lives under `home`.
pub fn path(home: &Path, key: &str) -> PathBuf {
    let name = sha1_smol::Sha1::from(key).hexdigest();
    crate::aws_files::sso_cache_dir(home).join(format!("{name}.json"))
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
    let Ok(meta) = std::fs::metadata(&path) else {
        return Err(LoginState::Missing);
    };
    if !meta.is_file() || meta.len() > MAX_CACHE_FILE {
        return Err(LoginState::Unreadable);
    }
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<T>(&text).ok())
        .ok_or(LoginState::Unreadable)
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

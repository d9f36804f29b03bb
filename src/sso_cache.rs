//! The AWS CLI's IAM Identity Center login cache: `~/.aws/sso/cache/<sha1 hex>.json`,
//! keyed by the `sso_session` name (new form) or the `sso_start_url` (legacy form).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Cache files are small JSON objects; anything bigger is not one.
const MAX_CACHE_FILE: u64 = 64 * 1024;

/// Where the cached login for `key` lives under `home`.
pub fn path(home: &Path, key: &str) -> PathBuf {
    let name = sha1_smol::Sha1::from(key).hexdigest();
    home.join(".aws/sso/cache").join(format!("{name}.json"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedToken {
    expires_at: String,
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
    let path = path(home, key);
    let Ok(meta) = std::fs::metadata(&path) else {
        return LoginState::Missing;
    };
    if !meta.is_file() || meta.len() > MAX_CACHE_FILE {
        return LoginState::Unreadable;
    }
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<CachedToken>(&text).ok())
        .and_then(|t| DateTime::parse_from_rfc3339(&t.expires_at).ok())
        .map_or(LoginState::Unreadable, |t| {
            LoginState::ExpiresAt(t.with_timezone(&Utc))
        })
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
    }
}

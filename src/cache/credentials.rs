//! A credential entry: temporary credentials that cost a network call (AssumeRole, web
//! identity, SSO, a container endpoint, a `credential_process` that says when they
//! expire), kept beside the tokens so the next run signs without AWS, and botocore's rule
//! for when they must be refreshed.

use aws_credential_types::Credentials;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::key::CredentialKey;
use crate::credentials::Source;

/// Bumped when the format changes; other formats are ignored and replaced. 2: the
/// answering source kept whole (`origin`), not only its profile.
pub const FORMAT: u32 = 2;

/// The `kind` every credential entry carries, so a token entry is never read as one.
const KIND: &str = "credentials";

/// botocore's advisory refresh window (`RefreshableCredentials._advisory_refresh_timeout`):
/// with less left a run refreshes, but serves the cached credentials when the refresh fails.
pub use crate::credentials::ADVISORY_REFRESH;

/// botocore's mandatory refresh window (`_mandatory_refresh_timeout`, 10 minutes): with
/// less left the credentials are not used; a token signed with them would outlive them.
pub const MANDATORY_REFRESH: TimeDelta = TimeDelta::minutes(10);

/// Credential entries are well under a kilobyte or two (a session token is at most a few
/// kilobytes); anything bigger is not one.
pub const MAX_CREDENTIALS_BYTES: u64 = 16 * 1024;

/// Whether `bytes` are a credential entry of a format older than [`FORMAT`].
pub fn is_outdated(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    serde_json::from_slice::<Format>(bytes).is_ok_and(|f| f.format < FORMAT)
}

/// What a run may do with cached credentials at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// More than [`ADVISORY_REFRESH`] left: use them.
    Fresh,
    /// Between [`MANDATORY_REFRESH`] and [`ADVISORY_REFRESH`] left: refresh, falling back
    /// to them when the refresh fails.
    Advisory,
    /// [`MANDATORY_REFRESH`] or less left: refresh, or fail.
    Expiring,
}

/// How fresh credentials expiring at `expires_at` are at `now` (the clock is the caller's).
pub fn freshness(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Freshness {
    let left = expires_at - now;
    if left > ADVISORY_REFRESH {
        Freshness::Fresh
    } else if left > MANDATORY_REFRESH {
        Freshness::Advisory
    } else {
        Freshness::Expiring
    }
}

/// What a run does with what the cache holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan<T> {
    /// Sign with the cached credentials.
    Use(T),
    /// Get new credentials; when that fails, sign with `fallback` if there is one.
    Refresh { fallback: Option<T> },
}

/// The plan for `cached` (its expiry and the credentials) at `now`, by botocore's windows.
pub fn plan<T>(cached: Option<(DateTime<Utc>, T)>, now: DateTime<Utc>) -> Plan<T> {
    match cached.map(|(expires_at, c)| (freshness(expires_at, now), c)) {
        Some((Freshness::Fresh, c)) => Plan::Use(c),
        Some((Freshness::Advisory, c)) => Plan::Refresh { fallback: Some(c) },
        Some((Freshness::Expiring, _)) | None => Plan::Refresh { fallback: None },
    }
}

/// What `cache list` shows of a credential entry: never key material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsDescription {
    /// Where the credentials came from (`profile dev`, `web identity token` …).
    pub source: String,
    /// The role they are for: the assumed role, or an SSO profile's account and role.
    pub role: Option<String>,
}

/// One credential file, `<key>.credentials`. No `Debug`: it holds the secret key.
#[derive(Serialize, Deserialize)]
pub struct CredentialsEntry {
    format: u32,
    kind: String,
    key: String,
    #[serde(flatten)]
    pub description: CredentialsDescription,
    pub expires_at: DateTime<Utc>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// The source that answered, so a run served from the cache names it as a run that
    /// asked it would.
    pub origin: Source,
    /// The `--role-arn` role assumed on top, for the same.
    pub assumed_role: Option<String>,
}

impl CredentialsEntry {
    /// The entry for `credentials`, which expire at `expires_at`, stored under `key`.
    pub fn new(
        key: &CredentialKey,
        description: &CredentialsDescription,
        credentials: &Credentials,
        expires_at: DateTime<Utc>,
        origin: &Source,
        assumed_role: Option<&str>,
    ) -> Self {
        Self {
            format: FORMAT,
            kind: KIND.into(),
            key: key.as_str().to_owned(),
            description: description.clone(),
            expires_at,
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            origin: origin.clone(),
            assumed_role: assumed_role.map(str::to_owned),
        }
    }

    /// The credentials to sign with, expiring when the entry says.
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            Some(self.expires_at.into()),
            "eks-token credential cache",
        )
    }

    /// The profile the credentials came from, if a profile gave them.
    pub fn profile(&self) -> Option<&str> {
        match &self.origin {
            Source::Profile(p) => Some(p),
            _ => None,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("entry serialises")
    }

    /// A credential entry of the current format, or `None` (a token entry is `None`).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() as u64 > MAX_CREDENTIALS_BYTES {
            return None;
        }
        let entry: Self = serde_json::from_slice(bytes).ok()?;
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        let valid = entry.format == FORMAT
            && entry.kind == KIND
            && plain(&entry.access_key_id)
            && plain(&entry.secret_access_key)
            && entry.session_token.as_deref().is_none_or(plain);
        valid.then_some(entry)
    }

    /// The key the entry was stored under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the entry was stored for `key`.
    pub fn is_for(&self, key: &CredentialKey) -> bool {
        self.key == key.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn botocore_windows() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |seconds: i64| freshness(now + TimeDelta::seconds(seconds), now);
        assert_eq!(at(60 * 60), Freshness::Fresh);
        assert_eq!(at(15 * 60 + 1), Freshness::Fresh);
        assert_eq!(at(15 * 60), Freshness::Advisory);
        assert_eq!(at(10 * 60 + 1), Freshness::Advisory);
        assert_eq!(at(10 * 60), Freshness::Expiring);
        assert_eq!(at(0), Freshness::Expiring);
        assert_eq!(at(-60), Freshness::Expiring);
    }

    #[test]
    fn the_plan_uses_refreshes_with_a_fallback_or_refreshes() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let cached = |minutes: i64| Some((now + TimeDelta::minutes(minutes), "cached"));
        assert_eq!(plan(cached(59), now), Plan::Use("cached"));
        assert_eq!(
            plan(cached(12), now),
            Plan::Refresh {
                fallback: Some("cached")
            }
        );
        assert_eq!(plan(cached(9), now), Plan::Refresh { fallback: None });
        assert_eq!(plan::<&str>(None, now), Plan::Refresh { fallback: None });
        // The same entry, later: the clock alone moves it through the windows.
        let entry = cached(20);
        assert_eq!(plan(entry, now), Plan::Use("cached"));
        assert_eq!(
            plan(entry, now + TimeDelta::minutes(6)),
            Plan::Refresh {
                fallback: Some("cached")
            }
        );
        assert_eq!(
            plan(entry, now + TimeDelta::minutes(11)),
            Plan::Refresh { fallback: None }
        );
    }
}

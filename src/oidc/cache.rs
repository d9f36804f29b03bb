//! The OIDC token cache: one private store (`store/`), an entry per provider, client,
//! scopes and grant options, holding the ID token (or access token) served and the refresh
//! token, with the claims `doctor` shows. Served while more than a minute is left.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::id_token::Claims;
use crate::aws_files::home_dir;
use crate::store::{Store, StoreError};

/// A cached token is served while more than this is left (the rule, and what
/// kube-rs re-runs a plugin before).
pub const MIN_REMAINING: TimeDelta = TimeDelta::minutes(1);

/// Bumped when the format changes; other formats are ignored and replaced.
const FORMAT: u32 = 1;

/// Entries hold two or three tokens of a few KB each.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

/// The directory: `--token-cache-dir`, else `$KUBECACHEDIR/eks-token-oidc`, else
/// `~/.kube/cache/eks-token-oidc` (beside the token cache, never inside it).
pub fn dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_owned());
    }
    if let Some(dir) = std::env::var_os("KUBECACHEDIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("eks-token-oidc"));
    }
    Some(home_dir()?.join(".kube/cache/eks-token-oidc"))
}

/// What picks an entry: a SHA-256 over everything that changes the token.
pub struct Key(String);

impl Key {
    /// The key of a token for these settings (values, not files: a CA's path, not its
    /// contents, so a hit reads nothing else).
    pub fn of(parts: &KeyParts<'_>) -> Self {
        let text = serde_json::to_string(parts).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn file(&self) -> String {
        format!("{}.json", self.0)
    }
}

/// The settings a key is made of.
#[derive(Clone, Copy, Serialize)]
pub struct KeyParts<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// Hashed with the rest, never stored.
    pub client_secret: Option<&'a str>,
    pub scopes: &'a [String],
    pub use_access_token: bool,
}

/// One cached login.
#[derive(Serialize, Deserialize)]
pub struct Entry {
    format: u32,
    key: String,
    /// What is printed: the ID token, or the access token with `--oidc-use-access-token`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
    /// The ID token's claims when it arrived.
    pub claims: Claims,
}

impl Entry {
    pub fn new(
        key: &Key,
        token: String,
        expires_at: DateTime<Utc>,
        refresh_token: Option<String>,
        claims: Claims,
    ) -> Self {
        Self {
            format: FORMAT,
            key: key.0.clone(),
            token,
            expires_at,
            refresh_token,
            claims,
        }
    }

    /// Whether it can be served at `now`.
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > MIN_REMAINING
    }

    /// Remembers its tokens as secrets (see [`crate::secrets`]).
    pub fn remember_secrets(&self) {
        crate::secrets::remember(&self.token);
        if let Some(refresh) = &self.refresh_token {
            crate::secrets::remember(refresh);
        }
    }
}

/// The store of OIDC entries.
pub struct OidcCache {
    store: Store,
}

impl OidcCache {
    /// The store at `dir` if it exists: the read side of a hit.
    pub fn existing(dir: &Path) -> Result<Option<Self>, StoreError> {
        Ok(Store::existing(dir)?.map(|store| Self { store }))
    }

    /// The store at `dir`, created private when missing.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            store: Store::create(dir)?,
        })
    }

    /// The entry for `key`; a missing, foreign-format or damaged one is `None`.
    pub fn read(&self, key: &Key) -> Result<Option<Entry>, StoreError> {
        let Some(bytes) = self.store.read(&key.file(), MAX_ENTRY_BYTES)? else {
            return Ok(None);
        };
        let entry = serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .filter(|e| e.format == FORMAT && e.key == key.0);
        if let Some(entry) = &entry {
            entry.remember_secrets();
        }
        Ok(entry)
    }

    pub fn write(&self, key: &Key, entry: &Entry) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(entry).unwrap_or_default();
        self.store.write(&key.file(), &bytes)
    }

    /// The per-key lock; see [`Store::lock`].
    pub fn lock(
        &self,
        key: &Key,
        wait: std::time::Duration,
    ) -> Result<Option<crate::store::Lock>, StoreError> {
        self.store.lock(&key.0, wait)
    }

    pub fn dir(&self) -> &Path {
        self.store.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_changes_the_key_and_values_alone_make_it() {
        let scopes = vec!["email".to_owned()];
        let base = KeyParts {
            issuer: "https://idp",
            client_id: "c",
            client_secret: None,
            scopes: &scopes,
            use_access_token: false,
        };
        let key = |p: &KeyParts<'_>| Key::of(p).0;
        let other_scopes = vec!["groups".to_owned()];
        let variants = [
            KeyParts {
                issuer: "https://idp2",
                ..base
            },
            KeyParts {
                client_id: "d",
                ..base
            },
            KeyParts {
                client_secret: Some("s"),
                ..base
            },
            KeyParts {
                scopes: &other_scopes,
                ..base
            },
            KeyParts {
                use_access_token: true,
                ..base
            },
        ];
        for v in &variants {
            assert_ne!(key(v), key(&base));
        }
        assert_eq!(key(&base), key(&KeyParts { ..base }));
        assert_eq!(key(&base).len(), 64);
    }
}

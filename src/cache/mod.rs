//! The on-disk token cache: one private file per key, so the next kubectl, helm or k9s
//! process gets its token without touching AWS (client-go keeps credentials only in
//! memory, per process: client-go `plugin/pkg/client/auth/exec/exec.go`).
//!
//! Layout, like kubelogin's: `<dir>/<sha256 of the key>.json` holds one entry and
//! `<dir>/<same>.lock` is locked while a token for that key is minted, so a burst of cold
//! starts makes one AWS call. The directory is a private [`store`](crate::store): entries
//! are written to a temporary file and renamed into place, so a reader never sees half a
//! file, and every file operation goes through one handle on the directory, never through
//! its path.
//!
//! The directory is the cache's alone: before anything is written or removed, every file
//! in it must be provably ours (our name pattern, and an entry's content or a lock file's
//! shape), else the directory is refused and nothing in it is touched.

mod credentials;
mod entry;
mod key;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;

use crate::aws_files::home_dir;
use crate::message::a_few;
use crate::store::{self, Found, Lock, Store, StoreError};
use crate::sts_endpoint::StsEndpoint;
use crate::token::Token;
use entry::{Entry, MAX_ENTRY_BYTES, is_entry, is_key};

use credentials::MAX_CREDENTIALS_BYTES;
pub use credentials::{
    ADVISORY_REFRESH, CredentialsDescription, CredentialsEntry, Freshness, MANDATORY_REFRESH, Plan,
    freshness, plan,
};
pub use entry::{Description, MIN_REMAINING};
pub use key::{CacheKey, CredentialKey, FileStamp, KeyInputs};

/// Where the cache lives: `--cache-dir`, `EKS_TOKEN_CACHE_DIR`, `$KUBECACHEDIR/eks-token`,
/// else `~/.kube/cache/eks-token`.
pub fn default_dir(flag: Option<&Path>) -> Option<PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v: &OsString| !v.is_empty());
    if let Some(dir) = flag {
        return Some(dir.to_owned());
    }
    if let Some(dir) = env("EKS_TOKEN_CACHE_DIR") {
        return Some(dir.into());
    }
    if let Some(dir) = env("KUBECACHEDIR") {
        return Some(PathBuf::from(dir).join("eks-token"));
    }
    Some(home_dir()?.join(".kube/cache/eks-token"))
}

/// A token read back from the cache.
#[derive(Debug)]
pub struct Hit {
    pub token: Token,
    pub description: Description,
}

/// What the cache holds for a token request.
#[derive(Debug)]
pub enum Lookup {
    /// A token with at least [`MIN_REMAINING`] left.
    Hit(Hit),
    /// The request's entry, with less left (or none): where its token was signed.
    Stale(Stale),
    /// No entry for the request.
    Miss,
}

/// A token entry past serving: what it said and where its token was signed, so a new
/// token for the same request can be signed there without reading the AWS config.
#[derive(Debug)]
pub struct Stale {
    pub description: Description,
    pub endpoint: StsEndpoint,
}

/// A listed entry.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub description: Description,
    pub expires_at: DateTime<Utc>,
}

/// A listed credential entry: where the credentials came from, the role, the expiry.
#[derive(Debug, Clone, Serialize)]
pub struct ListedCredentials {
    #[serde(flatten)]
    pub description: CredentialsDescription,
    pub expires_at: DateTime<Utc>,
}

/// What `clear` removed, of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    pub tokens: usize,
    pub credentials: usize,
}

impl std::fmt::Display for Cleared {
    /// `2 cached tokens and 1 cached credential`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} cached token{} and {} cached credential{}",
            self.tokens,
            plural(self.tokens),
            self.credentials,
            plural(self.credentials)
        )
    }
}

/// Why the cache could not be used; the token is still printed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory or a file in it is not private, or the file system refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The directory holds files that are not the cache's: nothing in it is touched.
    #[error("{} holds files that are not eks-token's: {}", dir.display(), a_few(&sorted_names(names)))]
    Foreign { dir: PathBuf, names: Vec<OsString> },
}

impl CacheError {
    /// The command that makes the cache usable again.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Store(StoreError::NotPrivate { path, .. }) => {
                Some(format!("chmod go-rwx {}", path.display()))
            }
            Self::Store(
                StoreError::Symlink(path)
                | StoreError::ForeignOwner(path)
                | StoreError::NotRegular(path),
            ) => Some(format!(
                "remove {} or choose another --cache-dir",
                path.display()
            )),
            // Named like ours but not in our format: most likely a write cut short by a
            // crash; the user can see that and remove them.
            Self::Foreign { dir, names }
                if names
                    .iter()
                    .all(|n| n.to_str().and_then(our_name).is_some()) =>
            {
                Some(format!(
                    "these are named like eks-token's files but do not hold its format (damaged by a crash?): remove them from {}, or point --cache-dir at a directory of its own",
                    dir.display()
                ))
            }
            Self::Foreign { .. } => Some("point --cache-dir at a directory of its own".into()),
            Self::Store(StoreError::Io { .. }) => {
                Some("check the directory, or pass --no-cache".into())
            }
        }
    }
}

/// The names sorted and escaped, for [`a_few`] (a directory can hold thousands).
fn sorted_names(names: &[OsString]) -> Vec<String> {
    let mut shown: Vec<String> = names
        .iter()
        .map(|n| n.to_string_lossy().escape_debug().to_string())
        .collect();
    shown.sort();
    shown
}

/// A cache directory that has been checked to be private to this user.
pub struct Cache {
    store: Store,
}

/// What a file in the cache directory is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `<key>.json`
    Entry,
    /// `<key>.credentials`
    Credentials,
    /// `<key>.lock`
    Lock,
    /// `.<key>.<pid>.<nanos>.tmp`
    Temp,
}

/// The kind and key of one of our file names (the key is 64 lower-case hex digits, a
/// SHA-256); `None` for any other name.
fn our_name(name: &str) -> Option<(Kind, &str)> {
    if let Some(key) = name.strip_suffix(".json").filter(|k| is_key(k)) {
        return Some((Kind::Entry, key));
    }
    if let Some(key) = name.strip_suffix(CREDENTIALS_SUFFIX).filter(|k| is_key(k)) {
        return Some((Kind::Credentials, key));
    }
    if let Some(key) = store::lock_of(name).filter(|k| is_key(k)) {
        return Some((Kind::Lock, key));
    }
    let key = store::temp_of(name).filter(|k| is_key(k))?;
    Some((Kind::Temp, key))
}

fn entry_name(key: &str) -> String {
    format!("{key}.json")
}

/// Credential entries have their own suffix: the name says which kind a file holds, so a
/// token entry is never read as credentials or the reverse (their keys differ too).
const CREDENTIALS_SUFFIX: &str = ".credentials";

fn credentials_name(key: &str) -> String {
    format!("{key}{CREDENTIALS_SUFFIX}")
}

/// The cache's files, once the directory is known to hold nothing else.
#[derive(Default)]
struct Files {
    /// Entry keys, each with its entry when it is of the current format.
    entries: Vec<(String, Option<Entry>)>,
    /// Credential entry keys, each with its entry when it is of the current format.
    credentials: Vec<(String, Option<CredentialsEntry>)>,
    /// Lock file keys, each with whether it is older than [`store::STALE`].
    locks: Vec<(String, bool)>,
    /// Temporary file names, each with whether it is older than [`store::STALE`].
    temps: Vec<(String, bool)>,
    /// Entries that can never serve, removed by every prune: empty ones (writes a crash
    /// cut short) and credentials of an older format (their key changed with the format,
    /// and they hold secrets).
    dead: Vec<(Kind, String)>,
}

impl Cache {
    /// Uses `dir` as it is, without creating it or looking at other files in it: the read
    /// side of the fast path (one open and one `fstat` of the directory).
    pub fn existing(dir: &Path) -> Result<Option<Self>, CacheError> {
        Ok(Store::existing(dir)?.map(|store| Self { store }))
    }

    /// Uses `dir`, creating it private (0700) when missing, once every file in it is
    /// provably the cache's: the slow path, where everything that writes starts.
    ///
    /// The check lists and reads the whole directory, so it runs here and in `list`,
    /// `clear` and `prune`, never on a hit: a hit reads one file by its name and removes
    /// nothing, and stays one open and one read in the directory.
    pub fn create(dir: &Path) -> Result<Self, CacheError> {
        let cache = Self {
            store: Store::create(dir)?,
        };
        cache.files()?;
        Ok(cache)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.store.path()
    }

    /// The token for `key` if it has at least [`MIN_REMAINING`] left at `now`.
    /// A missing, corrupt, foreign-format or expired entry, or one that does not answer
    /// the request, is a miss; an entry another user could have written is an error.
    pub fn lookup(&self, key: &CacheKey, now: DateTime<Utc>) -> Result<Option<Hit>, CacheError> {
        Ok(match self.find(key, now)? {
            Lookup::Hit(hit) => Some(hit),
            Lookup::Stale(_) | Lookup::Miss => None,
        })
    }

    /// What the cache holds for `key` at `now`: a hit as [`Cache::lookup`] has it, else
    /// the entry of the same request that is past serving, else a miss.
    pub fn find(&self, key: &CacheKey, now: DateTime<Utc>) -> Result<Lookup, CacheError> {
        let bytes = self
            .store
            .read(&entry_name(key.as_str()), MAX_ENTRY_BYTES)?;
        let Some(entry) = bytes.and_then(|bytes| Entry::parse(&bytes)) else {
            return Ok(Lookup::Miss);
        };
        let Some(endpoint) = entry.answers(key) else {
            return Ok(Lookup::Miss);
        };
        if !entry.serves_at(now) {
            return Ok(Lookup::Stale(Stale {
                description: entry.description,
                endpoint,
            }));
        }
        Ok(Lookup::Hit(Hit {
            token: Token {
                bearer: SecretString::from(entry.token),
                expires_at: entry.expires_at,
            },
            description: entry.description,
        }))
    }

    /// Stores `token` for `key`: written to a private temporary file, then renamed.
    pub fn store(
        &self,
        key: &CacheKey,
        token: &Token,
        description: &Description,
    ) -> Result<(), CacheError> {
        let entry = Entry::new(key, token, description);
        Ok(self
            .store
            .write(&entry_name(key.as_str()), &entry.to_bytes())?)
    }

    /// The credentials cached for `key`, whatever time they have left (the caller decides
    /// with [`freshness`]). A missing, corrupt or foreign-format entry is `None`.
    pub fn lookup_credentials(
        &self,
        key: &CredentialKey,
    ) -> Result<Option<CredentialsEntry>, CacheError> {
        let bytes = self
            .store
            .read(&credentials_name(key.as_str()), MAX_CREDENTIALS_BYTES)?;
        Ok(bytes
            .and_then(|bytes| CredentialsEntry::parse(&bytes))
            .filter(|entry| entry.is_for(key)))
    }

    /// Stores credentials under their key: a private temporary file, then renamed.
    pub fn store_credentials(&self, entry: &CredentialsEntry) -> Result<(), CacheError> {
        let name = credentials_name(entry.key());
        Ok(self.store.write(&name, &entry.to_bytes())?)
    }

    /// The lock on `key`'s credentials, as [`Cache::lock`]: one refresh per burst.
    pub fn lock_credentials(
        &self,
        key: &CredentialKey,
        wait: Duration,
    ) -> Result<Option<Lock>, CacheError> {
        Ok(self.store.lock(key.as_str(), wait)?)
    }

    /// Waits up to `wait` for the per-key lock (`wait` is the run's deadline: the holder
    /// gives up by then). `Ok(None)` when another run held it too long: the caller then
    /// mints without the cache rather than hang.
    pub fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<Lock>, CacheError> {
        Ok(self.store.lock(key.as_str(), wait)?)
    }

    /// Removes `<key>.json` and its lock file while holding its lock; `false` when
    /// another run holds it (it is minting: its entry is about to be replaced anyway).
    fn remove_entry(&self, key: &str) -> Result<bool, CacheError> {
        self.remove_locked(key, &entry_name(key))
    }

    /// Removes `<key>.credentials` and its lock file, as [`Cache::remove_entry`].
    fn remove_credentials(&self, key: &str) -> Result<bool, CacheError> {
        self.remove_locked(key, &credentials_name(key))
    }

    fn remove_locked(&self, key: &str, name: &str) -> Result<bool, CacheError> {
        let Some(lock) = self.store.lock(key, Duration::ZERO)? else {
            return Ok(false);
        };
        self.store.remove_locked(lock, &[name])?;
        Ok(true)
    }

    /// Lists the directory and proves every file in it ours: an entry name holding an
    /// entry, a lock-file name on an empty 0600 file, or a temporary-file name (a killed
    /// writer leaves any content). Anything else is [`CacheError::Foreign`], and the
    /// caller then writes and removes nothing.
    fn files(&self) -> Result<Files, CacheError> {
        let mut files = Files::default();
        let mut foreign = Vec::new();
        for found in self.store.list()? {
            let ours = match &found {
                Found::File(name) => match our_name(name) {
                    Some((Kind::Entry, key)) => {
                        match self.store.read(name, MAX_ENTRY_BYTES)? {
                            // Removed since it was listed.
                            None => true,
                            // A write a crash cut short (`store::Durability::Cache`).
                            Some(bytes) if bytes.is_empty() => {
                                files.dead.push((Kind::Entry, key.to_owned()));
                                files.entries.push((key.to_owned(), None));
                                true
                            }
                            Some(bytes) if is_entry(&bytes) => {
                                files.entries.push((key.to_owned(), Entry::parse(&bytes)));
                                true
                            }
                            Some(_) => false,
                        }
                    }
                    Some((Kind::Credentials, key)) => {
                        match self.store.read(name, MAX_CREDENTIALS_BYTES)? {
                            None => true,
                            Some(bytes) if bytes.is_empty() => {
                                files.dead.push((Kind::Credentials, key.to_owned()));
                                files.credentials.push((key.to_owned(), None));
                                true
                            }
                            Some(bytes) if is_entry(&bytes) => {
                                let entry = CredentialsEntry::parse(&bytes);
                                if entry.is_none() && credentials::is_outdated(&bytes) {
                                    files.dead.push((Kind::Credentials, key.to_owned()));
                                }
                                files.credentials.push((key.to_owned(), entry));
                                true
                            }
                            Some(_) => false,
                        }
                    }
                    _ => false,
                },
                Found::Lock { of, stale } if is_key(of) => {
                    files.locks.push((of.clone(), *stale));
                    true
                }
                Found::Temp { file, of, stale } if is_key(of) => {
                    files.temps.push((file.clone(), *stale));
                    true
                }
                Found::Lock { .. } | Found::Temp { .. } | Found::Other(_) => false,
            };
            if !ours {
                foreign.push(found.file_name());
            }
        }
        if !foreign.is_empty() {
            return Err(CacheError::Foreign {
                dir: self.dir().to_owned(),
                names: foreign,
            });
        }
        Ok(files)
    }

    /// Every readable entry, expired ones included, sorted by cluster.
    pub fn list(&self) -> Result<Vec<Listed>, CacheError> {
        let mut listed: Vec<Listed> = self
            .files()?
            .entries
            .into_iter()
            .filter_map(|(_, entry)| entry)
            .map(|e| Listed {
                description: e.description,
                expires_at: e.expires_at,
            })
            .collect();
        listed.sort_by(|a, b| {
            (&a.description.cluster, &a.description.region)
                .cmp(&(&b.description.cluster, &b.description.region))
        });
        Ok(listed)
    }

    /// Every readable credential entry, expired ones included, sorted by source and role.
    /// Never the keys.
    pub fn list_credentials(&self) -> Result<Vec<ListedCredentials>, CacheError> {
        let mut listed: Vec<ListedCredentials> = self
            .files()?
            .credentials
            .into_iter()
            .filter_map(|(_, entry)| entry)
            .map(|e| ListedCredentials {
                description: e.description.clone(),
                expires_at: e.expires_at,
            })
            .collect();
        listed.sort_by(|a, b| {
            (&a.description.source, &a.description.role)
                .cmp(&(&b.description.source, &b.description.role))
        });
        Ok(listed)
    }

    /// Removes the token entries for `cluster`, or every entry of both kinds when `None`
    /// (credentials belong to no cluster), returning how many of each.
    pub fn clear(&self, cluster: Option<&str>) -> Result<Cleared, CacheError> {
        let tokens =
            self.remove_entries(|d| cluster.is_none_or(|c| d.is_some_and(|d| d.cluster == c)))?;
        let mut credentials = 0;
        if cluster.is_none() {
            for (key, _) in self.files()?.credentials {
                if self.remove_credentials(&key)? {
                    credentials += 1;
                }
            }
        }
        Ok(Cleared {
            tokens,
            credentials,
        })
    }

    /// Removes the token and credential entries made with one of `profiles` (after their
    /// SSO logout), returning how many of each.
    pub fn clear_profiles(&self, profiles: &[String]) -> Result<Cleared, CacheError> {
        let of = |p: Option<&str>| p.is_some_and(|p| profiles.iter().any(|q| q == p));
        let tokens = self.remove_entries(|d| of(d.and_then(|d| d.profile.as_deref())))?;
        let mut credentials = 0;
        for (key, entry) in self.files()?.credentials {
            if of(entry.as_ref().and_then(CredentialsEntry::profile))
                && self.remove_credentials(&key)?
            {
                credentials += 1;
            }
        }
        Ok(Cleared {
            tokens,
            credentials,
        })
    }

    /// Removes the entries `matches` picks by their description (`None` for an entry
    /// of another format), returning how many.
    fn remove_entries(
        &self,
        matches: impl Fn(Option<&Description>) -> bool,
    ) -> Result<usize, CacheError> {
        let mut removed = 0;
        for (key, entry) in self.files()?.entries {
            if matches(entry.as_ref().map(|e| &e.description)) && self.remove_entry(&key)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes expired entries, their lock files, lock files left without an entry, and
    /// temporary files left by killed writers. Best effort: runs on the slow path only,
    /// skips keys another run holds, never fails the run, and does nothing in a directory
    /// that holds files not ours.
    pub fn prune(&self, now: DateTime<Utc>) {
        let Ok(files) = self.files() else {
            return;
        };
        for (name, stale) in &files.temps {
            if *stale {
                let _ = self.store.remove(name);
            }
        }
        for (key, entry) in &files.entries {
            if entry.as_ref().is_some_and(|e| e.expires_at <= now) {
                let _ = self.remove_entry(key);
            }
        }
        // Credentials are kept while they could still serve (a failed refresh falls back to
        // them), and removed once expired.
        for (key, entry) in &files.credentials {
            if entry.as_ref().is_some_and(|e| e.expires_at <= now) {
                let _ = self.remove_credentials(key);
            }
        }
        for (kind, key) in &files.dead {
            let _ = if *kind == Kind::Credentials {
                self.remove_credentials(key)
            } else {
                self.remove_entry(key)
            };
        }
        for (key, stale) in &files.locks {
            let has_entry = files.entries.iter().any(|(k, _)| k == key)
                || files.credentials.iter().any(|(k, _)| k == key);
            if *stale && !has_entry {
                let _ = self.remove_entry(key);
            }
        }
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::token::{self, ClusterId};
    use chrono::TimeDelta;

    /// The key for `cluster` in us-west-2, named by the flag.
    pub fn key(cluster: &str) -> CacheKey {
        let inputs = KeyInputs {
            region: Some("us-west-2".into()),
            named_region: Some("us-west-2".into()),
            ..KeyInputs::default()
        };
        CacheKey::of(&ClusterId::new(cluster).unwrap(), &inputs)
    }

    /// A token of the presigned form for `host` and `region`, signature `signature`.
    pub fn presigned(host: &str, region: &str, signature: &str) -> String {
        token::encode(&format!(
            "https://{host}/?Action=GetCallerIdentity&Version=2011-06-15\
             &X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20231114%2F{region}%2Fsts%2Faws4_request\
             &X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
             &X-Amz-Signature={signature}"
        ))
    }

    /// A token for [`description`]'s STS host and region.
    pub fn token(expires_at: DateTime<Utc>) -> Token {
        Token {
            bearer: SecretString::from(presigned("sts.us-west-2.amazonaws.com", "us-west-2", "5e")),
            expires_at,
        }
    }

    pub fn description() -> Description {
        Description {
            cluster: "c".into(),
            region: "us-west-2".into(),
            sts_host: "sts.us-west-2.amazonaws.com".into(),
            profile: Some("dev".into()),
            role: None,
        }
    }

    pub fn cache() -> (tempfile::TempDir, Cache) {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::create(&root.path().join("eks-token")).unwrap();
        (root, cache)
    }

    pub fn entry_path(cache: &Cache, key: &CacheKey) -> PathBuf {
        cache.dir().join(entry_name(key.as_str()))
    }

    pub fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    /// Stores a token for cluster `c` with 14 minutes left at [`t0`].
    pub fn store_fresh(cache: &Cache) {
        let token = token(t0() + TimeDelta::minutes(14));
        cache.store(&key("c"), &token, &description()).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use crate::credentials::Source;
    use aws_credential_types::Credentials;
    use chrono::TimeDelta;
    use std::fs::{self, File};
    use std::os::unix::fs::PermissionsExt;
    use std::time::SystemTime;

    #[test]
    fn created_private_and_entries_are_0600() {
        let (_root, cache) = cache();
        let mode = fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        cache
            .store(&key("c"), &token(t0()), &description())
            .unwrap();
        let entry = entry_path(&cache, &key("c"));
        assert_eq!(
            fs::metadata(entry).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn served_while_five_minutes_remain() {
        let (_root, cache) = cache();
        let expires = t0() + TimeDelta::minutes(14);
        cache
            .store(&key("c"), &token(expires), &description())
            .unwrap();
        let at = |left: i64| expires - TimeDelta::seconds(left);
        let hit = cache.lookup(&key("c"), at(5 * 60 + 1)).unwrap().unwrap();
        assert_eq!(hit.token.expose(), token(expires).expose());
        assert_eq!(hit.token.expires_at, expires);
        assert_eq!(hit.description, description());
        assert!(cache.lookup(&key("c"), at(5 * 60)).unwrap().is_some());
        assert!(cache.lookup(&key("c"), at(4 * 60 + 59)).unwrap().is_none());
        assert!(cache.lookup(&key("other"), at(10 * 60)).unwrap().is_none());
    }

    #[test]
    fn an_entry_past_serving_says_where_its_token_was_signed() {
        let (_root, cache) = cache();
        let expires = t0() + TimeDelta::minutes(14);
        cache
            .store(&key("c"), &token(expires), &description())
            .unwrap();
        assert!(matches!(
            cache.find(&key("c"), t0()).unwrap(),
            Lookup::Hit(_)
        ));
        for now in [
            expires - TimeDelta::minutes(4),
            expires + TimeDelta::days(1),
        ] {
            let Lookup::Stale(stale) = cache.find(&key("c"), now).unwrap() else {
                panic!("past serving at {now}: not stale");
            };
            assert_eq!(stale.endpoint.host, "sts.us-west-2.amazonaws.com");
            assert_eq!(stale.endpoint.signing_region.as_str(), "us-west-2");
            assert_eq!(stale.description, description());
        }
        // Another request, also when the file is copied under its name.
        assert!(matches!(
            cache.find(&key("d"), expires).unwrap(),
            Lookup::Miss
        ));
        fs::copy(entry_path(&cache, &key("c")), entry_path(&cache, &key("d"))).unwrap();
        assert!(matches!(
            cache.find(&key("d"), expires).unwrap(),
            Lookup::Miss
        ));
    }

    #[test]
    fn corrupt_truncated_oversized_and_future_entries_are_misses() {
        let (_root, cache) = cache();
        store_fresh(&cache);
        let path = entry_path(&cache, &key("c"));
        let good = fs::read_to_string(&path).unwrap();
        let write = |text: &str| {
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        };
        let future = good.replace("\"format\":1", "\"format\":2");
        let foreign_key = good.replace(key("c").as_str(), key("d").as_str());
        let not_a_token = good.replace("k8s-aws-v1.", "Bearer ");
        for bad in [
            "",
            "{",
            &good[..good.len() / 2],
            &future,
            &foreign_key,
            &not_a_token,
            &" ".repeat(MAX_ENTRY_BYTES as usize + 1),
            "\u{0}\u{1}binary",
        ] {
            write(bad);
            assert!(
                cache.lookup(&key("c"), t0()).unwrap().is_none(),
                "{bad:.40}"
            );
        }
        // A miss is replaced by the next store.
        store_fresh(&cache);
        assert!(cache.lookup(&key("c"), t0()).unwrap().is_some());
    }

    #[test]
    fn empty_entries_a_crash_left_are_ours_and_pruned() {
        let (_root, cache) = cache();
        store_fresh(&cache);
        let path = entry_path(&cache, &key("c"));
        fs::write(&path, "").unwrap();
        let credentials = cache
            .dir()
            .join(format!("{}.credentials", key("d").as_str()));
        fs::write(&credentials, "").unwrap();
        fs::set_permissions(&credentials, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.lookup(&key("c"), t0()).unwrap().is_none());
        assert!(cache.list().unwrap().is_empty(), "listed, not refused");
        cache.prune(t0());
        assert!(!path.exists() && !credentials.exists());
    }

    #[test]
    fn file_names_of_ours() {
        let hex = "0123456789abcdef".repeat(4);
        let cases = [
            (format!("{hex}.json"), Some(Kind::Entry)),
            (format!("{hex}.credentials"), Some(Kind::Credentials)),
            (format!("{hex}.lock"), Some(Kind::Lock)),
            (format!(".{hex}.4242.123456789.tmp"), Some(Kind::Temp)),
            (format!("{hex}.credentials.json"), None),
            (format!("{}.credentials", &hex[1..]), None),
            ("package.json".into(), None),
            ("Cargo.lock".into(), None),
            ("notes.tmp".into(), None),
            (format!("{}.json", hex.to_uppercase()), None),
            (format!("{}.json", &hex[1..]), None),
            (format!("{hex}0.json"), None),
            (format!("{hex}.json.bak"), None),
            (format!(".{hex}.json"), None),
            (format!("{hex}.tmp"), None),
            (format!(".{hex}.1.tmp"), None),
            (format!(".{hex}.x.1.tmp"), None),
            (format!(".{hex}.1.2.3.tmp"), None),
            (format!(".{hex}.1.-2.tmp"), None),
        ];
        for (name, kind) in cases {
            assert_eq!(our_name(&name).map(|(k, _)| k), kind, "{name}");
            if kind.is_some() {
                assert_eq!(our_name(&name).unwrap().1, hex);
            }
        }
    }

    /// Every name in `dir` with its bytes (a directory or link as a marker).
    fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name(),
                    fs::read(e.path()).unwrap_or_else(|_| b"(not a file)".to_vec()),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_directory_holding_anything_not_ours_is_refused_and_left_alone() {
        let hex = "ab".repeat(32);
        let write = |dir: &Path, name: &str, bytes: &[u8], mode: u32| {
            let path = dir.join(name);
            fs::write(&path, bytes).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            // Old enough for prune to take it if it were ours.
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(SystemTime::now() - 2 * store::STALE)
                .unwrap();
        };
        let envelope = format!(r#"{{"format":1,"key":"{hex}"}}"#);
        let foreign: [(&str, String, &[u8], u32); 10] = [
            (
                "another program's json",
                "package.json".into(),
                br#"{"name": "app"}"#,
                0o600,
            ),
            (
                "another program's temporary file",
                "notes.tmp".into(),
                b"draft",
                0o600,
            ),
            ("another program's lock", "Cargo.lock".into(), b"", 0o600),
            (
                "a lock name holding data",
                format!("{hex}.lock"),
                b"version = 3",
                0o600,
            ),
            (
                "a lock name with another mode",
                format!("{hex}.lock"),
                b"",
                0o400,
            ),
            (
                "an entry name with other content",
                format!("{hex}.json"),
                br#"{"name": "app"}"#,
                0o600,
            ),
            (
                "a credentials name with other content",
                format!("{hex}.credentials"),
                br#"{"name": "app"}"#,
                0o600,
            ),
            (
                "an entry name with a key that is none",
                format!("{hex}.json"),
                br#"{"format":1,"key":"k"}"#,
                0o600,
            ),
            (
                "an entry name not quite ours",
                format!("{}.json", hex.to_uppercase()),
                envelope.as_bytes(),
                0o600,
            ),
            (
                "a temporary name not quite ours",
                format!(".{hex}.x.1.tmp"),
                b"",
                0o600,
            ),
        ];
        for (what, name, bytes, mode) in foreign {
            let (_root, cache) = cache();
            store_fresh(&cache);
            write(cache.dir(), &name, bytes, mode);
            let before = snapshot(cache.dir());
            let refused = |r: Result<_, CacheError>| match r {
                Err(CacheError::Foreign { names, .. }) => {
                    names == [std::ffi::OsString::from(&name)]
                }
                _ => false,
            };
            assert!(refused(Cache::create(cache.dir()).map(|_| ())), "{what}");
            assert!(refused(cache.list().map(|_| ())), "{what}");
            assert!(refused(cache.clear(None).map(|_| ())), "{what}");
            assert!(refused(cache.clear(Some("c")).map(|_| ())), "{what}");
            cache.prune(t0() + TimeDelta::days(1));
            assert_eq!(snapshot(cache.dir()), before, "{what}: changed");
            // The hit path does not look at other files.
            assert!(cache.lookup(&key("c"), t0()).unwrap().is_some(), "{what}");
        }

        // A directory is not ours either; a symlink in our name is refused as one.
        {
            let (root, cache) = cache();
            fs::create_dir(cache.dir().join("sub")).unwrap();
            assert!(
                matches!(cache.list(), Err(CacheError::Foreign { names, .. }) if names == ["sub"])
            );
            fs::remove_dir(cache.dir().join("sub")).unwrap();
            let link = cache.dir().join(format!("{hex}.json"));
            std::os::unix::fs::symlink(root.path(), &link).unwrap();
            assert!(
                matches!(cache.list(), Err(CacheError::Store(StoreError::Symlink(p))) if p == link)
            );
            assert!(matches!(
                Cache::create(cache.dir()),
                Err(CacheError::Store(StoreError::Symlink(_)))
            ));
        }

        // Ours, all of them: entries of this and a future format, an empty 0600 lock file
        // and a writer's temporary file. Prune takes the stale ones.
        let (_root, cache) = cache();
        store_fresh(&cache);
        write(
            cache.dir(),
            &format!("{hex}.json"),
            format!(r#"{{"format":2,"key":"{hex}","new":true}}"#).as_bytes(),
            0o600,
        );
        let lock = format!("{}.lock", "cd".repeat(32));
        write(cache.dir(), &lock, b"", 0o600);
        let temp = format!(".{hex}.1.2.tmp");
        write(cache.dir(), &temp, b"partial", 0o600);
        Cache::create(cache.dir()).unwrap();
        assert_eq!(cache.list().unwrap().len(), 1);
        cache.prune(t0());
        assert!(!cache.dir().join(&lock).exists() && !cache.dir().join(&temp).exists());
        assert!(
            cache.dir().join(format!("{hex}.json")).exists(),
            "a future-format entry is not pruned"
        );
        assert_eq!(
            cache.clear(None).unwrap().tokens,
            2,
            "clear takes every entry of ours"
        );
        assert!(snapshot(cache.dir()).is_empty());
    }

    #[test]
    fn a_refusal_names_a_few_files_and_counts_the_rest() {
        let (_root, cache) = cache();
        for name in ["e", "d", "c", "b", "a\nb"] {
            fs::write(cache.dir().join(name), "").unwrap();
        }
        fs::write(cache.dir().join("new\nline"), "").unwrap();
        let message = cache.list().unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{} holds files that are not eks-token's: a\\nb, b, c, d, e … and 1 more",
                cache.dir().display()
            )
        );
        assert_eq!(
            cache.list().unwrap_err().hint().as_deref(),
            Some("point --cache-dir at a directory of its own")
        );
    }

    #[test]
    fn a_damaged_entry_of_ours_is_named_with_how_to_remove_it() {
        let (_root, cache) = cache();
        let name = format!("{}.json", "a".repeat(64));
        let path = cache.dir().join(&name);
        fs::write(&path, "{\"format\": 1, \"key\": \"trunc").unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let err = cache.list().unwrap_err();
        assert!(err.to_string().ends_with(&name), "{err}");
        assert_eq!(
            err.hint().unwrap(),
            format!(
                "these are named like eks-token's files but do not hold its format (damaged by a crash?): remove them from {}, or point --cache-dir at a directory of its own",
                cache.dir().display()
            )
        );
    }

    #[test]
    fn every_operation_stays_in_the_directory_it_opened() {
        let (root, cache) = cache();
        store_fresh(&cache);
        // The directory is moved away and a symlink to another private directory takes
        // its place, as an attacker racing the run would.
        let moved = root.path().join("moved");
        let elsewhere = root.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
        fs::rename(cache.dir(), &moved).unwrap();
        std::os::unix::fs::symlink(&elsewhere, cache.dir()).unwrap();

        assert!(cache.lookup(&key("c"), t0()).unwrap().is_some());
        let mut d = description();
        d.cluster = "d".into();
        cache
            .store(&key("d"), &token(t0() + TimeDelta::minutes(14)), &d)
            .unwrap();
        let lock = cache.lock(&key("d"), Duration::ZERO).unwrap().unwrap();
        assert_eq!(cache.list().unwrap().len(), 2);
        assert_eq!(cache.clear(Some("c")).unwrap().tokens, 1);
        cache.prune(t0() + TimeDelta::days(1));
        drop(lock);

        assert!(
            snapshot(&elsewhere).is_empty(),
            "{:?}",
            snapshot(&elsewhere)
        );
        let names: Vec<_> = snapshot(&moved)
            .into_iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                format!("{}.json", key("d").as_str()),
                format!("{}.lock", key("d").as_str())
            ]
        );
        assert!(matches!(
            Cache::existing(cache.dir()),
            Err(CacheError::Store(StoreError::Symlink(_)))
        ));
    }

    #[test]
    fn an_entry_answers_only_the_request_it_names() {
        let (_root, cache) = cache();
        store_fresh(&cache);
        let path = entry_path(&cache, &key("c"));
        let good: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let served = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut entry = good.clone();
            change(&mut entry);
            fs::write(&path, serde_json::to_vec(&entry).unwrap()).unwrap();
            cache.lookup(&key("c"), t0()).unwrap().is_some()
        };
        let eu = presigned("sts.eu-west-1.amazonaws.com", "eu-west-1", "5e");
        assert!(served(&|_| {}));
        assert!(!served(&|e| e["cluster"] = "d".into()), "another cluster");
        assert!(
            !served(&|e| {
                e["region"] = "eu-west-1".into();
                e["sts_host"] = "sts.eu-west-1.amazonaws.com".into();
                e["token"] = eu.clone().into();
            }),
            "another region than the request names"
        );
        assert!(
            !served(&|e| e["sts_host"] = "sts-fips.us-west-2.amazonaws.com".into()),
            "a host the token does not name"
        );
        assert!(
            !served(&|e| e["token"] = eu.clone().into()),
            "a token for another region"
        );
        let elsewhere = presigned("sts.example.com", "us-west-2", "5e");
        assert!(
            !served(&|e| {
                e["sts_host"] = "sts.example.com".into();
                e["token"] = elsewhere.clone().into();
            }),
            "not an STS host"
        );
        assert!(
            !served(&|e| e["token"] = "k8s-aws-v1.aGVsbG8".into()),
            "not a presigned URL"
        );
        let fips = presigned("sts-fips.us-west-2.amazonaws.com", "us-west-2", "5e");
        assert!(
            served(&|e| {
                e["sts_host"] = "sts-fips.us-west-2.amazonaws.com".into();
                e["token"] = fips.clone().into();
            }),
            "FIPS may come from the profile, which the hit path does not read"
        );
    }

    #[test]
    fn list_clear_and_prune() {
        let (_root, cache) = cache();
        let mut d = description();
        for (cluster, minutes) in [("a", 14), ("b", 14), ("old", -1)] {
            d.cluster = cluster.into();
            cache
                .store(
                    &key(cluster),
                    &token(t0() + TimeDelta::minutes(minutes)),
                    &d,
                )
                .unwrap();
        }
        let clusters = |c: &Cache| {
            c.list()
                .unwrap()
                .into_iter()
                .map(|l| l.description.cluster)
                .collect::<Vec<_>>()
        };
        assert_eq!(clusters(&cache), ["a", "b", "old"]);
        let stale = cache.dir().join(format!(".{}.1.2.tmp", key("a").as_str()));
        fs::write(&stale, "partial").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * store::STALE)
            .unwrap();
        cache.prune(t0());
        assert_eq!(clusters(&cache), ["a", "b"]);
        assert!(!stale.exists());
        assert_eq!(cache.clear(Some("b")).unwrap().tokens, 1);
        assert_eq!(clusters(&cache), ["a"]);
        assert_eq!(cache.clear(None).unwrap().tokens, 1);
        assert!(clusters(&cache).is_empty());
    }

    fn credentials_key(profile: &str) -> CredentialKey {
        CredentialKey::of(&KeyInputs {
            profile: Some(profile.into()),
            ..KeyInputs::default()
        })
    }

    fn credentials(key: &CredentialKey, expires_at: DateTime<Utc>) -> CredentialsEntry {
        let description = CredentialsDescription {
            source: "profile dev".into(),
            role: Some("arn:aws:iam::1:role/r".into()),
        };
        let keys = Credentials::new(
            "ASIAEXAMPLE",
            "secret/key",
            Some("session".into()),
            None,
            "test",
        );
        CredentialsEntry::new(
            key,
            &description,
            &keys,
            expires_at,
            &Source::Profile("dev".into()),
            None,
        )
    }

    #[test]
    fn credential_entries_live_beside_tokens_and_never_pass_for_them() {
        let (_root, cache) = cache();
        store_fresh(&cache);
        let fresh = credentials_key("fresh");
        let old = credentials_key("old");
        cache
            .store_credentials(&credentials(&fresh, t0() + TimeDelta::minutes(12)))
            .unwrap();
        cache
            .store_credentials(&credentials(&old, t0() - TimeDelta::minutes(1)))
            .unwrap();
        let file = cache.dir().join(credentials_name(fresh.as_str()));
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let read = cache.lookup_credentials(&fresh).unwrap().unwrap();
        assert_eq!(read.secret_access_key, "secret/key");
        assert_eq!(read.expires_at, t0() + TimeDelta::minutes(12));
        assert!(
            cache
                .lookup_credentials(&credentials_key("none"))
                .unwrap()
                .is_none()
        );

        // A token entry copied under a credential name, and the reverse, are misses.
        let token_bytes = fs::read(entry_path(&cache, &key("c"))).unwrap();
        let credential_bytes = fs::read(&file).unwrap();
        fs::write(&file, &token_bytes).unwrap();
        assert!(cache.lookup_credentials(&fresh).unwrap().is_none());
        assert!(CredentialsEntry::parse(&token_bytes).is_none());
        assert!(Entry::parse(&credential_bytes).is_none());
        fs::write(&file, &credential_bytes).unwrap();

        // Listed as source, role and expiry only; tokens list only tokens.
        assert_eq!(cache.list().unwrap().len(), 1);
        let listed = cache.list_credentials().unwrap();
        assert_eq!(listed.len(), 2);
        let shown = serde_json::to_string(&listed).unwrap();
        assert!(
            !shown.contains("secret/key") && !shown.contains("session") && !shown.contains("ASIA"),
            "{shown}"
        );

        // Prune keeps credentials that can still serve (12 minutes left is past the
        // advisory window, yet a failed refresh falls back to them).
        cache.prune(t0());
        assert!(cache.lookup_credentials(&fresh).unwrap().is_some());
        assert!(cache.lookup_credentials(&old).unwrap().is_none());

        // Clearing one cluster leaves credentials; clearing all counts both kinds.
        assert_eq!(
            cache.clear(Some("c")).unwrap(),
            Cleared {
                tokens: 1,
                credentials: 0
            }
        );
        store_fresh(&cache);
        assert_eq!(
            cache.clear(None).unwrap(),
            Cleared {
                tokens: 1,
                credentials: 1
            }
        );
        assert!(snapshot(cache.dir()).is_empty());
    }

    #[test]
    fn prune_removes_credentials_an_older_version_wrote_and_keeps_a_newer_ones() {
        let (_root, cache) = cache();
        let fresh = t0() + TimeDelta::hours(1);
        let of_format = |profile: &str, format: u32| {
            let key = credentials_key(profile);
            let mut entry: serde_json::Value =
                serde_json::from_slice(&credentials(&key, fresh).to_bytes()).unwrap();
            entry["format"] = format.into();
            let path = cache.dir().join(credentials_name(key.as_str()));
            fs::write(&path, entry.to_string()).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            path
        };
        let older = of_format("older", credentials::FORMAT - 1);
        let current = of_format("current", credentials::FORMAT);
        let newer = of_format("newer", credentials::FORMAT + 1);
        cache.prune(t0());
        assert!(!older.exists(), "an older format is never read again");
        assert!(current.exists() && newer.exists());
    }

    #[test]
    fn clear_and_prune_never_take_a_held_lock_away() {
        let (_root, cache) = cache();
        let wait = Duration::from_millis(100);
        store_fresh(&cache);
        let held = cache.lock(&key("c"), wait).unwrap().unwrap();
        assert_eq!(
            cache.clear(None).unwrap().tokens,
            0,
            "a key being minted is left alone"
        );
        cache.prune(t0() + TimeDelta::days(1));
        assert!(
            cache.lock(&key("c"), wait).unwrap().is_none(),
            "still exclusive"
        );
        drop(held);
        assert_eq!(cache.clear(None).unwrap().tokens, 1);
        let lock_file = cache.dir().join(format!("{}.lock", key("c").as_str()));
        assert!(
            !lock_file.exists(),
            "clear removes the lock file with the entry"
        );

        // A run that locked a file which was then removed starts over on the new one.
        let stale = cache.lock(&key("c"), wait).unwrap().unwrap();
        fs::remove_file(&lock_file).unwrap();
        let fresh = cache.lock(&key("c"), wait).unwrap().unwrap();
        assert!(cache.lock(&key("c"), wait).unwrap().is_none());
        drop((stale, fresh));

        // Orphaned lock files older than a minute are pruned.
        File::options()
            .write(true)
            .open(&lock_file)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * store::STALE)
            .unwrap();
        cache.prune(t0());
        assert!(!lock_file.exists());
    }
}

#[cfg(test)]
mod properties {
    use super::tests_support::*;
    use super::*;
    use crate::token::Token;
    use chrono::TimeDelta;
    use proptest::prelude::*;
    use std::fs;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct("tests/proptest-regressions/cache.txt"),
            )),
            ..ProptestConfig::default()
        })]

        /// Whatever bytes sit in an entry file, reading it is a miss or a hit, never a panic.
        #[test]
        fn any_entry_file_is_a_hit_or_a_miss(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let (_root, cache) = cache();
            let path = entry_path(&cache, &key("c"));
            fs::write(&path, &bytes).unwrap();
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            let hit = cache.lookup(&key("c"), t0()).unwrap();
            let json_object = bytes.first() == Some(&b'{');
            prop_assert!(hit.is_none() || json_object);
        }

        /// Any valid token and expiry round-trips through a stored entry unchanged.
        #[test]
        fn stored_tokens_round_trip(signature in "[A-Za-z0-9_-]{1,2700}", minutes in 5i64..=60) {
            let (_root, cache) = cache();
            let expires = t0() + TimeDelta::minutes(minutes);
            let bearer = presigned("sts.us-west-2.amazonaws.com", "us-west-2", &signature);
            let token = Token { bearer: SecretString::from(bearer), expires_at: expires };
            cache.store(&key("c"), &token, &description()).unwrap();
            let hit = cache.lookup(&key("c"), t0()).unwrap().expect("a fresh entry is a hit");
            prop_assert_eq!(hit.token.expose(), token.expose());
            prop_assert_eq!(hit.token.expires_at, expires);
        }
    }
}

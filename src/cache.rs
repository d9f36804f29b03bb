//! The on-disk token cache: one private file per key, so the next kubectl, helm or k9s
//! process gets its token without touching AWS (client-go keeps credentials only in
//! memory, per process: REFERENCE §2).
//!
//! Layout, like kubelogin's: `<dir>/<sha256 of the key>.json` holds one entry and
//! `<dir>/<same>.lock` is locked while a token for that key is minted, so a burst of cold
//! starts makes one AWS call. Entries are written to a temporary file and renamed into
//! place, so a reader never sees half a file.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::credentials::{self, Options};
use crate::token::{self, ClusterId, Token};

/// Bumped when the entry format changes; other formats are ignored and replaced.
const FORMAT: u32 = 1;

/// A cached token is served while at least this much of its lifetime remains, so
/// kubectl never starts a request with a token about to lapse.
pub const MIN_REMAINING: TimeDelta = TimeDelta::minutes(5);

/// Entries are a few kilobytes (the token is at most 4096 bytes); anything bigger is not one.
const MAX_ENTRY_BYTES: u64 = 16 * 1024;

/// How often a run waiting for another run's lock looks again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Temporary files older than this were left by a killed writer.
const STALE_TEMP: Duration = Duration::from_secs(60);

/// Environment variables that choose the credentials, region, endpoints or STS host.
/// Any change in one of them gives a different key.
const KEY_ENV: &[&str] = &[
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_EXPIRATION",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    // Hashed, never stored: which aws-vault --ecs-server session a loopback port serves.
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_EC2_METADATA_DISABLED",
];

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
    Some(credentials::home_dir()?.join(".kube/cache/eks-token"))
}

/// What a cached token is bound to, hashed: the cluster, every flag and environment
/// variable that picks credentials, region or endpoint, and the AWS config files in play
/// (path, size and modification time, so an edited profile invalidates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    hash: String,
}

impl CacheKey {
    /// The key for a token request, from flags, environment and file metadata only.
    pub fn new(cluster: &ClusterId, options: &Options) -> Self {
        let mut key = KeyHasher(Sha256::new());
        key.field(Some(&FORMAT.to_le_bytes()));
        key.text(Some(cluster.as_str()));
        key.text(options.profile.as_deref());
        key.text(options.region.as_deref());
        let role = options.role.as_ref();
        key.text(role.map(|r| r.arn.as_str()));
        key.text(role.and_then(|r| r.session_name.as_deref()));
        key.text(role.and_then(|r| r.external_id.as_deref()));
        key.text(role.map(|r| {
            if r.forward_session_name {
                "forward"
            } else {
                ""
            }
        }));
        for name in KEY_ENV {
            // Empty means unset, as for the AWS SDKs; non-UTF-8 values are hashed as bytes.
            let value = std::env::var_os(name).filter(|v| !v.is_empty());
            key.field(value.as_deref().map(OsStr::as_encoded_bytes));
        }
        let home = credentials::home_dir();
        for path in credentials::config_file_paths(home.as_deref()) {
            key.field(Some(path.as_os_str().as_encoded_bytes()));
            let stamp = fs::metadata(&path).ok().map(|m| {
                let modified = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                [m.len().to_le_bytes().as_slice(), &modified.to_le_bytes()].concat()
            });
            key.field(stamp.as_deref());
        }
        Self {
            hash: hex(&key.0.finalize()),
        }
    }

    /// The key's file-name stem.
    pub fn as_str(&self) -> &str {
        &self.hash
    }
}

/// Feeds fields to SHA-256 unambiguously: a presence byte, then length-prefixed bytes.
struct KeyHasher(Sha256);

impl KeyHasher {
    fn field(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.0.update([0]),
            Some(bytes) => {
                self.0.update([1]);
                self.0.update((bytes.len() as u64).to_le_bytes());
                self.0.update(bytes);
            }
        }
    }

    fn text(&mut self, value: Option<&str>) {
        self.field(value.map(str::as_bytes));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `cache list` shows of an entry: never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    pub cluster: String,
    pub region: String,
    pub sts_host: String,
    pub profile: Option<String>,
    pub role: Option<String>,
}

/// One cache file.
#[derive(Serialize, Deserialize)]
struct Entry {
    format: u32,
    key: String,
    #[serde(flatten)]
    description: Description,
    expires_at: DateTime<Utc>,
    token: String,
}

/// A token read back from the cache.
#[derive(Debug)]
pub struct Hit {
    pub token: Token,
    pub description: Description,
}

/// A listed entry.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub description: Description,
    pub expires_at: DateTime<Utc>,
}

/// Why the cache could not be used; the token is still printed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory or a file in it could be read or changed by someone else.
    #[error("{} is accessible to other users (mode {mode:04o})", path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
    /// A symlink where the cache expects a directory or file.
    #[error("{} is a symbolic link", .0.display())]
    Symlink(PathBuf),
    /// Owned by another user.
    #[error("{} is owned by another user", .0.display())]
    ForeignOwner(PathBuf),
    /// Something other than a directory or regular file.
    #[error("{} is not a regular file or directory", .0.display())]
    NotRegular(PathBuf),
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl CacheError {
    /// The command that makes the cache usable again.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotPrivate { path, .. } => Some(format!("chmod go-rwx {}", path.display())),
            Self::Symlink(path) | Self::ForeignOwner(path) | Self::NotRegular(path) => Some(
                format!("remove {} or choose another --cache-dir", path.display()),
            ),
            Self::Io { .. } => Some("check the directory, or pass --no-cache".into()),
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A cache directory that has been checked to be private to this user.
pub struct Cache {
    dir: PathBuf,
}

/// Refuses anything another user could read or replace.
fn check_private(path: &Path, meta: &fs::Metadata, want_dir: bool) -> Result<(), CacheError> {
    if meta.file_type().is_symlink() {
        return Err(CacheError::Symlink(path.to_owned()));
    }
    if (want_dir && !meta.is_dir()) || (!want_dir && !meta.is_file()) {
        return Err(CacheError::NotRegular(path.to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return Err(CacheError::ForeignOwner(path.to_owned()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(CacheError::NotPrivate {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

/// Opens an existing file for reading without following symlinks or blocking on a FIFO.
fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    options.open(path)
}

impl Cache {
    /// Uses `dir` as it is, without creating it: the read side of the fast path.
    pub fn existing(dir: &Path) -> Result<Option<Self>, CacheError> {
        match fs::symlink_metadata(dir) {
            Ok(meta) => {
                check_private(dir, &meta, true)?;
                Ok(Some(Self {
                    dir: dir.to_owned(),
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(dir)(e)),
        }
    }

    /// Uses `dir`, creating it private (0700) when missing.
    pub fn create(dir: &Path) -> Result<Self, CacheError> {
        if let Some(cache) = Self::existing(dir)? {
            return Ok(cache);
        }
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        match builder.create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(dir)(e)),
        }
        Self::existing(dir)?.ok_or_else(|| io_error(dir)(io::ErrorKind::NotFound.into()))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.as_str()))
    }

    /// The token for `key` if it has at least [`MIN_REMAINING`] left at `now`.
    /// A missing, corrupt, foreign-format or expired entry is a miss; an entry another
    /// user could have written is an error.
    pub fn lookup(&self, key: &CacheKey, now: DateTime<Utc>) -> Result<Option<Hit>, CacheError> {
        let Some(entry) = self.read(&self.entry_path(key))? else {
            return Ok(None);
        };
        if entry.key != key.as_str() || entry.expires_at - now < MIN_REMAINING {
            return Ok(None);
        }
        Ok(Some(Hit {
            token: Token {
                bearer: SecretString::from(entry.token),
                expires_at: entry.expires_at,
            },
            description: entry.description,
        }))
    }

    /// Reads one entry: `Ok(None)` for anything that is not a valid entry of our format.
    fn read(&self, path: &Path) -> Result<Option<Entry>, CacheError> {
        let file = match open_nofollow(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(CacheError::Symlink(path.to_owned()));
            }
            Err(e) => return Err(io_error(path)(e)),
        };
        // Checked on the open file, so the file cannot be swapped between check and read.
        let meta = file.metadata().map_err(io_error(path))?;
        check_private(path, &meta, false)?;
        if meta.len() > MAX_ENTRY_BYTES {
            return Ok(None);
        }
        let mut text = String::new();
        if file
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_string(&mut text)
            .is_err()
        {
            return Ok(None);
        }
        Ok(parse_entry(&text))
    }

    /// Stores `token` for `key`: written to a private temporary file, then renamed.
    pub fn store(
        &self,
        key: &CacheKey,
        token: &Token,
        description: &Description,
    ) -> Result<(), CacheError> {
        let entry = Entry {
            format: FORMAT,
            key: key.as_str().to_owned(),
            description: description.clone(),
            expires_at: token.expires_at,
            token: token.expose().to_owned(),
        };
        let body = serde_json::to_vec(&entry).expect("entry serialises");
        let target = self.entry_path(key);
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            key.as_str(),
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        let written = options
            .open(&temp)
            .and_then(|mut f| f.write_all(&body))
            .and_then(|()| fs::rename(&temp, &target));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error(&target)(e));
        }
        Ok(())
    }

    /// Waits up to `wait` for the per-key lock (`wait` is the run's deadline: the holder
    /// gives up by then). `Ok(None)` when another run held it too long: the caller then
    /// mints without the cache rather than hang.
    pub fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<File>, CacheError> {
        self.acquire(key.as_str(), wait)
    }

    /// Locks `<stem>.lock`. Removing a lock file (`clear`, `prune`) is done while holding
    /// it, so a run that locked the removed file sees it is no longer the one at that path
    /// and starts over: two runs never both believe they hold a key.
    fn acquire(&self, stem: &str, wait: Duration) -> Result<Option<File>, CacheError> {
        let path = self.dir.join(format!("{stem}.lock"));
        let start = Instant::now();
        loop {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
            }
            let file = options.open(&path).map_err(io_error(&path))?;
            let meta = file.metadata().map_err(io_error(&path))?;
            check_private(&path, &meta, false)?;
            match file.try_lock() {
                Ok(()) if same_file(&meta, fs::symlink_metadata(&path).ok().as_ref()) => {
                    return Ok(Some(file));
                }
                // Locked a file that was removed meanwhile: try the one at the path now.
                Ok(()) => continue,
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => return Err(io_error(&path)(e)),
            }
        }
    }

    /// Removes `<stem>.json` and its lock file while holding its lock; `false` when
    /// another run holds it (it is minting: its entry is about to be replaced anyway).
    fn remove_entry(&self, stem: &str) -> Result<bool, CacheError> {
        let Some(lock) = self.acquire(stem, Duration::ZERO)? else {
            return Ok(false);
        };
        let entry = self.dir.join(format!("{stem}.json"));
        match fs::remove_file(&entry) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(&entry)(e)),
            _ => {}
        }
        let lock_path = self.dir.join(format!("{stem}.lock"));
        fs::remove_file(&lock_path).map_err(io_error(&lock_path))?;
        drop(lock);
        Ok(true)
    }

    /// Every readable entry, expired ones included, sorted by cluster.
    pub fn list(&self) -> Result<Vec<Listed>, CacheError> {
        let mut listed: Vec<Listed> = self
            .entry_files()?
            .filter_map(|path| self.read(&path).ok().flatten())
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

    /// Removes the entries for `cluster` (all when `None`), returning how many.
    pub fn clear(&self, cluster: Option<&str>) -> Result<usize, CacheError> {
        let mut removed = 0;
        for path in self.entry_files()? {
            let matches = cluster.is_none_or(
                |c| matches!(self.read(&path), Ok(Some(e)) if e.description.cluster == c),
            );
            if matches && self.remove_entry(&stem(&path))? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes expired entries, their lock files, lock files left without an entry, and
    /// temporary files left by killed writers. Best effort: runs on the slow path only,
    /// skips keys another run holds, and never fails the run.
    pub fn prune(&self, now: DateTime<Utc>) {
        let Ok(dir) = fs::read_dir(&self.dir) else {
            return;
        };
        for item in dir.flatten() {
            let path = item.path();
            let old = || {
                item.metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMP)
            };
            let expired = || matches!(self.read(&path), Ok(Some(e)) if e.expires_at <= now);
            let orphan = || !path.with_extension("json").exists() && old();
            let remove = match path.extension().and_then(|x| x.to_str()) {
                Some("tmp") if old() => {
                    let _ = fs::remove_file(&path);
                    false
                }
                Some("json") => expired(),
                Some("lock") => orphan(),
                _ => false,
            };
            if remove {
                let _ = self.remove_entry(&stem(&path));
            }
        }
    }

    fn entry_files(&self) -> Result<impl Iterator<Item = PathBuf>, CacheError> {
        let dir = fs::read_dir(&self.dir).map_err(io_error(&self.dir))?;
        Ok(dir
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json")))
    }
}

/// The key part of an entry's or lock file's name.
fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `now` (the path's current metadata) is the same file as `locked`.
fn same_file(locked: &fs::Metadata, now: Option<&fs::Metadata>) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        now.is_some_and(|n| n.dev() == locked.dev() && n.ino() == locked.ino())
    }
    #[cfg(not(unix))]
    {
        now.is_some()
    }
}

/// A valid entry of the current format, or `None`.
fn parse_entry(text: &str) -> Option<Entry> {
    let entry: Entry = serde_json::from_str(text).ok()?;
    let valid = entry.format == FORMAT
        && entry.token.starts_with(token::PREFIX)
        && entry.token.len() <= token::MAX_LEN
        && entry.token.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(entry)
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn key(cluster: &str) -> CacheKey {
        CacheKey::new(&ClusterId::new(cluster).unwrap(), &Options::default())
    }

    pub fn token(expires_at: DateTime<Utc>) -> Token {
        Token {
            bearer: SecretString::from("k8s-aws-v1.aGVsbG8".to_owned()),
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
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_private_and_entries_are_0600() {
        let (_root, cache) = cache();
        let mode = fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        cache
            .store(&key("c"), &token(t0()), &description())
            .unwrap();
        let entry = cache.entry_path(&key("c"));
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
        assert_eq!(hit.token.expose(), "k8s-aws-v1.aGVsbG8");
        assert_eq!(hit.token.expires_at, expires);
        assert_eq!(hit.description, description());
        assert!(cache.lookup(&key("c"), at(5 * 60)).unwrap().is_some());
        assert!(cache.lookup(&key("c"), at(4 * 60 + 59)).unwrap().is_none());
        assert!(cache.lookup(&key("other"), at(10 * 60)).unwrap().is_none());
    }

    #[test]
    fn corrupt_truncated_oversized_and_future_entries_are_misses() {
        let (_root, cache) = cache();
        store_fresh(&cache);
        let path = cache.entry_path(&key("c"));
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
    fn foreign_modes_symlinks_and_fifos_are_refused() {
        let (root, cache) = cache();
        store_fresh(&cache);
        let path = cache.entry_path(&key("c"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            cache.lookup(&key("c"), t0()),
            Err(CacheError::NotPrivate { .. })
        ));
        fs::remove_file(&path).unwrap();

        let elsewhere = root.path().join("planted.json");
        fs::write(&elsewhere, "{}").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(matches!(
            cache.lookup(&key("c"), t0()),
            Err(CacheError::Symlink(_))
        ));
        fs::remove_file(&path).unwrap();

        let fifo = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            cache.lookup(&key("c"), t0()),
            Err(CacheError::NotRegular(_))
        ));
        fs::remove_file(&path).unwrap();

        // Another user's directory: as root, make one; otherwise "/" is one.
        // SAFETY: geteuid has no preconditions.
        let foreign = if unsafe { libc::geteuid() } == 0 {
            let theirs = root.path().join("theirs");
            fs::create_dir(&theirs).unwrap();
            fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            theirs
        } else {
            PathBuf::from("/")
        };
        assert!(matches!(
            Cache::existing(&foreign),
            Err(CacheError::ForeignOwner(_))
        ));

        fs::set_permissions(cache.dir(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            Cache::existing(cache.dir()),
            Err(CacheError::NotPrivate { .. })
        ));
        let link = root.path().join("link");
        std::os::unix::fs::symlink(cache.dir(), &link).unwrap();
        assert!(matches!(
            Cache::existing(&link),
            Err(CacheError::Symlink(_))
        ));
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
        let stale = cache.dir().join(".x.1.2.tmp");
        fs::write(&stale, "partial").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - 2 * STALE_TEMP)
            .unwrap();
        cache.prune(t0());
        assert_eq!(clusters(&cache), ["a", "b"]);
        assert!(!stale.exists());
        assert_eq!(cache.clear(Some("b")).unwrap(), 1);
        assert_eq!(clusters(&cache), ["a"]);
        assert_eq!(cache.clear(None).unwrap(), 1);
        assert!(clusters(&cache).is_empty());
    }

    #[test]
    fn the_lock_is_exclusive_and_bounded() {
        let (_root, cache) = cache();
        let wait = Duration::from_millis(300);
        let held = cache.lock(&key("c"), wait).unwrap().unwrap();
        let start = Instant::now();
        assert!(cache.lock(&key("c"), wait).unwrap().is_none());
        assert!(start.elapsed() >= wait);
        assert!(cache.lock(&key("other"), wait).unwrap().is_some());
        drop(held);
        assert!(cache.lock(&key("c"), wait).unwrap().is_some());
    }

    #[test]
    fn clear_and_prune_never_take_a_held_lock_away() {
        let (_root, cache) = cache();
        let wait = Duration::from_millis(100);
        store_fresh(&cache);
        let held = cache.lock(&key("c"), wait).unwrap().unwrap();
        assert_eq!(
            cache.clear(None).unwrap(),
            0,
            "a key being minted is left alone"
        );
        cache.prune(t0() + TimeDelta::days(1));
        assert!(
            cache.lock(&key("c"), wait).unwrap().is_none(),
            "still exclusive"
        );
        drop(held);
        assert_eq!(cache.clear(None).unwrap(), 1);
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
            .set_modified(SystemTime::now() - 2 * STALE_TEMP)
            .unwrap();
        cache.prune(t0());
        assert!(!lock_file.exists());
    }

    #[test]
    fn key_changes_with_every_component() {
        use crate::credentials::RoleOptions;
        let cluster = ClusterId::new("c").unwrap();
        let base = Options::default();
        let role = RoleOptions {
            arn: "arn:aws:iam::1:role/r".into(),
            ..Default::default()
        };
        let variants = [
            base.clone(),
            Options {
                profile: Some("p".into()),
                ..base.clone()
            },
            Options {
                region: Some("eu-west-1".into()),
                ..base.clone()
            },
            Options {
                role: Some(role.clone()),
                ..base.clone()
            },
            Options {
                role: Some(RoleOptions {
                    session_name: Some("s".into()),
                    ..role.clone()
                }),
                ..base.clone()
            },
            Options {
                role: Some(RoleOptions {
                    external_id: Some("e".into()),
                    ..role.clone()
                }),
                ..base.clone()
            },
            Options {
                role: Some(RoleOptions {
                    forward_session_name: true,
                    ..role.clone()
                }),
                ..base.clone()
            },
        ];
        let mut keys: Vec<String> = variants
            .iter()
            .map(|o| CacheKey::new(&cluster, o).hash)
            .collect();
        keys.push(CacheKey::new(&ClusterId::new("d").unwrap(), &base).hash);
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(
            CacheKey::new(&cluster, &base),
            CacheKey::new(&cluster, &base)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::tests_support::*;
    use super::*;
    use proptest::prelude::*;

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
            let path = cache.entry_path(&key("c"));
            fs::write(&path, &bytes).unwrap();
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            let hit = cache.lookup(&key("c"), t0()).unwrap();
            let json_object = bytes.first() == Some(&b'{');
            prop_assert!(hit.is_none() || json_object);
        }

        /// Any valid token and expiry round-trips through a stored entry unchanged.
        #[test]
        fn stored_tokens_round_trip(payload in "[A-Za-z0-9_-]{1,3000}", minutes in 5i64..=60) {
            let (_root, cache) = cache();
            let expires = t0() + TimeDelta::minutes(minutes);
            let token = Token { bearer: SecretString::from(format!("k8s-aws-v1.{payload}")), expires_at: expires };
            cache.store(&key("c"), &token, &description()).unwrap();
            let hit = cache.lookup(&key("c"), t0()).unwrap().expect("a fresh entry is a hit");
            prop_assert_eq!(hit.token.expose(), token.expose());
            prop_assert_eq!(hit.token.expires_at, expires);
        }
    }
}

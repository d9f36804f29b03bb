//! The on-disk token cache: one private file per key, so the next kubectl, helm or k9s
//! process gets its token without touching AWS (client-go keeps credentials only in
//! memory, per process: client-go `plugin/pkg/client/auth/exec/exec.go`).
//!
//! Layout, like kubelogin's: `<dir>/<sha256 of the key>.json` holds one entry and
//! `<dir>/<same>.lock` is locked while a token for that key is minted, so a burst of cold
//! starts makes one AWS call. Entries are written to a temporary file and renamed into
//! place, so a reader never sees half a file.
//!
//! The directory is the cache's alone: before anything is written or removed, every file
//! in it must be provably ours (our name pattern, and an entry's content or a lock file's
//! shape), else the directory is refused and nothing in it is touched. Every file
//! operation goes through one handle on the directory ([`dir`]), never through its path.

mod dir;

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws_files::{config_file_paths, home_dir};
use crate::credentials::{self, Options};
use crate::message::a_few;
use crate::sts_endpoint::{Region, StsEndpoint, Variant};
use crate::token::{self, ClusterId, Token};
use dir::{Access, Dir};

/// Bumped when the entry format changes; other formats are ignored and replaced. Every
/// format keeps `format` and `key` ([`Envelope`]): they prove a file is an entry.
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
    Some(home_dir()?.join(".kube/cache/eks-token"))
}

/// What a cached token is bound to, hashed: the cluster, every flag and environment
/// variable that picks credentials, region or endpoint, and the AWS config files in play
/// (path, size and modification time, so an edited profile invalidates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    hash: String,
    request: Request,
}

/// What an entry must say to answer a request. The file name is the hash of every input,
/// but a file can be copied or edited, so a hit also checks what the request names without
/// reading the AWS config files (the hit path never parses them).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Request {
    cluster: String,
    /// `--region`, `AWS_REGION` or `AWS_DEFAULT_REGION`; `None` when the region is the
    /// profile's or the instance's, which only the slow path learns.
    region: Option<String>,
    /// `AWS_USE_FIPS_ENDPOINT` / `AWS_USE_DUALSTACK_ENDPOINT`; `None` when unset, as the
    /// profile may then set them.
    fips: Option<bool>,
    dual_stack: Option<bool>,
}

impl Request {
    /// Whether `entry` answers this request: its cluster; its region when the request
    /// names one; an STS host that [`StsEndpoint::regional`] gives for its region under a
    /// variant the environment allows; and a token presigned for that host and region.
    fn answered_by(&self, entry: &Entry) -> bool {
        let d = &entry.description;
        let Ok(region) = Region::new(&d.region) else {
            return false;
        };
        let allows = |want: Option<bool>, v: bool| want.is_none_or(|w| w == v);
        let host_fits = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .filter(|&(fips, dual)| allows(self.fips, fips) && allows(self.dual_stack, dual))
            .filter_map(|(fips, dual_stack)| {
                StsEndpoint::regional(&region, Variant { fips, dual_stack }).ok()
            })
            .any(|endpoint| endpoint.host == d.sts_host);
        d.cluster == self.cluster
            && self.region.as_ref().is_none_or(|r| *r == d.region)
            && host_fits
            && token::signed_for(&entry.token)
                .is_some_and(|(host, region)| host == d.sts_host && region == d.region)
    }
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
        let home = home_dir();
        for path in config_file_paths(home.as_deref()) {
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
        let request = Request {
            cluster: cluster.as_str().to_owned(),
            region: credentials::named_region(options).map(|(region, _)| region),
            fips: credentials::env_flag("AWS_USE_FIPS_ENDPOINT"),
            dual_stack: credentials::env_flag("AWS_USE_DUALSTACK_ENDPOINT"),
        };
        Self {
            hash: hex(&key.0.finalize()),
            request,
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

/// The fields every entry format has: what proves a `<key>.json` file is an entry.
#[derive(Deserialize)]
struct Envelope {
    format: u32,
    key: String,
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
    /// The directory holds files that are not the cache's: nothing in it is touched.
    #[error("{} holds files that are not eks-token's: {}", dir.display(), a_few(&sorted_names(names)))]
    Foreign { dir: PathBuf, names: Vec<OsString> },
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
            Self::Io { .. } => Some("check the directory, or pass --no-cache".into()),
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

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An error opening `path` without following symlinks: a symlink is refused as one.
fn open_error(path: &Path, e: io::Error) -> CacheError {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return CacheError::Symlink(path.to_owned());
    }
    io_error(path)(e)
}

/// A cache directory that has been checked to be private to this user.
pub struct Cache {
    /// The directory's path, for messages only: every operation goes through `handle`.
    dir: PathBuf,
    handle: Dir,
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

/// `dir` without trailing slashes and `.` components: the kernel follows a symlink named
/// `link/` or `link/.`, so the `O_NOFOLLOW` open must see `link`.
fn normalized(dir: &Path) -> PathBuf {
    dir.components().collect()
}

/// What a file in the cache directory is, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `<key>.json`
    Entry,
    /// `<key>.lock`
    Lock,
    /// `.<key>.<pid>.<nanos>.tmp`
    Temp,
}

/// The kind and key of one of our file names (the key is 64 lower-case hex digits, a
/// SHA-256); `None` for any other name.
fn our_name(name: &str) -> Option<(Kind, &str)> {
    let number = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(key) = name.strip_suffix(".json").filter(|k| is_key(k)) {
        return Some((Kind::Entry, key));
    }
    if let Some(key) = name.strip_suffix(".lock").filter(|k| is_key(k)) {
        return Some((Kind::Lock, key));
    }
    let mut parts = name.strip_prefix('.')?.strip_suffix(".tmp")?.split('.');
    let (key, pid, nanos) = (parts.next()?, parts.next()?, parts.next()?);
    let temp = parts.next().is_none() && is_key(key) && number(pid) && number(nanos);
    temp.then_some((Kind::Temp, key))
}

fn is_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn entry_name(key: &str) -> String {
    format!("{key}.json")
}

fn lock_name(key: &str) -> String {
    format!("{key}.lock")
}

fn temp_name(key: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(".{key}.{}.{nanos}.tmp", std::process::id())
}

/// The cache's files, once the directory is known to hold nothing else.
#[derive(Default)]
struct Files {
    /// Entry keys, each with its entry when it is of the current format.
    entries: Vec<(String, Option<Entry>)>,
    /// Lock file keys, each with whether it is older than [`STALE_TEMP`].
    locks: Vec<(String, bool)>,
    /// Temporary file names, each with whether it is older than [`STALE_TEMP`].
    temps: Vec<(String, bool)>,
}

fn is_stale(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_TEMP)
}

impl Cache {
    /// Uses `dir` as it is, without creating it or looking at other files in it: the read
    /// side of the fast path (one open and one `fstat` of the directory).
    pub fn existing(dir: &Path) -> Result<Option<Self>, CacheError> {
        let dir = normalized(dir);
        let handle = match Dir::open(&dir) {
            Ok(handle) => handle,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // O_NOFOLLOW | O_DIRECTORY say ELOOP or ENOTDIR: tell which it was.
            Err(e) => {
                return Err(match fs::symlink_metadata(&dir) {
                    Ok(m) if m.file_type().is_symlink() => CacheError::Symlink(dir),
                    Ok(m) if !m.is_dir() => CacheError::NotRegular(dir),
                    _ => io_error(&dir)(e),
                });
            }
        };
        // Checked on the handle, so the directory checked is the one used.
        let meta = handle.metadata().map_err(io_error(&dir))?;
        check_private(&dir, &meta, true)?;
        Ok(Some(Self { dir, handle }))
    }

    /// Uses `dir`, creating it private (0700) when missing, once every file in it is
    /// provably the cache's: the slow path, where everything that writes starts.
    ///
    /// The check lists and reads the whole directory, so it runs here and in `list`,
    /// `clear` and `prune`, never on a hit: a hit reads one file by its name and removes
    /// nothing, and stays one open and one read in the directory.
    pub fn create(dir: &Path) -> Result<Self, CacheError> {
        let cache = match Self::existing(dir)? {
            Some(cache) => cache,
            None => {
                let dir = normalized(dir);
                if let Some(parent) = dir.parent() {
                    fs::create_dir_all(parent).map_err(io_error(parent))?;
                }
                let mut builder = fs::DirBuilder::new();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    builder.mode(0o700);
                }
                match builder.create(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_error(&dir)(e)),
                }
                Self::existing(&dir)?
                    .ok_or_else(|| io_error(&dir)(io::ErrorKind::NotFound.into()))?
            }
        };
        cache.files()?;
        Ok(cache)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token for `key` if it has at least [`MIN_REMAINING`] left at `now`.
    /// A missing, corrupt, foreign-format or expired entry, or one that does not answer
    /// the request, is a miss; an entry another user could have written is an error.
    pub fn lookup(&self, key: &CacheKey, now: DateTime<Utc>) -> Result<Option<Hit>, CacheError> {
        let Some(entry) = self.read(&entry_name(key.as_str()))? else {
            return Ok(None);
        };
        if entry.key != key.as_str()
            || !key.request.answered_by(&entry)
            || entry.expires_at - now < MIN_REMAINING
        {
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
    fn read(&self, name: &str) -> Result<Option<Entry>, CacheError> {
        Ok(self.read_bytes(name)?.and_then(|bytes| parse_entry(&bytes)))
    }

    /// The first [`MAX_ENTRY_BYTES`] + 1 bytes of `name` (more is not an entry), `None`
    /// when it does not exist; a file another user could have written is an error.
    fn read_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let file = match self.handle.open_file(name, Access::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_error(&self.dir.join(name), e)),
        };
        // Checked on the open file, so the file cannot be swapped between check and read.
        let meta = file.metadata().map_err(io_error(&self.dir.join(name)))?;
        check_private(&self.dir.join(name), &meta, false)?;
        // Sized from fstat, so a whole entry is one read.
        let mut bytes = Vec::with_capacity(meta.len().min(MAX_ENTRY_BYTES) as usize + 1);
        file.take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(&self.dir.join(name)))?;
        Ok(Some(bytes))
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
        let target = entry_name(key.as_str());
        let temp = temp_name(key.as_str());
        let stored = self
            .handle
            .open_file(&temp, Access::CreateNew)
            .and_then(|mut file| {
                let written = file
                    .write_all(&body)
                    .and_then(|()| self.handle.rename(&temp, &target));
                if written.is_err() {
                    let _ = self.handle.remove(&temp);
                }
                written
            });
        stored.map_err(io_error(&self.dir.join(&target)))
    }

    /// Waits up to `wait` for the per-key lock (`wait` is the run's deadline: the holder
    /// gives up by then). `Ok(None)` when another run held it too long: the caller then
    /// mints without the cache rather than hang.
    pub fn lock(&self, key: &CacheKey, wait: Duration) -> Result<Option<File>, CacheError> {
        self.acquire(key.as_str(), wait)
    }

    /// Locks `<key>.lock`. Removing a lock file (`clear`, `prune`) is done while holding
    /// it, so a run that locked the removed file sees it is no longer the one at that path
    /// and starts over: two runs never both believe they hold a key.
    fn acquire(&self, key: &str, wait: Duration) -> Result<Option<File>, CacheError> {
        let name = lock_name(key);
        let path = self.dir.join(&name);
        let start = Instant::now();
        loop {
            let file = self
                .handle
                .open_file(&name, Access::Lock)
                .map_err(|e| open_error(&path, e))?;
            let meta = file.metadata().map_err(io_error(&path))?;
            check_private(&path, &meta, false)?;
            match file.try_lock() {
                Ok(()) if same_file(&meta, self.metadata(&name).ok().as_ref()) => {
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

    /// The metadata of the file `name` (never of a symlink's target).
    fn metadata(&self, name: &str) -> io::Result<fs::Metadata> {
        self.handle.open_file(name, Access::Read)?.metadata()
    }

    /// Removes `<key>.json` and its lock file while holding its lock; `false` when
    /// another run holds it (it is minting: its entry is about to be replaced anyway).
    fn remove_entry(&self, key: &str) -> Result<bool, CacheError> {
        let Some(lock) = self.acquire(key, Duration::ZERO)? else {
            return Ok(false);
        };
        for name in [entry_name(key), lock_name(key)] {
            match self.handle.remove(&name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error(&self.dir.join(name))(e));
                }
                _ => {}
            }
        }
        drop(lock);
        Ok(true)
    }

    /// Lists the directory and proves every file in it ours: an entry name holding an
    /// entry, a lock-file name on an empty 0600 file, or a temporary-file name (a killed
    /// writer leaves any content). Anything else is [`CacheError::Foreign`], and the
    /// caller then writes and removes nothing.
    fn files(&self) -> Result<Files, CacheError> {
        let mut files = Files::default();
        let mut foreign = Vec::new();
        for name in self.handle.names().map_err(io_error(&self.dir))? {
            let Some((kind, key)) = name.to_str().and_then(our_name) else {
                foreign.push(name);
                continue;
            };
            let (text, key) = (name.to_str().unwrap_or_default(), key.to_owned());
            let ours = match kind {
                Kind::Entry => match self.read_bytes(text)? {
                    // Removed since it was listed.
                    None => true,
                    Some(bytes) if is_entry(&bytes) => {
                        files.entries.push((key, parse_entry(&bytes)));
                        true
                    }
                    Some(_) => false,
                },
                Kind::Lock => match self.metadata(text) {
                    Err(e) => e.kind() == io::ErrorKind::NotFound,
                    Ok(meta) if self.is_lock_file(text, &meta) => {
                        files.locks.push((key, is_stale(&meta)));
                        true
                    }
                    Ok(_) => false,
                },
                Kind::Temp => {
                    let stale = self.metadata(text).is_ok_and(|m| is_stale(&m));
                    files.temps.push((text.to_owned(), stale));
                    true
                }
            };
            if !ours {
                foreign.push(name);
            }
        }
        if !foreign.is_empty() {
            return Err(CacheError::Foreign {
                dir: self.dir.clone(),
                names: foreign,
            });
        }
        Ok(files)
    }

    /// What [`Cache::acquire`] creates: an empty private regular file, mode 0600.
    fn is_lock_file(&self, name: &str, meta: &fs::Metadata) -> bool {
        #[cfg(unix)]
        let mode_0600 =
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777 == 0o600;
        #[cfg(not(unix))]
        let mode_0600 = true;
        mode_0600 && meta.len() == 0 && check_private(&self.dir.join(name), meta, false).is_ok()
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

    /// Removes the entries for `cluster` (all when `None`), returning how many.
    pub fn clear(&self, cluster: Option<&str>) -> Result<usize, CacheError> {
        let mut removed = 0;
        for (key, entry) in self.files()?.entries {
            let matches = cluster.is_none_or(|c| entry.is_some_and(|e| e.description.cluster == c));
            if matches && self.remove_entry(&key)? {
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
                let _ = self.handle.remove(name);
            }
        }
        for (key, entry) in &files.entries {
            if entry.as_ref().is_some_and(|e| e.expires_at <= now) {
                let _ = self.remove_entry(key);
            }
        }
        for (key, stale) in &files.locks {
            if *stale && !files.entries.iter().any(|(k, _)| k == key) {
                let _ = self.remove_entry(key);
            }
        }
    }
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

/// Whether `bytes` are an entry of any format: an [`Envelope`] naming a key.
fn is_entry(bytes: &[u8]) -> bool {
    bytes.len() as u64 <= MAX_ENTRY_BYTES
        && serde_json::from_slice::<Envelope>(bytes).is_ok_and(|e| e.format > 0 && is_key(&e.key))
}

/// A valid entry of the current format, or `None`.
fn parse_entry(bytes: &[u8]) -> Option<Entry> {
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return None;
    }
    let entry: Entry = serde_json::from_slice(bytes).ok()?;
    let valid = entry.format == FORMAT
        && entry.token.starts_with(token::PREFIX)
        && entry.token.len() <= token::MAX_LEN
        && entry.token.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(entry)
}

#[cfg(test)]
mod tests_support {
    use super::*;

    /// The key for `cluster` in us-west-2 (named by the flag, whatever the environment).
    pub fn key(cluster: &str) -> CacheKey {
        let options = Options {
            region: Some("us-west-2".into()),
            ..Options::default()
        };
        CacheKey::new(&ClusterId::new(cluster).unwrap(), &options)
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
    use std::os::unix::fs::PermissionsExt;

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
    fn foreign_modes_symlinks_and_fifos_are_refused() {
        let (root, cache) = cache();
        store_fresh(&cache);
        let path = entry_path(&cache, &key("c"));
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
        fs::set_permissions(cache.dir(), fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(cache.dir(), &link).unwrap();
        // A trailing slash or `.` makes the kernel follow the link: each spelling is refused.
        let link = link.to_str().unwrap();
        for spelled in [
            link.to_owned(),
            format!("{link}/"),
            format!("{link}//"),
            format!("{link}/."),
        ] {
            let spelled = Path::new(&spelled);
            assert!(
                matches!(Cache::existing(spelled), Err(CacheError::Symlink(ref p)) if p == Path::new(link)),
                "{spelled:?}"
            );
            assert!(
                matches!(Cache::create(spelled), Err(CacheError::Symlink(_))),
                "{spelled:?}"
            );
        }
    }

    #[test]
    fn file_names_of_ours() {
        let hex = "0123456789abcdef".repeat(4);
        let cases = [
            (format!("{hex}.json"), Some(Kind::Entry)),
            (format!("{hex}.lock"), Some(Kind::Lock)),
            (format!(".{hex}.4242.123456789.tmp"), Some(Kind::Temp)),
            (temp_name(&hex), Some(Kind::Temp)),
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
                .set_modified(SystemTime::now() - 2 * STALE_TEMP)
                .unwrap();
        };
        let envelope = format!(r#"{{"format":1,"key":"{hex}"}}"#);
        let foreign: [(&str, String, &[u8], u32); 9] = [
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
            assert!(matches!(cache.list(), Err(CacheError::Symlink(p)) if p == link));
            assert!(matches!(
                Cache::create(cache.dir()),
                Err(CacheError::Symlink(_))
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
            cache.clear(None).unwrap(),
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
        assert_eq!(cache.clear(Some("c")).unwrap(), 1);
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
            Err(CacheError::Symlink(_))
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

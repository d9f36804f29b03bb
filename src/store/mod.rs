//! Private files: the one place that knows how eks-token keeps a file only its user can
//! read or replace. A store is a directory of this user's, mode 0700, opened once without
//! following symlinks and checked on that handle ([`dir`]); its files are 0600, opened with
//! `O_NOFOLLOW` and checked on the open file, written to a temporary file and renamed into
//! place, and locked per name with a bounded wait. The token cache is one store; a new
//! cache is a new key and entry type over one, never new file code.
//!
//! [`replace`] is the same temporary-file-and-rename write for a user's own file in a
//! directory that need not be private (the kubeconfig).

mod dir;

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use dir::{Access, Dir};

/// Temporary files older than this were left by a killed writer (a write takes well under
/// a second); lock files that old are left over too, unless a run holds them, which
/// removing one under its lock ([`Store::remove_locked`]) finds out.
pub const STALE: Duration = Duration::from_secs(60);

/// How often a run waiting for another run's lock looks again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Why a store, or a file in it, could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or a file in it could be read or changed by someone else.
    #[error("{} is accessible to other users (mode {mode:04o})", path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
    /// A symlink where the store expects a directory or file.
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

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An error opening `path` without following symlinks: a symlink is refused as one.
fn open_error(path: &Path, e: io::Error) -> StoreError {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return StoreError::Symlink(path.to_owned());
    }
    io_error(path)(e)
}

/// Refuses anything another user could read or replace. `meta` is always of an open
/// handle (opened with `O_NOFOLLOW`), so never of a symlink: those fail to open.
fn check_private(path: &Path, meta: &fs::Metadata, want_dir: bool) -> Result<(), StoreError> {
    if (want_dir && !meta.is_dir()) || (!want_dir && !meta.is_file()) {
        return Err(StoreError::NotRegular(path.to_owned()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return Err(StoreError::ForeignOwner(path.to_owned()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(StoreError::NotPrivate {
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

/// Creates `dir` and its missing parents, each private (0700); an existing one is left as
/// it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Whether `name` is one the store accepts for a file or a lock: one path component of
/// ASCII letters, digits, `-`, `_` and `.`, not starting with `.` (its temporary files
/// do) and not ending in `.lock` or `.tmp` (its lock and temporary files do).
fn valid_name(name: &str) -> bool {
    plain(name) && !name.ends_with(".lock") && !name.ends_with(".tmp")
}

/// One path component of ASCII letters, digits, `-`, `_` and `.`, not starting with `.`.
fn plain(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

/// Whether `name` is a file the store may have made: a file, lock or temporary file name.
fn is_store_name(name: &str) -> bool {
    valid_name(name) || lock_of(name).is_some() || temp_of(name).is_some()
}

/// The lock file for `name`.
fn lock_file(name: &str) -> String {
    format!("{name}.lock")
}

/// The name `file` is the lock file of, when it is a lock file's name.
pub fn lock_of(file: &str) -> Option<&str> {
    file.strip_suffix(".lock").filter(|name| valid_name(name))
}

/// What a write is stored under until it is renamed into place:
/// `.<stem>.<pid>.<nanos>.tmp`, `stem` being the file's name without its extension.
fn temp_name(stem: &OsStr) -> OsString {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut temp = OsString::from(".");
    temp.push(stem);
    temp.push(format!(".{}.{nanos}.tmp", std::process::id()));
    temp
}

/// The stem of a temporary file name [`temp_name`] made, when `file` is one.
pub fn temp_of(file: &str) -> Option<&str> {
    let number = |s: &str| (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = file
        .strip_prefix('.')?
        .strip_suffix(".tmp")?
        .rsplitn(3, '.');
    let (nanos, pid, stem) = (parts.next()?, parts.next()?, parts.next()?);
    (number(pid) && number(nanos) && plain(stem)).then_some(stem)
}

/// The stem of a file name: before its last `.`.
fn stem(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

fn is_stale(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE)
}

/// Whether a write waits for the disk before the rename.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// `fsync` first: after a crash the file is the old one or the new one. For the
    /// user's own files (kubeconfig, the AWS CLI's SSO and role caches), which nothing
    /// makes again.
    Synced,
    /// No `fsync`, and the old file removed before the rename: renaming over a file makes
    /// ext4 (and btrfs) write the new one out first, which costs as much as the `fsync`
    /// (about 0.4 ms, most of a token refresh). A reader sees the old file, none, or the
    /// new one, never part of one; after a crash the new one may be empty or missing.
    /// Every cache reads both as a miss and makes the entry again (two writers racing
    /// still leave one whole file; the caches' writers hold the name's lock anyway).
    Cache,
}

/// Puts `bytes` in `dir` as `name`: written to a new 0600 temporary file named for `stem`,
/// then renamed over whatever `name` was (a symlink itself, never its target), as
/// `durability` says. A reader never sees part of a file.
fn replace_in(
    dir: &Dir,
    name: &OsStr,
    stem: &OsStr,
    bytes: &[u8],
    durability: Durability,
) -> io::Result<()> {
    let temp = temp_name(stem);
    let mut file = dir.open_file(&temp, Access::CreateNew)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| match durability {
            Durability::Synced => file.sync_all(),
            Durability::Cache => match dir.remove(name) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        })
        .and_then(|()| dir.rename(&temp, name));
    if written.is_err() {
        let _ = dir.remove(&temp);
    }
    written
}

/// Replaces `name` in the user's own directory `dir` (a kubeconfig's) with `bytes`, 0600,
/// the way a store writes its files. `dir` is opened as named, so it must not be a symlink
/// (pass a canonical path).
pub fn replace(dir: &Path, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
    replace_in(
        &Dir::open(&normalized(dir))?,
        name,
        name,
        bytes,
        Durability::Synced,
    )
}

/// A directory that has been checked to be private to this user.
pub struct Store {
    /// The directory's path, for messages only: every operation goes through `dir`.
    path: PathBuf,
    dir: Dir,
}

/// A held lock ([`Store::lock`]); released when dropped.
#[derive(Debug)]
#[must_use = "the lock is released when dropped"]
pub struct Lock {
    file: File,
    name: String,
}

/// A file in a store's directory, by what its name and shape make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A name the store accepts (`valid_name`): the caller tells by reading it whether it
    /// is one of its files.
    File(String),
    /// A lock file ([`Store::lock`] makes an empty 0600 file) for the name `of`.
    Lock { of: String, stale: bool },
    /// A temporary file a write of a name with stem `of` left, with any content.
    Temp {
        file: String,
        of: String,
        stale: bool,
    },
    /// Anything else, a lock file's name on a file that is not one included.
    Other(OsString),
}

impl Found {
    /// The file's name in the directory.
    pub fn file_name(&self) -> OsString {
        match self {
            Self::File(name) | Self::Temp { file: name, .. } => name.into(),
            Self::Lock { of, .. } => lock_file(of).into(),
            Self::Other(name) => name.clone(),
        }
    }
}

impl Store {
    /// Uses `path` as it is, without creating it or looking at other files in it (one open
    /// and one `fstat` of the directory); `None` when it does not exist.
    pub fn existing(path: &Path) -> Result<Option<Self>, StoreError> {
        let path = normalized(path);
        let dir = match Dir::open(&path) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            // O_NOFOLLOW | O_DIRECTORY say ELOOP or ENOTDIR: tell which it was.
            Err(e) => {
                return Err(match fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_symlink() => StoreError::Symlink(path),
                    Ok(m) if !m.is_dir() => StoreError::NotRegular(path),
                    _ => io_error(&path)(e),
                });
            }
        };
        // Checked on the handle, so the directory checked is the one used.
        let meta = dir.metadata().map_err(io_error(&path))?;
        check_private(&path, &meta, true)?;
        Ok(Some(Self { path, dir }))
    }

    /// Uses `path`, creating it (and its missing parents) private when missing.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if let Some(store) = Self::existing(path)? {
            return Ok(store);
        }
        let path = normalized(path);
        create_private_dir(&path).map_err(io_error(&path))?;
        Self::existing(&path)?.ok_or_else(|| io_error(&path)(io::ErrorKind::NotFound.into()))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` checked to be one the store accepts.
    fn checked<'a>(&self, name: &'a str) -> Result<&'a str, StoreError> {
        if valid_name(name) {
            Ok(name)
        } else {
            Err(self.not_ours(name))
        }
    }

    /// The error for a name the store never makes: a caller's mistake, refused before any
    /// file operation.
    fn not_ours(&self, name: &str) -> StoreError {
        let why = io::Error::new(io::ErrorKind::InvalidInput, "not a store file name");
        io_error(&self.path.join(name))(why)
    }

    /// The first `max` + 1 bytes of `name` (so the caller can tell a bigger file), `None`
    /// when it does not exist; a file another user could have written is an error.
    pub fn read(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path.join(self.checked(name)?);
        let file = match self.dir.open_file(name.as_ref(), Access::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_error(&path, e)),
        };
        // Checked on the open file, so the file cannot be swapped between check and read.
        let meta = file.metadata().map_err(io_error(&path))?;
        check_private(&path, &meta, false)?;
        // Sized from fstat, so a whole file is one read.
        let mut bytes = Vec::with_capacity(meta.len().min(max) as usize + 1);
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(&path))?;
        Ok(Some(bytes))
    }

    /// Replaces `name` with `bytes`: a private temporary file, then renamed. A store holds
    /// caches, whose every entry can be made again: not flushed to disk first
    /// ([`Durability::Cache`]).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let name = self.checked(name)?;
        replace_in(
            &self.dir,
            name.as_ref(),
            stem(name).as_ref(),
            bytes,
            Durability::Cache,
        )
        .map_err(io_error(&self.path.join(name)))
    }

    /// Waits up to `wait` for the lock on `name` (the file `<name>.lock`). `Ok(None)` when
    /// another run held it all that time: the caller carries on without it rather than
    /// hang.
    ///
    /// A lock file is removed only while held ([`Store::remove_locked`]), so a run that
    /// locked a removed file sees it is no longer the one at that path and starts over:
    /// two runs never both believe they hold a name.
    pub fn lock(&self, name: &str, wait: Duration) -> Result<Option<Lock>, StoreError> {
        let file_name = lock_file(self.checked(name)?);
        let path = self.path.join(&file_name);
        let start = Instant::now();
        loop {
            let file = self
                .dir
                .open_file(file_name.as_ref(), Access::Lock)
                .map_err(|e| open_error(&path, e))?;
            let meta = file.metadata().map_err(io_error(&path))?;
            check_private(&path, &meta, false)?;
            match file.try_lock() {
                Ok(()) if same_file(&meta, self.metadata(&file_name).ok().as_ref()) => {
                    return Ok(Some(Lock {
                        file,
                        name: name.to_owned(),
                    }));
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

    /// Removes `names` (those that exist), then the lock file itself, while holding `lock`.
    pub fn remove_locked(&self, lock: Lock, names: &[&str]) -> Result<(), StoreError> {
        let lock_name = lock_file(&lock.name);
        for name in names {
            self.remove(name)?;
        }
        self.unlink(&lock_name)?;
        drop(lock.file);
        Ok(())
    }

    /// Removes `name` from the directory (a symlink itself, never its target); a name that
    /// is already gone is no error.
    /// A lock file is not removed here: only with its lock held ([`Store::remove_locked`]),
    /// or two runs could both believe they hold it.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        if !is_store_name(name) || lock_of(name).is_some() {
            return Err(self.not_ours(name));
        }
        self.unlink(name)
    }

    fn unlink(&self, name: &str) -> Result<(), StoreError> {
        match self.dir.remove(name.as_ref()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_error(&self.path.join(name))(e))
            }
            _ => Ok(()),
        }
    }

    /// The metadata of the file `name` (never of a symlink's target).
    fn metadata(&self, name: &str) -> io::Result<fs::Metadata> {
        self.dir.open_file(name.as_ref(), Access::Read)?.metadata()
    }

    /// What [`Store::lock`] creates: an empty private regular file, mode 0600.
    fn is_lock_file(&self, name: &str, meta: &fs::Metadata) -> bool {
        #[cfg(unix)]
        let mode_0600 =
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777 == 0o600;
        #[cfg(not(unix))]
        let mode_0600 = true;
        mode_0600 && meta.len() == 0 && check_private(&self.path.join(name), meta, false).is_ok()
    }

    /// Every file in the directory, by what it is to the store. A lock file removed since
    /// it was listed is left out.
    pub fn list(&self) -> Result<Vec<Found>, StoreError> {
        let mut found = Vec::new();
        for name in self.dir.names().map_err(io_error(&self.path))? {
            let Some(text) = name.to_str() else {
                found.push(Found::Other(name));
                continue;
            };
            if let Some(of) = lock_of(text) {
                match self.metadata(text) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Ok(meta) if self.is_lock_file(text, &meta) => found.push(Found::Lock {
                        of: of.to_owned(),
                        stale: is_stale(&meta),
                    }),
                    _ => found.push(Found::Other(name)),
                }
            } else if let Some(of) = temp_of(text) {
                let stale = self.metadata(text).is_ok_and(|m| is_stale(&m));
                found.push(Found::Temp {
                    file: text.to_owned(),
                    of: of.to_owned(),
                    stale,
                });
            } else if valid_name(text) {
                found.push(Found::File(text.to_owned()));
            } else {
                found.push(Found::Other(name));
            }
        }
        Ok(found)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (tempfile::TempDir, Store) {
        let root = tempfile::tempdir().unwrap();
        let store = Store::create(&root.path().join("store")).unwrap();
        (root, store)
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_lock_file_goes_only_with_its_lock_held() {
        let (_root, store) = store();
        let lock = store.lock("k", Duration::ZERO).unwrap().unwrap();
        assert!(store.remove("k.lock").is_err());
        assert!(store.path().join("k.lock").exists());
        store.remove_locked(lock, &[]).unwrap();
        assert!(!store.path().join("k.lock").exists());
    }

    #[test]
    fn created_private_and_written_0600() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a/b/store");
        let store = Store::create(&path).unwrap();
        store.write("e.json", b"{}").unwrap();
        for dir in [root.path().join("a"), root.path().join("a/b"), path.clone()] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
        assert_eq!(mode(&path.join("e.json")), 0o600);
        assert_eq!(store.read("e.json", 16).unwrap().unwrap(), b"{}");
        assert_eq!(store.read("missing.json", 16).unwrap(), None);
        assert_eq!(store.list().unwrap(), [Found::File("e.json".into())]);
    }

    #[test]
    fn a_read_stops_past_its_limit() {
        let (_root, store) = store();
        store.write("e.json", &[b'x'; 100]).unwrap();
        assert_eq!(store.read("e.json", 10).unwrap().unwrap().len(), 11);
        assert_eq!(store.read("e.json", 100).unwrap().unwrap().len(), 100);
    }

    #[test]
    fn foreign_modes_symlinks_and_fifos_are_refused() {
        let (root, store) = store();
        store.write("e.json", b"{}").unwrap();
        let path = store.path().join("e.json");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.read("e.json", 16),
            Err(StoreError::NotPrivate { mode: 0o644, .. })
        ));
        fs::remove_file(&path).unwrap();

        let elsewhere = root.path().join("planted.json");
        fs::write(&elsewhere, "{}").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(matches!(store.read("e.json", 16), Err(StoreError::Symlink(p)) if p == path));
        fs::remove_file(&path).unwrap();

        let fifo = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            store.read("e.json", 16),
            Err(StoreError::NotRegular(_))
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
            Store::existing(&foreign),
            Err(StoreError::ForeignOwner(_))
        ));

        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            Store::existing(store.path()),
            Err(StoreError::NotPrivate { .. })
        ));
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(store.path(), &link).unwrap();
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
                matches!(Store::existing(spelled), Err(StoreError::Symlink(ref p)) if p == Path::new(link)),
                "{spelled:?}"
            );
            assert!(
                matches!(Store::create(spelled), Err(StoreError::Symlink(_))),
                "{spelled:?}"
            );
        }
    }

    #[test]
    fn the_lock_is_exclusive_and_bounded() {
        let (_root, store) = store();
        let wait = Duration::from_millis(300);
        let held = store.lock("c", wait).unwrap().unwrap();
        let start = Instant::now();
        assert!(store.lock("c", wait).unwrap().is_none());
        assert!(start.elapsed() >= wait);
        assert!(store.lock("other", wait).unwrap().is_some());
        drop(held);
        assert!(store.lock("c", wait).unwrap().is_some());
    }

    #[test]
    fn a_lock_file_is_removed_only_under_its_lock() {
        let (_root, store) = store();
        store.write("c.json", b"{}").unwrap();
        let lock = store.lock("c", Duration::ZERO).unwrap().unwrap();
        assert_eq!(mode(&store.path().join("c.lock")), 0o600);
        store.remove_locked(lock, &["c.json", "gone.json"]).unwrap();
        assert!(store.list().unwrap().is_empty());

        // A run that locked a file which was then removed starts over on the new one.
        let stale = store.lock("c", Duration::ZERO).unwrap().unwrap();
        fs::remove_file(store.path().join("c.lock")).unwrap();
        let fresh = store.lock("c", Duration::ZERO).unwrap().unwrap();
        assert!(store.lock("c", Duration::ZERO).unwrap().is_none());
        drop((stale, fresh));
    }

    #[test]
    fn names_outside_the_stores_own_are_refused() {
        let (root, store) = store();
        fs::write(root.path().join("outside"), "keep").unwrap();
        for name in [
            "",
            ".",
            "..",
            "../outside",
            "a/b",
            ".hidden",
            "x.lock",
            "x.tmp",
            "a b",
            "é",
            "a\u{0}b",
        ] {
            assert!(!valid_name(name), "{name:?}");
            assert!(store.read(name, 16).is_err(), "{name:?}");
            assert!(store.write(name, b"").is_err(), "{name:?}");
            assert!(store.lock(name, Duration::ZERO).is_err(), "{name:?}");
        }
        assert!(store.remove("../outside").is_err());
        assert!(root.path().join("outside").exists());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn lock_and_temporary_file_names() {
        for stem in ["c", "0123abcd", "a.b", "x-y_z"] {
            let temp = temp_name(stem.as_ref());
            assert_eq!(temp_of(temp.to_str().unwrap()), Some(stem), "{temp:?}");
        }
        assert_eq!(temp_of(".k.4242.123456789.tmp"), Some("k"));
        for not_temp in [
            "k.1.2.tmp",
            ".k.1.tmp",
            ".k.x.1.tmp",
            ".k.1.-2.tmp",
            "..1.2.tmp",
            ".a/b.1.2.tmp",
            ".k.1.2.tmp.x",
            ".k.123456789012345678901.2.tmp",
        ] {
            assert_eq!(temp_of(not_temp), None, "{not_temp}");
        }
        assert_eq!(lock_of("k.lock"), Some("k"));
        for not_lock in ["k.lock.x", ".k.lock", "a/b.lock", ".lock", "k.tmp.lock"] {
            assert_eq!(lock_of(not_lock), None, "{not_lock}");
        }
    }

    #[test]
    fn the_listing_says_what_each_file_is() {
        let (_root, store) = store();
        store.write("e.json", b"{}").unwrap();
        drop(store.lock("k", Duration::ZERO).unwrap());
        let dir = store.path();
        fs::write(dir.join(".e.1.2.tmp"), "partial").unwrap();
        fs::write(dir.join("data.lock"), "not a lock").unwrap();
        fs::set_permissions(dir.join("data.lock"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(dir.join("a b"), "").unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        let old = File::options()
            .write(true)
            .open(dir.join(".e.1.2.tmp"))
            .unwrap();
        old.set_modified(SystemTime::now() - 2 * STALE).unwrap();
        let mut found = store.list().unwrap();
        found.sort_by_key(Found::file_name);
        assert_eq!(
            found,
            [
                Found::Temp {
                    file: ".e.1.2.tmp".into(),
                    of: "e".into(),
                    stale: true
                },
                Found::Other("a b".into()),
                Found::Other("data.lock".into()),
                Found::File("e.json".into()),
                Found::Lock {
                    of: "k".into(),
                    stale: false
                },
                Found::File("sub".into()),
            ]
        );
    }

    #[test]
    fn replace_keeps_the_old_file_or_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        replace(dir.path(), "config".as_ref(), b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        // A symlink at the name is replaced, never written through.
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, "keep").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("config.bak")).unwrap();
        replace(dir.path(), "config.bak".as_ref(), b"backup").unwrap();
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "keep");
        assert_eq!(mode(&dir.path().join("config.bak")), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    }
}

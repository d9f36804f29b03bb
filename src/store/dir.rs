//! A directory as an open handle. The directory is opened once, never through a symlink,
//! and checked on that handle; every file operation after that is relative to it
//! (`openat`, `renameat`, `unlinkat`), so a directory swapped for a symlink after the
//! check changes nothing: the run keeps working in the directory it checked.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::Path;

/// How [`Dir::open_file`] opens a file. Every mode refuses a symlink (`O_NOFOLLOW`).
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// Read an existing file, without blocking on a FIFO.
    Read,
    /// Open or create (0600) a lock file, without blocking on a FIFO.
    Lock,
    /// Create a new file to write, mode exactly 0600 whatever the umask; fails when the
    /// name exists.
    CreateNew,
}

#[cfg(unix)]
pub use unix::Dir;

#[cfg(not(unix))]
pub use other::Dir;

#[cfg(unix)]
mod unix {
    use super::*;
    use std::ffi::{CStr, CString};
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    /// An open directory.
    #[derive(Debug)]
    pub struct Dir(File);

    fn c_string(name: &OsStr) -> io::Result<CString> {
        CString::new(name.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
    }

    /// A descriptor returned by a libc call, or the call's error.
    ///
    /// # Safety
    /// `ret` is the return value of a call that opens a descriptor (`open`, `openat`):
    /// when it is not negative, it is a descriptor nothing else owns.
    unsafe fn opened(ret: libc::c_int) -> io::Result<File> {
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: by this function's contract, `ret` is a fresh descriptor of our own.
        Ok(unsafe { File::from_raw_fd(ret) })
    }

    fn done(ret: libc::c_int) -> io::Result<()> {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    impl Dir {
        /// Opens the directory at `path` itself: `O_NOFOLLOW` refuses a symlink as the last
        /// component. The caller strips trailing slashes, with which the kernel follows it.
        pub fn open(path: &Path) -> io::Result<Self> {
            let path = c_string(path.as_os_str())?;
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
            // SAFETY: a NUL-terminated path that outlives the call; `open` returns a fresh
            // descriptor or -1, as `opened` requires.
            unsafe { opened(libc::open(path.as_ptr(), flags)) }.map(Self)
        }

        /// The directory's own metadata (`fstat` of the handle).
        pub fn metadata(&self) -> io::Result<fs::Metadata> {
            self.0.metadata()
        }

        /// Opens `name` in this directory.
        pub fn open_file(&self, name: &OsStr, access: Access) -> io::Result<File> {
            let flags = match access {
                Access::Read => libc::O_RDONLY | libc::O_NONBLOCK,
                Access::Lock => libc::O_RDWR | libc::O_CREAT | libc::O_NONBLOCK,
                Access::CreateNew => libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
            };
            let name = c_string(name)?;
            let mode: libc::c_uint = 0o600;
            // SAFETY: a valid directory descriptor and a NUL-terminated name that outlive
            // the call; the mode is passed as the variadic argument `openat` expects; it
            // returns a fresh descriptor or -1, as `opened` requires.
            let file = unsafe {
                opened(libc::openat(
                    self.0.as_raw_fd(),
                    name.as_ptr(),
                    flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    mode,
                ))
            }?;
            if let Access::CreateNew = access {
                // The umask may have taken bits away (never added any).
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            }
            Ok(file)
        }

        /// Renames `from` to `to`, both in this directory (atomic, replaces `to`).
        pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
            let (from, to) = (c_string(from)?, c_string(to)?);
            let dir = self.0.as_raw_fd();
            // SAFETY: a valid directory descriptor and NUL-terminated names.
            done(unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) })
        }

        /// Removes `name` from this directory (a symlink itself, never its target).
        pub fn remove(&self, name: &OsStr) -> io::Result<()> {
            let name = c_string(name)?;
            // SAFETY: a valid directory descriptor and a NUL-terminated name.
            done(unsafe { libc::unlinkat(self.0.as_raw_fd(), name.as_ptr(), 0) })
        }

        /// The names in this directory, except `.` and `..`.
        pub fn names(&self) -> io::Result<Vec<OsString>> {
            // A descriptor of its own for the listing: reading moves its offset, and
            // `closedir` closes it.
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
            // SAFETY: a valid directory descriptor and a NUL-terminated name; `openat`
            // returns a fresh descriptor or -1, as `opened` requires.
            let listing =
                unsafe { opened(libc::openat(self.0.as_raw_fd(), c".".as_ptr(), flags)) }?;
            let stream = Stream::new(listing)?;
            let mut names = Vec::new();
            loop {
                let can_tell = clear_errno();
                // SAFETY: `stream` is an open DIR; the entry is copied before the next call.
                let entry = unsafe { libc::readdir(stream.0) };
                if entry.is_null() {
                    // NULL is the end, or an error when errno says so.
                    let error = io::Error::last_os_error();
                    return match error.raw_os_error() {
                        Some(errno) if can_tell && errno != 0 => Err(error),
                        _ => Ok(names),
                    };
                }
                // SAFETY: `d_name` is a NUL-terminated name inside the entry.
                let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
                if name != b"." && name != b".." {
                    names.push(OsString::from_vec(name.to_vec()));
                }
            }
        }
    }

    /// A `DIR` stream, closed on drop.
    struct Stream(*mut libc::DIR);

    impl Stream {
        fn new(listing: File) -> io::Result<Self> {
            let raw = listing.into_raw_fd();
            // SAFETY: `raw` is an open directory descriptor; on success the stream owns it.
            let stream = unsafe { libc::fdopendir(raw) };
            if stream.is_null() {
                let error = io::Error::last_os_error();
                // SAFETY: fdopendir failed, so `raw` is still ours to close.
                drop(unsafe { File::from_raw_fd(raw) });
                return Err(error);
            }
            Ok(Self(stream))
        }
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            // SAFETY: an open stream, closed once.
            unsafe { libc::closedir(self.0) };
        }
    }

    /// Sets errno to 0, so that a NULL from `readdir` tells the end from an error; `false`
    /// where libc does not say how.
    fn clear_errno() -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: the calling thread's errno, valid for the thread's life.
        unsafe {
            *libc::__errno_location() = 0;
        }
        #[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
        // SAFETY: the calling thread's errno, valid for the thread's life.
        unsafe {
            *libc::__error() = 0;
        }
        cfg!(any(
            target_os = "linux",
            target_os = "android",
            target_vendor = "apple",
            target_os = "freebsd"
        ))
    }
}

/// Without `openat` and friends there is no safe way to keep a private directory: a store
/// is refused (the token cache with a warning; the token is still printed).
#[cfg(not(unix))]
mod other {
    use super::*;

    #[derive(Debug)]
    pub struct Dir(std::convert::Infallible);

    impl Dir {
        pub fn open(_path: &Path) -> io::Result<Self> {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "eks-token's private files need a Unix system",
            ))
        }

        pub fn metadata(&self) -> io::Result<fs::Metadata> {
            match self.0 {}
        }

        pub fn open_file(&self, _name: &OsStr, _access: Access) -> io::Result<File> {
            match self.0 {}
        }

        pub fn rename(&self, _from: &OsStr, _to: &OsStr) -> io::Result<()> {
            match self.0 {}
        }

        pub fn remove(&self, _name: &OsStr) -> io::Result<()> {
            match self.0 {}
        }

        pub fn names(&self) -> io::Result<Vec<OsString>> {
            match self.0 {}
        }
    }
}

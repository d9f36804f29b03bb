//! Where the AWS files of a run are, as the AWS CLI and SDKs find them (home directory,
//! config and credentials files, token files, the SSO login and role session caches),
//! and whether each can be read safely: lookups on the environment and file metadata only.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::message;

/// The SDK reads config, credentials and token files whole, several times a run. The
/// largest real ones are configs with thousands of generated SSO profiles (a few MB);
/// anything past this (a log, a disk image) would cost seconds and its size in memory.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// Token files hold a JWT or an opaque token of a few KB; a bigger one is not a token.
pub const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// An AWS setting from the environment; empty is unset, as for the AWS SDKs.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The user's home directory (`$HOME` on Unix), where `~/.aws` lives.
pub fn home_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_owned())
}

/// The AWS config and credentials files in play, as the SDK finds them:
/// `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` (with `~/` expanded), else the
/// defaults under the home directory.
pub fn config_file_paths(home: Option<&Path>) -> Vec<PathBuf> {
    [
        ("AWS_CONFIG_FILE", ".aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
    ]
    .into_iter()
    .filter_map(|(var, default)| match env_var(var) {
        Some(p) => Some(expand_home(&p, home)),
        None => home.map(|home| home.join(default)),
    })
    .collect()
}

/// A path from a setting, with a leading `~/` taken from `home` as the SDK does.
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The text of an AWS config or credentials file when it is a regular, readable file
/// within the size the SDK is allowed to read; `None` otherwise.
pub fn read_config_file(path: &Path) -> Option<String> {
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if !regular || file_problem(path).is_some() {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The folder of the AWS CLI's IAM Identity Center login cache.
pub fn sso_cache_dir(home: &Path) -> PathBuf {
    home.join(".aws/sso/cache")
}

/// The folder of the AWS CLI's role session cache (awscli `customizations/assumerole.py`,
/// `CACHE_DIR`; not configurable).
pub fn cli_cache_dir(home: &Path) -> PathBuf {
    home.join(".aws/cli/cache")
}

/// When the AWS config files in play were last changed: the newest modification time of
/// those that exist.
pub fn config_files_modified(home: Option<&Path>) -> Option<std::time::SystemTime> {
    config_file_paths(home)
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// A file the SDK would read that exists but cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// What the file is for (`web identity token file`).
    pub what: &'static str,
    pub path: PathBuf,
    /// Why, in words (`it is a directory`).
    pub why: String,
}

/// The SDK silently treats an unreadable default config file as empty, would block
/// forever on a FIFO and reads a huge file whole: the first config or credentials file
/// that is not regular, readable and of a sane size.
pub fn unreadable_config_file(home: Option<&Path>) -> Option<Unreadable> {
    config_file_paths(home).into_iter().find_map(|path| {
        let why = file_problem(&path)?;
        Some(Unreadable {
            what: "AWS config file",
            path,
            why,
        })
    })
}

/// The SDK reads token files with a blocking read inside the async runtime: a FIFO or a
/// device there would stall the run past any deadline. `profile_token_file` is the
/// selected profile's `web_identity_token_file`.
pub fn unreadable_token_file(profile_token_file: Option<&str>) -> Option<Unreadable> {
    let named = [
        (
            "web identity token file",
            env_var("AWS_WEB_IDENTITY_TOKEN_FILE"),
        ),
        (
            "container authorization token file",
            env_var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        ),
        (
            "web identity token file",
            profile_token_file.map(str::to_owned),
        ),
    ];
    named.into_iter().find_map(|(what, path)| {
        let path = PathBuf::from(path?);
        let why = file_problem(&path)?;
        Some(Unreadable { what, path, why })
    })
}

/// Why a file that exists cannot be read as a file; `None` when it can, or is absent
/// (the reader reports that itself).
fn file_problem(path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(io_why(&e)),
        Ok(m) => m,
    };
    if meta.is_dir() {
        return Some("it is a directory".into());
    }
    if !meta.is_file() && path != Path::new("/dev/null") {
        return Some("it is not a regular file".into());
    }
    if meta.len() > MAX_FILE {
        return Some(format!("it is larger than {}", message::size(MAX_FILE)));
    }
    std::fs::File::open(path).err().map(|e| io_why(&e))
}

fn io_why(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Up to [`MAX_TOKEN_FILE`] + 1 bytes of a token file; `None` when it is absent, not a
/// regular file or unreadable (the SDK reports that when it reads the file). Opened
/// without blocking, so a FIFO there cannot stall the run.
pub fn read_token_file(path: &Path) -> Option<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE + 1).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

//! Writing a kubeconfig back: atomically, 0600, through the store's temporary-file-and-
//! rename write ([`store::replace`]), keeping the previous file as `<path>.bak`.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::KubeconfigError;
use crate::store;

/// Where [`write`] put things.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
}

/// Replaces `path` with `text` atomically (a 0600 temp file in the same directory, then
/// rename), after saving the previous file as `<path>.bak` the same way. A symlinked
/// kubeconfig is written through to its target; a symlinked `.bak` is replaced.
pub fn write(path: &Path, text: &str) -> Result<Written, KubeconfigError> {
    let (target, dir) = destination(path);
    refuse_read_only(&target, &dir)?;
    let fail = |what: &str, e: io::Error| KubeconfigError::Write {
        path: path.to_owned(),
        detail: format!("{what}: {e}"),
    };
    store::create_private_dir(&dir).map_err(|e| fail("cannot create the directory", e))?;
    // The store opens the directory without following a symlink: name it by its target.
    let dir = std::fs::canonicalize(&dir).map_err(|e| fail("cannot resolve the directory", e))?;
    let name = target.file_name().ok_or_else(|| {
        fail(
            "cannot replace the file",
            io::ErrorKind::InvalidInput.into(),
        )
    })?;
    let backup = match std::fs::read(&target) {
        Ok(previous) => {
            let mut backup_name = OsString::from(name);
            backup_name.push(".bak");
            store::replace(&dir, &backup_name, &previous)
                .map_err(|e| fail("cannot write the backup", e))?;
            Some(target.with_file_name(backup_name))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail("cannot read the previous file", e)),
    };
    store::replace(&dir, name, text.as_bytes()).map_err(|e| fail("cannot replace the file", e))?;
    Ok(Written {
        path: target,
        backup,
    })
}

/// The file a write replaces (a symlink's target) and its directory.
fn destination(path: &Path) -> (PathBuf, PathBuf) {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    (target, dir)
}

/// A rename replaces a file whatever its mode, and root may write anything: the owner's
/// write bit on the file or its directory is how a read-only kubeconfig says so.
fn refuse_read_only(target: &Path, dir: &Path) -> Result<(), KubeconfigError> {
    use std::os::unix::fs::PermissionsExt;
    let read_only = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
            .filter(|mode| mode & 0o200 == 0)
    };
    if let Some(mode) = read_only(target) {
        return Err(KubeconfigError::ReadOnly {
            path: target.to_owned(),
            mode,
        });
    }
    if let Some(mode) = read_only(dir) {
        return Err(KubeconfigError::ReadOnlyDirectory {
            path: target.to_owned(),
            dir: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_is_private_and_keeps_a_backup() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config");
        let w = write(&path, "one\n").unwrap();
        assert_eq!(w.backup, None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let w = write(&path, "two\n").unwrap();
        let backup = w.backup.unwrap();
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "one\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }

    #[test]
    fn write_goes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, "new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[test]
    fn write_replaces_a_symlinked_backup_instead_of_following_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "old\n").unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep\n").unwrap();
        std::fs::set_permissions(&elsewhere, PermissionsExt::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("config.bak")).unwrap();
        let w = write(&path, "new\n").unwrap();
        let backup = w.backup.unwrap();
        assert!(std::fs::symlink_metadata(&backup).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep\n");
        assert_eq!(
            std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn write_refuses_a_read_only_file_or_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        for mode in [0o400, 0o444, 0o555] {
            std::fs::write(&path, "old\n").unwrap();
            std::fs::set_permissions(&path, PermissionsExt::from_mode(mode)).unwrap();
            let error = write(&path, "new\n").unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("{} is read-only (mode {mode:04o})", path.display())
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
            std::fs::remove_file(&path).unwrap();
        }
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o500)).unwrap();
        let error = write(&path, "new\n").unwrap_err();
        std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o700)).unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot replace {}: {} is read-only (mode 0500)",
                path.display(),
                dir.path().display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert!(!dir.path().join("config.bak").exists());
    }
}

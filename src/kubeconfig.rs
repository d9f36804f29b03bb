//! The kubeconfig file: which one, its entries, and an atomic 0600 rewrite that keeps a
//! `.bak`. The document is edited as a generic YAML value, so every entry and field we
//! do not touch is written back with the same meaning.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use crate::error::single_line;

/// Kubeconfigs are small; a bigger file is not one.
const MAX_KUBECONFIG: u64 = 16 * 1024 * 1024;

/// Why a kubeconfig could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// No `--kubeconfig`, no `$KUBECONFIG` and no home directory.
    #[error("cannot tell where the kubeconfig is: no --kubeconfig, KUBECONFIG or HOME")]
    NoPath,
    /// The file exists but could not be read.
    #[error("cannot read {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    /// The file is not a kubeconfig document.
    #[error("{path} is not a kubeconfig: {detail}")]
    Parse { path: PathBuf, detail: String },
    /// Writing the new file or its backup failed.
    #[error("cannot write {path}: {detail}")]
    Write { path: PathBuf, detail: String },
    /// There is no kubeconfig to migrate.
    #[error("no kubeconfig at {path}")]
    Missing { path: PathBuf },
    /// `--context` names no context in the kubeconfig.
    #[error("context {name:?} not found in {path}")]
    NoContext {
        name: String,
        path: String,
        known: Vec<String>,
    },
}

impl KubeconfigError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoPath | Self::Missing { .. } => Some("pass --kubeconfig FILE".into()),
            Self::Parse { path, .. } => Some(format!(
                "fix the YAML in {} (kubectl config view shows what kubectl reads) or pass another --kubeconfig",
                path.display()
            )),
            Self::Write { path, .. } => Some(format!(
                "check that {} is writable, or pass --kubeconfig FILE",
                path.parent().unwrap_or(path).display()
            )),
            Self::NoContext { known, .. } if known.is_empty() => {
                Some("the kubeconfig has no contexts; create one with `eks-token kubeconfig --cluster-name NAME`".into())
            }
            Self::NoContext { known, .. } => Some(format!("contexts: {}", known.join(", "))),
            Self::Read { .. } => None,
        }
    }
}

/// The file to edit: `--kubeconfig`, else the first path in `$KUBECONFIG` (what
/// `aws eks update-kubeconfig` writes to), else `~/.kube/config`.
pub fn target_path(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<PathBuf, KubeconfigError> {
    if let Some(p) = flag {
        return Ok(p.to_owned());
    }
    if let Some(first) =
        env.and_then(|e| std::env::split_paths(e).find(|p| !p.as_os_str().is_empty()))
    {
        return Ok(first);
    }
    home.map(|h| h.join(".kube/config"))
        .ok_or(KubeconfigError::NoPath)
}

/// The files kubectl reads, in its merge order: `--kubeconfig`, else every path in
/// `$KUBECONFIG`, else `~/.kube/config`.
pub fn read_paths(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<Vec<PathBuf>, KubeconfigError> {
    if let Some(p) = flag {
        return Ok(vec![p.to_owned()]);
    }
    let from_env: Vec<PathBuf> = env
        .map(|e| {
            std::env::split_paths(e)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !from_env.is_empty() {
        return Ok(from_env);
    }
    target_path(None, None, home).map(|p| vec![p])
}

/// A kubeconfig document.
#[derive(Clone, Debug, PartialEq)]
pub struct Kubeconfig {
    doc: Mapping,
}

/// What [`Kubeconfig::set_context`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

impl Default for Kubeconfig {
    fn default() -> Self {
        let mut doc = Mapping::new();
        for (k, v) in [
            ("apiVersion", Value::from("v1")),
            ("kind", Value::from("Config")),
            ("preferences", Value::Mapping(Mapping::new())),
            ("clusters", Value::Sequence(Vec::new())),
            ("users", Value::Sequence(Vec::new())),
            ("contexts", Value::Sequence(Vec::new())),
        ] {
            doc.insert(k.into(), v);
        }
        Self { doc }
    }
}

impl Kubeconfig {
    /// Parses a kubeconfig; an empty file is an empty kubeconfig.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KubeconfigError> {
        let bad = |detail: String| KubeconfigError::Parse {
            path: path.to_owned(),
            detail,
        };
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            yaml_serde::from_str(text).map_err(|e| bad(single_line(&e.to_string())))?
        };
        let doc = match value {
            Value::Null => return Ok(Self::default()),
            Value::Mapping(m) => m,
            _ => return Err(bad("the document is not a mapping".into())),
        };
        for key in ["clusters", "users", "contexts"] {
            match doc.get(key) {
                None | Some(Value::Null | Value::Sequence(_)) => {}
                Some(_) => return Err(bad(format!("{key} is not a list"))),
            }
        }
        Ok(Self { doc })
    }

    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<(Self, String)>, KubeconfigError> {
        let read_error = |detail: String| KubeconfigError::Read {
            path: path.to_owned(),
            detail,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_error(e.to_string())),
        };
        if !meta.is_file() || meta.len() > MAX_KUBECONFIG {
            return Err(read_error(
                "not a regular file of a kubeconfig's size".into(),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        Ok(Some((Self::parse(&text, path)?, text)))
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> String {
        // Serialising a Value built from YAML or strings cannot fail.
        yaml_serde::to_string(&self.doc).unwrap_or_default()
    }

    /// `current-context`, when set.
    pub fn current_context(&self) -> Option<&str> {
        self.doc
            .get("current-context")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The context names, in file order.
    pub fn context_names(&self) -> Vec<String> {
        self.entries("contexts")
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// A context's `(cluster, user)` names.
    pub fn context(&self, name: &str) -> Option<(Option<String>, Option<String>)> {
        let body = self.entry_body("contexts", name, "context")?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        Some((field("cluster"), field("user")))
    }

    /// A cluster's `server`.
    pub fn cluster_server(&self, name: &str) -> Option<String> {
        self.entry_body("clusters", name, "cluster")?
            .get("server")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The user's `exec` block, when it has one.
    pub fn user_exec(&self, name: &str) -> Option<&Mapping> {
        self.entry_body("users", name, "user")?
            .get("exec")
            .and_then(Value::as_mapping)
    }

    /// Whether a user of that name exists.
    pub fn has_user(&self, name: &str) -> bool {
        self.entry_body("users", name, "user").is_some()
    }

    /// Every user with an `exec` block, mutable, in file order.
    pub fn exec_users_mut(&mut self) -> impl Iterator<Item = (String, &mut Mapping)> {
        self.doc
            .get_mut("users")
            .and_then(Value::as_sequence_mut)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let entry = entry.as_mapping_mut()?;
                let name = entry.get("name").and_then(Value::as_str)?.to_owned();
                let exec = entry
                    .get_mut("user")?
                    .as_mapping_mut()?
                    .get_mut("exec")?
                    .as_mapping_mut()?;
                Some((name, exec))
            })
    }

    /// Adds or updates a cluster's server and CA data, keeping its other fields
    /// (`proxy-url`, `tls-server-name`, extensions …).
    pub fn set_cluster(&mut self, name: &str, server: &str, ca_data: &str) {
        let body = self.entry_body_mut("clusters", name, "cluster");
        body.insert("server".into(), server.into());
        body.insert("certificate-authority-data".into(), ca_data.into());
        // A CA file would be a second, stale source for the same trust.
        body.remove("certificate-authority");
    }

    /// Adds or replaces a user whose only credential is `exec`, as the AWS CLI does: any
    /// other credential left in the user would compete with it.
    pub fn set_exec_user(&mut self, name: &str, exec: Mapping) {
        let body = self.entry_body_mut("users", name, "user");
        body.clear();
        body.insert("exec".into(), Value::Mapping(exec));
    }

    /// Adds or updates a context, keeping its namespace and other fields.
    pub fn set_context(&mut self, name: &str, cluster: &str, user: &str) -> Change {
        let existed = self.entry_body("contexts", name, "context").cloned();
        let body = self.entry_body_mut("contexts", name, "context");
        body.insert("cluster".into(), cluster.into());
        body.insert("user".into(), user.into());
        match existed {
            None => Change::Added,
            Some(before) if &before == body => Change::Unchanged,
            Some(_) => Change::Updated,
        }
    }

    /// Sets `current-context`.
    pub fn set_current_context(&mut self, name: &str) {
        self.doc.insert("current-context".into(), name.into());
    }

    fn entries(&self, list: &str) -> impl Iterator<Item = &Mapping> {
        self.doc
            .get(list)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_mapping)
    }

    fn entry_body(&self, list: &str, name: &str, body: &str) -> Option<&Mapping> {
        self.entries(list)
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name))?
            .get(body)
            .and_then(Value::as_mapping)
    }

    /// The named entry's body, created (with the list) when missing.
    fn entry_body_mut(&mut self, list: &str, name: &str, body: &str) -> &mut Mapping {
        let seq = self
            .doc
            .entry(list.into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if !seq.is_sequence() {
            *seq = Value::Sequence(Vec::new());
        }
        let Value::Sequence(seq) = seq else {
            unreachable!("made a sequence above")
        };
        let at = seq.iter().position(|e| {
            e.as_mapping()
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                == Some(name)
        });
        let at = at.unwrap_or_else(|| {
            let mut entry = Mapping::new();
            entry.insert("name".into(), name.into());
            seq.push(Value::Mapping(entry));
            seq.len() - 1
        });
        let entry = seq[at].as_mapping_mut().expect("entry found by its name");
        let slot = entry
            .entry(body.into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !slot.is_mapping() {
            *slot = Value::Mapping(Mapping::new());
        }
        slot.as_mapping_mut().expect("made a mapping above")
    }
}

/// Merges kubeconfigs the way kubectl does: the first file to define a name wins, and
/// the first `current-context` set wins.
pub fn merge(files: Vec<Kubeconfig>) -> Kubeconfig {
    let mut merged = Kubeconfig {
        doc: Mapping::new(),
    };
    for file in files {
        for (key, value) in file.doc {
            match (merged.doc.get_mut(&key), value) {
                (None, value) => {
                    merged.doc.insert(key, value);
                }
                (Some(Value::Sequence(have)), Value::Sequence(more)) => {
                    for item in more {
                        let name = item.get("name").cloned();
                        if !have
                            .iter()
                            .any(|h| h.get("name").is_some() && h.get("name") == name.as_ref())
                        {
                            have.push(item);
                        }
                    }
                }
                (Some(Value::Null), value) => {
                    merged.doc.insert(key, value);
                }
                (Some(_), _) => {}
            }
        }
    }
    merged
}

/// An exec block value: the ordered mapping kubeconfig writers use.
pub fn exec_block(
    api_version: &str,
    command: &str,
    args: &[String],
    env: &[(String, String)],
    interactive_mode: Option<&str>,
) -> Mapping {
    let mut exec = Mapping::new();
    exec.insert("apiVersion".into(), api_version.into());
    exec.insert("command".into(), command.into());
    exec.insert(
        "args".into(),
        Value::Sequence(args.iter().map(|a| a.as_str().into()).collect()),
    );
    if !env.is_empty() {
        let env = env
            .iter()
            .map(|(name, value)| {
                let mut var = Mapping::new();
                var.insert("name".into(), name.as_str().into());
                var.insert("value".into(), value.as_str().into());
                Value::Mapping(var)
            })
            .collect();
        exec.insert("env".into(), Value::Sequence(env));
    }
    if let Some(mode) = interactive_mode {
        exec.insert("interactiveMode".into(), mode.into());
    }
    exec
}

/// Reads a string field of an exec block.
pub fn exec_str<'a>(exec: &'a Mapping, key: &str) -> Option<&'a str> {
    exec.get(key).and_then(Value::as_str)
}

/// An exec block's `args` as strings (`None` when one is not a string).
pub fn exec_args(exec: &Mapping) -> Option<Vec<String>> {
    match exec.get("args") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

/// An exec block's `env` as name/value pairs (entries that are not both strings skipped).
pub fn exec_env(exec: &Mapping) -> Vec<(String, String)> {
    exec.get("env")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let name = v.get("name")?.as_str()?;
            let value = v.get("value")?.as_str()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Where [`write`] put things.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
}

/// Replaces `path` with `text` atomically (a 0600 temp file in the same directory, then
/// rename), after copying the previous file to `<path>.bak`. A symlinked kubeconfig is
/// written through to its target.
pub fn write(path: &Path, text: &str) -> Result<Written, KubeconfigError> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let fail = |what: &str, e: std::io::Error| KubeconfigError::Write {
        path: path.to_owned(),
        detail: format!("{what}: {e}"),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir).map_err(|e| fail("cannot create the directory", e))?;
    let backup = match std::fs::read(&target) {
        Ok(previous) => {
            let mut name = target.as_os_str().to_owned();
            name.push(".bak");
            let backup = PathBuf::from(name);
            write_new_private(&backup, &previous, true)
                .map_err(|e| fail("cannot write the backup", e))?;
            Some(backup)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail("cannot read the previous file", e)),
    };
    let file_name = target
        .file_name()
        .map_or_else(|| "kubeconfig".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{file_name}.eks-token-{}.tmp", std::process::id()));
    let result = write_new_private(&temp, text.as_bytes(), false)
        .and_then(|()| std::fs::rename(&temp, &target));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(fail("cannot replace the file", e));
    }
    Ok(Written {
        path: target,
        backup,
    })
}

fn write_new_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // An existing backup keeps its old mode on open: make it private too.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CLUSTERS: &str = "apiVersion: v1
kind: Config
clusters:
- name: a
  cluster:
    server: https://a.example
    proxy-url: http://proxy:3128
    certificate-authority: /etc/a.pem
- name: b
  cluster:
    server: https://b.example
users:
- name: a
  user:
    token: abc
- name: b
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, b]
contexts:
- name: a
  context: {cluster: a, user: a, namespace: team-a}
current-context: a
x-custom: {keep: me}
";

    fn parse(text: &str) -> Kubeconfig {
        Kubeconfig::parse(text, Path::new("k")).unwrap()
    }

    #[test]
    fn target_path_prefers_flag_then_first_kubeconfig_path() {
        let home = Path::new("/home/u");
        assert_eq!(
            target_path(Some(Path::new("/f")), Some(OsStr::new("/a:/b")), Some(home)).unwrap(),
            Path::new("/f")
        );
        assert_eq!(
            target_path(None, Some(OsStr::new(":/a:/b")), Some(home)).unwrap(),
            Path::new("/a")
        );
        assert_eq!(
            target_path(None, Some(OsStr::new("")), Some(home)).unwrap(),
            Path::new("/home/u/.kube/config")
        );
        assert!(target_path(None, None, None).is_err());
        assert_eq!(
            read_paths(None, Some(OsStr::new("/a:/b")), Some(home)).unwrap(),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn updates_keep_other_entries_and_unknown_fields() {
        let mut k = parse(TWO_CLUSTERS);
        k.set_cluster("a", "https://new.example", "Q0E=");
        assert_eq!(k.set_context("a", "a", "a"), Change::Unchanged);
        assert_eq!(k.set_context("c", "a", "a"), Change::Added);
        let out = parse(&k.to_yaml());
        let a = out.entry_body("clusters", "a", "cluster").unwrap();
        assert_eq!(a.get("server").unwrap(), "https://new.example");
        assert_eq!(a.get("proxy-url").unwrap(), "http://proxy:3128");
        assert_eq!(a.get("certificate-authority"), None);
        assert_eq!(
            out.doc.get("x-custom"),
            parse(TWO_CLUSTERS).doc.get("x-custom")
        );
        assert_eq!(
            out.entry_body("contexts", "a", "context")
                .unwrap()
                .get("namespace")
                .unwrap(),
            "team-a"
        );
        assert_eq!(
            out.entry_body("users", "b", "user"),
            parse(TWO_CLUSTERS).entry_body("users", "b", "user")
        );
        assert_eq!(out.context_names(), vec!["a", "c"]);
    }

    #[test]
    fn exec_user_replaces_other_credentials() {
        let mut k = parse(TWO_CLUSTERS);
        let exec = exec_block(
            "client.authentication.k8s.io/v1",
            "eks-token",
            &["token".into()],
            &[],
            Some("IfAvailable"),
        );
        k.set_exec_user("a", exec.clone());
        assert_eq!(k.user_exec("a"), Some(&exec));
        assert_eq!(k.entry_body("users", "a", "user").unwrap().len(), 1);
    }

    #[test]
    fn empty_and_invalid_documents() {
        assert_eq!(parse(""), Kubeconfig::default());
        assert_eq!(parse("\n"), Kubeconfig::default());
        assert!(Kubeconfig::parse("[1, 2]", Path::new("k")).is_err());
        assert!(Kubeconfig::parse("clusters: 3", Path::new("k")).is_err());
        assert!(Kubeconfig::parse("a: [", Path::new("k")).is_err());
    }

    #[test]
    fn merge_first_definition_wins() {
        let first = parse("current-context: one\nusers:\n- name: u\n  user: {token: first}\n");
        let second = parse(
            "current-context: two\nusers:\n- name: u\n  user: {token: second}\n- name: v\n  user: {token: v}\n",
        );
        let m = merge(vec![first, second]);
        assert_eq!(m.current_context(), Some("one"));
        assert_eq!(
            m.entry_body("users", "u", "user")
                .unwrap()
                .get("token")
                .unwrap(),
            "first"
        );
        assert!(m.has_user("v"));
    }

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
}

//! The kubeconfig document: which file, loading and merging, and its entries. The
//! document is edited as a generic YAML value, so every entry and field we do not touch
//! is written back with the same meaning ([`emit`] writes what kubectl reads); [`write`]
//! replaces the file atomically, 0600, keeping a `.bak`.

mod emit;
mod exec;
mod write;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use crate::message::single_line;

pub use emit::list as yaml_list;
pub use exec::{
    ExecApiVersion, ExecConfig, ExecEnvVar, ExecProblem, InteractiveMode, UnreadableExec,
};
pub use write::{Written, write};

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
    /// The kubeconfig's mode leaves its owner no write permission.
    #[error("{path} is read-only (mode {mode:04o})")]
    ReadOnly { path: PathBuf, mode: u32 },
    /// The directory holding the kubeconfig leaves its owner no write permission.
    #[error("cannot replace {path}: {dir} is read-only (mode {mode:04o})")]
    ReadOnlyDirectory {
        path: PathBuf,
        dir: PathBuf,
        mode: u32,
    },
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
            Self::ReadOnly { path, .. } | Self::ReadOnlyDirectory { dir: path, .. } => {
                Some(format!(
                    "make it writable (chmod u+w {}) if eks-token may change it, or pass --kubeconfig FILE",
                    path.display()
                ))
            }
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
    read_paths(flag, env, home)?
        .into_iter()
        .next()
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
    home.map(|h| vec![h.join(".kube/config")])
        .ok_or(KubeconfigError::NoPath)
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
        let mut value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            yaml_serde::from_str(text).map_err(|e| bad(single_line(&e.to_string())))?
        };
        apply_merges(&mut value);
        let mut doc = match value {
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
        keep_yaml_1_1_booleans(&mut doc);
        Ok(Self { doc })
    }

    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<(Self, String)>, KubeconfigError> {
        let read_error = |detail: String| KubeconfigError::Read {
            path: path.to_owned(),
            detail,
        };
        // Opened once without blocking (a FIFO there would never end) and checked and
        // read through that handle, so the file cannot change kind or grow in between.
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
        let file = match options.open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_error(e.to_string())),
        };
        let meta = file.metadata().map_err(|e| read_error(e.to_string()))?;
        if !meta.is_file() || meta.len() > MAX_KUBECONFIG {
            return Err(read_error(
                "not a regular file of a kubeconfig's size".into(),
            ));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_KUBECONFIG), &mut text)
            .map_err(|e| read_error(e.to_string()))?;
        Ok(Some((Self::parse(&text, path)?, text)))
    }

    /// The YAML text, which kubectl reads back with the same meaning.
    pub fn to_yaml(&self) -> String {
        emit::document(&self.doc)
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

    /// The user's `exec` block, when it has one.
    pub fn user_exec(&self, name: &str) -> Option<Result<ExecConfig, UnreadableExec>> {
        self.entry_body("users", name, "user")?
            .get("exec")
            .and_then(Value::as_mapping)
            .map(ExecConfig::from_mapping)
    }

    /// Whether a user of that name exists.
    pub fn has_user(&self, name: &str) -> bool {
        self.entry_body("users", name, "user").is_some()
    }

    /// Every user with an `exec` block, in file order, to read with
    /// [`ExecConfig::from_mapping`] and change with [`ExecConfig::update`].
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
    pub fn set_exec_user(&mut self, name: &str, exec: &ExecConfig) {
        let body = self.entry_body_mut("users", name, "user");
        body.clear();
        body.insert("exec".into(), Value::Mapping(exec.to_mapping()));
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

/// Applies YAML merge keys (`<<: *base`, yaml.org/type/merge.html), which kubectl's
/// go-yaml applies: a mapping's own keys win, then earlier merged mappings over later
/// ones. A `<<` whose value cannot be merged was a quoted key (go-yaml merges only a plain
/// `<<`, and refuses one with such a value), so it stays a key.
fn apply_merges(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Mapping(map) => {
                let mergeable = match map.get("<<") {
                    Some(Value::Mapping(_)) => true,
                    Some(Value::Sequence(items)) => items.iter().all(Value::is_mapping),
                    _ => false,
                };
                let sources = match mergeable.then(|| map.remove("<<")).flatten() {
                    Some(Value::Sequence(items)) => items,
                    Some(source) => vec![source],
                    None => Vec::new(),
                };
                for mut source in sources {
                    // A merged mapping may merge others itself.
                    apply_merges(&mut source);
                    if let Value::Mapping(source) = source {
                        for (k, v) in source {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
                stack.extend(map.values_mut());
            }
            Value::Sequence(items) => stack.extend(items),
            Value::Tagged(tagged) => stack.push(&mut tagged.value),
            _ => {}
        }
    }
}

/// kubectl's boolean fields (client-go clientcmd/api/v1 types.go: `colors`,
/// `insecure-skip-tls-verify`, `disable-compression`, `provideClusterInfo`) take YAML 1.1
/// booleans: an unquoted `yes` there is true to kubectl. yaml_serde reads it as the
/// string "yes", which would be written back quoted; keep kubectl's meaning instead.
fn keep_yaml_1_1_booleans(doc: &mut Mapping) {
    const FIELDS: [(&str, &[&str]); 3] = [
        ("clusters", &["cluster", "insecure-skip-tls-verify"]),
        ("clusters", &["cluster", "disable-compression"]),
        ("users", &["user", "exec", "provideClusterInfo"]),
    ];
    fn boolean(field: Option<&mut Value>) {
        if let Some(field) = field
            && let Some(b) = field.as_str().and_then(emit::yaml_1_1_bool)
        {
            *field = Value::Bool(b);
        }
    }
    boolean(doc.get_mut("preferences").and_then(|p| p.get_mut("colors")));
    for (list, path) in FIELDS {
        let entries = doc.get_mut(list).and_then(Value::as_sequence_mut);
        for entry in entries.into_iter().flatten() {
            boolean(path.iter().try_fold(entry, |v, key| v.get_mut(key)));
        }
    }
}

/// Whether the kubeconfig text has comments, which a rewrite cannot keep. A `#` at a
/// line's start or after a space is one when removing it through the end of its line
/// leaves the same document; inside a quoted or block scalar, it is text.
pub fn has_comments(text: &str) -> bool {
    // Each candidate that is text costs a parse; kubeconfigs have few.
    const MAX_TRIES: usize = 32;
    let Ok(document) = yaml_serde::from_str::<Value>(text) else {
        return false;
    };
    let candidates: Vec<(usize, usize)> = text
        .match_indices('#')
        .map(|(at, _)| at)
        .filter(|&at| at == 0 || matches!(text.as_bytes()[at - 1], b' ' | b'\t' | b'\n' | b'\r'))
        .map(|at| (at, text[at..].find('\n').map_or(text.len(), |n| at + n)))
        .collect();
    let same_without = |spans: &[(usize, usize)]| {
        let mut rest = String::with_capacity(text.len());
        let mut from = 0;
        for &(start, end) in spans {
            // A later `#` on a line already cut is gone with it.
            if start >= from {
                rest.push_str(&text[from..start]);
                from = end;
            }
        }
        rest.push_str(&text[from..]);
        yaml_serde::from_str::<Value>(&rest).is_ok_and(|v| v == document)
    };
    !candidates.is_empty()
        && (same_without(&candidates)
            || candidates
                .iter()
                .take(MAX_TRIES)
                .any(|span| same_without(std::slice::from_ref(span))))
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
        let exec = ExecConfig {
            api_version: Some(crate::exec_credential::ApiVersion::V1.into()),
            command: "eks-token".into(),
            args: vec!["token".into()],
            interactive_mode: Some(InteractiveMode::IfAvailable),
            ..ExecConfig::default()
        };
        k.set_exec_user("a", &exec);
        assert_eq!(k.user_exec("a").unwrap().unwrap(), exec);
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

    /// How `to_yaml` writes `value` as the value of a key.
    fn written(value: &str) -> String {
        let mut k = Kubeconfig {
            doc: Mapping::new(),
        };
        k.doc.insert("k".into(), value.into());
        let text = k.to_yaml();
        let scalar = text.strip_prefix("k: ").unwrap_or(&text);
        scalar.strip_suffix('\n').unwrap_or(scalar).to_owned()
    }

    /// Whether YAML text reads back as the one-key document `{k: value}`.
    fn reads_back(text: &str, value: &str) -> bool {
        let back: Value = yaml_serde::from_str(&format!("k: {text}\n")).unwrap();
        back.get("k") == Some(&Value::from(value))
    }

    /// Every form that YAML 1.1 (yaml.org/type/{bool,null,int,float,timestamp,merge,value})
    /// or go-yaml v2's resolve.go, which kubectl reads kubeconfigs with, takes for something
    /// other than a string.
    #[rustfmt::skip]
    const YAML_1_1_NOT_STRINGS: &[&str] = &[
        // bool
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        // null
        "", "~", "null", "Null", "NULL",
        // int: decimal, underscores, binary, octal (both spellings), hex, sexagesimal
        "0", "7", "-1", "+1", "1_000", "+_1", "1_", "0b1010", "-0b1_0", "0B11", "017",
        "-017", "0o17", "0O17", "0x1F", "0xff_ff", "0X1f", "-0x_1", "1:20", "-190:20:30",
        // float: decimal, go-yaml's unsigned exponent and `08`, sexagesimal, inf, nan
        "1.0", ".5", "-.5", "+.5", "1.", ".", "1e3", "1E3", "1e+3", "1e-3", ".5e3",
        "6.8523015e+5", "685.230_15e+03", "685_230.15", "08", "0_9", "190:20:30.15",
        ".inf", ".Inf", ".INF", "-.inf", "+.inf", "+.INF", "-.Inf", ".nan", ".NaN", ".NAN",
        // timestamp
        "2001-12-14", "2002-1-2", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
        "2001-12-15T02:59:43.1Z", "2001-12-15 2:59:43.10", "2001-12-14\t21:59:43",
        // merge, value
        "<<", "=",
    ];

    #[test]
    fn strings_yaml_1_1_reads_as_other_types_are_quoted() {
        for s in YAML_1_1_NOT_STRINGS {
            let text = written(s);
            let quoted = if s.contains('\t') {
                format!("\"{}\"", s.replace('\t', "\\t"))
            } else {
                format!("'{s}'")
            };
            assert_eq!(text, quoted, "{s:?}");
            assert!(reads_back(&text, s), "{s:?}");
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for s in [
            "team-a",
            "prod",
            "arn:aws:eks:eu-west-1:123456789012:cluster/prod",
            "https://4PnSD0Vyo2dEzzIYbHy6.L4M.eu-west-1.eks.amazonaws.com/",
            "http://proxy:3128",
            "https://x.example/a?b=c#frag",
            "client.authentication.k8s.io/v1beta1",
            "IfAvailable",
            "eks-token",
            "--cluster-id",
            "-i",
            "eu-west-1",
            "AWS_PROFILE",
            "Q0E=",
            "k8s-aws-v1.abc",
            "Install gke-gcloud-auth-plugin for use with kubectl",
            "10.0.0.1",
            "0.0.0.0:8080",
            "1.2.3",
            "v1.27",
            "1a",
            "0xZZ",
            "12-34",
            "2001-12",
            "yes-please",
            "no_proxy",
            "noo",
            "nO",
            "oFF",
            "~user",
            ".config",
            "_1",
            "+",
            "a:b",
            "a,b",
            "a#b",
            "a'b",
            "a\"b",
            "über",
            "日本語",
        ] {
            assert_eq!(written(s), s, "{s:?}");
            assert!(reads_back(s, s), "{s:?}");
        }
    }

    #[test]
    fn strings_that_cannot_be_plain_are_quoted() {
        for s in [
            "- a", "-", "--- a", "---", "...", "a: b", "a:", "a #b", "#a", " a", "a ", "&a", "*a",
            "!a", "|", ">", "'a", "\"a", "%a", "@a", "`a", "[a", "]", "{a", "}", ",a", "?", "? a",
            ":", ":a",
        ] {
            let text = written(s);
            assert!(text.starts_with('\''), "{s:?} as {text}");
            assert!(reads_back(&text, s), "{s:?} as {text}");
        }
        // Characters a single-quoted scalar cannot hold are escaped in double quotes.
        for s in [
            "a\tb",
            "\u{85}",
            "a\u{2028}b",
            "a\u{2029}",
            "\u{feff}a",
            "bell\u{7}",
            "\u{7f}",
            "a\rb",
            "\u{0}",
            "\u{1b}[31m",
        ] {
            let text = written(s);
            assert!(text.starts_with('"'), "{s:?} as {text}");
            assert!(text.is_ascii(), "{s:?} as {text}");
            assert!(reads_back(&text, s), "{s:?} as {text}");
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_when_they_can_be() {
        for (s, text) in [
            ("one\ntwo", "|-\n  one\n  two"),
            ("one\n", "|\n  one"),
            ("one\n\n", "|+\n  one\n"),
            (
                "one\n  indented\n\nlast",
                "|-\n  one\n    indented\n\n  last",
            ),
            ("# not a comment\n---", "|-\n  # not a comment\n  ---"),
        ] {
            assert_eq!(written(s), text, "{s:?}");
            assert!(reads_back(text, s), "{s:?}");
        }
        for s in [" lead\nx", "\nx", "trail \nx", "x\n ", "x\n\ty", "a\r\nb"] {
            let text = written(s);
            assert!(text.starts_with('"'), "{s:?} as {text}");
            assert!(reads_back(&text, s), "{s:?} as {text}");
        }
    }

    #[test]
    fn keys_are_quoted_by_the_same_rule() {
        let mut k = Kubeconfig {
            doc: Mapping::new(),
        };
        for key in ["no", "<<", "1_000", "a: b", "plain"] {
            k.doc.insert(key.into(), "v".into());
        }
        assert_eq!(
            k.to_yaml(),
            "'no': v\n'<<': v\n'1_000': v\n'a: b': v\nplain: v\n"
        );
    }

    #[test]
    fn merge_keys_are_applied_when_reading() {
        let k = parse(
            "x-exec: &aws
  apiVersion: client.authentication.k8s.io/v1beta1
  command: aws
  args: [eks, get-token, --cluster-name, prod]
users:
- name: a
  user:
    exec:
      <<: *aws
      command: /usr/bin/aws
- name: b
  user:
    <<: [{exec: *aws}, {token: t}]
extensions:
- name: e
  extension: {'<<': kept}
",
        );
        let a = k.user_exec("a").unwrap().unwrap();
        assert_eq!(a.command, "/usr/bin/aws");
        assert_eq!(
            a.api_version.unwrap().as_str(),
            "client.authentication.k8s.io/v1beta1"
        );
        assert_eq!(k.user_exec("b").unwrap().unwrap().command, "aws");
        assert_eq!(
            k.entry_body("users", "b", "user")
                .unwrap()
                .get("token")
                .unwrap(),
            "t"
        );
        // A `<<` whose value cannot be merged was a quoted key: it stays one, as for kubectl.
        assert!(k.to_yaml().contains("'<<': kept"), "{}", k.to_yaml());
    }

    #[test]
    fn kubectl_boolean_fields_keep_their_yaml_1_1_meaning() {
        let k = parse(
            "preferences: {colors: yes}
clusters:
- name: a
  cluster: {server: 'yes', insecure-skip-tls-verify: Y, disable-compression: Off}
users:
- name: a
  user:
    exec: {command: x, provideClusterInfo: on, installHint: 'no'}
",
        );
        let text = k.to_yaml();
        for line in [
            "  colors: true",
            "    server: 'yes'",
            "    insecure-skip-tls-verify: true",
            "    disable-compression: false",
            "      provideClusterInfo: true",
            "      installHint: 'no'",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }

    #[test]
    fn comments_are_told_from_text_that_looks_like_one() {
        for text in [
            "# header\napiVersion: v1\n",
            "apiVersion: v1 # trailing\n",
            "a:\n  # indented\n  b: c\n",
            "a: 'x #y' # after a quoted #\n",
            "a: |\n  #text\n# after a block\n",
            "a: [1, 2] # two on a line # here\n",
        ] {
            assert!(has_comments(text), "{text:?}");
        }
        for text in [
            "",
            "apiVersion: v1\n",
            "url: http://x/#fragment\n",
            "a: b#c\n",
            "a: 'x #y'\n",
            "a: \"#y\"\n",
            "a: |\n  # text\n  more\n",
            "a: \"x\n  #y\"\n",
            "not: [yaml\n# comment\n",
        ] {
            assert!(!has_comments(text), "{text:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Strings of every kind: YAML 1.1 look-alikes, indicators, line breaks, anything.
    fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "no",
                "Yes",
                "~",
                "",
                "1_000",
                "0o17",
                ".5",
                "1:20",
                "2001-12-14",
                "<<",
                "=",
                "- a",
                "a: b",
                "#",
                " x",
                "x ",
                "'",
                "\"",
                "\\",
                "\n",
                "a\n",
                "\n\n",
                " \n",
                "\t",
                "\r",
                "\u{85}",
                "\u{2028}",
                "\u{feff}",
                "---",
                "...",
                "?",
                ":",
            ])
            .prop_map(str::to_owned),
            "[-a-z0-9 :#'\"\\\\.,\\[\\]{}&*!|>%@`?~_=+\n\t]{0,12}",
            "[-+0-9._:eExXoOb]{1,8}",
            any::<String>(),
        ]
    }

    /// Mapping keys: mostly strings, sometimes any value (written as `? key`).
    fn key() -> impl Strategy<Value = Value> {
        prop_oneof![4 => string().prop_map(Value::from), 1 => value()]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            string().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Sequence),
                prop::collection::vec((string(), inner.clone()), 0..6).prop_map(|entries| {
                    Value::Mapping(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
                }),
                prop::collection::vec((inner.clone(), inner), 0..3)
                    .prop_map(|entries| Value::Mapping(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct("tests/proptest-regressions/kubeconfig.txt"),
            )),
            ..ProptestConfig::default()
        })]

        /// Whatever a kubeconfig holds, the YAML written for it reads back as the same value.
        #[test]
        fn written_yaml_reads_back_the_same(
            entries in prop::collection::vec((key(), value()), 0..8)
        ) {
            let doc: Mapping = entries.into_iter().collect();
            let text = Kubeconfig { doc: doc.clone() }.to_yaml();
            let back: Mapping = yaml_serde::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, doc, "{}", text);
        }
    }
}

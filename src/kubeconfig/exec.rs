//! A kubeconfig user's `exec` block, typed: client-go's `ExecConfig`
//! (k8s.io/client-go/tools/clientcmd/api/v1 types.go) field for field, with the fields
//! it does not know kept as they are, and the rules kubectl applies to it before running
//! the plugin (client-go tools/clientcmd/validation.go and plugin/pkg/client/auth/exec).

use serde::{Deserialize, Deserializer, Serialize};
use yaml_serde::{Mapping, Value};

use crate::exec_credential::{ApiVersion, V1ALPHA1};

/// An `exec` block. Serialized in the order eks-token writes a new block; the fields of
/// a block read from a file that no type here knows are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    /// The ExecCredential version kubectl asks the plugin for; `None` when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<ExecApiVersion>,
    /// The program, found on PATH, or relative to the kubeconfig's directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Added to kubectl's own environment for the plugin.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<ExecEnvVar>,
    /// Whether the plugin may use kubectl's stdin; required with `apiVersion` v1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_mode: Option<InteractiveMode>,
    /// A boolean (YAML 1.1 spellings were made booleans when the document was read);
    /// `None` when missing, which kubectl takes as false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provide_cluster_info: Option<bool>,
    /// What kubectl prints when the command is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
    /// Fields client-go has and we do not model, or that a newer client-go added.
    #[serde(flatten)]
    pub extra: Mapping,
}

/// One `env` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEnvVar {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// An exec block's `apiVersion`: one kubectl accepts, the one it removed, or anything
/// else, kept as written so doctor can name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ExecApiVersion {
    /// v1 or v1beta1: what eks-token answers with.
    Accepted(ApiVersion),
    /// `client.authentication.k8s.io/v1alpha1`, refused since kubectl 1.24.
    V1Alpha1,
    Unknown(String),
}

/// An exec block's `interactiveMode` (client-go `ExecInteractiveMode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InteractiveMode {
    /// The plugin never gets stdin.
    Never,
    /// The plugin gets stdin when kubectl has one; what eks-token writes.
    IfAvailable,
    /// kubectl fails without a stdin to give.
    Always,
    /// Anything else, as written: kubectl refuses it.
    Unknown(String),
}

/// An exec block with a field of the wrong type.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct UnreadableExec {
    pub field: String,
    pub detail: String,
}

/// Something in an exec block that makes kubectl refuse to run the plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecProblem {
    /// `apiVersion` v1 without `interactiveMode` (validation.go: "interactiveMode must be
    /// specified").
    NoInteractiveMode,
    /// `apiVersion` v1alpha1, removed in kubectl 1.24.
    RemovedApiVersion,
    /// An `apiVersion` no kubectl knows, or none ("" then).
    UnknownApiVersion(String),
    /// An `interactiveMode` other than Never, IfAvailable and Always (validation.go:
    /// "invalid interactiveMode").
    UnknownInteractiveMode(String),
}

impl ExecApiVersion {
    /// The `apiVersion` string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Accepted(version) => version.as_str(),
            Self::V1Alpha1 => V1ALPHA1,
            Self::Unknown(text) => text,
        }
    }
}

impl From<ApiVersion> for ExecApiVersion {
    fn from(version: ApiVersion) -> Self {
        Self::Accepted(version)
    }
}

impl From<String> for ExecApiVersion {
    fn from(text: String) -> Self {
        ApiVersion::parse(&text).map_or_else(
            || {
                if text == V1ALPHA1 {
                    Self::V1Alpha1
                } else {
                    Self::Unknown(text)
                }
            },
            Self::Accepted,
        )
    }
}

impl From<ExecApiVersion> for String {
    fn from(version: ExecApiVersion) -> Self {
        match version {
            ExecApiVersion::Unknown(text) => text,
            known => known.as_str().to_owned(),
        }
    }
}

impl InteractiveMode {
    /// The `interactiveMode` string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Never => "Never",
            Self::IfAvailable => "IfAvailable",
            Self::Always => "Always",
            Self::Unknown(text) => text,
        }
    }
}

impl From<String> for InteractiveMode {
    fn from(text: String) -> Self {
        match text.as_str() {
            "Never" => Self::Never,
            "IfAvailable" => Self::IfAvailable,
            "Always" => Self::Always,
            _ => Self::Unknown(text),
        }
    }
}

impl From<InteractiveMode> for String {
    fn from(mode: InteractiveMode) -> Self {
        match mode {
            InteractiveMode::Unknown(text) => text,
            known => known.as_str().to_owned(),
        }
    }
}

/// A list that may be written `null`, as Go's decoder takes it.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

impl ExecConfig {
    /// Reads a block from the document. A field of the wrong type is an error, as it is
    /// for kubectl, which then cannot load the kubeconfig at all.
    pub fn from_mapping(block: &Mapping) -> Result<Self, UnreadableExec> {
        let read = |block: Mapping| yaml_serde::from_value::<Self>(Value::Mapping(block));
        read(block.clone()).map_err(|error| {
            // Read from a value, serde names no field: find the one that fails alone.
            let field = block
                .iter()
                .find(|&(k, v)| read(Mapping::from_iter([(k.clone(), v.clone())])).is_err())
                .and_then(|(k, _)| k.as_str());
            UnreadableExec {
                field: field.unwrap_or("exec").to_owned(),
                detail: error.to_string(),
            }
        })
    }

    /// The block as a YAML mapping, for the document (which [`super::emit`] writes).
    pub fn to_mapping(&self) -> Mapping {
        match yaml_serde::to_value(self) {
            Ok(Value::Mapping(block)) => block,
            other => unreachable!("an ExecConfig serialises to a mapping, not {other:?}"),
        }
    }

    /// Writes the fields that differ from `before` (what `block` was read as) into `block`,
    /// leaving every other key as written and in its place: a rewrite changes only what it
    /// changed.
    pub fn update(&self, before: &Self, block: &mut Mapping) {
        let (old, new) = (before.to_mapping(), self.to_mapping());
        for key in old.keys().filter(|k| !new.contains_key(*k)) {
            block.remove(key);
        }
        for (key, value) in new {
            if old.get(&key) != Some(&value) {
                block.insert(key, value);
            }
        }
    }

    /// `env` as name/value pairs.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    }

    /// What kubectl would refuse in this block, in the order it checks.
    pub fn problems(&self) -> Vec<ExecProblem> {
        let mut problems = Vec::new();
        match &self.api_version {
            Some(ExecApiVersion::Accepted(ApiVersion::V1)) if self.interactive_mode.is_none() => {
                problems.push(ExecProblem::NoInteractiveMode);
            }
            Some(ExecApiVersion::Accepted(_)) => {}
            Some(ExecApiVersion::V1Alpha1) => problems.push(ExecProblem::RemovedApiVersion),
            Some(ExecApiVersion::Unknown(text)) => {
                problems.push(ExecProblem::UnknownApiVersion(text.clone()));
            }
            None => problems.push(ExecProblem::UnknownApiVersion(String::new())),
        }
        if let Some(InteractiveMode::Unknown(mode)) = &self.interactive_mode {
            problems.push(ExecProblem::UnknownInteractiveMode(mode.clone()));
        }
        problems
    }
}

impl ExecProblem {
    /// What is wrong, for the exec block of `user`.
    pub fn describe(&self, user: &str) -> String {
        match self {
            Self::NoInteractiveMode => format!(
                "user {user}: exec apiVersion {} without interactiveMode; kubectl refuses to run the plugin",
                ApiVersion::V1.as_str()
            ),
            Self::RemovedApiVersion => format!(
                "user {user}: exec apiVersion {V1ALPHA1} is no longer accepted by kubectl (1.24 and later)"
            ),
            Self::UnknownApiVersion(text) => {
                format!("user {user}: unknown exec apiVersion {text:?}")
            }
            Self::UnknownInteractiveMode(text) => format!(
                "user {user}: unknown exec interactiveMode {text:?}; kubectl refuses to run the plugin"
            ),
        }
    }

    /// How to fix it.
    pub fn fix(&self, user: &str) -> String {
        match self {
            Self::NoInteractiveMode | Self::UnknownInteractiveMode(_) => {
                format!("add `interactiveMode: IfAvailable` to the exec block of user {user}")
            }
            Self::RemovedApiVersion => format!(
                "set `apiVersion: {}` in the exec block of user {user}",
                ApiVersion::V1Beta1.as_str()
            ),
            Self::UnknownApiVersion(_) => format!(
                "use {} with `interactiveMode: IfAvailable`",
                ApiVersion::V1.as_str()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(yaml: &str) -> Mapping {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn parse(yaml: &str) -> ExecConfig {
        ExecConfig::from_mapping(&block(yaml)).unwrap()
    }

    #[test]
    fn every_client_go_field_is_read() {
        let exec = parse(
            "apiVersion: client.authentication.k8s.io/v1
command: eks-token
args: [token, -i, c]
env: [{name: AWS_PROFILE, value: dev}]
interactiveMode: IfAvailable
provideClusterInfo: true
installHint: install it
",
        );
        assert_eq!(
            exec,
            ExecConfig {
                api_version: Some(ApiVersion::V1.into()),
                command: "eks-token".into(),
                args: vec!["token".into(), "-i".into(), "c".into()],
                env: vec![ExecEnvVar {
                    name: "AWS_PROFILE".into(),
                    value: "dev".into()
                }],
                interactive_mode: Some(InteractiveMode::IfAvailable),
                provide_cluster_info: Some(true),
                install_hint: Some("install it".into()),
                extra: Mapping::new(),
            }
        );
        assert_eq!(exec.env_pairs(), [("AWS_PROFILE".into(), "dev".into())]);
    }

    #[test]
    fn a_block_with_unknown_fields_is_written_back_unchanged() {
        let text = "apiVersion: client.authentication.k8s.io/v1beta1
command: aws
args:
- eks
- get-token
env:
- name: AWS_PROFILE
  value: dev
interactiveMode: Never
provideClusterInfo: false
installHint: 'no'
pluginPolicy:
  allowlist:
  - aws
x-vendor:
- 1
- deep: true
";
        let original = block(text);
        let exec = ExecConfig::from_mapping(&original).unwrap();
        assert_eq!(exec.extra.len(), 2);
        assert_eq!(exec.to_mapping(), original);
        // In eks-token's order the text itself comes back, quoting and all.
        let mut doc = Mapping::new();
        doc.insert("exec".into(), Value::Mapping(exec.to_mapping()));
        let written = super::super::emit::document(&doc);
        let indented: String = text.lines().map(|l| format!("  {l}\n")).collect();
        assert_eq!(written, format!("exec:\n{indented}"));
    }

    #[test]
    fn unknown_versions_and_modes_are_kept_as_written() {
        let exec = parse("apiVersion: x/v9\ncommand: c\ninteractiveMode: Sometimes\n");
        assert_eq!(
            exec.api_version,
            Some(ExecApiVersion::Unknown("x/v9".into()))
        );
        assert_eq!(
            exec.interactive_mode,
            Some(InteractiveMode::Unknown("Sometimes".into()))
        );
        assert_eq!(
            exec.to_mapping(),
            block("apiVersion: x/v9\ncommand: c\ninteractiveMode: Sometimes\n")
        );
        assert_eq!(
            parse(&format!("apiVersion: {V1ALPHA1}\n")).api_version,
            Some(ExecApiVersion::V1Alpha1)
        );
    }

    #[test]
    fn null_and_missing_lists_are_empty() {
        for text in ["command: c\n", "command: c\nargs: null\nenv: ~\n"] {
            let exec = parse(text);
            assert!(exec.args.is_empty() && exec.env.is_empty(), "{text}");
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_it() {
        for (text, field) in [
            ("command: c\nargs: [1, {a: b}]", "args"),
            ("env: [[a]]", "env"),
            ("command: [a]", "command"),
            ("provideClusterInfo: maybe", "provideClusterInfo"),
        ] {
            let error = ExecConfig::from_mapping(&block(text)).unwrap_err();
            assert_eq!(error.field, field, "{text}: {error}");
            assert!(
                error.to_string().starts_with(&format!("{field}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn the_rules_kubectl_applies() {
        let problems = |text: &str| parse(text).problems();
        let v1 = ApiVersion::V1.as_str();
        let v1beta1 = ApiVersion::V1Beta1.as_str();
        assert_eq!(
            problems(&format!("apiVersion: {v1}\ninteractiveMode: IfAvailable\n")),
            []
        );
        assert_eq!(problems(&format!("apiVersion: {v1beta1}\n")), []);
        assert_eq!(
            problems(&format!("apiVersion: {v1}\n")),
            [ExecProblem::NoInteractiveMode]
        );
        assert_eq!(
            problems(&format!("apiVersion: {V1ALPHA1}\n")),
            [ExecProblem::RemovedApiVersion]
        );
        assert_eq!(
            problems("apiVersion: x/v9\n"),
            [ExecProblem::UnknownApiVersion("x/v9".into())]
        );
        assert_eq!(
            problems("command: c\n"),
            [ExecProblem::UnknownApiVersion(String::new())]
        );
        assert_eq!(
            problems(&format!(
                "apiVersion: {v1beta1}\ninteractiveMode: sometimes\n"
            )),
            [ExecProblem::UnknownInteractiveMode("sometimes".into())]
        );
        assert_eq!(
            ExecProblem::NoInteractiveMode.describe("u"),
            "user u: exec apiVersion client.authentication.k8s.io/v1 without interactiveMode; kubectl refuses to run the plugin"
        );
        assert_eq!(
            ExecProblem::RemovedApiVersion.fix("u"),
            "set `apiVersion: client.authentication.k8s.io/v1beta1` in the exec block of user u"
        );
    }

    #[test]
    fn an_update_changes_only_what_changed() {
        let original = block(
            "command: aws
x-first: 1
args: [eks]
provideClusterInfo: false
apiVersion: client.authentication.k8s.io/v1alpha1
env: [{name: A, value: b, note: kept}]
",
        );
        let before = ExecConfig::from_mapping(&original).unwrap();
        let mut after = before.clone();
        after.command = "eks-token".into();
        after.args = vec!["token".into()];
        after.api_version = Some(ApiVersion::V1Beta1.into());
        after.install_hint = Some("get it".into());
        let mut updated = original.clone();
        after.update(&before, &mut updated);
        let keys: Vec<&str> = updated.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "command",
                "x-first",
                "args",
                "provideClusterInfo",
                "apiVersion",
                "env",
                "installHint"
            ]
        );
        assert_eq!(updated["command"], "eks-token");
        assert_eq!(
            updated["apiVersion"],
            "client.authentication.k8s.io/v1beta1"
        );
        // The env entry's field client-go does not know is still there.
        assert_eq!(updated["env"], original["env"]);
        assert_eq!(ExecConfig::from_mapping(&updated).unwrap(), after);
    }
}

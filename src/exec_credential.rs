//! The client-go exec credential protocol: what kubectl asks for in
//! `KUBERNETES_EXEC_INFO` and the `ExecCredential` we print (client-go
//! `plugin/pkg/client/auth/exec/exec.go`).

use std::ffi::OsStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The exec credential API versions kubectl still accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiVersion {
    #[serde(rename = "client.authentication.k8s.io/v1")]
    V1,
    /// What client-go assumes when it sends no `KUBERNETES_EXEC_INFO`.
    #[default]
    #[serde(rename = "client.authentication.k8s.io/v1beta1")]
    V1Beta1,
}

impl ApiVersion {
    /// The `apiVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "client.authentication.k8s.io/v1",
            Self::V1Beta1 => "client.authentication.k8s.io/v1beta1",
        }
    }

    /// The version an `apiVersion` string names, if it is one we answer.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::V1, Self::V1Beta1]
            .into_iter()
            .find(|v| v.as_str() == text)
    }
}

/// The exec API kubectl 1.24 and later refuse; kubeconfigs may still name it.
pub const V1ALPHA1: &str = "client.authentication.k8s.io/v1alpha1";

/// What the caller asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// Must be echoed, else client-go fails with "plugin returned version …".
    pub api_version: ApiVersion,
    /// `spec.interactive`: whether kubectl gave us its stdin; `None` when no client sent
    /// an exec request (the plugin was run by hand), which is how a login decides
    /// whether to trust a terminal alone.
    pub interactive: Option<bool>,
    /// Set when the request could not be understood and v1beta1 was assumed.
    pub warning: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecInfo {
    api_version: Option<String>,
    #[serde(default)]
    spec: ExecInfoSpec,
}

#[derive(Deserialize, Default)]
struct ExecInfoSpec {
    #[serde(default)]
    interactive: bool,
}

impl ExecRequest {
    /// Reads `KUBERNETES_EXEC_INFO`: unset or empty → v1beta1; anything unusable →
    /// v1beta1 plus a warning, as the AWS CLI does.
    pub fn from_env_value(raw: Option<&OsStr>) -> Self {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return Self::default();
        };
        let Some(text) = raw.to_str() else {
            return Self::fallback("KUBERNETES_EXEC_INFO is not valid UTF-8".into());
        };
        let info: ExecInfo = match serde_json::from_str(text) {
            Ok(info) => info,
            Err(e) => {
                return Self::fallback(format!("KUBERNETES_EXEC_INFO is not valid JSON ({e})"));
            }
        };
        let interactive = Some(info.spec.interactive);
        let named = info.api_version.as_deref();
        let api_version = match named.map(|v| ApiVersion::parse(v).ok_or(v)) {
            Some(Ok(version)) => version,
            Some(Err(other)) => {
                let other: String = other.chars().filter(|c| !c.is_control()).take(80).collect();
                let why = if other == V1ALPHA1 {
                    format!(
                        "{other} is no longer supported by kubectl; use client.authentication.k8s.io/v1 in the kubeconfig"
                    )
                } else {
                    format!("unknown exec credential apiVersion {other:?}")
                };
                return Self {
                    interactive,
                    ..Self::fallback(why)
                };
            }
            None => {
                return Self {
                    interactive,
                    ..Self::fallback("KUBERNETES_EXEC_INFO has no apiVersion".into())
                };
            }
        };
        Self {
            api_version,
            interactive,
            warning: None,
        }
    }

    fn fallback(why: String) -> Self {
        Self {
            api_version: ApiVersion::V1Beta1,
            // A client sent something it could not say clearly: not interactive.
            interactive: Some(false),
            warning: Some(format!(
                "{why}; answering with {}",
                ApiVersion::V1Beta1.as_str()
            )),
        }
    }
}

/// The object printed on stdout, field for field as client-go reads it.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExecCredential {
    pub kind: String,
    pub api_version: ApiVersion,
    pub spec: Spec,
    pub status: Status,
}

/// `spec` echoes whether the plugin ran interactively.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub struct Spec {
    pub interactive: bool,
}

/// `status` carries the credential.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// RFC 3339, whole seconds, `Z`.
    pub expiration_timestamp: String,
    /// The bearer token; redacted in `Debug`.
    pub token: String,
}

impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Status")
            .field("expiration_timestamp", &self.expiration_timestamp)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

impl ExecCredential {
    /// The answer to `request` carrying `token`.
    pub fn new(request: &ExecRequest, token: &str, expires_at: DateTime<Utc>) -> Self {
        Self {
            kind: "ExecCredential".into(),
            api_version: request.api_version,
            spec: Spec {
                interactive: request.interactive.unwrap_or(false),
            },
            status: Status {
                expiration_timestamp: crate::message::rfc3339(expires_at),
                token: token.into(),
            },
        }
    }

    /// One line of JSON, newline-terminated.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("ExecCredential serialises");
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> ExecRequest {
        ExecRequest::from_env_value(Some(OsStr::new(raw)))
    }

    #[test]
    fn echoes_v1_and_interactive() {
        let r = request(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#,
        );
        assert_eq!(r.api_version, ApiVersion::V1);
        assert_eq!(r.interactive, Some(true));
        assert!(r.warning.is_none());
    }

    #[test]
    fn unset_or_empty_is_v1beta1_without_warning() {
        assert_eq!(ExecRequest::from_env_value(None), ExecRequest::default());
        assert_eq!(request(""), ExecRequest::default());
    }

    #[test]
    fn garbage_and_unknown_versions_fall_back_with_a_warning() {
        for raw in [
            "{",
            "[]",
            r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
            r#"{"apiVersion":"x/v9"}"#,
            r#"{"spec":{}}"#,
        ] {
            let r = request(raw);
            assert_eq!(r.api_version, ApiVersion::V1Beta1, "{raw}");
            assert!(r.warning.is_some(), "{raw}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = ExecCredential::new(
            &ExecRequest::default(),
            "k8s-aws-v1.sentinel",
            DateTime::from_timestamp(0, 0).unwrap(),
        );
        assert!(!format!("{c:?}").contains("sentinel"));
    }

    #[test]
    fn prints_the_wire_format() {
        let expires = DateTime::from_timestamp(1_682_640_840, 0).unwrap();
        let line =
            ExecCredential::new(&ExecRequest::default(), "k8s-aws-v1.abc", expires).to_line();
        assert_eq!(
            line,
            "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"spec\":{\"interactive\":false},\"status\":{\"expirationTimestamp\":\"2023-04-28T00:14:00Z\",\"token\":\"k8s-aws-v1.abc\"}}\n"
        );
    }
}

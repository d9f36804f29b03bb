//! The errors a command can end with, and how they are shown: one line, then a hint.

use std::io::{self, Write};

use crate::cache::CacheError;
use crate::credentials::CredentialsError;
use crate::eks_cluster::ClusterError;
use crate::identity::UnmappableArn;
use crate::kubeconfig::KubeconfigError;
use crate::secrets;
use crate::sts_endpoint::{InvalidRegion, NoDualStack};
use crate::token::{InvalidClusterId, TokenError};

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster id flag or environment variable is unusable.
    #[error("{0}")]
    ClusterId(#[from] InvalidClusterId),
    /// The region is not a region name.
    #[error(transparent)]
    Region(#[from] InvalidRegion),
    /// The partition has no endpoint of the asked-for kind.
    #[error(transparent)]
    Endpoint(#[from] NoDualStack),
    /// No usable credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token cache could not be read or changed (`cache list` / `cache clear`).
    #[error("token cache: {0}")]
    Cache(#[from] CacheError),
    /// No home directory to put the cache in.
    #[error("cannot find the home directory for the token cache")]
    NoHome,
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    /// The caller is not an identity a cluster can map.
    #[error(transparent)]
    Identity(#[from] UnmappableArn),
    /// Access entries take IAM users and roles only.
    #[error("access entries cannot name a {kind} ({arn})")]
    NoAccessEntry { arn: String, kind: &'static str },
    /// DescribeCluster gave nothing usable.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A kubeconfig could not be read, parsed or written.
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    /// `doctor` found something broken.
    #[error("doctor found {count} {}", if *count == 1 { "problem" } else { "problems" })]
    Doctor { count: usize },
}

impl Error {
    /// What to do about it, when there is something to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ClusterId(_) => Some(
                "pass the EKS cluster name (or Outposts cluster id) with --cluster-name".into(),
            ),
            Self::Region(_) => {
                Some("set --region or AWS_REGION to a region such as us-west-2".into())
            }
            Self::Endpoint(_) => Some("unset AWS_USE_DUALSTACK_ENDPOINT (or use_dualstack_endpoint in the profile)".into()),
            Self::Credentials(e) => e.hint(),
            Self::Token(TokenError::CredentialsExpired(_)) => Some(
                "refresh the credentials (`aws sso login`, or a new `aws-vault exec` session)"
                    .into(),
            ),
            Self::Cache(e) => e.hint(),
            Self::NoHome => Some("set HOME, or pass --cache-dir".into()),
            Self::NoAccessEntry { .. } => Some(
                "use --output aws-auth, or sign in as an IAM user or role (a role assumed with --role-arn works)".into(),
            ),
            Self::Cluster(e) => e.hint(),
            Self::Kubeconfig(e) => e.hint(),
            Self::Doctor { .. } => Some(
                "fix each problem as shown above, then run `eks-token doctor` again".into(),
            ),
            Self::Token(_) | Self::Runtime(_) | Self::Identity(_) => None,
        }
    }
}

/// Writes `eks-token: error: …` and `hint: …` to stderr.
pub fn report(err: &Error) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "eks-token: error: {}", shown(&err.to_string()));
    if let Some(hint) = err.hint() {
        let _ = writeln!(stderr, "hint: {}", shown(&hint));
    }
}

/// Writes `eks-token: warning: …` to stderr.
pub fn warn(message: &str) {
    let _ = writeln!(io::stderr(), "eks-token: warning: {}", shown(message));
}

/// Writes `eks-token: note: …` to stderr.
pub fn note(message: &str) {
    let _ = writeln!(io::stderr(), "eks-token: note: {}", shown(message));
}

/// A message as the writers print it: no secret this run knows, one line.
fn shown(message: &str) -> String {
    single_line(&secrets::redact(message))
}

/// Messages are single lines whatever a source error contained, and hold no raw control
/// character (a terminal would act on an escape sequence).
pub fn single_line(text: &str) -> String {
    escape_controls(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Control characters as Rust escapes (`\n`, `\u{1b}`); everything else as it is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_lines_escape_control_characters() {
        assert_eq!(single_line(" a\n\tb  c "), "a b c");
        assert_eq!(single_line("red\u{1b}[31m\u{7}"), r"red\u{1b}[31m\u{7}");
        assert_eq!(escape_controls("a\nb é"), r"a\nb é");
    }
}

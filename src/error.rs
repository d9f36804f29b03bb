//! The errors a command can end with, and how they are shown: one line, then a hint.

use std::io;

use crate::cache::CacheError;
use crate::credentials::CredentialsError;
use crate::eks_cluster::ClusterError;
use crate::identity::UnmappableArn;
use crate::kubeconfig::KubeconfigError;
use crate::login::LoginError;
use crate::message;
use crate::oidc::OidcError;
use crate::sts_endpoint::NoDualStack;
use crate::token::{InvalidClusterId, TokenError};

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster id flag or environment variable is unusable.
    #[error("{0}")]
    ClusterId(#[from] InvalidClusterId),
    /// The partition has no endpoint of the asked-for kind.
    #[error(transparent)]
    Endpoint(#[from] NoDualStack),
    /// No usable credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// An IAM Identity Center login could not be had.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// No OIDC token could be had.
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token cache could not be read or changed (`cache list` / `cache clear`).
    #[error("token cache: {0}")]
    Cache(#[from] CacheError),
    /// Another run held the token cache lock for the whole deadline (it is minting for
    /// the same request, slowly: a login, a hung endpoint).
    #[error("timed out after {}: waiting for the token cache lock held by another eks-token run", crate::message::seconds(*.0))]
    CacheLockWait(std::time::Duration),
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
    /// A file the command writes (a man page) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// What to do about it, when there is something to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ClusterId(_) => Some(
                "pass the EKS cluster name (or Outposts cluster id) with --cluster-name".into(),
            ),
            Self::Endpoint(_) => Some("unset AWS_USE_DUALSTACK_ENDPOINT (or use_dualstack_endpoint in the profile)".into()),
            Self::Credentials(e) => e.hint(),
            Self::Login(e) => e.hint(),
            Self::Oidc(e) => e.hint(),
            Self::Token(TokenError::CredentialsExpired(_)) => Some(
                "refresh the credentials (`eks-token login`, or a new `aws-vault exec` session)"
                    .into(),
            ),
            Self::Cache(e) => e.hint(),
            Self::CacheLockWait(_) => Some(
                "another eks-token run for the same cluster is still waiting on AWS; retry once it ends, allow more time with --timeout SECONDS, or skip the cache with --no-cache".into(),
            ),
            Self::NoHome => Some("set HOME, or pass --cache-dir".into()),
            Self::NoAccessEntry { .. } => Some(
                "use --output aws-auth, or sign in as an IAM user or role (a role assumed with --role-arn works)".into(),
            ),
            Self::Cluster(e) => e.hint(),
            Self::Kubeconfig(e) => e.hint(),
            Self::Doctor { .. } => Some(
                "fix each problem as shown above, then run `eks-token doctor` again".into(),
            ),
            Self::Write { .. } => Some("pass --dir a directory you can write to".into()),
            Self::Token(_) | Self::Runtime(_) | Self::Identity(_) => None,
        }
    }
}

/// Writes `eks-token: error: …` and `hint: …` to stderr.
pub fn report(err: &Error) {
    message::error(&err.to_string(), err.hint().as_deref());
}

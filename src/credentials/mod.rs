//! Where the AWS credentials come from: the same sources, in the same order, as the AWS
//! CLI and SDKs, with our own chain so we know which source answered and can say why
//! one failed. Everything here runs inside the deadline of a
//! [`Network`](crate::network::Network).
//!
//! The files follow the chain: [`Options`] from the command line → [`AwsConfig`], the
//! config files and environment read once, with the region → the chain of sources
//! (`chain`) → the profile (`profile`, `sso`) and its role chain (`role_chain`: the base
//! credentials, [`process`], the AWS CLI's role cache `aws_cli_cache`, the MFA code `mfa`)
//! → STS (`sts`: role assumption, caller identity); `error` says why it failed.

mod aws_cli_cache;
mod chain;
mod config;
mod error;
mod mfa;
mod options;
pub mod process;
mod profile;
mod region;
mod role_chain;
pub mod sso;
mod sts;

use std::fmt;

use aws_credential_types::Credentials;

pub use config::{AwsConfig, profile_names_in_files};
pub use error::{CallError, CredentialsError, KeyPart, KeysOrigin};
pub use options::{MfaPrompt, Options, RoleOptions};
pub use region::{RegionOrigin, env_flag, named_region};
pub use sso::{LoginState, SsoProfile, SsoTarget};
pub use sts::Caller;

/// botocore refreshes what it holds (temporary credentials, `RefreshableCredentials`'
/// advisory timeout; SSO tokens and client registrations, `SSOTokenProvider` and
/// `SSOTokenFetcher`) when less than this is left; eks-token does the same.
pub const ADVISORY_REFRESH: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Which source answered (kept in credential cache entries, so a cached run names it too).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and friends (aws-vault exec).
    Environment,
    /// A named profile from the AWS config files (static, SSO, `role_arn`, process …).
    Profile(String),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`.
    WebIdentity,
    /// `AWS_CONTAINER_CREDENTIALS_*` (ECS, EKS Pod Identity, aws-vault --ecs-server).
    Container,
    /// The EC2 instance metadata service.
    InstanceMetadata,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("environment variables"),
            Self::Profile(p) => write!(f, "profile {p}"),
            Self::WebIdentity => f.write_str("web identity token"),
            Self::Container => f.write_str("container credentials endpoint"),
            Self::InstanceMetadata => f.write_str("EC2 instance metadata"),
        }
    }
}

/// Credentials ready to sign with.
pub struct Resolved {
    pub credentials: Credentials,
    pub source: Source,
    pub assumed_role: Option<String>,
}

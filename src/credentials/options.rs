//! What the user asked for on the command line: profile, region, role and time limit.

use crate::network::Limits;

/// What the user asked for on the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--profile`: like the AWS CLI's, it outranks credentials in the environment.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--role-arn` and its companions.
    pub role: Option<RoleOptions>,
    /// `--timeout`: each command starts its [`Deadline`](crate::network::Deadline) from it.
    pub limits: Limits,
    /// Temporary credentials may be read from and written to eks-token's credential cache
    /// (`--no-credential-cache`, `--no-cache` turn it off).
    pub credential_cache: bool,
    /// Role sessions may be shared with the AWS CLI through `~/.aws/cli/cache`
    /// (`--no-aws-cli-cache`, `--no-cache` turn it off).
    pub aws_cli_cache: bool,
}

/// A role to assume with the base credentials.
#[derive(Clone, Debug, Default)]
pub struct RoleOptions {
    pub arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    /// Take the session name from the base identity's `UserId`, as aws-iam-authenticator does.
    pub forward_session_name: bool,
}

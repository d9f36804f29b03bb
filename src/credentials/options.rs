//! What the user asked for on the command line: profile, region, role and time limit.

use std::time::Duration;

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
    /// Whether an MFA code can be asked for, and how long the person has to type it.
    pub mfa: MfaPrompt,
}

/// Whether someone can type an MFA code in this run: decided once, where the run knows
/// whether a person is there (`cli::AwsArgs::options_for`, from `login::can_type`).
#[derive(Clone, Debug)]
pub struct MfaPrompt {
    /// `Err(why)`: no one is at a terminal to type a code, and why.
    pub person: Result<(), &'static str>,
    /// `--login-timeout`: how long the person has to type the code.
    pub timeout: Duration,
}

impl Default for MfaPrompt {
    /// Nobody to ask.
    fn default() -> Self {
        Self {
            person: Err("no terminal was looked for"),
            timeout: Duration::ZERO,
        }
    }
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

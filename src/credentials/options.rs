//! What the user asked for on the command line: profile, region, role and time limit.

use std::time::Duration;

use crate::network::{Deadline, Limits};

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

impl Options {
    /// How long to wait for another run's cache lock: what is left of `deadline`, or, when
    /// a person here could type an MFA code, as long as one has to type it (the run
    /// holding the lock may be waiting for that person's code; the cache then serves
    /// this one without a second prompt).
    pub fn lock_wait(&self, deadline: &Deadline) -> Duration {
        match self.mfa.person {
            Ok(()) => deadline.left().max(self.mfa.timeout),
            Err(_) => deadline.left(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_could_be_asked_for_a_code_waits_as_long_as_a_person_has() {
        let limits = Limits::new(Duration::from_secs(10));
        let deadline = Deadline::start(limits);
        let mut options = Options {
            limits,
            mfa: MfaPrompt {
                person: Ok(()),
                timeout: Duration::from_secs(300),
            },
            ..Options::default()
        };
        assert_eq!(options.lock_wait(&deadline), Duration::from_secs(300));
        options.mfa.person = Err("no terminal");
        let wait = options.lock_wait(&deadline);
        assert!(wait <= Duration::from_secs(10) && wait > Duration::from_secs(9));
    }
}

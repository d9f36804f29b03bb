//! One module per subcommand; each turns parsed arguments into stdout text or an error.

pub mod cache;
pub mod completions;
pub mod credentials;
pub mod doctor;
pub mod kubeconfig;
pub mod login;
pub mod logout;
pub mod man;
pub mod oidc;
pub mod token;
pub mod whoami;

use crate::cli::AwsArgs;
use crate::credentials::AwsConfig;
use crate::error::Error;
use crate::network::Deadline;

/// The AWS configuration of a command a person runs (all but `token`), its SSO login
/// made usable first: refreshed, or renewed when the person is at a terminal.
pub async fn aws_config(args: &AwsArgs, deadline: Deadline) -> Result<AwsConfig, Error> {
    let aws = AwsConfig::load(&args.options(), deadline).await?;
    let policy = args.login_policy(None, crate::cache::default_dir(None));
    crate::login::ensure(&aws, &policy).await?;
    Ok(aws)
}

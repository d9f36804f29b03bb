//! Command-line arguments: our own vocabulary plus both AWS peers', so a kubeconfig
//! switches to eks-token by changing only `command:`.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::credentials::{Options, RoleOptions};
use crate::network::Limits;

/// `--timeout` is capped: past an hour the problem is not patience.
const MAX_TIMEOUT_SECONDS: f64 = 3600.0;

/// Amazon EKS credentials for kubectl: a fast, cached exec credential plugin.
#[derive(Debug, Parser)]
#[command(name = "eks-token", version, about, propagate_version = true)]
pub struct Cli {
    /// Explain on stderr what eks-token decides and how long each step takes; never prints a secret [also: EKS_TOKEN_LOG=debug].
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an ExecCredential with a bearer token for an EKS cluster (what kubectl runs).
    Token(TokenArgs),
}

/// `eks-token token`, also reached as `aws-iam-authenticator token` and
/// `aws eks get-token` would be called.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// EKS cluster name, or the cluster id of a local cluster on Outposts.
    #[arg(
        short = 'i',
        long = "cluster-id",
        visible_alias = "cluster-name",
        env = "KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID",
        value_name = "NAME"
    )]
    pub cluster_id: String,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Print only the token, not the ExecCredential JSON.
    #[arg(long)]
    pub token_only: bool,

    /// Accepted for aws-iam-authenticator compatibility; has no effect.
    #[arg(long, hide = true)]
    pub cache: bool,

    /// Accepted for `aws eks get-token` compatibility; only json is supported.
    #[arg(long, value_enum, hide = true)]
    pub output: Option<OutputFormat>,
}

/// `--output` values the AWS CLI form may carry.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Json,
}

/// Where credentials come from: shared by every command that talks to AWS.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS region of the cluster [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config; outranks AWS_ACCESS_KEY_ID like the AWS CLI's --profile [default: AWS_PROFILE].
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Role to assume with the base credentials before signing.
    #[arg(
        short = 'r',
        long = "role-arn",
        visible_alias = "role",
        value_name = "ARN"
    )]
    pub role_arn: Option<String>,

    /// Session name for --role-arn [default: EKSGetTokenAuth].
    #[arg(short = 's', long, value_name = "NAME", requires = "role_arn")]
    pub session_name: Option<String>,

    /// External id for --role-arn.
    #[arg(short = 'e', long, value_name = "ID", requires = "role_arn")]
    pub external_id: Option<String>,

    /// Use the base identity's session name for --role-arn (aws-iam-authenticator's flag).
    #[arg(long, requires = "role_arn", conflicts_with = "session_name")]
    pub forward_session_name: bool,

    /// Give up on AWS (STS, SSO, credential endpoints, credential_process) after this many seconds; connections time out after 3.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// A positive number of seconds, fractions allowed (`2.5`).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let why =
        || format!("expected a number of seconds such as 10 or 2.5, at most {MAX_TIMEOUT_SECONDS}");
    let seconds: f64 = text.trim().parse().map_err(|_| why())?;
    if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS) {
        return Err(why());
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl AwsArgs {
    /// The credential options these flags describe.
    pub fn options(&self) -> Options {
        Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            role: self.role_arn.as_ref().map(|arn| RoleOptions {
                arn: arn.clone(),
                session_name: self.session_name.clone(),
                external_id: self.external_id.clone(),
                forward_session_name: self.forward_session_name,
            }),
            limits: Limits::new(self.timeout),
        }
    }
}

/// Rewrites the AWS CLI's `… eks get-token …` (as `aws eks update-kubeconfig` writes it,
/// global options first) into `token …`, keeping every other argument in order.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let at =
        (1..args.len().saturating_sub(1)).find(|&i| args[i] == "eks" && args[i + 1] == "get-token");
    if let Some(i) = at {
        args.drain(i..i + 2);
        args.insert(1.min(args.len()), OsString::from("token"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(normalize(args.iter().map(OsString::from)))
    }

    fn token(args: &[&str]) -> TokenArgs {
        match parse(args).unwrap().command {
            Command::Token(t) => t,
        }
    }

    #[test]
    fn aws_cli_form_as_update_kubeconfig_writes_it() {
        let t = token(&[
            "eks-token",
            "--region",
            "eu-west-1",
            "eks",
            "get-token",
            "--cluster-name",
            "prod",
            "--output",
            "json",
            "--role",
            "arn:aws:iam::1:role/r",
        ]);
        assert_eq!(t.cluster_id, "prod");
        assert_eq!(t.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.aws.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn aws_iam_authenticator_form() {
        let t = token(&[
            "eks-token",
            "token",
            "-i",
            "c1",
            "-r",
            "arn:aws:iam::1:role/r",
            "-s",
            "me",
            "-e",
            "ext",
            "--cache",
        ]);
        assert_eq!(t.cluster_id, "c1");
        assert_eq!(t.aws.session_name.as_deref(), Some("me"));
        assert_eq!(t.aws.external_id.as_deref(), Some("ext"));
        assert!(t.cache);
    }

    #[test]
    fn only_json_output_is_accepted() {
        assert!(
            parse(&[
                "eks-token",
                "eks",
                "get-token",
                "--cluster-name",
                "x",
                "--output",
                "text"
            ])
            .is_err()
        );
    }

    #[test]
    fn timeout_and_verbose() {
        let t = token(&["eks-token", "token", "-i", "c"]);
        assert_eq!(t.aws.timeout, Duration::from_secs(10));
        let t = token(&["eks-token", "token", "-i", "c", "--timeout", "2.5"]);
        assert_eq!(
            t.aws.options().limits,
            Limits::new(Duration::from_millis(2500))
        );
        for bad in ["0", "-1", "x", "NaN", "inf", "3601"] {
            assert!(
                parse(&["eks-token", "token", "-i", "c", "--timeout", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(
            parse(&["eks-token", "token", "-i", "c", "--verbose"])
                .unwrap()
                .verbose
        );
        assert!(
            parse(&["eks-token", "-v", "token", "-i", "c"])
                .unwrap()
                .verbose
        );
    }

    #[test]
    fn session_name_needs_a_role() {
        assert!(parse(&["eks-token", "token", "-i", "x", "-s", "me"]).is_err());
    }
}

//! The exec plugins a kubeconfig user may run for EKS — eks-token, `aws eks get-token`,
//! `aws-iam-authenticator token`, kubelogin's `get-token` — and the eks-token arguments
//! that do the same thing.

use std::ffi::OsString;
use std::path::Path;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::{self, Cli, Command, OtherCommand};

/// kubelogin's flags whose value is a secret: shown as `(hidden)` in what eks-token prints.
const SECRET_FLAGS: [&str; 2] = ["--oidc-client-secret", "--password"];

/// Who a kubeconfig `exec.command` runs, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    EksToken,
    /// The AWS CLI: a Python start-up per kubectl call.
    AwsCli,
    AwsIamAuthenticator,
    /// kubelogin as a kubectl plugin: `kubectl oidc-login get-token …`.
    KubectlOidcLogin,
    /// kubelogin itself: `kubelogin get-token …` (krew installs it as `kubectl-oidc_login`).
    Kubelogin,
}

impl Plugin {
    /// The plugin `command` names, if it is one of ours or a peer (a path or a bare name).
    pub fn of_command(command: &str) -> Option<Self> {
        let name = Path::new(command).file_name()?.to_str()?;
        let name = name
            .strip_suffix(".exe")
            .or_else(|| name.strip_suffix(".cmd"))
            .unwrap_or(name);
        match name {
            "eks-token" => Some(Self::EksToken),
            "aws" => Some(Self::AwsCli),
            "aws-iam-authenticator" => Some(Self::AwsIamAuthenticator),
            "kubectl" => Some(Self::KubectlOidcLogin),
            "kubelogin" | "kubectl-oidc_login" => Some(Self::Kubelogin),
            _ => None,
        }
    }

    /// How the user would call it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::EksToken => "eks-token token",
            Self::AwsCli => "aws eks get-token",
            Self::AwsIamAuthenticator => "aws-iam-authenticator token",
            Self::KubectlOidcLogin => "kubectl oidc-login get-token",
            Self::Kubelogin => "kubelogin get-token",
        }
    }

    /// Whether it signs in through an OpenID provider (kubelogin) rather than IAM.
    pub fn is_oidc(self) -> bool {
        matches!(self, Self::KubectlOidcLogin | Self::Kubelogin)
    }
}

/// What a peer's arguments ask for, as eks-token will do it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRequest {
    /// An EKS token (`aws eks get-token`, `aws-iam-authenticator token`).
    Token(TokenRequest),
    /// An OIDC ID token (kubelogin's `get-token`): `eks-token oidc` with the same flags.
    Oidc(Vec<String>),
}

impl PeerRequest {
    /// The `eks-token` arguments for the same request.
    pub fn eks_token_args(&self) -> Vec<String> {
        match self {
            Self::Token(request) => request.eks_token_args(),
            Self::Oidc(flags) => std::iter::once("oidc".to_owned())
                .chain(flags.iter().cloned())
                .collect(),
        }
    }
}

/// A token request read from a peer's arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRequest {
    pub cluster_id: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub forward_session_name: bool,
}

impl TokenRequest {
    /// The `eks-token` arguments for the same token.
    pub fn eks_token_args(&self) -> Vec<String> {
        let mut args = vec![
            "token".into(),
            "--cluster-id".into(),
            self.cluster_id.clone(),
        ];
        let mut push = |flag: &str, value: &Option<String>| {
            if let Some(v) = value {
                args.extend([flag.to_owned(), v.clone()]);
            }
        };
        push("--region", &self.region);
        push("--profile", &self.profile);
        push("--role-arn", &self.role_arn);
        push("--session-name", &self.session_name);
        push("--external-id", &self.external_id);
        if self.forward_session_name {
            args.push("--forward-session-name".into());
        }
        args
    }
}

/// Reads a peer's arguments. `Ok(None)`: the command is not a token command at all
/// (`aws sts …`, `kubectl get …`); `Err`: it is one, with an argument we do not translate
/// (the reason names the argument, never a value).
pub fn parse_peer(plugin: Plugin, args: &[String]) -> Result<Option<PeerRequest>, String> {
    let token = |r: Result<Option<TokenRequest>, String>| r.map(|r| r.map(PeerRequest::Token));
    match plugin {
        Plugin::EksToken => Ok(None),
        Plugin::AwsCli => token(parse_aws_cli(args)),
        Plugin::AwsIamAuthenticator => token(parse_authenticator(args)),
        Plugin::KubectlOidcLogin => match args.split_first() {
            Some((first, rest)) if first == "oidc-login" => parse_kubelogin(rest),
            _ => Ok(None),
        },
        Plugin::Kubelogin => parse_kubelogin(args),
    }
}

/// The `eks-token oidc` arguments for a provider, in kubelogin's `--flag=value` spelling
/// (what `kubeconfig --oidc` and `oidc setup` write).
pub fn oidc_args(
    issuer: &str,
    client_id: &str,
    client_secret: Option<&str>,
    extra_scopes: &[String],
) -> Vec<String> {
    let mut args = vec![
        "oidc".to_owned(),
        format!("--oidc-issuer-url={issuer}"),
        format!("--oidc-client-id={client_id}"),
    ];
    if let Some(secret) = client_secret {
        args.push(format!("--oidc-client-secret={secret}"));
    }
    args.extend(
        extra_scopes
            .iter()
            .map(|s| format!("--oidc-extra-scope={s}")),
    );
    args
}

/// Arguments as eks-token shows them: the values of kubelogin's secret flags
/// (`--oidc-client-secret`, `--password`) hidden, in both spellings.
pub fn shown_args(args: &[String]) -> Vec<String> {
    let mut shown = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if std::mem::take(&mut hide_next) {
            shown.push("(hidden)".to_owned());
            continue;
        }
        match arg.split_once('=') {
            Some((flag, _)) if SECRET_FLAGS.contains(&flag) => {
                shown.push(format!("{flag}=(hidden)"));
            }
            _ => {
                hide_next = SECRET_FLAGS.contains(&arg.as_str());
                shown.push(arg.clone());
            }
        }
    }
    shown
}

/// `get-token FLAGS…`: kept as they are when `eks-token oidc` takes every one of them
/// (the very parser it runs with decides, so the flags it refuses are listed once, in
/// `cli.rs`); else why not, naming the flag.
fn parse_kubelogin(args: &[String]) -> Result<Option<PeerRequest>, String> {
    let Some((first, flags)) = args.split_first() else {
        return Ok(None);
    };
    if first != "get-token" {
        return Ok(None);
    }
    let argv = ["eks-token", "oidc"]
        .into_iter()
        .map(OsString::from)
        .chain(flags.iter().map(OsString::from));
    match Cli::try_parse_from(cli::normalize(argv)) {
        Ok(Cli {
            command: Command::Other(OtherCommand::Oidc(oidc)),
            ..
        }) if oidc.setup.is_none() => Ok(Some(PeerRequest::Oidc(flags.to_vec()))),
        Ok(_) => Err("not a get-token command eks-token takes".into()),
        Err(e) => Err(refusal(&e)),
    }
}

/// Why clap refused kubelogin's flags, naming the flag and never its value (it may be a
/// password or a client secret).
fn refusal(e: &clap::Error) -> String {
    let arg = || match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => flag_name(s),
        Some(ContextValue::Strings(v)) => v
            .iter()
            .map(|s| flag_name(s))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "an argument".to_owned(),
    };
    match e.kind() {
        ErrorKind::ValueValidation => match std::error::Error::source(e) {
            Some(why) => format!("{} ({why})", arg()),
            None => format!("{}: not a value eks-token takes", arg()),
        },
        ErrorKind::InvalidValue => format!("{}: not a value eks-token takes", arg()),
        ErrorKind::UnknownArgument => format!("unknown option {}", arg()),
        ErrorKind::MissingRequiredArgument => format!("no {}", arg()),
        ErrorKind::NoEquals
        | ErrorKind::TooFewValues
        | ErrorKind::TooManyValues
        | ErrorKind::WrongNumberOfValues => {
            format!("{}: the wrong number of values", arg())
        }
        _ => format!("{} is not an argument eks-token takes", arg()),
    }
}

/// `--username <USERNAME>` → `--username`.
fn flag_name(usage: &str) -> String {
    usage.split([' ', '=']).next().unwrap_or(usage).to_owned()
}

/// One flag and its value, in `--flag value` or `--flag=value` form (`-iVALUE` too for
/// single-letter Go flags).
struct Flags<'a> {
    args: &'a [String],
    at: usize,
}

enum Arg<'a> {
    Flag(&'a str, Option<&'a str>),
    Word(&'a str),
}

impl<'a> Flags<'a> {
    fn next(&mut self) -> Option<Arg<'a>> {
        let arg = self.args.get(self.at)?;
        self.at += 1;
        if let Some(long) = arg.strip_prefix("--") {
            return Some(match long.split_once('=') {
                Some((name, value)) => Arg::Flag(name, Some(value)),
                None => Arg::Flag(long, None),
            });
        }
        if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let (name, rest) = short.split_at(short.chars().next().map_or(0, char::len_utf8));
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            return Some(Arg::Flag(name, (!rest.is_empty()).then_some(rest)));
        }
        Some(Arg::Word(arg))
    }

    fn value(&mut self, flag: &str, inline: Option<&'a str>) -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v.to_owned());
        }
        let v = self
            .args
            .get(self.at)
            .ok_or_else(|| format!("{flag} has no value"))?;
        self.at += 1;
        Ok(v.clone())
    }
}

/// `aws [--region R] [--profile P] eks get-token --cluster-name N [--role-arn A] [--output json]`,
/// options in any position, as `aws eks update-kubeconfig` and eksctl write it.
fn parse_aws_cli(args: &[String]) -> Result<Option<TokenRequest>, String> {
    let at = args
        .windows(2)
        .position(|w| w[0] == "eks" && w[1] == "get-token");
    let Some(at) = at else {
        return Ok(None);
    };
    let mut rest: Vec<String> = args[..at].to_vec();
    rest.extend_from_slice(&args[at + 2..]);
    let mut flags = Flags { args: &rest, at: 0 };
    let mut request = TokenRequest::default();
    let mut cluster = None;
    while let Some(arg) = flags.next() {
        match arg {
            Arg::Flag(f @ ("cluster-name" | "cluster-id"), v) => {
                cluster = Some(flags.value(&format!("--{f}"), v)?);
            }
            Arg::Flag(f @ ("role-arn" | "role"), v) => {
                request.role_arn = Some(flags.value(&format!("--{f}"), v)?);
            }
            Arg::Flag("region", v) => request.region = Some(flags.value("--region", v)?),
            Arg::Flag("profile", v) => request.profile = Some(flags.value("--profile", v)?),
            Arg::Flag("output", v) => {
                let output = flags.value("--output", v)?;
                if output != "json" {
                    return Err(format!("--output {output} (kubectl needs json)"));
                }
            }
            Arg::Flag(f, _) => return Err(format!("unknown option -{}{f}", dash(f))),
            Arg::Word(w) => return Err(format!("unexpected argument {w:?}")),
        }
    }
    request.cluster_id = cluster.ok_or("no --cluster-name")?;
    Ok(Some(request))
}

/// `aws-iam-authenticator token -i CLUSTER [-r ROLE] [-s NAME] [-e ID] [--region R]
/// [--forward-session-name] [--cache]`, as its README writes it.
fn parse_authenticator(args: &[String]) -> Result<Option<TokenRequest>, String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(None);
    };
    if first != "token" {
        return Ok(None);
    }
    let mut flags = Flags { args: rest, at: 0 };
    let mut request = TokenRequest::default();
    let mut cluster = None;
    while let Some(arg) = flags.next() {
        match arg {
            Arg::Flag(f @ ("i" | "cluster-id"), v) => {
                cluster = Some(flags.value(&format!("-{}{f}", dash(f)), v)?);
            }
            Arg::Flag(f @ ("r" | "role"), v) => {
                request.role_arn = Some(flags.value(&format!("-{}{f}", dash(f)), v)?);
            }
            Arg::Flag(f @ ("s" | "session-name"), v) => {
                request.session_name = Some(flags.value(&format!("-{}{f}", dash(f)), v)?);
            }
            Arg::Flag(f @ ("e" | "external-id"), v) => {
                request.external_id = Some(flags.value(&format!("-{}{f}", dash(f)), v)?);
            }
            Arg::Flag("region", v) => request.region = Some(flags.value("--region", v)?),
            Arg::Flag("forward-session-name", None) => request.forward_session_name = true,
            // Its credential cache; eks-token caches on its own.
            Arg::Flag("cache", None) => {}
            Arg::Flag(f, _) => return Err(format!("unknown option -{}{f}", dash(f))),
            Arg::Word(w) => return Err(format!("unexpected argument {w:?}")),
        }
    }
    request.cluster_id = cluster.ok_or("no -i/--cluster-id")?;
    Ok(Some(request))
}

/// The second dash of a long flag's name.
fn dash(flag: &str) -> &'static str {
    if flag.chars().count() > 1 { "-" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    fn token(r: Result<Option<PeerRequest>, String>) -> Result<Option<TokenRequest>, String> {
        r.map(|r| {
            r.map(|r| match r {
                PeerRequest::Token(t) => t,
                other => panic!("not a token request: {other:?}"),
            })
        })
    }

    fn aws(args: &[&str]) -> Result<Option<TokenRequest>, String> {
        token(parse_peer(Plugin::AwsCli, &strings(args)))
    }

    fn authenticator(args: &[&str]) -> Result<Option<TokenRequest>, String> {
        token(parse_peer(Plugin::AwsIamAuthenticator, &strings(args)))
    }

    /// kubelogin's `get-token` flags as eks-token args, or why not.
    fn kubelogin(plugin: Plugin, args: &[&str]) -> Result<Option<Vec<String>>, String> {
        parse_peer(plugin, &strings(args)).map(|r| r.map(|r| r.eks_token_args()))
    }

    #[test]
    fn commands_by_file_name() {
        assert_eq!(Plugin::of_command("aws"), Some(Plugin::AwsCli));
        assert_eq!(
            Plugin::of_command("/usr/local/bin/aws"),
            Some(Plugin::AwsCli)
        );
        assert_eq!(
            Plugin::of_command("aws-iam-authenticator"),
            Some(Plugin::AwsIamAuthenticator)
        );
        assert_eq!(Plugin::of_command("eks-token"), Some(Plugin::EksToken));
        assert_eq!(
            Plugin::of_command("/usr/local/bin/kubectl"),
            Some(Plugin::KubectlOidcLogin)
        );
        assert_eq!(Plugin::of_command("kubelogin"), Some(Plugin::Kubelogin));
        assert_eq!(
            Plugin::of_command("kubectl-oidc_login"),
            Some(Plugin::Kubelogin)
        );
        assert_eq!(Plugin::of_command("gke-gcloud-auth-plugin"), None);
        assert_eq!(Plugin::of_command("awsx"), None);
    }

    #[test]
    fn aws_cli_as_update_kubeconfig_writes_it() {
        let r = aws(&[
            "--region",
            "eu-west-1",
            "eks",
            "get-token",
            "--cluster-name",
            "prod",
            "--output",
            "json",
            "--role",
            "arn:aws:iam::123456789012:role/admin",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            r.eks_token_args(),
            strings(&[
                "token",
                "--cluster-id",
                "prod",
                "--region",
                "eu-west-1",
                "--role-arn",
                "arn:aws:iam::123456789012:role/admin"
            ])
        );
        let r = aws(&[
            "eks",
            "get-token",
            "--cluster-name=prod",
            "--profile",
            "dev",
            "--role-arn=arn:aws:iam::1:role/r",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(r.profile.as_deref(), Some("dev"));
        assert_eq!(r.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(r.region, None);
    }

    #[test]
    fn aws_cli_other_commands_and_unknown_options() {
        assert_eq!(aws(&["sts", "get-caller-identity"]), Ok(None));
        assert!(aws(&["eks", "get-token", "--cluster-name", "c", "--debug"]).is_err());
        assert!(
            aws(&[
                "eks",
                "get-token",
                "--cluster-name",
                "c",
                "--output",
                "text"
            ])
            .is_err()
        );
        assert!(aws(&["eks", "get-token", "--region", "x"]).is_err());
        assert!(aws(&["eks", "get-token", "--cluster-name"]).is_err());
    }

    #[test]
    fn authenticator_as_its_readme_writes_it() {
        let r = authenticator(&["token", "-i", "prod", "-r", "arn:aws:iam::1:role/r"])
            .unwrap()
            .unwrap();
        assert_eq!(
            r.eks_token_args(),
            strings(&[
                "token",
                "--cluster-id",
                "prod",
                "--role-arn",
                "arn:aws:iam::1:role/r"
            ])
        );
        let r = authenticator(&[
            "token",
            "--cluster-id=c",
            "-s",
            "me",
            "-eext",
            "--forward-session-name",
            "--cache",
            "--region",
            "us-west-2",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(r.cluster_id, "c");
        assert_eq!(r.session_name.as_deref(), Some("me"));
        assert_eq!(r.external_id.as_deref(), Some("ext"));
        assert!(r.forward_session_name);
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
    }

    #[test]
    fn authenticator_other_commands_and_unknown_options() {
        assert_eq!(authenticator(&["version"]), Ok(None));
        assert_eq!(authenticator(&[]), Ok(None));
        assert!(authenticator(&["token", "-i", "c", "--token-only"]).is_err());
        assert!(authenticator(&["token"]).is_err());
        assert!(authenticator(&["token", "-i", "c", "extra"]).is_err());
    }

    #[test]
    fn kubelogin_flags_are_kept_as_they_are() {
        let flags = [
            "--oidc-issuer-url=https://dev-1.okta.com/oauth2/default",
            "--oidc-client-id",
            "0oa1",
            "--oidc-extra-scope=email",
            "--oidc-extra-scope",
            "offline_access,profile",
            "--grant-type=authcode-keyboard",
            "--listen-address=127.0.0.1:8000",
            "--token-cache-dir=~/.kube/cache/oidc-login",
            "--oidc-client-secret=s3cr3t-value",
            "--skip-open-browser",
        ];
        let mut expected = strings(&["oidc"]);
        expected.extend(strings(&flags));
        let mut with_kubectl = vec!["oidc-login", "get-token"];
        with_kubectl.extend(flags);
        assert_eq!(
            kubelogin(Plugin::KubectlOidcLogin, &with_kubectl),
            Ok(Some(expected.clone()))
        );
        let mut own = vec!["get-token"];
        own.extend(flags);
        assert_eq!(kubelogin(Plugin::Kubelogin, &own), Ok(Some(expected)));
        // Other kubectl and kubelogin commands are not token commands.
        assert_eq!(
            kubelogin(Plugin::KubectlOidcLogin, &["get", "pods"]),
            Ok(None)
        );
        assert_eq!(
            kubelogin(Plugin::KubectlOidcLogin, &["oidc-login", "setup"]),
            Ok(None)
        );
        assert_eq!(kubelogin(Plugin::Kubelogin, &[]), Ok(None));
    }

    #[test]
    fn kubelogin_flags_eks_token_refuses_are_named_never_their_values() {
        let issuer = "--oidc-issuer-url=https://idp.example";
        for (flag, reason) in [
            (
                vec!["--username=alice", "--password=hunter2-secret"],
                "--username (kubelogin's flag is not supported by eks-token: the password grant",
            ),
            (
                vec!["--password", "hunter2-secret"],
                "--password (kubelogin's flag is not supported by eks-token: the password grant",
            ),
            (
                vec!["--insecure-skip-tls-verify"],
                "--insecure-skip-tls-verify (kubelogin's flag is not supported by eks-token: eks-token never skips TLS",
            ),
            (vec!["--force-keyring"], "--force-keyring (kubelogin's flag"),
            (
                vec!["--listen-port=8000"],
                "--listen-port (kubelogin's flag",
            ),
            (
                vec!["--grant-type=password"],
                "--grant-type: not a value eks-token takes",
            ),
            (vec!["--no-such-flag"], "unknown option --no-such-flag"),
        ] {
            let mut args = vec!["get-token", issuer, "--oidc-client-id=c"];
            args.extend(&flag);
            let why = kubelogin(Plugin::Kubelogin, &args).unwrap_err();
            assert!(why.starts_with(reason), "{flag:?}: {why}");
            assert!(!why.contains("hunter2") && !why.contains("alice"), "{why}");
        }
        assert_eq!(
            kubelogin(Plugin::Kubelogin, &["get-token", "--oidc-client-id=c"]),
            Err("no --oidc-issuer-url".into())
        );
    }

    #[test]
    fn oidc_args_and_shown_args() {
        let args = oidc_args(
            "https://idp.example",
            "eks",
            None,
            &["email".to_owned(), "offline_access".to_owned()],
        );
        assert_eq!(
            args,
            strings(&[
                "oidc",
                "--oidc-issuer-url=https://idp.example",
                "--oidc-client-id=eks",
                "--oidc-extra-scope=email",
                "--oidc-extra-scope=offline_access",
            ])
        );
        assert_eq!(
            shown_args(&strings(&[
                "oidc",
                "--oidc-client-secret=abc",
                "--oidc-client-secret",
                "def",
                "--password",
                "ghi",
                "--oidc-client-id=eks",
            ])),
            strings(&[
                "oidc",
                "--oidc-client-secret=(hidden)",
                "--oidc-client-secret",
                "(hidden)",
                "--password",
                "(hidden)",
                "--oidc-client-id=eks",
            ])
        );
    }
}

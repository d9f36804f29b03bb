//! The exec plugins a kubeconfig user may run for EKS — eks-token, `aws eks get-token`,
//! `aws-iam-authenticator token` — and the eks-token arguments that do the same thing.

use std::path::Path;

/// Who a kubeconfig `exec.command` runs, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    EksToken,
    /// The AWS CLI: a Python start-up per kubectl call.
    AwsCli,
    AwsIamAuthenticator,
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
            _ => None,
        }
    }

    /// How the user would call it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::EksToken => "eks-token token",
            Self::AwsCli => "aws eks get-token",
            Self::AwsIamAuthenticator => "aws-iam-authenticator token",
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

/// Reads a peer's arguments. `Ok(None)`: the command is not an EKS token command at all
/// (`aws sts …`); `Err`: it is one, with an argument we do not translate.
pub fn parse_peer(plugin: Plugin, args: &[String]) -> Result<Option<TokenRequest>, String> {
    match plugin {
        Plugin::EksToken => Ok(None),
        Plugin::AwsCli => parse_aws_cli(args),
        Plugin::AwsIamAuthenticator => parse_authenticator(args),
    }
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

    fn aws(args: &[&str]) -> Result<Option<TokenRequest>, String> {
        parse_peer(Plugin::AwsCli, &strings(args))
    }

    fn authenticator(args: &[&str]) -> Result<Option<TokenRequest>, String> {
        parse_peer(Plugin::AwsIamAuthenticator, &strings(args))
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
}

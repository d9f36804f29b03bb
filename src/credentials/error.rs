//! Why no credentials could be had, and what the user can do about it: one error per
//! failure with the file, profile or endpoint involved, and its hint.

use std::fmt;

use super::Source;
use super::process::ProcessError;
use super::sso::SsoProfile;
use crate::message::{a_few, shell_quote};
use crate::network::TimedOut;
use crate::network::failure::{Code, Failure};
use crate::sts_endpoint::{InvalidRegion, is_aws_host};

/// Why no credentials could be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Nothing in the chain had credentials.
    #[error("no AWS credentials found (tried {tried})")]
    NotFound {
        tried: String,
        profiles: Vec<String>,
        /// The profile the user chose, which exists but holds no credentials.
        chosen: Option<String>,
    },
    /// `--profile` / `AWS_PROFILE` names a profile the config files do not have.
    #[error("profile {name:?} not found in the AWS config files")]
    UnknownProfile { name: String, known: Vec<String> },
    /// An AWS config file exists but cannot be read (a directory, a FIFO, no permission).
    #[error("cannot read the AWS config file {path}: {why}")]
    ConfigUnreadable { path: String, why: String },
    /// A token file the SDK would read is not a readable regular file.
    #[error("cannot read the {what} {path}: {why}")]
    FileUnreadable {
        what: &'static str,
        path: String,
        why: String,
    },
    /// An AWS config file does not parse.
    #[error("cannot parse {path} line {line}: {message}")]
    ConfigSyntax {
        path: String,
        line: String,
        message: String,
    },
    /// `~/.aws/config` or `~/.aws/credentials` could not be loaded for another reason.
    #[error("cannot read the AWS config files: {0}")]
    ConfigFile(String),
    /// `source_profile` leads back to a profile already in the chain.
    #[error("profile loop in source_profile: {}", .chain.join(" → "))]
    ProfileLoop { chain: Vec<String> },
    /// A `source_profile` names a profile that does not exist.
    #[error("profile {profile} has source_profile {missing}, which is not in the AWS config files")]
    MissingSourceProfile { profile: String, missing: String },
    /// The profile's settings do not describe credentials the SDK can get.
    #[error("profile {profile} is not usable: {detail}")]
    ProfileConfig { profile: String, detail: String },
    /// A region from the environment or a profile is not a region name.
    #[error(transparent)]
    Region(#[from] InvalidRegion),
    /// `--sso-session` names a section the config files do not have.
    #[error("sso-session {name:?} not found in the AWS config files")]
    UnknownSsoSession { name: String, known: Vec<String> },
    /// An `[sso-session]` section without a setting a login needs.
    #[error("sso-session {name} has no {missing}")]
    SsoSessionConfig { name: String, missing: String },
    /// An IAM Identity Center profile whose cached login is missing, expired or rejected.
    #[error("the SSO login for profile {} is missing or expired ({detail})", .sso.profile)]
    SsoLogin { sso: SsoProfile, detail: String },
    /// A role to assume needs an MFA code (`mfa_serial`) and no one is there to type it.
    #[error("profile {} assumes {} with MFA (mfa_serial {}), and no one is at a terminal to type the code: {}", .0.owner, .0.role, .0.serial, .0.why)]
    MfaNoPerson(Box<MfaNeeded>),
    /// The MFA code was not typed.
    #[error("no MFA code for {serial}: {why}")]
    MfaCode {
        serial: String,
        why: String,
        timed_out: bool,
    },
    /// A profile's `credential_process` failed.
    #[error("credential_process of profile {profile} failed: {error}")]
    Process {
        profile: String,
        error: ProcessError,
    },
    /// A call to an AWS endpoint failed.
    #[error(transparent)]
    Call(Box<CallError>),
    /// The deadline passed before the credentials were in hand.
    #[error("{0}")]
    TimedOut(TimedOut),
    /// `AWS_ACCESS_KEY_ID` without `AWS_SECRET_ACCESS_KEY`.
    #[error("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")]
    HalfSetEnvironment,
    /// A source was configured but failed.
    #[error("could not get credentials from {source_name}: {detail}")]
    Source { source_name: String, detail: String },
    /// `AWS_SESSION_EXPIRATION` / `AWS_CREDENTIAL_EXPIRATION` is not a timestamp.
    #[error("{var} is not an RFC 3339 timestamp: {value:?}")]
    BadExpiration { var: &'static str, value: String },
    /// An `AWS_*` variable holds bytes that are not UTF-8 (its value is never shown).
    #[error("environment variable {0} is not valid UTF-8")]
    NotUnicode(String),
    /// The container authorization token cannot be an HTTP header value (its value is
    /// never shown).
    #[error("the container authorization token in {origin} contains {what}")]
    ContainerToken {
        /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`, or the path of the token file.
        origin: String,
        from_file: bool,
        what: String,
    },
    /// Credentials holding characters no key or token has (their values are never shown).
    #[error("the {field} from {from} {problem}")]
    Malformed {
        field: KeyPart,
        from: KeysOrigin,
        problem: &'static str,
    },
}

/// A role that needs an MFA code no one can type, for [`CredentialsError::MfaNoPerson`].
#[derive(Debug)]
pub struct MfaNeeded {
    /// The profile whose credentials were asked for (the top of the chain).
    pub profile: String,
    /// The profile with the `role_arn` and `mfa_serial`.
    pub owner: String,
    pub role: String,
    pub serial: String,
    pub why: &'static str,
    /// How long a session of that role lasts once cached (`1h 0m`).
    pub lasts: String,
    /// Whether the AWS CLI's role cache is on, so that a session cached in a terminal
    /// serves later runs.
    pub aws_cli_cache: bool,
}

/// Where a set of credentials entered the run, for [`CredentialsError::Malformed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysOrigin {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// `aws_access_key_id` and friends in a profile.
    ProfileKeys(String),
    /// The `credential_process` of a profile.
    Process(String),
    /// Issued by an endpoint: STS, the SSO portal, the container endpoint, IMDS.
    Issued(String),
}

impl fmt::Display for KeysOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("environment variables"),
            Self::ProfileKeys(p) => write!(f, "profile {p}"),
            Self::Process(p) => write!(f, "the credential_process of profile {p}"),
            Self::Issued(what) => f.write_str(what),
        }
    }
}

/// The parts of a set of credentials, as [`CredentialsError::Malformed`] names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPart {
    AccessKeyId,
    SecretAccessKey,
    SessionToken,
}

impl KeyPart {
    /// The environment variable that holds it.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::AccessKeyId => "AWS_ACCESS_KEY_ID",
            Self::SecretAccessKey => "AWS_SECRET_ACCESS_KEY",
            Self::SessionToken => "AWS_SESSION_TOKEN",
        }
    }

    /// The profile property that holds it.
    pub fn profile_key(self) -> &'static str {
        match self {
            Self::AccessKeyId => "aws_access_key_id",
            Self::SecretAccessKey => "aws_secret_access_key",
            Self::SessionToken => "aws_session_token",
        }
    }
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccessKeyId => "access key id",
            Self::SecretAccessKey => "secret access key",
            Self::SessionToken => "session token",
        })
    }
}

/// A failed call to an AWS endpoint, with what it was for.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct CallError {
    /// What was asked: `STS AssumeRole of arn:…`, `credentials of profile dev`.
    pub what: String,
    /// Where the credentials that signed the call came from.
    pub signer: Option<Source>,
    /// The SSO profile involved, for the login hint.
    pub sso: Option<SsoProfile>,
    pub failure: Failure,
}

impl CallError {
    fn message(&self) -> String {
        let what = &self.what;
        let (signer, have) = match &self.signer {
            None => ("the credentials".to_owned(), "have"),
            Some(Source::WebIdentity) => ("the web identity token".to_owned(), "has"),
            Some(s) => (format!("the credentials from {s}"), "have"),
        };
        match (&self.failure, self.failure.code()) {
            (Failure::Unreachable { endpoint, why }, _) => {
                format!("cannot reach {endpoint} ({why}) for {what}")
            }
            (Failure::NoAnswer { endpoint }, _) => format!(
                "no answer from {} for {what}",
                endpoint.as_deref().unwrap_or("the endpoint")
            ),
            (f @ Failure::Service { .. }, Some(Code::ExpiredToken)) => {
                format!("{what}: {signer} {have} expired ({f})")
            }
            (f @ Failure::Service { .. }, Some(Code::InvalidClientTokenId)) => {
                format!("{what}: AWS does not recognise the access key in {signer} ({f})")
            }
            (f @ Failure::Service { .. }, Some(Code::AccessDenied)) => {
                format!("{what}: access denied ({f})")
            }
            (f, _) => format!("{what}: {f}"),
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        if let Some(sso) = &self.sso
            && matches!(
                self.failure.code(),
                Some(Code::ExpiredToken | Code::InvalidClientTokenId)
            )
        {
            return Some(sso.login_hint());
        }
        Some(match (&self.failure, self.failure.code()) {
            (Failure::Unreachable { endpoint, .. }, _) => unreachable_hint(endpoint),
            (Failure::NoAnswer { .. }, _) => NETWORK_HINT.into(),
            (_, Some(Code::Throttled)) => "AWS is rate-limiting this account's requests: wait a minute and retry, and avoid running many kubectl commands at once".into(),
            (_, Some(Code::ExpiredToken)) => expired_hint(self.signer.as_ref()),
            (_, Some(Code::InvalidClientTokenId)) => "the access key was deleted, deactivated or belongs to another partition: check it with `aws sts get-caller-identity` and replace it with `aws configure`".into(),
            // STS: "MultiFactorAuthentication failed with invalid MFA one time pass code."
            (Failure::Service { message, .. }, Some(Code::AccessDenied)) if message.contains("MultiFactorAuthentication") => "the MFA code was wrong or already used: wait for the next one and run the command again".into(),
            (_, Some(Code::AccessDenied)) => "the role's trust policy must allow your identity (see `aws sts get-caller-identity`) and the external id must match".into(),
            (_, Some(Code::InvalidIdentityToken)) => "the role's trust policy must trust the token's OIDC provider and audience; check the token file is current".into(),
            (Failure::Status { status, .. }, _) if *status >= 500 => "the AWS service is failing: retry in a minute (https://health.aws.amazon.com/health/status)".into(),
            (Failure::Unreadable { .. } | Failure::TooLarge(_), _) => "that is not an AWS endpoint answering: check AWS_ENDPOINT_URL*, endpoint_url in the profile and proxy settings".into(),
            _ => return None,
        })
    }
}

/// The hint when the network, not a setting, is what held an answer up.
const NETWORK_HINT: &str = "check the network, VPN and proxy settings (HTTPS_PROXY, NO_PROXY), or allow more time with --timeout SECONDS";

/// An endpoint in an AWS partition's domains (the token's own table) is a network
/// problem; anything else was pointed there by a setting.
fn unreachable_hint(endpoint: &str) -> String {
    let host = url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if is_aws_host(&host) {
        "check the network connection, VPN and proxy settings (HTTPS_PROXY, NO_PROXY)".into()
    } else {
        format!(
            "{endpoint} is not an AWS address: check the setting that points there (AWS_ENDPOINT_URL*, endpoint_url in the profile, AWS_CONTAINER_CREDENTIALS_FULL_URI) and that the server is running"
        )
    }
}

fn expired_hint(signer: Option<&Source>) -> String {
    match signer {
        Some(Source::Environment) => "get fresh credentials: start a new `aws-vault exec` session, or export new AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN".into(),
        Some(Source::Profile(p)) => format!("refresh the credentials of profile {p} (for keys: `aws configure --profile {p}`)"),
        Some(Source::WebIdentity) => "the web identity token file is stale: whatever writes it (EKS, CI) must refresh it".into(),
        _ => "get fresh credentials and retry".into(),
    }
}

impl CredentialsError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound {
                chosen: Some(p), ..
            } => Some(format!(
                "profile {p} has no credentials: add keys (`aws configure --profile {p}`), SSO (`aws configure sso --profile {p}`), role_arn with source_profile, or credential_process"
            )),
            Self::NotFound { profiles, .. } => Some(if profiles.is_empty() {
                "configure credentials with `aws configure` or `aws configure sso`, or run under `aws-vault exec <profile> --`".into()
            } else {
                format!(
                    "choose a profile with --profile or AWS_PROFILE (configured: {}), or run under `aws-vault exec <profile> --`",
                    a_few(profiles)
                )
            }),
            Self::UnknownSsoSession { known, .. } if known.is_empty() => Some(
                "no sso-session is configured; create one with `aws configure sso-session`".into(),
            ),
            Self::UnknownSsoSession { known, .. } => {
                Some(format!("sso-sessions that exist: {}", a_few(known)))
            }
            Self::SsoSessionConfig { name, missing } => Some(format!(
                "add {missing} to the [sso-session {name}] section of ~/.aws/config (`aws configure sso-session`)"
            )),
            Self::UnknownProfile { known, .. } if known.is_empty() => {
                Some("no profiles are configured; create one with `aws configure --profile <name>`".into())
            }
            Self::UnknownProfile { known, .. } => {
                Some(format!("profiles that exist: {}", a_few(known)))
            }
            Self::ConfigUnreadable { path, .. } => Some(format!(
                "{path} must be a readable file: move whatever is there aside and run `aws configure`"
            )),
            Self::FileUnreadable { path, .. } => Some(format!(
                "{path} must be a readable file: check the variable or profile setting that names it"
            )),
            Self::ConfigSyntax { path, line, .. } => Some(format!(
                "fix line {line} of {path}: each line is a `[profile NAME]` header, `key = value`, a comment or blank"
            )),
            Self::ProfileLoop { chain } => Some(format!(
                "edit the AWS config so the source_profile chain from profile {} ends at a profile with credentials",
                chain.first().map_or("", String::as_str)
            )),
            Self::MissingSourceProfile { missing, .. } => Some(format!(
                "add [profile {missing}] to the AWS config, or point source_profile at a profile that exists"
            )),
            Self::ProfileConfig { profile, .. } => Some(format!(
                "fix [profile {profile}] in the AWS config; `aws configure list --profile {profile}` shows what the AWS CLI makes of it"
            )),
            Self::SsoLogin { sso, .. } => Some(sso.login_hint()),
            Self::MfaNoPerson(needed) => {
                let (profile, lasts) = (shell_quote(&needed.profile), &needed.lasts);
                Some(if needed.aws_cli_cache {
                    format!(
                        "run `eks-token whoami --profile {profile}` in a terminal (or `aws sts get-caller-identity --profile {profile}`) to cache a session for {lasts}"
                    )
                } else {
                    format!(
                        "run kubectl in a terminal, or turn the AWS CLI's role cache back on (drop --no-aws-cli-cache and EKS_TOKEN_NO_AWS_CLI_CACHE) and run `eks-token whoami --profile {profile}` in a terminal to cache a session for {lasts}"
                    )
                })
            }
            Self::MfaCode {
                timed_out: true, ..
            } => Some(
                "type the code from the MFA device and press Enter; allow more time with --login-timeout SECONDS".into(),
            ),
            Self::MfaCode { serial, .. } => Some(format!(
                "type the current code from the MFA device {serial} and press Enter"
            )),
            Self::Process { profile, error: ProcessError::Output { .. } } => Some(format!(
                "the credential_process of profile {profile} must print {{\"Version\": 1, \"AccessKeyId\": …, \"SecretAccessKey\": …}} on stdout"
            )),
            Self::Process { profile, .. } => Some(format!(
                "run the credential_process of profile {profile} by hand to see what it needs (often a login)"
            )),
            Self::Call(e) => e.hint(),
            Self::TimedOut(t) if t.waiting_for.is_none() && t.last_answer.is_none() => Some(
                "allow more time with --timeout SECONDS, or fix what was slow (a credential_process waiting for input is killed at the deadline)".into(),
            ),
            Self::TimedOut(_) => Some(NETWORK_HINT.into()),
            Self::HalfSetEnvironment => Some(
                "export AWS_SECRET_ACCESS_KEY too, or unset AWS_ACCESS_KEY_ID to use a profile".into(),
            ),
            Self::Region(_) => Some("set --region, AWS_REGION or the profile's region to a region such as us-west-2".into()),
            Self::BadExpiration { .. } => Some("use a timestamp such as 2026-01-02T15:04:05Z, or unset the variable".into()),
            Self::NotUnicode(var) => Some(format!("fix or unset {var}")),
            Self::ContainerToken { origin, from_file: true, .. } => Some(format!(
                "write the token alone to {origin}, without a trailing newline or control characters (`printf %s \"$TOKEN\" > {origin}`)"
            )),
            Self::ContainerToken { .. } => Some(
                "set AWS_CONTAINER_AUTHORIZATION_TOKEN to the token alone, without line breaks or control characters".into(),
            ),
            Self::Malformed { field, from, .. } => Some(match from {
                KeysOrigin::Environment => format!(
                    "export {} again without the stray character (a pasted line break or space?)",
                    field.env_var()
                ),
                KeysOrigin::ProfileKeys(p) => format!(
                    "fix {} of profile {p} in the AWS config files (`aws configure --profile {p}` sets the keys again)",
                    field.profile_key()
                ),
                KeysOrigin::Process(p) => format!(
                    "the credential_process of profile {p} must print AccessKeyId, SecretAccessKey and SessionToken without control characters (run it by hand to see)"
                ),
                KeysOrigin::Issued(_) => "check the endpoint that issued them (AWS_ENDPOINT_URL*, endpoint_url in the profile, AWS_CONTAINER_CREDENTIALS_FULL_URI, proxy settings)".into(),
            }),
            Self::ConfigFile(_) | Self::Source { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_endpoints_in_any_partition_get_the_network_hint() {
        for endpoint in [
            "https://sts.eu-west-1.amazonaws.com",
            "https://sts.us-east-1.api.aws",
            "https://sts.us-iso-east-1.c2s.ic.gov",
            "https://sts.us-isob-east-1.sc2s.sgov.gov:443",
        ] {
            assert!(
                unreachable_hint(endpoint).starts_with("check the network connection"),
                "{endpoint}"
            );
        }
        assert!(
            unreachable_hint("http://127.0.0.1:9")
                .starts_with("http://127.0.0.1:9 is not an AWS address")
        );
    }
}

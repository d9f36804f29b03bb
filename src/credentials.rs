//! Where the AWS credentials come from: the same sources, in the same order, as the AWS
//! CLI and SDKs, with our own chain so we know which source answered and can say why
//! one failed. Everything here runs inside the deadline of [`Network`].

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::profile::{Profile, ProfileFileCredentialsProvider, ProfileParseError, ProfileSet};
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError as SdkCredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};
use chrono::{DateTime, Utc};

use crate::aws_files::{self, MAX_TOKEN_FILE, env_var, home_dir, read_token_file};
use crate::credential_process::{self, ProcessError};
use crate::log;
use crate::message::{a_few, one_line, seconds, single_line, stamp};
use crate::network::failure::{self, Code, Failure};
use crate::network::{Deadline, Limits, Network, TimedOut};
use crate::secrets;
use crate::sso_cache::{self, LoginState};
use crate::sts_endpoint::{InvalidRegion, Region, Variant};

/// Session name for `--role-arn` when none is given: the AWS CLI's, so `{{SessionName}}`
/// mappings stay the same after migrating from `aws eks get-token`.
pub const DEFAULT_SESSION_NAME: &str = "EKSGetTokenAuth";

/// Used when no region is configured anywhere, as the AWS CLI's legacy STS default.
pub const FALLBACK_REGION: &str = "us-east-1";

/// IMDS answers in well under a millisecond on EC2; off EC2 nothing answers at all, so a
/// short connect timeout and one attempt keep a laptop without credentials fast.
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const IMDS_READ_TIMEOUT: Duration = Duration::from_millis(500);

/// What the user asked for on the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--profile`: like the AWS CLI's, it outranks credentials in the environment.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--role-arn` and its companions.
    pub role: Option<RoleOptions>,
    /// `--timeout`: each command starts its [`Deadline`] from it.
    pub limits: Limits,
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

/// Which source answered.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => f.write_str("environment variables"),
            Self::Profile(p) => write!(f, "profile {p}"),
            Self::WebIdentity => f.write_str("web identity token"),
            Self::Container => f.write_str("container credentials endpoint"),
            Self::InstanceMetadata => f.write_str("EC2 instance metadata"),
        }
    }
}

/// Where the region came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionOrigin {
    Flag,
    Environment,
    Profile,
    InstanceMetadata,
    Fallback,
}

/// The AWS configuration a run works with, read from files and environment only.
pub struct Setup {
    pub region: Region,
    pub region_origin: RegionOrigin,
    pub variant: Variant,
    /// The profile the profile provider would use, and whether the user chose it.
    pub profile: String,
    pub profile_chosen: bool,
    profile_flag: bool,
    profiles: ProfileSet,
    provider_config: ProviderConfig,
    imds_unreachable: bool,
    network: Network,
}

/// Credentials ready to sign with.
pub struct Resolved {
    pub credentials: Credentials,
    pub source: Source,
    pub assumed_role: Option<String>,
}

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
    /// An IAM Identity Center profile whose cached login is missing, expired or rejected.
    #[error("the SSO login for profile {profile} is missing or expired ({detail})")]
    SsoLogin {
        profile: String,
        session: Option<String>,
        detail: String,
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
    #[error("{}", timed_out_message(.0))]
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
        what: &'static str,
    },
    /// Credentials holding characters no key or token has (their values are never shown).
    #[error("the {field} from {from} {problem}")]
    Malformed {
        field: &'static str,
        from: KeysOrigin,
        problem: &'static str,
    },
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

impl std::fmt::Display for KeysOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => f.write_str("environment variables"),
            Self::ProfileKeys(p) => write!(f, "profile {p}"),
            Self::Process(p) => write!(f, "the credential_process of profile {p}"),
            Self::Issued(what) => f.write_str(what),
        }
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
            (Failure::NoAnswer { .. }, _) => "check the network, VPN and proxy settings (HTTPS_PROXY, NO_PROXY), or allow more time with --timeout SECONDS".into(),
            (_, Some(Code::Throttled)) => "AWS is rate-limiting this account's requests: wait a minute and retry, and avoid running many kubectl commands at once".into(),
            (_, Some(Code::ExpiredToken)) => expired_hint(self.signer.as_ref()),
            (_, Some(Code::InvalidClientTokenId)) => "the access key was deleted, deactivated or belongs to another partition: check it with `aws sts get-caller-identity` and replace it with `aws configure`".into(),
            (_, Some(Code::AccessDenied)) => "the role's trust policy must allow your identity (see `aws sts get-caller-identity`) and the external id must match".into(),
            (_, Some(Code::InvalidIdentityToken)) => "the role's trust policy must trust the token's OIDC provider and audience; check the token file is current".into(),
            (Failure::Status { status, .. }, _) if *status >= 500 => "the AWS service is failing: retry in a minute (https://health.aws.amazon.com/health/status)".into(),
            (Failure::Unreadable { .. } | Failure::TooLarge(_), _) => "that is not an AWS endpoint answering: check AWS_ENDPOINT_URL*, endpoint_url in the profile and proxy settings".into(),
            _ => return None,
        })
    }
}

fn unreachable_hint(endpoint: &str) -> String {
    let host = url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let aws = [
        ".amazonaws.com",
        ".amazonaws.com.cn",
        ".api.aws",
        ".amazonaws.eu",
    ]
    .iter()
    .any(|suffix| host.ends_with(suffix));
    if aws {
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

fn timed_out_message(t: &TimedOut) -> String {
    let step = t.step.as_deref().unwrap_or("getting AWS credentials");
    let after = seconds(t.after);
    match (&t.waiting_for, &t.last_answer) {
        (Some(endpoint), _) => {
            format!("timed out after {after}: {step}: no answer from {endpoint}")
        }
        (None, Some(last)) => format!("timed out after {after}: {step} (retrying: {last})"),
        (None, None) => format!("timed out after {after}: {step}"),
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
            Self::SsoLogin { profile, session, .. } => {
                Some(sso_login_hint(profile, session.as_deref()))
            }
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
            Self::TimedOut(_) => Some(
                "check the network, VPN and proxy settings (HTTPS_PROXY, NO_PROXY), or allow more time with --timeout SECONDS".into(),
            ),
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
                    match *field {
                        ACCESS_KEY_ID => "AWS_ACCESS_KEY_ID",
                        SECRET_ACCESS_KEY => "AWS_SECRET_ACCESS_KEY",
                        _ => "AWS_SESSION_TOKEN",
                    }
                ),
                KeysOrigin::ProfileKeys(p) => format!(
                    "fix aws_{} of profile {p} in the AWS config files (`aws configure --profile {p}` sets the keys again)",
                    field.replace(' ', "_")
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

/// The region a run names without any config file: `--region`, else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`.
pub fn named_region(options: &Options) -> Option<(String, RegionOrigin)> {
    if let Some(r) = &options.region {
        return Some((r.clone(), RegionOrigin::Flag));
    }
    let env = env_var("AWS_REGION").or_else(|| env_var("AWS_DEFAULT_REGION"));
    env.map(|r| (r, RegionOrigin::Environment))
}

/// A `true`/`false` environment setting (`AWS_USE_FIPS_ENDPOINT`); unset or empty is `None`.
pub fn env_flag(name: &str) -> Option<bool> {
    env_var(name).map(|v| v.eq_ignore_ascii_case("true"))
}

fn imds_disabled() -> bool {
    env_flag("AWS_EC2_METADATA_DISABLED").unwrap_or(false)
}

fn imds_client(conf: &ProviderConfig) -> imds::Client {
    imds::Client::builder()
        .configure(conf)
        .connect_timeout(IMDS_CONNECT_TIMEOUT)
        .read_timeout(IMDS_READ_TIMEOUT)
        .max_attempts(1)
        .build()
}

/// The SDK reads `AWS_*` variables with `std::env::var`, which treats a non-UTF-8 value
/// as unset (or echoes it in an error): refuse them up front, naming only the variable.
pub fn check_environment(
    vars: impl IntoIterator<Item = (impl AsRef<OsStr>, impl AsRef<OsStr>)>,
) -> Result<(), CredentialsError> {
    for (name, value) in vars {
        let Some(name) = name.as_ref().to_str() else {
            continue;
        };
        if name.starts_with("AWS_") && value.as_ref().to_str().is_none() {
            return Err(CredentialsError::NotUnicode(name.to_owned()));
        }
    }
    Ok(())
}

/// `error parsing PATH on line N:\n  MESSAGE` is the only form the parser's error takes
/// (its fields are private).
fn config_error(err: &aws_config::profile::ProfileFileLoadError) -> CredentialsError {
    let parse = crate::message::chain(err).find_map(|e| e.downcast_ref::<ProfileParseError>());
    if let Some(parse) = parse {
        let text = parse.to_string();
        if let Some(rest) = text.strip_prefix("error parsing ")
            && let Some((path, rest)) = rest.split_once(" on line ")
            && let Some((line, message)) = rest.split_once(':')
        {
            return CredentialsError::ConfigSyntax {
                path: path.to_owned(),
                line: line.trim().to_owned(),
                message: single_line(message).to_lowercase(),
            };
        }
    }
    CredentialsError::ConfigFile(one_line(err))
}

impl Setup {
    /// Reads the config files and environment: profile, region, endpoint variant. Every
    /// AWS call made with the result ends by `deadline`.
    pub async fn load(options: &Options, deadline: Deadline) -> Result<Self, CredentialsError> {
        let started = Instant::now();
        let network = Network::new(deadline);
        check_environment(std::env::vars_os())?;
        network.step("config: reading the AWS config files");
        if let Some(file) = aws_files::unreadable_config_file(home_dir().as_deref()) {
            return Err(CredentialsError::ConfigUnreadable {
                path: file.path.display().to_string(),
                why: file.why,
            });
        }
        let env_profile = env_var("AWS_PROFILE");
        let profile_flag = options.profile.is_some();
        let profile_chosen = profile_flag || env_profile.is_some();
        let profile_origin = if profile_flag {
            "--profile"
        } else if env_profile.is_some() {
            "AWS_PROFILE"
        } else {
            "default"
        };
        let profile = options
            .profile
            .clone()
            .or(env_profile)
            .unwrap_or_else(|| "default".into());
        let profiles = network
            .within(aws_config::profile::load(
                &Fs::real(),
                &Env::real(),
                &EnvConfigFiles::default(),
                Some(Cow::Owned(profile.clone())),
            ))
            .await
            .map_err(CredentialsError::TimedOut)?
            .map_err(|e| config_error(&e))?;
        log::debug(format_args!(
            "config: profile {profile} ({profile_origin}), {} profiles configured ({} ms)",
            profiles.profiles().count(),
            started.elapsed().as_millis()
        ));
        if profile_flag && profiles.get_profile(&profile).is_none() {
            return Err(unknown_profile(&profile, &profiles));
        }
        let selected = profiles.get_profile(&profile);
        let token_file = selected.and_then(|p| p.get("web_identity_token_file"));
        if let Some(file) = aws_files::unreadable_token_file(token_file) {
            return Err(CredentialsError::FileUnreadable {
                what: file.what,
                path: file.path.display().to_string(),
                why: file.why,
            });
        }
        let from_profile = |key: &str| selected.and_then(|p| p.get(key)).map(str::to_owned);

        let variant = Variant {
            fips: env_flag("AWS_USE_FIPS_ENDPOINT")
                .or_else(|| {
                    from_profile("use_fips_endpoint").map(|v| v.eq_ignore_ascii_case("true"))
                })
                .unwrap_or(false),
            dual_stack: env_flag("AWS_USE_DUALSTACK_ENDPOINT")
                .or_else(|| {
                    from_profile("use_dualstack_endpoint").map(|v| v.eq_ignore_ascii_case("true"))
                })
                .unwrap_or(false),
        };

        let mut provider_config = ProviderConfig::default()
            .with_http_client(network.http_client())
            .with_retry_config(deadline.limits().retry_config());
        let mut imds_unreachable = false;
        let (name, region_origin) = if let Some(named) = named_region(options) {
            named
        } else if let Some(r) = from_profile("region") {
            (r, RegionOrigin::Profile)
        } else {
            let found = if imds_disabled() {
                None
            } else {
                network.step("region: asking EC2 instance metadata");
                let provider = ImdsRegionProvider::builder()
                    .configure(&provider_config)
                    .imds_client(imds_client(&provider_config))
                    .build();
                let found = network.within(provider.region()).await.ok().flatten();
                imds_unreachable = found.is_none();
                found
            };
            match found {
                Some(r) => (r.to_string(), RegionOrigin::InstanceMetadata),
                None => (FALLBACK_REGION.into(), RegionOrigin::Fallback),
            }
        };
        let region = Region::new(&name)?;
        log::debug(format_args!(
            "region: {region} (from {})",
            match region_origin {
                RegionOrigin::Flag => "--region",
                RegionOrigin::Environment => "AWS_REGION / AWS_DEFAULT_REGION",
                RegionOrigin::Profile => "the profile",
                RegionOrigin::InstanceMetadata => "EC2 instance metadata",
                RegionOrigin::Fallback => "nowhere: the fallback",
            }
        ));
        provider_config =
            provider_config.with_region(Some(aws_types::region::Region::new(name.clone())));
        let setup = Self {
            region,
            region_origin,
            variant,
            profile,
            profile_chosen,
            profile_flag,
            profiles,
            provider_config,
            imds_unreachable,
            network,
        };
        setup.remember_secrets();
        Ok(setup)
    }

    /// Remembers the secrets this run may send, before anything is sent (see [`secrets`]):
    /// keys in the environment and along the profile chain, the web identity token files
    /// and the SSO login of the profile in use. The container token is remembered where it
    /// is checked, and the credentials a source returns where they are checked.
    fn remember_secrets(&self) {
        for var in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Some(value) = env_var(var) {
                secrets::remember(&value);
            }
        }
        let chain = self.chain(&self.profile);
        for (_, profile) in &chain {
            for key in ["aws_secret_access_key", "aws_session_token"] {
                if let Some(value) = profile.get(key) {
                    secrets::remember(value);
                }
            }
        }
        let token_files = chain
            .iter()
            .filter_map(|(_, p)| p.get("web_identity_token_file").map(str::to_owned))
            .chain(env_var("AWS_WEB_IDENTITY_TOKEN_FILE"));
        for path in token_files {
            if let Some(token) =
                read_token_file(Path::new(&path)).filter(|t| t.len() as u64 <= MAX_TOKEN_FILE)
            {
                secrets::remember(&String::from_utf8_lossy(&token));
            }
        }
        self.remember_sso_secrets();
    }

    /// The cached SSO login of the profile in use; read again after an SSO error, as the
    /// SDK may have refreshed it.
    fn remember_sso_secrets(&self) {
        if let (Some(sso), Some(home)) = (self.sso_profile(&self.profile), home_dir())
            && let Some(key) = sso.session.as_deref().or(sso.start_url.as_deref())
        {
            sso_cache::remember_secrets(&home, key);
        }
    }

    /// The HTTP client and deadline every AWS call of this run uses.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The configured profile names, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.profiles.profiles().map(str::to_owned).collect();
        names.sort();
        names
    }

    /// A property of a configured profile (`role_arn`, `sso_session`, …).
    pub fn profile_property(&self, profile: &str, key: &str) -> Option<&str> {
        self.profiles.get_profile(profile)?.get(key)
    }

    /// The base credentials, from the first source that has any, within the deadline.
    pub async fn base_credentials(&self) -> Result<(Credentials, Source), CredentialsError> {
        let started = Instant::now();
        let found = self
            .network
            .within(self.first_source())
            .await
            .map_err(CredentialsError::TimedOut)??;
        let origin = match &found.1 {
            Source::Environment => KeysOrigin::Environment,
            Source::WebIdentity => KeysOrigin::Issued("STS AssumeRoleWithWebIdentity".into()),
            Source::Container => KeysOrigin::Issued("the container credentials endpoint".into()),
            source => KeysOrigin::Issued(source.to_string()),
        };
        check_credentials(&found.0, origin)?;
        log::debug(format_args!(
            "credentials: from {} ({} ms)",
            found.1,
            started.elapsed().as_millis()
        ));
        Ok(found)
    }

    async fn first_source(&self) -> Result<(Credentials, Source), CredentialsError> {
        let mut tried = Vec::new();
        if !self.profile_flag {
            let env = EnvironmentVariableCredentialsProvider::new();
            let name = "environment variables";
            match attempt(&env, name, &mut tried).await {
                Ok(Some(c)) => return Ok((with_env_expiry(c)?, Source::Environment)),
                Ok(None) if env_var("AWS_ACCESS_KEY_ID").is_some() => {
                    return Err(CredentialsError::HalfSetEnvironment);
                }
                Ok(None) => log::debug(format_args!("credentials: no {name}")),
                Err(e) => return Err(source_error(name)(e)),
            }
        }
        if self.profiles.get_profile(&self.profile).is_some() {
            self.check_sso_login()?;
            self.check_profile_keys()?;
            if let Some(chain) = self.process_chain()? {
                let c = self.process_chain_credentials(&chain).await?;
                return Ok((c, Source::Profile(self.profile.clone())));
            }
            self.network
                .step(format!("credentials: profile {}", self.profile));
            let provider = ProfileFileCredentialsProvider::builder()
                .configure(&self.provider_config)
                .profile_name(&self.profile)
                .build();
            match attempt(&provider, &format!("profile {}", self.profile), &mut tried).await {
                Ok(Some(c)) => return Ok((c, Source::Profile(self.profile.clone()))),
                Ok(None) => {}
                Err(e) => return Err(self.profile_error(&e)),
            }
        } else if self.profile_chosen {
            return Err(unknown_profile(&self.profile, &self.profiles));
        } else {
            tried.push("profile default".into());
        }
        let web_identity = WebIdentityTokenCredentialsProvider::builder()
            .configure(&self.provider_config)
            .build();
        if env_var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
            self.network.step(format!(
                "credentials: web identity (STS AssumeRoleWithWebIdentity of {})",
                env_var("AWS_ROLE_ARN").unwrap_or_default()
            ));
        }
        match attempt(&web_identity, "web identity token", &mut tried).await {
            Ok(Some(c)) => return Ok((c, Source::WebIdentity)),
            Ok(None) => {}
            Err(e) => {
                let what = match env_var("AWS_ROLE_ARN") {
                    Some(role) => format!("STS AssumeRoleWithWebIdentity of {role}"),
                    None => "web identity credentials".into(),
                };
                return Err(self.call_error(what, Some(Source::WebIdentity), None, &e));
            }
        }
        check_container_token()?;
        let container = EcsCredentialsProvider::builder()
            .configure(&self.provider_config)
            .build();
        if env_var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
            || env_var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        {
            self.network
                .step("credentials: container credentials endpoint");
        }
        match attempt(&container, "container credentials", &mut tried).await {
            Ok(Some(c)) => return Ok((c, Source::Container)),
            Ok(None) => {}
            Err(e) => {
                return Err(self.call_error("container credentials".into(), None, None, &e));
            }
        }
        if self.imds_unreachable {
            tried.push("EC2 instance metadata (no answer)".into());
        } else if !imds_disabled() {
            self.network
                .step("credentials: asking EC2 instance metadata");
            let imds = ImdsCredentialsProvider::builder()
                .configure(&self.provider_config)
                .imds_client(imds_client(&self.provider_config))
                .build();
            // Off EC2 IMDS fails to connect rather than saying "no credentials": both
            // mean this source has nothing.
            match attempt(&imds, "EC2 instance metadata", &mut tried).await {
                Ok(Some(c)) => return Ok((c, Source::InstanceMetadata)),
                Ok(None) => {}
                Err(_) => tried.push("EC2 instance metadata (no answer)".into()),
            }
        }
        Err(CredentialsError::NotFound {
            tried: tried.join(", "),
            profiles: self.profile_names(),
            chosen: (self.profile_chosen && self.profiles.get_profile(&self.profile).is_some())
                .then(|| self.profile.clone()),
        })
    }

    /// Base credentials, then the `--role-arn` role when one is asked for, all within the
    /// deadline.
    pub async fn resolve(&self, role: Option<&RoleOptions>) -> Result<Resolved, CredentialsError> {
        let (base, source) = self.base_credentials().await?;
        let Some(role) = role else {
            return Ok(Resolved {
                credentials: base,
                source,
                assumed_role: None,
            });
        };
        let started = Instant::now();
        let credentials = self
            .network
            .within(self.assume_flag_role(role, base, &source))
            .await
            .map_err(CredentialsError::TimedOut)??;
        log::debug(format_args!(
            "credentials: assumed {} ({} ms)",
            role.arn,
            started.elapsed().as_millis()
        ));
        Ok(Resolved {
            credentials,
            source,
            assumed_role: Some(role.arn.clone()),
        })
    }

    async fn assume_flag_role(
        &self,
        role: &RoleOptions,
        base: Credentials,
        source: &Source,
    ) -> Result<Credentials, CredentialsError> {
        let session_name = match (&role.session_name, role.forward_session_name) {
            (Some(name), _) => name.clone(),
            (None, true) => self.forwarded_session_name(base.clone(), source).await?,
            (None, false) => DEFAULT_SESSION_NAME.into(),
        };
        self.assume_role(
            base,
            source,
            &role.arn,
            &session_name,
            role.external_id.as_deref(),
        )
        .await
    }

    /// STS `AssumeRole` signed with `base`.
    async fn assume_role(
        &self,
        base: Credentials,
        signer: &Source,
        role: &str,
        session_name: &str,
        external_id: Option<&str>,
    ) -> Result<Credentials, CredentialsError> {
        let what = format!("STS AssumeRole of {role}");
        self.network.step(what.clone());
        let sdk = self.sdk_config(base).await;
        let out = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(role)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.call_error(what.clone(), Some(signer.clone()), None, &e))?;
        let Some(c) = out.credentials() else {
            return Err(CredentialsError::Call(Box::new(CallError {
                what,
                signer: Some(signer.clone()),
                sso: None,
                failure: Failure::Unreadable {
                    endpoint: self.network.last_endpoint(),
                    detail: "it holds no credentials".into(),
                },
            })));
        };
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            SystemTime::try_from(*c.expiration()).ok(),
            "AssumeRole",
        );
        check_credentials(&credentials, KeysOrigin::Issued(what))?;
        Ok(credentials)
    }

    /// aws-iam-authenticator's `--forward-session-name`: the part of `UserId` after `:`
    /// (`AROA…:alice@example.com` → `alice@example.com`).
    async fn forwarded_session_name(
        &self,
        base: Credentials,
        signer: &Source,
    ) -> Result<String, CredentialsError> {
        let what = "STS GetCallerIdentity (for --forward-session-name)".to_owned();
        self.network.step(what.clone());
        let sdk = self.sdk_config(base).await;
        let identity = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| self.call_error(what, Some(signer.clone()), None, &e))?;
        Ok(identity
            .user_id()
            .and_then(|id| id.split_once(':'))
            .map(|(_, session)| session.to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.into()))
    }

    /// An SDK configuration for API calls signed with `credentials`: endpoint overrides
    /// (`AWS_ENDPOINT_URL_STS`) apply here, never to the token; timeouts and retries are
    /// this run's.
    pub async fn sdk_config(&self, credentials: Credentials) -> aws_config::SdkConfig {
        let limits = self.network.limits();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_types::region::Region::new(self.region.to_string()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(self.network.http_client())
            .timeout_config(limits.timeout_config())
            .retry_config(limits.retry_config());
        if self.profiles.get_profile(&self.profile).is_some() {
            loader = loader.profile_name(&self.profile);
        }
        loader.load().await
    }

    /// A failed call, described with what the network saw.
    pub fn call_error(
        &self,
        what: String,
        signer: Option<Source>,
        sso: Option<SsoProfile>,
        err: &(dyn std::error::Error + 'static),
    ) -> CredentialsError {
        CredentialsError::Call(Box::new(CallError {
            what,
            signer,
            sso,
            failure: failure::classify(err, self.network.last_endpoint()),
        }))
    }

    fn profile_error(&self, err: &SdkCredentialsError) -> CredentialsError {
        self.remember_sso_secrets();
        if let SdkCredentialsError::InvalidConfiguration(_) = err {
            // The SDK words these as text only (`ProfileFile provider could not be built: …`).
            let detail = one_line(err);
            let detail = detail
                .rsplit("ProfileFile provider could not be built: ")
                .next()
                .unwrap_or(&detail)
                .to_owned();
            return CredentialsError::ProfileConfig {
                profile: self.profile.clone(),
                detail,
            };
        }
        let sso = self.sso_profile(&self.profile);
        let what = format!("credentials of profile {}", self.profile);
        let call = self.call_error(
            what,
            Some(Source::Profile(self.profile.clone())),
            sso.clone(),
            err,
        );
        let CredentialsError::Call(failed) = &call else {
            return call;
        };
        let network_failure = matches!(
            failed.failure,
            Failure::Unreachable { .. } | Failure::NoAnswer { .. } | Failure::TooLarge(_)
        );
        match sso {
            Some(sso) if !network_failure && !failure::is_sts(err) => {
                sso.login_error(self.sso_login_detail(&sso, failed.failure.to_string()))
            }
            _ => call,
        }
    }

    fn sso_login_detail(&self, sso: &SsoProfile, detail: String) -> String {
        let (Some(session), Some(home)) = (&sso.session, home_dir()) else {
            return detail;
        };
        match sso_cache::state(&home, session) {
            LoginState::ExpiresAt(t) if t <= Utc::now() => format!(
                "expired at {} and could not be refreshed: {detail}",
                stamp(t)
            ),
            _ => detail,
        }
    }

    /// The SSO profile at the root of `name`'s `source_profile` chain.
    pub fn sso_profile(&self, name: &str) -> Option<SsoProfile> {
        self.chain(name).into_iter().find_map(|(current, profile)| {
            let session = profile.get("sso_session");
            let start_url = profile.get("sso_start_url");
            (session.is_some() || start_url.is_some()).then(|| SsoProfile {
                profile: current.to_owned(),
                session: session.map(str::to_owned),
                start_url: start_url.map(str::to_owned),
            })
        })
    }

    /// `name` and the profiles its `source_profile` chain leads to, in order; it ends at a
    /// missing profile or a repeat (loops are reported by `process_chain`).
    fn chain<'a>(&'a self, mut name: &'a str) -> Vec<(&'a str, &'a Profile)> {
        let mut chain: Vec<(&str, &Profile)> = Vec::new();
        while !chain.iter().any(|(n, _)| *n == name) {
            let Some(profile) = self.profiles.get_profile(name) else {
                break;
            };
            chain.push((name, profile));
            match profile.get("source_profile") {
                Some(next) => name = next,
                None => break,
            }
        }
        chain
    }

    /// Static keys along the profile chain are checked before the SDK signs with them
    /// (for a `role_arn` chain it assumes the role itself).
    fn check_profile_keys(&self) -> Result<(), CredentialsError> {
        for (name, profile) in self.chain(&self.profile) {
            if let Some(id) = profile.get("aws_access_key_id") {
                let keys = Credentials::new(
                    id,
                    profile.get("aws_secret_access_key").unwrap_or_default(),
                    profile.get("aws_session_token").map(str::to_owned),
                    None,
                    "Profile",
                );
                check_credentials(&keys, KeysOrigin::ProfileKeys(name.to_owned()))?;
            }
        }
        Ok(())
    }

    /// Checks the cached SSO login before any network call: the SDK sends a legacy
    /// (`sso_start_url`) token without looking at its expiry, and an expired
    /// `sso-session` token it cannot refresh is a login the user has to redo.
    fn check_sso_login(&self) -> Result<(), CredentialsError> {
        let Some(sso) = self.sso_profile(&self.profile) else {
            return Ok(());
        };
        let Some(home) = home_dir() else {
            return Ok(());
        };
        let Some(key) = sso.session.as_deref().or(sso.start_url.as_deref()) else {
            return Ok(());
        };
        let now = Utc::now();
        let state = sso_cache::state(&home, key);
        log::debug(format_args!(
            "sso: cached login for {key}: {}",
            match &state {
                LoginState::Missing => "missing".to_owned(),
                LoginState::Unreadable => "unreadable".to_owned(),
                LoginState::ExpiresAt(t) => format!("expires {}", stamp(*t)),
            }
        ));
        match state {
            LoginState::ExpiresAt(t) if t > now => Ok(()),
            LoginState::ExpiresAt(_)
                if sso.session.is_some() && sso_cache::refreshable(&home, key, now) =>
            {
                log::debug(format_args!("sso: login expired; the SDK will refresh it"));
                Ok(())
            }
            LoginState::ExpiresAt(t) if sso.session.is_some() => {
                Err(sso.login_error(format!("expired at {} and cannot be refreshed", stamp(t))))
            }
            LoginState::ExpiresAt(t) => Err(sso.login_error(format!("expired at {}", stamp(t)))),
            LoginState::Missing => Err(sso.login_error("no cached login".into())),
            LoginState::Unreadable => Err(sso.login_error("the cached login is unreadable".into())),
        }
    }

    /// Walks the selected profile's `source_profile` chain as the SDK's profile provider
    /// does (aws-config `profile/credentials/repr.rs`), which reports loops and missing
    /// profiles only as text. `Some` when the chain starts from a `credential_process`;
    /// `None` when anything else supplies the base credentials, or the chain is
    /// misconfigured in a way the SDK reports itself.
    fn process_chain(&self) -> Result<Option<ProcessChain>, CredentialsError> {
        let mut name = self.profile.as_str();
        let mut visited: Vec<&str> = Vec::new();
        let mut hops = Vec::new();
        loop {
            let Some(profile) = self.profiles.get_profile(name) else {
                return Err(CredentialsError::MissingSourceProfile {
                    profile: visited.last().copied().unwrap_or(&self.profile).to_owned(),
                    missing: name.to_owned(),
                });
            };
            // No length limit: a chain through distinct profiles ends, and the SDK sets
            // none (aws-config `resolve_chain`).
            if visited.contains(&name) {
                visited.push(name);
                return Err(CredentialsError::ProfileLoop {
                    chain: visited.iter().map(|p| (*p).to_owned()).collect(),
                });
            }
            visited.push(name);
            if visited.len() > 1 && profile.get("aws_access_key_id").is_some() {
                return Ok(None);
            }
            let role = profile
                .get("role_arn")
                .filter(|_| profile.get("web_identity_token_file").is_none());
            let base_here = match role {
                Some(role_arn) => {
                    hops.push(Hop {
                        role_arn: role_arn.to_owned(),
                        external_id: profile.get("external_id").map(str::to_owned),
                        session_name: profile.get("role_session_name").map(str::to_owned),
                        owner: name.to_owned(),
                    });
                    match (
                        profile.get("source_profile"),
                        profile.get("credential_source"),
                    ) {
                        // Naming itself, a profile assumes its role with its own base
                        // credentials (aws-config's `SelfReference`; botocore allows
                        // static keys); with none it comes round again, a loop, as
                        // botocore says (`InfiniteLoopConfigError`).
                        (Some(next), None) if next == name && has_own_credentials(profile) => true,
                        (Some(next), None) => {
                            name = next;
                            false
                        }
                        _ => return Ok(None),
                    }
                }
                None => true,
            };
            if !base_here {
                continue;
            }
            let other_source = OTHER_BASE_SOURCES.iter().any(|k| profile.get(k).is_some());
            let Some(command) = profile.get("credential_process").filter(|_| !other_source) else {
                return Ok(None);
            };
            hops.reverse();
            return Ok(Some(ProcessChain {
                profile: name.to_owned(),
                command: command.to_owned(),
                hops,
            }));
        }
    }

    async fn process_chain_credentials(
        &self,
        chain: &ProcessChain,
    ) -> Result<Credentials, CredentialsError> {
        let program = credential_process::program(&chain.command);
        self.network.step(format!(
            "credentials: credential_process of profile {} ({program})",
            chain.profile
        ));
        let started = Instant::now();
        let mut credentials = credential_process::run(&chain.command)
            .await
            .map_err(|error| CredentialsError::Process {
                profile: chain.profile.clone(),
                error,
            })?;
        log::debug(format_args!(
            "credentials: credential_process of profile {} answered ({} ms)",
            chain.profile,
            started.elapsed().as_millis()
        ));
        check_credentials(&credentials, KeysOrigin::Process(chain.profile.clone()))?;
        // Each hop is signed by the credentials of the profile below it.
        let mut signer = chain.profile.clone();
        for hop in &chain.hops {
            let session = hop.session_name.clone().unwrap_or_else(|| {
                // The SDK's default for profile chains (aws-config `sts::util`).
                let ms = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                format!("assume-role-from-profile-{ms}")
            });
            credentials = self
                .assume_role(
                    credentials,
                    &Source::Profile(signer),
                    &hop.role_arn,
                    &session,
                    hop.external_id.as_deref(),
                )
                .await?;
            signer = hop.owner.clone();
        }
        Ok(credentials)
    }
}

/// Properties that give a profile base credentials other than static keys or a
/// `credential_process` (aws-config repr.rs `base_provider`).
const OTHER_BASE_SOURCES: [&str; 6] = [
    "credential_source",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "login_session",
];

/// Whether a profile has base credentials of its own: static keys, a
/// `credential_process` or another source.
fn has_own_credentials(profile: &aws_config::profile::Profile) -> bool {
    ["aws_access_key_id", "credential_process"]
        .iter()
        .chain(&OTHER_BASE_SOURCES)
        .any(|k| profile.get(k).is_some())
}

/// A profile chain rooted in a `credential_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProcessChain {
    /// The profile holding the command.
    profile: String,
    command: String,
    /// Roles to assume in order, innermost first.
    hops: Vec<Hop>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    role_arn: String,
    external_id: Option<String>,
    session_name: Option<String>,
    /// The profile holding this `role_arn`.
    owner: String,
}

/// A profile that gets its credentials from IAM Identity Center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoProfile {
    pub profile: String,
    /// `sso_session` (new form), refreshed by the SDK.
    pub session: Option<String>,
    /// `sso_start_url` (legacy form).
    pub start_url: Option<String>,
}

impl SsoProfile {
    fn login_error(&self, detail: String) -> CredentialsError {
        CredentialsError::SsoLogin {
            profile: self.profile.clone(),
            session: self.session.clone(),
            detail,
        }
    }

    fn login_hint(&self) -> String {
        sso_login_hint(&self.profile, self.session.as_deref())
    }
}

/// The command that renews an IAM Identity Center login.
fn sso_login_hint(profile: &str, session: Option<&str>) -> String {
    match session {
        Some(s) => {
            format!(
                "run `aws sso login --sso-session {s}` (or `aws sso login --profile {profile}`)"
            )
        }
        None => format!("run `aws sso login --profile {profile}`"),
    }
}

fn unknown_profile(name: &str, profiles: &ProfileSet) -> CredentialsError {
    let mut known: Vec<String> = profiles.profiles().map(str::to_owned).collect();
    known.sort();
    CredentialsError::UnknownProfile {
        name: name.to_owned(),
        known,
    }
}

/// Runs one source: `Ok(None)` when it has nothing to offer.
async fn attempt(
    provider: &dyn ProvideCredentials,
    name: &str,
    tried: &mut Vec<String>,
) -> Result<Option<Credentials>, SdkCredentialsError> {
    match provider.provide_credentials().await {
        Ok(c) => Ok(Some(c)),
        Err(SdkCredentialsError::CredentialsNotLoaded(_)) => {
            tried.push(name.to_owned());
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn source_error(name: &str) -> impl FnOnce(SdkCredentialsError) -> CredentialsError + '_ {
    move |e| CredentialsError::Source {
        source_name: name.to_owned(),
        detail: one_line(&e),
    }
}

/// The names [`CredentialsError::Malformed`] gives the parts of a set of credentials.
const ACCESS_KEY_ID: &str = "access key id";
const SECRET_ACCESS_KEY: &str = "secret access key";
const SESSION_TOKEN: &str = "session token";

/// Every set of credentials passes here where it enters the run, before anything signs
/// with it: the SDK panics on a header value it cannot build (aws-runtime `auth.rs`,
/// `HeaderValue::from_str(…).unwrap()` for `Authorization`, which holds the key id, and
/// `X-Amz-Security-Token`), and a key id with a line break makes a token no server
/// accepts. The secret and the session token are remembered for redaction.
fn check_credentials(c: &Credentials, from: KeysOrigin) -> Result<(), CredentialsError> {
    secrets::remember(c.secret_access_key());
    if let Some(token) = c.session_token() {
        secrets::remember(token);
    }
    let problem = |value: &str, key_id: bool| {
        if value.chars().any(char::is_control) {
            Some("contains a control character")
        } else if key_id && value.chars().any(char::is_whitespace) {
            Some("contains a space")
        } else if key_id && !value.is_ascii() {
            Some("contains a character that is not ASCII")
        } else if key_id && value.is_empty() {
            Some("is empty")
        } else {
            None
        }
    };
    let found = [
        (ACCESS_KEY_ID, Some(c.access_key_id())),
        (SECRET_ACCESS_KEY, Some(c.secret_access_key())),
        (SESSION_TOKEN, c.session_token()),
    ]
    .into_iter()
    .find_map(|(field, value)| Some((field, problem(value?, field == ACCESS_KEY_ID)?)));
    match found {
        Some((field, problem)) => Err(CredentialsError::Malformed {
            field,
            from,
            problem,
        }),
        None => Ok(()),
    }
}

/// The SDK sends the container authorization token as the `Authorization` header and,
/// when the header refuses it, prints the token in its error (aws-config `ecs.rs`); it
/// reads the token even when no container endpoint is set, and fails on a bad one. Like
/// botocore (`ContainerProvider._validate_auth_token`: no `\r` or `\n`, and no trimming
/// of a token file's trailing newline), a token with a line break is refused, here and
/// without showing it.
fn check_container_token() -> Result<(), CredentialsError> {
    // The file outranks the variable, in the SDK as in botocore.
    let (origin, from_file, token) =
        if let Some(path) = env_var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            let Some(bytes) = read_token_file(Path::new(&path)) else {
                return Ok(());
            };
            if bytes.len() as u64 > MAX_TOKEN_FILE {
                return Err(CredentialsError::ContainerToken {
                    origin: path,
                    from_file: true,
                    what: "more than 64 KiB",
                });
            }
            let token = String::from_utf8_lossy(&bytes).into_owned();
            (path, true, token)
        } else if let Some(token) = env_var("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(), false, token)
        } else {
            return Ok(());
        };
    secrets::remember(&token);
    let what = match token.chars().find(|c| c.is_control()) {
        None => return Ok(()),
        Some('\r' | '\n') => "a line break",
        Some(_) => "a control character",
    };
    Err(CredentialsError::ContainerToken {
        origin,
        from_file,
        what,
    })
}

/// The SDK's environment provider ignores expiry; aws-vault exports it, and a token must
/// not outlive the credentials that signed it.
fn with_env_expiry(c: Credentials) -> Result<Credentials, CredentialsError> {
    for var in ["AWS_SESSION_EXPIRATION", "AWS_CREDENTIAL_EXPIRATION"] {
        if let Some(value) = env_var(var) {
            let expiry = DateTime::parse_from_rfc3339(&value)
                .map_err(|_| CredentialsError::BadExpiration {
                    var,
                    value: value.chars().filter(|c| !c.is_control()).take(64).collect(),
                })?
                .with_timezone(&Utc);
            return Ok(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                c.session_token().map(str::to_owned),
                Some(expiry.into()),
                "Environment",
            ));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_aws_variables_are_named_not_shown() {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"secret\xff");
        let err = check_environment([("AWS_SECRET_ACCESS_KEY", bad)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable AWS_SECRET_ACCESS_KEY is not valid UTF-8"
        );
        assert!(check_environment([("LANG", bad)]).is_ok());
        assert!(check_environment([("AWS_REGION", OsStr::new("eu-west-1"))]).is_ok());
    }

    #[test]
    fn deadline_messages_say_what_was_pending() {
        let t = |waiting_for: Option<&str>, last_answer: Option<&str>| TimedOut {
            after: Duration::from_secs(2),
            step: Some("STS AssumeRole of r".into()),
            waiting_for: waiting_for.map(Into::into),
            last_answer: last_answer.map(Into::into),
        };
        assert_eq!(
            timed_out_message(&t(Some("http://h:1"), None)),
            "timed out after 2s: STS AssumeRole of r: no answer from http://h:1"
        );
        assert_eq!(
            timed_out_message(&t(None, Some("http://h:1 answered HTTP 503"))),
            "timed out after 2s: STS AssumeRole of r (retrying: http://h:1 answered HTTP 503)"
        );
        assert_eq!(
            timed_out_message(&t(None, None)),
            "timed out after 2s: STS AssumeRole of r"
        );
    }

    #[test]
    fn malformed_credentials_name_the_part_and_the_source_never_the_value() {
        let check = |id: &str, secret: &str, token: Option<&str>| {
            let c = Credentials::new(id, secret, token.map(str::to_owned), None, "test");
            check_credentials(&c, KeysOrigin::Process("p".into())).map_err(|e| e.to_string())
        };
        assert!(check("ASIAGOODKEY", "secret/with+chars", Some("token=")).is_ok());
        assert_eq!(
            check("ASIA\nBAD", "unitSecretValue", None).unwrap_err(),
            "the access key id from the credential_process of profile p contains a control character"
        );
        assert!(
            check("ASIA BAD", "s", None)
                .unwrap_err()
                .ends_with("contains a space")
        );
        assert!(
            check("ASIAÉ", "s", None)
                .unwrap_err()
                .ends_with("not ASCII")
        );
        assert_eq!(
            check("ASIAGOODKEY", "s", Some("unit\u{1}Token")).unwrap_err(),
            "the session token from the credential_process of profile p contains a control character"
        );
    }
}

//! Where the AWS credentials come from: the same sources, in the same order, as the AWS
//! CLI and SDKs, with our own chain so we know which source answered and can say why
//! one failed.

use std::borrow::Cow;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::profile::ProfileSet;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError as SdkCredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::os_shim_internal::{Env, Fs};
use chrono::{DateTime, Utc};

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
    },
    /// `--profile` / `AWS_PROFILE` names a profile the config files do not have.
    #[error("profile {name:?} not found in the AWS config files")]
    UnknownProfile { name: String, known: Vec<String> },
    /// `~/.aws/config` or `~/.aws/credentials` could not be read or parsed.
    #[error("cannot read the AWS config files: {0}")]
    ConfigFile(String),
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
    /// A source was configured but failed.
    #[error("could not get credentials from {source_name}: {detail}")]
    Source { source_name: String, detail: String },
    /// `AWS_SESSION_EXPIRATION` / `AWS_CREDENTIAL_EXPIRATION` is not a timestamp.
    #[error("{var} is not an RFC 3339 timestamp: {value:?}")]
    BadExpiration { var: &'static str, value: String },
    /// AssumeRole for `--role-arn` failed.
    #[error("could not assume role {role}: {detail}")]
    AssumeRole { role: String, detail: String },
    /// GetCallerIdentity for `--forward-session-name` failed.
    #[error("could not read the caller identity for --forward-session-name: {0}")]
    CallerIdentity(String),
}

impl CredentialsError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound { profiles, .. } => Some(if profiles.is_empty() {
                "configure credentials with `aws configure` or `aws configure sso`, or run under `aws-vault exec <profile> --`".into()
            } else {
                format!(
                    "choose a profile with --profile or AWS_PROFILE (configured: {}), or run under `aws-vault exec <profile> --`",
                    profiles.join(", ")
                )
            }),
            Self::UnknownProfile { known, .. } if known.is_empty() => {
                Some("no profiles are configured; create one with `aws configure --profile <name>`".into())
            }
            Self::UnknownProfile { known, .. } => {
                Some(format!("profiles that exist: {}", known.join(", ")))
            }
            Self::SsoLogin { profile, session, .. } => Some(match session {
                Some(s) => format!("run `aws sso login --sso-session {s}` (or `aws sso login --profile {profile}`)"),
                None => format!("run `aws sso login --profile {profile}`"),
            }),
            Self::Region(_) => Some("set --region, AWS_REGION or the profile's region to a region such as us-west-2".into()),
            Self::BadExpiration { .. } => Some("use a timestamp such as 2026-01-02T15:04:05Z, or unset the variable".into()),
            Self::AssumeRole { .. } => Some("check the role ARN, that the role's trust policy allows your identity, and --external-id".into()),
            _ => None,
        }
    }
}

/// Environment access used here, kept in one place so tests can see what is read.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_flag(name: &str) -> Option<bool> {
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

/// One line, bounded, from an SDK error and its sources.
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let text = DisplayErrorContext(err).to_string();
    let mut line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > 400 {
        let cut = (0..=400)
            .rev()
            .find(|i| line.is_char_boundary(*i))
            .unwrap_or(0);
        line.truncate(cut);
        line.push('…');
    }
    line
}

impl Setup {
    /// Reads the config files and environment: profile, region, endpoint variant.
    pub async fn load(options: &Options) -> Result<Self, CredentialsError> {
        let env_profile = env_var("AWS_PROFILE");
        let profile_flag = options.profile.is_some();
        let profile_chosen = profile_flag || env_profile.is_some();
        let profile = options
            .profile
            .clone()
            .or(env_profile)
            .unwrap_or_else(|| "default".into());
        let profiles = aws_config::profile::load(
            &Fs::real(),
            &Env::real(),
            &EnvConfigFiles::default(),
            Some(Cow::Owned(profile.clone())),
        )
        .await
        .map_err(|e| CredentialsError::ConfigFile(one_line(&e)))?;
        if profile_flag && profiles.get_profile(&profile).is_none() {
            return Err(unknown_profile(&profile, &profiles));
        }
        let selected = profiles.get_profile(&profile);
        let from_profile = |key: &str| selected.and_then(|p| p.get(key)).map(str::to_owned);

        let variant = Variant {
            fips: env_flag("AWS_USE_FIPS_ENDPOINT")
                .or_else(|| from_profile("use_fips_endpoint").map(|v| v == "true"))
                .unwrap_or(false),
            dual_stack: env_flag("AWS_USE_DUALSTACK_ENDPOINT")
                .or_else(|| from_profile("use_dualstack_endpoint").map(|v| v == "true"))
                .unwrap_or(false),
        };

        let mut provider_config = ProviderConfig::default();
        let mut imds_unreachable = false;
        let (name, region_origin) = if let Some(r) = &options.region {
            (r.clone(), RegionOrigin::Flag)
        } else if let Some(r) = env_var("AWS_REGION").or_else(|| env_var("AWS_DEFAULT_REGION")) {
            (r, RegionOrigin::Environment)
        } else if let Some(r) = from_profile("region") {
            (r, RegionOrigin::Profile)
        } else {
            let found = if imds_disabled() {
                None
            } else {
                let found = ImdsRegionProvider::builder()
                    .configure(&provider_config)
                    .imds_client(imds_client(&provider_config))
                    .build()
                    .region()
                    .await;
                imds_unreachable = found.is_none();
                found
            };
            match found {
                Some(r) => (r.to_string(), RegionOrigin::InstanceMetadata),
                None => (FALLBACK_REGION.into(), RegionOrigin::Fallback),
            }
        };
        let region = Region::new(&name)?;
        provider_config =
            provider_config.with_region(Some(aws_types::region::Region::new(name.clone())));
        Ok(Self {
            region,
            region_origin,
            variant,
            profile,
            profile_chosen,
            profile_flag,
            profiles,
            provider_config,
            imds_unreachable,
        })
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

    /// The base credentials, from the first source that has any.
    pub async fn base_credentials(&self) -> Result<(Credentials, Source), CredentialsError> {
        let mut tried = Vec::new();
        if !self.profile_flag {
            let env = EnvironmentVariableCredentialsProvider::new();
            let name = "environment variables";
            if let Some(c) = attempt(&env, name, &mut tried)
                .await
                .map_err(source_error(name))?
            {
                return Ok((with_env_expiry(c)?, Source::Environment));
            }
        }
        if self.profiles.get_profile(&self.profile).is_some() {
            self.check_legacy_sso_login()?;
            let provider = ProfileFileCredentialsProvider::builder()
                .configure(&self.provider_config)
                .profile_name(&self.profile)
                .build();
            match attempt(&provider, "profile", &mut tried).await {
                Ok(Some(c)) => return Ok((c, Source::Profile(self.profile.clone()))),
                Ok(None) => {}
                Err(e) => return Err(self.profile_error(e)),
            }
        } else if self.profile_chosen {
            return Err(unknown_profile(&self.profile, &self.profiles));
        } else {
            tried.push("profile default".into());
        }
        let web_identity = WebIdentityTokenCredentialsProvider::builder()
            .configure(&self.provider_config)
            .build();
        let name = "web identity token";
        if let Some(c) = attempt(&web_identity, name, &mut tried)
            .await
            .map_err(source_error(name))?
        {
            return Ok((c, Source::WebIdentity));
        }
        let container = EcsCredentialsProvider::builder()
            .configure(&self.provider_config)
            .build();
        let name = "container credentials";
        if let Some(c) = attempt(&container, name, &mut tried)
            .await
            .map_err(source_error(name))?
        {
            return Ok((c, Source::Container));
        }
        if self.imds_unreachable {
            tried.push("EC2 instance metadata (no answer)".into());
        } else if !imds_disabled() {
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
        })
    }

    /// Base credentials, then the `--role-arn` role when one is asked for.
    pub async fn resolve(&self, role: Option<&RoleOptions>) -> Result<Resolved, CredentialsError> {
        let (base, source) = self.base_credentials().await?;
        let Some(role) = role else {
            return Ok(Resolved {
                credentials: base,
                source,
                assumed_role: None,
            });
        };
        let sdk = self.sdk_config(base.clone()).await;
        let session_name = match (&role.session_name, role.forward_session_name) {
            (Some(name), _) => name.clone(),
            (None, true) => forwarded_session_name(&sdk).await?,
            (None, false) => DEFAULT_SESSION_NAME.into(),
        };
        let mut builder = AssumeRoleProvider::builder(role.arn.clone())
            .session_name(session_name)
            .configure(&sdk);
        if let Some(id) = &role.external_id {
            builder = builder.external_id(id.clone());
        }
        let provider = builder.build_from_provider(base).await;
        let credentials =
            provider
                .provide_credentials()
                .await
                .map_err(|e| CredentialsError::AssumeRole {
                    role: role.arn.clone(),
                    detail: one_line(&e),
                })?;
        Ok(Resolved {
            credentials,
            source,
            assumed_role: Some(role.arn.clone()),
        })
    }

    /// An SDK configuration for API calls signed with `credentials`: endpoint overrides
    /// (`AWS_ENDPOINT_URL_STS`) apply here, never to the token.
    pub async fn sdk_config(&self, credentials: Credentials) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_types::region::Region::new(self.region.to_string()))
            .credentials_provider(SharedCredentialsProvider::new(credentials));
        if self.profiles.get_profile(&self.profile).is_some() {
            loader = loader.profile_name(&self.profile);
        }
        loader.load().await
    }

    fn profile_error(&self, err: SdkCredentialsError) -> CredentialsError {
        let detail = one_line(&err);
        if let Some(sso) = self.sso_profile(&self.profile) {
            return sso.login_error(detail);
        }
        CredentialsError::Source {
            source_name: format!("profile {}", self.profile),
            detail,
        }
    }

    /// The SSO profile at the root of `name`'s `source_profile` chain.
    pub fn sso_profile(&self, name: &str) -> Option<SsoProfile> {
        let mut current = name;
        // Bounded: a longer chain is a loop the SDK reports itself.
        for _ in 0..16 {
            let profile = self.profiles.get_profile(current)?;
            let session = profile.get("sso_session");
            let start_url = profile.get("sso_start_url");
            if session.is_some() || start_url.is_some() {
                return Some(SsoProfile {
                    profile: current.to_owned(),
                    session: session.map(str::to_owned),
                    start_url: start_url.map(str::to_owned),
                });
            }
            current = profile.get("source_profile")?;
        }
        None
    }

    /// The SDK sends a legacy (`sso_start_url`) profile's cached token without looking at
    /// its expiry and never refreshes it; checking first fails fast, with no network.
    fn check_legacy_sso_login(&self) -> Result<(), CredentialsError> {
        let Some(sso) = self.sso_profile(&self.profile) else {
            return Ok(());
        };
        let (None, Some(start_url), Some(home)) = (&sso.session, &sso.start_url, home_dir()) else {
            return Ok(());
        };
        match sso_cache::state(&home, start_url) {
            LoginState::ExpiresAt(t) if t > Utc::now() => Ok(()),
            LoginState::ExpiresAt(t) => {
                Err(sso.login_error(format!("expired at {}", t.format("%Y-%m-%d %H:%M:%SZ"))))
            }
            LoginState::Missing => Err(sso.login_error("no cached login".into())),
            LoginState::Unreadable => Err(sso.login_error("the cached login is unreadable".into())),
        }
    }
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
}

/// The user's home directory (`$HOME` on Unix), where `~/.aws` lives.
pub fn home_dir() -> Option<std::path::PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_owned())
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

/// The SDK's environment provider ignores expiry; aws-vault exports it, and a token must
/// not outlive the credentials that signed it.
fn with_env_expiry(c: Credentials) -> Result<Credentials, CredentialsError> {
    for var in ["AWS_SESSION_EXPIRATION", "AWS_CREDENTIAL_EXPIRATION"] {
        if let Some(value) = env_var(var) {
            let expiry = DateTime::parse_from_rfc3339(&value)
                .map_err(|_| CredentialsError::BadExpiration {
                    var,
                    value: value.chars().take(64).collect(),
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

/// aws-iam-authenticator's `--forward-session-name`: the part of `UserId` after `:`
/// (`AROA…:alice@example.com` → `alice@example.com`).
async fn forwarded_session_name(sdk: &aws_config::SdkConfig) -> Result<String, CredentialsError> {
    let identity = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CredentialsError::CallerIdentity(one_line(&e)))?;
    Ok(identity
        .user_id()
        .and_then(|id| id.split_once(':'))
        .map(|(_, session)| session.to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_SESSION_NAME.into()))
}

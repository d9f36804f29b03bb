//! Role profile chains, walked by us rather than the SDK's profile provider, the way
//! botocore walks them (`AssumeRoleProvider`): the base credentials at the root (a source
//! profile's keys, its `credential_process`, SSO or web identity role as the SDK gives them
//! for that profile alone, a `credential_source`), then one AssumeRole per `role_arn` hop
//! with its `role_session_name`, `external_id`, `mfa_serial` and `duration_seconds`. Each
//! session is shared with the AWS CLI through its role cache (`aws_cli_cache`): the
//! highest hop cached there serves, and only the hops above it are assumed.
//!
//! Everything is decided before the first call ([`AwsConfig::role_plan`]): the chain, what
//! the cache holds, and whether a person can type the MFA codes the remaining hops need.

use std::time::Instant;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::{Profile, ProfileFileCredentialsProvider};
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError as SdkCredentialsError;
use chrono::Utc;
use secrecy::SecretString;

use super::chain::{check_container_token, with_env_expiry};
use super::error::MfaNeeded;
use super::profile::{OTHER_BASE_SOURCES, check_credentials, has_own_credentials};
use super::region::imds_client;
use super::sts::AssumeRoleParams;
use super::{AwsConfig, CredentialsError, KeysOrigin, Source, aws_cli_cache, mfa, process};
use crate::aws_files::{config_files_modified, home_dir};
use crate::log;
use crate::message::{self, one_line};

/// A profile chain we walk ourselves: base credentials, then the roles to assume.
pub(super) struct RoleChain {
    base: Base,
    /// Innermost first: each is assumed with the credentials of the one before it.
    hops: Vec<Hop>,
}

/// Where the base credentials of a chain come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Base {
    /// The keys of a source profile (static keys outrank anything else past the first
    /// profile), or of a profile naming itself as its source.
    Keys(String),
    /// The `credential_process` of a profile, run by us (`process`).
    Process { profile: String, command: String },
    /// The `credential_source` of the profile with the innermost role.
    Named {
        profile: String,
        source: NamedSource,
    },
    /// What the SDK's profile provider gives for this profile alone: IAM Identity Center,
    /// a web identity role, a console login session.
    Profile(String),
}

/// The `credential_source` values botocore and the SDKs know (case-insensitive in the
/// SDK's `NamedProviderFactory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedSource {
    Environment,
    Ec2InstanceMetadata,
    EcsContainer,
}

impl NamedSource {
    fn parse(name: &str) -> Option<Self> {
        [
            ("Environment", Self::Environment),
            ("Ec2InstanceMetadata", Self::Ec2InstanceMetadata),
            ("EcsContainer", Self::EcsContainer),
        ]
        .into_iter()
        .find_map(|(known, source)| known.eq_ignore_ascii_case(name).then_some(source))
    }
}

/// One `role_arn` to assume.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    /// The profile holding the `role_arn`.
    owner: String,
    params: AssumeRoleParams,
}

impl Hop {
    /// The AssumeRole of profile `owner`, as botocore's `_get_role_config` reads it.
    fn of(owner: &str, profile: &Profile, role_arn: &str) -> Result<Self, CredentialsError> {
        let get = |key: &str| profile.get(key).map(str::to_owned);
        let duration_seconds = profile
            .get("duration_seconds")
            .map(|text| {
                text.trim()
                    .parse::<i32>()
                    .map_err(|_| CredentialsError::ProfileConfig {
                        profile: owner.to_owned(),
                        detail: format!(
                            "duration_seconds = {} is not a whole number of seconds",
                            message::bounded(&message::single_line(text))
                        ),
                    })
            })
            .transpose()?;
        Ok(Self {
            owner: owner.to_owned(),
            params: AssumeRoleParams {
                role_arn: role_arn.to_owned(),
                // botocore makes up a name for an empty one too.
                session_name: get("role_session_name").filter(|s| !s.is_empty()),
                external_id: get("external_id"),
                serial_number: get("mfa_serial"),
                duration_seconds,
            },
        })
    }
}

/// What a run does for a role chain, decided before any call.
pub(super) struct RolePlan {
    chain: RoleChain,
    /// The highest hop whose session the AWS CLI's cache holds, with its credentials.
    cached: Option<(usize, Credentials)>,
    /// The MFA code typed for each hop to assume that names an MFA device.
    codes: Vec<(usize, SecretString)>,
}

/// How long a role session lasts when `duration_seconds` does not say: STS's default.
const DEFAULT_SESSION_SECONDS: i64 = 3600;

impl AwsConfig {
    /// Walks the selected profile's `source_profile` chain as the SDK's profile provider
    /// does (aws-config `src/profile/credentials/repr.rs`, `resolve_chain`), which reports
    /// loops and missing profiles only as text. `Some` for a chain of roles, and for a
    /// profile that is a `credential_process` alone; `None` when the SDK's provider serves
    /// the profile as it is (no role, a web identity role, or an SSO or console login that
    /// assumes its own role), or the chain is misconfigured in a way the SDK reports.
    fn role_chain(&self) -> Result<Option<RoleChain>, CredentialsError> {
        let mut name = self.profile.as_str();
        let mut visited: Vec<&str> = Vec::new();
        let mut hops = Vec::new();
        let other_source = |p: &Profile| OTHER_BASE_SOURCES.iter().any(|k| p.get(k).is_some());
        let base = loop {
            let Some(profile) = self.profiles.get_profile(name) else {
                return Err(CredentialsError::MissingSourceProfile {
                    profile: visited.last().copied().unwrap_or(&self.profile).to_owned(),
                    missing: name.to_owned(),
                });
            };
            // No length limit: a chain through distinct profiles ends, and the SDK sets
            // none.
            if visited.contains(&name) {
                visited.push(name);
                return Err(CredentialsError::ProfileLoop {
                    chain: visited.iter().map(|p| (*p).to_owned()).collect(),
                });
            }
            visited.push(name);
            if visited.len() > 1 && profile.get("aws_access_key_id").is_some() {
                if profile.get("aws_secret_access_key").is_none() {
                    return Ok(None);
                }
                break Base::Keys(name.to_owned());
            }
            let role = profile
                .get("role_arn")
                .filter(|_| profile.get("web_identity_token_file").is_none());
            let Some(role_arn) = role else {
                // The root: its own credentials, as the SDK's `base_provider` finds them.
                if other_source(profile) {
                    break Base::Profile(name.to_owned());
                }
                match profile.get("credential_process") {
                    Some(command) => {
                        break Base::Process {
                            profile: name.to_owned(),
                            command: command.to_owned(),
                        };
                    }
                    None => return Ok(None),
                }
            };
            hops.push(Hop::of(name, profile, role_arn)?);
            match (
                profile.get("source_profile"),
                profile.get("credential_source"),
            ) {
                // Naming itself, a profile assumes its role with its own base credentials
                // (aws-config's `SelfReference`; botocore allows static keys); with none
                // it comes round again, a loop, as botocore says (`InfiniteLoopConfigError`).
                (Some(next), None) if next == name && has_own_credentials(profile) => {
                    if other_source(profile) {
                        return Ok(None);
                    }
                    break match profile.get("credential_process") {
                        Some(command) => Base::Process {
                            profile: name.to_owned(),
                            command: command.to_owned(),
                        },
                        None => Base::Keys(name.to_owned()),
                    };
                }
                (Some(next), None) => name = next,
                (None, Some(source)) => match NamedSource::parse(source) {
                    Some(source) => {
                        break Base::Named {
                            profile: name.to_owned(),
                            source,
                        };
                    }
                    None => return Ok(None),
                },
                _ => return Ok(None),
            }
        };
        if hops.is_empty() && !matches!(base, Base::Process { .. }) {
            return Ok(None);
        }
        hops.reverse();
        Ok(Some(RoleChain { base, hops }))
    }

    /// The highest hop of `chain` whose session the AWS CLI's cache holds (when that cache
    /// is on), its credentials checked and remembered.
    fn cached_hop(&self, chain: &RoleChain) -> Option<(usize, aws_cli_cache::Found)> {
        if !self.aws_cli_cache {
            return None;
        }
        let home = home_dir()?;
        let edited = config_files_modified(Some(&home));
        let now = Utc::now();
        chain.hops.iter().enumerate().rev().find_map(|(i, hop)| {
            let found = aws_cli_cache::read(&home, &hop.params, edited, now)?;
            let origin =
                KeysOrigin::Issued(format!("the AWS CLI's cache file {}", found.path.display()));
            match check_credentials(&found.credentials, origin) {
                Ok(()) => Some((i, found)),
                Err(e) => {
                    log::debug(format_args!("credentials: not used: {e}"));
                    None
                }
            }
        })
    }

    /// Whether the profile in use is a role chain that a session in the AWS CLI's cache
    /// serves, so its base credentials (an SSO login) are not needed.
    pub fn role_session_cached(&self) -> bool {
        matches!(self.role_chain(), Ok(Some(chain)) if self.cached_hop(&chain).is_some())
    }

    /// The plan for the profile in use when it is a chain we walk (`None` otherwise, and
    /// when keys in the environment come first): the chain, the session the AWS CLI's cache
    /// holds, and the MFA codes the hops to assume need, typed now by the person at the
    /// terminal (the network deadline then starts again). Without a person, a hop needing
    /// a code fails here, before any call.
    pub(super) fn role_plan(&self) -> Result<Option<RolePlan>, CredentialsError> {
        if self.profile_in_use().is_none() {
            return Ok(None);
        }
        let Some(chain) = self.role_chain()? else {
            return Ok(None);
        };
        let cached = self.cached_hop(&chain).map(|(i, found)| {
            log::debug(format_args!(
                "credentials: role session for {} from the AWS CLI cache (expires {})",
                chain.hops[i].params.role_arn,
                message::rfc3339(found.expires)
            ));
            (i, found.credentials)
        });
        if cached.is_none() {
            self.check_sso_login()?;
            self.check_profile_keys()?;
        }
        let first = cached.as_ref().map_or(0, |(i, _)| i + 1);
        let needing_codes: Vec<usize> = (first..chain.hops.len())
            .filter(|&i| chain.hops[i].params.serial_number.is_some())
            .collect();
        if let (Some(&i), Err(why)) = (needing_codes.first(), self.mfa.person) {
            let hop = &chain.hops[i];
            let seconds = hop
                .params
                .duration_seconds
                .map_or(DEFAULT_SESSION_SECONDS, i64::from);
            return Err(CredentialsError::MfaNoPerson(Box::new(MfaNeeded {
                profile: self.profile.clone(),
                owner: hop.owner.clone(),
                role: hop.params.role_arn.clone(),
                serial: hop.params.serial_number.clone().unwrap_or_default(),
                why,
                lasts: message::time_left(chrono::TimeDelta::seconds(seconds)),
                aws_cli_cache: self.aws_cli_cache,
            })));
        }
        let mut codes = Vec::new();
        for i in needing_codes {
            let serial = chain.hops[i].params.serial_number.as_deref().unwrap_or("");
            codes.push((i, mfa::ask(serial, self.mfa.timeout)?));
        }
        if !codes.is_empty() {
            // A person took their time: what is left is the network's.
            self.network.restart();
        }
        Ok(Some(RolePlan {
            chain,
            cached,
            codes,
        }))
    }

    /// Carries out `plan`: the base credentials unless a cached session serves, then each
    /// hop above it, each written to the AWS CLI's cache.
    pub(super) async fn role_chain_credentials(
        &self,
        plan: RolePlan,
    ) -> Result<Credentials, CredentialsError> {
        let hops = &plan.chain.hops;
        let (mut credentials, mut signer, first) = match plan.cached {
            Some((i, credentials)) => (credentials, Source::Profile(hops[i].owner.clone()), i + 1),
            None => {
                let (credentials, signer) = self.base(&plan.chain.base).await?;
                (credentials, signer, 0)
            }
        };
        // Each hop is signed by the credentials of the one below it.
        for (i, hop) in hops.iter().enumerate().skip(first) {
            let code = plan.codes.iter().find(|(j, _)| *j == i).map(|(_, c)| c);
            let started = Instant::now();
            let (assumed, user) = self
                .assume_role(credentials, &signer, &hop.params, code)
                .await?;
            log::debug(format_args!(
                "credentials: assumed {} for profile {} ({} ms)",
                hop.params.role_arn,
                hop.owner,
                started.elapsed().as_millis()
            ));
            if self.aws_cli_cache
                && let Some(home) = home_dir()
            {
                match aws_cli_cache::write(&home, &hop.params, &assumed, user.as_ref()) {
                    Ok(path) => log::debug(format_args!(
                        "credentials: role session for {} written to the AWS CLI cache ({})",
                        hop.params.role_arn,
                        path.display()
                    )),
                    // Best effort: the next run asks STS again.
                    Err(e) => log::debug(format_args!(
                        "credentials: role session for {} not written to the AWS CLI cache ({e})",
                        hop.params.role_arn
                    )),
                }
            }
            credentials = assumed;
            signer = Source::Profile(hop.owner.clone());
        }
        Ok(credentials)
    }

    /// The base credentials of a chain, checked, and where they came from (for the
    /// messages of the first hop's call).
    async fn base(&self, base: &Base) -> Result<(Credentials, Source), CredentialsError> {
        let (credentials, source, origin) = match base {
            Base::Keys(name) => {
                let get = |key: &str| self.profiles.get_profile(name).and_then(|p| p.get(key));
                let (Some(id), Some(secret)) =
                    (get("aws_access_key_id"), get("aws_secret_access_key"))
                else {
                    return Err(CredentialsError::ProfileConfig {
                        profile: name.clone(),
                        detail: "it has aws_access_key_id but no aws_secret_access_key".into(),
                    });
                };
                let keys = Credentials::new(
                    id,
                    secret,
                    get("aws_session_token").map(str::to_owned),
                    None,
                    "Profile",
                );
                let origin = KeysOrigin::ProfileKeys(name.clone());
                (keys, Source::Profile(name.clone()), origin)
            }
            Base::Process { profile, command } => {
                let program = process::program(command);
                self.network.step(format!(
                    "credentials: credential_process of profile {profile} ({program})"
                ));
                let started = Instant::now();
                let credentials =
                    process::run(command)
                        .await
                        .map_err(|error| CredentialsError::Process {
                            profile: profile.clone(),
                            error,
                        })?;
                log::debug(format_args!(
                    "credentials: credential_process of profile {profile} answered ({} ms)",
                    started.elapsed().as_millis()
                ));
                let origin = KeysOrigin::Process(profile.clone());
                (credentials, Source::Profile(profile.clone()), origin)
            }
            Base::Named { profile, source } => self.named_source(profile, *source).await?,
            Base::Profile(name) => {
                self.network.step(format!("credentials: profile {name}"));
                let provider = ProfileFileCredentialsProvider::builder()
                    .configure(&self.provider_config)
                    .profile_name(name)
                    .build();
                let credentials = provider
                    .provide_credentials()
                    .await
                    .map_err(|e| self.profile_error(name, &e))?;
                let source = Source::Profile(name.clone());
                let origin = KeysOrigin::Issued(source.to_string());
                (credentials, source, origin)
            }
        };
        check_credentials(&credentials, origin)?;
        Ok((credentials, source))
    }

    /// The credentials of a `credential_source`, through the SDK's provider for it.
    async fn named_source(
        &self,
        profile: &str,
        source: NamedSource,
    ) -> Result<(Credentials, Source, KeysOrigin), CredentialsError> {
        let of = format!("credential_source of profile {profile}");
        match source {
            NamedSource::Environment => {
                self.network
                    .step(format!("credentials: environment variables ({of})"));
                let found = EnvironmentVariableCredentialsProvider::new()
                    .provide_credentials()
                    .await
                    .map_err(|e| CredentialsError::Source {
                        source_name: format!("environment variables ({of})"),
                        detail: match e {
                            SdkCredentialsError::CredentialsNotLoaded(_) => {
                                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set"
                                    .into()
                            }
                            e => one_line(&e),
                        },
                    })?;
                let credentials = with_env_expiry(found)?;
                Ok((credentials, Source::Environment, KeysOrigin::Environment))
            }
            NamedSource::Ec2InstanceMetadata => {
                self.network
                    .step(format!("credentials: asking EC2 instance metadata ({of})"));
                let credentials = ImdsCredentialsProvider::builder()
                    .configure(&self.provider_config)
                    .imds_client(imds_client(&self.provider_config))
                    .build()
                    .provide_credentials()
                    .await
                    .map_err(|e| {
                        let what = format!("credentials from EC2 instance metadata ({of})");
                        self.call_error(what, None, None, &e)
                    })?;
                let origin = KeysOrigin::Issued("EC2 instance metadata".into());
                Ok((credentials, Source::InstanceMetadata, origin))
            }
            NamedSource::EcsContainer => {
                check_container_token()?;
                self.network.step(format!(
                    "credentials: container credentials endpoint ({of})"
                ));
                let credentials = EcsCredentialsProvider::builder()
                    .configure(&self.provider_config)
                    .build()
                    .provide_credentials()
                    .await
                    .map_err(|e| {
                        let what = format!("container credentials ({of})");
                        self.call_error(what, None, None, &e)
                    })?;
                let origin = KeysOrigin::Issued("the container credentials endpoint".into());
                Ok((credentials, Source::Container, origin))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_sources_are_named_as_the_sdk_names_them() {
        assert_eq!(
            NamedSource::parse("Environment"),
            Some(NamedSource::Environment)
        );
        assert_eq!(
            NamedSource::parse("ec2instancemetadata"),
            Some(NamedSource::Ec2InstanceMetadata)
        );
        assert_eq!(
            NamedSource::parse("EcsContainer"),
            Some(NamedSource::EcsContainer)
        );
        assert_eq!(NamedSource::parse("Vault"), None);
    }
}

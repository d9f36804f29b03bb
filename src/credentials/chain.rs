//! The credential chain: the same sources, in the same order, as the AWS CLI and SDKs
//! (environment → profile → web identity → container endpoint → EC2 instance metadata),
//! run by us so we know which source answered and can say why one failed; then the
//! `--role-arn` role on top.

use std::path::Path;
use std::time::Instant;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError as SdkCredentialsError;
use chrono::{DateTime, Utc};

use super::config::unknown_profile;
use super::profile::check_credentials;
use super::region::{imds_client, imds_disabled};
use super::role_chain::RolePlan;
use super::{AwsConfig, CredentialsError, KeysOrigin, Resolved, RoleOptions, Source};
use crate::aws_files::{MAX_TOKEN_FILE, env_var, read_token_file};
use crate::log;
use crate::message::{self, one_line};
use crate::secrets;

impl AwsConfig {
    /// The base credentials, from the first source that has any, within the deadline.
    pub async fn base_credentials(&self) -> Result<(Credentials, Source), CredentialsError> {
        let started = Instant::now();
        // Decided, and any MFA code typed, before the deadline's clock runs for the calls.
        let role_plan = self.role_plan()?;
        let found = self
            .network
            .within(self.first_source(role_plan))
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

    async fn first_source(
        &self,
        role_plan: Option<RolePlan>,
    ) -> Result<(Credentials, Source), CredentialsError> {
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
            if let Some(plan) = role_plan {
                let c = self.role_chain_credentials(plan).await?;
                return Ok((c, Source::Profile(self.profile.clone())));
            }
            self.check_sso_login()?;
            self.check_profile_keys()?;
            self.network
                .step(format!("credentials: profile {}", self.profile));
            let provider = ProfileFileCredentialsProvider::builder()
                .configure(&self.provider_config)
                .profile_name(&self.profile)
                .build();
            match attempt(&provider, &format!("profile {}", self.profile), &mut tried).await {
                Ok(Some(c)) => return Ok((c, Source::Profile(self.profile.clone()))),
                Ok(None) => {}
                Err(e) => return Err(self.profile_error(&self.profile, &e)),
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

/// The SDK sends the container authorization token as the `Authorization` header and,
/// when the header refuses it, prints the token in its error (aws-config `src/ecs.rs`); it
/// reads the token even when no container endpoint is set, and fails on a bad one. Like
/// botocore (`ContainerProvider._validate_auth_token`: no `\r` or `\n`, and no trimming
/// of a token file's trailing newline), a token with a line break is refused, here and
/// without showing it.
pub(super) fn check_container_token() -> Result<(), CredentialsError> {
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
                    what: format!("more than {}", message::size(MAX_TOKEN_FILE)),
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
        what: what.into(),
    })
}

/// The SDK's environment provider ignores expiry; aws-vault exports it, and a token must
/// not outlive the credentials that signed it.
pub(super) fn with_env_expiry(c: Credentials) -> Result<Credentials, CredentialsError> {
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

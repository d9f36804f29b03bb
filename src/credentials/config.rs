//! The AWS configuration a run works with: the config files and environment read once
//! (profile, region, endpoint variant), the secrets they hold remembered, and the SDK
//! configuration every AWS call of the run is made with.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use aws_config::BehaviorVersion;
use aws_config::profile::{ProfileParseError, ProfileSet};
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use super::region::{self, RegionOrigin};
use super::{CallError, CredentialsError, MfaPrompt, Options, Source, SsoProfile};
use crate::aws_files::{self, MAX_TOKEN_FILE, env_var, home_dir, read_token_file};
use crate::log;
use crate::message::{self, chain, one_line, single_line};
use crate::network::failure;
use crate::network::{Deadline, Network};
use crate::secrets;
use crate::sts_endpoint::{Region, Variant};

/// The AWS configuration a run works with, read from files and environment only.
pub struct AwsConfig {
    pub region: Region,
    pub region_origin: RegionOrigin,
    pub variant: Variant,
    /// The profile the profile provider would use, and whether the user chose it.
    pub profile: String,
    pub profile_chosen: bool,
    pub(super) profile_flag: bool,
    pub(super) profiles: ProfileSet,
    pub(super) provider_config: ProviderConfig,
    pub(super) imds_unreachable: bool,
    pub(super) network: Network,
    /// Role sessions may be read from and written to the AWS CLI's cache.
    pub(super) aws_cli_cache: bool,
    pub(super) mfa: MfaPrompt,
}

impl AwsConfig {
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
        let variant = region::variant(selected);

        let mut provider_config = ProviderConfig::default()
            .with_http_client(network.http_client())
            .with_retry_config(deadline.limits().retry_config());
        let (region, region_origin, imds_unreachable) = region::resolve(
            options,
            selected.map(|p| (profile.as_str(), p)),
            &provider_config,
            &network,
        )
        .await?;
        log::debug(format_args!("region: {region} (from {region_origin})"));
        provider_config =
            provider_config.with_region(Some(aws_types::region::Region::new(region.to_string())));
        let config = Self {
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
            aws_cli_cache: options.aws_cli_cache,
            mfa: options.mfa.clone(),
        };
        config.remember_secrets();
        Ok(config)
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
        let chain = self.profile_chain(&self.profile);
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

    /// The HTTP client and deadline every AWS call of this run uses.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// When no region was configured, says so on stderr: `doing` is what the run did with
    /// the fallback region ("signing for", "looked for the cluster in").
    pub fn note_fallback_region(&self, doing: &str) {
        if self.region_origin == RegionOrigin::Fallback {
            message::note(&format!(
                "no region configured; {doing} {} (set --region or AWS_REGION)",
                self.region
            ));
        }
    }

    /// The configured profile names, sorted.
    pub fn profile_names(&self) -> Vec<String> {
        sorted_names(&self.profiles)
    }

    /// An SDK configuration for API calls signed with `credentials`: endpoint overrides
    /// (`AWS_ENDPOINT_URL_STS`) apply here, never to the token; timeouts and retries are
    /// this run's.
    pub async fn sdk_config(&self, credentials: Credentials) -> aws_config::SdkConfig {
        self.sdk_loader(&self.region.to_string())
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .load()
            .await
    }

    /// An SDK configuration for the IAM Identity Center calls a login makes, which are
    /// not signed, in the login's `region` (`AWS_ENDPOINT_URL_SSO_OIDC` and
    /// `AWS_ENDPOINT_URL_SSO` apply).
    pub async fn unsigned_sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        self.sdk_loader(region).no_credentials().load().await
    }

    fn sdk_loader(&self, region: &str) -> aws_config::ConfigLoader {
        let limits = self.network.limits();
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_types::region::Region::new(region.to_owned()))
            .http_client(self.network.http_client())
            .timeout_config(limits.timeout_config())
            .retry_config(limits.retry_config());
        if self.profiles.get_profile(&self.profile).is_some() {
            loader.profile_name(&self.profile)
        } else {
            loader
        }
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
}

/// The SDK reads `AWS_*` variables with `std::env::var`, which treats a non-UTF-8 value
/// as unset (or echoes it in an error): refuse them up front, naming only the variable.
fn check_environment(
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
    let parse = chain(err).find_map(|e| e.downcast_ref::<ProfileParseError>());
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

pub(super) fn unknown_profile(name: &str, profiles: &ProfileSet) -> CredentialsError {
    CredentialsError::UnknownProfile {
        name: name.to_owned(),
        known: sorted_names(profiles),
    }
}

/// The names of the profiles in `profiles`, sorted.
fn sorted_names(profiles: &ProfileSet) -> Vec<String> {
    let mut names: Vec<String> = profiles.profiles().map(str::to_owned).collect();
    names.sort();
    names
}

/// The profile names the AWS config and credentials files define, sorted, read by the
/// same parser as every run (`AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`
/// honoured): files only, for shell completion. `None` when a file cannot be read
/// safely or does not parse.
pub fn profile_names_in_files() -> Option<Vec<String>> {
    if aws_files::unreadable_config_file(home_dir().as_deref()).is_some() {
        return None;
    }
    let (fs, env, files) = (Fs::real(), Env::real(), EnvConfigFiles::default());
    let load = aws_config::profile::load(&fs, &env, &files, None);
    let profiles = crate::network::block_on(load).ok()?.ok()?;
    Some(sorted_names(&profiles))
}

#[cfg(test)]
mod tests {
    use aws_runtime::env_config::file::EnvConfigFileKind;

    use super::*;

    /// Pins the parser's wording that [`config_error`] reads: it breaks when the SDK
    /// words a syntax error differently.
    #[test]
    fn config_syntax_errors_are_read_from_the_parsers_own_words() {
        let path = "/home/u/.aws/config";
        let fs = Fs::from_slice(&[(path, "[default]\nregion = eu-west-1\n[profile broken\n")]);
        let files = EnvConfigFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_file(EnvConfigFileKind::Config, path)
            .build();
        let loaded = crate::network::block_on(aws_config::profile::load(
            &fs,
            &Env::from_slice(&[]),
            &files,
            None,
        ))
        .unwrap();
        let err = loaded.expect_err("the file does not parse");
        match config_error(&err) {
            CredentialsError::ConfigSyntax {
                path: at,
                line,
                message,
            } => {
                assert_eq!(at, path);
                assert_eq!(line, "3");
                assert_eq!(message, "profile definition must end with ']'");
            }
            other => panic!("not read as a syntax error: {other:?}"),
        }
    }

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
}

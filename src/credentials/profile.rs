//! The profile in use and the `source_profile` chain it leads to: the SSO profile at its
//! root, what kind of profile it is, what a failure of the SDK's profile provider means,
//! and the checks every set of credentials passes where it enters the run. (Role chains
//! are walked in `role_chain`.)

use aws_config::profile::Profile;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError as SdkCredentialsError;

use super::error::KeyPart;
use super::sso::SsoProfile;
use super::{AwsConfig, CredentialsError, KeysOrigin, Source};
use crate::aws_files::env_var;
use crate::message::one_line;
use crate::network::failure::{self, Code, Failure};
use crate::secrets;

impl AwsConfig {
    /// The profile the chain takes credentials from: none when keys in the environment
    /// come first (no `--profile`) or the profile does not exist.
    pub(super) fn profile_in_use(&self) -> Option<&Profile> {
        if !self.profile_flag && env_var("AWS_ACCESS_KEY_ID").is_some() {
            return None;
        }
        self.profiles.get_profile(&self.profile)
    }

    /// The SSO profile at the root of `name`'s `source_profile` chain.
    pub fn sso_profile(&self, name: &str) -> Option<SsoProfile> {
        self.profile_chain(name)
            .into_iter()
            .find_map(|(current, profile)| {
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
    /// missing profile or a repeat (loops are reported by `role_chain`).
    pub(super) fn profile_chain<'a>(&'a self, mut name: &'a str) -> Vec<(&'a str, &'a Profile)> {
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
    pub(super) fn check_profile_keys(&self) -> Result<(), CredentialsError> {
        for (name, profile) in self.profile_chain(&self.profile) {
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

    /// The role profile `name` assumes (`role_arn`), if it is a role profile.
    pub fn profile_role(&self, name: &str) -> Option<&str> {
        self.profiles.get_profile(name)?.get("role_arn")
    }

    /// How a profile gets its credentials, from its properties.
    pub fn profile_kind(&self, name: &str) -> String {
        let get = |k: &str| self.profiles.get_profile(name)?.get(k);
        if let Some(role) = get("role_arn") {
            let from = get("source_profile")
                .map(|s| format!("profile {s}"))
                .or_else(|| get("credential_source").map(str::to_owned))
                .or_else(|| {
                    get("web_identity_token_file").map(|_| "a web identity token".to_owned())
                })
                .unwrap_or_else(|| "?".into());
            format!("role chain, assumes {role} with {from}")
        } else if let Some(session) = get("sso_session") {
            format!("IAM Identity Center (sso-session {session})")
        } else if get("sso_start_url").is_some() {
            "IAM Identity Center (legacy sso_start_url)".into()
        } else if get("credential_process").is_some() {
            "credential_process".into()
        } else if get("aws_access_key_id").is_some() {
            "static access keys".into()
        } else {
            "from the AWS config files".into()
        }
    }

    /// What a failure of the SDK's profile provider for profile `name` means: a profile
    /// the SDK cannot use, an SSO login to redo, or a failed call.
    pub(super) fn profile_error(&self, name: &str, err: &SdkCredentialsError) -> CredentialsError {
        self.remember_sso_secrets();
        if let SdkCredentialsError::InvalidConfiguration(_) = err {
            return CredentialsError::ProfileConfig {
                profile: name.to_owned(),
                detail: invalid_profile_detail(err),
            };
        }
        let sso = self.sso_profile(name);
        let what = format!("credentials of profile {name}");
        let call = self.call_error(
            what,
            Some(Source::Profile(name.to_owned())),
            sso.clone(),
            err,
        );
        let CredentialsError::Call(failed) = &call else {
            return call;
        };
        // The network, a failing or throttling portal, or an answer that is not the
        // protocol's: no login fixes those, the call's own hint says what does.
        let not_the_login = matches!(
            failed.failure,
            Failure::Unreachable { .. }
                | Failure::NoAnswer { .. }
                | Failure::TooLarge(_)
                | Failure::Unreadable { .. }
        ) || matches!(failed.failure, Failure::Status { status, .. } if status >= 500)
            || failed.failure.code() == Some(Code::Throttled);
        match sso {
            Some(sso) if !not_the_login && !failure::is_sts(err) => {
                sso.login_error(self.sso_login_detail(&sso, failed.failure.to_string()))
            }
            _ => call,
        }
    }
}

/// The SDK words a profile it cannot use as text only: the part after its prefix
/// (aws-config `src/profile/credentials.rs`).
fn invalid_profile_detail(err: &SdkCredentialsError) -> String {
    let detail = one_line(err);
    detail
        .rsplit("ProfileFile provider could not be built: ")
        .next()
        .unwrap_or(&detail)
        .to_owned()
}

/// Properties that give a profile base credentials other than static keys or a
/// `credential_process` (aws-config `src/profile/credentials/repr.rs`, `base_provider`).
pub(super) const OTHER_BASE_SOURCES: [&str; 6] = [
    "credential_source",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "login_session",
];

/// Whether a profile has base credentials of its own: static keys, a
/// `credential_process` or another source.
pub(super) fn has_own_credentials(profile: &aws_config::profile::Profile) -> bool {
    ["aws_access_key_id", "credential_process"]
        .iter()
        .chain(&OTHER_BASE_SOURCES)
        .any(|k| profile.get(k).is_some())
}

/// Every set of credentials passes here where it enters the run, before anything signs
/// with it: the SDK panics on a header value it cannot build (aws-runtime `src/auth.rs`,
/// `HeaderValue::from_str(…).unwrap()` for `Authorization`, which holds the key id, and
/// `X-Amz-Security-Token`), and a key id with a line break makes a token no server
/// accepts. The secret and the session token are remembered for redaction.
pub(super) fn check_credentials(c: &Credentials, from: KeysOrigin) -> Result<(), CredentialsError> {
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
        (KeyPart::AccessKeyId, Some(c.access_key_id())),
        (KeyPart::SecretAccessKey, Some(c.secret_access_key())),
        (KeyPart::SessionToken, c.session_token()),
    ]
    .into_iter()
    .find_map(|(field, value)| Some((field, problem(value?, field == KeyPart::AccessKeyId)?)));
    match found {
        Some((field, problem)) => Err(CredentialsError::Malformed {
            field,
            from,
            problem,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_config::provider_config::ProviderConfig;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};

    use super::*;

    /// Pins the prefix [`invalid_profile_detail`] removes: it breaks when the SDK words a
    /// profile it cannot use differently.
    #[test]
    fn unusable_profiles_are_read_from_the_providers_own_words() {
        let files = EnvConfigFiles::builder()
            .include_default_config_file(false)
            .include_default_credentials_file(false)
            .with_contents(
                EnvConfigFileKind::Config,
                "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/r\n",
            )
            .build();
        let provider = ProfileFileCredentialsProvider::builder()
            .configure(&ProviderConfig::empty())
            .profile_files(files)
            .profile_name("a")
            .build();
        let err = crate::network::block_on(provider.provide_credentials())
            .unwrap()
            .expect_err("a role_arn without a source is not usable");
        assert!(
            matches!(err, SdkCredentialsError::InvalidConfiguration(_)),
            "{err:?}"
        );
        let detail = invalid_profile_detail(&err);
        assert!(!detail.is_empty());
        assert!(
            one_line(&err).ends_with(&format!(
                "ProfileFile provider could not be built: {detail}"
            )),
            "{}",
            one_line(&err)
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

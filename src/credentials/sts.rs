//! The STS calls of a run: AssumeRole for `--role-arn` and for profile role chains, and
//! GetCallerIdentity (whoami, doctor, `--forward-session-name`).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use secrecy::{ExposeSecret, SecretString};

use super::profile::check_credentials;
use super::{AwsConfig, CallError, CredentialsError, KeysOrigin, Resolved, RoleOptions, Source};
use crate::network::failure::Failure;

/// Session name for `--role-arn` when none is given: the AWS CLI's, so `{{SessionName}}`
/// mappings stay the same after migrating from `aws eks get-token`.
pub const DEFAULT_SESSION_NAME: &str = "EKSGetTokenAuth";

/// What an AssumeRole asks for, as botocore passes it for a role profile
/// (`AssumeRoleProvider._load_creds_via_assume_role`); the AWS CLI's role cache is keyed by
/// these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct AssumeRoleParams {
    pub role_arn: String,
    /// `None`: botocore's default, a new name each time ([`default_session_name`]).
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    /// `mfa_serial`: the MFA device whose code is sent as `TokenCode`.
    pub serial_number: Option<String>,
    /// `duration_seconds`; `None` leaves it to STS (one hour).
    pub duration_seconds: Option<i32>,
}

/// botocore's session name when a role profile names none
/// (`BaseAssumeRoleCredentialFetcher._generate_assume_role_name`), so a session in the
/// AWS CLI's cache looks the same whichever tool made it.
pub(super) fn default_session_name() -> String {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("botocore-session-{seconds}")
}

/// The user a role session is for, as AssumeRole names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}

/// What STS GetCallerIdentity answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

impl AwsConfig {
    /// Asks STS who these credentials are: a real signed call, so endpoint overrides
    /// (`AWS_ENDPOINT_URL_STS`) apply; within the command's deadline.
    pub async fn caller_identity(&self, resolved: &Resolved) -> Result<Caller, CredentialsError> {
        let call = self.get_caller_identity(
            resolved.credentials.clone(),
            &resolved.source,
            "STS GetCallerIdentity".into(),
        );
        self.network
            .within(call)
            .await
            .map_err(CredentialsError::TimedOut)?
    }

    /// STS `GetCallerIdentity` signed with `credentials`; `what` names it in messages.
    async fn get_caller_identity(
        &self,
        credentials: Credentials,
        signer: &Source,
        what: String,
    ) -> Result<Caller, CredentialsError> {
        self.network.step(what.clone());
        let sdk = self.sdk_config(credentials).await;
        let out = aws_sdk_sts::Client::new(&sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| self.call_error(what, Some(signer.clone()), None, &e))?;
        Ok(Caller {
            account: out.account.unwrap_or_default(),
            arn: out.arn.unwrap_or_default(),
            user_id: out.user_id.unwrap_or_default(),
        })
    }

    /// The `--role-arn` role, assumed with the base credentials.
    pub(super) async fn assume_flag_role(
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
        let params = AssumeRoleParams {
            role_arn: role.arn.clone(),
            session_name: Some(session_name),
            external_id: role.external_id.clone(),
            ..AssumeRoleParams::default()
        };
        let (credentials, _) = self.assume_role(base, source, &params, None).await?;
        Ok(credentials)
    }

    /// STS `AssumeRole` signed with `base`, with `token_code` when `params` name an MFA
    /// device.
    pub(super) async fn assume_role(
        &self,
        base: Credentials,
        signer: &Source,
        params: &AssumeRoleParams,
        token_code: Option<&SecretString>,
    ) -> Result<(Credentials, Option<AssumedRoleUser>), CredentialsError> {
        let role = &params.role_arn;
        let what = format!("STS AssumeRole of {role}");
        self.network.step(what.clone());
        let sdk = self.sdk_config(base).await;
        let session_name = params
            .session_name
            .clone()
            .unwrap_or_else(default_session_name);
        let out = aws_sdk_sts::Client::new(&sdk)
            .assume_role()
            .role_arn(role)
            .role_session_name(session_name)
            .set_external_id(params.external_id.clone())
            .set_serial_number(params.serial_number.clone())
            .set_token_code(token_code.map(|c| c.expose_secret().to_owned()))
            .set_duration_seconds(params.duration_seconds)
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
        let user = out.assumed_role_user().map(|u| AssumedRoleUser {
            assumed_role_id: u.assumed_role_id().to_owned(),
            arn: u.arn().to_owned(),
        });
        Ok((credentials, user))
    }

    /// aws-iam-authenticator's `--forward-session-name`: the part of `UserId` after `:`
    /// (`AROA…:alice@example.com` → `alice@example.com`).
    async fn forwarded_session_name(
        &self,
        base: Credentials,
        signer: &Source,
    ) -> Result<String, CredentialsError> {
        let what = "STS GetCallerIdentity (for --forward-session-name)".to_owned();
        let caller = self.get_caller_identity(base, signer, what).await?;
        Ok(caller
            .user_id
            .split_once(':')
            .map(|(_, session)| session.to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SESSION_NAME.into()))
    }
}

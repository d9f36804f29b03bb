//! The IAM Identity Center calls of a login, made with the SDK's clients over the run's
//! network (each call within `--timeout`): SSO-OIDC RegisterClient, StartDeviceAuthorization
//! and CreateToken, and the portal's Logout. Every token, secret and code they return is
//! remembered as a secret the moment it arrives.

use std::path::Path;

use aws_sdk_ssooidc::config::endpoint::{Params, ResolveEndpoint};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, TimeDelta, Utc};

use super::LoginError;
use crate::credentials::sso::{
    CachedRegistration, format_time, read_registration, registration_file_name, write_registration,
};
use crate::credentials::{ADVISORY_REFRESH, AwsConfig, CredentialsError, SsoTarget};
use crate::network::failure::Failure;
use crate::secrets;

/// The scope the AWS CLI registers an authorization code client with by default.
pub const DEFAULT_SCOPE: &str = "sso:account:access";

/// The redirect URI an authorization code client is registered with; the port is the
/// listener's, which RFC 8252 7.3 lets vary for loopback addresses.
const REGISTERED_REDIRECT: &str = "http://127.0.0.1/oauth/callback";

/// A client registration: who CreateToken is asked by.
pub struct Client {
    pub id: String,
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

/// What StartDeviceAuthorization answered.
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    pub interval: i64,
}

/// How CreateToken is asked.
pub enum Grant<'a> {
    Device {
        device_code: &'a str,
    },
    Code {
        code: &'a str,
        redirect_uri: &'a str,
        verifier: &'a str,
    },
    Refresh {
        refresh_token: &'a str,
    },
}

impl Grant<'_> {
    fn name(&self) -> &'static str {
        match self {
            Self::Device { .. } => "urn:ietf:params:oauth:grant-type:device_code",
            Self::Code { .. } => "authorization_code",
            Self::Refresh { .. } => "refresh_token",
        }
    }
}

/// What CreateToken answered.
pub struct Tokens {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_token: Option<String>,
}

/// SSO-OIDC in the login's region.
pub struct Oidc<'a> {
    aws: &'a AwsConfig,
    sdk: aws_config::SdkConfig,
    client: aws_sdk_ssooidc::Client,
}

impl<'a> Oidc<'a> {
    pub async fn new(aws: &'a AwsConfig, region: &str) -> Self {
        let sdk = aws.unsigned_sdk_config(region).await;
        Self {
            aws,
            client: aws_sdk_ssooidc::Client::new(&sdk),
            sdk,
        }
    }

    /// The SSO-OIDC endpoint the SDK sends to (`https://oidc.REGION.amazonaws.com`, or
    /// `AWS_ENDPOINT_URL_SSO_OIDC` …), resolved by the SDK's own rules: the browser's
    /// `/authorize` page is on it.
    pub async fn endpoint(&self) -> Result<String, LoginError> {
        let key = aws_types::service_config::ServiceConfigKey::builder()
            .service_id("SSO OIDC")
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .map_err(|e| LoginError::Endpoint(e.to_string()))?;
        let configured = self
            .sdk
            .service_config()
            .and_then(|c| c.load_config(key))
            .or_else(|| self.sdk.endpoint_url().map(str::to_owned));
        let params = Params::builder()
            .set_region(self.sdk.region().map(ToString::to_string))
            .set_use_fips(self.sdk.use_fips())
            .set_use_dual_stack(self.sdk.use_dual_stack())
            .set_endpoint(configured)
            .build()
            .map_err(|e| LoginError::Endpoint(e.to_string()))?;
        let endpoint = aws_sdk_ssooidc::config::endpoint::DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|e| LoginError::Endpoint(e.to_string()))?;
        Ok(endpoint.url().trim_end_matches('/').to_owned())
    }

    async fn call<T, E>(
        &self,
        what: String,
        work: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, LoginError>
    where
        E: std::error::Error + 'static,
    {
        call(self.aws, what, work).await
    }

    /// The client registration for `target`: the one the AWS CLI cached when it is of
    /// the right kind (authorization code or device) and has more than
    /// [`ADVISORY_REFRESH`] left, else a new
    /// one, cached under the AWS CLI's name for it.
    pub async fn client(
        &self,
        home: &Path,
        target: &SsoTarget,
        auth_code: bool,
        now: DateTime<Utc>,
    ) -> Result<Client, LoginError> {
        let name = registration_file_name(
            &target.start_url,
            &target.region,
            target.scopes.as_deref(),
            target.session.as_deref(),
        );
        if let Some(cached) = read_registration(home, &name)
            && cached.grant_types.is_some() == auth_code
            && let Some(expires_at) = cached.expires()
            && expires_at - now > ADVISORY_REFRESH
        {
            return Ok(Client {
                id: cached.client_id,
                secret: cached.client_secret,
                expires_at,
            });
        }
        let scopes = match (&target.scopes, auth_code) {
            (Some(scopes), _) => Some(scopes.clone()),
            (None, true) => Some(vec![DEFAULT_SCOPE.to_owned()]),
            (None, false) => None,
        };
        let grant_types =
            auth_code.then(|| vec!["authorization_code".to_owned(), "refresh_token".to_owned()]);
        let client_name = match &target.session {
            Some(session) => format!("eks-token-{session}"),
            None => format!("eks-token-{}", now.timestamp()),
        };
        let mut request = self
            .client
            .register_client()
            .client_name(client_name)
            .client_type("public")
            .set_scopes(scopes.clone())
            .set_grant_types(grant_types.clone());
        if auth_code {
            request = request
                .redirect_uris(REGISTERED_REDIRECT)
                .issuer_url(&target.start_url);
        }
        let answer = self
            .call(
                format!("IAM Identity Center RegisterClient for {}", target.label()),
                request.send(),
            )
            .await?;
        let (Some(id), Some(secret)) = (answer.client_id(), answer.client_secret()) else {
            return Err(LoginError::Malformed(
                "RegisterClient",
                "clientId and clientSecret",
            ));
        };
        secrets::remember(secret);
        let expires_at = DateTime::from_timestamp(answer.client_secret_expires_at(), 0).ok_or(
            LoginError::Malformed("RegisterClient", "clientSecretExpiresAt"),
        )?;
        let client = Client {
            id: id.to_owned(),
            secret: secret.to_owned(),
            expires_at,
        };
        let cached = CachedRegistration {
            client_id: client.id.clone(),
            client_secret: client.secret.clone(),
            expires_at: format_time(expires_at),
            scopes,
            grant_types,
        };
        write_registration(home, &name, &cached).map_err(|source| LoginError::Write {
            path: crate::aws_files::sso_cache_dir(home).join(&name),
            source,
        })?;
        Ok(client)
    }

    /// StartDeviceAuthorization for `start_url`.
    pub async fn start_device(
        &self,
        client: &Client,
        target: &SsoTarget,
    ) -> Result<DeviceAuthorization, LoginError> {
        let answer = self
            .call(
                format!(
                    "IAM Identity Center StartDeviceAuthorization for {}",
                    target.label()
                ),
                self.client
                    .start_device_authorization()
                    .client_id(&client.id)
                    .client_secret(&client.secret)
                    .start_url(&target.start_url)
                    .send(),
            )
            .await?;
        let field = |v: Option<&str>, name| {
            v.map(str::to_owned)
                .ok_or(LoginError::Malformed("StartDeviceAuthorization", name))
        };
        let device_code = field(answer.device_code(), "deviceCode")?;
        secrets::remember(&device_code);
        Ok(DeviceAuthorization {
            device_code,
            user_code: field(answer.user_code(), "userCode")?,
            verification_uri: field(answer.verification_uri(), "verificationUri")?,
            verification_uri_complete: answer.verification_uri_complete().map(str::to_owned),
            expires_in: i64::from(answer.expires_in()),
            interval: i64::from(answer.interval()),
        })
    }

    /// CreateToken with `grant`.
    pub async fn token(
        &self,
        client: &Client,
        grant: Grant<'_>,
        target: &SsoTarget,
    ) -> Result<Tokens, LoginError> {
        let mut request = self
            .client
            .create_token()
            .client_id(&client.id)
            .client_secret(&client.secret)
            .grant_type(grant.name());
        request = match grant {
            Grant::Device { device_code } => request.device_code(device_code),
            Grant::Code {
                code,
                redirect_uri,
                verifier,
            } => request
                .code(code)
                .redirect_uri(redirect_uri)
                .code_verifier(verifier),
            Grant::Refresh { refresh_token } => request.refresh_token(refresh_token),
        };
        let what = format!(
            "IAM Identity Center CreateToken ({}) for {}",
            match grant {
                Grant::Device { .. } => "device code",
                Grant::Code { .. } => "authorization code",
                Grant::Refresh { .. } => "refresh token",
            },
            target.label()
        );
        let answer = self.call(what, request.send()).await?;
        let Some(access_token) = answer.access_token() else {
            return Err(LoginError::Malformed("CreateToken", "accessToken"));
        };
        secrets::remember(access_token);
        if let Some(refresh) = answer.refresh_token() {
            secrets::remember(refresh);
        }
        if answer.expires_in() <= 0 {
            return Err(LoginError::Malformed("CreateToken", "a positive expiresIn"));
        }
        Ok(Tokens {
            access_token: access_token.to_owned(),
            expires_at: Utc::now() + TimeDelta::seconds(i64::from(answer.expires_in())),
            refresh_token: answer.refresh_token().map(str::to_owned),
        })
    }
}

/// The portal's Logout for `access_token`, in `region`.
pub async fn logout(aws: &AwsConfig, region: &str, access_token: &str) -> Result<(), LoginError> {
    let sdk = aws.unsigned_sdk_config(region).await;
    let sent = aws_sdk_sso::Client::new(&sdk)
        .logout()
        .access_token(access_token)
        .send();
    call(aws, "IAM Identity Center Logout".into(), sent).await?;
    Ok(())
}

/// One call within a fresh `--timeout`, its failure read as every AWS call's.
async fn call<T, E>(
    aws: &AwsConfig,
    what: String,
    work: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, LoginError>
where
    E: std::error::Error + 'static,
{
    let network = aws.network();
    network.restart();
    network.step(what.clone());
    match network.within(work).await {
        Err(timed_out) => Err(CredentialsError::TimedOut(timed_out).into()),
        Ok(Err(e)) => Err(aws.call_error(what, None, None, &e).into()),
        Ok(Ok(answer)) => Ok(answer),
    }
}

/// The error code IAM Identity Center answered with, if the call got that far.
pub fn service_code(err: &LoginError) -> Option<&str> {
    match err {
        LoginError::Credentials(CredentialsError::Call(call)) => match &call.failure {
            Failure::Service { code, .. } => Some(code),
            _ => None,
        },
        _ => None,
    }
}

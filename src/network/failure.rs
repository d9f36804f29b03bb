//! What an AWS SDK error means for the user: the endpoint that could not be reached, the
//! error code a service answered with, or an answer that was not the protocol's. Every
//! text taken from an SDK error or a server's answer passes through
//! [`message::shown`](crate::message::shown) (via `one_line` or directly), which removes
//! the secrets this run knows.

use std::error::Error as StdError;
use std::fmt;

use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::operation::describe_identity_provider_config::DescribeIdentityProviderConfigError;
use aws_sdk_eks::operation::list_identity_provider_configs::ListIdentityProviderConfigsError;
use aws_sdk_sso::operation::get_role_credentials::GetRoleCredentialsError;
use aws_sdk_sso::operation::logout::LogoutError;
use aws_sdk_ssooidc::operation::create_token::CreateTokenError;
use aws_sdk_ssooidc::operation::register_client::RegisterClientError;
use aws_sdk_ssooidc::operation::start_device_authorization::StartDeviceAuthorizationError;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::error::ErrorMetadata;

use super::{ConnectFailed, MAX_ATTEMPTS, TooLarge};
use crate::message::{chain, one_line, shown};

/// Why a call to an AWS endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made.
    Unreachable { endpoint: String, why: String },
    /// The SDK's own timeout fired before an answer came.
    NoAnswer { endpoint: Option<String> },
    /// The service answered with an error code.
    Service {
        endpoint: Option<String>,
        status: Option<u16>,
        code: String,
        message: String,
    },
    /// An HTTP error status without an error code the SDK could read.
    Status {
        endpoint: Option<String>,
        status: u16,
    },
    /// An answer larger than any AWS sends.
    TooLarge(TooLarge),
    /// An answer that is not the protocol's XML / JSON.
    Unreadable {
        endpoint: Option<String>,
        detail: String,
    },
    /// Anything else, as the SDK words it.
    Other(String),
}

/// Well-known service error codes, grouped by what the user does about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Throttled,
    AccessDenied,
    ExpiredToken,
    InvalidClientTokenId,
    InvalidIdentityToken,
    Other,
}

impl Code {
    pub fn of(code: &str) -> Self {
        match code {
            // The codes the SDK's retry classifier retries as throttling.
            c if THROTTLING_ERRORS.contains(&c) => Self::Throttled,
            "AccessDenied" | "AccessDeniedException" => Self::AccessDenied,
            "ExpiredToken" | "ExpiredTokenException" => Self::ExpiredToken,
            "InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch" => {
                Self::InvalidClientTokenId
            }
            "InvalidIdentityToken" | "IDPRejectedClaim" => Self::InvalidIdentityToken,
            _ => Self::Other,
        }
    }
}

impl Failure {
    /// The error code group, for service errors.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Service { code, .. } => Some(Code::of(code)),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |e: &Option<String>| e.as_deref().map(|e| format!(" {e}")).unwrap_or_default();
        match self {
            Self::Unreachable { endpoint, why } => write!(f, "cannot reach {endpoint}: {why}"),
            Self::NoAnswer { endpoint } => write!(f, "no answer from{}", at(endpoint)),
            Self::Service { code, message, .. } if Code::of(code) == Code::Throttled => write!(
                f,
                "still throttled after {MAX_ATTEMPTS} attempts ({code}: {message})"
            ),
            Self::Service { code, message, .. } if message.is_empty() => f.write_str(code),
            Self::Service { code, message, .. } => write!(f, "{code}: {message}"),
            Self::Status { endpoint, status } if *status >= 500 => write!(
                f,
                "the endpoint{} failed with HTTP {status} on all {MAX_ATTEMPTS} attempts",
                at(endpoint)
            ),
            Self::Status { endpoint, status } => {
                write!(f, "the endpoint{} answered HTTP {status}", at(endpoint))
            }
            Self::TooLarge(t) => write!(f, "{t}"),
            Self::Unreadable { endpoint, detail } => write!(
                f,
                "the answer from{} is not what AWS sends ({detail})",
                at(endpoint)
            ),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// Reads an error from the SDK (a credential provider's or a client's) and what the
/// network saw; `last_endpoint` names the endpoint when the error itself does not.
pub fn classify(err: &(dyn StdError + 'static), last_endpoint: Option<String>) -> Failure {
    if let Some(c) = chain(err).find_map(|e| e.downcast_ref::<ConnectFailed>()) {
        return Failure::Unreachable {
            endpoint: c.endpoint.clone(),
            why: c.why.clone(),
        };
    }
    if let Some(t) = chain(err).find_map(|e| e.downcast_ref::<TooLarge>()) {
        return Failure::TooLarge(t.clone());
    }
    for e in chain(err) {
        let typed = sdk::<AssumeRoleError>(e, &last_endpoint)
            .or_else(|| sdk::<AssumeRoleWithWebIdentityError>(e, &last_endpoint))
            .or_else(|| sdk::<GetCallerIdentityError>(e, &last_endpoint))
            .or_else(|| sdk::<DescribeClusterError>(e, &last_endpoint))
            .or_else(|| sdk::<ListIdentityProviderConfigsError>(e, &last_endpoint))
            .or_else(|| sdk::<DescribeIdentityProviderConfigError>(e, &last_endpoint))
            .or_else(|| sdk::<GetRoleCredentialsError>(e, &last_endpoint))
            .or_else(|| sdk::<LogoutError>(e, &last_endpoint))
            .or_else(|| sdk::<RegisterClientError>(e, &last_endpoint))
            .or_else(|| sdk::<StartDeviceAuthorizationError>(e, &last_endpoint))
            .or_else(|| sdk::<CreateTokenError>(e, &last_endpoint));
        if let Some(failure) = typed {
            return failure;
        }
    }
    if let Some(meta) = chain(err).find_map(|e| e.downcast_ref::<ErrorMetadata>())
        && let Some(code) = meta.code()
    {
        return Failure::Service {
            endpoint: last_endpoint,
            status: None,
            code: shown(code),
            message: meta.message().map(shown).unwrap_or_default(),
        };
    }
    if let Some(c) = chain(err).find_map(|e| e.downcast_ref::<ConnectorError>())
        && c.is_timeout()
    {
        return Failure::NoAnswer {
            endpoint: last_endpoint,
        };
    }
    Failure::Other(one_line(err))
}

/// Whether `err` came from an STS call (as opposed to SSO, a container endpoint, …).
pub fn is_sts(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        e.is::<SdkError<AssumeRoleError, HttpResponse>>()
            || e.is::<SdkError<AssumeRoleWithWebIdentityError, HttpResponse>>()
            || e.is::<SdkError<GetCallerIdentityError, HttpResponse>>()
    })
}

fn sdk<E>(err: &(dyn StdError + 'static), endpoint: &Option<String>) -> Option<Failure>
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let err = err.downcast_ref::<SdkError<E, HttpResponse>>()?;
    let endpoint = endpoint.clone();
    let status = err.raw_response().map(|r| r.status().as_u16());
    Some(match err {
        SdkError::ServiceError(_) => match err.code() {
            Some(code) => Failure::Service {
                endpoint,
                status,
                code: shown(code),
                message: err.message().map(shown).unwrap_or_default(),
            },
            None => match status {
                Some(status) if status >= 300 => Failure::Status { endpoint, status },
                _ => Failure::Unreadable {
                    endpoint,
                    detail: one_line(err),
                },
            },
        },
        SdkError::ResponseError(_) => match status {
            Some(status) if status >= 300 => Failure::Status { endpoint, status },
            _ => Failure::Unreadable {
                endpoint,
                detail: err.source().map(one_line).unwrap_or_default(),
            },
        },
        SdkError::TimeoutError(_) => Failure::NoAnswer { endpoint },
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::NoAnswer { endpoint },
        _ => Failure::Other(one_line(err)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_group_by_what_to_do() {
        assert_eq!(Code::of("Throttling"), Code::Throttled);
        assert_eq!(Code::of("AccessDenied"), Code::AccessDenied);
        assert_eq!(Code::of("ExpiredToken"), Code::ExpiredToken);
        assert_eq!(Code::of("InvalidClientTokenId"), Code::InvalidClientTokenId);
        assert_eq!(Code::of("MalformedPolicyDocument"), Code::Other);
    }

    #[test]
    fn service_errors_are_read_from_sdk_metadata_without_secrets() {
        crate::secrets::remember("sdkErrorUnitSecret");
        let meta = ErrorMetadata::builder()
            .code("EchoedRequest")
            .message("x-amz-security-token: sdkErrorUnitSecret\nhost: h")
            .build();
        assert_eq!(
            classify(&meta, None),
            Failure::Service {
                endpoint: None,
                status: None,
                code: "EchoedRequest".into(),
                message: "x-amz-security-token: [redacted] host: h".into()
            }
        );
    }

    #[test]
    fn connection_failures_name_their_endpoint() {
        let err = ConnectFailed {
            endpoint: "http://127.0.0.1:9".into(),
            why: "connection refused".into(),
        };
        assert_eq!(
            classify(&err, None),
            Failure::Unreachable {
                endpoint: "http://127.0.0.1:9".into(),
                why: "connection refused".into()
            }
        );
    }
}

//! The OpenID provider's endpoints, over `network/` with the provider's own CA when given:
//! discovery (`/.well-known/openid-configuration`), the JWKS, device authorization
//! (RFC 8628) and the token endpoint (authorization code, device code, refresh).

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::OidcError;
use crate::message::bounded;
use crate::network::{Answer, Network};
use crate::secrets;

/// What discovery says about the provider (OpenID Connect Discovery 1.0 section 3).
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

/// The client: its id and, for confidential clients, its secret.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

/// What the token endpoint answered (RFC 6749 5.1, OpenID Connect Core 3.1.3.3).
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// What device authorization answered (RFC 8628 3.2).
#[derive(Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    #[serde(default)]
    pub interval: Option<i64>,
}

/// An OAuth error answer (RFC 6749 5.2): `invalid_grant`, `authorization_pending` …
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error_description {
            Some(d) => write!(f, "{}: {}", bounded(&self.error), bounded(d)),
            None => f.write_str(&bounded(&self.error)),
        }
    }
}

/// Why a token request got no tokens.
pub enum TokenFailure {
    /// The provider said no, with an OAuth error code.
    Refused(OAuthError),
    /// Anything else.
    Failed(OidcError),
}

/// A provider found by discovery.
pub struct Provider<'a> {
    network: &'a Network,
    trust: &'a [Vec<u8>],
    pub metadata: Metadata,
}

impl<'a> Provider<'a> {
    /// Reads the discovery document of `issuer`; its `issuer` must be `issuer` itself.
    pub async fn discover(
        network: &'a Network,
        issuer: &str,
        trust: &'a [Vec<u8>],
    ) -> Result<Self, OidcError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        network.step(format!("OIDC discovery: GET {url}"));
        let answer = send(network, get(&url)?, trust).await?;
        let invalid = |why: String| OidcError::Discovery {
            issuer: issuer.to_owned(),
            why,
        };
        if answer.status != 200 {
            return Err(invalid(format!("{url} answered HTTP {}", answer.status)));
        }
        let metadata: Metadata = serde_json::from_slice(&answer.body)
            .map_err(|e| invalid(format!("{url} is not a discovery document ({e})")))?;
        if metadata.issuer != issuer {
            return Err(invalid(format!(
                "it names the issuer {}, not {issuer}",
                bounded(&metadata.issuer)
            )));
        }
        Ok(Self {
            network,
            trust,
            metadata,
        })
    }

    /// Whether the provider takes PKCE S256.
    pub fn supports_s256(&self) -> bool {
        self.metadata
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }

    /// The provider's signing keys.
    pub async fn jwks(&self) -> Result<JwkSet, OidcError> {
        let url = &self.metadata.jwks_uri;
        self.network.step(format!("OIDC keys: GET {url}"));
        let answer = send(self.network, get(url)?, self.trust).await?;
        if answer.status != 200 {
            return Err(OidcError::Provider(format!(
                "{url} answered HTTP {}",
                answer.status
            )));
        }
        json(&answer, url)
    }

    /// Device authorization for `scope`.
    pub async fn device_authorization(
        &self,
        client: &Client,
        scope: &str,
    ) -> Result<DeviceAuthorization, TokenFailure> {
        let Some(url) = self.metadata.device_authorization_endpoint.clone() else {
            return Err(TokenFailure::Failed(OidcError::Provider(
                "the provider has no device_authorization_endpoint: it does not offer the device code grant".into(),
            )));
        };
        let answer: DeviceAuthorization = self.post(&url, client, &[("scope", scope)]).await?;
        secrets::remember(&answer.device_code);
        Ok(answer)
    }

    /// The token endpoint with `form` (the grant and its parameters).
    pub async fn token(
        &self,
        client: &Client,
        form: &[(&str, &str)],
    ) -> Result<Tokens, TokenFailure> {
        let url = self.metadata.token_endpoint.clone();
        let tokens: Tokens = self.post(&url, client, form).await?;
        for secret in [
            Some(&tokens.access_token),
            tokens.id_token.as_ref(),
            tokens.refresh_token.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            secrets::remember(secret);
        }
        Ok(tokens)
    }

    /// A form POST as RFC 6749 2.3.1 authenticates a client: HTTP Basic with its secret,
    /// else its id in the form.
    async fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        client: &Client,
        form: &[(&str, &str)],
    ) -> Result<T, TokenFailure> {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(form);
        if client.secret.is_none() {
            body.append_pair("client_id", &client.id);
        }
        let mut request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(secret) = &client.secret {
            use base64::Engine;
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(&client.id), encode(secret));
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            secrets::remember(&basic);
            request = request.header("authorization", format!("Basic {basic}"));
        }
        let request = request
            .body(SdkBody::from(body.finish()))
            .map_err(|e| TokenFailure::Failed(OidcError::Provider(format!("{url}: {e}"))))
            .and_then(|r| {
                HttpRequest::try_from(r)
                    .map_err(|e| TokenFailure::Failed(OidcError::Provider(format!("{url}: {e}"))))
            })?;
        self.network.step(format!("OIDC: POST {url}"));
        let answer = send(self.network, request, self.trust)
            .await
            .map_err(TokenFailure::Failed)?;
        if answer.status == 200 {
            return json(&answer, url).map_err(TokenFailure::Failed);
        }
        match serde_json::from_slice::<OAuthError>(&answer.body) {
            Ok(error) if answer.status < 500 => Err(TokenFailure::Refused(error)),
            _ => Err(TokenFailure::Failed(OidcError::Provider(format!(
                "{url} answered HTTP {}",
                answer.status
            )))),
        }
    }
}

fn get(url: &str) -> Result<HttpRequest, OidcError> {
    HttpRequest::get(url).map_err(|e| OidcError::Provider(format!("{}: {e}", bounded(url))))
}

async fn send(
    network: &Network,
    request: HttpRequest,
    trust: &[Vec<u8>],
) -> Result<Answer, OidcError> {
    network
        .send(request, trust)
        .await
        .map_err(OidcError::Network)
}

fn json<T: DeserializeOwned>(answer: &Answer, url: &str) -> Result<T, OidcError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        OidcError::Provider(format!("the answer from {url} is not what OIDC says ({e})"))
    })
}

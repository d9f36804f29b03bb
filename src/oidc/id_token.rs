//! The ID token checked when it arrives, as the cluster will check it (OpenID Connect Core
//! 3.1.3.7): the signature against the provider's JWKS, `iss`, `aud` (the client id),
//! `exp`, and the `nonce` of the login that asked for it. jsonwebtoken does the JOSE.

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

/// The claims eks-token shows and caches (never the token itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub exp: i64,
    #[serde(default, skip_serializing)]
    nonce: Option<String>,
}

impl Claims {
    /// When the token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// Checks `token` and returns its claims, or why it is not valid.
pub fn validate(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<Claims, String> {
    let header = decode_header(token).map_err(|e| format!("it is not a JWT ({e})"))?;
    // A symmetric algorithm would be signed with the client secret: the cluster never
    // accepts one (Kubernetes' OIDC authenticator takes asymmetric keys only).
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(format!(
            "it is signed with {:?}, not a public key",
            header.alg
        ));
    }
    let jwk = key_for(keys, header.kid.as_deref())?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| format!("the provider's key is unusable ({e})"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                "its signature does not match the provider's keys".to_owned()
            }
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => format!("its issuer is not {issuer}"),
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                format!("its audience is not the client id {client_id}")
            }
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "it has expired".to_owned(),
            _ => format!("{e}"),
        })?
        .claims;
    if let Some(nonce) = nonce
        && claims.nonce.as_deref() != Some(nonce)
    {
        return Err("its nonce is not this login's".into());
    }
    Ok(claims)
}

/// The key `kid` names, or the only signing key when the token names none.
fn key_for<'a>(keys: &'a JwkSet, kid: Option<&str>) -> Result<&'a Jwk, String> {
    match kid {
        Some(kid) => keys
            .find(kid)
            .ok_or_else(|| format!("its key {kid:?} is not among the provider's keys")),
        None => match keys.keys.as_slice() {
            [only] => Ok(only),
            _ => Err("it names no key and the provider has several".into()),
        },
    }
}

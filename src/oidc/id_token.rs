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

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://idp.example.com";
    const CLIENT: &str = "eks";

    /// The fixture key pair (`fixtures/oidc/make_key.py`).
    fn keys() -> JwkSet {
        serde_json::from_str(include_str!("../../fixtures/oidc/test-key.jwks.json")).unwrap()
    }

    fn signed(claims: serde_json::Value, kid: Option<&str>) -> String {
        let key = EncodingKey::from_rsa_der(include_bytes!("../../fixtures/oidc/test-key.der"));
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        encode(&header, &claims, &key).unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({"iss": ISSUER, "aud": CLIENT, "sub": "alice", "email": "alice@example.com",
               "groups": ["eks-admins"], "exp": Utc::now().timestamp() + 3600, "nonce": "n1"})
    }

    fn check(token: &str) -> Result<Claims, String> {
        validate(token, &keys(), ISSUER, CLIENT, Some("n1"))
    }

    #[test]
    fn a_token_from_the_provider_for_this_client_and_login_is_valid() {
        let claims = check(&signed(claims(), Some("test"))).unwrap();
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
        assert_eq!(claims.groups, ["eks-admins"]);
        // The only key, when the token names none.
        assert!(check(&signed(claims_with("sub", json!("alice")), None)).is_ok());
    }

    fn claims_with(name: &str, value: serde_json::Value) -> serde_json::Value {
        let mut claims = claims();
        claims[name] = value;
        claims
    }

    #[test]
    fn wrong_issuer_audience_expiry_nonce_and_signature_are_refused() {
        let refused = |token: &str, why: &str| {
            let err = check(token).expect_err(why);
            assert!(err.contains(why), "{err:?} does not say {why:?}");
        };
        refused(
            &signed(claims_with("iss", json!("https://other")), Some("test")),
            "its issuer is not",
        );
        refused(
            &signed(claims_with("aud", json!("other-app")), Some("test")),
            "its audience is not the client id eks",
        );
        refused(
            &signed(
                claims_with("exp", json!(Utc::now().timestamp() - 3600)),
                Some("test"),
            ),
            "it has expired",
        );
        refused(
            &signed(claims_with("nonce", json!("n2")), Some("test")),
            "its nonce is not this login's",
        );
        refused(
            &signed(claims(), Some("other")),
            "is not among the provider's keys",
        );
        // Another payload under this signature.
        let token = signed(claims(), Some("test"));
        let other = signed(
            claims_with("email", json!("mallory@example.com")),
            Some("test"),
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = other.split('.').nth(1).unwrap();
        refused(&parts.join("."), "its signature does not match");
        // Signed with a shared secret rather than the provider's key.
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"client-secret").unwrap(),
        )
        .unwrap();
        refused(&hs, "not a public key");
        refused("not.a.jwt", "it is not a JWT");
    }
}

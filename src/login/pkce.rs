//! The random values a login proves itself with: the PKCE verifier and its S256
//! challenge (RFC 7636), and the `state` that ties the browser's callback to this login.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A verifier and the challenge sent in its place.
pub struct Pkce {
    /// 64 characters of `[A-Za-z0-9-_]`, as the AWS CLI's; a secret until CreateToken.
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> std::io::Result<Self> {
        let verifier = random(48)?;
        crate::secrets::remember(&verifier);
        Ok(Self {
            challenge: challenge(&verifier),
            verifier,
        })
    }
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `bytes` bytes from the system's random source, base64url without padding.
pub fn random(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0; bytes];
    getrandom::getrandom(&mut buf).map_err(std::io::Error::other)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_is_rfc_7636_s256() {
        // Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=")
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K9uhbUJU1p1r_wW1gFWFOEjXk"),
            "ehtI7p9IMkyeN6qzsoetvP1NWHlGsg1KGq-s7K1rXMs"
        );
    }

    #[test]
    fn verifiers_are_64_unreserved_characters_and_differ() {
        let (a, b) = (Pkce::new().unwrap(), Pkce::new().unwrap());
        assert_eq!(a.verifier.len(), 64);
        assert!(
            a.verifier
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.challenge, challenge(&a.verifier));
    }
}

//! The EKS bearer token: a presigned STS `GetCallerIdentity` URL, base64url-encoded.
//!
//! Pure: credentials, endpoint, cluster and signing time are parameters, so the output is
//! checked byte for byte against botocore's presigner (`fixtures/token_vectors.json`).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::sts_endpoint::StsEndpoint;

/// Prefix the server strips before decoding (aws-iam-authenticator `v1Prefix`).
pub const PREFIX: &str = "k8s-aws-v1.";

/// The server refuses longer tokens (aws-iam-authenticator `pkg/token/token.go`,
/// `maxTokenLenBytes`).
pub const MAX_LEN: usize = 4096;

/// Both reference clients report signing time + 14 minutes: one minute inside the
/// 15 minutes the server accepts after `X-Amz-Date`, so client-go renews in time.
pub const LIFETIME: TimeDelta = TimeDelta::minutes(14);

/// `X-Amz-Expires` both peers sign with; the server only requires 0..=900 and applies
/// its own 15-minute window.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// Signed but never sent: the server adds it with its own cluster id when it replays the
/// URL, which binds the token to one cluster.
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// The query every token carries before the signature parameters.
const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// RFC 3986 unreserved characters stay, everything else is percent-encoded, as SigV4
/// canonicalises query values.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Order of the signature parameters in the URL, as botocore's `SigV4QueryAuth` writes
/// them (the signature is appended last).
const PARAM_ORDER: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// Upper bound on a cluster id: EKS cluster names are at most 100 characters and
/// Outposts ids are UUIDs.
pub const MAX_CLUSTER_ID_LEN: usize = 100;

/// An EKS cluster name or Outposts cluster id, checked once: it becomes a signed header
/// value, so it must be a single printable token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterId(String);

/// Why a cluster id was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidClusterId {
    /// Empty string.
    #[error("the cluster id is empty")]
    Empty,
    /// Longer than [`MAX_CLUSTER_ID_LEN`] bytes.
    #[error("the cluster id is {0} bytes long; EKS cluster names have at most 100")]
    TooLong(usize),
    /// Contains whitespace, a control character or non-ASCII.
    #[error("the cluster id contains whitespace, a control character or non-ASCII text")]
    BadCharacter,
}

impl ClusterId {
    /// Validates a cluster name or Outposts id.
    pub fn new(id: &str) -> Result<Self, InvalidClusterId> {
        if id.is_empty() {
            Err(InvalidClusterId::Empty)
        } else if id.len() > MAX_CLUSTER_ID_LEN {
            Err(InvalidClusterId::TooLong(id.len()))
        } else if !id.bytes().all(|b| b.is_ascii_graphic()) {
            Err(InvalidClusterId::BadCharacter)
        } else {
            Ok(Self(id.to_owned()))
        }
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bearer token and the moment to stop using it.
#[derive(Debug, Clone)]
pub struct Token {
    /// `k8s-aws-v1.…`; never printed by `Debug`.
    pub bearer: SecretString,
    /// What `expirationTimestamp` reports: whole seconds, UTC.
    pub expires_at: DateTime<Utc>,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The credentials had already expired at signing time: the server would reject it.
    #[error("the AWS credentials expired at {0}")]
    CredentialsExpired(DateTime<Utc>),
    /// aws-sigv4 refused the request (an invalid host, for instance).
    #[error("could not presign the STS request: {0}")]
    Signing(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The result would be longer than the server accepts (a very long session token).
    #[error("the token would be {0} bytes; the EKS server accepts at most 4096")]
    TooLong(usize),
}

/// Mints a token signed at `now` (truncated to whole seconds, as `X-Amz-Date` is).
pub fn mint(
    credentials: &Credentials,
    endpoint: &StsEndpoint,
    cluster: &ClusterId,
    now: DateTime<Utc>,
) -> Result<Token, TokenError> {
    let signed_at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let credential_expiry = credentials.expiry().map(DateTime::<Utc>::from);
    if let Some(expiry) = credential_expiry.filter(|e| *e <= signed_at) {
        return Err(TokenError::CredentialsExpired(expiry));
    }
    let url = presign_url(credentials, endpoint, cluster, signed_at.into())?;
    let bearer = encode(&url);
    if bearer.len() > MAX_LEN {
        return Err(TokenError::TooLong(bearer.len()));
    }
    let expires_at = expiry(signed_at, credential_expiry);
    Ok(Token {
        bearer: SecretString::from(bearer),
        expires_at,
    })
}

/// `min(signing time + 14 min, credential expiry)`: a token signed with temporary
/// credentials is useless once they expire (aws-iam-authenticator #401, #590).
pub fn expiry(signed_at: DateTime<Utc>, credential_expiry: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let by_lifetime = signed_at + LIFETIME;
    let whole = |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    whole(credential_expiry.map_or(by_lifetime, |c| c.min(by_lifetime)))
}

/// The presigned `GetCallerIdentity` URL with `x-k8s-aws-id` among the signed headers.
pub fn presign_url(
    credentials: &Credentials,
    endpoint: &StsEndpoint,
    cluster: &ClusterId,
    signed_at: SystemTime,
) -> Result<String, TokenError> {
    let base = format!("https://{}/?{GET_CALLER_IDENTITY}", endpoint.host);
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(endpoint.signing_region.as_str())
        .name("sts")
        .time(signed_at)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Signing(e.into()))?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::once((CLUSTER_ID_HEADER, cluster.as_str())),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError::Signing(e.into()))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| TokenError::Signing(e.into()))?
        .into_parts();
    let mut signed: Vec<_> = instructions.params().to_vec();
    signed.sort_by_key(|(name, _)| PARAM_ORDER.iter().position(|p| p == name));
    let mut url = base;
    for (name, value) in signed {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.extend(utf8_percent_encode(&value, QUERY_VALUE));
    }
    Ok(url)
}

/// `k8s-aws-v1.` + base64url without padding, as the server decodes it
/// (aws-iam-authenticator `pkg/token/token.go`: `base64.RawURLEncoding`).
pub fn encode(url: &str) -> String {
    let mut token = String::with_capacity(PREFIX.len() + url.len().div_ceil(3) * 4);
    token.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(url, &mut token);
    token
}

/// The presigned URL inside a token, when it has the form the server decodes.
pub fn decode(token: &str) -> Option<String> {
    let payload = token.strip_prefix(PREFIX)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    String::from_utf8(bytes).ok()
}

/// The STS host and signing region a token's presigned URL names, when it has the form
/// [`presign_url`] writes.
pub fn signed_for(token: &str) -> Option<(String, String)> {
    let url = decode(token)?;
    let (host, query) = url.strip_prefix("https://")?.split_once("/?")?;
    let credential = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
    let credential = percent_decode_str(credential).decode_utf8().ok()?;
    // <access key id>/<date>/<region>/sts/aws4_request (SigV4 credential scope)
    let region = credential.split('/').nth(2)?;
    Some((host.to_owned(), region.to_owned()))
}

impl Token {
    /// The bearer token text, for stdout and the cache file only.
    pub fn expose(&self) -> &str {
        self.bearer.expose_secret()
    }
}

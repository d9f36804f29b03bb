//! OIDC sign-in for clusters that trust an OpenID provider (Okta, Entra ID, Keycloak,
//! Dex …): kubelogin's `get-token` with its flags. A cached token is served while more
//! than a minute is left; then the refresh token; then a login — the authorization code
//! flow with PKCE and a `nonce` on a loopback listener, the keyboard variant, or the
//! device code grant — under the same rules as the IAM Identity Center login
//! ([`crate::login::person_present`], one login per burst under the entry's lock).
//!
//! `provider` talks to the provider, `id_token` checks what it sends, `cache` keeps it.

pub mod cache;
pub mod id_token;
pub mod provider;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::cli::{GrantType, OidcArgs, PkceMethod};
use crate::log;
use crate::login::device::{Polled, poll, show_code};
use crate::login::loopback::{CallbackError, Listener};
use crate::login::pkce::{self, Pkce};
use crate::login::{self, NoPerson, show_and_open};
use crate::message::{self, a_few, bounded, seconds};
use crate::network::{Deadline, Limits, Network, SendError};
use crate::store::StoreError;
use cache::{Entry, Key, KeyParts, OidcCache};
use id_token::Claims;
use provider::{Client, OAuthError, Provider, TokenFailure, Tokens};

/// kubelogin's listen addresses, tried in order.
const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:8000", "127.0.0.1:18000"];

/// The redirect URI of `authcode-keyboard` (kubelogin's): the provider shows the code.
const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Why no OIDC token could be had.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the OIDC provider: {0}")]
    Network(SendError),
    #[error("the OIDC discovery of {issuer} failed: {why}")]
    Discovery { issuer: String, why: String },
    #[error("the OIDC provider: {0}")]
    Provider(String),
    #[error("the OIDC provider refused {what}: {error}")]
    Refused {
        what: &'static str,
        error: OAuthError,
    },
    #[error("the sign-in at {issuer} was denied ({error})")]
    Denied { issuer: String, error: OAuthError },
    #[error("the ID token from {issuer} is not valid: {why}")]
    IdToken { issuer: String, why: String },
    #[error(
        "the OIDC provider's token answer has no id_token (is `openid` among the client's scopes?)"
    )]
    NoIdToken,
    #[error("cannot listen for the browser's callback on {}: {why}", .addresses.join(", "))]
    Listen { addresses: Vec<String>, why: String },
    #[error("the sign-in at {issuer} was not completed: {source}")]
    Callback {
        issuer: String,
        #[source]
        source: CallbackError,
    },
    #[error("the device code for {issuer} expired before the sign-in was approved")]
    DeviceCodeExpired { issuer: String },
    #[error("timed out after {}: waiting for the sign-in at {issuer}", seconds(*.after))]
    LoginTimedOut { issuer: String, after: Duration },
    #[error("cancelled: the login at {issuer} was interrupted")]
    Cancelled { issuer: String },
    #[error("the login at {issuer} that another eks-token run started did not complete")]
    Incomplete { issuer: String },
    #[error("an OIDC login at {issuer} is needed ({detail})")]
    NoPerson {
        issuer: String,
        detail: String,
        why: NoPerson,
    },
    #[error("authcode-keyboard needs a terminal to type the code into")]
    NoKeyboard,
    #[error("cannot read the CA certificate {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--certificate-authority-data is not base64")]
    CaData,
    /// A CA file or data that holds no usable PEM certificate (the TLS library would
    /// panic on a malformed one).
    #[error("the CA certificate {origin} {why}")]
    CaUnusable { origin: String, why: String },
    #[error("OIDC token cache: {0}")]
    Cache(#[from] StoreError),
    #[error("no home directory for the OIDC token cache; set HOME or pass --token-cache-dir")]
    NoCacheDir,
    #[error("no random numbers from the system: {0}")]
    Random(#[source] std::io::Error),
}

impl OidcError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Network(SendError::Failed(why)) if why.contains("certificate") => {
                "the provider's TLS certificate is not trusted: pass its CA with --certificate-authority FILE (or --certificate-authority-data)".into()
            }
            Self::Network(_) => "check the issuer URL, the network, VPN and proxy settings (HTTPS_PROXY, NO_PROXY); allow more time with --timeout SECONDS".into(),
            Self::Discovery { why, .. } if why.contains("answered HTTP 5") => {
                "the provider is failing: retry in a minute".into()
            }
            Self::Discovery { .. } => "--oidc-issuer-url must be the issuer exactly as the provider names it (the URL before /.well-known/openid-configuration)".into(),
            Self::Refused { error, .. } if error.error == "invalid_client" || error.error == "unauthorized_client" => {
                "check --oidc-client-id and --oidc-client-secret, and that the client allows this grant type".into()
            }
            Self::Refused { error, .. } if error.error == "invalid_grant" => {
                "the grant was refused: run the command again to log in".into()
            }
            Self::Refused { .. } => return None,
            Self::Provider(_) => "the OpenID provider's answer was not usable: check that --oidc-issuer-url points at it and that it is up, then retry".into(),
            Self::Denied { .. } => "sign in as a user the client is assigned to, or ask the provider's administrator".into(),
            Self::IdToken { .. } => "the token does not come from this issuer for this client: check --oidc-issuer-url and --oidc-client-id (the cluster would refuse it too)".into(),
            Self::NoIdToken => "add the openid scope to the client at the provider, or use --oidc-use-access-token".into(),
            Self::Listen { .. } => "free a port or pass --listen-address 127.0.0.1:PORT (and register http://localhost:PORT as a redirect URI at the provider)".into(),
            Self::Callback { source: CallbackError::StateMismatch, .. } => "close sign-in tabs of earlier logins and run the command again".into(),
            Self::Callback { .. } | Self::Cancelled { .. } | Self::Incomplete { .. } => "run the command again to log in".into(),
            Self::DeviceCodeExpired { .. } | Self::LoginTimedOut { .. } => "run the command again and finish the sign-in in the browser (allow more time with --login-timeout SECONDS); if the provider's page says the redirect URI is not registered, register http://localhost:8000 and http://localhost:18000 for the client".into(),
            Self::NoPerson { why, .. } => format!("run the kubectl command in a terminal to log in; {}", why.why()),
            Self::NoKeyboard => "run it in a terminal, or use --grant-type authcode or device-code".into(),
            Self::CaFile { .. } | Self::CaData | Self::CaUnusable { .. } => "pass a PEM certificate file with --certificate-authority, or its base64 with --certificate-authority-data".into(),
            Self::Cache(e) => format!("{} must be a private directory of yours (mode 0700)", match e {
                StoreError::NotPrivate { path, .. } | StoreError::Symlink(path) | StoreError::ForeignOwner(path) | StoreError::NotRegular(path) | StoreError::Io { path, .. } => path.display().to_string(),
            }),
            Self::NoCacheDir => return None,
            Self::Random(_) => return None,
        })
    }
}

/// The provider and how to log in, from kubelogin's flags.
pub struct Settings {
    pub issuer: String,
    pub client: Client,
    /// `openid` and the extra scopes, in order, without repeats.
    pub scopes: Vec<String>,
    pub use_access_token: bool,
    pub pkce: PkceMethod,
    pub redirect_url: Option<String>,
    pub grant: GrantType,
    pub listen: Vec<String>,
    pub trust_files: Vec<PathBuf>,
    pub trust_data: Vec<String>,
    pub cache_dir: Option<PathBuf>,
    pub force_refresh: bool,
    pub open_browser: bool,
    pub browser_command: Option<String>,
    pub limits: Limits,
    pub login: login::Policy,
}

impl Settings {
    /// From the flags; `exec_interactive` is `spec.interactive` of the exec request.
    pub fn new(args: &OidcArgs, exec_interactive: Option<bool>) -> Self {
        let mut scopes = vec!["openid".to_owned()];
        for s in &args.oidc_extra_scopes {
            if !s.is_empty() && !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let cache_dir = cache::dir(args.token_cache_dir.as_deref());
        Self {
            issuer: args.oidc_issuer_url.clone().unwrap_or_default(),
            client: Client {
                id: args.oidc_client_id.clone().unwrap_or_default(),
                secret: args.oidc_client_secret.clone(),
            },
            scopes,
            use_access_token: args.oidc_use_access_token,
            pkce: if args.oidc_use_pkce {
                PkceMethod::S256
            } else {
                args.oidc_pkce_method
            },
            redirect_url: args.oidc_redirect_url.clone(),
            grant: args.grant_type,
            listen: if args.listen_addresses.is_empty() {
                DEFAULT_LISTEN.iter().map(|s| (*s).to_owned()).collect()
            } else {
                args.listen_addresses.clone()
            },
            trust_files: args.certificate_authorities.clone(),
            trust_data: args.certificate_authority_data.clone(),
            force_refresh: args.force_refresh,
            open_browser: !args.skip_open_browser,
            browser_command: args.browser_command.clone(),
            limits: Limits::new(args.timeout),
            login: login::Policy {
                mode: args.login,
                timeout: args
                    .authentication_timeout_sec
                    .map_or(args.login_timeout, Duration::from_secs),
                exec_interactive,
                lock_dir: cache_dir.clone(),
            },
            cache_dir,
        }
    }

    pub fn key(&self) -> Key {
        if let Some(secret) = &self.client.secret {
            crate::secrets::remember(secret);
        }
        Key::of(&KeyParts {
            issuer: &self.issuer,
            client_id: &self.client.id,
            client_secret: self.client.secret.as_deref(),
            scopes: &self.scopes,
            use_access_token: self.use_access_token,
        })
    }

    /// The CA certificates to trust besides the system's, as PEM.
    fn trust(&self) -> Result<Vec<Vec<u8>>, OidcError> {
        use base64::Engine;
        let mut pems = Vec::new();
        for path in &self.trust_files {
            let pem = std::fs::read(path).map_err(|source| OidcError::CaFile {
                path: path.clone(),
                source,
            })?;
            check_certificates(&pem, || path.display().to_string())?;
            pems.push(pem);
        }
        for data in &self.trust_data {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| OidcError::CaData)?;
            check_certificates(&pem, || "in --certificate-authority-data".to_owned())?;
            pems.push(pem);
        }
        Ok(pems)
    }
}

/// `pem` holds one or more certificates a TLS trust store takes, checked as the store
/// will take them (rustls), so a bad file is an error here rather than a panic in the
/// HTTP client.
fn check_certificates(pem: &[u8], origin: impl Fn() -> String) -> Result<(), OidcError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let unusable = |why: String| OidcError::CaUnusable {
        origin: origin(),
        why,
    };
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(format!("is not valid PEM ({e})")))?;
    if certificates.is_empty() {
        return Err(unusable("holds no PEM certificate".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|e| unusable(format!("holds a certificate that cannot be used ({e})")))?;
    }
    Ok(())
}

/// The provider's discovery document, fetched as a login fetches it (the settings' CA
/// certificates, through `network`): what `doctor` checks.
pub async fn discover(
    settings: &Settings,
    network: &Network,
) -> Result<provider::Metadata, OidcError> {
    let trust = settings.trust()?;
    Ok(Provider::discover(network, &settings.issuer, &trust)
        .await?
        .metadata)
}

/// The cached token for `settings`, when it can be served at `now`: the fast path, one
/// file read.
pub fn cached(settings: &Settings, key: &Key, now: DateTime<Utc>) -> Option<Entry> {
    if settings.force_refresh {
        return None;
    }
    let dir = settings.cache_dir.as_deref()?;
    let entry = OidcCache::existing(dir).ok()??.read(key).ok()??;
    if !entry.fresh(now) {
        return None;
    }
    log::debug(format_args!(
        "oidc: cache hit in {} (key {}), token expires {}",
        dir.display(),
        key.as_str(),
        message::rfc3339(entry.expires_at)
    ));
    Some(entry)
}

/// The token for `settings`: cached, refreshed, or from a new login.
pub async fn token(settings: &Settings, key: &Key) -> Result<Entry, OidcError> {
    let dir = settings.cache_dir.as_deref().ok_or(OidcError::NoCacheDir)?;
    let cache = OidcCache::create(dir)?;
    let wait = settings.login.timeout + settings.limits.total;
    let (lock, waited) = match cache.lock(key, Duration::ZERO)? {
        Some(lock) => (Some(lock), false),
        None => {
            log::debug(format_args!(
                "oidc: another eks-token run holds {}; waiting up to {}",
                key.as_str(),
                seconds(wait)
            ));
            (cache.lock(key, wait)?, true)
        }
    };
    let cached = cache.read(key)?;
    if let Some(entry) = &cached
        && entry.fresh(Utc::now())
        && (waited || !settings.force_refresh)
    {
        log::debug(format_args!("oidc: cache hit in {}", cache.dir().display()));
        return cached.ok_or(OidcError::NoCacheDir);
    }
    let refresh_token = cached.as_ref().and_then(|e| e.refresh_token.clone());
    let mut detail = match &cached {
        None => "no cached token".to_owned(),
        Some(_) if refresh_token.is_none() => {
            "the cached token expired and there is no refresh token".to_owned()
        }
        Some(_) => String::new(),
    };
    // Without a refresh token only a login helps: say so before asking the provider.
    if refresh_token.is_none() {
        check_person(settings, &detail, waited)?;
    }
    let network = Network::new(Deadline::start(settings.limits));
    let trust = settings.trust()?;
    let provider = Provider::discover(&network, &settings.issuer, &trust).await?;
    if let Some(refresh_token) = refresh_token {
        match refresh(&provider, settings, &refresh_token).await {
            Ok(entry) => {
                let entry = finish(entry, key, Some(refresh_token));
                cache.write(key, &entry)?;
                drop(lock);
                return Ok(entry);
            }
            Err(OidcError::Refused { error, .. }) => {
                log::debug(format_args!("oidc: the refresh was refused ({error})"));
                detail = format!("the refresh token was refused: {}", bounded(&error.error));
                check_person(settings, &detail, waited)?;
            }
            Err(e) => return Err(e),
        }
    }
    let work = log_in(&provider, &network, settings);
    let entry = match until_interrupted_or(settings, work).await {
        Some(Ok(result)) => result?,
        Some(Err(_)) => {
            return Err(OidcError::LoginTimedOut {
                issuer: settings.issuer.clone(),
                after: settings.login.timeout,
            });
        }
        None => {
            return Err(OidcError::Cancelled {
                issuer: settings.issuer.clone(),
            });
        }
    };
    let entry = finish(entry, key, None);
    cache.write(key, &entry)?;
    drop(lock);
    Ok(entry)
}

/// Whether this run may log in: a person is there, and it is not a run that waited for
/// another's login, which failed (each waiting run would start its own).
fn check_person(settings: &Settings, detail: &str, waited: bool) -> Result<(), OidcError> {
    if waited {
        return Err(OidcError::Incomplete {
            issuer: settings.issuer.clone(),
        });
    }
    settings
        .login
        .person_present()
        .map_err(|why| OidcError::NoPerson {
            issuer: settings.issuer.clone(),
            detail: detail.to_owned(),
            why,
        })
}

/// The work within the login timeout; `None` on Ctrl-C.
async fn until_interrupted_or<T>(
    settings: &Settings,
    work: impl Future<Output = T>,
) -> Option<Result<T, tokio::time::error::Elapsed>> {
    login::until_interrupted(tokio::time::timeout(settings.login.timeout, work)).await
}

/// A validated answer, before it is cached.
struct Got {
    token: String,
    expires_at: DateTime<Utc>,
    refresh_token: Option<String>,
    claims: Claims,
}

fn finish(got: Got, key: &Key, old_refresh: Option<String>) -> Entry {
    Entry::new(
        key,
        got.token,
        got.expires_at,
        got.refresh_token.or(old_refresh),
        got.claims,
    )
}

/// The refresh grant (RFC 6749 6); the new ID token is checked as a new one is, without a
/// nonce (OpenID Connect Core 12.2).
async fn refresh(
    provider: &Provider<'_>,
    settings: &Settings,
    refresh_token: &str,
) -> Result<Got, OidcError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let tokens = provider
        .token(&settings.client, &form)
        .await
        .map_err(|f| failure(f, "the refresh token"))?;
    log::debug(format_args!("oidc: refreshed"));
    checked(provider, settings, tokens, None).await
}

fn failure(f: TokenFailure, what: &'static str) -> OidcError {
    match f {
        TokenFailure::Refused(error) => OidcError::Refused { what, error },
        TokenFailure::Failed(e) => e,
    }
}

/// Checks the ID token of `tokens` and picks what is printed.
async fn checked(
    provider: &Provider<'_>,
    settings: &Settings,
    tokens: Tokens,
    nonce: Option<&str>,
) -> Result<Got, OidcError> {
    let id_token = tokens.id_token.ok_or(OidcError::NoIdToken)?;
    let keys = provider.jwks().await?;
    let claims = id_token::validate(
        &id_token,
        &keys,
        &settings.issuer,
        &settings.client.id,
        nonce,
    )
    .map_err(|why| OidcError::IdToken {
        issuer: settings.issuer.clone(),
        why,
    })?;
    let (token, expires_at) = if settings.use_access_token {
        let expires_at = tokens.expires_in.map_or_else(
            || claims.expires_at(),
            |s| Utc::now() + TimeDelta::seconds(s),
        );
        (tokens.access_token, expires_at)
    } else {
        (id_token, claims.expires_at())
    };
    log::debug(format_args!(
        "oidc: token for {} (groups {}), valid until {}",
        claims.email.as_deref().unwrap_or(&claims.sub),
        a_few(&claims.groups),
        message::rfc3339(expires_at)
    ));
    Ok(Got {
        token,
        expires_at,
        refresh_token: tokens.refresh_token,
        claims,
    })
}

/// A new login with the grant the flags choose.
async fn log_in(
    provider: &Provider<'_>,
    network: &Network,
    settings: &Settings,
) -> Result<Got, OidcError> {
    let issuer = settings.issuer.clone();
    let nonce = pkce::random(16).map_err(OidcError::Random)?;
    let scope = settings.scopes.join(" ");
    match settings.grant {
        GrantType::DeviceCode => device_code(provider, network, settings, &scope).await,
        GrantType::Auto | GrantType::Authcode | GrantType::AuthcodeKeyboard => {
            let pkce = match settings.pkce {
                PkceMethod::No => None,
                PkceMethod::S256 => Some(Pkce::new().map_err(OidcError::Random)?),
                PkceMethod::Auto if provider.supports_s256() => {
                    Some(Pkce::new().map_err(OidcError::Random)?)
                }
                PkceMethod::Auto => None,
            };
            let state = pkce::random(16).map_err(OidcError::Random)?;
            let keyboard = settings.grant == GrantType::AuthcodeKeyboard;
            let listener = if keyboard {
                None
            } else {
                Some(
                    Listener::bind_first(&settings.listen, "/")
                        .await
                        .map_err(|e| OidcError::Listen {
                            addresses: settings.listen.clone(),
                            why: e.to_string(),
                        })?,
                )
            };
            let redirect_uri = match (&settings.redirect_url, &listener) {
                (Some(url), _) => url.clone(),
                (None, Some(l)) => format!("http://localhost:{}", l.port()),
                (None, None) => OOB_REDIRECT.to_owned(),
            };
            let mut url = url::Url::parse(&provider.metadata.authorization_endpoint)
                .map_err(|e| OidcError::Provider(format!("authorization_endpoint: {e}")))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("response_type", "code")
                    .append_pair("client_id", &settings.client.id)
                    .append_pair("redirect_uri", &redirect_uri)
                    .append_pair("scope", &scope)
                    .append_pair("state", &state)
                    .append_pair("nonce", &nonce);
                if let Some(p) = &pkce {
                    q.append_pair("code_challenge", &p.challenge)
                        .append_pair("code_challenge_method", "S256");
                }
            }
            show_and_open(
                &format!("log in to {issuer} in the browser; if it does not open, visit:"),
                url.as_str(),
                settings.open_browser && !keyboard,
                settings.browser_command.as_deref(),
            );
            let code = match listener {
                Some(listener) => listener.callback(&state).await.map_err(|e| match e {
                    CallbackError::Refused { error, description } => OidcError::Denied {
                        issuer: issuer.clone(),
                        error: OAuthError {
                            error,
                            error_description: description,
                        },
                    },
                    source => OidcError::Callback {
                        issuer: issuer.clone(),
                        source,
                    },
                })?,
                None => read_code()?,
            };
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
            ];
            if let Some(p) = &pkce {
                form.push(("code_verifier", p.verifier.as_str()));
            }
            network.restart();
            let tokens = provider
                .token(&settings.client, &form)
                .await
                .map_err(|f| failure(f, "the authorization code"))?;
            checked(provider, settings, tokens, Some(&nonce)).await
        }
    }
}

/// The code the provider showed, typed by the person (`authcode-keyboard`).
fn read_code() -> Result<String, OidcError> {
    let tty = std::fs::File::open("/dev/tty").map_err(|_| OidcError::NoKeyboard)?;
    if !tty.is_terminal() {
        return Err(OidcError::NoKeyboard);
    }
    message::say("enter the code the provider shows:");
    let mut line = String::new();
    std::io::BufReader::new(tty)
        .read_line(&mut line)
        .map_err(|_| OidcError::NoKeyboard)?;
    let code = line.trim().to_owned();
    crate::secrets::remember(&code);
    Ok(code)
}

/// The device code grant (RFC 8628).
async fn device_code(
    provider: &Provider<'_>,
    network: &Network,
    settings: &Settings,
    scope: &str,
) -> Result<Got, OidcError> {
    let issuer = settings.issuer.clone();
    let device = provider
        .device_authorization(&settings.client, scope)
        .await
        .map_err(|f| failure(f, "the device authorization"))?;
    show_code(
        &issuer,
        &device.user_code,
        device
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&device.verification_uri),
        settings.open_browser,
        settings.browser_command.as_deref(),
    );
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device.device_code.as_str()),
    ];
    let expired = || OidcError::DeviceCodeExpired {
        issuer: issuer.clone(),
    };
    let tokens = poll(
        device.interval.unwrap_or(0),
        device.expires_in,
        expired,
        async || {
            network.restart();
            match provider.token(&settings.client, &form).await {
                Ok(tokens) => Polled::Done(tokens),
                Err(TokenFailure::Refused(e)) => match e.error.as_str() {
                    "authorization_pending" => Polled::Pending,
                    "slow_down" => Polled::SlowDown,
                    "access_denied" => Polled::Failed(OidcError::Denied {
                        issuer: issuer.clone(),
                        error: e,
                    }),
                    "expired_token" => Polled::Failed(expired()),
                    _ => Polled::Failed(OidcError::Refused {
                        what: "the device code",
                        error: e,
                    }),
                },
                Err(TokenFailure::Failed(e)) => Polled::Failed(e),
            }
        },
    )
    .await?;
    checked(provider, settings, tokens, None).await
}

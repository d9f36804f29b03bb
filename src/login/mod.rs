//! Logging in to IAM Identity Center as `aws sso login` (AWS CLI v2) does, into the same
//! files, so the AWS CLI, every SDK and eks-token share one login; and [`ensure`], run
//! before credentials are resolved, which refreshes a login close to expiry and, when a
//! person is there, logs in again by itself.
//!
//! The one place that decides whether a person is there is [`person_present`] (and
//! [`can_type`], for a code typed on the terminal). Runs that need the same login at once
//! agree on one login through a lock in the token cache's store ([`ensure`]): one browser
//! tab, one device code.
//!
//! `service` makes the calls (SSO-OIDC, the portal's Logout); `authcode` and `device`
//! are the two flows; `loopback` takes the browser's callback; `browser` opens it;
//! `pkce` makes the random values.

mod authcode;
pub mod browser;
pub mod device;
pub mod loopback;
pub mod pkce;
mod service;

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::aws_files::home_dir;
use crate::credentials::sso::{CachedLogin, LoginNeed, format_time, write_login};
use crate::credentials::{AwsConfig, CredentialsError, SsoTarget};
use crate::log;
use crate::message::{self, seconds, stamp, time_left};
use crate::store::Store;

pub use loopback::CallbackError;
pub use service::logout;
use service::{Client, Grant, Oidc, Tokens, service_code};

/// `--login`: when a run that needs a login may start one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// When a person is there: kubectl says the run is interactive and there is a terminal.
    #[default]
    Auto,
    /// Also without a terminal, for GUI tools (Lens, IDEs) that show no prompt.
    Browser,
    /// Never; fail with the command that logs in.
    Never,
}

/// `--login-timeout`: how long a person has to finish a login in the browser.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What a run knows for deciding whether to log in by itself.
#[derive(Clone, Debug)]
pub struct Policy {
    pub mode: Mode,
    /// Bounds a whole login, and the wait for another run's.
    pub timeout: Duration,
    /// `spec.interactive` of `KUBERNETES_EXEC_INFO`; `None` when no client sent one.
    pub exec_interactive: Option<bool>,
    /// The store where runs agree on one login (the token cache directory).
    pub lock_dir: Option<PathBuf>,
}

/// Why a run did not log in by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoPerson {
    /// `--login never`.
    Off,
    /// The client said no person is there (`interactiveMode: Never`, or kubectl's stdin
    /// is not a terminal).
    NotInteractive,
    /// No terminal to show the prompt on.
    NoTerminal,
}

impl NoPerson {
    pub fn why(self) -> &'static str {
        match self {
            Self::Off => "logging in by itself is off (--login never)",
            Self::NotInteractive => {
                "kubectl logs in by itself only with interactiveMode IfAvailable (or Always) in a terminal; GUI tools: --login browser"
            }
            Self::NoTerminal => {
                "there is no terminal to log in from; --login browser logs in without one"
            }
        }
    }

    /// Why no one can type a code (an MFA code) in this run.
    pub fn why_no_code(self) -> &'static str {
        match self {
            Self::Off => "--login never: eks-token asks for nothing",
            Self::NotInteractive => {
                "kubectl said no one is there (interactiveMode Never, or its stdin is not a terminal)"
            }
            Self::NoTerminal => "stdin and stderr are not both a terminal",
        }
    }
}

/// Whether a person is there to log in. kube-rs says `interactive` even without a
/// terminal and the Python client decides by its own stdout, so `auto` needs both the
/// client's word and a terminal of our own.
pub fn person_present(
    mode: Mode,
    exec_interactive: Option<bool>,
    terminal: bool,
) -> Result<(), NoPerson> {
    match mode {
        Mode::Never => Err(NoPerson::Off),
        Mode::Browser => Ok(()),
        Mode::Auto if exec_interactive == Some(false) => Err(NoPerson::NotInteractive),
        Mode::Auto if !terminal => Err(NoPerson::NoTerminal),
        Mode::Auto => Ok(()),
    }
}

/// Whether a person is there to type a code (an MFA code): as for a login, and, even
/// with `--login browser`, a terminal to type it on.
pub fn can_type(mode: Mode, exec_interactive: Option<bool>) -> Result<(), NoPerson> {
    let terminal = has_terminal();
    person_present(mode, exec_interactive, terminal)?;
    if terminal {
        Ok(())
    } else {
        Err(NoPerson::NoTerminal)
    }
}

impl Policy {
    /// [`person_present`] for this run, at this run's terminal.
    pub fn person_present(&self) -> Result<(), NoPerson> {
        person_present(self.mode, self.exec_interactive, has_terminal())
    }
}

/// A person's terminal: input to answer on and stderr to read the prompt on.
pub fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// How a login runs.
#[derive(Clone, Copy, Debug)]
pub struct How {
    /// The device flow even for an `sso-session` profile.
    pub device_code: bool,
    pub open_browser: bool,
    pub timeout: Duration,
}

/// A login written to the SSO cache.
pub struct LoggedIn {
    pub label: String,
    pub start_url: String,
    pub expires_at: DateTime<Utc>,
}

impl LoggedIn {
    /// `Logged in to URL (sso-session corp) until 2026-01-02 15:04:05Z (8h 0m).`
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        format!(
            "Logged in to {} ({}) until {} ({}).",
            self.start_url,
            self.label,
            stamp(self.expires_at),
            time_left(self.expires_at - now)
        )
    }
}

/// Why a login did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A call failed, or the configuration is not usable.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// A login was needed and no person is there to do it.
    #[error("{needed}")]
    NoPerson {
        needed: CredentialsError,
        why: NoPerson,
    },
    #[error("the sign-in for {what} was denied ({detail})")]
    Denied {
        what: String,
        detail: String,
        command: String,
    },
    #[error("the sign-in for {what} was not completed: {source}")]
    Callback {
        what: String,
        #[source]
        source: CallbackError,
        command: String,
    },
    #[error("the device code for {what} expired before the sign-in was approved")]
    DeviceCodeExpired { what: String, command: String },
    #[error("timed out after {}: waiting for the sign-in for {what} in the browser", seconds(*.after))]
    TimedOut {
        what: String,
        after: Duration,
        command: String,
    },
    #[error("cancelled: the login for {what} was interrupted")]
    Cancelled { what: String, command: String },
    #[error("the login for {what} that another eks-token run started did not complete")]
    Incomplete { what: String, command: String },
    #[error("cannot listen on 127.0.0.1 for the browser's sign-in callback: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no random numbers from the system: {0}")]
    Random(#[source] std::io::Error),
    #[error("cannot find the SSO-OIDC endpoint: {0}")]
    Endpoint(String),
    #[error("IAM Identity Center's {0} answer has no {1}")]
    Malformed(&'static str, &'static str),
    #[error("cannot find the home directory for the SSO cache (~/.aws/sso/cache)")]
    NoHome,
    #[error("profile {0} does not use IAM Identity Center (no sso_session or sso_start_url)")]
    NotSso(String),
}

impl LoginError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        let again = |command: &str| format!("run `{command}` to try again");
        match self {
            Self::Credentials(e) => e.hint(),
            Self::NoPerson { needed, why } => Some(match needed.hint() {
                Some(hint) => format!("{hint}; {}", why.why()),
                None => why.why().to_owned(),
            }),
            Self::Denied { command, .. } => Some(format!(
                "sign in as a user with access to the AWS account: `{command}`"
            )),
            Self::Callback {
                source: CallbackError::StateMismatch,
                command,
                ..
            } => Some(format!(
                "close the sign-in tabs of earlier logins and run `{command}`"
            )),
            Self::Callback { command, .. }
            | Self::Cancelled { command, .. }
            | Self::Incomplete { command, .. } => Some(again(command)),
            Self::DeviceCodeExpired { command, .. } | Self::TimedOut { command, .. } => {
                Some(format!(
                    "run `{command}` and approve the sign-in in the browser (allow more time with --login-timeout SECONDS)"
                ))
            }
            Self::Listen(_) => Some(
                "log in with the device code instead: `eks-token login --use-device-code`".into(),
            ),
            Self::Write { path, .. } => Some(format!(
                "{} must be a directory you can write",
                path.parent().unwrap_or(path).display()
            )),
            Self::NotSso(profile) => Some(format!(
                "configure it with `aws configure sso --profile {profile}`, or name the session with --sso-session"
            )),
            Self::NoHome => Some("set HOME".into()),
            Self::Malformed(..) | Self::Endpoint(_) => Some(
                "check AWS_ENDPOINT_URL_SSO_OIDC, AWS_ENDPOINT_URL and endpoint_url in the profile"
                    .into(),
            ),
            Self::Random(_) => None,
        }
    }
}

/// Logs in to `target` and writes the login where the AWS CLI keeps it, within
/// `how.timeout`; Ctrl-C ends it with an error and nothing written.
pub async fn log_in(aws: &AwsConfig, target: &SsoTarget, how: How) -> Result<LoggedIn, LoginError> {
    let home = home_dir().ok_or(LoginError::NoHome)?;
    let work = async {
        let oidc = Oidc::new(aws, &target.region).await;
        let (client, tokens) = if how.device_code || target.session.is_none() {
            device::run(&oidc, &home, target, how.open_browser).await?
        } else {
            authcode::run(&oidc, &home, target, how.open_browser).await?
        };
        save(&home, target, &client, tokens)
    };
    match until_interrupted(tokio::time::timeout(how.timeout, work)).await {
        Some(Ok(result)) => result,
        Some(Err(_)) => Err(LoginError::TimedOut {
            what: target.label(),
            after: how.timeout,
            command: target.login_command(),
        }),
        None => Err(LoginError::Cancelled {
            what: target.label(),
            command: target.login_command(),
        }),
    }
}

/// `work`'s output, or `None` on Ctrl-C (SIGINT) first.
pub async fn until_interrupted<T>(work: impl Future<Output = T>) -> Option<T> {
    let mut work = pin!(work);
    let mut interrupted = pin!(tokio::signal::ctrl_c());
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match interrupted.as_mut().poll(cx) {
            // A handler that cannot be installed never fires.
            Poll::Ready(Ok(())) => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await
}

/// Writes the login as the AWS CLI v2 does.
fn save(
    home: &Path,
    target: &SsoTarget,
    client: &Client,
    tokens: Tokens,
) -> Result<LoggedIn, LoginError> {
    let login = CachedLogin {
        start_url: Some(target.start_url.clone()),
        region: Some(target.region.clone()),
        access_token: tokens.access_token,
        expires_at: format_time(tokens.expires_at),
        client_id: Some(client.id.clone()),
        client_secret: Some(client.secret.clone()),
        registration_expires_at: Some(format_time(client.expires_at)),
        refresh_token: tokens.refresh_token,
        other: serde_json::Map::new(),
    };
    let path = write_login(home, target.cache_key(), &login)
        .map_err(|source| write_error(home, target, source))?;
    log::debug(format_args!("login: wrote {}", path.display()));
    Ok(LoggedIn {
        label: target.label(),
        start_url: target.start_url.clone(),
        expires_at: tokens.expires_at,
    })
}

fn write_error(home: &Path, target: &SsoTarget, source: std::io::Error) -> LoginError {
    LoginError::Write {
        path: crate::credentials::sso::path(home, target.cache_key()),
        source,
    }
}

/// Shows where to log in on stderr, and opens the browser there unless told not to
/// (`browser_command` replaces the platform's way).
pub fn show_and_open(prompt: &str, url: &str, open_browser: bool, browser_command: Option<&str>) {
    message::prompt(prompt, url);
    if open_browser && let Err(why) = browser::open(url, browser_command) {
        message::note(&format!("could not open a browser ({why})"));
    }
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// Nothing was needed (or the profile in use is not an SSO one).
    Usable,
    /// The login was refreshed with its refresh token.
    Refreshed,
    /// A person logged in: the run waited, so its network deadline starts again.
    LoggedIn,
}

/// Makes the SSO login of the profile in use usable before credentials are resolved: a
/// login close to expiry is refreshed with its refresh token and written back (the next
/// AWS CLI call sees it too); a missing or expired one is logged in again when a person
/// is there ([`person_present`]), else it fails at once with the command that logs in.
///
/// Runs needing the same login at once take turns under one lock, so one refresh or one
/// login serves them all; a run that waited and still finds no login does not start its
/// own (the person just failed or cancelled one) but fails.
pub async fn ensure(aws: &AwsConfig, policy: &Policy) -> Result<Ensured, LoginError> {
    let (Some(sso), Some(home)) = (aws.sso_profile_in_use(), home_dir()) else {
        return Ok(Ensured::Usable);
    };
    // A role session of the profile's chain, cached by the AWS CLI or an earlier run,
    // serves without the login below it.
    if aws.role_session_cached() {
        log::debug(format_args!(
            "sso: not needed now: a cached role session serves profile {}",
            aws.profile
        ));
        return Ok(Ensured::Usable);
    }
    // A profile that names no usable session is the chain's to report.
    let Ok(target) = aws.sso_target(&sso) else {
        return Ok(Ensured::Usable);
    };
    let need = LoginNeed::of(
        &home,
        target.cache_key(),
        target.session.is_some(),
        Utc::now(),
    );
    let present = policy.person_present();
    match (&need, present) {
        (LoginNeed::Nothing, _) => return Ok(Ensured::Usable),
        (LoginNeed::Login(detail), Err(why)) => {
            return Err(LoginError::NoPerson {
                needed: sso.login_error(detail.clone()),
                why,
            });
        }
        _ => {}
    }
    let wait = policy.timeout + aws.network().limits().total;
    let (_lock, waited) = lock(policy.lock_dir.as_deref(), target.cache_key(), wait);
    // Read again under the lock: a run that held it may have just written a login.
    let need = LoginNeed::of(
        &home,
        target.cache_key(),
        target.session.is_some(),
        Utc::now(),
    );
    let detail = match need {
        LoginNeed::Nothing => return Ok(Ensured::Usable),
        LoginNeed::Refresh(login) => match refresh(aws, &home, &target, login).await {
            Ok(()) => return Ok(Ensured::Refreshed),
            Err(Refresh::Rejected(detail)) => detail,
            Err(Refresh::Failed { error, still_valid }) => {
                if still_valid {
                    log::debug(format_args!(
                        "sso: refresh failed ({error}); the login is still valid"
                    ));
                    return Ok(Ensured::Usable);
                }
                return Err(error);
            }
        },
        LoginNeed::Login(detail) => detail,
    };
    if let Err(why) = present {
        return Err(LoginError::NoPerson {
            needed: sso.login_error(detail),
            why,
        });
    }
    if waited {
        return Err(LoginError::Incomplete {
            what: target.label(),
            command: target.login_command(),
        });
    }
    message::say(&format!(
        "the IAM Identity Center login of profile {} must be renewed ({detail}): logging in",
        sso.profile
    ));
    let how = How {
        device_code: false,
        open_browser: true,
        timeout: policy.timeout,
    };
    let logged_in = log_in(aws, &target, how).await?;
    message::say(&logged_in.summary(Utc::now()));
    aws.network().restart();
    Ok(Ensured::LoggedIn)
}

/// The lock runs take turns under for the login of `key`, and whether this run had to
/// wait for it. Without a usable store there is no lock: each run does its own login.
fn lock(dir: Option<&Path>, key: &str, wait: Duration) -> (Option<crate::store::Lock>, bool) {
    let Some(store) = dir.and_then(|d| {
        Store::create(d)
            .inspect_err(|e| log::debug(format_args!("login: no lock ({e})")))
            .ok()
    }) else {
        return (None, false);
    };
    let name = lock_name(key);
    match store.lock(&name, Duration::ZERO) {
        Ok(Some(lock)) => return (Some(lock), false),
        Ok(None) => log::debug(format_args!(
            "login: another eks-token run is logging in; waiting up to {}",
            seconds(wait)
        )),
        Err(e) => {
            log::debug(format_args!("login: no lock ({e})"));
            return (None, false);
        }
    }
    match store.lock(&name, wait) {
        Ok(lock) => (lock, true),
        Err(e) => {
            log::debug(format_args!("login: no lock ({e})"));
            (None, true)
        }
    }
}

/// The lock's name: like a token cache key (64 hex digits), so the cache counts its lock
/// file as its own and prunes it.
fn lock_name(key: &str) -> String {
    let digest = Sha256::digest(format!("eks-token sso login\0{key}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

enum Refresh {
    /// IAM Identity Center refused the refresh token or the client: a login is needed.
    Rejected(String),
    /// It could not be asked (network, deadline, a file).
    Failed {
        error: LoginError,
        still_valid: bool,
    },
}

/// CreateToken with the refresh token, written back in place.
async fn refresh(
    aws: &AwsConfig,
    home: &Path,
    target: &SsoTarget,
    mut login: CachedLogin,
) -> Result<(), Refresh> {
    let still_valid = login.expires().is_some_and(|t| t > Utc::now());
    let failed = |error: LoginError| Refresh::Failed { error, still_valid };
    let (Some(id), Some(secret), Some(refresh_token), Some(expires_at)) = (
        login.client_id.clone(),
        login.client_secret.clone(),
        login.refresh_token.clone(),
        login.registration_expires(),
    ) else {
        return Err(Refresh::Rejected("no refresh token".into()));
    };
    let client = Client {
        id,
        secret,
        expires_at,
    };
    let oidc = Oidc::new(aws, &target.region).await;
    let grant = Grant::Refresh {
        refresh_token: &refresh_token,
    };
    let tokens = match oidc.token(&client, grant, target).await {
        Ok(tokens) => tokens,
        Err(e) => {
            return Err(match service_code(&e) {
                Some(
                    code @ ("InvalidGrantException"
                    | "ExpiredTokenException"
                    | "InvalidClientException"
                    | "UnauthorizedClientException"
                    | "AccessDeniedException"),
                ) => Refresh::Rejected(format!(
                    "expired at {} and could not be refreshed ({code})",
                    login.expires().map_or_else(|| "?".into(), stamp)
                )),
                _ => failed(e),
            });
        }
    };
    login.access_token = tokens.access_token;
    login.expires_at = format_time(tokens.expires_at);
    if tokens.refresh_token.is_some() {
        login.refresh_token = tokens.refresh_token;
    }
    let path = write_login(home, target.cache_key(), &login)
        .map_err(|source| failed(write_error(home, target, source)))?;
    log::debug(format_args!(
        "sso: refreshed the login for {}, now valid until {}; wrote {}",
        target.label(),
        stamp(tokens.expires_at),
        path.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_there_only_when_the_client_and_a_terminal_say_so() {
        use Mode::*;
        assert_eq!(person_present(Auto, Some(true), true), Ok(()));
        assert_eq!(person_present(Auto, None, true), Ok(()));
        // kube-rs says interactive without a terminal.
        assert_eq!(
            person_present(Auto, Some(true), false),
            Err(NoPerson::NoTerminal)
        );
        // interactiveMode Never, in a terminal.
        assert_eq!(
            person_present(Auto, Some(false), true),
            Err(NoPerson::NotInteractive)
        );
        assert_eq!(person_present(Browser, Some(false), false), Ok(()));
        assert_eq!(person_present(Never, Some(true), true), Err(NoPerson::Off));
    }

    #[test]
    fn the_lock_is_named_like_a_cache_key() {
        let name = lock_name("corp");
        assert_eq!(name.len(), 64);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(name, lock_name("other"));
    }
}

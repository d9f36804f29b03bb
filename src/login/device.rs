//! The device authorization flow (RFC 8628) that `aws sso login` uses for legacy profiles
//! and with `--use-device-code`: the code shown on stderr, the browser opened at the
//! verification page, CreateToken polled at the interval IAM Identity Center asks for.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use super::service::{Client, Grant, Oidc, Tokens, service_code};
use super::{LoginError, show_and_open};
use crate::credentials::SsoTarget;

/// The poll interval when the answer gives none (RFC 8628 3.2).
const DEFAULT_INTERVAL: u64 = 5;

/// What `slow_down` adds to the interval (RFC 8628 3.5).
const SLOW_DOWN: u64 = 5;

pub async fn run(
    oidc: &Oidc<'_>,
    home: &Path,
    target: &SsoTarget,
    open_browser: bool,
) -> Result<(Client, Tokens), LoginError> {
    let client = oidc.client(home, target, false, Utc::now()).await?;
    let device = oidc.start_device(&client, target).await?;
    show_code(
        &format!("IAM Identity Center ({})", target.label()),
        &device.user_code,
        device
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&device.verification_uri),
        open_browser,
        None,
    );
    let expired = || LoginError::DeviceCodeExpired {
        what: target.label(),
        command: target.login_command(),
    };
    poll(device.interval, device.expires_in, expired, async || {
        let grant = Grant::Device {
            device_code: &device.device_code,
        };
        let err = match oidc.token(&client, grant, target).await {
            Ok(tokens) => return Polled::Done(tokens),
            Err(err) => err,
        };
        match service_code(&err) {
            Some("AuthorizationPendingException") => Polled::Pending,
            Some("SlowDownException") => Polled::SlowDown,
            Some("AccessDeniedException") => Polled::Failed(LoginError::Denied {
                what: target.label(),
                detail: "access_denied".into(),
                command: target.login_command(),
            }),
            Some("ExpiredTokenException") => Polled::Failed(expired()),
            _ => Polled::Failed(err),
        }
    })
    .await
    .map(|tokens| (client, tokens))
}

/// Shows the user code and the page to confirm it on (the complete verification URI when
/// there is one), and opens the browser there unless told not to.
pub fn show_code(
    what: &str,
    user_code: &str,
    url: &str,
    open_browser: bool,
    browser_command: Option<&str>,
) {
    show_and_open(
        &format!(
            "log in to {what}: confirm the code {user_code} in the browser; if it does not open, visit:"
        ),
        url,
        open_browser,
        browser_command,
    );
}

/// One poll of the token endpoint (RFC 8628 3.5).
pub enum Polled<T, E> {
    Done(T),
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: ask again, 5 s slower from now on.
    SlowDown,
    Failed(E),
}

/// Polls with `attempt` every `interval` seconds (5 when the answer gave none) until it is
/// done or fails, or the device code's `expires_in` seconds have passed (`expired`). The
/// caller's timeout bounds it too.
pub async fn poll<T, E>(
    interval: i64,
    expires_in: i64,
    expired: impl Fn() -> E,
    mut attempt: impl AsyncFnMut() -> Polled<T, E>,
) -> Result<T, E> {
    let mut interval = u64::try_from(interval)
        .ok()
        .filter(|&i| i > 0)
        .unwrap_or(DEFAULT_INTERVAL);
    let give_up = tokio::time::Instant::now()
        + Duration::from_secs(u64::try_from(expires_in).unwrap_or(0).max(1));
    loop {
        match attempt().await {
            Polled::Done(done) => return Ok(done),
            Polled::Pending => {}
            Polled::SlowDown => interval += SLOW_DOWN,
            Polled::Failed(e) => return Err(e),
        }
        let next = tokio::time::Instant::now() + Duration::from_secs(interval);
        if next >= give_up {
            return Err(expired());
        }
        tokio::time::sleep_until(next).await;
    }
}

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
    let url = device
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&device.verification_uri);
    show_and_open(
        &format!(
            "log in to IAM Identity Center ({}): confirm the code {} in the browser; if it does not open, visit:",
            target.label(),
            device.user_code
        ),
        url,
        open_browser,
        None,
    );
    let mut interval = u64::try_from(device.interval)
        .ok()
        .filter(|&i| i > 0)
        .unwrap_or(DEFAULT_INTERVAL);
    // The caller's timeout bounds the loop too; the device code's own life ends it here.
    let give_up = tokio::time::Instant::now()
        + Duration::from_secs(u64::try_from(device.expires_in).unwrap_or(0).max(1));
    loop {
        let grant = Grant::Device {
            device_code: &device.device_code,
        };
        let err = match oidc.token(&client, grant, target).await {
            Ok(tokens) => return Ok((client, tokens)),
            Err(err) => err,
        };
        match service_code(&err) {
            Some("AuthorizationPendingException") => {}
            Some("SlowDownException") => interval += SLOW_DOWN,
            Some("AccessDeniedException") => {
                return Err(LoginError::Denied {
                    what: target.label(),
                    detail: "access_denied".into(),
                    command: target.login_command(),
                });
            }
            Some("ExpiredTokenException") => {
                return Err(LoginError::DeviceCodeExpired {
                    what: target.label(),
                    command: target.login_command(),
                });
            }
            _ => return Err(err),
        }
        let next = tokio::time::Instant::now() + Duration::from_secs(interval);
        if next >= give_up {
            return Err(LoginError::DeviceCodeExpired {
                what: target.label(),
                command: target.login_command(),
            });
        }
        tokio::time::sleep_until(next).await;
    }
}

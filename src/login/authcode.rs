//! The authorization code flow with PKCE that `aws sso login` uses for `sso-session`
//! profiles: a client registered for `authorization_code` and `refresh_token`, the
//! browser sent to SSO-OIDC's `/authorize`, one callback on the loopback listener, then
//! CreateToken with the code and the verifier.

use std::path::Path;

use chrono::Utc;

use super::loopback::{CallbackError, Listener, SSO_PATH};
use super::pkce::{self, Pkce};
use super::service::{Client, Grant, Oidc, Tokens};
use super::{LoginError, show_and_open};
use crate::credentials::SsoTarget;

pub async fn run(
    oidc: &Oidc<'_>,
    home: &Path,
    target: &SsoTarget,
    open_browser: bool,
) -> Result<(Client, Tokens), LoginError> {
    let listener = Listener::bind(SSO_PATH).await.map_err(LoginError::Listen)?;
    let redirect_uri = listener.redirect_uri();
    let client = oidc.client(home, target, true, Utc::now()).await?;
    let pkce = Pkce::new().map_err(LoginError::Random)?;
    let state = pkce::random(16).map_err(LoginError::Random)?;
    let scopes = target
        .scopes
        .clone()
        .unwrap_or_else(|| vec![super::service::DEFAULT_SCOPE.to_owned()]);
    let mut url = url::Url::parse(&format!("{}/authorize", oidc.endpoint().await?))
        .map_err(|e| LoginError::Endpoint(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scopes", &scopes.join(" "))
        .append_pair("code_challenge", &pkce.challenge);
    show_and_open(
        &format!(
            "log in to IAM Identity Center ({}) in the browser; if it does not open, visit:",
            target.label()
        ),
        url.as_str(),
        open_browser,
        None,
    );
    let code = listener.callback(&state).await.map_err(|e| match e {
        CallbackError::Refused { error, description } if error == "access_denied" => {
            LoginError::Denied {
                what: target.label(),
                detail: description.unwrap_or(error),
                command: target.login_command(),
            }
        }
        source => LoginError::Callback {
            what: target.label(),
            source,
            command: target.login_command(),
        },
    })?;
    let tokens = oidc
        .token(
            &client,
            Grant::Code {
                code: &code,
                redirect_uri: &redirect_uri,
                verifier: &pkce.verifier,
            },
            target,
        )
        .await?;
    Ok((client, tokens))
}

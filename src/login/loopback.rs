//! The loopback listener of the authorization code flow (RFC 8252 7.3): 127.0.0.1 on a
//! free port and `/oauth/callback` for IAM Identity Center, the listen addresses and `/`
//! for OIDC providers (as kubelogin); exactly one callback whose `state` is this login's,
//! answered with a short page for the browser, then closed.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The path IAM Identity Center's redirect URI has, as the AWS CLI's.
pub const SSO_PATH: &str = "/oauth/callback";

/// A request head bigger than this is not a browser's callback.
const MAX_REQUEST: usize = 16 * 1024;

/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What the callback said, when it was not a code.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error(
        "the sign-in callback's state does not match this login (a callback from another login, or forged); nothing was used"
    )]
    StateMismatch,
    #[error("{error}{}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in callback has neither a code nor an error")]
    NoCode,
    #[error("the sign-in callback listener failed: {0}")]
    Io(#[from] io::Error),
}

pub struct Listener {
    listener: TcpListener,
    port: u16,
    path: String,
}

impl Listener {
    /// Listens on 127.0.0.1, on a port the system picks, for `path`.
    pub async fn bind(path: &str) -> io::Result<Self> {
        Self::bind_first(&["127.0.0.1:0".to_owned()], path).await
    }

    /// Listens on the first of `addresses` (`HOST:PORT`) that is free, for `path`; the
    /// error is the last address's.
    pub async fn bind_first(addresses: &[String], path: &str) -> io::Result<Self> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no listen address");
        for address in addresses {
            match TcpListener::bind(address.as_str()).await {
                Ok(listener) => {
                    let port = listener.local_addr()?.port();
                    return Ok(Self {
                        listener,
                        port,
                        path: path.to_owned(),
                    });
                }
                Err(e) => last = io::Error::new(e.kind(), format!("{address}: {e}")),
            }
        }
        Err(last)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Waits for the callback (the caller bounds the wait) and returns its code. Other
    /// requests (a favicon) get a 404 and the wait goes on.
    pub async fn callback(self, state: &str) -> Result<String, CallbackError> {
        loop {
            let (mut stream, _) = self.listener.accept().await?;
            let Ok(Ok(target)) =
                tokio::time::timeout(READ_TIMEOUT, request_target(&mut stream)).await
            else {
                continue;
            };
            match answer(&target, &self.path, state) {
                None => respond(&mut stream, "404 Not Found", "Not found", "").await,
                Some(result) => {
                    let (status, title, text) = match &result {
                        Ok(_) => (
                            "200 OK",
                            "Signed in",
                            "You are signed in to eks-token. You can close this tab and return to the terminal.",
                        ),
                        Err(CallbackError::StateMismatch | CallbackError::NoCode) => (
                            "400 Bad Request",
                            "Not signed in",
                            "This sign-in does not belong to the login eks-token is waiting for. Nothing was used.",
                        ),
                        Err(_) => (
                            "200 OK",
                            "Not signed in",
                            "The sign-in was not completed. You can close this tab; eks-token shows what happened.",
                        ),
                    };
                    respond(&mut stream, status, title, text).await;
                    return result;
                }
            }
        }
    }
}

/// What a request for `target` means: `None` for a path that is not the callback.
fn answer(target: &str, path: &str, state: &str) -> Option<Result<String, CallbackError>> {
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != path {
        return None;
    }
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if query("state").as_deref() != Some(state) {
        return Some(Err(CallbackError::StateMismatch));
    }
    if let Some(error) = query("error") {
        return Some(Err(CallbackError::Refused {
            error,
            description: query("error_description"),
        }));
    }
    Some(match query("code") {
        Some(code) => {
            crate::secrets::remember(&code);
            Ok(code)
        }
        None => Err(CallbackError::NoCode),
    })
}

/// The request target of a `GET` request (`/oauth/callback?code=…`), read up to the end
/// of its head.
async fn request_target(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REQUEST {
            return Err(io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line =
        std::str::from_utf8(line).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    match line.split(' ').collect::<Vec<_>>()[..] {
        ["GET", target, version] if version.starts_with("HTTP/1.") => Ok(target.to_owned()),
        _ => Err(io::ErrorKind::InvalidData.into()),
    }
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>eks-token: {title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(READ_TIMEOUT, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_callback_with_this_state_is_taken() {
        assert!(answer("/favicon.ico", SSO_PATH, "s").is_none());
        assert!(matches!(
            answer("/oauth/callback?code=c&state=other", SSO_PATH, "s"),
            Some(Err(CallbackError::StateMismatch))
        ));
        assert!(matches!(
            answer("/oauth/callback?code=c", SSO_PATH, "s"),
            Some(Err(CallbackError::StateMismatch))
        ));
        assert_eq!(
            answer("/oauth/callback?code=c%2B1&state=s", SSO_PATH, "s")
                .unwrap()
                .unwrap(),
            "c+1"
        );
        match answer(
            "/oauth/callback?error=access_denied&error_description=no%20way&state=s",
            SSO_PATH,
            "s",
        ) {
            Some(Err(e @ CallbackError::Refused { .. })) => {
                assert_eq!(e.to_string(), "access_denied: no way");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            answer("/oauth/callback?state=s", SSO_PATH, "s"),
            Some(Err(CallbackError::NoCode))
        ));
    }
}

//! The OpenID Provider for the OIDC tests: npm `oidc-provider` run by
//! `tests/peers/oidc/provider.mjs` (its manual is tests/peers/README.md), its accounts and
//! clients, what it saw, its test-only controls, the test browser signing in to it, and the
//! fake EKS API server trusting it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::peers::{
    FakeEks, Process, http_get, http_post_json, python, repo_file, start_fake_eks, use_test_browser,
};
use super::runner::{ROOT, Sandbox};

/// The client kubectl's users sign in with (a public client: no secret, PKCE).
pub const OIDC_CLIENT_ID: &str = "eks";
/// Another client of the same provider: its ID tokens are not for the cluster.
pub const OIDC_OTHER_CLIENT_ID: &str = "other-app";
/// The person who signs in (her account's `sub`; the sign-in form takes it or her email),
/// her email (the cluster's username claim) and the group the cluster lets list pods.
pub const OIDC_LOGIN: &str = "alice";
pub const OIDC_EMAIL: &str = "alice@example.com";
pub const OIDC_GROUP: &str = "eks-admins";
/// Someone outside [`OIDC_GROUP`].
pub const OIDC_OUTSIDER_LOGIN: &str = "bob";
pub const OIDC_OUTSIDER_EMAIL: &str = "bob@example.com";
pub const OIDC_OUTSIDER_GROUP: &str = "developers";

/// The provider's configuration: [`OIDC_CLIENT_ID`] and [`OIDC_OTHER_CLIENT_ID`] (public,
/// authorization code, refresh token and device code grants, `redirect_uris` registered),
/// and the accounts [`OIDC_LOGIN`] (groups [`OIDC_GROUP`] and [`OIDC_OUTSIDER_GROUP`]) and
/// [`OIDC_OUTSIDER_LOGIN`] ([`OIDC_OUTSIDER_GROUP`] only), without passwords (an account's
/// `password`, when set, must be typed). Tests may change it before start.
pub fn oidc_config(redirect_uris: &[String]) -> Value {
    json!({
        "clients": [
            {"client_id": OIDC_CLIENT_ID, "redirect_uris": redirect_uris},
            {"client_id": OIDC_OTHER_CLIENT_ID, "redirect_uris": redirect_uris},
        ],
        "accounts": [
            {"sub": OIDC_LOGIN, "email": OIDC_EMAIL, "groups": [OIDC_GROUP, OIDC_OUTSIDER_GROUP]},
            {"sub": OIDC_OUTSIDER_LOGIN, "email": OIDC_OUTSIDER_EMAIL, "groups": [OIDC_OUTSIDER_GROUP]},
        ],
    })
}

/// One request in the provider's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcRequest {
    /// oidc-provider's route: `discovery`, `jwks`, `authorization`, `resume`, `interaction`,
    /// `submit`, `abort`, `token`, `device_authorization`, `code_verification`,
    /// `device_resume`, `revocation`, … (`other` for none).
    pub op: String,
    pub status: u16,
    /// The OAuth error it answered with (also one sent back to the redirect URI), if any.
    pub error: Option<String>,
    /// The token endpoint's `grant_type`.
    pub grant: Option<String>,
    pub client_id: Option<String>,
    /// What a `submit` answered: `login` (a sign-in form, error `login_refused` when the
    /// login or password is wrong) or `consent`.
    pub prompt: Option<String>,
}

/// kubelogin's `get-token` flags for `issuer` as a kubeconfig carries them: the client,
/// the `email` scope (the cluster's username claim), `offline_access` (a refresh token), and
/// the loopback listener on `port`, registered at the provider as [`oidc_redirect`]
/// (parallel tests cannot share kubelogin's default 8000).
pub fn oidc_flags(issuer: &str, client_id: &str, port: u16) -> Vec<String> {
    vec![
        format!("--oidc-issuer-url={issuer}"),
        format!("--oidc-client-id={client_id}"),
        "--oidc-extra-scope=email".to_owned(),
        "--oidc-extra-scope=offline_access".to_owned(),
        format!("--listen-address=127.0.0.1:{port}"),
    ]
}

/// The redirect URI of a loopback listener on `port`, as eks-token and kubelogin send it.
pub fn oidc_redirect(port: u16) -> String {
    format!("http://localhost:{port}")
}

/// Where `eks-token oidc` keeps its tokens in a sandbox (no `--token-cache-dir`, no
/// `KUBECACHEDIR`).
pub fn oidc_cache_dir(s: &Sandbox) -> PathBuf {
    s.path(".kube/cache/eks-token-oidc")
}

/// The entries of the sandbox's OIDC token cache (its `.json` files), in no order.
pub fn oidc_cache_entries(s: &Sandbox) -> Vec<Value> {
    let Ok(dir) = std::fs::read_dir(oidc_cache_dir(s)) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| super::runner::read_json(&p))
        .collect()
}

/// A running OpenID Provider.
pub struct OidcProvider {
    pub server: Process,
    /// `http://127.0.0.1:PORT`, or `https://…` from [`OidcProvider::start_tls`].
    pub issuer: String,
    /// Where the test-only endpoints answer over plain HTTP (the issuer itself without TLS).
    pub control: String,
    /// The CA certificate (PEM) an HTTPS provider's certificate is issued by.
    pub ca: Option<PathBuf>,
    /// The request log it appends to (one JSON line each).
    pub log: PathBuf,
}

/// Node.js (`node` on PATH), after checking `npm ci` has installed the provider.
fn node() -> &'static str {
    let installed =
        Path::new(ROOT).join("tests/peers/oidc/node_modules/oidc-provider/package.json");
    assert!(
        installed.exists(),
        "the OpenID Provider is not installed ({} is missing): run `tests/run.sh` \
         (it runs `npm ci` in tests/peers/oidc)",
        installed.display()
    );
    "node"
}

impl OidcProvider {
    /// The provider over plain HTTP with `config` (see [`oidc_config`]).
    pub fn start(sandbox: &Sandbox, config: &Value) -> Self {
        Self::spawn(sandbox, config, None)
    }

    /// The provider over HTTPS, its certificate (for 127.0.0.1 and localhost) from a
    /// throwaway CA written to [`OidcProvider::ca`] (`tests/peers/certs.py`).
    pub fn start_tls(sandbox: &Sandbox, config: &Value) -> Self {
        let dir = sandbox.path("oidc/tls");
        let made = Command::new(python())
            .arg(repo_file("tests/peers/certs.py"))
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "certs.py: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Self::spawn(sandbox, config, Some(dir))
    }

    fn spawn(sandbox: &Sandbox, config: &Value, tls: Option<PathBuf>) -> Self {
        let log = sandbox.path("oidc/requests.log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let mut cmd = Command::new(node());
        cmd.arg(repo_file("tests/peers/oidc/provider.mjs"))
            .arg("--config")
            .arg(config.to_string())
            .arg("--log")
            .arg(&log);
        if let Some(dir) = &tls {
            cmd.arg("--tls-dir").arg(dir);
        }
        let (server, ready) = Process::spawn_peer(cmd, "tests/peers/oidc/provider.mjs");
        let field = |name: &str| ready[name].as_str().expect(name).to_owned();
        Self {
            server,
            issuer: field("issuer"),
            control: field("control"),
            ca: tls.map(|dir| dir.join("ca.pem")),
            log,
        }
    }

    /// Ends the provider (its port is then closed).
    pub fn stop(self) {}

    /// Its request log, in order (`GET /fake/requests`).
    pub fn requests(&self) -> Vec<OidcRequest> {
        let log: Value =
            serde_json::from_str(&http_get(&format!("{}/fake/requests", self.control))).unwrap();
        log.as_array()
            .expect("a JSON list")
            .iter()
            .map(|e| {
                let field = |name: &str| e[name].as_str().map(str::to_owned);
                OidcRequest {
                    op: field("op").expect("op"),
                    status: e["status"].as_u64().expect("status") as u16,
                    error: field("error"),
                    grant: field("grant"),
                    client_id: field("client_id"),
                    prompt: field("prompt"),
                }
            })
            .collect()
    }

    /// How many requests were `op` (with `grant`, if given) and answered with `error`
    /// (`None`: succeeded).
    pub fn count(&self, op: &str, grant: Option<&str>, error: Option<&str>) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.op == op
                    && (grant.is_none() || r.grant.as_deref() == grant)
                    && r.error.as_deref() == error
            })
            .count()
    }

    /// Authorization requests that started a sign-in (each browser login makes one).
    pub fn logins(&self) -> usize {
        self.count("authorization", None, None)
    }

    /// Successful `refresh_token` grants.
    pub fn refreshes(&self) -> usize {
        self.count("token", Some("refresh_token"), None)
    }

    /// Ends the refresh tokens (and their grants) of `client_id` and/or account `sub`
    /// (`None`: any); returns how many grants ended.
    pub fn revoke(&self, client_id: Option<&str>, sub: Option<&str>) -> u64 {
        let mut body = json!({});
        if let Some(c) = client_id {
            body["client_id"] = c.into();
        }
        if let Some(s) = sub {
            body["sub"] = s.into();
        }
        http_post_json(&format!("{}/fake/revoke", self.control), &body)["revoked"]
            .as_u64()
            .expect("revoked")
    }

    /// Sets token lifetimes in seconds from now on, e.g. `json!({"IdToken": 30})` (also
    /// `AccessToken`, `RefreshToken`, `DeviceCode`, `AuthorizationCode`, `Grant`, …).
    pub fn set_ttl(&self, ttl: &Value) {
        http_post_json(
            &format!("{}/fake/config", self.control),
            &json!({ "ttl": ttl }),
        );
    }

    /// With `true`, `GET /jwks` shows a key that signs nothing: every ID token's signature
    /// fails against it.
    pub fn set_wrong_jwks(&self, wrong: bool) {
        http_post_json(
            &format!("{}/fake/config", self.control),
            &json!({ "wrong_jwks": wrong }),
        );
    }
}

/// Makes the test browser the sandbox's `$BROWSER` signing in to `provider` as `login`
/// (trusting its CA when it has one); `EKS_TOKEN_TEST_BROWSER` (the mode) is left to the
/// test. For `--browser-command`, pass [`super::peers::test_browser`].
pub fn use_oidc_browser(s: &mut Sandbox, provider: &OidcProvider, login: &str) {
    use_test_browser(s);
    s.env("EKS_TOKEN_TEST_BROWSER_LOGIN", login);
    if let Some(ca) = &provider.ca {
        s.env("EKS_TOKEN_TEST_BROWSER_CA", ca.display().to_string());
    }
}

/// `tests/peers/fake_eks.py` authenticating ID tokens of `provider` for `client_id` as EKS
/// does (username `email`, groups `groups`), letting only `allowed_groups` list pods; EKS
/// tokens are not accepted (no secrets).
pub fn fake_eks_oidc(
    sandbox: &Sandbox,
    provider: &OidcProvider,
    client_id: &str,
    allowed_groups: &[&str],
) -> FakeEks {
    let mut args = vec![
        "--oidc-issuer".to_owned(),
        provider.issuer.clone(),
        "--oidc-client-id".to_owned(),
        client_id.to_owned(),
    ];
    if let Some(ca) = &provider.ca {
        args.extend(["--oidc-ca".to_owned(), ca.display().to_string()]);
    }
    for group in allowed_groups {
        args.extend(["--allowed-group".to_owned(), (*group).to_owned()]);
    }
    start_fake_eks(sandbox, "oidc-cluster", args)
}

/// The claims of a JWT, read without verifying it (tests only).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

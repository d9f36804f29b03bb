//! `eks-token oidc` end to end against a real OpenID Provider (npm `oidc-provider`), the test
//! browser and the fake EKS API server in OIDC mode, through kubectl 1.27 and 1.33: one
//! login, then the cache (with the provider gone), a refresh after expiry, a login when the
//! refresh token is revoked, one login for a burst; kubelogin's kubeconfig forms and flags;
//! the device code grant, the browser options, the provider's own CA, `oidc setup`; and
//! each error with its fix.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::Duration;

use serde_json::{Value, json};
use support::{
    EXEC_INFO_V1, EXEC_INFO_V1_INTERACTIVE, FakeEks, NO_PODS, OIDC_CLIENT_ID, OIDC_EMAIL,
    OIDC_GROUP, OIDC_LOGIN, OIDC_OTHER_CLIENT_ID, OIDC_OUTSIDER_EMAIL, OIDC_OUTSIDER_GROUP,
    OIDC_OUTSIDER_LOGIN, OidcProvider, Run, Sandbox, browser_opens, closed_port, fake_eks_oidc,
    free_port, http_get, http_request, jwt_claims, kubectl, kubectl_config, kubectl_get_pods,
    kubectl_get_pods_in_terminal, oidc_cache_entries, oidc_config, oidc_flags, oidc_redirect,
    run_command, test_browser, use_oidc_browser, write_exec_kubeconfig,
    write_exec_kubeconfig_command, write_token_kubeconfig,
};

/// Bounds every login here (the default is five minutes): a hang fails fast.
const LOGIN_TIMEOUT: &str = "--login-timeout=20";
/// The device code grant's token requests (RFC 8628 3.5).
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// kubectl's words for a 401 (the reason in brackets differs between versions).
const UNAUTHORIZED: &str = "You must be logged in to the server";

/// A sandbox whose test browser signs in as one account at the provider, which has
/// registered `http://localhost:PORT` for the loopback listener of these runs.
struct World {
    s: Sandbox,
    issuer: String,
    port: u16,
}

fn world(login: &str) -> (World, OidcProvider) {
    start(login, false)
}

fn start(login: &str, tls: bool) -> (World, OidcProvider) {
    let mut s = Sandbox::new();
    let port = free_port();
    let config = oidc_config(&[oidc_redirect(port)]);
    let provider = if tls {
        OidcProvider::start_tls(&s, &config)
    } else {
        OidcProvider::start(&s, &config)
    };
    use_oidc_browser(&mut s, &provider, login);
    let world = World {
        s,
        issuer: provider.issuer.clone(),
        port,
    };
    (world, provider)
}

impl World {
    /// `oidc`, kubelogin's flags for `client_id`, the login bound, then `extra`.
    fn args_for(&self, client_id: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["oidc".to_owned()];
        args.extend(oidc_flags(&self.issuer, client_id, self.port));
        args.push(LOGIN_TIMEOUT.to_owned());
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    }

    /// `eks-token oidc …` as kubectl starts it, without exec info.
    fn run(&self, extra: &[&str]) -> Run {
        self.run_with(None, extra)
    }

    fn run_with(&self, exec_info: Option<&str>, extra: &[&str]) -> Run {
        let args = self.args_for(OIDC_CLIENT_ID, extra);
        let mut cmd = self.s.command(&strs(&args));
        if let Some(info) = exec_info {
            cmd.env("KUBERNETES_EXEC_INFO", info);
        }
        run_command(cmd)
    }

    /// `~/.kube/config` on `api` whose user runs `eks-token oidc` for `client_id`, as the
    /// README writes it (exec v1, `interactiveMode: IfAvailable`).
    fn kubeconfig(&self, api: &FakeEks, client_id: &str, extra: &[&str]) -> PathBuf {
        let args = self.args_for(client_id, extra);
        write_exec_kubeconfig(
            &self.s,
            api,
            "client.authentication.k8s.io/v1",
            Some("IfAvailable"),
            &strs(&args),
        )
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The `exp` of a JWT.
fn exp(token: &str) -> i64 {
    jwt_claims(token)["exp"].as_i64().expect("exp")
}

/// The one entry of the sandbox's OIDC cache.
fn cached(s: &Sandbox) -> Value {
    let mut entries = oidc_cache_entries(s);
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

fn assert_gets_pods(run: &Run, case: &str) {
    assert_eq!(run.code, 0, "{case}: {}", run.stderr);
    assert!(run.stderr.contains(NO_PODS), "{case}: {}", run.stderr);
}

/// Successful authorization code grants at the token endpoint.
fn code_grants(provider: &OidcProvider) -> usize {
    provider.count("token", Some("authorization_code"), None)
}

/// kubectl 1.27 typed at a terminal (`IfAvailable`: a person is there) logs in once through
/// the browser; then kubectl 1.27 and 1.33 without a terminal are served from the cache,
/// with the provider stopped, and the ExecCredential expires when the ID token does.
#[test]
fn kubectl_on_a_terminal_logs_in_once_then_the_cache_serves_with_the_provider_stopped() {
    let (w, provider) = world(OIDC_LOGIN);
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let config = w.kubeconfig(&api, OIDC_CLIENT_ID, &[]);

    let run = kubectl_get_pods_in_terminal(&w.s, "1.27", &config);
    assert_gets_pods(&run, "first run");
    let opens = browser_opens(&w.s);
    assert_eq!(opens.len(), 1, "{opens:?}");
    assert!(
        opens[0].starts_with(&format!("{}/auth?", w.issuer)),
        "{}",
        opens[0]
    );
    assert!(
        run.stderr.contains(&opens[0]),
        "URL not shown: {}",
        run.stderr
    );
    assert_eq!(provider.logins(), 1);
    assert_eq!(code_grants(&provider), 1);
    assert!(api.requests_by(OIDC_EMAIL) > 0);
    for groups in api.groups_of(OIDC_EMAIL) {
        assert_eq!(groups, [OIDC_GROUP, OIDC_OUTSIDER_GROUP]);
    }

    let seen = provider.requests().len();
    let run = kubectl_get_pods(&w.s, "1.33", &config);
    assert_gets_pods(&run, "cached, provider running");
    assert_eq!(provider.requests().len(), seen, "the provider was asked");
    provider.stop();
    for version in ["1.27", "1.33"] {
        let before = api.requests_by(OIDC_EMAIL);
        let run = kubectl_get_pods(&w.s, version, &config);
        assert_gets_pods(&run, &format!("kubectl {version}, provider stopped"));
        assert!(api.requests_by(OIDC_EMAIL) > before);
    }
    assert_eq!(browser_opens(&w.s).len(), 1);

    // What kubectl got: the cached ID token, for this issuer and client, until its `exp`.
    let credential = w.run_with(Some(EXEC_INFO_V1), &[]).credential();
    assert_eq!(credential["apiVersion"], "client.authentication.k8s.io/v1");
    let token = credential["status"]["token"].as_str().unwrap();
    assert_eq!(token, cached(&w.s)["token"].as_str().unwrap());
    let claims = jwt_claims(token);
    assert_eq!(claims["iss"], w.issuer.as_str());
    assert_eq!(claims["aud"], OIDC_CLIENT_ID);
    assert_eq!(claims["email"], OIDC_EMAIL);
    let expires = credential["status"]["expirationTimestamp"]
        .as_str()
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert_eq!(expires.timestamp(), exp(token));
}

/// An ID token past its `exp` is refreshed without a browser (each time while it has under
/// a minute left); with the refresh token revoked, the refusal (`invalid_grant`) leads to a
/// new login, or, with nobody there, to the error saying so.
#[test]
fn an_expired_id_token_is_refreshed_and_a_revoked_refresh_token_logs_in_again() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_LOGIN", "browser");
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let config = w.kubeconfig(&api, OIDC_CLIENT_ID, &[]);

    provider.set_ttl(&json!({"IdToken": 2}));
    let first = w.run(&[]).token();
    let expiry = exp(&first);
    assert!(expiry <= now() + 2, "exp {expiry}");
    while now() <= expiry {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Refreshed tokens live 30 s: under the minute a cached one must have left.
    provider.set_ttl(&json!({"IdToken": 30}));
    for (i, version) in ["1.33", "1.27"].into_iter().enumerate() {
        let run = kubectl_get_pods(&w.s, version, &config);
        assert_gets_pods(&run, &format!("refresh {version}"));
        assert_eq!(provider.refreshes(), i + 1, "kubectl {version}");
    }
    assert_eq!(provider.logins(), 1);
    assert_eq!(browser_opens(&w.s).len(), 1);
    assert!(api.rejections().is_empty(), "{:?}", api.rejections());
    let refreshed = cached(&w.s);
    assert_ne!(refreshed["token"], first.as_str());
    assert!(exp(refreshed["token"].as_str().unwrap()) > now());

    assert!(provider.revoke(Some(OIDC_CLIENT_ID), None) >= 1);
    let run = kubectl_get_pods(&w.s, "1.33", &config);
    assert_gets_pods(&run, "revoked");
    let refused = |p: &OidcProvider| p.count("token", Some("refresh_token"), Some("invalid_grant"));
    assert_eq!(refused(&provider), 1);
    assert_eq!(provider.logins(), 2);
    assert_eq!(browser_opens(&w.s).len(), 2);

    // Revoked again, and no one to log in.
    assert!(provider.revoke(Some(OIDC_CLIENT_ID), None) >= 1);
    w.s.env("EKS_TOKEN_LOGIN", "never");
    let run = w.run(&[]);
    run.assert_error(
        1,
        &format!(
            "an OIDC login at {} is needed (the refresh token was refused: invalid_grant)",
            w.issuer
        ),
    );
    assert!(run.hint().contains("terminal"), "{}", run.hint());
    assert_eq!(refused(&provider), 2);
    assert_eq!(provider.logins(), 2);
}

/// Eight kubectl runs at once with no token: one login (one browser tab, one authorization,
/// one code grant), and every run lists the pods.
#[test]
fn eight_kubectl_runs_at_once_make_one_login() {
    const RUNS: usize = 8;
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_LOGIN", "browser");
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let config = w.kubeconfig(&api, OIDC_CLIENT_ID, &[]);
    let start = Barrier::new(RUNS);
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RUNS)
            .map(|i| {
                let (s, config, start) = (&w.s, &config, &start);
                scope.spawn(move || {
                    start.wait();
                    kubectl_get_pods(s, ["1.27", "1.33"][i % 2], config)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, run) in runs.iter().enumerate() {
        assert_gets_pods(run, &format!("run {i}"));
    }
    assert_eq!(browser_opens(&w.s).len(), 1, "{:?}", browser_opens(&w.s));
    assert_eq!(provider.logins(), 1);
    assert_eq!(code_grants(&provider), 1);
    assert_eq!(provider.refreshes(), 0);
    assert!(api.requests_by(OIDC_EMAIL) >= RUNS);
}

/// The cluster, not eks-token, says no: an ID token for another client of the provider is
/// Unauthorized (its audience), and a user outside the allowed group is Forbidden.
#[test]
fn the_cluster_rejects_another_clients_token_and_forbids_a_user_outside_the_group() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_LOGIN", "browser");
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);

    let config = w.kubeconfig(&api, OIDC_OTHER_CLIENT_ID, &[]);
    let run = kubectl_get_pods(&w.s, "1.33", &config);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(UNAUTHORIZED), "{}", run.stderr);
    let why = api.rejections();
    assert!(
        why.last().unwrap().contains("InvalidAudienceError"),
        "{why:?}"
    );
    let other_grants = provider
        .requests()
        .iter()
        .filter(|r| r.op == "token" && r.client_id.as_deref() == Some(OIDC_OTHER_CLIENT_ID))
        .count();
    assert_eq!(other_grants, 1, "eks-token logged in to the other client");
    assert_eq!(api.requests_by(OIDC_EMAIL), 0);

    w.s.env("EKS_TOKEN_TEST_BROWSER_LOGIN", OIDC_OUTSIDER_LOGIN);
    let config = w.kubeconfig(&api, OIDC_CLIENT_ID, &[]);
    let run = kubectl_get_pods(&w.s, "1.27", &config);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "Error from server (Forbidden): pods is forbidden: User \"{OIDC_OUTSIDER_EMAIL}\" \
             cannot list resource \"pods\""
        )),
        "{}",
        run.stderr
    );
    // Signed in as bob (discovery is open to him), refused the pods by group.
    assert_eq!(
        api.groups_of(OIDC_OUTSIDER_EMAIL).last().unwrap(),
        &[OIDC_OUTSIDER_GROUP]
    );
    let why = api.rejections();
    assert_eq!(
        why.last().unwrap(),
        &format!("forbidden: not in {OIDC_GROUP}")
    );
}

/// A kubeconfig written for kubelogin works by changing only `command:` to eks-token, in
/// both of kubelogin's forms (`kubectl oidc-login get-token …` and `kubelogin get-token
/// …`); a kubelogin flag eks-token does not take is a usage error naming it.
#[test]
fn kubelogin_kubeconfigs_work_by_changing_only_the_command() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_LOGIN", "browser");
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let flags = oidc_flags(&w.issuer, OIDC_CLIENT_ID, w.port);
    let kubelogin_config = |form: &[&str]| {
        let mut args: Vec<&str> = form.to_vec();
        args.extend(strs(&flags));
        // As kubelogin's README and the Okta guide write it.
        write_exec_kubeconfig_command(
            &w.s,
            &api,
            "client.authentication.k8s.io/v1beta1",
            None,
            "eks-token",
            &args,
        )
    };

    let run = kubectl_get_pods(
        &w.s,
        "1.27",
        &kubelogin_config(&["oidc-login", "get-token"]),
    );
    assert_gets_pods(&run, "oidc-login get-token");
    assert_eq!(provider.logins(), 1);
    // The same flags in the other form name the same token.
    let seen = provider.requests().len();
    let run = kubectl_get_pods(&w.s, "1.33", &kubelogin_config(&["get-token"]));
    assert_gets_pods(&run, "get-token");
    assert_eq!(provider.requests().len(), seen);
    assert_eq!(browser_opens(&w.s).len(), 1);

    for (form, flag, named) in [
        (
            &["oidc-login", "get-token"][..],
            "--insecure-skip-tls-verify",
            "--insecure-skip-tls-verify",
        ),
        (&["get-token"][..], "--username=alice", "--username"),
        (
            &["oidc-login", "get-token"][..],
            "--listen-port=8000",
            "--listen-port",
        ),
    ] {
        let mut args: Vec<&str> = form.to_vec();
        args.extend(strs(&flags));
        args.push(flag);
        let run = w.s.run(&args);
        run.assert_error(2, named);
        assert!(run.error_line().contains("not supported"), "{}", run.stderr);
    }
    assert_eq!(provider.requests().len(), seen);
}

/// `--grant-type device-code`: the browser confirms the code on the provider's device page
/// while eks-token polls; no loopback listener, no authorization request.
#[test]
fn the_device_code_grant_signs_in_on_the_device_page() {
    let (w, provider) = world(OIDC_LOGIN);
    let run = w.run(&["--grant-type", "device-code", "--login", "browser"]);
    let token = run.token();
    assert_eq!(jwt_claims(&token)["email"], OIDC_EMAIL);
    let opens = browser_opens(&w.s);
    assert_eq!(opens.len(), 1);
    assert!(
        opens[0].starts_with(&format!("{}/device", w.issuer)),
        "{}",
        opens[0]
    );
    assert!(run.stderr.contains("confirm the code"), "{}", run.stderr);
    assert_eq!(provider.count("device_authorization", None, None), 1);
    assert_eq!(provider.count("token", Some(DEVICE_GRANT), None), 1);
    assert_eq!(provider.logins(), 0);
    assert_eq!(code_grants(&provider), 0);
    // Cached like any other login.
    let seen = provider.requests().len();
    assert_eq!(w.run(&["--grant-type", "device-code"]).token(), token);
    assert_eq!(provider.requests().len(), seen);
}

/// Abort on the device page: the next poll answers `access_denied`, an error with a fix,
/// nothing cached.
#[test]
fn a_denied_device_code_is_an_error_with_a_fix() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_TEST_BROWSER", "deny");
    let run = w.run(&["--grant-type", "device-code", "--login", "browser"]);
    let opens = browser_opens(&w.s);
    assert_eq!(opens.len(), 1);
    run.without_prompt_urls(&opens).assert_error(
        1,
        &format!("the sign-in at {} was denied (access_denied", w.issuer),
    );
    assert!(run.hint().contains("sign in as a user"), "{}", run.hint());
    assert_eq!(
        provider.count("token", Some(DEVICE_GRANT), Some("access_denied")),
        1
    );
    assert!(oidc_cache_entries(&w.s).is_empty());
}

/// `--skip-open-browser` prints the URL and opens nothing: a person copies it into a
/// browser, and the login completes.
#[test]
fn skip_open_browser_prints_the_url_and_opens_no_browser() {
    let (w, provider) = world(OIDC_LOGIN);
    let args = w.args_for(
        OIDC_CLIENT_ID,
        &["--skip-open-browser", "--login", "browser"],
    );
    let mut spawned = w.s.spawn(&strs(&args));
    let line = spawned.stderr_line(Duration::from_secs(10), |l| l.starts_with("  http"));
    let url = line.trim();
    assert!(url.starts_with(&format!("{}/auth?", w.issuer)), "{url}");
    let mut person = w.s.command_of(test_browser(), &[url]);
    person.env_remove("EKS_TOKEN_TEST_BROWSER_LOG");
    let browsed = run_command(person);
    assert_eq!(browsed.code, 0, "{}", browsed.stderr);
    let run = spawned.finish(Duration::from_secs(20));
    assert_eq!(jwt_claims(&run.token())["email"], OIDC_EMAIL);
    assert!(browser_opens(&w.s).is_empty(), "{:?}", browser_opens(&w.s));
    assert_eq!(provider.logins(), 1);
}

/// `--browser-command` opens the URL instead of `$BROWSER` (here a program that does not
/// exist, which would leave the login to time out).
#[test]
fn browser_command_is_used_instead_of_browser() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("BROWSER", "/nonexistent/browser");
    let browser = test_browser().display().to_string();
    let run = w.run(&["--browser-command", &browser, "--login", "browser"]);
    assert_eq!(jwt_claims(&run.token())["email"], OIDC_EMAIL);
    assert_eq!(browser_opens(&w.s).len(), 1);
    assert!(!run.stderr.contains("could not open"), "{}", run.stderr);
    assert_eq!(provider.logins(), 1);
}

/// `--oidc-use-access-token` prints the access token (the provider's userinfo endpoint
/// takes it as alice's), expiring when the token endpoint said it does.
#[test]
fn use_access_token_prints_the_access_token() {
    let (w, provider) = world(OIDC_LOGIN);
    provider.set_ttl(&json!({"AccessToken": 600}));
    let before = now();
    let credential = w
        .run(&["--oidc-use-access-token", "--login", "browser"])
        .credential();
    let token = credential["status"]["token"].as_str().unwrap();
    assert_ne!(
        token.split('.').count(),
        3,
        "a JWT, not the opaque access token"
    );
    let discovery: Value = serde_json::from_str(&http_get(&format!(
        "{}/.well-known/openid-configuration",
        w.issuer
    )))
    .unwrap();
    let userinfo = discovery["userinfo_endpoint"].as_str().unwrap();
    let bearer = format!("Bearer {token}");
    let (status, body) = http_request("GET", userinfo, &[("Authorization", &bearer)], "");
    assert_eq!(status, 200, "{body}");
    let claims: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claims["sub"], OIDC_LOGIN);
    let expires = credential["status"]["expirationTimestamp"]
        .as_str()
        .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap()
        .timestamp();
    assert!(
        (before + 599..=now() + 601).contains(&expires),
        "{expires} vs {before}"
    );
}

/// `--force-refresh` refreshes a token the cache would serve, without a browser.
#[test]
fn force_refresh_refreshes_a_fresh_token() {
    let (w, provider) = world(OIDC_LOGIN);
    let first = w.run(&["--login", "browser"]).token();
    let seen = provider.requests().len();
    assert_eq!(w.run(&[]).token(), first);
    assert_eq!(provider.requests().len(), seen);
    let rotated = cached(&w.s)["refresh_token"].clone();
    let forced = w.run(&["--force-refresh"]).token();
    assert_eq!(provider.refreshes(), 1);
    // The provider rotates the refresh token (the ID token may be the same to the second).
    assert_ne!(cached(&w.s)["refresh_token"], rotated);
    assert_eq!(provider.logins(), 1);
    assert_eq!(browser_opens(&w.s).len(), 1);
    assert_eq!(w.run(&[]).token(), forced);
}

/// A provider whose certificate comes from its own CA: refused without
/// `--certificate-authority` (the hint names it), trusted with it or with
/// `--certificate-authority-data`.
#[test]
fn a_provider_with_its_own_ca_needs_certificate_authority() {
    use base64::Engine;
    let (w, provider) = start(OIDC_LOGIN, true);
    assert!(w.issuer.starts_with("https://"));
    let ca = provider.ca.clone().unwrap();

    let run = w.run(&["--login", "browser"]);
    run.assert_error(1, "certificate");
    assert!(
        run.hint().contains("--certificate-authority"),
        "{}",
        run.hint()
    );
    assert!(browser_opens(&w.s).is_empty());

    // A file or data that is no usable certificate is an error with the fix, before any
    // request (the HTTP client's TLS would panic on a malformed one).
    let bad = w.s.path("bad-ca.pem");
    let malformed = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for (text, why) in [
        ("not a certificate\n", "holds no PEM certificate"),
        (malformed, "holds a certificate that cannot be used"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let flag = format!("--certificate-authority={}", bad.display());
        let run = w.run(&[&flag, "--login", "browser"]);
        run.assert_error(1, &format!("the CA certificate {} {why}", bad.display()));
        assert!(
            run.hint().contains("--certificate-authority"),
            "{}",
            run.hint()
        );
    }
    let not_pem = base64::engine::general_purpose::STANDARD.encode("not a certificate\n");
    let run = w.run(&[
        &format!("--certificate-authority-data={not_pem}"),
        "--login",
        "browser",
    ]);
    run.assert_error(
        1,
        "the CA certificate in --certificate-authority-data holds no PEM certificate",
    );
    assert!(browser_opens(&w.s).is_empty());
    assert_eq!(provider.logins(), 0);

    let ca_flag = format!("--certificate-authority={}", ca.display());
    let token = w.run(&[&ca_flag, "--login", "browser"]).token();
    assert_eq!(jwt_claims(&token)["iss"], w.issuer.as_str());
    let rotated = cached(&w.s)["refresh_token"].clone();
    let data = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&ca).unwrap());
    let data_flag = format!("--certificate-authority-data={data}");
    w.run(&[&data_flag, "--force-refresh"]).token();
    assert_eq!(provider.refreshes(), 1);
    assert_ne!(cached(&w.s)["refresh_token"], rotated);
    assert_eq!(provider.logins(), 1);
}

/// `oidc setup` logs in and prints the claims, the kubeconfig user (which kubectl then uses
/// as printed), a ClusterRoleBinding per group and the cluster side; never a token.
#[test]
fn setup_prints_claims_user_bindings_and_cluster_side_but_no_token() {
    let (w, provider) = world(OIDC_LOGIN);
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let mut args = w.args_for(OIDC_CLIENT_ID, &["--login", "browser"]);
    args.insert(1, "setup".to_owned());
    let run = w.s.run(&strs(&args));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    let entry = cached(&w.s);
    for secret in [&entry["token"], &entry["refresh_token"]] {
        let secret = secret.as_str().unwrap();
        assert!(
            !out.contains(secret) && !run.stderr.contains(secret),
            "a token: {out}"
        );
    }
    assert!(!out.contains("eyJ"), "a JWT: {out}");
    for line in [
        format!("iss     {}", w.issuer),
        format!("email   {OIDC_EMAIL}"),
        format!("groups  {OIDC_GROUP}, {OIDC_OUTSIDER_GROUP}"),
        format!(
            "aws eks associate-identity-provider-config --cluster-name CLUSTER --oidc \
             identityProviderConfigName=oidc,issuerUrl={},clientId={OIDC_CLIENT_ID},\
             usernameClaim=email,groupsClaim=groups",
            w.issuer
        ),
    ] {
        assert!(out.lines().any(|l| l == line), "no {line:?} in {out}");
    }

    let rbac = out
        .split("## RBAC")
        .nth(1)
        .and_then(|r| r.split("\n## ").next())
        .expect("an RBAC section");
    let bindings: Vec<yaml_serde::Value> = rbac
        .split("\n---\n")
        .skip(1)
        .map(|doc| yaml_serde::from_str(doc).unwrap())
        .collect();
    let groups: Vec<&str> = bindings
        .iter()
        .map(|b| {
            assert_eq!(b["kind"].as_str(), Some("ClusterRoleBinding"));
            assert_eq!(b["roleRef"]["kind"].as_str(), Some("ClusterRole"));
            let subject = &b["subjects"][0];
            assert_eq!(subject["kind"].as_str(), Some("Group"));
            subject["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(groups, [OIDC_GROUP, OIDC_OUTSIDER_GROUP]);

    // The printed user, added with kubectl 1.33 as printed, lists pods from the cache.
    let set_credentials = out
        .lines()
        .find(|l| l.starts_with("kubectl config set-credentials "))
        .expect("a set-credentials line");
    let config = write_token_kubeconfig(&w.s, &api, "unused");
    let command = set_credentials.replacen("kubectl", &kubectl("1.33").display().to_string(), 1);
    let mut sh = w.s.command_of("sh", &["-c", &command]);
    sh.env("KUBECONFIG", &config);
    let added = run_command(sh);
    assert_eq!(added.code, 0, "{command}: {}", added.stderr);
    let context = kubectl_config(
        &w.s,
        "1.33",
        &config,
        &["set-context", "fake", "--user=oidc"],
    );
    assert_eq!(context.code, 0, "{}", context.stderr);
    let seen = provider.requests().len();
    let run = kubectl_get_pods(&w.s, "1.33", &config);
    assert_gets_pods(&run, "the printed user");
    assert!(api.requests_by(OIDC_EMAIL) > 0);
    // Only the cluster's first look at the provider's keys: eks-token asked nothing.
    let asked: Vec<String> = provider.requests()[seen..]
        .iter()
        .map(|r| r.op.clone())
        .collect();
    assert_eq!(asked, ["discovery", "jwks"]);
}

/// The issuer unreachable, a wrong issuer path, and an issuer URL that differs from the
/// one the provider names (a trailing slash): each an error naming the URL, with a fix, and
/// no browser.
#[test]
fn unreachable_or_invalid_discovery_is_an_error_with_a_fix() {
    let (w, _provider) = world(OIDC_LOGIN);
    let run_at = |issuer: &str| {
        let mut args = vec!["oidc".to_owned()];
        args.extend(oidc_flags(issuer, OIDC_CLIENT_ID, w.port));
        args.extend(["--login=browser".to_owned(), LOGIN_TIMEOUT.to_owned()]);
        w.s.run(&strs(&args))
    };
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let run = run_at(&closed);
    run.assert_error(
        1,
        &format!("cannot connect to {closed}: connection refused"),
    );
    assert!(
        run.hint().contains("check the issuer URL"),
        "{}",
        run.hint()
    );
    run.assert_within(Duration::from_secs(3));

    let wrong_path = format!("{}/oauth2/default", w.issuer);
    let run = run_at(&wrong_path);
    run.assert_error(
        1,
        &format!(
            "the OIDC discovery of {wrong_path} failed: \
             {wrong_path}/.well-known/openid-configuration answered HTTP 404"
        ),
    );
    assert!(run.hint().contains("--oidc-issuer-url"), "{}", run.hint());

    let slash = format!("{}/", w.issuer);
    let run = run_at(&slash);
    run.assert_error(
        1,
        &format!(
            "the OIDC discovery of {slash} failed: it names the issuer {}, not {slash}",
            w.issuer
        ),
    );
    assert!(run.hint().contains("--oidc-issuer-url"), "{}", run.hint());
    assert!(browser_opens(&w.s).is_empty());
}

/// Cancel on the provider's page: `access_denied` back at the callback, an error with a fix,
/// nothing cached.
#[test]
fn access_denied_in_the_browser_is_an_error_with_a_fix() {
    let (mut w, provider) = world(OIDC_LOGIN);
    w.s.env("EKS_TOKEN_TEST_BROWSER", "deny");
    let run = w.run(&["--login", "browser"]);
    let opens = browser_opens(&w.s);
    assert_eq!(opens.len(), 1);
    run.without_prompt_urls(&opens).assert_error(
        1,
        &format!("the sign-in at {} was denied (access_denied", w.issuer),
    );
    assert!(run.hint().contains("sign in as a user"), "{}", run.hint());
    assert_eq!(provider.count("resume", None, Some("access_denied")), 1);
    assert_eq!(provider.count("token", None, None), 0);
    assert!(oidc_cache_entries(&w.s).is_empty());
}

/// Every listen address taken: the error names them, the hint the flag; no browser, no
/// sign-in started.
#[test]
fn every_listen_address_taken_is_an_error_with_a_fix() {
    let (w, provider) = world(OIDC_LOGIN);
    let taken: Vec<TcpListener> = (0..2)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addresses: Vec<String> = taken
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let mut args = vec!["oidc".to_owned()];
    args.extend(oidc_flags(
        &w.issuer,
        OIDC_CLIENT_ID,
        taken[0].local_addr().unwrap().port(),
    ));
    args.extend([
        format!("--listen-address={}", addresses[1]),
        "--login=browser".to_owned(),
        LOGIN_TIMEOUT.to_owned(),
    ]);
    let run = w.s.run(&strs(&args));
    run.assert_error(
        1,
        &format!(
            "cannot listen for the browser's callback on {}",
            addresses.join(", ")
        ),
    );
    assert!(run.hint().contains("--listen-address"), "{}", run.hint());
    assert!(browser_opens(&w.s).is_empty());
    assert_eq!(provider.logins(), 0);
}

/// An ID token whose signature the provider's published keys do not check is refused and
/// not cached: the next run (keys right again) logs in anew.
#[test]
fn an_id_token_the_providers_keys_do_not_sign_is_refused_and_not_cached() {
    let (w, provider) = world(OIDC_LOGIN);
    provider.set_wrong_jwks(true);
    let run = w.run(&["--login", "browser"]);
    let opens = browser_opens(&w.s);
    run.without_prompt_urls(&opens)
        .assert_error(1, &format!("the ID token from {} is not valid", w.issuer));
    assert!(run.hint().contains("--oidc-issuer-url"), "{}", run.hint());
    assert_eq!(code_grants(&provider), 1);
    assert!(oidc_cache_entries(&w.s).is_empty());

    provider.set_wrong_jwks(false);
    let token = w.run(&["--login", "browser"]).token();
    assert_eq!(jwt_claims(&token)["email"], OIDC_EMAIL);
    assert_eq!(provider.logins(), 2);
}

/// Nobody to log in (no terminal, `interactive: false`, `--login never`, kubectl without a
/// terminal): each run fails at once with the hint, opens no browser and asks the provider
/// nothing.
#[test]
fn without_a_person_it_fails_at_once_without_asking_the_provider() {
    let (w, provider) = world(OIDC_LOGIN);
    let needed = format!("an OIDC login at {} is needed (no cached token)", w.issuer);
    for (case, run) in [
        ("no terminal", w.run(&[])),
        ("interactive false", w.run_with(Some(EXEC_INFO_V1), &[])),
        (
            "--login never",
            w.run_with(Some(EXEC_INFO_V1_INTERACTIVE), &["--login", "never"]),
        ),
    ] {
        run.assert_error(1, &needed);
        assert!(run.hint().contains("terminal"), "{case}: {}", run.hint());
        run.assert_within(Duration::from_secs(2));
    }
    let api = fake_eks_oidc(&w.s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let run = kubectl_get_pods(&w.s, "1.33", &w.kubeconfig(&api, OIDC_CLIENT_ID, &[]));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains(&needed), "{}", run.stderr);
    assert!(browser_opens(&w.s).is_empty());
    assert_eq!(provider.requests(), [], "the provider was asked");
}

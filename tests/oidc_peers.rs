//! The OIDC test peers against real clients, not ours: the OpenID Provider (npm
//! `oidc-provider`, `tests/peers/oidc/provider.mjs`) and the test browser driven by Authlib's
//! OAuth 2.0 client and PyJWT (`tests/peers/oidc_client_check.py`): discovery, the code flow
//! with PKCE, refresh with rotation, the device flow, revocation; and the fake EKS API
//! server's OIDC mode judged by kubectl 1.33 with the ID tokens they got. The OIDC tests trust
//! the peers as far as this shows.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{
    NO_PODS, OIDC_CLIENT_ID, OIDC_EMAIL, OIDC_GROUP, OIDC_LOGIN, OIDC_OTHER_CLIENT_ID,
    OIDC_OUTSIDER_EMAIL, OIDC_OUTSIDER_GROUP, OIDC_OUTSIDER_LOGIN, OidcProvider, Sandbox,
    fake_eks_oidc, free_port, jwt_claims, kubectl_get_pods, oidc_config, python, repo_file,
    run_command, test_browser, write_token_kubeconfig,
};

/// Runs `oidc_client_check.py` against `provider` with the loopback listener on `port`,
/// and returns what it printed.
fn client_check(sandbox: &Sandbox, provider: &OidcProvider, port: u16, checks: &str) -> Value {
    let script = repo_file("tests/peers/oidc_client_check.py");
    let (browser, port) = (test_browser().display().to_string(), port.to_string());
    let mut args = vec![
        script.to_str().unwrap(),
        "--issuer",
        &provider.issuer,
        "--client-id",
        OIDC_CLIENT_ID,
        "--other-client-id",
        OIDC_OTHER_CLIENT_ID,
        "--port",
        &port,
        "--browser",
        &browser,
        "--login",
        OIDC_LOGIN,
        "--outsider",
        OIDC_OUTSIDER_LOGIN,
        "--checks",
        checks,
    ];
    let ca = provider.ca.as_ref().map(|p| p.display().to_string());
    if let Some(ca) = &ca {
        args.extend(["--ca", ca]);
    }
    let run = run_command(sandbox.command_of(python(), &args));
    assert_eq!(run.code, 0, "oidc_client_check failed: {}", run.stderr);
    let result: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|_| panic!("no JSON on stdout: {:?}", run.stdout));
    assert_eq!(result["ok"], true);
    result
}

fn token<'a>(result: &'a Value, name: &str) -> &'a str {
    result[name].as_str().unwrap_or_else(|| panic!("no {name}"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn standard_clients_sign_in_refresh_and_use_the_device_flow() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let provider = OidcProvider::start(
        &sandbox,
        &oidc_config(&[format!("http://localhost:{port}")]),
    );
    let result = client_check(
        &sandbox,
        &provider,
        port,
        "discovery,code,refresh,device,revoke",
    );
    // Code flow: seven sign-ins and a Cancel; device flow: an approval and a denial.
    assert_eq!(result["browser_opens"], 10);
    let claims = &result["claims"];
    assert_eq!(claims["iss"], provider.issuer.as_str());
    assert_eq!(claims["aud"], OIDC_CLIENT_ID);
    assert_eq!(claims["sub"], OIDC_LOGIN);
    assert_eq!(claims["email"], OIDC_EMAIL);
    assert_eq!(
        claims["groups"],
        serde_json::json!([OIDC_GROUP, OIDC_OUTSIDER_GROUP])
    );

    // The request log tells each grant and error apart.
    let count = |op, grant, error| provider.count(op, grant, error);
    assert_eq!(provider.logins(), 8);
    assert_eq!(count("authorization", None, Some("invalid_request")), 2);
    assert_eq!(
        count("authorization", None, Some("invalid_redirect_uri")),
        1
    );
    assert_eq!(count("resume", None, Some("access_denied")), 1);
    assert_eq!(count("token", Some("authorization_code"), None), 6);
    assert_eq!(
        count("token", Some("authorization_code"), Some("invalid_grant")),
        2
    );
    assert_eq!(provider.refreshes(), 2);
    assert_eq!(
        count("token", Some("refresh_token"), Some("invalid_grant")),
        5
    );
    let device = Some("urn:ietf:params:oauth:grant-type:device_code");
    assert_eq!(count("device_authorization", None, None), 2);
    assert_eq!(count("token", device, None), 1);
    for error in ["authorization_pending", "invalid_grant", "access_denied"] {
        assert_eq!(count("token", device, Some(error)), 1, "{error}");
    }
    assert_eq!(count("revocation", None, None), 1);
    // The log file holds the same entries and no token or code the client saw.
    let text = std::fs::read_to_string(&provider.log).unwrap();
    assert_eq!(text.lines().count(), provider.requests().len());
    let secrets = result["secrets"].as_array().unwrap();
    assert!(secrets.len() > 20, "{}", secrets.len());
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str().unwrap()),
            "the log holds a token or code"
        );
    }

    // The fake EKS API server: alice's ID token lists pods, as herself with her groups.
    let api = fake_eks_oidc(&sandbox, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let get_pods = |token: &str| {
        let kubeconfig = write_token_kubeconfig(&sandbox, &api, token);
        kubectl_get_pods(&sandbox, "1.33", &kubeconfig)
    };
    let id_token = token(&result, "id_token");
    let run = get_pods(id_token);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.trim(), NO_PODS);
    assert!(api.requests_by(OIDC_EMAIL) > 0);
    for groups in api.groups_of(OIDC_EMAIL) {
        assert_eq!(groups, [OIDC_GROUP, OIDC_OUTSIDER_GROUP]);
    }

    // Another client's token, and alice's claims under another token's signature.
    let unauthorized = "You must be logged in to the server (Unauthorized)";
    let run = get_pods(token(&result, "other_client_id_token"));
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(unauthorized), "{}", run.stderr);
    let why = api.rejections();
    assert!(
        why.last().unwrap().contains("InvalidAudienceError"),
        "{why:?}"
    );
    let outsider = token(&result, "outsider_id_token");
    let forged = format!(
        "{}.{}",
        id_token.rsplit_once('.').unwrap().0,
        outsider.rsplit_once('.').unwrap().1
    );
    let run = get_pods(&forged);
    assert!(run.stderr.contains(unauthorized), "{}", run.stderr);
    let why = api.rejections();
    assert!(
        why.last().unwrap().contains("InvalidSignatureError"),
        "{why:?}"
    );

    // Bob is signed in but outside the allowed group: RBAC's answer.
    let run = get_pods(outsider);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "Error from server (Forbidden): pods is forbidden: User \"{OIDC_OUTSIDER_EMAIL}\" \
             cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        )),
        "{}",
        run.stderr
    );
    assert_eq!(api.requests_by(OIDC_OUTSIDER_EMAIL), 0);

    // An ID token past its `exp` (the provider made it live 2 s).
    let short = token(&result, "short_id_token");
    let exp = jwt_claims(short)["exp"].as_u64().unwrap();
    assert!(exp <= now() + 2, "exp {exp}");
    while now() <= exp {
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = get_pods(short);
    assert!(run.stderr.contains(unauthorized), "{}", run.stderr);
    let why = api.rejections();
    assert!(
        why.last().unwrap().contains("ExpiredSignatureError"),
        "{why:?}"
    );

    // With the provider gone, the keys the server fetched still check the token.
    provider.stop();
    let run = get_pods(id_token);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn over_https_the_provider_browser_and_cluster_trust_its_ca() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let provider = OidcProvider::start_tls(
        &sandbox,
        &oidc_config(&[format!("http://localhost:{port}")]),
    );
    assert!(provider.issuer.starts_with("https://127.0.0.1:"));
    let result = client_check(&sandbox, &provider, port, "discovery,device");
    assert_eq!(result["browser_opens"], 2);
    let api = fake_eks_oidc(&sandbox, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    let kubeconfig = write_token_kubeconfig(&sandbox, &api, token(&result, "device_id_token"));
    let run = kubectl_get_pods(&sandbox, "1.33", &kubeconfig);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(api.requests_by(OIDC_EMAIL) > 0);

    // Without the CA the browser refuses the certificate.
    let mut cmd = sandbox.command_of(test_browser(), &[&format!("{}/device", provider.issuer)]);
    cmd.env("EKS_TOKEN_TEST_BROWSER_LOGIN", OIDC_LOGIN);
    let run = run_command(cmd);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn the_test_browser_signs_in_with_email_and_password_and_gives_up_when_refused() {
    let sandbox = Sandbox::new();
    let port = free_port();
    let redirect = format!("http://localhost:{port}");
    let mut config = oidc_config(std::slice::from_ref(&redirect));
    config["accounts"][0]["password"] = "s3cret".into();
    let provider = OidcProvider::start(&sandbox, &config);
    let url = format!(
        "{}/auth?response_type=code&client_id={OIDC_CLIENT_ID}&scope=openid&state=s\
         &redirect_uri={redirect}&code_challenge={}&code_challenge_method=S256",
        provider.issuer,
        "a".repeat(43)
    );
    let open = |login: Option<&str>, password: Option<&str>| {
        let mut cmd = sandbox.command_of(test_browser(), &[&url]);
        if let Some(login) = login {
            cmd.env("EKS_TOKEN_TEST_BROWSER_LOGIN", login);
        }
        if let Some(password) = password {
            cmd.env("EKS_TOKEN_TEST_BROWSER_PASSWORD", password);
        }
        run_command(cmd)
    };
    // A wrong password, and no such account: the provider asks again, the browser stops.
    for login in [OIDC_LOGIN, "mallory"] {
        let refused = open(Some(login), None);
        assert_eq!(refused.code, 1, "{login}");
        assert!(
            refused.stderr.starts_with("test_browser: ")
                && refused.stderr.contains("already submitted"),
            "{login}: {}",
            refused.stderr
        );
        assert!(refused.stdout.is_empty());
    }
    let no_login = open(None, None);
    assert_eq!(no_login.code, 1);
    assert!(
        no_login.stderr.contains("no EKS_TOKEN_TEST_BROWSER_LOGIN"),
        "{}",
        no_login.stderr
    );
    // Her email and password: signed in, consent given, then the redirect to a loopback
    // port where nothing listens.
    let signed_in = open(Some(OIDC_EMAIL), Some("s3cret"));
    assert_eq!(signed_in.code, 1);
    assert!(
        signed_in.stderr.contains("Connection refused"),
        "{}",
        signed_in.stderr
    );
    assert!(signed_in.stdout.is_empty());

    let submits: Vec<_> = provider
        .requests()
        .into_iter()
        .filter(|r| r.op == "submit")
        .map(|r| (r.prompt.unwrap(), r.error))
        .collect();
    let refused = || ("login".to_owned(), Some("login_refused".to_owned()));
    assert_eq!(
        submits,
        [
            refused(),
            refused(),
            ("login".to_owned(), None),
            ("consent".to_owned(), None)
        ]
    );
    assert_eq!(provider.logins(), 4);
}

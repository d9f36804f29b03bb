//! Every credential source the AWS CLI users rely on, through the real binary; STS is
//! moto on 127.0.0.1, the SSO portal and container endpoint are `tests/peers/stub_server.py`.
//! Each token is checked by the independent verifier, with the access key the source issued.

mod support;

use serde_json::json;
use support::{
    AK, Process, SK, Sandbox, assert_assumed, utc_in, verify_token, write_json, write_sso_login,
};

const ACCOUNT: &str = "123456789012";

fn with_moto(moto: &Process) -> Sandbox {
    let mut s = Sandbox::new();
    s.endpoint(&moto.url()).env("AWS_REGION", "us-west-2");
    s
}

#[test]
fn static_profile_by_aws_profile_and_by_flag_over_env() {
    let mut s = Sandbox::new();
    s.write(
        ".aws/credentials",
        &format!("[dev]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"),
    );
    s.env("AWS_REGION", "us-west-2").env("AWS_PROFILE", "dev");
    let verdict = verify_token(&s.run(&["token", "-i", "c"]).token(), "c", SK);
    assert_eq!(verdict["access_key_id"], AK);

    // Like the AWS CLI: environment keys win over AWS_PROFILE, --profile wins over both.
    s.env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY01")
        .env("AWS_SECRET_ACCESS_KEY", "envsecret");
    let verdict = verify_token(&s.run(&["token", "-i", "c"]).token(), "c", "envsecret");
    assert_eq!(verdict["access_key_id"], "AKIAENVIRONMENTKEY01");
    let verdict = verify_token(
        &s.run(&["token", "-i", "c", "--profile", "dev"]).token(),
        "c",
        SK,
    );
    assert_eq!(verdict["access_key_id"], AK);
}

#[test]
fn no_credentials_fails_fast_even_with_an_unresponsive_imds() {
    let imds = Process::peer("tests/peers/stub_server.py", &["--hang"]);
    let mut s = Sandbox::new();
    s.env("AWS_EC2_METADATA_DISABLED", "false")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
    let run = s.run(&["token", "-i", "c"]);
    run.assert_error(1, "no AWS credentials found");
    assert!(
        run.stderr.contains("EC2 instance metadata (no answer)"),
        "{}",
        run.stderr
    );
    assert!(run.hint().contains("aws configure"), "{}", run.hint());
    assert!(run.elapsed.as_millis() < 900, "took {:?}", run.elapsed);
}

#[test]
fn role_arn_chain_in_profile_assumes_through_sts() {
    let moto = Process::moto();
    let s = with_moto(&moto);
    s.write(".aws/config", &format!(
        "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile dev]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/dev-admin\nsource_profile = base\nrole_session_name = alice\n"));
    let token = s.run(&["token", "-i", "c", "--profile", "dev"]).token();
    let session = assert_assumed(&moto, &token, "c", "dev-admin");
    assert!(
        session["arn"].as_str().unwrap().ends_with("/alice"),
        "{session}"
    );
}

#[test]
fn role_arn_flag_with_session_name_and_external_id() {
    let moto = Process::moto();
    let mut s = with_moto(&moto);
    s.env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/eks-viewer");
    let token = s
        .run(&[
            "token",
            "-i",
            "c",
            "--role-arn",
            &role,
            "-s",
            "bob",
            "-e",
            "ext-1",
        ])
        .token();
    let session = assert_assumed(&moto, &token, "c", "eks-viewer");
    assert!(
        session["arn"].as_str().unwrap().ends_with("/bob"),
        "{session}"
    );
    // Without a session name: the AWS CLI's.
    let token = s
        .run(&[
            "--region",
            "us-west-2",
            "eks",
            "get-token",
            "--cluster-name",
            "c",
            "--role",
            &role,
        ])
        .token();
    let session = assert_assumed(&moto, &token, "c", "eks-viewer");
    assert!(
        session["arn"]
            .as_str()
            .unwrap()
            .ends_with("/EKSGetTokenAuth"),
        "{session}"
    );
}

#[test]
fn forward_session_name_takes_the_base_sessions_name() {
    let moto = Process::moto();
    let s = with_moto(&moto);
    s.write(".aws/config", &format!(
        "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile sso-like]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/first\nsource_profile = base\nrole_session_name = carol@example.com\n"));
    let role = format!("arn:aws:iam::{ACCOUNT}:role/second");
    let token = s
        .run(&[
            "token",
            "-i",
            "c",
            "--profile",
            "sso-like",
            "-r",
            &role,
            "--forward-session-name",
        ])
        .token();
    let session = assert_assumed(&moto, &token, "c", "second");
    assert!(
        session["arn"]
            .as_str()
            .unwrap()
            .ends_with("/carol@example.com"),
        "{session}"
    );
}

#[test]
fn web_identity_from_environment_and_from_profile() {
    let moto = Process::moto();
    let mut s = with_moto(&moto);
    let jwt = s.write("token.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2ln");
    s.env("AWS_WEB_IDENTITY_TOKEN_FILE", jwt.to_str().unwrap())
        .env(
            "AWS_ROLE_ARN",
            format!("arn:aws:iam::{ACCOUNT}:role/ci-deployer"),
        )
        .env("AWS_ROLE_SESSION_NAME", "pipeline-42");
    let token = s.run(&["token", "-i", "c"]).token();
    assert_assumed(&moto, &token, "c", "ci-deployer");

    let mut s = with_moto(&moto);
    let jwt = s.write("okteto.jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkZXYifQ.c2ln");
    s.write(".aws/config", &format!(
        "[profile okteto]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/okteto-dev\nweb_identity_token_file = {}\n", jwt.display()));
    s.env("AWS_PROFILE", "okteto");
    let token = s.run(&["token", "-i", "c"]).token();
    assert_assumed(&moto, &token, "c", "okteto-dev");
}

#[test]
fn credential_process_profile() {
    let s = {
        let mut s = Sandbox::new();
        s.env("AWS_REGION", "eu-west-1");
        s
    };
    let script = support::repo_file("fixtures/credential_process.py");
    let python = support::python();
    s.write(".aws/config", &format!(
        "[profile proc]\ncredential_process = {} {} --access-key-id ASIAPROCESSKEY000001 --secret procSecret/x+y --session-token proc+token/=\n",
        python.display(), script.display()));
    let run = s.run(&["token", "-i", "c", "--profile", "proc"]);
    let verdict = verify_token(&run.token(), "c", "procSecret/x+y");
    assert_eq!(verdict["access_key_id"], "ASIAPROCESSKEY000001");
    assert_eq!(verdict["session_token"], "proc+token/=");
}

#[test]
fn a_credential_process_can_prompt_on_the_terminal() {
    let s = {
        let mut s = Sandbox::new();
        s.env("AWS_REGION", "eu-west-1");
        s
    };
    // An MFA prompt as aws-vault and other helpers make it: on /dev/tty, since stdin is
    // not the helper's and stdout is for the credentials.
    s.write(".aws/config", &format!(
        "[profile mfa]\ncredential_process = printf 'MFA code: ' >/dev/tty; read code </dev/tty; test $code = 123456 && {} {} --access-key-id ASIAPROMPTEDKEY00001 --secret promptedSecret/x+y\n",
        support::python().display(),
        support::repo_file("fixtures/credential_process.py").display()));
    let run = support::run_in_terminal(support::answering_terminal_command(
        &s,
        support::BIN,
        &["token", "-i", "c", "--profile", "mfa", "--timeout", "5"],
        support::Stdout::Pipe,
        &[("MFA code: ", "123456")],
    ));
    // Stopped (SIGTTIN) until the deadline if the helper is not in the terminal's
    // foreground process group.
    let verdict = verify_token(&run.token(), "c", "promptedSecret/x+y");
    assert_eq!(verdict["access_key_id"], "ASIAPROMPTEDKEY00001");
    assert!(run.stderr.contains("MFA code: 123456"), "{:?}", run.stderr);
    run.assert_within(std::time::Duration::from_secs(5));
}

fn sso_stub(s: &Sandbox) -> Process {
    let config = json!({"sso": {"access_token": "ssoAccessTokenSentinel",
        "roles": [{"account_id": ACCOUNT, "role_name": "AdministratorAccess",
                   "access_key_id": "ASIASSOPORTALKEY0001", "secret_access_key": "ssoSecret/1",
                   "session_token": "sso+session/token="}]}});
    let path = write_json(s, "stub.json", &config);
    Process::peer(
        "tests/peers/stub_server.py",
        &["--config", path.to_str().unwrap()],
    )
}

fn sso_cache(s: &Sandbox, key: &str, start_url: &str, expires_in_minutes: i64) {
    let expires = utc_in(chrono::TimeDelta::minutes(expires_in_minutes));
    write_sso_login(
        s,
        key,
        &json!({
        "startUrl": start_url, "region": "eu-west-1", "accessToken": "ssoAccessTokenSentinel", "expiresAt": expires}),
    );
}

#[test]
fn sso_legacy_profile_and_expired_login() {
    let mut s = Sandbox::new();
    let stub = sso_stub(&s);
    s.env("AWS_ENDPOINT_URL_SSO", stub.url())
        .env("AWS_REGION", "eu-west-1");
    let start = "https://example.awsapps.com/start";
    s.write(".aws/config", &format!(
        "[profile dev]\nsso_start_url = {start}\nsso_region = eu-west-1\nsso_account_id = {ACCOUNT}\nsso_role_name = AdministratorAccess\n"));
    sso_cache(&s, start, start, 60);
    let run = s.run(&["token", "-i", "c", "--profile", "dev"]);
    let verdict = verify_token(&run.token(), "c", "ssoSecret/1");
    assert_eq!(verdict["access_key_id"], "ASIASSOPORTALKEY0001");

    sso_cache(&s, start, start, -5);
    // The token minted before the login lapsed is still good and still cached…
    assert_eq!(
        s.run(&["token", "-i", "c", "--profile", "dev"]).token(),
        run.token()
    );
    // …but a new one needs a new login.
    let run = s.run(&["token", "-i", "c", "--profile", "dev", "--no-cache"]);
    run.assert_error(1, "SSO login for profile dev");
    assert_eq!(
        run.hint(),
        "run `eks-token login --profile dev`; there is no terminal to log in from; --login browser logs in without one"
    );
    assert!(!run.stderr.contains("ssoAccessTokenSentinel"));
}

/// (Without a cached login: `bad_input.rs`, `sso_logins_missing_expired_and_unrefreshable`.)
#[test]
fn sso_session_profile() {
    let mut s = Sandbox::new();
    let stub = sso_stub(&s);
    s.env("AWS_ENDPOINT_URL_SSO", stub.url())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", stub.url());
    let start = "https://example.awsapps.com/start";
    s.write(".aws/config", &format!(
        "[profile admin]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = AdministratorAccess\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = {start}\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n"));
    sso_cache(&s, "corp", start, 60);
    let run = s.run(&["token", "-i", "c", "--profile", "admin"]);
    let verdict = verify_token(&run.token(), "c", "ssoSecret/1");
    assert_eq!(verdict["access_key_id"], "ASIASSOPORTALKEY0001");
    assert_eq!(verdict["host"], "sts.eu-west-1.amazonaws.com");
}

#[test]
fn container_credentials_as_aws_vault_ecs_server_sets_them() {
    let mut s = Sandbox::new();
    let expiry = utc_in(chrono::TimeDelta::minutes(7));
    let config = json!({"container": {"authorization": "Bearer vaultAuthSentinel",
        "access_key_id": "ASIACONTAINERKEY0001", "secret_access_key": "containerSecret/2",
        "token": "container+token/=", "expiration": expiry}});
    let path = write_json(&s, "stub.json", &config);
    let stub = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", path.to_str().unwrap()],
    );
    s.container_endpoint(&stub.url(), "Bearer vaultAuthSentinel")
        .env("AWS_REGION", "us-east-2");
    let run = s.run(&["token", "-i", "c"]);
    // The token must not outlive the credentials.
    assert_eq!(
        run.credential()["status"]["expirationTimestamp"],
        expiry.as_str()
    );
    let verdict = verify_token(&run.token(), "c", "containerSecret/2");
    assert_eq!(verdict["access_key_id"], "ASIACONTAINERKEY0001");
}

/// The release link mode is static on Linux: name resolution must still work, so this
/// reaches STS by the name `localhost`, from the binary built the way install.sh builds it.
#[test]
fn endpoints_are_reached_by_host_name_from_the_installed_link_mode() {
    if std::env::var_os("EKS_TOKEN_EXPECT_STATIC").is_some() {
        assert!(
            support::is_static_elf(std::path::Path::new(support::BIN)),
            "{} is not statically linked",
            support::BIN
        );
    }
    let moto = Process::moto();
    let mut s = Sandbox::new();
    s.env(
        "AWS_ENDPOINT_URL",
        format!("http://localhost:{}", moto.port),
    )
    .env("AWS_REGION", "us-west-2")
    .env("AWS_ACCESS_KEY_ID", AK)
    .env("AWS_SECRET_ACCESS_KEY", SK);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/by-name");
    let token = s.run(&["token", "-i", "c", "-r", &role]).token();
    assert_assumed(&moto, &token, "c", "by-name");
}

#[test]
fn credential_source_environment_in_a_role_profile() {
    let moto = Process::moto();
    let mut s = with_moto(&moto);
    s.env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK);
    s.write(".aws/config", &format!(
        "[profile ci]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/from-env\ncredential_source = Environment\n"));
    let token = s.run(&["token", "-i", "c", "--profile", "ci"]).token();
    assert_assumed(&moto, &token, "c", "from-env");
}

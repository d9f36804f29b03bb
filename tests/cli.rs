//! The binary as kubectl runs it: flags of both peers, the exec protocol, errors.

mod support;

use support::{
    AK, EXEC_INFO_V1, EXEC_INFO_V1BETA1, SK, Sandbox, check_token, env_creds, utc_in, verify_token,
};

fn url_of(token: &str) -> String {
    eks_token::token::decode(token).expect("token decodes")
}

#[test]
fn env_credentials_give_a_verified_token_for_the_cluster() {
    let run = env_creds().run(&["token", "--cluster-id", "prod"]);
    let cred = run.credential();
    assert_eq!(cred["kind"], "ExecCredential");
    assert_eq!(cred["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(cred["spec"]["interactive"], false);
    let verdict = verify_token(&run.token(), "prod", SK);
    assert_eq!(verdict["access_key_id"], AK);
    assert_eq!(verdict["host"], "sts.eu-west-1.amazonaws.com");
    let expires = chrono::DateTime::parse_from_rfc3339(
        cred["status"]["expirationTimestamp"].as_str().unwrap(),
    )
    .unwrap();
    let left = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((13 * 60..=14 * 60).contains(&left), "{left}s left");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn api_version_and_interactive_are_echoed() {
    let mut s = env_creds();
    s.env("KUBERNETES_EXEC_INFO", EXEC_INFO_V1);
    assert_eq!(
        s.run(&["token", "-i", "c"]).credential()["apiVersion"],
        "client.authentication.k8s.io/v1"
    );
    s.env("KUBERNETES_EXEC_INFO", EXEC_INFO_V1BETA1);
    assert_eq!(
        s.run(&["token", "-i", "c"]).credential()["apiVersion"],
        "client.authentication.k8s.io/v1beta1"
    );
    s.env(
        "KUBERNETES_EXEC_INFO",
        r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#,
    );
    assert_eq!(
        s.run(&["token", "-i", "c"]).credential()["spec"]["interactive"],
        true
    );
}

#[test]
fn aws_cli_arguments_exactly_as_update_kubeconfig_writes_them() {
    let s = env_creds();
    let run = s.run(&[
        "--region",
        "us-west-2",
        "eks",
        "get-token",
        "--cluster-name",
        "prod",
        "--output",
        "json",
    ]);
    let verdict = verify_token(&run.token(), "prod", SK);
    assert_eq!(verdict["host"], "sts.us-west-2.amazonaws.com");
    let outposts = "8f4e2a5c-1b6d-4c3e-9a7f-0123456789ab";
    let run = s.run(&[
        "--region",
        "us-west-2",
        "eks",
        "get-token",
        "--cluster-id",
        outposts,
        "--output",
        "json",
    ]);
    verify_token(&run.token(), outposts, SK);
}

#[test]
fn aws_iam_authenticator_arguments_and_env_cluster_id() {
    let mut s = env_creds();
    let run = s.run(&["token", "-i", "dev.cluster_1", "--cache"]);
    verify_token(&run.token(), "dev.cluster_1", SK);
    s.env("KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID", "from-env");
    verify_token(&s.run(&["token"]).token(), "from-env", SK);
}

#[test]
fn token_only_prints_just_the_token() {
    let run = env_creds().run(&["token", "-i", "c", "--token-only"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("k8s-aws-v1.") && run.stdout.ends_with('\n'));
    verify_token(run.stdout.trim_end(), "c", SK);
}

#[test]
fn a_token_for_one_cluster_is_rejected_for_another() {
    let token = env_creds().run(&["token", "-i", "alpha"]).token();
    verify_token(&token, "alpha", SK);
    let why = check_token(&token, "beta", SK).expect_err("accepted for another cluster");
    assert!(
        why.starts_with("signature mismatch: not signed for cluster 'beta'"),
        "{why}"
    );
}

#[test]
fn session_token_and_aws_vault_expiry_are_honoured() {
    let mut s = env_creds();
    let expiry = utc_in(chrono::TimeDelta::minutes(5));
    s.env("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE+session/token==")
        .env("AWS_SESSION_EXPIRATION", expiry.clone());
    let run = s.run(&["token", "-i", "c"]);
    assert_eq!(
        run.credential()["status"]["expirationTimestamp"],
        expiry.as_str()
    );
    let verdict = verify_token(&run.token(), "c", SK);
    assert_eq!(verdict["session_token"], "FwoGZXIvYXdzE+session/token==");
    s.env("AWS_SESSION_EXPIRATION", "2001-01-01T00:00:00Z");
    s.run(&["token", "-i", "c"]).assert_error(1, "expired");
    s.env("AWS_SESSION_EXPIRATION", "next tuesday");
    s.run(&["token", "-i", "c"])
        .assert_error(1, "AWS_SESSION_EXPIRATION");
}

#[test]
fn region_precedence_flag_env_profile_then_fallback_with_a_note() {
    let mut s = Sandbox::new();
    s.write(
        ".aws/credentials",
        &format!("[default]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"),
    );
    let host = |run: support::Run| {
        verify_token(&run.token(), "c", SK)["host"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let run = s.run(&["token", "-i", "c"]);
    assert!(
        run.stderr
            .contains("eks-token: note: no region configured; signing for us-east-1"),
        "{}",
        run.stderr
    );
    assert_eq!(host(run), "sts.us-east-1.amazonaws.com");
    s.write(".aws/config", "[default]\nregion = ap-southeast-2\n");
    assert_eq!(
        host(s.run(&["token", "-i", "c"])),
        "sts.ap-southeast-2.amazonaws.com"
    );
    s.env("AWS_DEFAULT_REGION", "eu-central-1");
    assert_eq!(
        host(s.run(&["token", "-i", "c"])),
        "sts.eu-central-1.amazonaws.com"
    );
    s.env("AWS_REGION", "ca-central-1");
    assert_eq!(
        host(s.run(&["token", "-i", "c"])),
        "sts.ca-central-1.amazonaws.com"
    );
    assert_eq!(
        host(s.run(&["token", "-i", "c", "--region", "sa-east-1"])),
        "sts.sa-east-1.amazonaws.com"
    );
}

#[test]
fn fips_dual_stack_and_partitions_choose_the_sts_host() {
    let mut s = env_creds();
    let host = |s: &Sandbox, region: &str| {
        let run = s.run(&["token", "-i", "c", "--region", region]);
        verify_token(&run.token(), "c", SK)["host"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(host(&s, "cn-north-1"), "sts.cn-north-1.amazonaws.com.cn");
    assert_eq!(host(&s, "us-gov-west-1"), "sts.us-gov-west-1.amazonaws.com");
    s.env("AWS_USE_FIPS_ENDPOINT", "true");
    assert_eq!(host(&s, "us-east-1"), "sts-fips.us-east-1.amazonaws.com");
    s.env("AWS_USE_DUALSTACK_ENDPOINT", "true");
    assert_eq!(host(&s, "us-east-1"), "sts-fips.us-east-1.api.aws");
    s.env("AWS_USE_FIPS_ENDPOINT", "false");
    assert_eq!(host(&s, "us-east-1"), "sts.us-east-1.api.aws");
}

#[test]
fn endpoint_overrides_never_reach_the_token() {
    let mut s = env_creds();
    s.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9");
    let url = url_of(&s.run(&["token", "-i", "c"]).token());
    assert!(
        url.starts_with("https://sts.eu-west-1.amazonaws.com/?"),
        "{url}"
    );
}

#[test]
fn help_and_version_go_to_stdout() {
    let s = Sandbox::new();
    let run = s.run(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("eks-token "));
    let run = s.run(&["token", "--help"]);
    assert_eq!(run.code, 0);
    for flag in [
        "--cluster-id",
        "--cluster-name",
        "--role-arn",
        "--profile",
        "--region",
        "--token-only",
    ] {
        assert!(run.stdout.contains(flag), "{flag} missing from help");
    }
}

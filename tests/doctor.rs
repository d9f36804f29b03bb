//! `eks-token doctor`: a healthy setup, an expired SSO login, a missing profile, a v1 exec
//! block without `interactiveMode`, a slow peer whose command is missing — each problem
//! with its fix, exit 1 exactly when something is broken; a kubeconfig it only inspects,
//! whose exec `env` it does not act on; and OIDC users (`eks-token oidc`, kubelogin) after a
//! real login to the OpenID Provider: its discovery (with the user's CA flags), the cached
//! login and its claims — never a token — and what stops a login.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{
    BIN, OIDC_CLIENT_ID, OIDC_EMAIL, OIDC_GROUP, OIDC_LOGIN, OIDC_OUTSIDER_GROUP, OidcProvider,
    Process, Run, Sandbox, closed_port, free_port, http_get, kubectl, moto_cluster, moto_iam_user,
    oidc_config, path_with_eks_token, read_json, repo_file, run_command, use_oidc_browser,
    write_json, write_sso_login,
};

const REGION: &str = "eu-west-1";

/// Creates IAM user alice in moto and puts her keys in the sandbox's environment.
fn alice(moto: &Process) -> Sandbox {
    let (ak, sk) = moto_iam_user(moto, "alice", "/");
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        .env("AWS_ACCESS_KEY_ID", ak)
        .env("AWS_SECRET_ACCESS_KEY", sk)
        .env("AWS_REGION", REGION)
        .env("PATH", path_with_eks_token());
    s
}

/// The report's `label  value` line (first row of it).
fn line<'a>(run: &'a Run, label: &str) -> &'a str {
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(label).filter(|rest| rest.starts_with(' ')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} line in:\n{}", run.stdout))
}

/// The rows after a label's first one.
fn continuation<'a>(run: &'a Run, label: &str) -> Vec<&'a str> {
    run.stdout
        .lines()
        .skip_while(|l| !l.starts_with(label))
        .skip(1)
        .take_while(|l| l.starts_with("             "))
        .map(str::trim)
        .collect()
}

/// `problem: …` lines, each with its `fix:`.
fn problems(run: &Run) -> Vec<(String, Option<String>)> {
    findings(run, "problem: ")
}

fn warnings(run: &Run) -> Vec<(String, Option<String>)> {
    findings(run, "warning: ")
}

fn findings(run: &Run, prefix: &str) -> Vec<(String, Option<String>)> {
    let lines: Vec<&str> = run.stdout.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let what = l.strip_prefix(prefix)?;
            let fix = lines
                .get(i + 1)
                .and_then(|n| n.strip_prefix("  fix: "))
                .map(str::to_owned);
            Some((what.to_owned(), fix))
        })
        .collect()
}

fn assert_broken(run: &Run, count: usize) {
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(problems(run).len(), count, "{}", run.stdout);
    let noun = if count == 1 { "problem" } else { "problems" };
    assert_eq!(
        run.stderr,
        format!(
            "eks-token: error: doctor found {count} {noun}\nhint: fix each problem as shown above, then run `eks-token doctor` again\n"
        )
    );
    assert!(!run.stdout.contains("ok: nothing is broken"));
}

#[test]
fn a_healthy_setup_from_the_kubeconfig_eks_token_wrote() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "prod");
    let s = alice(&moto);
    let written = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(written.code, 0, "{}", written.stderr);

    let run = s.run(&["doctor"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    assert_eq!(
        line(&run, "kubeconfig"),
        s.path(".kube/config").display().to_string()
    );
    assert_eq!(line(&run, "context"), format!("{arn} (current-context)"));
    assert_eq!(line(&run, "user"), arn);
    assert_eq!(
        line(&run, "exec"),
        "eks-token token --cluster-id prod --region eu-west-1"
    );
    assert_eq!(
        continuation(&run, "exec"),
        ["apiVersion client.authentication.k8s.io/v1, interactiveMode IfAvailable"]
    );
    let bin = std::fs::canonicalize(BIN).unwrap();
    let shown = line(&run, "command");
    let found = shown.strip_prefix("eks-token → ").expect(shown);
    assert_eq!(std::fs::canonicalize(found).unwrap(), bin);
    assert_eq!(line(&run, "cluster id"), "prod");
    assert_eq!(line(&run, "region"), "eu-west-1 (--region)");
    assert_eq!(
        line(&run, "sts host"),
        "sts.eu-west-1.amazonaws.com (in the token)"
    );
    assert!(
        line(&run, "sts api").starts_with(&moto.url()),
        "{}",
        run.stdout
    );
    assert_eq!(
        line(&run, "credentials"),
        "environment variables (AWS_ACCESS_KEY_ID is set)"
    );
    assert_eq!(
        line(&run, "identity"),
        "arn:aws:iam::123456789012:user/alice"
    );
    assert_eq!(
        line(&run, "maps as"),
        "arn:aws:iam::123456789012:user/alice (user)"
    );
    let cache = s.path(".kube/cache/eks-token");
    assert_eq!(
        line(&run, "cache"),
        format!(
            "no token with 5+ minutes left in {}; the next kubectl run mints one",
            cache.display()
        )
    );
    assert!(problems(&run).is_empty() && warnings(&run).is_empty());
    // After a token run with the exec block's arguments, doctor finds the same entry.
    s.run(&["token", "--cluster-id", "prod", "--region", "eu-west-1"])
        .token();
    let run = s.run(&["doctor"]);
    let cached = line(&run, "cache");
    assert!(
        cached.starts_with("a token valid until ") && cached.contains("(13m left)"),
        "{cached}"
    );
    assert!(
        cached.ends_with(&format!(" in {}", cache.display())),
        "{cached}"
    );
    assert!(
        run.stdout.ends_with("\nok: nothing is broken\n"),
        "{}",
        run.stdout
    );

    // With credential flags instead of a context: no kubeconfig user is looked at.
    let run = s.run(&["doctor", "--cluster-id", "prod"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("\nexec "), "{}", run.stdout);
    assert_eq!(line(&run, "region"), "eu-west-1 (AWS_REGION)");
}

#[test]
fn an_expired_sso_login_is_reported_with_the_login_command() {
    let mut s = Sandbox::new();
    // Nothing must be called: an expired login without a refresh token fails offline.
    s.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    s.write(
        ".aws/config",
        "[profile prod-admin]\nsso_session = corp\nsso_account_id = 123456789012\n\
         sso_role_name = AdministratorAccess\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
    );
    write_sso_login(
        &s,
        "corp",
        &json!({"accessToken": "ssoTokenSentinel", "expiresAt": "2024-01-02T03:04:05Z",
            "region": "eu-west-1", "startUrl": "https://corp.awsapps.com/start"}),
    );
    let run = s.run(&["doctor", "--profile", "prod-admin"]);
    assert_broken(&run, 1);
    assert_eq!(line(&run, "sso login"), "expired at 2024-01-02 03:04:05Z");
    assert_eq!(
        continuation(&run, "sso login"),
        [
            "sso-session corp; no refresh token: a browser login when it expires",
            "not renewed by itself: there is no terminal to log in from; --login browser logs in without one",
            "log in with `eks-token login --profile prod-admin`"
        ]
    );
    assert_eq!(line(&run, "region"), "eu-west-1 (profile prod-admin)");
    assert_eq!(
        line(&run, "credentials"),
        "none usable (see the problems below)"
    );
    let (what, fix) = &problems(&run)[0];
    assert!(
        what.starts_with("the SSO login for profile prod-admin is missing or expired"),
        "{what}"
    );
    assert_eq!(
        fix.as_deref(),
        Some(
            "run `eks-token login --profile prod-admin`; there is no terminal to log in from; --login browser logs in without one"
        )
    );
    assert!(!run.stdout.contains("ssoTokenSentinel"));

    // Logged in again: healthy as far as the login goes.
    write_sso_login(
        &s,
        "corp",
        &json!({"accessToken": "ssoTokenSentinel", "expiresAt": "2999-01-02T03:04:05Z",
            "region": "eu-west-1", "startUrl": "https://corp.awsapps.com/start"}),
    );
    let run = s.run(&["doctor", "--profile", "prod-admin"]);
    assert!(
        line(&run, "sso login").starts_with("valid until 2999-01-02 03:04:05Z"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_profile_from_the_flag_or_the_exec_env() {
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token());
    s.write(
        ".aws/credentials",
        "[dev]\naws_access_key_id = AKIADOCTORDEV0000001\naws_secret_access_key = x\n",
    );
    let run = s.run(&["doctor", "--profile", "prdo"]);
    assert_broken(&run, 1);
    assert_eq!(
        problems(&run)[0],
        (
            "profile \"prdo\" not found in the AWS config files".to_owned(),
            Some("profiles that exist: dev".to_owned())
        )
    );

    // What kubectl's plugin sees: AWS_PROFILE from the exec block's env.
    s.write(
        ".kube/config",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
         command: eks-token\n      args: [token, -i, c, --region, eu-west-1]\n      env:\n      - {name: AWS_PROFILE, value: prdo}\n\
         contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    );
    let run = s.run(&["doctor", "--context", "c"]);
    assert_broken(&run, 1);
    assert_eq!(
        continuation(&run, "exec"),
        [
            "apiVersion client.authentication.k8s.io/v1beta1",
            "env AWS_PROFILE=prdo"
        ]
    );
    assert_eq!(
        problems(&run)[0],
        (
            "profile \"prdo\" not found in the AWS config files".to_owned(),
            Some("profiles that exist: dev".to_owned())
        )
    );

    let run = s.run(&["doctor", "--context", "nope"]);
    run.assert_error(1, "context \"nope\" not found");
    assert_eq!(run.hint(), "contexts: c");
}

#[test]
fn a_v1_exec_block_without_interactive_mode() {
    let moto = Process::moto();
    let s = alice(&moto);
    let config = s.write(
        ".kube/config",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      \
         command: eks-token\n      args: [token, --cluster-id, c]\n\
         contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    );
    let run = s.run(&["doctor"]);
    assert_broken(&run, 1);
    assert_eq!(
        problems(&run)[0],
        (
            "user u: exec apiVersion client.authentication.k8s.io/v1 without interactiveMode; kubectl refuses to run the plugin".to_owned(),
            Some("add `interactiveMode: IfAvailable` to the exec block of user u".to_owned())
        )
    );
    // The rest is healthy, and says so.
    assert_eq!(
        line(&run, "identity"),
        "arn:aws:iam::123456789012:user/alice"
    );
    // kubectl agrees that this block is broken.
    let out = s
        .command_of(kubectl("1.33"), &["get", "pods"])
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interactiveMode must be specified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The fix works.
    let fixed = std::fs::read_to_string(&config).unwrap().replace(
        "args: [token, --cluster-id, c]",
        "args: [token, --cluster-id, c]\n      interactiveMode: IfAvailable",
    );
    std::fs::write(&config, fixed).unwrap();
    let run = s.run(&["doctor"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_slow_peer_whose_command_is_missing() {
    let moto = Process::moto();
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        // Only eks-token's own directory: no `aws` to be found.
        .env(
            "PATH",
            Path::new(BIN).parent().unwrap().display().to_string(),
        );
    s.write(
        ".aws/credentials",
        "[dev]\naws_access_key_id = AKIADOCTORPEER000001\naws_secret_access_key = x\n",
    );
    let config = repo_file("fixtures/kubeconfigs/aws-cli-profile.yaml");
    let run = s.run(&["doctor", "--kubeconfig", config.to_str().unwrap()]);
    assert_broken(&run, 1);
    let arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    assert_eq!(
        line(&run, "exec"),
        "aws --region eu-west-1 eks get-token --cluster-name prod --output json"
    );
    assert_eq!(
        continuation(&run, "exec"),
        [
            "apiVersion client.authentication.k8s.io/v1beta1",
            "env AWS_PROFILE=dev"
        ]
    );
    assert_eq!(
        problems(&run),
        [(
            format!("user {arn}: command \"aws\" is not on PATH"),
            Some(
                "install aws, or run `eks-token kubeconfig migrate` to use eks-token instead"
                    .to_owned()
            )
        )]
    );
    assert_eq!(
        warnings(&run),
        [(
            format!(
                "user {arn} runs the AWS CLI: Python starts on every kubectl call (~0.7 s each)"
            ),
            Some(
                "`eks-token kubeconfig migrate` (same cluster, role, region and profile)"
                    .to_owned()
            )
        )]
    );
    // The exec env's AWS_PROFILE is what the plugin sees.
    assert_eq!(
        line(&run, "credentials"),
        "profile dev (from AWS_PROFILE): static access keys"
    );
    assert_eq!(line(&run, "region"), "eu-west-1 (--region)");
}

/// Writes a kubeconfig whose one user runs eks-token with this exec `env`.
fn kubeconfig_with_env(s: &Sandbox, relative: &str, env: &[(&str, &str)]) -> PathBuf {
    let env: String = env
        .iter()
        .map(|(name, value)| format!("      - {{name: {name}, value: '{value}'}}\n"))
        .collect();
    s.write(
        relative,
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:9'}}\n\
             users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
             command: eks-token\n      args: [token, -i, c, --region, eu-west-1]\n      env:\n{env}\
             contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
        ),
    )
}

/// An STS that answers every call and counts them.
fn counting_sts() -> Process {
    Process::faults(&json!([{"sts": {"access_key_id": "ASIADOCTORISSUED0001",
        "secret_access_key": "doctorIssuedSecret", "session_token": "doctor+token"}}]))
}

fn untrusted_warning(config: &Path, names: &str) -> (String, Option<String>) {
    (
        format!(
            "credentials and whoami not checked: the exec env of user u sets {names}, which doctor follows only in your own kubeconfig or one you trust"
        ),
        Some(format!(
            "if you trust that kubeconfig: `eks-token doctor --kubeconfig {} --trust-kubeconfig`",
            config.display()
        )),
    )
}

#[test]
fn a_kubeconfig_only_inspected_cannot_run_a_planted_credential_process_or_call_its_endpoint() {
    let sts = counting_sts();
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token());
    let marker = s.path("planted-helper-ran");
    let planted = s.write(
        "downloads/aws-config",
        &format!(
            "[default]\ncredential_process = touch {}; {} {} --access-key-id AKIAPLANTEDKEY000001 --secret plantedSecret\n",
            marker.display(),
            support::python().display(),
            repo_file("fixtures/credential_process.py").display()
        ),
    );
    let planted = planted.display().to_string();
    let env = [
        ("AWS_CONFIG_FILE", planted.as_str()),
        ("AWS_ENDPOINT_URL_STS", &sts.url()),
    ];
    let config = kubeconfig_with_env(&s, "downloads/cluster.yaml", &env);
    let config_arg = config.to_str().unwrap();
    let risks = [
        (
            format!(
                "user u: exec env AWS_CONFIG_FILE={planted} reads the AWS config from that file; a credential_process there runs as you (profiles with a credential_process there: default)"
            ),
            Some(format!(
                "remove AWS_CONFIG_FILE from the exec env of user u unless {planted} is yours"
            )),
        ),
        (
            format!(
                "user u: exec env AWS_ENDPOINT_URL_STS={} sends STS API calls there instead of to AWS, signed with your credentials",
                sts.url()
            ),
            Some(format!(
                "remove AWS_ENDPOINT_URL_STS from the exec env of user u unless {} is yours",
                sts.url()
            )),
        ),
    ];

    let run = s.run(&["doctor", "--kubeconfig", config_arg]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!marker.exists(), "the planted credential_process ran");
    assert_eq!(sts.requests(), 0, "a request reached the planted endpoint");
    assert_eq!(
        continuation(&run, "exec"),
        [
            "apiVersion client.authentication.k8s.io/v1beta1".to_owned(),
            format!("env AWS_CONFIG_FILE={planted}"),
            format!("env AWS_ENDPOINT_URL_STS={}", sts.url()),
        ]
    );
    let mut expected = risks.to_vec();
    expected.push(untrusted_warning(
        &config,
        "AWS_CONFIG_FILE, AWS_ENDPOINT_URL_STS",
    ));
    assert_eq!(warnings(&run), expected);
    assert_eq!(line(&run, "credentials"), "not resolved (see the warnings)");
    assert!(!run.stdout.contains("\nidentity "), "{}", run.stdout);

    // Trusted on the command line: doctor does what kubectl's plugin would.
    let run = s.run(&["doctor", "--kubeconfig", config_arg, "--trust-kubeconfig"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(marker.exists(), "the credential_process did not run");
    assert!(sts.requests() > 0);
    assert_eq!(
        line(&run, "identity"),
        "arn:aws:sts::123456789012:assumed-role/base/fault-session"
    );
    assert_eq!(warnings(&run), risks);

    // The user's own kubeconfig, as kubectl loads it without --kubeconfig, is trusted.
    let own = s.write(".kube/config", &std::fs::read_to_string(&config).unwrap());
    let own_arg = own.to_str().unwrap();
    for (args, kubeconfig_env) in [
        (&["doctor"][..], None),
        (&["doctor", "--kubeconfig", own_arg][..], None),
        (&["doctor"][..], Some(config_arg)),
        (
            &["doctor", "--kubeconfig", config_arg][..],
            Some(config_arg),
        ),
    ] {
        std::fs::remove_file(&marker).unwrap();
        let before = sts.requests();
        let mut cmd = s.command(args);
        if let Some(k) = kubeconfig_env {
            cmd.env("KUBECONFIG", k);
        }
        let run = support::run_command(cmd);
        assert_eq!(run.code, 0, "{args:?}: {}\n{}", run.stdout, run.stderr);
        assert!(
            marker.exists(),
            "{args:?}: the credential_process did not run"
        );
        assert!(sts.requests() > before, "{args:?}: STS was not called");
        assert_eq!(warnings(&run), risks, "{args:?}");
    }
}

#[test]
fn a_kubeconfig_only_inspected_cannot_send_the_sso_token_or_a_file_elsewhere() {
    let stub_config = json!({"sso": {"access_token": "ssoAccessTokenSentinel",
        "roles": [{"account_id": "123456789012", "role_name": "AdministratorAccess",
                   "access_key_id": "ASIASSOPORTALKEY0001", "secret_access_key": "ssoSecret/1",
                   "session_token": "sso+session/token="}]}});
    let sts = counting_sts();
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token()).env(
        "AWS_ENDPOINT_URL_STS",
        format!("http://127.0.0.1:{}", closed_port()),
    );
    let stub_file = write_json(&s, "stub.json", &stub_config);
    let sso = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", stub_file.to_str().unwrap()],
    );
    let sso_requests = || -> u64 {
        let stats: Value =
            serde_json::from_str(&http_get(&format!("{}/_stats", sso.url()))).unwrap();
        stats["sso"]["total"].as_u64().unwrap_or(0)
    };
    s.write(
        ".aws/config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n\
         sso_role_name = AdministratorAccess\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n",
    );
    write_sso_login(
        &s,
        "corp",
        &json!({"accessToken": "ssoAccessTokenSentinel", "expiresAt": "2999-01-02T03:04:05Z",
            "region": "eu-west-1", "startUrl": "https://corp.awsapps.com/start"}),
    );
    let secret = s.write(".ssh/id_ed25519", "sshPrivateKeySentinel\n");
    let secret = secret.to_str().unwrap();

    // The user's own SSO profile, with the portal moved to someone else's server.
    let config = kubeconfig_with_env(
        &s,
        "downloads/sso.yaml",
        &[("AWS_PROFILE", "dev"), ("AWS_ENDPOINT_URL_SSO", &sso.url())],
    );
    let run = s.run(&["doctor", "--kubeconfig", config.to_str().unwrap()]);
    assert_eq!(
        sso_requests(),
        0,
        "the SSO token went to the planted portal"
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        line(&run, "credentials"),
        "not resolved (see the warnings); profile dev: IAM Identity Center (sso-session corp)"
    );
    assert!(
        line(&run, "sso login").starts_with("valid until 2999-01-02"),
        "{}",
        run.stdout
    );
    let found = warnings(&run);
    assert_eq!(
        found[0].0,
        format!(
            "user u: exec env AWS_ENDPOINT_URL_SSO={} sends SSO API calls there instead of to AWS, carrying your SSO login token",
            sso.url()
        )
    );
    assert_eq!(found[1], untrusted_warning(&config, "AWS_ENDPOINT_URL_SSO"));
    assert_eq!(found.len(), 2, "{found:?}");

    let run = s.run(&[
        "doctor",
        "--kubeconfig",
        config.to_str().unwrap(),
        "--trust-kubeconfig",
    ]);
    assert!(sso_requests() > 0, "{}", run.stdout);

    // Any readable file, sent to STS as a web identity token.
    let config = kubeconfig_with_env(
        &s,
        "downloads/web-identity.yaml",
        &[
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/planted"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", secret),
            ("AWS_ENDPOINT_URL_STS", &sts.url()),
        ],
    );
    let run = s.run(&["doctor", "--kubeconfig", config.to_str().unwrap()]);
    assert_eq!(sts.requests(), 0, "the file went to the planted STS");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let found = warnings(&run);
    assert_eq!(
        found[0],
        (
            format!(
                "user u: exec env AWS_WEB_IDENTITY_TOKEN_FILE={secret} sends that file's content to STS as a web identity token"
            ),
            Some(format!(
                "remove AWS_WEB_IDENTITY_TOKEN_FILE from the exec env of user u unless {secret} is yours"
            ))
        )
    );
    assert_eq!(
        found[2],
        untrusted_warning(
            &config,
            "AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ENDPOINT_URL_STS"
        )
    );
    assert!(!run.stdout.contains("sshPrivateKeySentinel"));

    let run = s.run(&[
        "doctor",
        "--kubeconfig",
        config.to_str().unwrap(),
        "--trust-kubeconfig",
    ]);
    assert!(sts.requests() > 0, "{}", run.stdout);
}

#[test]
fn the_exec_env_reaches_the_checks_and_the_cache_line_as_the_plugin_sees_it() {
    let moto = Process::moto();
    // Doctor's own environment: alice's keys and eu-west-1.
    let s = alice(&moto);
    let kubeconfig = |relative: &str| {
        s.write(
            relative,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\n\
             users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
             command: eks-token\n      args: [token, -i, c]\n      env:\n      - {name: AWS_REGION, value: ap-south-1}\n\
             contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
        )
    };
    kubeconfig(".kube/config");
    // A token for doctor's own environment is not the plugin's.
    s.run(&["token", "-i", "c"]).token();

    let run = s.run(&["doctor", "--verbose"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(line(&run, "region"), "ap-south-1 (AWS_REGION)");
    assert_eq!(
        line(&run, "sts host"),
        "sts.ap-south-1.amazonaws.com (in the token)"
    );
    // What the exec env does not set comes from doctor's environment, as for kubectl.
    assert_eq!(
        line(&run, "credentials"),
        "environment variables (AWS_ACCESS_KEY_ID is set)"
    );
    assert_eq!(
        line(&run, "identity"),
        "arn:aws:iam::123456789012:user/alice"
    );
    assert!(
        line(&run, "cache").starts_with("no token with 5+ minutes left in "),
        "{}",
        run.stdout
    );
    // --verbose reaches the checks.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("eks-token: debug: ")
                && l.ends_with("] region: ap-south-1 (from AWS_REGION)")),
        "{}",
        run.stderr
    );

    // A token minted with the exec env is the one the cache line finds.
    let mut token = s.command(&["token", "-i", "c"]);
    token.env("AWS_REGION", "ap-south-1");
    support::run_command(token).token();
    let run = s.run(&["doctor"]);
    assert!(
        line(&run, "cache").starts_with("a token valid until "),
        "{}",
        run.stdout
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // AWS_REGION is applied from a kubeconfig that is only inspected, too.
    let other = kubeconfig("downloads/cluster.yaml");
    let run = s.run(&["doctor", "--kubeconfig", other.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(line(&run, "region"), "ap-south-1 (AWS_REGION)");
    assert!(warnings(&run).is_empty(), "{}", run.stdout);

    // A plugin run with --no-cache keeps no token, whatever the cache holds.
    let path = s.path(".kube/config");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("[token, -i, c]", "[token, -i, c, --no-cache]"),
    )
    .unwrap();
    let run = s.run(&["doctor"]);
    assert_eq!(
        line(&run, "cache"),
        "off (--no-cache in the exec args): every kubectl run mints a token"
    );
}

/// kubectl gives the plugin the exec `env`; doctor gives it to a child run of its checks,
/// never to its own process (library code that changes the environment races every
/// thread that reads it, the AWS SDK's among them).
#[test]
fn nothing_in_src_changes_the_process_environment() {
    fn scan(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, found);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may set variables for themselves.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for (i, l) in code.lines().enumerate() {
                if l.contains("set_var(") || l.contains("remove_var(") {
                    found.push(format!("{}:{}: {}", path.display(), i + 1, l.trim()));
                }
            }
        }
    }
    let mut found = Vec::new();
    scan(&repo_file("src"), &mut found);
    assert!(found.is_empty(), "{found:#?}");
}

/// `~/.kube/config` with one context whose user runs `command` with `args` (apiVersion v1,
/// `interactiveMode: IfAvailable`); doctor never calls the cluster.
fn oidc_kubeconfig(s: &Sandbox, command: &str, args: &[String]) -> PathBuf {
    let args: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    s.write(
        ".kube/config",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:9'}}\n\
             users:\n- name: alice\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      \
             command: {command}\n      args: [{}]\n      interactiveMode: IfAvailable\n\
             contexts:\n- name: c\n  context: {{cluster: c, user: alice}}\ncurrent-context: c\n",
            args.join(", ")
        ),
    )
}

/// The provider's flags for `eks-token oidc`, its callback on `port`, then `more`.
fn oidc_flags(provider: &OidcProvider, port: u16, more: &[&str]) -> Vec<String> {
    let mut flags = vec![
        format!("--oidc-issuer-url={}", provider.issuer),
        format!("--oidc-client-id={OIDC_CLIENT_ID}"),
        format!("--listen-address=127.0.0.1:{port}"),
    ];
    flags.extend(more.iter().map(|f| (*f).to_owned()));
    flags
}

/// Logs in as alice with the real `eks-token oidc FLAGS` through the test browser, as a
/// person would (`--login browser`: no terminal here); returns the cache entry written.
fn log_in(s: &mut Sandbox, provider: &OidcProvider, flags: &[String]) -> Value {
    use_oidc_browser(s, provider, OIDC_LOGIN);
    let mut args = vec!["oidc".to_owned()];
    args.extend(flags.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = s.command(&args);
    cmd.env("EKS_TOKEN_LOGIN", "browser");
    let run = run_command(cmd);
    assert_eq!(run.code, 0, "eks-token oidc: {}", run.stderr);
    let dir = s.path(".kube/cache/eks-token-oidc");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = read_json(&entries[0]);
    assert_eq!(entry["token"], run.token().as_str());
    entry
}

#[test]
fn an_oidc_user_after_a_login_shows_the_provider_the_cache_and_the_claims() {
    let port = free_port();
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token());
    let provider = OidcProvider::start(&s, &oidc_config(&[format!("http://localhost:{port}")]));
    let flags = oidc_flags(
        &provider,
        port,
        &[
            "--oidc-extra-scope=email",
            "--oidc-extra-scope=offline_access",
        ],
    );
    let entry = log_in(&mut s, &provider, &flags);
    let mut args = vec!["oidc".to_owned()];
    args.extend(flags.iter().cloned());
    oidc_kubeconfig(&s, "eks-token", &args);
    let discoveries = provider.count("discovery", None, None);

    let run = s.run(&["doctor"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(line(&run, "exec"), format!("eks-token {}", args.join(" ")));
    assert_eq!(line(&run, "issuer"), provider.issuer);
    assert_eq!(
        line(&run, "client id"),
        "eks (scopes openid email offline_access)"
    );
    assert_eq!(
        line(&run, "discovery"),
        format!("ok: the provider answers as {}", provider.issuer)
    );
    assert_eq!(
        continuation(&run, "discovery"),
        ["grants: authorization code (PKCE S256), device code"]
    );
    assert_eq!(provider.count("discovery", None, None), discoveries + 1);
    let expires = entry["expires_at"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    let cache = line(&run, "cache");
    let dir = s.path(".kube/cache/eks-token-oidc");
    let shown = format!(
        "an ID token valid until {} (in ",
        expires.format("%Y-%m-%d %H:%M:%SZ")
    );
    assert!(cache.starts_with(&shown), "{cache}");
    assert!(
        cache.ends_with(&format!(") in {}", dir.display())),
        "{cache}"
    );
    assert_eq!(
        continuation(&run, "cache"),
        ["a refresh token: renewed without a browser when it expires"]
    );
    assert_eq!(
        line(&run, "username"),
        format!("{OIDC_EMAIL} (email claim)")
    );
    assert_eq!(
        line(&run, "groups"),
        format!("{OIDC_GROUP}, {OIDC_OUTSIDER_GROUP}")
    );
    assert_eq!(
        line(&run, "login"),
        "not by itself: kubectl logs in by itself only with interactiveMode IfAvailable (or Always) in a terminal; GUI tools: --login browser"
    );
    assert!(
        run.stdout.ends_with("ok: nothing is broken\n"),
        "{}",
        run.stdout
    );
    // No AWS check for an OIDC user.
    assert!(!run.stdout.contains("credentials"), "{}", run.stdout);
    // The claims, never the tokens.
    for secret in ["token", "refresh_token"] {
        let secret = entry[secret].as_str().unwrap();
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}

#[test]
fn a_kubelogin_user_whose_provider_is_unreachable_and_never_logged_in() {
    let mut s = Sandbox::new();
    // Only eks-token's own directory: no kubelogin to be found.
    s.env(
        "PATH",
        Path::new(BIN).parent().unwrap().display().to_string(),
    );
    let issuer = format!("http://127.0.0.1:{}", closed_port());
    let flags = [
        "get-token".to_owned(),
        format!("--oidc-issuer-url={issuer}"),
        "--oidc-client-id=eks".to_owned(),
        "--oidc-client-secret=doctorClientSecret-4242".to_owned(),
        "--oidc-extra-scope=email".to_owned(),
    ];
    oidc_kubeconfig(&s, "kubelogin", &flags);
    let run = s.run(&["doctor", "--timeout", "3"]);
    assert_broken(&run, 3);
    assert_eq!(
        line(&run, "exec"),
        format!(
            "kubelogin get-token --oidc-issuer-url={issuer} --oidc-client-id=eks '--oidc-client-secret=(hidden)' --oidc-extra-scope=email"
        )
    );
    assert!(!run.stdout.contains("doctorClientSecret"), "{}", run.stdout);
    let found = problems(&run);
    assert_eq!(
        found[0],
        (
            "user alice: command \"kubelogin\" is not on PATH".to_owned(),
            Some(
                "install kubelogin, or run `eks-token kubeconfig migrate` to use eks-token instead"
                    .to_owned()
            )
        )
    );
    assert!(
        found[1]
            .0
            .starts_with(&format!("the OIDC discovery of {issuer} failed: ")),
        "{found:?}"
    );
    assert!(found[1].0.contains("connection refused"), "{found:?}");
    assert!(
        found[1]
            .1
            .as_deref()
            .unwrap_or_default()
            .starts_with("check the issuer URL, the network"),
        "{found:?}"
    );
    assert_eq!(
        found[2],
        (
            "user alice: no OIDC login is cached, and kubectl's run would not log in: kubectl logs in by itself only with interactiveMode IfAvailable (or Always) in a terminal; GUI tools: --login browser".to_owned(),
            Some(format!(
                "log in once at a terminal: `eks-token oidc setup --oidc-issuer-url={issuer} --oidc-client-id=eks '--oidc-client-secret=(hidden)' --oidc-extra-scope=email`"
            ))
        )
    );
    assert_eq!(
        warnings(&run),
        [(
            "user alice runs kubelogin get-token: a second plugin, when eks-token takes the same flags".to_owned(),
            Some("`eks-token kubeconfig migrate` (every flag kept)".to_owned())
        )]
    );
    assert_eq!(
        line(&run, "cache"),
        format!(
            "no login cached in {}",
            s.path(".kube/cache/eks-token-oidc").display()
        )
    );
}

#[test]
fn an_oidc_login_that_expires_without_a_refresh_token_needs_a_person() {
    let port = free_port();
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token());
    let provider = OidcProvider::start(&s, &oidc_config(&[format!("http://localhost:{port}")]));
    // Under the minute eks-token serves a token for, and no offline_access: no refresh token.
    provider.set_ttl(&json!({"IdToken": 30}));
    let flags = oidc_flags(&provider, port, &["--oidc-extra-scope=email"]);
    let entry = log_in(&mut s, &provider, &flags);
    assert!(entry["refresh_token"].is_null(), "{entry}");
    let mut args = vec!["oidc".to_owned()];
    args.extend(flags.iter().cloned());
    oidc_kubeconfig(&s, "eks-token", &args);

    let run = s.run(&["doctor"]);
    assert_broken(&run, 1);
    let expires = chrono::DateTime::parse_from_rfc3339(entry["expires_at"].as_str().unwrap())
        .unwrap()
        .format("%Y-%m-%d %H:%M:%SZ")
        .to_string();
    let dir = s.path(".kube/cache/eks-token-oidc");
    let state = format!("an ID token that expires at {expires}: under 1m left, so not served");
    assert_eq!(line(&run, "cache"), format!("{state} in {}", dir.display()));
    assert_eq!(
        continuation(&run, "cache"),
        [
            "no refresh token: a browser login when it expires (--oidc-extra-scope=offline_access asks for one)"
        ]
    );
    let setup = format!("eks-token oidc setup {}", flags.join(" "));
    assert_eq!(
        problems(&run),
        [(
            format!(
                "user alice: the cached OIDC token is not served any more ({state}) and there is no refresh token, and kubectl's run would not log in: kubectl logs in by itself only with interactiveMode IfAvailable (or Always) in a terminal; GUI tools: --login browser"
            ),
            Some(format!("log in once at a terminal: `{setup}`"))
        )]
    );
    // The claims are still those of the last login.
    assert_eq!(
        line(&run, "username"),
        format!("{OIDC_EMAIL} (email claim)")
    );
}

#[test]
fn an_https_provider_is_reached_with_the_users_ca_flag_only() {
    let mut s = Sandbox::new();
    s.env("PATH", path_with_eks_token());
    let provider = OidcProvider::start_tls(&s, &oidc_config(&[]));
    let ca = provider.ca.clone().unwrap();
    let mut args = vec![
        "oidc".to_owned(),
        format!("--oidc-issuer-url={}", provider.issuer),
        format!("--oidc-client-id={OIDC_CLIENT_ID}"),
    ];
    oidc_kubeconfig(&s, "eks-token", &args);
    let run = s.run(&["doctor"]);
    let found = problems(&run);
    let tls = found
        .iter()
        .find(|(what, _)| {
            what.starts_with(&format!("the OIDC discovery of {} failed", provider.issuer))
        })
        .unwrap_or_else(|| panic!("no discovery problem: {}", run.stdout));
    assert_eq!(
        tls.1.as_deref(),
        Some(
            "the provider's TLS certificate is not trusted: pass its CA with --certificate-authority FILE (or --certificate-authority-data)"
        ),
        "{}",
        run.stdout
    );

    for flag in [format!("--certificate-authority={}", ca.display()), {
        use base64::Engine;
        let pem = std::fs::read(&ca).unwrap();
        format!(
            "--certificate-authority-data={}",
            base64::engine::general_purpose::STANDARD.encode(pem)
        )
    }] {
        args.push(flag.clone());
        oidc_kubeconfig(&s, "eks-token", &args);
        let run = s.run(&["doctor"]);
        assert_eq!(
            line(&run, "discovery"),
            format!("ok: the provider answers as {}", provider.issuer),
            "{flag}: {}",
            run.stdout
        );
        args.pop();
    }
}

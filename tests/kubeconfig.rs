//! `eks-token kubeconfig`: DescribeCluster on moto, the file it writes (empty HOME, an
//! existing multi-cluster kubeconfig, twice in a row, --dry-run, several KUBECONFIG
//! paths), then real kubectl reaching the fake EKS API server through the written user;
//! `--oidc`: the cluster's OIDC provider read from a stub of the EKS identity provider
//! calls (proved faithful with botocore) and written as an `eks-token oidc` user kubectl
//! reads, or a clear error when there is none.

mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};
use support::{
    AK, DEV_AK, DEV_SK, Process, Sandbox, assert_kubectl_gets_pods_as, assert_kubectl_reads,
    both_key_pairs, boto3, closed_port, comments_not_kept, env_creds, fake_eks, file_mode,
    http_get, kubectl_view, moto_cluster, named, point_clusters_at, read_yaml, repo_file,
    sso_cache_name, strings, write_json, write_profile_keys,
};
use yaml_serde::Value as Yaml;

/// The region of `env_creds`, where the clusters are made.
const REGION: &str = "eu-west-1";

/// The example keys in the environment, every AWS API call going to `moto`.
fn sandbox(moto: &Process) -> Sandbox {
    let mut s = env_creds();
    s.endpoint(&moto.url());
    s
}

/// The three entries the command writes for `cluster`, checked field by field.
fn assert_entries(
    doc: &Yaml,
    cluster: &Value,
    name: &str,
    args: &[&str],
    env: Option<(&str, &str)>,
) {
    let arn = cluster["arn"].as_str().unwrap();
    let c = &named(doc, "clusters", arn)["cluster"];
    assert_eq!(c["server"].as_str(), cluster["endpoint"].as_str());
    assert_eq!(
        c["certificate-authority-data"].as_str(),
        cluster["certificateAuthority"]["data"].as_str()
    );
    let exec = &named(doc, "users", name)["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["command"], "eks-token");
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    assert_eq!(strings(&exec["args"]), args);
    match env {
        Some((k, v)) => {
            assert_eq!(exec["env"][0]["name"], k);
            assert_eq!(exec["env"][0]["value"], v);
            assert_eq!(exec["env"].as_sequence().unwrap().len(), 1);
        }
        None => assert!(exec.get("env").is_none(), "{exec:?}"),
    }
    let ctx = &named(doc, "contexts", name)["context"];
    assert_eq!(ctx["cluster"], arn);
    assert_eq!(ctx["user"], name);
    assert_eq!(doc["current-context"], name);
}

#[test]
fn on_an_empty_home_it_writes_a_private_kubeconfig() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    let run = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = s.path(".kube/config");
    let arn = cluster["arn"].as_str().unwrap();
    assert_eq!(arn, "arn:aws:eks:eu-west-1:123456789012:cluster/prod");
    assert_eq!(
        run.stdout,
        format!("Added new context {arn} to {}\n", path.display())
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_eq!(file_mode(&path), 0o600);
    assert!(!s.path(".kube/config.bak").exists());
    let doc = read_yaml(&path);
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["kind"], "Config");
    assert_entries(
        &doc,
        &cluster,
        arn,
        &["token", "--cluster-id", "prod", "--region", REGION],
        None,
    );
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(doc[list].as_sequence().unwrap().len(), 1, "{list}");
    }
}

const EXISTING: &str = "apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: staging
  cluster:
    server: https://staging.example
    certificate-authority-data: c3RhZ2luZw==
    tls-server-name: api.staging.example
- name: gke_proj_zone_c1
  cluster:
    server: https://10.0.0.1
    insecure-skip-tls-verify: true
users:
- name: staging-admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
- name: gke_proj_zone_c1
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: gke-gcloud-auth-plugin
      provideClusterInfo: true
contexts:
- name: staging
  context:
    cluster: staging
    user: staging-admin
    namespace: payments
- name: gke_proj_zone_c1
  context: {cluster: gke_proj_zone_c1, user: gke_proj_zone_c1}
current-context: staging
extensions:
- name: my-extension
  extension: {answer: 42}
";

#[test]
fn on_an_existing_multi_cluster_kubeconfig_other_entries_are_kept() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    s.write(
        ".aws/credentials",
        &format!("[dev]\naws_access_key_id = {DEV_AK}\naws_secret_access_key = {DEV_SK}\n"),
    );
    let path = s.write(".kube/config", EXISTING);
    let role = "arn:aws:iam::123456789012:role/eks-admin";
    let run = s.run(&[
        "kubeconfig",
        "--name",
        "prod",
        "--profile",
        "dev",
        "--role-arn",
        role,
        "--alias",
        "prod-admin",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Added new context prod-admin to {}\n", path.display())
    );
    let backup = s.path(".kube/config.bak");
    assert_eq!(
        run.stderr,
        format!(
            "eks-token: note: previous kubeconfig saved as {}\n",
            backup.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), EXISTING);
    assert_eq!(file_mode(&path), 0o600);

    let doc = read_yaml(&path);
    assert_entries(
        &doc,
        &cluster,
        "prod-admin",
        &[
            "token",
            "--cluster-id",
            "prod",
            "--region",
            REGION,
            "--role-arn",
            role,
        ],
        Some(("AWS_PROFILE", "dev")),
    );
    // Everything that was there is there with the same meaning, in the same order.
    let before: Yaml = yaml_serde::from_str(EXISTING).unwrap();
    for (list, new_name) in [
        ("clusters", cluster["arn"].as_str().unwrap()),
        ("users", "prod-admin"),
        ("contexts", "prod-admin"),
    ] {
        let mut now = doc[list].as_sequence().unwrap().clone();
        let added = now.pop().unwrap();
        assert_eq!(added["name"], new_name);
        assert_eq!(&now, before[list].as_sequence().unwrap(), "{list}");
    }
    for key in ["preferences", "extensions", "apiVersion", "kind"] {
        assert_eq!(doc[key], before[key], "{key}");
    }
}

#[test]
fn twice_in_a_row_changes_nothing_the_second_time() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    let path = s.write(".kube/config", EXISTING);
    let first = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let written = std::fs::read(&path).unwrap();
    let backup = std::fs::read(s.path(".kube/config.bak")).unwrap();

    let second = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    assert_eq!(
        second.stdout,
        format!("Context {arn} in {} is up to date\n", path.display())
    );
    assert_eq!(std::fs::read(&path).unwrap(), written);
    assert_eq!(std::fs::read(s.path(".kube/config.bak")).unwrap(), backup);
}

#[test]
fn dry_run_prints_the_result_and_writes_nothing() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    let run = s.run(&["kubeconfig", "--cluster-name", "prod", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Yaml = yaml_serde::from_str(&run.stdout).unwrap();
    let arn = cluster["arn"].as_str().unwrap();
    assert_entries(
        &doc,
        &cluster,
        arn,
        &["token", "--cluster-id", "prod", "--region", REGION],
        None,
    );
    assert!(!s.path(".kube").exists());

    let path = s.write(".kube/config", EXISTING);
    let run = s.run(&["kubeconfig", "--cluster-name", "prod", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EXISTING);
    assert!(!s.path(".kube/config.bak").exists());
    let doc: Yaml = yaml_serde::from_str(&run.stdout).unwrap();
    assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 3);
}

#[test]
fn several_kubeconfig_paths_write_the_first() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "prod");
    let mut s = sandbox(&moto);
    let first = s.path("a/first.yaml");
    let second = s.write("b/second.yaml", EXISTING);
    s.env(
        "KUBECONFIG",
        format!("{}:{}", first.display(), second.display()),
    );
    let run = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&first.display().to_string()),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&second).unwrap(), EXISTING);
    assert_eq!(
        read_yaml(&first)["clusters"].as_sequence().unwrap().len(),
        1
    );
    // --kubeconfig wins over KUBECONFIG.
    let third = s.path("c/third.yaml");
    let run = s.run(&[
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--kubeconfig",
        third.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(third.exists());
}

#[test]
fn unknown_clusters_and_broken_kubeconfigs_fail_with_the_fix() {
    let moto = Process::moto();
    let s = sandbox(&moto);
    let run = s.run(&["kubeconfig", "--cluster-name", "nope"]);
    run.assert_error(1, "cluster \"nope\" not found in eu-west-1");
    assert_eq!(
        run.hint(),
        "check the name and --region: `aws eks list-clusters --region eu-west-1` lists the clusters there"
    );
    let path = s.write(".kube/config", "clusters: [\n");
    let run = s.run(&["kubeconfig", "--cluster-name", "nope"]);
    run.assert_error(1, &format!("{} is not a kubeconfig", path.display()));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "clusters: [\n");
}

#[test]
fn kubectl_reaches_the_cluster_through_the_written_user() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "e2e-cluster");
    // Profiles only: keys in the environment would outrank the AWS_PROFILE written
    // into the exec env, as they do for the AWS CLI.
    let mut s = Sandbox::new();
    s.endpoint(&moto.url()).env("AWS_REGION", REGION);
    write_profile_keys(&s);
    let api = fake_eks(&s, "e2e-cluster", &both_key_pairs(), Some(&moto));
    for (args, identity) in [
        (vec![], format!("arn:aws:iam::123456789012:user/{AK}")),
        (
            vec!["--profile", "dev", "--alias", "dev"],
            format!("arn:aws:iam::123456789012:user/{DEV_AK}"),
        ),
        (
            vec![
                "--role-arn",
                "arn:aws:iam::123456789012:role/eks-admin",
                "--alias",
                "admin",
            ],
            "arn:aws:sts::123456789012:assumed-role/eks-admin/EKSGetTokenAuth".to_owned(),
        ),
    ] {
        let mut cmd = vec!["kubeconfig", "--cluster-name", "e2e-cluster"];
        cmd.extend(&args);
        let run = s.run(&cmd);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let path = s.path(".kube/config");
        // Test-only: moto's endpoint and CA are made up; the user and context eks-token
        // wrote are used unchanged.
        point_clusters_at(&path, &api.url(), &api.ca);
        assert_kubectl_gets_pods_as(&s, &api, &path, &identity, &format!("{args:?}"));
    }
}

/// kubectl's entry named `name` in one of its lists.
fn entry<'a>(view: &'a Value, list: &str, name: &str) -> &'a Value {
    view[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {view}"))
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {list} entry {name}"))
}

#[test]
fn yaml_1_1_look_alikes_in_the_kubeconfig_stay_strings_for_kubectl() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let arn = cluster["arn"].as_str().unwrap();
    let s = sandbox(&moto);
    let fixture = repo_file("fixtures/kubeconfigs/yaml11-look-alikes.yaml");
    let path = s.write(".kube/config", &std::fs::read_to_string(fixture).unwrap());
    let before = kubectl_view(&s, &path);
    // The alias is a look-alike too: context and user `on`.
    let args = ["kubeconfig", "--cluster-name", "prod", "--alias", "on"];

    let check = |view: &Value| {
        // Every entry that was there reads the same; the new ones are eks-token's.
        for list in ["clusters", "users", "contexts"] {
            let now = view[list].as_array().unwrap();
            let was = before[list].as_array().unwrap();
            for old in was {
                assert!(now.contains(old), "{list}: {old} changed");
            }
            assert_eq!(now.len(), was.len() + 1, "{list}");
        }
        for key in ["preferences", "extensions"] {
            assert_eq!(view[key], before[key], "{key}");
        }
        assert_eq!(view["current-context"], "on");
        assert_eq!(entry(view, "contexts", "on")["context"]["cluster"], arn);
        assert_eq!(entry(view, "contexts", "on")["context"]["user"], "on");
        let exec = &entry(view, "users", "on")["user"]["exec"];
        assert_eq!(exec["command"], "eks-token");
        assert_eq!(
            exec["args"],
            json!(["token", "--cluster-id", "prod", "--region", REGION])
        );
    };

    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = s.run(&dry_args);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        dry.stderr,
        format!(
            "eks-token: note: the comments in {} would not be kept\n",
            path.display()
        )
    );
    check(&kubectl_view(&s, &s.write("dry-run.yaml", &dry.stdout)));

    let run = s.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Added new context on to {}\n", path.display())
    );
    let backup = s.path(".kube/config.bak");
    assert_eq!(
        run.stderr,
        format!(
            "eks-token: note: previous kubeconfig saved as {}\n{}",
            backup.display(),
            comments_not_kept(&path, &backup)
        )
    );
    check(&kubectl_view(&s, &path));
    assert_kubectl_reads(
        &s,
        &path,
        "{.contexts[?(@.name==\"no\")].context.namespace}",
        "no",
    );

    // Written once more, the file is the same.
    let written = std::fs::read(&path).unwrap();
    let again = s.run(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("is up to date"), "{}", again.stdout);
    assert_eq!(std::fs::read(&path).unwrap(), written);
}

#[test]
fn a_read_only_kubeconfig_is_not_replaced() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    let path = s.write(".kube/config", EXISTING);
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o444)).unwrap();
    let run = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    run.assert_error(1, &format!("{} is read-only (mode 0444)", path.display()));
    assert_eq!(
        run.hint(),
        format!(
            "make it writable (chmod u+w {}) if eks-token may change it, or pass --kubeconfig FILE",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EXISTING);
    assert_eq!(file_mode(&path), 0o444);
    assert!(!s.path(".kube/config.bak").exists());

    // --dry-run writes nothing, and neither does a run with nothing to change.
    let dry = s.run(&["kubeconfig", "--cluster-name", "prod", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o600)).unwrap();
    let first = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o444)).unwrap();
    let again = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("is up to date"), "{}", again.stdout);
}

/// An EKS restJson1 error answer, as the fault server sends it.
fn eks_error(code: &str, status: u16, message: &str) -> Value {
    json!({"status": status, "content_type": "application/json",
           "headers": {"x-amzn-errortype": code},
           "body": json!({"message": message}).to_string()})
}

#[test]
fn describe_cluster_failures_are_read_like_every_other_call() {
    let what = "EKS DescribeCluster of prod in eu-west-1";
    let mut s = env_creds();
    let kubeconfig = s.path("kubeconfig");
    let args = [
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--timeout",
        "3",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];

    // Nothing listens there: the hint is about the address, not permissions.
    let closed = format!("http://127.0.0.1:{}", closed_port());
    s.env("AWS_ENDPOINT_URL_EKS", &closed);
    let run = s.run(&args);
    run.assert_error(
        1,
        &format!("cannot reach {closed} (connection refused) for {what}"),
    );
    assert!(
        run.hint()
            .starts_with(&format!("{closed} is not an AWS address")),
        "{}",
        run.hint()
    );

    // Expired keys: the fix for where they came from.
    let expired = "The security token included in the request is expired";
    let eks = Process::faults(&json!([eks_error("ExpiredTokenException", 403, expired)]));
    s.env("AWS_ENDPOINT_URL_EKS", eks.url());
    let run = s.run(&args);
    run.assert_error(1, &format!("{what}: the credentials from environment variables have expired (ExpiredTokenException: {expired})"));
    assert!(run.hint().contains("aws-vault exec"), "{}", run.hint());

    // A refusal is about the identity's permissions.
    let denied = "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: eks:DescribeCluster";
    let eks = Process::faults(&json!([eks_error("AccessDeniedException", 403, denied)]));
    s.env("AWS_ENDPOINT_URL_EKS", eks.url());
    let run = s.run(&args);
    run.assert_error(
        1,
        &format!("{what}: access denied (AccessDeniedException: {denied})"),
    );
    assert_eq!(
        run.hint(),
        "check that the identity (`eks-token whoami`) may call eks:DescribeCluster"
    );
    assert!(!kubeconfig.exists());
}

#[test]
fn an_expired_sso_login_gets_the_login_hint() {
    let mut s = Sandbox::new();
    let portal = json!({"sso": {"access_token": "kubeconfigSsoToken",
        "roles": [{"account_id": "123456789012", "role_name": "Admin",
                   "access_key_id": "ASIAKUBECONFIGSSO001", "secret_access_key": "kubeconfigSsoSecret/1",
                   "session_token": "kubeconfig+sso/session="}]}});
    let portal_config = write_json(&s, "portal.json", &portal);
    let portal = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", portal_config.to_str().unwrap()],
    );
    let start = "https://corp.awsapps.com/start";
    s.write(".aws/config", &format!(
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-west-1\n\
         [sso-session corp]\nsso_start_url = {start}\nsso_region = eu-west-1\n"));
    let expired = "The security token included in the request is expired";
    let eks = Process::faults(&json!([eks_error("ExpiredTokenException", 403, expired)]));
    s.env("AWS_ENDPOINT_URL_SSO", portal.url())
        .env("AWS_ENDPOINT_URL_EKS", eks.url());
    let cached = |minutes: i64| {
        let expires = chrono::Utc::now() + chrono::TimeDelta::minutes(minutes);
        let login = json!({"startUrl": start, "region": "eu-west-1",
            "accessToken": "kubeconfigSsoToken",
            "expiresAt": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string()});
        write_json(
            &s,
            &format!(".aws/sso/cache/{}.json", sso_cache_name("corp")),
            &login,
        );
    };
    let kubeconfig = s.path("kubeconfig");
    let args = [
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--profile",
        "dev",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    let login_hint = "run `eks-token login --profile dev`";

    // The login expired before the run: found before any call.
    cached(-5);
    let run = s.run(&args);
    run.assert_error(1, "the SSO login for profile dev is missing or expired");
    // No terminal here, so no login by itself.
    assert_eq!(
        run.hint(),
        format!(
            "{login_hint}; there is no terminal to log in from; --login browser logs in without one"
        )
    );
    assert_eq!(eks.requests(), 0);

    // EKS says the role credentials the login gave have expired.
    cached(60);
    let run = s.run(&args);
    run.assert_error(
        1,
        &format!("EKS DescribeCluster of prod in eu-west-1: the credentials from profile dev have expired (ExpiredTokenException: {expired})"),
    );
    assert_eq!(run.hint(), login_hint);
    assert_eq!(eks.requests(), 1);
    assert!(!run.stderr.contains("kubeconfigSsoToken"));
    assert!(!kubeconfig.exists());
}

#[test]
fn a_run_that_keeps_the_context_says_what_it_changed() {
    let moto = Process::moto();
    moto_cluster(&moto, REGION, "prod");
    let s = sandbox(&moto);
    let path = s.write(".kube/config", EXISTING);
    let arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";
    let at = path.display();
    let first = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(first.stdout, format!("Added new context {arn} to {at}\n"));

    // A role for the token changes the user only.
    let role = ["--role-arn", "arn:aws:iam::123456789012:role/admin"];
    let run = s.run(&[&["kubeconfig", "--cluster-name", "prod"][..], &role].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("Updated the user of context {arn} in {at}\n")
    );

    // Another context made current: only current-context changes back.
    let text = std::fs::read_to_string(&path).unwrap();
    let current = format!("current-context: {arn}\n");
    assert!(text.contains(&current), "{text}");
    std::fs::write(&path, text.replace(&current, "current-context: staging\n")).unwrap();
    let run = s.run(&[&["kubeconfig", "--cluster-name", "prod"][..], &role].concat());
    assert_eq!(run.stdout, format!("Switched to context {arn} in {at}\n"));
    assert_eq!(read_yaml(&path)["current-context"], arn);

    // A context named for the cluster but pointing elsewhere is updated.
    let run = s.run(&["kubeconfig", "--cluster-name", "prod", "--alias", "staging"]);
    assert_eq!(run.stdout, format!("Updated context staging in {at}\n"));
}

/// The OIDC provider the tests associate with cluster `prod` (Okta's shape).
const ISSUER: &str = "https://dev-123456.okta.com/oauth2/default";
const CLIENT_ID: &str = "0oa1b2c3d4EKSkubectl";

/// `tests/peers/stub_server.py` answering the EKS identity provider calls with
/// `clusters` (name → its configs) and passing every other EKS call to moto, with the
/// sandbox's EKS calls pointed at it; its config file can be rewritten between runs.
fn identity_stub(s: &mut Sandbox, moto: &Process, eks: Value) -> (Process, std::path::PathBuf) {
    let mut eks = eks;
    eks["upstream"] = json!(moto.url());
    let config = write_json(s, "stub.json", &json!({ "eks": eks }));
    let stub = Process::peer(
        "tests/peers/stub_server.py",
        &["--config", config.to_str().unwrap()],
    );
    s.env("AWS_ENDPOINT_URL_EKS", stub.url());
    (stub, config)
}

/// Requests the stub answered as EKS identity provider calls.
fn identity_calls(stub: &Process) -> u64 {
    let stats: Value = serde_json::from_str(&http_get(&format!("{}/_stats", stub.url()))).unwrap();
    stats["eks"]["total"].as_u64().unwrap()
}

fn okta(status: Option<&str>) -> Value {
    let mut config = json!({"identityProviderConfigName": "okta", "issuerUrl": ISSUER,
        "clientId": CLIENT_ID, "usernameClaim": "email", "groupsClaim": "groups",
        "groupsPrefix": "oidc:", "requiredClaims": {}, "tags": {}});
    if let Some(status) = status {
        config["status"] = json!(status);
    }
    config
}

#[test]
fn the_identity_provider_stub_answers_as_botocore_reads_eks() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let mut s = sandbox(&moto);
    let (stub, _) = identity_stub(&mut s, &moto, json!({"clusters": {"prod": [okta(None)]}}));
    let seen = boto3(
        &stub,
        REGION,
        "eks = client('eks')\n\
         listed = eks.list_identity_provider_configs(clusterName='prod')['identityProviderConfigs']\n\
         described = eks.describe_identity_provider_config(clusterName='prod',\n    \
             identityProviderConfig={'type': 'oidc', 'name': 'okta'})['identityProviderConfig']['oidc']\n\
         errors = []\n\
         for call in [lambda: eks.list_identity_provider_configs(clusterName='nope'),\n             \
                      lambda: eks.describe_identity_provider_config(clusterName='prod',\n                 \
                          identityProviderConfig={'type': 'oidc', 'name': 'other'})]:\n    \
             try:\n        call()\n    \
             except ClientError as e:\n        \
                 errors.append([e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']])\n\
         arn = eks.describe_cluster(name='prod')['cluster']['arn']\n\
         print(json.dumps({'listed': listed, 'described': described, 'errors': errors, 'arn': arn}))\n",
    );
    assert_eq!(seen["listed"], json!([{"type": "oidc", "name": "okta"}]));
    let described = &seen["described"];
    for (field, value) in [
        ("identityProviderConfigName", "okta"),
        ("clusterName", "prod"),
        ("issuerUrl", ISSUER),
        ("clientId", CLIENT_ID),
        ("usernameClaim", "email"),
        ("groupsClaim", "groups"),
        ("groupsPrefix", "oidc:"),
        ("status", "ACTIVE"),
    ] {
        assert_eq!(described[field], value, "{field}: {described}");
    }
    assert_eq!(
        seen["errors"],
        json!([
            ["ResourceNotFoundException", 404],
            ["ResourceNotFoundException", 404]
        ])
    );
    // Other EKS calls reach moto through the stub.
    assert_eq!(seen["arn"], cluster["arn"]);
    assert_eq!(identity_calls(&stub), 4);
}

#[test]
fn oidc_writes_a_user_for_the_clusters_identity_provider() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let arn = cluster["arn"].as_str().unwrap();
    let mut s = sandbox(&moto);
    let (stub, _) = identity_stub(&mut s, &moto, json!({"clusters": {"prod": [okta(None)]}}));
    // The IAM user first: the OIDC one comes beside it, not over it.
    let iam = s.run(&["kubeconfig", "--cluster-name", "prod"]);
    assert_eq!(iam.code, 0, "{}", iam.stderr);
    assert_eq!(identity_calls(&stub), 0);

    let path = s.path(".kube/config");
    let run = s.run(&["kubeconfig", "--cluster-name", "prod", "--oidc"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let name = format!("oidc@{arn}");
    assert_eq!(
        run.stdout,
        format!(
            "Added new context {name} to {}\n\
             OIDC provider okta: issuer {ISSUER}, client id {CLIENT_ID}\n\
             the cluster takes the user name from claim email and the groups from claim groups (prefixed oidc:)\n",
            path.display()
        )
    );
    assert_eq!(
        run.stderr,
        format!(
            "eks-token: note: previous kubeconfig saved as {}\n",
            s.path(".kube/config.bak").display()
        )
    );
    assert_eq!(identity_calls(&stub), 2);
    let args = [
        "oidc".to_owned(),
        format!("--oidc-issuer-url={ISSUER}"),
        format!("--oidc-client-id={CLIENT_ID}"),
        "--oidc-extra-scope=email".to_owned(),
        "--oidc-extra-scope=profile".to_owned(),
        "--oidc-extra-scope=offline_access".to_owned(),
    ];
    let view = kubectl_view(&s, &path);
    assert_eq!(view["current-context"], name.as_str());
    assert_eq!(
        entry(&view, "contexts", &name)["context"],
        json!({"cluster": arn, "user": name})
    );
    assert_eq!(
        entry(&view, "users", &name)["user"],
        json!({"exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "eks-token",
            "args": args,
            "env": null,
            "interactiveMode": "IfAvailable",
            "provideClusterInfo": false,
        }})
    );
    // The IAM user and its context are still there, unchanged.
    let iam_user = &entry(&view, "users", arn)["user"]["exec"];
    assert_eq!(iam_user["args"][0], "token");
    assert_eq!(entry(&view, "contexts", arn)["context"]["user"], arn);
    assert_eq!(view["clusters"].as_array().unwrap().len(), 1);

    // Scopes of one's own, and a name: the default scopes are not added to them.
    let run = s.run(&[
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--oidc",
        "--oidc-extra-scope",
        "email,groups",
        "--alias",
        "okta-prod",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = read_yaml(&path);
    let exec = &named(&doc, "users", "okta-prod")["user"]["exec"];
    let mut with_groups = args[..3].to_vec();
    with_groups.extend([
        "--oidc-extra-scope=email".into(),
        "--oidc-extra-scope=groups".into(),
    ]);
    assert_eq!(strings(&exec["args"]), with_groups);

    // --dry-run prints the kubeconfig alone.
    let dry = s.run(&[
        "kubeconfig",
        "--cluster-name",
        "prod",
        "--oidc",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let printed: Yaml = yaml_serde::from_str(&dry.stdout).unwrap();
    assert_eq!(
        strings(&named(&printed, "users", &name)["user"]["exec"]["args"]),
        args
    );
}

#[test]
fn oidc_without_an_associated_provider_says_so_with_the_command_that_adds_one() {
    let moto = Process::moto();
    let cluster = moto_cluster(&moto, REGION, "prod");
    let mut s = sandbox(&moto);
    let (stub, _) = identity_stub(&mut s, &moto, json!({"clusters": {"prod": []}}));
    let args = ["kubeconfig", "--cluster-name", "prod", "--oidc"];
    let run = s.run(&args);
    run.assert_error(
        1,
        "cluster \"prod\" in eu-west-1 has no OIDC identity provider associated with it",
    );
    assert_eq!(
        run.hint(),
        "associate the provider with the cluster (it takes 20 to 40 minutes): \
         `aws eks associate-identity-provider-config --cluster-name prod --region eu-west-1 --oidc \
         identityProviderConfigName=NAME,issuerUrl=ISSUER_URL,clientId=CLIENT_ID,usernameClaim=email,groupsClaim=groups` \
         (`eks-token oidc setup` prints it with your provider's values)"
    );
    assert!(!s.path(".kube").exists());

    // Not allowed to look: the permission to ask for.
    write_json(
        &s,
        "stub.json",
        &json!({"eks": {"upstream": moto.url(), "denied": true}}),
    );
    let run = s.run(&args);
    run.assert_error(
        1,
        "EKS ListIdentityProviderConfigs of prod in eu-west-1: access denied (AccessDeniedException: User is not authorized to perform: eks:ListIdentityProviderConfigs)",
    );
    assert_eq!(
        run.hint(),
        "check that the identity (`eks-token whoami`) may call eks:ListIdentityProviderConfigs"
    );
    assert!(!s.path(".kube").exists());

    // Still being associated: written, with a warning that the cluster does not take its
    // tokens yet.
    write_json(
        &s,
        "stub.json",
        &json!({"eks": {"upstream": moto.url(), "clusters": {"prod": [okta(Some("CREATING"))]}}}),
    );
    let run = s.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "eks-token: warning: the association of OIDC provider okta with prod is CREATING: the cluster takes its tokens once it is ACTIVE\n"
    );
    let name = format!("oidc@{}", cluster["arn"].as_str().unwrap());
    assert_eq!(
        read_yaml(&s.path(".kube/config"))["current-context"],
        name.as_str()
    );
    assert_eq!(identity_calls(&stub), 4);
}

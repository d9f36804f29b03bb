//! `eks-token kubeconfig migrate` on kubeconfigs exactly as `aws eks update-kubeconfig`
//! and the aws-iam-authenticator README write them (`fixtures/kubeconfigs/`, made by its
//! `generate.py`), then real kubectl with the migrated file against the fake EKS server;
//! and on kubelogin users as the Okta guide and `kubectl oidc-login setup` write them
//! (hand-written fixtures): every flag kept, refused flags named and their users left
//! alone, kubectl loading the result and, through a real OpenID Provider, listing pods.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use support::{
    AK, DEV_AK, NO_PODS, OIDC_CLIENT_ID, OIDC_EMAIL, OIDC_GROUP, OIDC_LOGIN, OidcProvider, Process,
    Sandbox, assert_kubectl_gets_pods_as, assert_kubectl_reads, both_key_pairs, comments_not_kept,
    fake_eks, fake_eks_oidc, file_mode, free_port, kubectl_get_pods, kubectl_view, named,
    oidc_config, point_clusters_at, read_yaml, repo_file, strings, use_oidc_browser,
    write_profile_keys,
};
use yaml_serde::Value as Yaml;

const ROLE: &str = "arn:aws:iam::123456789012:role/eks-admin";
const ARN_NAME: &str = "arn:aws:eks:eu-west-1:123456789012:cluster/prod";

/// Each fixture, its migrated user, and the eks-token args that user must end up with.
fn cases() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let aws_cli = vec!["token", "--cluster-id", "prod", "--region", "eu-west-1"];
    let with_role = |mut v: Vec<&'static str>| {
        v.extend(["--role-arn", ROLE]);
        v
    };
    vec![
        ("aws-cli.yaml", ARN_NAME, aws_cli.clone()),
        ("aws-cli-profile.yaml", ARN_NAME, aws_cli.clone()),
        ("aws-cli-role.yaml", ARN_NAME, with_role(aws_cli.clone())),
        (
            "aws-cli-profile-role-alias.yaml",
            ARN_NAME,
            with_role(aws_cli.clone()),
        ),
        (
            "aws-iam-authenticator.yaml",
            "aws",
            with_role(vec!["token", "--cluster-id", "prod"]),
        ),
        (
            "aws-iam-authenticator-profile.yaml",
            "aws",
            vec!["token", "--cluster-id", "prod"],
        ),
    ]
}

fn fixture(name: &str) -> PathBuf {
    repo_file(&format!("fixtures/kubeconfigs/{name}"))
}

/// The sandbox's own copy of a fixture, at `~/.kube/config`.
fn copy(s: &Sandbox, name: &str) -> PathBuf {
    s.write(
        ".kube/config",
        &std::fs::read_to_string(fixture(name)).unwrap(),
    )
}

#[test]
fn migrates_what_the_aws_cli_and_the_authenticator_docs_write() {
    for (name, user, args) in cases() {
        let s = Sandbox::new();
        let path = copy(&s, name);
        let before = read_yaml(&path);
        let run = s.run(&["kubeconfig", "migrate"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let peer = if name.starts_with("aws-cli") {
            "aws eks get-token"
        } else {
            "aws-iam-authenticator token"
        };
        let backup = s.path(".kube/config.bak");
        assert_eq!(
            run.stdout,
            format!(
                "migrated {user}: {peer} → eks-token {}\nwrote {} (previous file: {})\n",
                args.join(" "),
                path.display(),
                backup.display()
            ),
            "{name}"
        );
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            std::fs::read(fixture(name)).unwrap()
        );

        let after = read_yaml(&path);
        let exec = &named(&after, "users", user)["user"]["exec"];
        assert_eq!(exec["command"], "eks-token", "{name}");
        assert_eq!(strings(&exec["args"]), args, "{name}");
        // Everything else is what it was: apiVersion, env (AWS_PROFILE), other keys.
        let mut expected = before.clone();
        let old = expected["users"]
            .as_sequence_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["name"] == user)
            .unwrap();
        let old_exec = old["user"]["exec"].as_mapping_mut().unwrap();
        old_exec.insert("command".into(), "eks-token".into());
        old_exec.insert(
            "args".into(),
            Yaml::Sequence(args.iter().map(|a| (*a).into()).collect()),
        );
        assert_eq!(after, expected, "{name}");
        if name.contains("profile") {
            assert_eq!(exec["env"][0]["name"], "AWS_PROFILE", "{name}");
            assert_eq!(exec["env"][0]["value"], "dev", "{name}");
        }

        // A second run finds nothing left to do and writes nothing.
        let written = std::fs::read(&path).unwrap();
        assert_nothing_left(&s, &path);
        assert_eq!(std::fs::read(&path).unwrap(), written);
    }
}

#[test]
fn unrecognised_users_are_left_exactly_as_they_were() {
    let s = Sandbox::new();
    let path = copy(&s, "mixed.yaml");
    let before = read_yaml(&path);
    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "migrated prod: aws eks get-token → eks-token token --cluster-id prod --region eu-west-1"
    );
    assert!(lines.next().unwrap().starts_with("wrote "));
    assert_eq!(lines.next(), None);
    assert_eq!(
        run.stderr,
        "eks-token: note: left user debug unchanged: unknown option --debug\n"
    );

    let after = read_yaml(&path);
    for user in ["gke", "static", "debug", "sts", "done"] {
        assert_eq!(
            named(&after, "users", user),
            named(&before, "users", user),
            "{user}"
        );
    }
    for key in [
        "clusters",
        "contexts",
        "current-context",
        "preferences",
        "extensions",
    ] {
        assert_eq!(after[key], before[key], "{key}");
    }
    // The migrated user keeps its env and other exec fields.
    let exec = &named(&after, "users", "prod")["user"]["exec"];
    let old = &named(&before, "users", "prod")["user"]["exec"];
    assert_eq!(exec["env"], old["env"]);
    assert_eq!(exec["provideClusterInfo"], old["provideClusterInfo"]);
    assert_eq!(exec["apiVersion"], old["apiVersion"]);
}

#[test]
fn dry_run_prints_the_result_and_writes_nothing() {
    let s = Sandbox::new();
    let path = copy(&s, "aws-cli-role.yaml");
    let run = s.run(&["kubeconfig", "migrate", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "eks-token: note: would migrate {ARN_NAME}: aws eks get-token → eks-token token --cluster-id prod --region eu-west-1 --role-arn {ROLE}\n"
        )
    );
    let printed: Yaml = yaml_serde::from_str(&run.stdout).unwrap();
    assert_eq!(
        named(&printed, "users", ARN_NAME)["user"]["exec"]["command"],
        "eks-token"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(fixture("aws-cli-role.yaml")).unwrap()
    );
    assert!(!s.path(".kube/config.bak").exists());
}

#[test]
fn v1alpha1_users_move_to_v1beta1() {
    let s = Sandbox::new();
    let path = s.write(
        ".kube/config",
        "users:\n- name: old\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: aws-iam-authenticator\n      args: [token, -i, c1]\n",
    );
    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("migrated old: aws-iam-authenticator token → eks-token token --cluster-id c1 (apiVersion v1alpha1 → v1beta1)\n"),
        "{}",
        run.stdout
    );
    let after = read_yaml(&path);
    let exec = &named(&after, "users", "old")["user"]["exec"];
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1beta1");
}

#[test]
fn a_missing_kubeconfig_is_an_error() {
    let s = Sandbox::new();
    let run = s.run(&["kubeconfig", "migrate"]);
    run.assert_error(1, "no kubeconfig at");
    assert_eq!(run.hint(), "pass --kubeconfig FILE");
}

#[test]
fn migrated_kubeconfigs_work_with_kubectl() {
    let moto = Process::moto();
    let mut s = Sandbox::new();
    s.endpoint(&moto.url()).env("AWS_REGION", "eu-west-1");
    write_profile_keys(&s);
    let api = fake_eks(&s, "prod", &both_key_pairs(), Some(&moto));
    for (name, _, args) in cases() {
        let path = copy(&s, name);
        let run = s.run(&["kubeconfig", "migrate"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        // Test-only: the fixtures' endpoint is made up; users and contexts stay as migrated.
        point_clusters_at(&path, &api.url(), &api.ca);
        let identity = if args.contains(&ROLE) {
            "arn:aws:sts::123456789012:assumed-role/eks-admin/EKSGetTokenAuth".to_owned()
        } else if name.contains("profile") {
            format!("arn:aws:iam::123456789012:user/{DEV_AK}")
        } else {
            format!("arn:aws:iam::123456789012:user/{AK}")
        };
        assert_kubectl_gets_pods_as(&s, &api, &path, &identity, name);
    }
}

/// kubectl's view of a kubeconfig, with `user`'s exec now running eks-token with `args`.
fn with_eks_token(view: &Value, user: &str, args: &[&str]) -> Value {
    let mut view = view.clone();
    let entry = view["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["name"] == user)
        .unwrap_or_else(|| panic!("no user {user}"));
    entry["user"]["exec"]["command"] = json!("eks-token");
    entry["user"]["exec"]["args"] = json!(args);
    view
}

#[test]
fn yaml_1_1_look_alikes_stay_strings_for_kubectl() {
    let s = Sandbox::new();
    let path = copy(&s, "yaml11-look-alikes.yaml");
    let before = kubectl_view(&s, &path);
    let args = ["token", "--cluster-id", "1_000", "--region", "eu-west-1"];
    let expected = with_eks_token(&before, "Yes", &args);
    let change = format!("Yes: aws eks get-token → eks-token {}", args.join(" "));

    // What --dry-run prints is a kubeconfig kubectl reads the same way.
    let dry = s.run(&["kubeconfig", "migrate", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        dry.stderr,
        format!(
            "eks-token: note: would migrate {change}\n\
             eks-token: note: the comments in {} would not be kept\n",
            path.display()
        )
    );
    let printed = s.write("dry-run.yaml", &dry.stdout);
    assert_eq!(kubectl_view(&s, &printed), expected);

    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let backup = s.path(".kube/config.bak");
    assert_eq!(run.stdout, migrated(&change, &path, &backup));
    assert_eq!(run.stderr, comments_not_kept(&path, &backup));
    assert_eq!(kubectl_view(&s, &path), expected);
    assert_kubectl_reads(
        &s,
        &path,
        "{.contexts[?(@.name==\"no\")].context.namespace}",
        "no",
    );

    // The rewritten file is stable: a second run has nothing to do.
    assert_nothing_left(&s, &path);
}

#[test]
fn users_built_with_yaml_merge_keys_are_migrated() {
    let s = Sandbox::new();
    let path = copy(&s, "merge-keys.yaml");
    let before = kubectl_view(&s, &path);
    let plain = ["token", "--cluster-id", "prod", "--region", "eu-west-1"];
    let mut role = plain.to_vec();
    role.extend(["--role-arn", ROLE]);

    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let backup = s.path(".kube/config.bak");
    assert_eq!(
        run.stdout,
        format!(
            "migrated dev: aws eks get-token → eks-token {}\n\
             migrated admin: aws eks get-token → eks-token {}\n\
             migrated ci: aws eks get-token → eks-token {}\n\
             wrote {} (previous file: {})\n",
            plain.join(" "),
            role.join(" "),
            plain.join(" "),
            path.display(),
            backup.display()
        )
    );
    assert_eq!(run.stderr, comments_not_kept(&path, &backup));
    let expected = with_eks_token(&before, "dev", &plain);
    let expected = with_eks_token(&expected, "admin", &role);
    let expected = with_eks_token(&expected, "ci", &plain);
    assert_eq!(kubectl_view(&s, &path), expected);
}

#[test]
fn a_backup_path_that_is_a_symlink_is_replaced_not_written_through() {
    let s = Sandbox::new();
    let path = copy(&s, "aws-cli.yaml");
    let elsewhere = s.write("elsewhere", "not a kubeconfig\n");
    std::fs::set_permissions(&elsewhere, PermissionsExt::from_mode(0o644)).unwrap();
    let backup = s.path(".kube/config.bak");
    std::os::unix::fs::symlink(&elsewhere, &backup).unwrap();

    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        "not a kubeconfig\n"
    );
    assert_eq!(file_mode(&elsewhere), 0o644);
    assert!(
        std::fs::symlink_metadata(&backup)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(file_mode(&backup), 0o600);
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(fixture("aws-cli.yaml")).unwrap()
    );
    kubectl_view(&s, &path);
}

#[test]
fn a_read_only_kubeconfig_is_not_replaced() {
    let s = Sandbox::new();
    let path = copy(&s, "aws-cli.yaml");
    let original = std::fs::read(&path).unwrap();
    let backup = s.path(".kube/config.bak");
    for read_only in [0o444, 0o400] {
        std::fs::set_permissions(&path, PermissionsExt::from_mode(read_only)).unwrap();
        let run = s.run(&["kubeconfig", "migrate"]);
        run.assert_error(
            1,
            &format!("{} is read-only (mode {read_only:04o})", path.display()),
        );
        assert_eq!(
            run.hint(),
            format!(
                "make it writable (chmod u+w {}) if eks-token may change it, or pass --kubeconfig FILE",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), original);
        assert_eq!(file_mode(&path), read_only);
        assert!(!backup.exists());
    }

    // A writable file in a read-only directory: the rename would replace it all the same.
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o600)).unwrap();
    let dir = s.path(".kube");
    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o555)).unwrap();
    let run = s.run(&["kubeconfig", "migrate"]);
    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o700)).unwrap();
    run.assert_error(
        1,
        &format!(
            "cannot replace {}: {} is read-only (mode 0555)",
            path.display(),
            dir.display()
        ),
    );
    assert_eq!(
        run.hint(),
        format!(
            "make it writable (chmod u+w {}) if eks-token may change it, or pass --kubeconfig FILE",
            dir.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert!(!backup.exists());
}

#[test]
fn every_short_string_reads_back_the_same_in_kubectl() {
    // Every string of up to three characters that number, boolean, null, timestamp and
    // YAML syntax rules are made of, as values and keys, written by kubectl-independent
    // JSON (which YAML readers take as it is).
    let alphabet: Vec<char> = "019._:-+eExXoObnNyY~<=#' \t\n".chars().collect();
    let mut strings = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..3 {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        strings.extend(last.iter().cloned());
    }
    let keys: serde_json::Map<String, Value> =
        strings.iter().map(|s| (s.clone(), json!(s))).collect();
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://c.example"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", "prod"],
        }}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
        "extensions": [{"name": "strings", "extension": {"values": strings, "keys": keys}}],
    });
    let s = Sandbox::new();
    let path = s.write(".kube/config", &doc.to_string());
    let before = kubectl_view(&s, &path);
    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = kubectl_view(&s, &path);
    let expected = with_eks_token(&before, "u", &["token", "--cluster-id", "prod"]);
    let values = |view: &Value| view["extensions"][0]["extension"]["values"].clone();
    let differ: Vec<_> = values(&before)
        .as_array()
        .unwrap()
        .iter()
        .zip(values(&after).as_array().unwrap())
        .filter(|(b, a)| b != a)
        .map(|(b, a)| format!("{b} → {a}"))
        .collect();
    assert!(differ.is_empty(), "{} differ: {differ:?}", differ.len());
    assert_eq!(after, expected);
}

/// The Okta guide's provider and client in the kubelogin fixtures.
const OKTA_ISSUER: &str = "https://dev-123456.okta.com/oauth2/default";
const OKTA_CLIENT: &str = "0oa1b2c3d4EKSkubectl";

/// kubectl's view of a kubeconfig with `user` changed as migrating a kubelogin user
/// changes it: `eks-token oidc` with the flags after `get-token`, `interactiveMode` Never
/// made IfAvailable.
fn with_eks_token_oidc(view: &Value, user: &str) -> Value {
    let exec = &view["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == user)
        .unwrap_or_else(|| panic!("no user {user}"))["user"]["exec"];
    let args: Vec<&str> = exec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "get-token")
        .expect("get-token");
    let mut new_args = vec!["oidc"];
    new_args.extend(&args[at + 1..]);
    let never = exec["interactiveMode"] == "Never";
    let mut view = with_eks_token(view, user, &new_args);
    if never {
        let entry = view["users"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|u| u["name"] == user)
            .unwrap();
        entry["user"]["exec"]["interactiveMode"] = json!("IfAvailable");
    }
    view
}

#[test]
fn migrates_kubelogin_users_as_the_okta_guide_and_kubelogin_setup_write_them() {
    let scopes = "--oidc-extra-scope=email --oidc-extra-scope=offline_access";
    for (name, user, change) in [
        (
            "kubelogin-okta.yaml",
            "oidc-user",
            format!(
                "oidc-user: kubectl oidc-login get-token → eks-token oidc --oidc-issuer-url={OKTA_ISSUER} --oidc-client-id={OKTA_CLIENT} {scopes} --oidc-extra-scope=profile --oidc-extra-scope=openid"
            ),
        ),
        (
            "kubelogin-setup.yaml",
            "oidc",
            format!(
                "oidc: kubectl oidc-login get-token → eks-token oidc --oidc-issuer-url={OKTA_ISSUER} --oidc-client-id={OKTA_CLIENT} {scopes} (interactiveMode Never → IfAvailable, so a login can open the browser)"
            ),
        ),
    ] {
        let s = Sandbox::new();
        let path = copy(&s, name);
        let before = kubectl_view(&s, &path);
        let run = s.run(&["kubeconfig", "migrate"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let backup = s.path(".kube/config.bak");
        assert_eq!(run.stdout, migrated(&change, &path, &backup), "{name}");
        assert!(run.stderr.is_empty(), "{name}: {}", run.stderr);
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            std::fs::read(fixture(name)).unwrap()
        );
        // kubectl loads it and reads exactly the change: command, args, interactiveMode.
        assert_eq!(
            kubectl_view(&s, &path),
            with_eks_token_oidc(&before, user),
            "{name}"
        );
        assert_nothing_left(&s, &path);
    }
}

#[test]
fn kubelogin_users_with_flags_eks_token_refuses_are_left_as_they_are() {
    let s = Sandbox::new();
    let path = copy(&s, "kubelogin-mixed.yaml");
    let before = kubectl_view(&s, &path);
    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let backup = s.path(".kube/config.bak");
    // Every flag kept; the client secret's value never printed.
    assert_eq!(
        run.stdout,
        format!(
            "migrated keycloak: kubelogin get-token → eks-token oidc \
             --oidc-issuer-url=https://keycloak.example.com/realms/eks --oidc-client-id=kubernetes \
             '--oidc-client-secret=(hidden)' --oidc-extra-scope=email,groups --grant-type=device-code \
             --certificate-authority=/etc/ssl/certs/keycloak-ca.pem \
             --token-cache-dir=/home/alice/.kube/cache/oidc-login\n\
             wrote {} (previous file: {})\n",
            path.display(),
            backup.display()
        )
    );
    assert_eq!(
        run.stderr,
        "eks-token: note: left user ci-bot unchanged: --username (kubelogin's flag is not supported by eks-token: \
         the password grant is not supported; use the browser (authcode) or --grant-type device-code)\n\
         eks-token: note: left user lab unchanged: --insecure-skip-tls-verify (kubelogin's flag is not supported by \
         eks-token: eks-token never skips TLS verification; pass the provider's CA with --certificate-authority)\n"
    );
    for secret in ["kubeloginClientSecret-7f3a9c", "kubeloginPassword-91b2"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
    // The migrated user is the only change kubectl sees.
    assert_eq!(
        kubectl_view(&s, &path),
        with_eks_token_oidc(&before, "keycloak")
    );
}

#[test]
fn a_migrated_okta_guide_kubeconfig_lists_pods_through_a_real_openid_provider() {
    let port = free_port();
    let mut s = Sandbox::new();
    let provider = OidcProvider::start(&s, &oidc_config(&[format!("http://localhost:{port}")]));
    let api = fake_eks_oidc(&s, &provider, OIDC_CLIENT_ID, &[OIDC_GROUP]);
    // Test-only: the guide's provider is Okta's; this one is local, and its callback port
    // is one free here (kubelogin takes the flag too, so the file is still the guide's).
    let guide = std::fs::read_to_string(fixture("kubelogin-okta.yaml")).unwrap();
    let local = guide
        .replace(OKTA_ISSUER, &provider.issuer)
        .replace(OKTA_CLIENT, OIDC_CLIENT_ID)
        .replace(
            "      - --oidc-extra-scope=openid\n",
            &format!(
                "      - --oidc-extra-scope=openid\n      - --listen-address=127.0.0.1:{port}\n"
            ),
        );
    assert_ne!(local, guide);
    let path = s.write(".kube/config", &local);
    let run = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    point_clusters_at(&path, &api.url(), &api.ca);
    // kubectl runs the plugin without a terminal here: a browser login all the same.
    use_oidc_browser(&mut s, &provider, OIDC_LOGIN);
    s.env("EKS_TOKEN_LOGIN", "browser");
    let first = kubectl_get_pods(&s, "1.33", &path);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let shown: Vec<&str> = first.stderr.lines().collect();
    assert_eq!(
        shown.first().copied(),
        Some(
            format!(
                "eks-token: log in to {} in the browser; if it does not open, visit:",
                provider.issuer
            )
            .as_str()
        ),
        "{}",
        first.stderr
    );
    assert_eq!(shown.last().copied(), Some(NO_PODS), "{}", first.stderr);
    assert!(api.requests_by(OIDC_EMAIL) > 0);
    // Then from the cache, for both kubectl versions: no sign-in, nothing on stderr.
    assert_kubectl_gets_pods_as(&s, &api, &path, OIDC_EMAIL, "migrated kubelogin user");
    assert_eq!(provider.logins(), 1);
    assert_eq!(api.rejections(), Vec::<String>::new());
}

/// A second run over a migrated file finds nothing to do: the rewrite is stable.
fn assert_nothing_left(s: &Sandbox, path: &Path) {
    let again = s.run(&["kubeconfig", "migrate"]);
    assert_eq!(
        again.stdout,
        format!("nothing to migrate in {}\n", path.display())
    );
}

/// What `kubeconfig migrate` prints when it rewrote `path`, keeping `backup`.
fn migrated(change: &str, path: &Path, backup: &Path) -> String {
    format!(
        "migrated {change}\nwrote {} (previous file: {})\n",
        path.display(),
        backup.display()
    )
}

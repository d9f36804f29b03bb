//! `eks-token whoami` against moto's STS (GetCallerIdentity, AssumeRole) and IAM: an IAM
//! user, an assumed role, and an IAM Identity Center role with its
//! `aws-reserved/sso.amazonaws.com/eu-west-1/` path, each output format field by field.

mod support;

use serde_json::Value;
use support::{Process, Run, Sandbox, boto3, moto_iam_user};

const ACCOUNT: &str = "123456789012";

/// Creates a role in moto and returns the ARN IAM gives it (path included).
fn iam_role(moto: &Process, name: &str, path: &str) -> String {
    let arn = boto3(
        moto,
        "eu-west-1",
        &format!(
            "r = client('iam').create_role(RoleName={name:?}, Path={path:?}, AssumeRolePolicyDocument='{{}}')\n\
             print(json.dumps(r['Role']['Arn']))\n"
        ),
    );
    arn.as_str().unwrap().to_owned()
}

/// A sandbox whose environment holds the keys of IAM user `eng/alice`, made in moto;
/// only STS is pointed at moto, through `AWS_ENDPOINT_URL_STS`.
fn alice(moto: &Process) -> Sandbox {
    let (ak, sk) = moto_iam_user(moto, "alice", "/eng/");
    let mut s = Sandbox::new();
    s.env("AWS_ACCESS_KEY_ID", ak)
        .env("AWS_SECRET_ACCESS_KEY", sk)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL_STS", moto.url());
    s
}

fn ok(run: &Run) -> &str {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    &run.stdout
}

/// `label:  value` lines of the text output.
fn field<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}:")))
        .unwrap_or_else(|| panic!("no {label} in {text:?}"))
        .trim()
}

fn json(run: &Run) -> Value {
    serde_json::from_str(ok(run)).expect("JSON output")
}

/// The aws-auth output parsed as YAML: a one-item list.
fn aws_auth_item(run: &Run) -> yaml_serde::Mapping {
    let items: Vec<yaml_serde::Mapping> = yaml_serde::from_str(ok(run)).expect("YAML list");
    assert_eq!(items.len(), 1, "{}", run.stdout);
    items.into_iter().next().unwrap()
}

fn yaml_str<'a>(m: &'a yaml_serde::Mapping, key: &str) -> &'a str {
    m.get(key)
        .and_then(yaml_serde::Value::as_str)
        .unwrap_or_else(|| panic!("no {key} in {m:?}"))
}

fn yaml_list(m: &yaml_serde::Mapping, key: &str) -> Vec<String> {
    m.get(key)
        .and_then(yaml_serde::Value::as_sequence)
        .unwrap_or_else(|| panic!("no {key} in {m:?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn whoami_for_an_iam_user() {
    let moto = Process::moto();
    let s = alice(&moto);
    let user_arn = format!("arn:aws:iam::{ACCOUNT}:user/eng/alice");

    let run = s.run(&["whoami"]);
    let text = ok(&run);
    assert_eq!(field(text, "account"), ACCOUNT);
    assert_eq!(field(text, "caller"), user_arn);
    assert_eq!(field(text, "maps as"), format!("{user_arn} (user)"));
    assert!(!text.contains("session name"), "{text}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let j = json(&s.run(&["whoami", "--output", "json"]));
    assert_eq!(j["account"], ACCOUNT);
    assert_eq!(j["arn"], user_arn.as_str());
    assert_eq!(j["principalArn"], user_arn.as_str());
    assert_eq!(j["principalType"], "user");
    assert_eq!(j["principalName"], "alice");
    assert_eq!(j["sessionName"], Value::Null);
    assert_eq!(j["notes"], serde_json::json!([]));
    assert!(!j["userId"].as_str().unwrap().is_empty());

    let run = s.run(&["whoami", "-o", "aws-auth"]);
    assert!(
        run.stdout.starts_with("# add to data.mapUsers "),
        "{}",
        run.stdout
    );
    let item = aws_auth_item(&run);
    assert_eq!(yaml_str(&item, "userarn"), user_arn);
    assert_eq!(item.get("rolearn"), None);
    assert_eq!(yaml_str(&item, "username"), "alice");
    assert_eq!(yaml_list(&item, "groups"), ["system:masters"]);

    let run = s.run(&["whoami", "-o", "eksctl", "--cluster-id", "prod"]);
    assert_eq!(
        ok(&run),
        format!(
            "eksctl create iamidentitymapping --cluster prod --region eu-west-1 --arn {user_arn} --username alice --group system:masters\n"
        )
    );

    let run = s.run(&["whoami", "-o", "access-entry", "--cluster-name", "prod"]);
    assert_eq!(
        ok(&run),
        format!(
            "aws eks create-access-entry --cluster-name prod --region eu-west-1 --principal-arn {user_arn}\n\
             aws eks associate-access-policy --cluster-name prod --region eu-west-1 --principal-arn {user_arn} \
             --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy --access-scope type=cluster\n"
        )
    );
}

#[test]
fn whoami_for_an_assumed_role() {
    let moto = Process::moto();
    let s = alice(&moto);
    let role = iam_role(&moto, "eks-admin", "/");
    assert_eq!(role, format!("arn:aws:iam::{ACCOUNT}:role/eks-admin"));
    let as_role = ["--role-arn", role.as_str(), "--session-name", "bob"];
    let whoami = |extra: &[&str]| {
        let mut args = vec!["whoami"];
        args.extend(as_role);
        args.extend(extra);
        s.run(&args)
    };

    let run = whoami(&[]);
    let text = ok(&run);
    let caller = format!("arn:aws:sts::{ACCOUNT}:assumed-role/eks-admin/bob");
    assert_eq!(field(text, "caller"), caller);
    assert_eq!(field(text, "maps as"), format!("{role} (role)"));
    assert_eq!(field(text, "session name"), "bob");
    assert!(field(text, "user id").ends_with(":bob"), "{text}");

    let j = json(&whoami(&["-o", "json"]));
    assert_eq!(j["arn"], caller.as_str());
    assert_eq!(j["principalArn"], role.as_str());
    assert_eq!(j["principalType"], "role");
    assert_eq!(j["principalName"], "eks-admin");
    assert_eq!(j["sessionName"], "bob");
    assert_eq!(j["removedPath"], Value::Null);

    let run = whoami(&["-o", "aws-auth", "--group", "devs", "--group", "viewers"]);
    assert!(
        run.stdout.starts_with("# add to data.mapRoles "),
        "{}",
        run.stdout
    );
    let item = aws_auth_item(&run);
    assert_eq!(yaml_str(&item, "rolearn"), role);
    assert_eq!(item.get("userarn"), None);
    assert_eq!(yaml_str(&item, "username"), "{{SessionName}}");
    assert_eq!(yaml_list(&item, "groups"), ["devs", "viewers"]);

    let run = whoami(&[
        "-o",
        "eksctl",
        "--cluster-id",
        "prod",
        "--username",
        "admin:{{SessionName}}",
    ]);
    assert_eq!(
        ok(&run),
        format!(
            "eksctl create iamidentitymapping --cluster prod --region eu-west-1 --arn {role} --username 'admin:{{{{SessionName}}}}' --group system:masters\n"
        )
    );

    // Without --cluster-id the placeholder cannot run by accident, and a note says why.
    let run = whoami(&["-o", "access-entry", "--policy", "AmazonEKSViewPolicy"]);
    let out = ok(&run);
    assert_eq!(
        out,
        format!(
            "aws eks create-access-entry --cluster-name <cluster-name> --region eu-west-1 --principal-arn {role}\n\
             aws eks associate-access-policy --cluster-name <cluster-name> --region eu-west-1 --principal-arn {role} \
             --policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy --access-scope type=cluster\n"
        )
    );
    assert_eq!(
        run.stderr,
        "eks-token: note: pass --cluster-id to fill in the cluster name\n"
    );
}

#[test]
fn whoami_for_an_sso_role_with_an_aws_reserved_path() {
    let moto = Process::moto();
    let s = alice(&moto);
    let name = "AWSReservedSSO_AdministratorAccess_0123456789abcdef";
    let iam_arn = iam_role(&moto, name, "/aws-reserved/sso.amazonaws.com/eu-west-1/");
    assert_eq!(
        iam_arn,
        format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{name}"),
        "moto keeps the path in the role's IAM ARN"
    );
    // A profile assuming the role by the ARN IAM shows, as a user would paste it.
    s.write(
        ".aws/config",
        &format!(
            "[profile sso-admin]\nrole_arn = {iam_arn}\ncredential_source = Environment\nrole_session_name = alice@example.com\n"
        ),
    );
    let mapped = format!("arn:aws:iam::{ACCOUNT}:role/{name}");

    let run = s.run(&["whoami", "--profile", "sso-admin"]);
    let text = ok(&run);
    assert_eq!(
        field(text, "caller"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/alice@example.com")
    );
    assert_eq!(field(text, "maps as"), format!("{mapped} (role)"));
    assert_ne!(mapped, iam_arn);
    assert_eq!(field(text, "session name"), "alice@example.com");
    let note = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("eks-token: note: "))
        .unwrap_or_else(|| panic!("no note in {:?}", run.stderr));
    assert!(note.contains("IAM Identity Center role"), "{note}");
    assert!(
        note.contains(&format!("role/aws-reserved/sso.amazonaws.com/…/{name}")),
        "{note}"
    );
    assert!(
        note.contains(&format!("must use {mapped} (no path)")),
        "{note}"
    );

    let j = json(&s.run(&["whoami", "--profile", "sso-admin", "-o", "json"]));
    assert_eq!(j["principalArn"], mapped.as_str());
    assert_eq!(j["principalName"], name);
    assert_eq!(j["sessionName"], "alice@example.com");
    assert_eq!(j["notes"].as_array().unwrap().len(), 1);
    assert_eq!(j["notes"][0], note);

    let item = aws_auth_item(&s.run(&["whoami", "--profile", "sso-admin", "-o", "aws-auth"]));
    assert_eq!(yaml_str(&item, "rolearn"), mapped);
    assert_eq!(yaml_str(&item, "username"), "{{SessionName}}");

    let run = s.run(&[
        "whoami",
        "--profile",
        "sso-admin",
        "-o",
        "eksctl",
        "--cluster-id",
        "prod",
    ]);
    assert!(
        ok(&run).contains(&format!(" --arn {mapped} ")),
        "{}",
        run.stdout
    );
    let run = s.run(&[
        "whoami",
        "--profile",
        "sso-admin",
        "-o",
        "access-entry",
        "--cluster-id",
        "prod",
    ]);
    let out = ok(&run);
    assert_eq!(
        out.matches(&format!("--principal-arn {mapped}")).count(),
        2,
        "{out}"
    );
    assert!(!out.contains("aws-reserved"), "{out}");
}

#[test]
fn whoami_without_credentials_fails_with_the_fix() {
    let s = Sandbox::new();
    let run = s.run(&["whoami"]);
    run.assert_error(1, "no AWS credentials found");
    assert!(run.hint().contains("aws configure"), "{}", run.hint());
}

#[test]
fn whoami_reports_rejected_credentials() {
    // Nothing listens there: the call fails and says which call.
    let mut s = Sandbox::new();
    s.env("AWS_ACCESS_KEY_ID", "AKIAWHOAMIREJECTED01")
        .env("AWS_SECRET_ACCESS_KEY", "whoamiSecretSentinel")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1");
    let run = s.run(&["whoami"]);
    run.assert_error(
        1,
        "cannot reach http://127.0.0.1:9 (connection refused) for STS GetCallerIdentity",
    );
    assert!(run.hint().contains("AWS_ENDPOINT_URL"), "{}", run.hint());
    assert!(!run.stderr.contains("whoamiSecretSentinel"));
}

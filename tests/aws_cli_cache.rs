//! The AWS CLI's role session cache (`~/.aws/cli/cache`), both ways, with the AWS CLI v1
//! and boto3 from PyPI against moto: a session either tool cached serves the other with no
//! AssumeRole; in a chain of two roles the highest cached hop serves and only the hops
//! above it are assumed; an edited config gets new sessions; `--no-aws-cli-cache` (and
//! `--no-cache`) neither reads nor writes; `--verbose` says where a session came from and
//! shows none of its secrets.

mod support;

use std::path::Path;

use serde_json::json;
use support::{
    AK, Process, Run, SK, Sandbox, assert_assumed, assume_role_calls, aws_cli_caller, file_mode,
    read_json, role_cache_files, role_cache_name, run_command,
};

const MID: &str = "arn:aws:iam::123456789012:role/mid";
const TOP: &str = "arn:aws:iam::123456789012:role/top";

/// Profile `top` assumes [`TOP`] as session `alice` with the session of profile `mid`,
/// which assumes [`MID`] with `base`'s keys; every AWS call goes to moto.
fn chain(moto: &Process) -> Sandbox {
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1");
    s.write(".aws/config", &config(""));
    s
}

fn config(extra: &str) -> String {
    format!(
        "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile mid]\nrole_arn = {MID}\nsource_profile = base\n\
         [profile top]\nrole_arn = {TOP}\nsource_profile = mid\nrole_session_name = alice\n{extra}"
    )
}

/// Where botocore caches the session of each hop (the session name is left out of the
/// key when botocore makes it up).
fn mid_file(s: &Sandbox) -> std::path::PathBuf {
    s.path(&format!(
        ".aws/cli/cache/{}.json",
        role_cache_name(&json!({"RoleArn": MID}))
    ))
}

fn top_file(s: &Sandbox) -> std::path::PathBuf {
    s.path(&format!(
        ".aws/cli/cache/{}.json",
        role_cache_name(&json!({"RoleArn": TOP, "RoleSessionName": "alice"}))
    ))
}

/// `eks-token token -i CLUSTER --profile top FLAGS`.
fn token_top(s: &Sandbox, cluster: &str, flags: &[&str]) -> Run {
    let mut args = vec!["token", "-i", cluster, "--profile", "top"];
    args.extend_from_slice(flags);
    s.run(&args)
}

/// The secrets of a cached session file.
fn secrets_of(path: &Path) -> [String; 2] {
    let session = read_json(path);
    ["SecretAccessKey", "SessionToken"].map(|k| {
        session["Credentials"][k]
            .as_str()
            .unwrap_or_else(|| panic!("{} has no {k}", path.display()))
            .to_owned()
    })
}

#[test]
fn a_session_the_aws_cli_cached_serves_eks_token_without_an_assume_role() {
    let moto = Process::moto();
    let s = chain(&moto);
    let caller = aws_cli_caller(&s, "top");
    assert!(caller.ends_with(":assumed-role/top/alice"), "{caller}");
    assert_eq!(assume_role_calls(&moto), 2);
    let mut files = vec![mid_file(&s), top_file(&s)];
    files.sort();
    assert_eq!(role_cache_files(&s), files);

    let run = token_top(&s, "c", &["--verbose"]);
    assert_eq!(assume_role_calls(&moto), 2, "{}", run.stderr);
    let session = assert_assumed(&moto, &run.token(), "c", "top");
    assert_eq!(session["arn"], caller);
    let expires = read_json(&top_file(&s))["Credentials"]["Expiration"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        run.stderr.contains(&format!(
            "role session for {TOP} from the AWS CLI cache (expires {}",
            &expires[..19]
        )),
        "{}",
        run.stderr
    );
    for secret in secrets_of(&top_file(&s))
        .iter()
        .chain(&secrets_of(&mid_file(&s)))
    {
        assert!(!run.stderr.contains(secret.as_str()), "{}", run.stderr);
    }
    assert!(!run.stderr.contains(SK));
}

#[test]
fn sessions_eks_token_gets_serve_the_aws_cli_without_an_assume_role() {
    let moto = Process::moto();
    let s = chain(&moto);
    let run = token_top(&s, "c", &[]);
    let session = assert_assumed(&moto, &run.token(), "c", "top");
    assert_eq!(assume_role_calls(&moto), 2);
    // Both hops, where and as botocore writes them: private, the AssumeRole answer.
    let mut files = vec![mid_file(&s), top_file(&s)];
    files.sort();
    assert_eq!(role_cache_files(&s), files);
    assert_eq!(file_mode(&s.path(".aws/cli/cache")), 0o700);
    for file in &files {
        assert_eq!(file_mode(file), 0o600, "{}", file.display());
    }
    let top = read_json(&top_file(&s));
    assert_eq!(top["Credentials"]["AccessKeyId"], session["access_key_id"]);
    assert_eq!(top["Credentials"]["AccountId"], "123456789012");
    assert_eq!(top["AssumedRoleUser"]["Arn"], session["arn"]);
    let expiration = top["Credentials"]["Expiration"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(expiration, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
        "{expiration}"
    );

    assert_eq!(aws_cli_caller(&s, "top"), session["arn"].as_str().unwrap());
    assert_eq!(
        aws_cli_caller(&s, "mid").rsplit_once('/').unwrap().0,
        "arn:aws:sts::123456789012:assumed-role/mid"
    );
    assert_eq!(assume_role_calls(&moto), 2, "the AWS CLI asked STS again");
}

/// boto3 outside the AWS CLI writes the expiry it parsed (`…UTC`, botocore's
/// `JSONFileCache`), not STS's text.
#[test]
fn a_session_boto3_cached_in_its_own_form_serves_eks_token() {
    let moto = Process::moto();
    let s = chain(&moto);
    let code = "import boto3, os\n\
                from botocore.utils import JSONFileCache\n\
                session = boto3.Session(profile_name='mid')\n\
                provider = session._session.get_component('credential_provider').get_provider('assume-role')\n\
                provider.cache = JSONFileCache(os.path.expanduser('~/.aws/cli/cache'))\n\
                print(session.client('sts').get_caller_identity()['Arn'])";
    let boto3 = run_command(s.command_of(support::python(), &["-c", code]));
    assert_eq!(boto3.code, 0, "boto3: {}", boto3.stderr);
    assert_eq!(assume_role_calls(&moto), 1);
    let expiration = read_json(&mid_file(&s))["Credentials"]["Expiration"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(expiration.ends_with("UTC"), "{expiration}");

    let run = s.run(&["token", "-i", "c", "--profile", "mid"]);
    let session = assert_assumed(&moto, &run.token(), "c", "mid");
    assert_eq!(session["arn"].as_str().unwrap(), boto3.stdout.trim());
    assert_eq!(assume_role_calls(&moto), 1);
}

#[test]
fn only_the_hops_above_the_highest_cached_one_are_assumed() {
    let moto = Process::moto();
    let s = chain(&moto);
    aws_cli_caller(&s, "top");
    assert_eq!(assume_role_calls(&moto), 2);

    // The top hop alone is cached: it serves, nothing is assumed.
    std::fs::remove_file(mid_file(&s)).unwrap();
    let run = token_top(&s, "c1", &[]);
    assert_assumed(&moto, &run.token(), "c1", "top");
    assert_eq!(assume_role_calls(&moto), 2);
    assert!(!mid_file(&s).exists(), "the base hop was assumed after all");

    // The middle hop alone is cached: only the top is assumed, signed by its session.
    aws_cli_caller(&s, "mid");
    assert_eq!(assume_role_calls(&moto), 3);
    std::fs::remove_file(top_file(&s)).unwrap();
    let run = token_top(&s, "c2", &["--no-credential-cache"]);
    assert_assumed(&moto, &run.token(), "c2", "top");
    assert_eq!(assume_role_calls(&moto), 4);
    assert!(top_file(&s).exists());
}

#[test]
fn an_edited_config_gets_new_sessions_although_the_key_is_the_same() {
    let moto = Process::moto();
    let s = chain(&moto);
    aws_cli_caller(&s, "top");
    assert_eq!(assume_role_calls(&moto), 2);
    s.write(".aws/config", &config("# edited\n"));
    let run = token_top(&s, "c", &[]);
    assert_assumed(&moto, &run.token(), "c", "top");
    assert_eq!(assume_role_calls(&moto), 4, "both hops assumed again");
    // Written again, they serve the next run.
    let run = token_top(&s, "c2", &["--no-credential-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 4);
}

#[test]
fn no_aws_cli_cache_neither_reads_nor_writes_it() {
    let moto = Process::moto();
    let mut s = chain(&moto);
    let run = token_top(&s, "c1", &["--no-aws-cli-cache"]);
    assert_assumed(&moto, &run.token(), "c1", "top");
    assert_eq!(assume_role_calls(&moto), 2);
    assert!(
        !s.path(".aws/cli").exists(),
        "written with --no-aws-cli-cache"
    );

    aws_cli_caller(&s, "top");
    assert_eq!(assume_role_calls(&moto), 4);
    let files = role_cache_files(&s);
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for (i, args) in [
        &["--no-aws-cli-cache", "--no-credential-cache"][..],
        &["--no-cache"],
    ]
    .into_iter()
    .enumerate()
    {
        let cluster = format!("c{}", i + 2);
        let run = token_top(&s, &cluster, args);
        assert_assumed(&moto, &run.token(), &cluster, "top");
        assert_eq!(assume_role_calls(&moto), 6 + 2 * i, "{args:?}");
    }
    s.env("EKS_TOKEN_NO_AWS_CLI_CACHE", "1");
    let run = token_top(&s, "c4", &["--no-credential-cache"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assume_role_calls(&moto), 10);
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after, "the AWS CLI's sessions were rewritten");
}

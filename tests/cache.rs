//! The on-disk token cache through the real binary: hits without AWS, keys, safety,
//! `cache list` / `cache clear`, one AssumeRole under a stampede, no torn reads.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    AK, DEV_AK, DEV_SK, Process, SK, Sandbox, assume_role_calls, env_creds, verify_token,
};

const ROLE: &str = "arn:aws:iam::123456789012:role/cached";

fn cache_dir(s: &Sandbox) -> PathBuf {
    s.path(".kube/cache/eks-token")
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_hit_is_served_without_aws_and_no_cache_bypasses_it() {
    let moto = Process::moto();
    let mut s = env_creds();
    s.endpoint(&moto.url());
    let first = s.run(&["token", "-i", "c", "-r", ROLE]);
    assert_eq!(assume_role_calls(&moto), 1);
    let entry = entries(&cache_dir(&s));
    assert_eq!(entry.len(), 1);
    let text = std::fs::read_to_string(&entry[0]).unwrap();
    assert!(text.contains(&first.token()), "the entry holds the token");
    assert!(!text.contains(SK), "the entry holds no secret key");

    let second = s.run(&["token", "-i", "c", "-r", ROLE]);
    assert_eq!(second.token(), first.token());
    assert_eq!(assume_role_calls(&moto), 1, "a hit makes no AWS call");
    assert!(second.stderr.is_empty(), "{}", second.stderr);

    // Same shape and apiVersion negotiation as a fresh token.
    s.env("KUBERNETES_EXEC_INFO", support::EXEC_INFO_V1);
    let v1 = s.run(&["token", "-i", "c", "-r", ROLE]).credential();
    assert_eq!(v1["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(v1["status"]["token"].as_str().unwrap(), first.token());
    let only = s.run(&["token", "-i", "c", "-r", ROLE, "--token-only"]);
    assert_eq!(only.stdout.trim_end(), first.token());

    let fresh = s.run(&["token", "-i", "c", "-r", ROLE, "--no-cache"]);
    assert_eq!(assume_role_calls(&moto), 2);
    assert_ne!(fresh.token(), first.token());
    drop(moto);
    assert_eq!(
        s.run(&["token", "-i", "c", "-r", ROLE]).token(),
        first.token(),
        "a hit needs no STS at all"
    );
}

#[test]
fn no_cache_writes_nothing() {
    let s = env_creds();
    s.run(&["token", "-i", "c", "--no-cache"]).token();
    assert!(!s.path(".kube").exists());
}

#[test]
fn every_key_component_gets_its_own_entry() {
    let mut s = env_creds();
    s.write(
        ".aws/credentials",
        &format!("[other]\naws_access_key_id = {DEV_AK}\naws_secret_access_key = {DEV_SK}\n"),
    );
    let dir = cache_dir(&s);
    let expect = std::cell::Cell::new(0);
    let check = |s: &Sandbox, args: &[&str], secret: &str| {
        let mut full = vec!["token"];
        full.extend_from_slice(args);
        let token = s.run(&full).token();
        verify_token(&token, args[1], secret);
        expect.set(expect.get() + 1);
        assert_eq!(
            entries(&dir).len(),
            expect.get(),
            "{args:?} reused another entry"
        );
        token
    };
    let base = check(&s, &["-i", "c"], SK);
    check(&s, &["-i", "d"], SK);
    check(&s, &["-i", "c", "--region", "us-west-2"], SK);
    check(&s, &["-i", "c", "--profile", "other"], DEV_SK);
    s.env("AWS_ACCESS_KEY_ID", DEV_AK);
    check(&s, &["-i", "c"], SK);
    s.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://127.0.0.1:9/creds",
    );
    check(&s, &["-i", "c"], SK);
    s.env("AWS_ROLE_ARN", ROLE)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent");
    check(&s, &["-i", "c"], SK);
    s.env("AWS_USE_FIPS_ENDPOINT", "true");
    check(&s, &["-i", "c"], SK);
    // Back to the first inputs: the first entry is served again, nothing new is written.
    for var in [
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_USE_FIPS_ENDPOINT",
    ] {
        s.env(var, "");
    }
    s.env("AWS_ACCESS_KEY_ID", AK);
    assert_eq!(s.run(&["token", "-i", "c"]).token(), base);
    assert_eq!(entries(&dir).len(), expect.get());
    // Editing a config file invalidates: a new modification time is a new key.
    s.write(".aws/config", "[default]\nregion = eu-west-1\n");
    check(&s, &["-i", "c"], SK);
    // Also when the file is named with `~/`, which the SDK expands.
    s.env("AWS_CONFIG_FILE", "~/custom-config");
    s.write("custom-config", "[default]\nregion = eu-west-1\n");
    check(&s, &["-i", "c"], SK);
    s.write("custom-config", "[default]\nregion = eu-west-1\n# edited\n");
    check(&s, &["-i", "c"], SK);
}

#[test]
fn cache_location_flag_then_env_then_kubecachedir() {
    let mut s = env_creds();
    let flag = s.path("flag");
    let env_dir = s.path("env");
    let kube = s.path("kubecache");
    s.env("KUBECACHEDIR", kube.to_str().unwrap());
    s.run(&["token", "-i", "c"]).token();
    assert_eq!(entries(&kube.join("eks-token")).len(), 1);
    s.env("EKS_TOKEN_CACHE_DIR", env_dir.to_str().unwrap());
    s.run(&["token", "-i", "c"]).token();
    assert_eq!(entries(&env_dir).len(), 1);
    s.run(&["token", "-i", "c", "--cache-dir", flag.to_str().unwrap()])
        .token();
    assert_eq!(entries(&flag).len(), 1);
    assert!(!cache_dir(&s).exists());
}

#[test]
fn an_unusable_cache_still_prints_the_token_with_a_warning() {
    let s = env_creds();
    let file = s.write("not-a-dir", "x");
    let run = s.run(&[
        "token",
        "-i",
        "c",
        "--cache-dir",
        file.join("sub").to_str().unwrap(),
    ]);
    verify_token(&run.token(), "c", SK);
    assert!(
        run.stderr
            .starts_with("eks-token: warning: not using the token cache:"),
        "{}",
        run.stderr
    );

    let open = s.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = s.run(&["token", "-i", "c", "--cache-dir", open.to_str().unwrap()]);
    verify_token(&run.token(), "c", SK);
    assert!(
        run.stderr
            .contains("is accessible to other users (mode 0755)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("chmod go-rwx"), "{}", run.stderr);
    assert!(
        entries(&open).is_empty(),
        "nothing cached in a shared directory"
    );
}

#[test]
fn cache_list_and_clear() {
    let moto = Process::moto();
    let mut s = env_creds();
    s.endpoint(&moto.url());
    let a = s.run(&["token", "-i", "alpha"]).token();
    let b = s
        .run(&["token", "-i", "beta", "-r", ROLE, "--region", "us-east-2"])
        .token();
    let list = s.run(&["cache", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    // Three token lines, a blank line, and the role credentials beta's token used.
    assert_eq!(lines.len(), 6, "{}", list.stdout);
    assert!(lines[3].is_empty() && lines[4].starts_with("CREDENTIALS"));
    assert!(
        lines[5].starts_with("environment variables") && lines[5].contains(ROLE),
        "{}",
        lines[5]
    );
    assert!(lines[0].starts_with("CLUSTER") && lines[0].ends_with("EXPIRES-IN"));
    assert!(
        lines[1].starts_with("alpha") && lines[1].contains("eu-west-1") && lines[1].contains("13m"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("beta") && lines[2].contains("us-east-2") && lines[2].contains(ROLE),
        "{}",
        lines[2]
    );

    let json = s.run(&["cache", "list", "--output", "json"]);
    let items: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(items[1]["cluster"], "beta");
    assert_eq!(items[1]["role"], ROLE);
    assert_eq!(items[1]["sts_host"], "sts.us-east-2.amazonaws.com");
    assert!(items[1]["expires_in_seconds"].as_i64().unwrap() > 13 * 60);
    for out in [&list.stdout, &json.stdout] {
        assert!(
            !out.contains(&a)
                && !out.contains(&b)
                && !out.contains("k8s-aws-v1")
                && !out.contains(SK)
        );
    }

    let cleared = s.run(&["cache", "clear", "--cluster-id", "beta"]);
    assert_eq!(
        cleared.stdout,
        "removed 1 cached token and 0 cached credentials\n"
    );
    assert_eq!(entries(&cache_dir(&s)).len(), 1);
    assert_eq!(
        s.run(&["cache", "clear"]).stdout,
        "removed 1 cached token and 1 cached credential\n"
    );
    assert_eq!(s.run(&["cache", "list"]).stdout.lines().count(), 1);
}

#[test]
fn a_stampede_of_32_cold_starts_makes_one_assume_role_call() {
    let moto = Process::moto();
    let mut s = Sandbox::new();
    s.endpoint(&moto.url())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_PROFILE", "dev");
    s.write(
        ".aws/config",
        &format!(
            "[profile base]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
         [profile dev]\nrole_arn = {ROLE}\nsource_profile = base\n"
        ),
    );
    let children: Vec<_> = (0..32)
        .map(|_| {
            s.command(&["token", "-i", "stampede"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<support::Run> = children
        .into_iter()
        .map(|c| support::Run::from_output(c.wait_with_output().unwrap(), Duration::ZERO))
        .collect();
    let first = runs[0].token();
    for run in &runs {
        assert_eq!(run.token(), first);
    }
    assert_eq!(assume_role_calls(&moto), 1);
    let entry = entries(&cache_dir(&s));
    assert_eq!(entry.len(), 1);
    let parsed: Value = serde_json::from_str(&std::fs::read_to_string(&entry[0]).unwrap()).unwrap();
    assert_eq!(parsed["token"], first.as_str());
}

#[test]
fn writers_killed_at_random_points_never_leave_a_torn_entry() {
    let s = env_creds();
    let dir = cache_dir(&s);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seed = std::process::id() as u64;
    let mut seen_whole = 0;
    for round in 0..60 {
        if Instant::now() > deadline {
            break;
        }
        for e in entries(&dir) {
            std::fs::remove_file(e).unwrap();
        }
        let mut child = s
            .command(&["token", "-i", "killed"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros(seed >> 33 & 0x3fff);
        let start = Instant::now();
        // Read as fast as possible while the writer runs, then kill it.
        while start.elapsed() < delay {
            for e in entries(&dir) {
                if let Ok(text) = std::fs::read_to_string(&e) {
                    let v: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|_| panic!("round {round}: torn entry {text:?}"));
                    assert!(v["token"].as_str().unwrap().starts_with("k8s-aws-v1."));
                    seen_whole += 1;
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        for e in entries(&dir) {
            let text = std::fs::read_to_string(&e).unwrap();
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|_| panic!("round {round}: torn entry after kill"));
        }
    }
    assert!(
        seen_whole > 0 || !entries(&dir).is_empty(),
        "no writer ever finished: the delays are too short to test anything"
    );
    // Whatever was left behind, the next run answers correctly.
    verify_token(&s.run(&["token", "-i", "killed"]).token(), "killed", SK);
}

/// Every file in `dir` with its bytes, sorted by name.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// What `--cache-dir ~/work` finds: a private project directory whose files look a bit
/// like the cache's (`.json`, `.lock`, `.tmp`, an eks-token entry under another name, a
/// cache-like name with other content), all 0600 and two minutes old, as prune wants them.
fn project_dir(s: &Sandbox) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let work = s.path("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700)).unwrap();
    let expired_entry = format!(
        r#"{{"format":1,"key":"{key}","cluster":"c","region":"eu-west-1","sts_host":"sts.eu-west-1.amazonaws.com","profile":null,"role":null,"expires_at":"2020-01-01T00:00:00Z","token":"k8s-aws-v1.aGVsbG8"}}"#,
        key = "ab".repeat(32)
    );
    let files = [
        ("package.json", r#"{"name": "app", "version": "1.0.0"}"#),
        ("tsconfig.json", r#"{"compilerOptions": {"strict": true}}"#),
        ("notes.tmp", "draft\n"),
        ("Cargo.lock", "version = 3\n"),
        ("backup.json", expired_entry.as_str()),
        (
            &format!("{}.json", "cd".repeat(32)),
            r#"{"name": "not a token"}"#,
        ),
    ];
    let old = std::time::SystemTime::now() - Duration::from_secs(120);
    for (name, text) in files {
        let path = work.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    work
}

#[test]
fn cache_clear_and_list_refuse_a_directory_that_holds_other_files() {
    let s = env_creds();
    let work = project_dir(&s);
    let work_arg = work.to_str().unwrap();
    let before = snapshot(&work);
    for args in [
        &["cache", "clear", "--cache-dir", work_arg][..],
        &[
            "cache",
            "clear",
            "--cluster-id",
            "c",
            "--cache-dir",
            work_arg,
        ],
        &["cache", "list", "--cache-dir", work_arg],
    ] {
        let run = s.run(args);
        run.assert_error(
            1,
            &format!("{work_arg} holds files that are not eks-token's"),
        );
        // The first few names, sorted, and the count of the rest.
        assert!(
            run.stderr.contains(": Cargo.lock, backup.json, ")
                && run.stderr.contains(" … and 1 more"),
            "{}",
            run.stderr
        );
        assert!(
            run.hint().contains("a directory of its own"),
            "{}",
            run.stderr
        );
        assert_eq!(snapshot(&work), before, "{args:?} changed the directory");
    }
}

#[test]
fn a_token_run_on_a_directory_with_other_files_warns_and_touches_nothing() {
    let s = env_creds();
    let work = project_dir(&s);
    let work_arg = work.to_str().unwrap();
    let before = snapshot(&work);
    let run = s.run(&["token", "-i", "c", "--cache-dir", work_arg]);
    verify_token(&run.token(), "c", SK);
    let warning = format!(
        "eks-token: warning: not using the token cache: {work_arg} holds files that are not eks-token's"
    );
    assert!(run.stderr.starts_with(&warning), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(
        snapshot(&work),
        before,
        "nothing pruned, nothing locked or stored"
    );
}

#[test]
fn an_entry_planted_for_another_request_is_not_served() {
    use std::collections::BTreeSet;
    let mut s = env_creds();
    let dir = cache_dir(&s);
    // Mints `args` and returns its token and the entry file the run added.
    let mint = |s: &Sandbox, args: &[&str]| {
        let before: BTreeSet<_> = entries(&dir).into_iter().collect();
        let token = s.run(args).token();
        let after: BTreeSet<_> = entries(&dir).into_iter().collect();
        let added: Vec<_> = after.difference(&before).cloned().collect();
        assert_eq!(added.len(), 1, "{args:?}");
        (token, added[0].clone())
    };
    let stem = |p: &Path| p.file_stem().unwrap().to_str().unwrap().to_owned();
    // Copies `from`'s entry to `to`'s file name, its key rewritten to match the name.
    let plant = |from: &Path, to: &Path| {
        let text = std::fs::read_to_string(from).unwrap();
        std::fs::write(to, text.replace(&stem(from), &stem(to))).unwrap();
    };
    let (alpha, alpha_file) = mint(&s, &["token", "-i", "alpha"]);
    let (_, beta_file) = mint(&s, &["token", "-i", "beta"]);
    let (alpha_us, alpha_us_file) = mint(&s, &["token", "-i", "alpha", "--region", "us-east-2"]);
    s.env("AWS_USE_FIPS_ENDPOINT", "true");
    let (_, alpha_fips_file) = mint(&s, &["token", "-i", "alpha"]);
    s.env("AWS_USE_FIPS_ENDPOINT", "");

    // Another cluster's token under beta's name.
    plant(&alpha_file, &beta_file);
    let run = s.run(&["token", "-i", "beta"]);
    assert_ne!(run.token(), alpha, "alpha's token served for beta");
    verify_token(&run.token(), "beta", SK);
    let replaced = std::fs::read_to_string(&beta_file).unwrap();
    assert!(replaced.contains(r#""cluster":"beta""#), "{replaced}");

    // Another region's token where the request names eu-west-1 (AWS_REGION).
    plant(&alpha_us_file, &alpha_file);
    let token = s.run(&["token", "-i", "alpha"]).token();
    assert_ne!(token, alpha_us, "a us-east-2 token served for eu-west-1");
    assert_eq!(verify_token(&token, "alpha", SK)["region"], "eu-west-1");

    // A plain STS host where AWS_USE_FIPS_ENDPOINT asks for the FIPS one.
    plant(&alpha_file, &alpha_fips_file);
    s.env("AWS_USE_FIPS_ENDPOINT", "true");
    let token = s.run(&["token", "-i", "alpha"]).token();
    assert_eq!(
        verify_token(&token, "alpha", SK)["host"],
        "sts-fips.eu-west-1.amazonaws.com"
    );
}

#[test]
fn a_symlinked_cache_dir_is_refused_however_it_is_spelled() {
    use std::os::unix::fs::PermissionsExt;
    let s = env_creds();
    let real = s.path("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, s.path("link")).unwrap();
    let link = s.path("link").display().to_string();
    for spelled in [
        link.clone(),
        format!("{link}/"),
        format!("{link}//"),
        format!("{link}/."),
    ] {
        let run = s.run(&["token", "-i", "c", "--cache-dir", &spelled]);
        verify_token(&run.token(), "c", SK);
        assert!(
            run.stderr.contains("is a symbolic link"),
            "{spelled}: {}",
            run.stderr
        );
        assert!(
            std::fs::read_dir(&real).unwrap().next().is_none(),
            "{spelled}: written through the link"
        );
        s.run(&["cache", "list", "--cache-dir", &spelled])
            .assert_error(1, "is a symbolic link");
    }
}

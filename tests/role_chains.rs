//! Role profile chains as eks-token walks them, through the real binary against moto
//! (STS relayed by `stub_server.py`, which records what each call asked for): every kind
//! of base credentials (a source profile's keys, `credential_source = Environment`, a
//! profile naming itself, a `credential_process`, an IAM Identity Center login) under a
//! role with `duration_seconds`, sent as botocore sends it and honoured by STS; a bad
//! `duration_seconds` is a config error before any call; a cached role session serves
//! while the SSO login below it has lapsed.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use support::{
    AK, DEV_AK, DEV_SK, Process, SK, Sandbox, assert_assumed, credential_process_fixture,
    read_json, role_cache_name, sts_calls, sts_recorder, utc_in, write_sso_login,
};

const ACCOUNT: &str = "123456789012";
const DURATION: i64 = 1800;
const START: &str = "https://example.awsapps.com/start";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// A sandbox whose STS and SSO portal calls go to a recorder: STS relayed to moto, the
/// portal handing out `Admin` in [`ACCOUNT`].
fn sso_portal(moto: &Process) -> (Sandbox, Process) {
    let mut s = Sandbox::new();
    let sso = json!({"sso": {"access_token": "ssoAccessTokenSentinel",
        "roles": [{"account_id": ACCOUNT, "role_name": "Admin",
                   "access_key_id": "ASIASSOPORTALKEY0001", "secret_access_key": "ssoSecret/1",
                   "session_token": "sso+session/token="}]}});
    let recorder = sts_recorder(&s, moto, &sso);
    s.env("AWS_ENDPOINT_URL_STS", recorder.url())
        .env("AWS_ENDPOINT_URL_SSO", recorder.url())
        .env("AWS_REGION", "eu-west-1");
    (s, recorder)
}

/// Profile `sso`: role `Admin` in [`ACCOUNT`] through the IAM Identity Center session
/// `corp`, whose login [`sso_login`] caches.
fn sso_profile() -> String {
    format!(
        "[profile sso]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = Admin\n\
         [sso-session corp]\nsso_start_url = {START}\nsso_region = eu-west-1\n"
    )
}

/// Caches the login of session `corp` (the portal's access token), to expire `expires`
/// from now.
fn sso_login(s: &Sandbox, expires: TimeDelta) {
    write_sso_login(
        s,
        "corp",
        &json!({"startUrl": START, "region": "eu-west-1",
            "accessToken": "ssoAccessTokenSentinel", "expiresAt": utc_in(expires)}),
    );
}

#[test]
fn every_kind_of_base_credentials_walks_to_a_role_with_its_duration() {
    let moto = Process::moto();
    let (mut s, recorder) = sso_portal(&moto);
    // For `credential_source = Environment`; --profile outranks them elsewhere.
    s.env("AWS_ACCESS_KEY_ID", AK)
        .env("AWS_SECRET_ACCESS_KEY", SK);
    let hop = |name: &str, source: &str| {
        format!(
            "[profile from-{name}]\nrole_arn = {}\n{source}\nduration_seconds = {DURATION}\n",
            role(&format!("from-{name}"))
        )
    };
    s.write(
        ".aws/config",
        &[
            format!("[profile keys]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n"),
            hop("keys", "source_profile = keys"),
            hop("env", "credential_source = Environment"),
            format!(
                "[profile from-self]\nrole_arn = {}\nsource_profile = from-self\naws_access_key_id = {DEV_AK}\naws_secret_access_key = {DEV_SK}\nduration_seconds = {DURATION}\n",
                role("from-self")
            ),
            format!(
                "[profile process]\ncredential_process = {} --access-key-id ASIAPROCESSKEY000001 --secret procSecret\n",
                credential_process_fixture()
            ),
            hop("process", "source_profile = process"),
            sso_profile(),
            hop("sso", "source_profile = sso"),
        ]
        .concat(),
    );
    sso_login(&s, TimeDelta::hours(1));

    for base in ["keys", "env", "self", "process", "sso"] {
        let profile = format!("from-{base}");
        let asked = Utc::now();
        let run = s.run(&["token", "-i", "c", "--profile", &profile]);
        let session = assert_assumed(&moto, &run.token(), "c", &profile);
        // botocore's session name when the profile names none.
        let name = session["session_name"].as_str().unwrap();
        assert!(
            name.strip_prefix("botocore-session-")
                .is_some_and(|n| n.parse::<u64>().is_ok()),
            "{name}"
        );
        let calls = sts_calls(&recorder);
        let call = calls.last().unwrap();
        assert_eq!(call["Action"], "AssumeRole", "{profile}");
        assert_eq!(call["RoleArn"], role(&profile));
        assert_eq!(call["DurationSeconds"], DURATION.to_string());
        assert!(call.get("SerialNumber").is_none(), "{call}");
        // STS honoured it: the session, cached where the AWS CLI finds it, lasts that long.
        let cached = read_json(&s.path(&format!(
            ".aws/cli/cache/{}.json",
            role_cache_name(&json!({"RoleArn": role(&profile), "DurationSeconds": DURATION}))
        )));
        let expires: DateTime<Utc> = cached["Credentials"]["Expiration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let lasts = (expires - asked).num_seconds();
        assert!(
            (DURATION - 5..=DURATION + 5).contains(&lasts),
            "{profile}: the session lasts {lasts} s"
        );
        assert_eq!(
            cached["Credentials"]["AccessKeyId"],
            session["access_key_id"]
        );
    }
    assert_eq!(sts_calls(&recorder).len(), 5, "one AssumeRole per profile");
}

#[test]
fn a_duration_that_is_not_a_number_is_a_config_error_before_any_call() {
    let moto = Process::moto();
    let mut s = Sandbox::new();
    let recorder = sts_recorder(&s, &moto, &json!({}));
    s.env("AWS_ENDPOINT_URL_STS", recorder.url())
        .env("AWS_REGION", "eu-west-1");
    s.write(
        ".aws/config",
        &format!(
            "[profile keys]\naws_access_key_id = {AK}\naws_secret_access_key = {SK}\n\
             [profile mid]\nrole_arn = {}\nsource_profile = keys\nduration_seconds = 1h\n\
             [profile top]\nrole_arn = {}\nsource_profile = mid\n",
            role("mid"),
            role("top")
        ),
    );
    let run = s.run(&["token", "-i", "c", "--profile", "top"]);
    run.assert_error(
        1,
        "profile mid is not usable: duration_seconds = 1h is not a whole number of seconds",
    );
    assert!(
        run.hint()
            .starts_with("fix [profile mid] in the AWS config"),
        "{}",
        run.hint()
    );
    assert_eq!(sts_calls(&recorder), Vec::<Value>::new());
}

/// botocore needs no base credentials while a hop's session is cached: neither does
/// eks-token, so an IAM Identity Center login that lapsed under a cached role session is
/// not asked for (nor renewed) until that session runs out.
#[test]
fn a_cached_role_session_serves_while_the_sso_login_below_it_has_lapsed() {
    let moto = Process::moto();
    let (s, stub) = sso_portal(&moto);
    s.write(
        ".aws/config",
        &format!(
            "{}[profile admin]\nrole_arn = {}\nsource_profile = sso\n",
            sso_profile(),
            role("admin")
        ),
    );
    let portal_calls = || {
        let stats: Value =
            serde_json::from_str(&support::http_get(&format!("{}/_stats", stub.url()))).unwrap();
        stats["sso"]["total"].as_u64().unwrap()
    };
    sso_login(&s, TimeDelta::hours(1));
    let run = s.run(&["token", "-i", "c1", "--profile", "admin"]);
    assert_assumed(&moto, &run.token(), "c1", "admin");
    assert_eq!((portal_calls(), sts_calls(&stub).len()), (1, 1));

    sso_login(&s, TimeDelta::minutes(-5));
    let run = s.run(&[
        "token",
        "-i",
        "c2",
        "--profile",
        "admin",
        "--no-credential-cache",
    ]);
    assert_assumed(&moto, &run.token(), "c2", "admin");
    assert_eq!((portal_calls(), sts_calls(&stub).len()), (1, 1));

    // Without the cached session, the lapsed login is what is missing.
    let run = s.run(&["token", "-i", "c3", "--profile", "admin", "--no-cache"]);
    run.assert_error(1, "the SSO login for profile sso is missing or expired");
    assert_eq!((portal_calls(), sts_calls(&stub).len()), (1, 1));
}

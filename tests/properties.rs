//! Property tests (proptest, stable toolchain): the parsers of untrusted input never panic
//! and keep their promises for any input. Those named `fuzz_…` are fuzzing: they check
//! that a parser never panics, and little more; the others check a promise. Case counts
//! are bounded so the suite stays fast; failing inputs are kept in
//! `tests/proptest-regressions/properties.txt` and replayed first on every run.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use aws_credential_types::Credentials;
use chrono::{DateTime, TimeDelta};
use clap::{CommandFactory, Parser};
use eks_token::cli::{self, Cli, Command};
use eks_token::credentials::process as credential_process;
use eks_token::exec_credential::{ApiVersion, ExecRequest};
use eks_token::sts_endpoint::{Region, StsEndpoint, Variant};
use eks_token::token::{self, ClusterId, MAX_CLUSTER_ID_LEN, MAX_LEN, PREFIX, TokenError};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Words the argument parser knows, mixed with anything at all.
fn arg() -> impl Strategy<Value = OsString> {
    let known = prop::sample::select(vec![
        "token",
        "eks",
        "get-token",
        "-i",
        "--cluster-id",
        "--cluster-name",
        "--region",
        "--profile",
        "--role-arn",
        "--role",
        "-r",
        "-s",
        "-e",
        "--session-name",
        "--external-id",
        "--forward-session-name",
        "--token-only",
        "--cache",
        "--output",
        "json",
        "--timeout",
        "2.5",
        "--verbose",
        "-v",
        "--",
        "-",
        "=",
        "--region=eu-west-1",
        "-ic",
    ]);
    prop_oneof![
        4 => known.prop_map(OsString::from),
        2 => ".{0,12}".prop_map(OsString::from),
        1 => prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| OsStr::from_bytes(&b).to_owned()),
    ]
}

fn exec_info_json() -> impl Strategy<Value = (Option<String>, bool, String)> {
    let version = prop_oneof![
        Just(None),
        Just(Some(ApiVersion::V1.as_str().to_owned())),
        Just(Some(ApiVersion::V1Beta1.as_str().to_owned())),
        Just(Some("client.authentication.k8s.io/v1alpha1".to_owned())),
        "[a-z./0-9\"\\\\]{0,40}".prop_map(Some),
    ];
    (version, any::<bool>(), "[a-z]{0,8}").prop_map(|(v, interactive, extra)| {
        let mut object =
            serde_json::json!({"kind": "ExecCredential", "spec": {"interactive": interactive}});
        if let Some(v) = &v {
            object["apiVersion"] = serde_json::Value::String(v.clone());
        }
        if !extra.is_empty() {
            object[extra.as_str()] = serde_json::json!([1, {"x": null}]);
        }
        (v, interactive, object.to_string())
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// Fuzzing: any bytes in `KUBERNETES_EXEC_INFO` never panic; a warning always comes
    /// with the v1beta1 fallback.
    #[test]
    fn fuzz_exec_info_bytes(raw in prop::collection::vec(any::<u8>(), 0..256)) {
        let request = ExecRequest::from_env_value(Some(OsStr::from_bytes(&raw)));
        if request.warning.is_some() {
            prop_assert_eq!(request.api_version, ApiVersion::V1Beta1);
        }
    }

    #[test]
    fn exec_info_versions_are_echoed_or_fall_back((version, interactive, text) in exec_info_json()) {
        let request = ExecRequest::from_env_value(Some(OsStr::new(&text)));
        match version.as_deref() {
            Some(v) if v == ApiVersion::V1.as_str() => {
                prop_assert_eq!(request.api_version, ApiVersion::V1);
                prop_assert!(request.warning.is_none());
            }
            Some(v) if v == ApiVersion::V1Beta1.as_str() => {
                prop_assert_eq!(request.api_version, ApiVersion::V1Beta1);
                prop_assert!(request.warning.is_none());
            }
            _ => {
                prop_assert_eq!(request.api_version, ApiVersion::V1Beta1);
                prop_assert!(request.warning.is_some());
            }
        }
        prop_assert_eq!(request.interactive, Some(interactive));
        if let Some(w) = &request.warning {
            prop_assert!(!w.contains('\n'));
        }
    }

    /// Fuzzing: known words mixed with anything never panic the parser; normalizing adds at
    /// most one argument, and a parsed timeout is positive.
    #[test]
    fn fuzz_argument_parsing(args in prop::collection::vec(arg(), 0..10)) {
        let argv: Vec<OsString> = std::iter::once(OsString::from("eks-token")).chain(args).collect();
        let normalized = cli::normalize(argv.clone());
        prop_assert!(normalized.len() <= argv.len() + 1);
        if let Ok(Cli { command: Command::Token(t), .. }) = Cli::try_parse_from(normalized) {
            // Whatever parsed is representable; validation happens later, without panics.
            let _ = ClusterId::new(&t.cluster_id);
            prop_assert!(t.aws.timeout.as_secs_f64() > 0.0);
        }
    }

    #[test]
    fn aws_cli_form_means_the_same_as_ours(
        cluster in "[A-Za-z0-9][A-Za-z0-9_.-]{0,30}",
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
    ) {
        let theirs = Cli::try_parse_from(cli::normalize(
            ["eks-token", "--region", &region, "eks", "get-token", "--cluster-name", &cluster, "--output", "json"]
                .map(OsString::from),
        ));
        let ours = Cli::try_parse_from(["eks-token", "token", "--region", &region, "-i", &cluster]);
        let (Ok(Cli { command: Command::Token(a), .. }), Ok(Cli { command: Command::Token(b), .. })) = (theirs, ours) else {
            return Err(TestCaseError::fail("both forms must parse"));
        };
        prop_assert_eq!(a.cluster_id, b.cluster_id);
        prop_assert_eq!(a.aws.region, b.aws.region);
    }

    #[test]
    fn encode_decode_round_trip(text in ".{0,600}") {
        let encoded = token::encode(&text);
        prop_assert!(encoded.starts_with(PREFIX));
        prop_assert!(encoded[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(token::decode(&encoded), Some(text));
    }

    /// Fuzzing: only checks that decoding any text, with or without the prefix, never panics.
    #[test]
    fn fuzz_token_decode(text in ".{0,200}") {
        let _ = token::decode(&text);
        let _ = token::decode(&format!("{PREFIX}{text}"));
    }

    #[test]
    fn minted_tokens_decode_to_a_presigned_url_for_the_cluster(
        ak in "[A-Z0-9]{16,20}",
        secret in "[A-Za-z0-9/+]{40}",
        session in prop::option::of("[A-Za-z0-9/+=]{1,3000}"),
        cluster in "[A-Za-z0-9][A-Za-z0-9_.-]{0,99}",
        region in prop::sample::select(vec!["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]),
        at in 1_500_000_000i64..2_500_000_000,
    ) {
        let credentials = Credentials::new(&ak, &secret, session.clone(), None, "test");
        let endpoint = StsEndpoint::regional(&Region::new(region).unwrap(), Variant::default()).unwrap();
        let cluster = ClusterId::new(&cluster).unwrap();
        let now = DateTime::from_timestamp(at, 0).unwrap();
        match token::mint(&credentials, &endpoint, &cluster, now) {
            Ok(t) => {
                prop_assert!(t.expose().len() <= MAX_LEN);
                prop_assert_eq!(t.expires_at, now + TimeDelta::minutes(14));
                let url = token::decode(t.expose()).unwrap();
                let expected_prefix = format!("https://{}/?Action=GetCallerIdentity&Version=2011-06-15&", endpoint.host);
                prop_assert!(url.starts_with(&expected_prefix), "{}", url);
                let expected_credential = format!("X-Amz-Credential={ak}%2F");
                prop_assert!(url.contains(&expected_credential));
                prop_assert!(url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"));
                prop_assert_eq!(url.contains("X-Amz-Security-Token="), session.is_some());
                prop_assert!(!url.contains(&secret));
                let debug = format!("{:?}", t);
                prop_assert!(!debug.contains(t.expose()));
            }
            Err(TokenError::TooLong(n)) => prop_assert!(n > MAX_LEN && session.is_some()),
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error: {e}"))),
        }
    }

    #[test]
    fn cluster_ids_are_checked_without_panics(id in prop_oneof!["[!-~]{0,110}", "[ -~\t]{0,110}", ".{0,120}"]) {
        let ok = !id.is_empty() && id.len() <= MAX_CLUSTER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic());
        prop_assert_eq!(ClusterId::new(&id).is_ok(), ok);
    }

    #[test]
    fn regions_are_checked_without_panics(name in prop_oneof!["[a-z0-9-]{0,70}", ".{0,70}"]) {
        if let Ok(region) = Region::new(&name) {
            prop_assert!(region.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            prop_assert!(StsEndpoint::regional(&region, Variant::default()).is_ok());
        }
    }

    /// Fuzzing: only checks that parsing any bytes a credential_process prints never panics.
    #[test]
    fn fuzz_credential_process_output(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = credential_process::parse(&raw);
    }

    #[test]
    fn credential_process_errors_never_show_values(
        keys in prop::collection::vec(prop::sample::select(vec![
            "Version", "version", "AccessKeyId", "SecretAccessKey", "secretaccesskey",
            "SessionToken", "Expiration", "AccountId", "Other",
        ]), 0..7),
        version in prop_oneof![Just(serde_json::json!(1)), Just(serde_json::json!(2)), Just(serde_json::json!("1")), Just(serde_json::json!(null))],
        truncate in prop::option::of(0usize..200),
    ) {
        const SENTINEL: &str = "SENTINELprocessValue";
        let mut object = serde_json::Map::new();
        for key in keys {
            let value = if key.eq_ignore_ascii_case("version") {
                version.clone()
            } else {
                serde_json::Value::String(SENTINEL.into())
            };
            object.insert(key.into(), value);
        }
        let mut text = serde_json::Value::Object(object).to_string();
        if let Some(n) = truncate {
            text.truncate(n.min(text.len()));
        }
        if let Err(why) = credential_process::parse(text.as_bytes()) {
            prop_assert!(!why.contains(SENTINEL), "{}", why);
            prop_assert!(!why.contains('\n'));
        }
    }
}

#[test]
fn the_argument_definitions_are_consistent() {
    Cli::command().debug_assert();
}

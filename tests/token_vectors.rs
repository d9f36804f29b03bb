//! Our tokens equal botocore's, byte for byte, for every vector in
//! `fixtures/token_vectors.json` (made by `fixtures/gen_token_vectors.py`).

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use chrono::DateTime;
use eks_token::sts_endpoint::{Region, StsEndpoint, Variant};
use eks_token::token::{self, ClusterId};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
    use_fips: bool,
    use_dualstack: bool,
    cluster_id: String,
    signing_time: i64,
    host: String,
    url: String,
    token: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/token_vectors.json");
    let text = std::fs::read_to_string(path).expect("fixtures/token_vectors.json");
    serde_json::from_str::<Vectors>(&text).unwrap().vectors
}

fn endpoint(v: &Vector) -> StsEndpoint {
    let variant = Variant {
        fips: v.use_fips,
        dual_stack: v.use_dualstack,
    };
    StsEndpoint::regional(&Region::new(&v.region).unwrap(), variant).unwrap()
}

fn credentials(v: &Vector) -> Credentials {
    Credentials::new(
        &v.access_key_id,
        &v.secret_access_key,
        v.session_token.clone(),
        None,
        "test",
    )
}

#[test]
fn there_are_enough_vectors_of_every_kind() {
    let all = vectors();
    assert!(all.len() >= 20, "only {} vectors", all.len());
    let has = |f: &dyn Fn(&Vector) -> bool| all.iter().any(f);
    assert!(has(&|v| v.region.starts_with("cn-")));
    assert!(has(&|v| v.region.starts_with("us-gov-")));
    assert!(has(&|v| v.use_fips));
    assert!(has(&|v| v.use_dualstack));
    assert!(has(&|v| v
        .session_token
        .as_deref()
        .is_some_and(|t| t.contains(['+', '/', '=']))));
    assert!(has(
        &|v| v.cluster_id.contains('.') && v.cluster_id.contains('_')
    ));
}

#[test]
fn sts_host_matches_botocore_for_every_partition_and_variant() {
    for v in vectors() {
        assert_eq!(endpoint(&v).host, v.host, "{}", v.name);
    }
}

#[test]
fn presigned_url_and_token_equal_botocore_byte_for_byte() {
    for v in vectors() {
        let cluster = ClusterId::new(&v.cluster_id).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(v.signing_time as u64);
        let url = token::presign_url(&credentials(&v), &endpoint(&v), &cluster, at).unwrap();
        assert_eq!(url, v.url, "{}", v.name);
        let now = DateTime::from_timestamp(v.signing_time, 0).unwrap();
        let minted = token::mint(&credentials(&v), &endpoint(&v), &cluster, now).unwrap();
        assert_eq!(minted.expose(), v.token, "{}", v.name);
        assert_eq!(minted.expires_at, now + token::LIFETIME, "{}", v.name);
        assert_eq!(token::decode(&v.token).as_deref(), Some(v.url.as_str()));
        let scope = Some((v.host.clone(), v.region.clone()));
        assert_eq!(token::signed_for(&v.token), scope, "{}", v.name);
    }
}

#[test]
fn the_aws_iam_authenticator_cross_check_signature() {
    let v = vectors()
        .into_iter()
        .find(|v| v.access_key_id == "ASIAR2TG44V6AS3ZZE7C" && v.cluster_id == "test-cluster")
        .expect("the aws-iam-authenticator vector");
    let cluster = ClusterId::new(&v.cluster_id).unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(1_682_640_000);
    let url = token::presign_url(&credentials(&v), &endpoint(&v), &cluster, at).unwrap();
    assert!(url.ends_with(
        "&X-Amz-Signature=e211dba77aba9dc44b0b6be38b8eaad092599c5157f6314444c5b9d85747f5ce"
    ));
}

#[test]
fn token_expiry_is_capped_by_the_credentials() {
    let v = &vectors()[0];
    let now = DateTime::from_timestamp(v.signing_time, 0).unwrap();
    let cluster = ClusterId::new(&v.cluster_id).unwrap();
    let soon = now + chrono::TimeDelta::minutes(3);
    let creds = Credentials::new("AKID", "SECRET", None, Some(soon.into()), "test");
    let t = token::mint(&creds, &endpoint(v), &cluster, now).unwrap();
    assert_eq!(t.expires_at, soon);
    let expired = Credentials::new("AKID", "SECRET", None, Some(now.into()), "test");
    assert!(token::mint(&expired, &endpoint(v), &cluster, now).is_err());
}

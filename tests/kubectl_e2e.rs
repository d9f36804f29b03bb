//! End to end: real kubectl (1.27 … 1.33) runs eks-token from a kubeconfig `exec` block
//! against `tests/peers/fake_eks.py`, an HTTPS API server that applies the EKS server's
//! checks and verifies the signature independently.

mod support;

use support::{
    AK, FakeEks, NO_PODS, Process, SK, Sandbox, env_creds, kubectl_get_pods, write_exec_kubeconfig,
};

const CLUSTER: &str = "e2e-cluster";

fn fake_eks(s: &Sandbox, moto: Option<&Process>) -> FakeEks {
    support::fake_eks(s, CLUSTER, &serde_json::json!({ AK: SK }), moto)
}

/// A kubeconfig whose user runs eks-token with `args`; `interactiveMode: Never` where the
/// exec apiVersion requires one.
fn kubeconfig(s: &Sandbox, api: &FakeEks, api_version: &str, args: &[&str]) -> std::path::PathBuf {
    let mode = api_version.ends_with("/v1").then_some("Never");
    write_exec_kubeconfig(s, api, api_version, mode, args)
}

#[test]
fn kubectl_get_pods_with_exec_v1_and_v1beta1_on_every_kubectl() {
    let s = env_creds();
    let api = fake_eks(&s, None);
    for version in ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"] {
        for api_version in [
            "client.authentication.k8s.io/v1",
            "client.authentication.k8s.io/v1beta1",
        ] {
            let config = kubeconfig(&s, &api, api_version, &["token", "--cluster-id", CLUSTER]);
            let run = kubectl_get_pods(&s, version, &config);
            assert_eq!(
                run.code, 0,
                "kubectl {version} {api_version}: {}",
                run.stderr
            );
            assert_eq!(
                run.stderr.trim(),
                NO_PODS,
                "kubectl {version} {api_version}"
            );
        }
    }
}

#[test]
fn kubectl_with_the_aws_cli_arguments_only_command_changed() {
    let s = env_creds();
    let api = fake_eks(&s, None);
    let args = [
        "--region",
        "us-west-2",
        "eks",
        "get-token",
        "--cluster-name",
        CLUSTER,
        "--output",
        "json",
    ];
    for version in ["1.27", "1.33"] {
        let config = kubeconfig(&s, &api, "client.authentication.k8s.io/v1beta1", &args);
        let run = kubectl_get_pods(&s, version, &config);
        assert_eq!(run.stderr.trim(), NO_PODS, "kubectl {version}");
    }
}

#[test]
fn kubectl_with_an_assumed_role() {
    let moto = Process::moto();
    let mut s = env_creds();
    s.endpoint(&moto.url());
    let api = fake_eks(&s, Some(&moto));
    let role = "arn:aws:iam::123456789012:role/eks-admin";
    let config = kubeconfig(
        &s,
        &api,
        "client.authentication.k8s.io/v1",
        &["token", "-i", CLUSTER, "-r", role],
    );
    let run = kubectl_get_pods(&s, "1.33", &config);
    assert_eq!(run.stderr.trim(), NO_PODS);
}

/// The server signs the request again with its own cluster id in `x-k8s-aws-id`, as
/// aws-iam-authenticator does (`pkg/token/token.go`, `Verify`): a token signed for
/// another cluster does not match, and kubectl shows the 401 as "Unauthorized".
#[test]
fn a_token_for_another_cluster_is_unauthorized() {
    let s = env_creds();
    let api = fake_eks(&s, None);
    for version in ["1.27", "1.33"] {
        let config = kubeconfig(
            &s,
            &api,
            "client.authentication.k8s.io/v1",
            &["token", "-i", "some-other-cluster"],
        );
        let before = api.rejections().len();
        let run = kubectl_get_pods(&s, version, &config);
        assert_ne!(run.code, 0);
        assert!(
            run.stderr.contains("Unauthorized")
                || run.stderr.contains("You must be logged in to the server"),
            "kubectl {version}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains(NO_PODS));
        let rejections = api.rejections().split_off(before);
        assert!(
            !rejections.is_empty(),
            "kubectl {version}: no request rejected"
        );
        for why in rejections {
            assert!(
                why.starts_with(&format!(
                    "signature mismatch: not signed for cluster '{CLUSTER}'"
                )),
                "kubectl {version}: rejected for another reason: {why}"
            );
        }
    }
}

//! Kubeconfig files and the real kubectl that reads them: parse, point at the fake EKS
//! server, and run kubectl 1.27 … 1.33 with eks-token on PATH.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::peers::FakeEks;
use super::runner::{BIN, Run, Sandbox, run_command};
use super::terminal::{Stdout, TerminalRun, answering_terminal_command, run_on_terminal};

/// What kubectl prints for an empty namespace it was allowed to list.
pub const NO_PODS: &str = "No resources found in default namespace.";

/// A kubectl binary of the given minor version (`1.27` … `1.33`).
pub fn kubectl(version: &str) -> PathBuf {
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"));
    assert!(
        p.exists(),
        "kubectl {version} is required at {}",
        p.display()
    );
    p
}

/// PATH with the eks-token under test first, so a kubeconfig's `command: eks-token` finds it.
pub fn path_with_eks_token() -> String {
    let dir = Path::new(BIN).parent().unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Parses a YAML file.
pub fn read_yaml(path: &Path) -> yaml_serde::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The entry named `name` in a kubeconfig list (`clusters`, `users`, `contexts`).
pub fn named<'a>(doc: &'a yaml_serde::Value, list: &str, name: &str) -> &'a yaml_serde::Value {
    doc[list]
        .as_sequence()
        .unwrap_or_else(|| panic!("no {list} list"))
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {list} entry named {name}"))
}

/// A YAML list of strings (an exec block's `args`).
pub fn strings(v: &yaml_serde::Value) -> Vec<&str> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Test-only: points every cluster of the kubeconfig at `server` with `ca_pem` as its CA,
/// leaving users and contexts exactly as they are (moto's DescribeCluster and the
/// fixtures carry made-up endpoints).
pub fn point_clusters_at(kubeconfig: &Path, server: &str, ca_pem: &Path) {
    use base64::Engine;
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(ca_pem).unwrap());
    for entry in doc["clusters"].as_sequence_mut().expect("clusters") {
        let cluster = entry["cluster"].as_mapping_mut().expect("cluster");
        cluster.insert("server".into(), server.into());
        cluster.insert("certificate-authority-data".into(), ca.as_str().into());
    }
    std::fs::write(kubeconfig, yaml_serde::to_string(&doc).unwrap()).unwrap();
}

/// `~/.kube/config` with one context on `api` whose user runs eks-token (the binary under
/// test) with `args`, as the README shows it; `interactive_mode` is the exec block's
/// `interactiveMode` (`client.authentication.k8s.io/v1` requires one).
pub fn write_exec_kubeconfig(
    sandbox: &Sandbox,
    api: &FakeEks,
    api_version: &str,
    interactive_mode: Option<&str>,
    args: &[&str],
) -> PathBuf {
    write_exec_kubeconfig_command(sandbox, api, api_version, interactive_mode, BIN, args)
}

/// [`write_exec_kubeconfig`] whose user runs `command` (e.g. `eks-token`, found on the
/// PATH kubectl runs with, as a kubeconfig written for kubelogin names its plugin).
pub fn write_exec_kubeconfig_command(
    sandbox: &Sandbox,
    api: &FakeEks,
    api_version: &str,
    interactive_mode: Option<&str>,
    command: &str,
    args: &[&str],
) -> PathBuf {
    let interactive = interactive_mode
        .map(|mode| format!("\n      interactiveMode: {mode}"))
        .unwrap_or_default();
    let args = args
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    write_kubeconfig(
        sandbox,
        api,
        &format!(
            "    exec:
      apiVersion: {api_version}
      command: {command}
      args: [{args}]{interactive}
"
        ),
    )
}

/// `~/.kube/config` with one context on `api` whose user sends `token` as it is (a static
/// `token:` user, no plugin).
pub fn write_token_kubeconfig(sandbox: &Sandbox, api: &FakeEks, token: &str) -> PathBuf {
    write_kubeconfig(sandbox, api, &format!("    token: {token}\n"))
}

/// `~/.kube/config` with one context on `api` (its CA trusted) whose user is `user`
/// (the YAML under `user:`, indented four spaces).
fn write_kubeconfig(sandbox: &Sandbox, api: &FakeEks, user: &str) -> PathBuf {
    sandbox.write(
        ".kube/config",
        &format!(
            "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority: {ca}
users:
- name: user
  user:
{user}contexts:
- name: fake
  context:
    cluster: fake
    user: user
current-context: fake
",
            port = api.server.port,
            ca = api.ca.display(),
        ),
    )
}

/// `kubectl get pods`, bounded.
const GET_PODS: [&str; 3] = ["get", "pods", "--request-timeout=20s"];

/// Runs a kubectl version's `get pods` with `kubeconfig` and eks-token on PATH.
pub fn kubectl_get_pods(sandbox: &Sandbox, version: &str, kubeconfig: &Path) -> Run {
    let mut cmd = sandbox.command_of(kubectl(version), &GET_PODS);
    cmd.env("KUBECONFIG", kubeconfig)
        .env("PATH", path_with_eks_token());
    run_command(cmd)
}

/// [`kubectl_get_pods`] as a person types it: on a terminal (`Run::stderr` is what the
/// terminal showed, kubectl's stdout and stderr both).
pub fn kubectl_get_pods_in_terminal(sandbox: &Sandbox, version: &str, kubeconfig: &Path) -> Run {
    kubectl_get_pods_answering(sandbox, version, kubeconfig, &[]).run
}

/// [`kubectl_get_pods_in_terminal`] where a person answers prompts (`answers` as
/// [`answering_terminal_command`] takes them), with what the terminal was left like.
pub fn kubectl_get_pods_answering(
    sandbox: &Sandbox,
    version: &str,
    kubeconfig: &Path,
    answers: &[(&str, &str)],
) -> TerminalRun {
    let mut cmd = answering_terminal_command(
        sandbox,
        kubectl(version),
        &GET_PODS,
        Stdout::Terminal,
        answers,
    );
    cmd.env("KUBECONFIG", kubeconfig)
        .env("PATH", path_with_eks_token());
    run_on_terminal(cmd)
}

/// `kubectl config ARGS --kubeconfig FILE` of a kubectl version: the file alone, no server.
pub fn kubectl_config(sandbox: &Sandbox, version: &str, kubeconfig: &Path, args: &[&str]) -> Run {
    let kubeconfig = kubeconfig.to_str().unwrap();
    let mut all = vec!["config"];
    all.extend(args);
    all.extend(["--kubeconfig", kubeconfig]);
    run_command(sandbox.command_of(kubectl(version), &all))
}

/// What kubectl 1.27 and 1.33 read from a kubeconfig (`config view --raw -o json`, the
/// same for both), after checking that both load it and list its contexts.
pub fn kubectl_view(sandbox: &Sandbox, kubeconfig: &Path) -> Value {
    let mut views = Vec::new();
    for version in ["1.27", "1.33"] {
        let contexts = kubectl_config(sandbox, version, kubeconfig, &["get-contexts"]);
        assert_eq!(contexts.code, 0, "kubectl {version}: {}", contexts.stderr);
        let view = kubectl_config(
            sandbox,
            version,
            kubeconfig,
            &["view", "--raw", "-o", "json"],
        );
        assert_eq!(view.code, 0, "kubectl {version}: {}", view.stderr);
        views.push(serde_json::from_str::<Value>(&view.stdout).expect("kubectl prints JSON"));
    }
    assert_eq!(
        views[0], views[1],
        "kubectl 1.27 and 1.33 read it differently"
    );
    views.remove(0)
}

/// Asserts that kubectl 1.27 and 1.33 both read `expected` at `jsonpath` in a kubeconfig
/// (`config view -o jsonpath=…`).
pub fn assert_kubectl_reads(sandbox: &Sandbox, kubeconfig: &Path, jsonpath: &str, expected: &str) {
    for version in ["1.27", "1.33"] {
        let read = kubectl_config(
            sandbox,
            version,
            kubeconfig,
            &["view", "-o", &format!("jsonpath={jsonpath}")],
        );
        assert_eq!(read.code, 0, "kubectl {version}: {}", read.stderr);
        assert_eq!(read.stdout, expected, "kubectl {version}: {jsonpath}");
    }
}

/// Asserts that kubectl 1.27 and 1.33 list pods with `kubeconfig` through `api`, which
/// authenticates them as `identity` (an ARN); `case` names the case in failures.
pub fn assert_kubectl_gets_pods_as(
    sandbox: &Sandbox,
    api: &FakeEks,
    kubeconfig: &Path,
    identity: &str,
    case: &str,
) {
    for version in ["1.27", "1.33"] {
        let before = api.requests_by(identity);
        let run = kubectl_get_pods(sandbox, version, kubeconfig);
        assert_eq!(run.code, 0, "{case} kubectl {version}: {}", run.stderr);
        assert_eq!(run.stderr.trim(), NO_PODS, "{case} kubectl {version}");
        assert!(
            api.requests_by(identity) > before,
            "{case} kubectl {version}: no request as {identity}"
        );
    }
}

/// The note `kubeconfig` and `kubeconfig migrate` print when the file they rewrote had
/// comments (the YAML writer cannot keep them; the backup has them).
pub fn comments_not_kept(path: &Path, backup: &Path) -> String {
    format!(
        "eks-token: note: the comments in {} were not kept ({} has them)\n",
        path.display(),
        backup.display()
    )
}

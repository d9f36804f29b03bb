//! `eks-token oidc`: kubelogin's `get-token` (an ExecCredential with the provider's ID
//! token), and `oidc setup`, which logs in once and prints what to configure.

use chrono::Utc;

use clap::ValueEnum;

use crate::cli::{GrantType, OidcArgs, OidcCommand, OidcSetup};
use crate::error::Error;
use crate::exec_credential::{ExecCredential, ExecRequest};
use crate::message::{self, shell_quote};
use crate::network;
use crate::oidc::{self, Settings, cache::Entry};

pub fn run(command: &OidcCommand) -> Result<String, Error> {
    match &command.setup {
        Some(OidcSetup::Setup(args)) => setup(args),
        None => get_token(&command.args),
    }
}

/// The ExecCredential: from the cache when it has a minute left (nothing else is read),
/// else refreshed or logged in.
fn get_token(args: &OidcArgs) -> Result<String, Error> {
    let exec_info = std::env::var_os("KUBERNETES_EXEC_INFO");
    let request = ExecRequest::from_env_value(exec_info.as_deref());
    if let Some(warning) = &request.warning {
        message::warn(warning);
    }
    let settings = Settings::new(args, request.interactive);
    let key = settings.key();
    let entry = match oidc::cached(&settings, &key, Utc::now()) {
        Some(entry) => entry,
        None => network::block_on(oidc::token(&settings, &key)).map_err(Error::Runtime)??,
    };
    Ok(ExecCredential::new(&request, &entry.token, entry.expires_at).to_line())
}

/// Logs in (or uses the cached login) and prints the claims, the kubeconfig user, an RBAC
/// binding for the groups and the cluster side: never the token.
fn setup(args: &OidcArgs) -> Result<String, Error> {
    let settings = Settings::new(args, None);
    let key = settings.key();
    let entry = network::block_on(oidc::token(&settings, &key)).map_err(Error::Runtime)??;
    Ok(setup_text(args, &settings, &entry))
}

fn setup_text(args: &OidcArgs, settings: &Settings, entry: &Entry) -> String {
    let claims = &entry.claims;
    let username = claims.email.clone().unwrap_or_else(|| claims.sub.clone());
    let mut out = String::new();
    out.push_str("## The ID token's claims\n\n");
    out.push_str(&format!("iss     {}\nsub     {}\n", claims.iss, claims.sub));
    if let Some(email) = &claims.email {
        out.push_str(&format!("email   {email}\n"));
    }
    out.push_str(&format!(
        "groups  {}\nexp     {}\n",
        if claims.groups.is_empty() {
            "(none: add a groups claim at the provider to bind RBAC by group)".to_owned()
        } else {
            claims.groups.join(", ")
        },
        message::stamp(claims.expires_at())
    ));
    let mut exec_args = crate::exec_plugin::oidc_args(
        &settings.issuer,
        &settings.client.id,
        args.oidc_client_secret.as_ref().map(|_| "CLIENT_SECRET"),
        &args.oidc_extra_scopes,
    );
    // The flags that change how this login was made, as given.
    for address in &args.listen_addresses {
        exec_args.push(format!("--listen-address={address}"));
    }
    if args.grant_type != GrantType::Auto {
        let grant = args
            .grant_type
            .to_possible_value()
            .map(|v| v.get_name().to_owned());
        exec_args.push(format!("--grant-type={}", grant.unwrap_or_default()));
    }
    for ca in &args.certificate_authorities {
        exec_args.push(format!("--certificate-authority={}", ca.display()));
    }
    for data in &args.certificate_authority_data {
        exec_args.push(format!("--certificate-authority-data={data}"));
    }
    if args.oidc_use_access_token {
        exec_args.push("--oidc-use-access-token".to_owned());
    }
    out.push_str("\n## The kubeconfig user (kubectl config set-credentials)\n\n");
    out.push_str(&format!(
        "kubectl config set-credentials oidc --exec-api-version=client.authentication.k8s.io/v1 --exec-interactive-mode=IfAvailable --exec-command=eks-token {}\n",
        exec_args
            .iter()
            .map(|a| format!("--exec-arg={}", shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    out.push_str("\n## RBAC for the token's groups (review the role before applying)\n\n");
    if claims.groups.is_empty() {
        out.push_str(&format!(
            "kubectl create clusterrolebinding oidc-{} --clusterrole=view --user={}\n",
            sanitized(&username),
            shell_quote(&username)
        ));
    } else {
        for group in &claims.groups {
            out.push_str(&format!(
                "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: oidc-{}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: Group\n    name: {}\n",
                sanitized(group),
                serde_json::Value::from(group.as_str())
            ));
        }
    }
    out.push_str("\n## The cluster side (once per cluster)\n\n");
    out.push_str(&format!(
        "aws eks associate-identity-provider-config --cluster-name CLUSTER --oidc identityProviderConfigName=oidc,issuerUrl={},clientId={},usernameClaim={},groupsClaim=groups\n",
        settings.issuer,
        settings.client.id,
        if claims.email.is_some() { "email" } else { "sub" }
    ));
    out
}

/// A Kubernetes object name from `text`: lower case, `[a-z0-9-]`, at most 50.
fn sanitized(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    name.trim_matches('-').to_owned()
}

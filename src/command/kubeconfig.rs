//! `eks-token kubeconfig`: write a cluster, an eks-token user and a context from EKS
//! DescribeCluster (with `--oidc`, a user for the cluster's OpenID provider); `eks-token
//! kubeconfig migrate`: switch AWS CLI, aws-iam-authenticator and kubelogin users to
//! eks-token.

use std::path::{Path, PathBuf};

use crate::aws_files::home_dir;
use crate::cli::{KubeconfigAction, KubeconfigArgs, KubeconfigFileArgs};
use crate::credentials::{AwsConfig, Options};
use crate::eks_cluster::{self, ClusterInfo, IdentityProvider};
use crate::error::Error;
use crate::exec_credential::ApiVersion;
use crate::exec_plugin::{self, Plugin};
use crate::kubeconfig::{
    self, Change, ExecConfig, ExecEnvVar, ExecProblem, InteractiveMode, Kubeconfig, KubeconfigError,
};
use crate::message::{self, shell_quote};
use crate::network::{self, Deadline};
use crate::token::ClusterId;

/// The command written into kubeconfigs: a bare name, so the file can be shared and keeps
/// working when eks-token moves; kubectl looks it up on PATH.
pub const COMMAND: &str = "eks-token";

/// eks-token never prompts, so kubectl may run it with or without a terminal; a login
/// (SSO or OIDC) opens a browser only when kubectl says a person is there.
pub const INTERACTIVE_MODE: InteractiveMode = InteractiveMode::IfAvailable;

/// The scopes `kubeconfig --oidc` asks for besides `openid`: the `email` claim (the
/// username claim EKS guides use), the profile, and a refresh token so a login lasts
/// beyond the ID token. Not `groups`: Okta's and Entra ID's authorization servers refuse a
/// scope they do not define (`invalid_scope`), which would stop every login, while
/// providers that need it (Dex) are one `--oidc-extra-scope groups` away.
pub const DEFAULT_OIDC_SCOPES: [&str; 3] = ["email", "profile", "offline_access"];

/// The status of an identity provider association whose tokens the cluster takes.
const ACTIVE: &str = "ACTIVE";

/// Runs `kubeconfig` or `kubeconfig migrate` and returns what goes on stdout.
pub fn run(args: &KubeconfigArgs) -> Result<String, Error> {
    match &args.action {
        Some(KubeconfigAction::Migrate(file)) => migrate(file),
        None => update(args),
    }
}

fn target(file: &KubeconfigFileArgs) -> Result<PathBuf, KubeconfigError> {
    kubeconfig::target_path(
        file.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG").as_deref(),
        home_dir().as_deref(),
    )
}

/// DescribeCluster, then add or update the cluster, user and context, and make it current.
fn update(args: &KubeconfigArgs) -> Result<String, Error> {
    let options = args.aws.options();
    let deadline = Deadline::start(options.limits);
    let name = ClusterId::new(args.cluster_name.as_deref().unwrap_or_default())?;
    let path = target(&args.file)?;
    // A kubeconfig we cannot parse stops us before any network call.
    let existing = Kubeconfig::load(&path)?;
    // Like `aws eks update-kubeconfig`, DescribeCluster runs with the base credentials;
    // --role-arn is for the token only.
    let (setup, cluster, provider) = network::block_on(async {
        let setup = super::aws_config(&args.aws, deadline).await?;
        let base = Options {
            role: None,
            ..options.clone()
        };
        let resolved = super::credentials::for_command(&setup, &base, None, deadline).await?;
        let (credentials, source) = (resolved.credentials, resolved.source);
        let cluster =
            eks_cluster::describe(&setup, credentials.clone(), source.clone(), name.as_str())
                .await?;
        let provider = if args.oidc {
            Some(eks_cluster::identity_provider(&setup, credentials, source, name.as_str()).await?)
        } else {
            None
        };
        Ok::<_, Error>((setup, cluster, provider))
    })
    .map_err(Error::Runtime)??;
    setup.note_fallback_region("looked for the cluster in");

    let (exec, default_name) = match &provider {
        Some(provider) => (
            oidc_exec(provider, &args.oidc_extra_scopes),
            format!("oidc@{}", cluster.arn),
        ),
        None => (token_exec(args, &setup, &cluster), cluster.arn.clone()),
    };
    let entry_name = args.alias.clone().unwrap_or(default_name);
    if let Some(provider) = provider.as_ref().filter(|p| p.status != ACTIVE) {
        message::warn(&format!(
            "the association of OIDC provider {} with {} is {}: the cluster takes its tokens once it is {ACTIVE}",
            provider.name, cluster.name, provider.status
        ));
    }
    let done = write_entries(args, &path, existing, &cluster, &exec, &entry_name)?;
    Ok(match &provider {
        // --dry-run prints the kubeconfig alone.
        Some(provider) if !args.file.dry_run => format!("{done}{}", describe_provider(provider)),
        _ => done,
    })
}

/// The user that runs `eks-token token` for the cluster, as `aws eks update-kubeconfig`
/// writes one for `aws eks get-token`.
fn token_exec(args: &KubeconfigArgs, setup: &AwsConfig, cluster: &ClusterInfo) -> ExecConfig {
    let mut token_args = vec![
        "token".to_owned(),
        "--cluster-id".to_owned(),
        cluster.token_id.clone(),
        "--region".to_owned(),
        setup.region.to_string(),
    ];
    let aws = &args.aws;
    for (flag, value) in [
        ("--role-arn", &aws.role_arn),
        ("--session-name", &aws.session_name),
        ("--external-id", &aws.external_id),
    ] {
        if let Some(v) = value {
            token_args.extend([flag.to_owned(), v.clone()]);
        }
    }
    if aws.forward_session_name {
        token_args.push("--forward-session-name".into());
    }
    // As the AWS CLI does: the profile in use (flag or AWS_PROFILE) goes into `env`.
    let env = if setup.profile_chosen {
        vec![ExecEnvVar {
            name: "AWS_PROFILE".into(),
            value: setup.profile.clone(),
        }]
    } else {
        Vec::new()
    };
    ExecConfig {
        api_version: Some(ApiVersion::V1.into()),
        command: COMMAND.into(),
        args: token_args,
        env,
        interactive_mode: Some(INTERACTIVE_MODE),
        ..ExecConfig::default()
    }
}

/// The user that runs `eks-token oidc` for the cluster's provider: its issuer and client
/// id, and `scopes` (else [`DEFAULT_OIDC_SCOPES`]). No AWS profile: the ID token is all
/// the cluster takes from this user.
fn oidc_exec(provider: &IdentityProvider, scopes: &[String]) -> ExecConfig {
    let scopes: Vec<String> = if scopes.is_empty() {
        DEFAULT_OIDC_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        scopes.to_vec()
    };
    ExecConfig {
        api_version: Some(ApiVersion::V1.into()),
        command: COMMAND.into(),
        args: exec_plugin::oidc_args(&provider.issuer_url, &provider.client_id, None, &scopes),
        interactive_mode: Some(INTERACTIVE_MODE),
        ..ExecConfig::default()
    }
}

/// What the cluster makes of the tokens, after the context line: where they come from and
/// which claims name the user and the groups RBAC binds.
fn describe_provider(p: &IdentityProvider) -> String {
    let claim = |claim: &str, prefix: &Option<String>| match prefix {
        Some(prefix) => format!("claim {claim} (prefixed {prefix})"),
        None => format!("claim {claim}"),
    };
    // EKS's default username claim is `sub`.
    let user = claim(
        p.username_claim.as_deref().unwrap_or("sub"),
        &p.username_prefix,
    );
    let groups = match &p.groups_claim {
        Some(groups) => claim(groups, &p.groups_prefix),
        None => "no claim (RBAC can bind users only)".to_owned(),
    };
    format!(
        "OIDC provider {}: issuer {}, client id {}\nthe cluster takes the user name from {user} and the groups from {groups}\n",
        p.name, p.issuer_url, p.client_id
    )
}

/// Adds or updates the cluster, `exec` as user `entry_name` and a context of that name,
/// and makes it current; returns what was done.
fn write_entries(
    args: &KubeconfigArgs,
    path: &Path,
    existing: Option<(Kubeconfig, String)>,
    cluster: &ClusterInfo,
    exec: &ExecConfig,
    entry_name: &str,
) -> Result<String, Error> {
    let before = existing.as_ref().map(|(k, _)| k.clone());
    let mut config = before.clone().unwrap_or_default();
    // Each step is compared with the document before it, for a message that says what
    // was done.
    let untouched = config.clone();
    config.set_cluster(
        &cluster.arn,
        &cluster.endpoint,
        &cluster.certificate_authority_data,
    );
    let cluster_changed = config != untouched;
    let without_user = config.clone();
    config.set_exec_user(entry_name, exec);
    let user_changed = config != without_user;
    let change = config.set_context(entry_name, &cluster.arn, entry_name);
    config.set_current_context(entry_name);
    let yaml = config.to_yaml();
    let text = existing.as_ref().map(|(_, text)| text.as_str());
    if args.file.dry_run {
        note_comments(path, text, None);
        return Ok(yaml);
    }
    if before.as_ref() == Some(&config) {
        return Ok(format!(
            "Context {entry_name} in {} is up to date\n",
            path.display()
        ));
    }
    let written = kubeconfig::write(path, &yaml)?;
    if let Some(backup) = &written.backup {
        message::note(&format!(
            "previous kubeconfig saved as {}",
            backup.display()
        ));
    }
    note_comments(path, text, written.backup.as_deref());
    Ok(match change {
        Change::Added => format!("Added new context {entry_name} to {}\n", path.display()),
        Change::Updated => format!("Updated context {entry_name} in {}\n", path.display()),
        // The context was right; what it points to, or which context is current, was not.
        Change::Unchanged => {
            let parts: Vec<&str> = [("cluster", cluster_changed), ("user", user_changed)]
                .into_iter()
                .filter_map(|(part, changed)| changed.then_some(part))
                .collect();
            if parts.is_empty() {
                format!("Switched to context {entry_name} in {}\n", path.display())
            } else {
                format!(
                    "Updated the {} of context {entry_name} in {}\n",
                    parts.join(" and "),
                    path.display()
                )
            }
        }
    })
}

/// Rewrites every user that runs a peer's token command to run eks-token instead.
fn migrate(file: &KubeconfigFileArgs) -> Result<String, Error> {
    let path = target(file)?;
    let Some((mut config, text)) = Kubeconfig::load(&path)? else {
        return Err(KubeconfigError::Missing { path }.into());
    };
    let mut changes = Vec::new();
    for (user, block) in config.exec_users_mut() {
        let before = match ExecConfig::from_mapping(block) {
            Ok(exec) => exec,
            Err(e) => {
                message::note(&format!(
                    "left user {user} unchanged: its exec block cannot be read ({e})"
                ));
                continue;
            }
        };
        let Some(plugin) = Plugin::of_command(&before.command) else {
            continue;
        };
        if plugin == Plugin::EksToken {
            continue;
        }
        let request = match exec_plugin::parse_peer(plugin, &before.args) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(reason) => {
                message::note(&format!("left user {user} unchanged: {reason}"));
                continue;
            }
        };
        let new_args = request.eks_token_args();
        let mut exec = before.clone();
        exec.command = COMMAND.into();
        exec.args = new_args.clone();
        let mut also = String::new();
        // What kubectl would refuse and migrating can fix.
        for problem in before.problems() {
            match problem {
                // v1beta1 needs nothing else.
                ExecProblem::RemovedApiVersion => {
                    exec.api_version = Some(ApiVersion::V1Beta1.into());
                    also.push_str(" (apiVersion v1alpha1 → v1beta1)");
                }
                ExecProblem::NoInteractiveMode => {
                    exec.interactive_mode = Some(INTERACTIVE_MODE);
                    also.push_str(" (added interactiveMode: IfAvailable)");
                }
                ExecProblem::UnknownApiVersion(_) | ExecProblem::UnknownInteractiveMode(_) => {}
            }
        }
        // kubelogin opens a browser whatever kubectl says (its `setup` writes `Never`);
        // eks-token logs in only when kubectl says a person is there.
        if plugin.is_oidc() && before.interactive_mode == Some(InteractiveMode::Never) {
            exec.interactive_mode = Some(INTERACTIVE_MODE);
            also.push_str(
                " (interactiveMode Never → IfAvailable, so a login can open the browser)",
            );
        }
        exec.update(&before, block);
        let words: Vec<String> = exec_plugin::shown_args(&new_args)
            .iter()
            .map(|a| shell_quote(a))
            .collect();
        changes.push(format!(
            "{user}: {} → {COMMAND} {}{also}",
            plugin.describe(),
            words.join(" ")
        ));
    }
    if changes.is_empty() {
        return Ok(format!("nothing to migrate in {}\n", path.display()));
    }
    if file.dry_run {
        for change in &changes {
            message::note(&format!("would migrate {change}"));
        }
        note_comments(&path, Some(&text), None);
        return Ok(config.to_yaml());
    }
    let written = kubeconfig::write(&path, &config.to_yaml())?;
    note_comments(&path, Some(&text), written.backup.as_deref());
    let mut out: String = changes.iter().map(|c| format!("migrated {c}\n")).collect();
    out.push_str(&format!("wrote {}", path.display()));
    if let Some(backup) = written.backup {
        out.push_str(&format!(" (previous file: {})", backup.display()));
    }
    out.push('\n');
    Ok(out)
}

/// Says so when the file had comments: the rewrite drops them (yaml_serde keeps none), and
/// the backup, when there is one, still has them.
fn note_comments(path: &Path, text: Option<&str>, backup: Option<&Path>) {
    if !text.is_some_and(kubeconfig::has_comments) {
        return;
    }
    message::note(&match backup {
        Some(backup) => format!(
            "the comments in {} were not kept ({} has them)",
            path.display(),
            backup.display()
        ),
        None => format!("the comments in {} would not be kept", path.display()),
    });
}

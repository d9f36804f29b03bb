//! `eks-token doctor`: one screen on what kubectl's plugin will see — the kubeconfig
//! user's exec block, which credential source wins and why, region and STS host, the SSO
//! login, the token cache, and who AWS says the credentials are.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_types::os_shim_internal::{Env, Fs};
use chrono::{DateTime, Utc};
use clap::Parser;

use crate::aws_files::home_dir;
use crate::cache::{self, Cache, CacheKey};
use crate::cli::{self, Cli, Command, DoctorArgs, TokenArgs};
use crate::credentials::{AwsConfig, LoginState, Options, RegionOrigin, Source};
use crate::error::Error;
use crate::exec_credential::{ApiVersion, V1ALPHA1};
use crate::exec_plugin::{self, Plugin};
use crate::identity::Principal;
use crate::kubeconfig::{self, Kubeconfig, KubeconfigError, exec_args, exec_env, exec_str};
use crate::message::{a_few, shell_quote, stamp};
use crate::network::{self, Deadline, Limits};
use crate::sts_endpoint::StsEndpoint;
use crate::token::ClusterId;

const MIGRATE: &str = "eks-token kubeconfig migrate";

/// Something to tell the user, with the fix when there is one.
struct Finding {
    what: String,
    fix: Option<String>,
}

/// The screen being built.
#[derive(Default)]
struct Report {
    lines: Vec<(String, String)>,
    problems: Vec<Finding>,
    warnings: Vec<Finding>,
}

impl Report {
    fn line(&mut self, label: &str, text: impl Into<String>) {
        self.lines.push((label.to_owned(), text.into()));
    }

    fn problem(&mut self, what: impl Into<String>, fix: Option<String>) {
        self.problems.push(Finding {
            what: what.into(),
            fix,
        });
    }

    fn warning(&mut self, what: impl Into<String>, fix: Option<String>) {
        self.warnings.push(Finding {
            what: what.into(),
            fix,
        });
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (label, text) in &self.lines {
            let mut rows = text.lines();
            out.push_str(&format!("{label:<13}{}\n", rows.next().unwrap_or_default()));
            for row in rows {
                out.push_str(&format!("{:13}{row}\n", ""));
            }
        }
        out.push('\n');
        for (kind, findings) in [("problem", &self.problems), ("warning", &self.warnings)] {
            for f in findings {
                out.push_str(&format!("{kind}: {}\n", f.what));
                if let Some(fix) = &f.fix {
                    out.push_str(&format!("  fix: {fix}\n"));
                }
            }
        }
        if self.problems.is_empty() {
            out.push_str(if self.warnings.is_empty() {
                "ok: nothing is broken\n"
            } else {
                "ok: nothing is broken (see the warnings)\n"
            });
        }
        out
    }
}

/// Runs the checks; returns the report and, when something is broken, the error that
/// makes the exit status 1.
pub fn run(args: &DoctorArgs) -> (String, Result<(), Error>) {
    let mut report = Report::default();
    if let Err(e) = check(args, &mut report) {
        return (String::new(), Err(e));
    }
    let result = match report.problems.len() {
        0 => Ok(()),
        count => Err(Error::Doctor { count }),
    };
    // Problems quote SDK errors: the report passes the same redaction as stderr.
    (
        crate::secrets::redact(&report.render()).into_owned(),
        result,
    )
}

/// What the kubeconfig says the plugin is run with.
struct Plan {
    user: String,
    token: Option<TokenArgs>,
    env: Vec<(String, String)>,
}

/// Exec `env` variables doctor applies from any kubeconfig: they choose among the user's
/// own profiles and settings and AWS's own endpoints, and can neither run a program nor
/// send anything elsewhere.
const HARMLESS_ENV: [&str; 8] = [
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_ROLE_SESSION_NAME",
];

fn check(args: &DoctorArgs, report: &mut Report) -> Result<(), Error> {
    // Doctor's own --timeout bounds doctor, whatever the checked exec args say.
    let deadline = Deadline::start(Limits::new(args.aws.timeout));
    let flags_given = args.aws.region.is_some()
        || args.aws.profile.is_some()
        || args.aws.role_arn.is_some()
        || args.cluster_id.is_some();
    let plan = if args.context.is_some() || !flags_given {
        check_kubeconfig(args, report)?
    } else {
        None
    };
    let (options, cluster, cache_dir) = match &plan {
        Some(Plan {
            token: Some(token), ..
        }) => (
            token.aws.options(),
            Some(token.cluster_id.clone()),
            token.cache_location.cache_dir.clone(),
        ),
        _ => (args.aws.options(), args.cluster_id.clone(), None),
    };
    let live = plan
        .as_ref()
        .is_none_or(|plan| apply_exec_env(args, plan, report));
    let cluster = cluster.as_deref().map(ClusterId::new);
    match &cluster {
        Some(Ok(id)) => report.line("cluster id", id.as_str()),
        Some(Err(e)) => report.problem(
            format!("the cluster id is unusable: {e}"),
            Some("pass the EKS cluster name with --cluster-id".into()),
        ),
        None => {}
    }
    network::block_on(check_aws(&options, deadline, live, report)).map_err(Error::Runtime)?;
    if let Some(Ok(id)) = &cluster {
        report.line("cache", cache_entry(id, &options, cache_dir.as_deref()));
    }
    Ok(())
}

/// Reads the context's user and checks its exec block; `None` when no context applies.
fn check_kubeconfig(args: &DoctorArgs, report: &mut Report) -> Result<Option<Plan>, Error> {
    let paths = kubeconfig::read_paths(
        args.kubeconfig.as_deref(),
        std::env::var_os("KUBECONFIG").as_deref(),
        home_dir().as_deref(),
    )?;
    let mut files = Vec::new();
    for path in &paths {
        match Kubeconfig::load(path) {
            Ok(Some((k, _))) => files.push((path.clone(), k)),
            Ok(None) => {}
            Err(e) => report.problem(e.to_string(), e.hint()),
        }
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if files.is_empty() {
        if let Some(name) = &args.context {
            return Err(KubeconfigError::NoContext {
                name: name.clone(),
                path: shown.join(":"),
                known: Vec::new(),
            }
            .into());
        }
        report.line("kubeconfig", format!("{} (none)", shown.join(":")));
        return Ok(None);
    }
    report.line("kubeconfig", shown.join(":"));
    let merged = kubeconfig::merge(files.iter().map(|(_, k)| k.clone()).collect());
    let (name, how) = match (&args.context, merged.current_context()) {
        (Some(c), _) => (c.clone(), "--context"),
        (None, Some(c)) => (c.to_owned(), "current-context"),
        (None, None) => {
            report.line("context", "none (no current-context; pass --context)");
            return Ok(None);
        }
    };
    let Some((_, user)) = merged.context(&name) else {
        if args.context.is_some() {
            return Err(KubeconfigError::NoContext {
                name,
                path: shown.join(":"),
                known: merged.context_names(),
            }
            .into());
        }
        report.problem(
            format!("current-context {name:?} names no context in the kubeconfig"),
            Some("pick one with `kubectl config use-context NAME` (see `kubectl config get-contexts`)".into()),
        );
        return Ok(None);
    };
    report.line("context", format!("{name} ({how})"));
    let Some(user) = user.filter(|u| merged.has_user(u)) else {
        report.problem(
            format!("context {name} names no user that exists in the kubeconfig"),
            Some(format!(
                "run `eks-token kubeconfig --cluster-name NAME --alias {}` to write one",
                shell_quote(&name)
            )),
        );
        return Ok(None);
    };
    report.line("user", &user);
    let Some(exec) = merged.user_exec(&user) else {
        report.line("exec", "none: this user does not run a credential plugin");
        return Ok(None);
    };
    let dir = files
        .iter()
        .find(|(_, k)| k.has_user(&user))
        .and_then(|(p, _)| p.parent().map(Path::to_owned));
    Ok(Some(check_exec(&user, exec, dir.as_deref(), report)))
}

/// The exec block's apiVersion, command and arguments, as kubectl will run them.
fn check_exec(
    user: &str,
    exec: &yaml_serde::Mapping,
    dir: Option<&Path>,
    report: &mut Report,
) -> Plan {
    let api = exec_str(exec, "apiVersion").unwrap_or("");
    let command = exec_str(exec, "command").unwrap_or("");
    let args = exec_args(exec).unwrap_or_default();
    let env = exec_env(exec);
    let mode = exec_str(exec, "interactiveMode");
    let mut shown = std::iter::once(shell_quote(command))
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ");
    shown.push_str(&format!("\napiVersion {api}"));
    if let Some(mode) = mode {
        shown.push_str(&format!(", interactiveMode {mode}"));
    }
    for (k, v) in &env {
        shown.push_str(&format!("\nenv {k}={}", shown_env_value(k, v)));
    }
    report.line("exec", shown);

    // client-go: v1 requires interactiveMode; v1alpha1 was removed in kubectl 1.24.
    if api == ApiVersion::V1.as_str() && mode.is_none() {
        report.problem(
            format!("user {user}: exec apiVersion client.authentication.k8s.io/v1 without interactiveMode; kubectl refuses to run the plugin"),
            Some(format!("add `interactiveMode: IfAvailable` to the exec block of user {user}")),
        );
    } else if api == V1ALPHA1 {
        report.problem(
            format!("user {user}: exec apiVersion {V1ALPHA1} is no longer accepted by kubectl (1.24 and later)"),
            Some(format!("set `apiVersion: client.authentication.k8s.io/v1beta1` in the exec block of user {user}")),
        );
    } else if api != ApiVersion::V1.as_str() && api != ApiVersion::V1Beta1.as_str() {
        report.problem(
            format!("user {user}: unknown exec apiVersion {api:?}"),
            Some("use client.authentication.k8s.io/v1 with `interactiveMode: IfAvailable`".into()),
        );
    }

    match resolve_command(command, dir) {
        Some(found) => report.line("command", format!("{command} → {}", found.display())),
        None => {
            let fix = if Plugin::of_command(command) == Some(Plugin::EksToken) {
                "install eks-token (`./install.sh` puts it in ~/.local/bin) and put its directory on PATH, or write its absolute path in `command:`".to_owned()
            } else {
                format!("install {command}, or run `{MIGRATE}` to use eks-token instead")
            };
            report.problem(
                format!("user {user}: command {command:?} is not on PATH"),
                Some(fix),
            );
        }
    }

    let plan = |token| Plan {
        user: user.to_owned(),
        token,
        env: env.clone(),
    };
    let plugin = Plugin::of_command(command);
    match plugin {
        Some(Plugin::AwsCli) => report.warning(
            format!(
                "user {user} runs the AWS CLI: Python starts on every kubectl call (~0.7 s each)"
            ),
            Some(format!(
                "`{MIGRATE}` (same cluster, role, region and profile)"
            )),
        ),
        Some(Plugin::AwsIamAuthenticator) => report.warning(
            format!("user {user} runs aws-iam-authenticator: a new token on every kubectl call"),
            Some(format!(
                "`{MIGRATE}` (same cluster, role, region and profile)"
            )),
        ),
        Some(Plugin::EksToken) | None => {}
    }
    let token_args = match plugin {
        None => {
            report.warning(
                format!("user {user} runs {command:?}, not an EKS token plugin; checking the credential flags instead"),
                None,
            );
            return plan(None);
        }
        Some(Plugin::EksToken) => args,
        Some(peer) => {
            match exec_plugin::parse_peer(peer, &args) {
                Ok(Some(request)) => request.eks_token_args(),
                Ok(None) => {
                    report.problem(
                    format!("user {user}: `{command}` is not called for an EKS token"),
                    Some("run `eks-token kubeconfig --cluster-name NAME` to write a working user".into()),
                );
                    return plan(None);
                }
                Err(reason) => {
                    report.problem(
                        format!(
                            "user {user}: cannot read the {} arguments: {reason}",
                            peer.describe()
                        ),
                        None,
                    );
                    return plan(None);
                }
            }
        }
    };
    let argv = std::iter::once(OsString::from("eks-token"))
        .chain(token_args.into_iter().map(OsString::from));
    let token = match Cli::try_parse_from(cli::normalize(argv)) {
        Ok(Cli {
            command: Command::Token(token),
            ..
        }) => Some(token),
        Ok(_) => {
            report.problem(
                format!("user {user}: the exec args do not run `eks-token token`"),
                None,
            );
            None
        }
        Err(e) => {
            let message = e.render().to_string();
            let first = message
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            report.problem(
                format!("user {user}: the exec args are not valid: {first}"),
                Some("see `eks-token token --help`".into()),
            );
            None
        }
    };
    plan(token)
}

/// An exec `env` value as the report shows it: secrets some kubeconfigs carry there
/// (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …) are never printed; a path or an
/// address (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_CONTAINER_CREDENTIALS_FULL_URI`) is not
/// a secret, and the warnings need it.
fn shown_env_value<'a>(name: &str, value: &'a str) -> &'a str {
    let upper = name.to_ascii_uppercase();
    if !["_FILE", "_URI", "_URL"].iter().any(|s| upper.ends_with(s))
        && ["SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"]
            .iter()
            .any(|w| upper.contains(w))
    {
        "(hidden)"
    } else {
        value
    }
}

/// Where kubectl finds `command`: a bare name on PATH, a relative path from the
/// kubeconfig's directory (client-go's rule), or an absolute path.
fn resolve_command(command: &str, kubeconfig_dir: Option<&Path>) -> Option<PathBuf> {
    if command.is_empty() {
        return None;
    }
    let path = Path::new(command);
    if command.contains('/') {
        let full = match kubeconfig_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_owned(),
        };
        return is_executable(&full).then_some(full);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Applies the exec `env` as far as doctor may: all of it for the user's own or a
/// trusted kubeconfig, else only [`HARMLESS_ENV`]. Warns about its risks either way;
/// returns whether the live checks may run (nothing was held back).
fn apply_exec_env(args: &DoctorArgs, plan: &Plan, report: &mut Report) -> bool {
    // Decided before the env is applied: it may set HOME or KUBECONFIG.
    let trusted = trusted(args);
    let (applied, held): (Vec<_>, Vec<_>) = plan
        .env
        .iter()
        .partition(|(name, _)| trusted || HARMLESS_ENV.contains(&name.as_str()));
    apply_env(&applied);
    // After: reading the files it names starts a runtime.
    warn_env_risks(plan, report);
    if held.is_empty() {
        return true;
    }
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in held {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    report.warning(
        format!(
            "credentials and whoami not checked: the exec env of user {} sets {}, which doctor follows only in your own kubeconfig or one you trust",
            plan.user,
            names.join(", ")
        ),
        Some(trust_command(args)),
    );
    false
}

/// What an exec `env` variable lets a kubeconfig do through the plugin, when that is
/// more than choosing among the user's own settings: send requests or files elsewhere,
/// or read configuration (and its `credential_process` commands) from elsewhere.
fn env_risk(name: &str) -> Option<String> {
    if let Some(service) = name.strip_prefix("AWS_ENDPOINT_URL_") {
        let carrying = if service.starts_with("SSO") {
            "carrying your SSO login token"
        } else {
            "signed with your credentials"
        };
        return Some(format!(
            "sends {} API calls there instead of to AWS, {carrying}",
            service.replace('_', " ")
        ));
    }
    Some(match name {
        "AWS_ENDPOINT_URL" => {
            "sends every AWS API call there instead of to AWS: STS calls signed with your credentials, SSO calls carrying your SSO login token"
        }
        "AWS_CONTAINER_CREDENTIALS_FULL_URI" => {
            "asks that URL for credentials, sending it the container authorization token"
        }
        "AWS_EC2_METADATA_SERVICE_ENDPOINT" => "asks that URL for instance credentials",
        "HTTPS_PROXY" | "https_proxy" | "HTTP_PROXY" | "http_proxy" | "ALL_PROXY" | "all_proxy" => {
            "routes AWS calls through that proxy"
        }
        "AWS_CONFIG_FILE" => {
            "reads the AWS config from that file; a credential_process there runs as you"
        }
        "AWS_SHARED_CREDENTIALS_FILE" => {
            "reads AWS credentials from that file; a credential_process there runs as you"
        }
        "AWS_WEB_IDENTITY_TOKEN_FILE" => "sends that file's content to STS as a web identity token",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" => {
            "sends that file's content to the container credentials endpoint"
        }
        "HOME" => {
            "reads ~/.aws from there: its config, credentials and SSO logins; a credential_process there runs as you"
        }
        "PATH" => "looks up programs there: a credential_process runs `sh` from the first match",
        "LD_PRELOAD" | "LD_LIBRARY_PATH" => {
            "loads libraries from there into every program the plugin starts"
        }
        _ => return None,
    }
    .to_owned())
}

/// One warning per exec `env` variable that redirects the plugin (whether or not doctor
/// applies it: kubectl does, on every call).
fn warn_env_risks(plan: &Plan, report: &mut Report) {
    let user = &plan.user;
    for (name, value) in &plan.env {
        let Some(risk) = env_risk(name) else {
            continue;
        };
        let shown = shown_env_value(name, value);
        let mut what = format!("user {user}: exec env {name}={shown} {risk}");
        let processes = redirected_files(name, value, &plan.env)
            .iter()
            .flat_map(|(path, kind)| process_profiles(path, *kind))
            .collect::<Vec<_>>();
        if !processes.is_empty() {
            what.push_str(&format!(
                " (profiles with a credential_process there: {})",
                a_few(&processes)
            ));
        }
        report.warning(
            what,
            Some(format!(
                "remove {name} from the exec env of user {user} unless {shown} is yours"
            )),
        );
    }
}

/// The AWS config files an exec `env` variable makes the plugin read (`~/` as the SDK
/// expands it, from the home the plugin will have).
fn redirected_files(
    name: &str,
    value: &str,
    env: &[(String, String)],
) -> Vec<(PathBuf, EnvConfigFileKind)> {
    let home = env
        .iter()
        .rev()
        .find(|(n, _)| n == "HOME")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(home_dir);
    let path = |p: &str| match (p.strip_prefix("~/"), &home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(p),
    };
    match name {
        "AWS_CONFIG_FILE" => vec![(path(value), EnvConfigFileKind::Config)],
        "AWS_SHARED_CREDENTIALS_FILE" => vec![(path(value), EnvConfigFileKind::Credentials)],
        "HOME" => vec![
            (path("~/.aws/config"), EnvConfigFileKind::Config),
            (path("~/.aws/credentials"), EnvConfigFileKind::Credentials),
        ],
        _ => Vec::new(),
    }
}

/// Profiles of an AWS config or credentials file that have a `credential_process`:
/// read to name them in a warning, never run. Only a regular file of a sensible size.
fn process_profiles(path: &Path, kind: EnvConfigFileKind) -> Vec<String> {
    // AWS config files are a few KB.
    const LIMIT: u64 = 1024 * 1024;
    // A FIFO or a device would block or never end.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= LIMIT) {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let files = EnvConfigFiles::builder().with_contents(kind, text).build();
    let (fs, env) = (Fs::real(), Env::from_slice(&[]));
    let Ok(Ok(set)) = network::block_on(aws_config::profile::load(&fs, &env, &files, None)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = set
        .profiles()
        .filter(|p| {
            set.get_profile(p)
                .is_some_and(|p| p.get("credential_process").is_some())
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// Whether doctor may apply the kubeconfig's exec `env` and act on it as kubectl would:
/// the user said so, or it is the user's own kubeconfig — the file(s) kubectl loads
/// without `--kubeconfig` (`$KUBECONFIG`, else `~/.kube/config`). Any other file is only
/// inspected.
fn trusted(args: &DoctorArgs) -> bool {
    let Some(given) = &args.kubeconfig else {
        return true;
    };
    if args.trust_kubeconfig {
        return true;
    }
    let own = kubeconfig::read_paths(
        None,
        std::env::var_os("KUBECONFIG").as_deref(),
        home_dir().as_deref(),
    )
    .unwrap_or_default();
    let Ok(given) = std::fs::canonicalize(given) else {
        return false;
    };
    own.iter()
        .any(|p| std::fs::canonicalize(p).is_ok_and(|p| p == given))
}

/// The doctor command that applies the exec `env` of the kubeconfig being inspected.
fn trust_command(args: &DoctorArgs) -> String {
    let mut command = "eks-token doctor".to_owned();
    if let Some(path) = &args.kubeconfig {
        command.push_str(&format!(
            " --kubeconfig {}",
            shell_quote(&path.display().to_string())
        ));
    }
    if let Some(context) = &args.context {
        command.push_str(&format!(" --context {}", shell_quote(context)));
    }
    format!("if you trust that kubeconfig: `{command} --trust-kubeconfig`")
}

/// kubectl starts the plugin with its own environment plus the exec block's `env`; the
/// checks read the process environment, so the variables are set here (only those
/// [`trusted`] or [`HARMLESS_ENV`] allow).
fn apply_env(env: &[&(String, String)]) {
    for (name, value) in env {
        if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0') {
            continue;
        }
        // SAFETY: doctor runs on the main thread before any runtime or other thread
        // exists, so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
}

fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Credentials, region, STS host, SSO login and a live GetCallerIdentity; with `live`
/// false, only what the config files say.
async fn check_aws(options: &Options, deadline: Deadline, live: bool, report: &mut Report) {
    let setup = match AwsConfig::load(options, deadline).await {
        Ok(s) => s,
        Err(e) => {
            report.line("credentials", why(options, None, None));
            report.problem(e.to_string(), e.hint());
            return;
        }
    };
    report.line(
        "region",
        format!("{} ({})", setup.region, setup.region_origin),
    );
    if setup.region_origin == RegionOrigin::Fallback {
        report.warning(
            format!(
                "no region is configured; tokens are signed for {}",
                setup.region
            ),
            Some("add `--region REGION` to the exec args, or `region = …` to the profile".into()),
        );
    }
    match StsEndpoint::regional(&setup.region, setup.variant) {
        Ok(endpoint) => report.line("sts host", format!("{} (in the token)", endpoint.host)),
        Err(e) => report.problem(
            e.to_string(),
            Some("unset AWS_USE_DUALSTACK_ENDPOINT".into()),
        ),
    }
    if let Some((var, url)) = ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| env_set(v).map(|u| (*v, u)))
    {
        report.line(
            "sts api",
            format!("{url} ({var}: AssumeRole and whoami go there, never the token)"),
        );
    }

    check_sso(options, &setup, report);
    if !live {
        let mut text = "not resolved (see the warnings)".to_owned();
        if setup.profile_names().contains(&setup.profile) {
            text.push_str(&format!(
                "; profile {}: {}",
                setup.profile,
                setup.profile_kind(&setup.profile)
            ));
        }
        report.line("credentials", text);
        return;
    }
    let resolved = match setup.resolve(options.role.as_ref()).await {
        Ok(r) => Some(r),
        Err(e) => {
            report.problem(e.to_string(), e.hint());
            None
        }
    };
    let Some(resolved) = resolved else {
        report.line("credentials", why(options, Some(&setup), None));
        return;
    };
    report.line(
        "credentials",
        why(options, Some(&setup), Some(&resolved.source)),
    );
    if let Some(role) = &resolved.assumed_role {
        report.line("role", format!("{role} (--role-arn)"));
    }
    if let Some(expiry) = resolved.credentials.expiry() {
        let expiry: DateTime<Utc> = expiry.into();
        let now = Utc::now();
        if expiry <= now {
            report.problem(
                format!("the credentials expired at {}", stamp(expiry)),
                Some("refresh them (`aws sso login`, or a new `aws-vault exec` session)".into()),
            );
        } else {
            report.line(
                "expires",
                format!("{} (in {})", stamp(expiry), left(expiry - now)),
            );
        }
    }
    match setup.caller_identity(&resolved).await {
        Ok(caller) => {
            report.line("identity", &caller.arn);
            match Principal::from_arn(&caller.arn) {
                Ok(p) => {
                    let mut text = p.to_string();
                    for note in p.notes() {
                        text.push_str(&format!("\nnote: {note}"));
                    }
                    report.line("maps as", text);
                }
                Err(e) => report.line("maps as", format!("nothing: {e}")),
            }
        }
        Err(e) => report.problem(e.to_string(), e.hint()),
    }
}

/// The SSO login of the profile in use: when it expires and the command that renews it.
/// Whether an expired login is fatal is left to the credential chain (the SDK refreshes
/// `sso_session` logins that still have a refresh token).
fn check_sso(options: &Options, setup: &AwsConfig, report: &mut Report) {
    if options.profile.is_none() && env_set("AWS_ACCESS_KEY_ID").is_some() {
        return;
    }
    let Some(sso) = setup.sso_profile(&setup.profile) else {
        return;
    };
    let Some(state) = sso.login_state() else {
        return;
    };
    let via = match &sso.session {
        Some(s) => format!("sso-session {s}"),
        None => format!("profile {}", sso.profile),
    };
    let state = match state {
        LoginState::ExpiresAt(t) if t > Utc::now() => {
            format!("valid until {} (in {})", stamp(t), left(t - Utc::now()))
        }
        LoginState::ExpiresAt(t) => format!("expired at {}", stamp(t)),
        LoginState::Missing => "none cached (never logged in, or logged out)".into(),
        LoginState::Unreadable => "the cached login is unreadable".into(),
    };
    report.line(
        "sso login",
        format!(
            "{state}
{via}; log in with `{}`",
            sso.login_command()
        ),
    );
}

/// Which source won, and why it and not another.
fn why(options: &Options, setup: Option<&AwsConfig>, source: Option<&Source>) -> String {
    let (Some(setup), Some(source)) = (setup, source) else {
        return "none usable (see the problems below)".into();
    };
    let env_keys = env_set("AWS_ACCESS_KEY_ID").is_some();
    let profile_origin = if options.profile.is_some() {
        "from --profile"
    } else if setup.profile_chosen {
        "from AWS_PROFILE"
    } else {
        "no --profile or AWS_PROFILE"
    };
    match source {
        Source::Environment if setup.profile_chosen => format!(
            "environment variables (AWS_ACCESS_KEY_ID is set, which outranks AWS_PROFILE={}; --profile would outrank it)",
            setup.profile
        ),
        Source::Environment => "environment variables (AWS_ACCESS_KEY_ID is set)".into(),
        Source::Profile(p) => {
            let kind = setup.profile_kind(p);
            let mut text = format!("profile {p} ({profile_origin}): {kind}");
            if env_keys && options.profile.is_some() {
                text.push_str("\n(--profile outranks AWS_ACCESS_KEY_ID, as in the AWS CLI)");
            }
            text
        }
        Source::WebIdentity => "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN; no profile has credentials)".into(),
        Source::Container => "container credentials endpoint (AWS_CONTAINER_CREDENTIALS_*; no profile has credentials)".into(),
        Source::InstanceMetadata => "EC2 instance metadata (nothing else has credentials)".into(),
    }
}

/// What the token cache holds for the cluster, with the same key `token` would use.
fn cache_entry(cluster: &ClusterId, options: &Options, dir: Option<&Path>) -> String {
    let Some(dir) = cache::default_dir(dir) else {
        return "no home directory for the cache".into();
    };
    let key = CacheKey::new(cluster, options);
    let now = Utc::now();
    match Cache::existing(&dir).and_then(|c| c.map_or(Ok(None), |c| c.lookup(&key, now))) {
        Ok(Some(hit)) => format!(
            "a token valid until {} ({} left) in {}",
            stamp(hit.token.expires_at),
            left(hit.token.expires_at - now),
            dir.display()
        ),
        Ok(None) => format!(
            "no token with 5+ minutes left in {}; the next kubectl run mints one",
            dir.display()
        ),
        Err(e) => format!("not used: {e}"),
    }
}

fn left(d: chrono::TimeDelta) -> String {
    let minutes = d.num_minutes();
    if minutes >= 60 {
        format!("{}h {}m", minutes / 60, minutes % 60)
    } else {
        format!("{minutes}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_exec_env_are_hidden() {
        assert_eq!(shown_env_value("AWS_PROFILE", "dev"), "dev");
        assert_eq!(shown_env_value("AWS_REGION", "eu-west-1"), "eu-west-1");
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "aws_security_token",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "VAULT_PASSWORD",
        ] {
            assert_eq!(shown_env_value(name, "s3cr3t"), "(hidden)", "{name}");
        }
        // A path or an address is not a secret, and the warnings about it need it.
        for name in [
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ] {
            assert_eq!(shown_env_value(name, "/p"), "/p", "{name}");
        }
    }

    #[test]
    fn relative_commands_resolve_from_the_kubeconfig_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin/plugin");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            resolve_command("bin/plugin", Some(dir.path())),
            Some(bin.clone())
        );
        assert_eq!(
            resolve_command(bin.to_str().unwrap(), None),
            Some(bin.clone())
        );
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(resolve_command("bin/plugin", Some(dir.path())), None);
        assert_eq!(resolve_command("", None), None);
    }
}

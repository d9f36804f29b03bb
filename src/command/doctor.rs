//! `eks-token doctor`: one screen on what kubectl's plugin will see — the kubeconfig
//! user's exec block, which credential source wins and why, region and STS host, the SSO
//! login, the token cache, and who AWS says the credentials are; for an OIDC user
//! (`eks-token oidc`, kubelogin), the provider's discovery, the cached login and its claims.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_types::os_shim_internal::{Env, Fs};
use chrono::{DateTime, Utc};
use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::aws_files::{self, home_dir};
use crate::cache::{self, Cache, CacheKey, KeyInputs};
use crate::cli::{
    self, AwsOnly, Cli, Command, DoctorArgs, GrantType, OidcArgs, OtherCommand, TokenArgs,
};
use crate::credentials::{AwsConfig, LoginState, Options, RegionOrigin, Source, sso};
use crate::error::Error;
use crate::exec_credential::ExecRequest;
use crate::exec_plugin::{self, Plugin};
use crate::identity::Principal;
use crate::kubeconfig::{
    self, ExecApiVersion, ExecConfig, InteractiveMode, Kubeconfig, KubeconfigError, UnreadableExec,
};
use crate::log;
use crate::login;
use crate::message::{self, a_few, shell_quote, stamp, time_left};
use crate::network::{self, Deadline, Limits, Network};
use crate::oidc::{self, OidcError, cache::OidcCache, id_token::Claims};
use crate::sts_endpoint::StsEndpoint;
use crate::token::ClusterId;

const MIGRATE: &str = "eks-token kubeconfig migrate";

/// Something to tell the user, with the fix when there is one.
#[derive(Serialize, Deserialize)]
struct Finding {
    what: String,
    fix: Option<String>,
}

/// The screen being built; also what a `--aws-only` child prints as JSON.
#[derive(Default, Serialize, Deserialize)]
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

    /// Appends what a `--aws-only` child found, after what is here.
    fn append(&mut self, other: Report) {
        self.lines.extend(other.lines);
        self.problems.extend(other.problems);
        self.warnings.extend(other.warnings);
    }

    /// Every text through [`crate::secrets::redact`]: a child redacts its own findings,
    /// as only it has seen the secrets.
    fn redacted(self) -> Self {
        let text = |t: String| crate::secrets::redact(&t).into_owned();
        let finding = |f: Finding| Finding {
            what: text(f.what),
            fix: f.fix.map(text),
        };
        Self {
            lines: self.lines.into_iter().map(|(l, t)| (l, text(t))).collect(),
            problems: self.problems.into_iter().map(finding).collect(),
            warnings: self.warnings.into_iter().map(finding).collect(),
        }
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
    if let Some(what) = args.aws_only {
        return aws_only(args, what);
    }
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
    runs: Runs,
    env: Vec<(String, String)>,
    /// `spec.interactive` kubectl would send from here: `interactiveMode` Always, or
    /// IfAvailable (v1beta1's default) with stdin a terminal.
    interactive: bool,
}

/// What the user's plugin is run for, as eks-token reads its arguments.
enum Runs {
    /// `eks-token token`, or a peer's arguments for the same token.
    Token(Box<TokenArgs>),
    /// `eks-token oidc`, or kubelogin's `get-token` with the same flags: those read, and
    /// the flags as written.
    Oidc(Box<OidcArgs>, Vec<String>),
    /// kubelogin's `get-token` with flags eks-token does not take: no check applies.
    UnreadableOidc,
    /// Nothing doctor reads: the AWS checks run with doctor's own flags.
    Unknown,
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
    match plan.as_ref().map(|p| &p.runs) {
        Some(Runs::Oidc(oidc, flags)) => {
            let plan = plan.as_ref().expect("matched above");
            check_oidc(plan, oidc, flags, deadline, report);
            return Ok(());
        }
        Some(Runs::UnreadableOidc) => return Ok(()),
        _ => {}
    }
    let (options, cluster, cache) = match &plan {
        Some(Plan {
            runs: Runs::Token(token),
            interactive,
            ..
        }) => (
            token.aws.options_for(Some(*interactive)),
            Some(token.cluster_id.clone()),
            if token.no_cache {
                CacheUse::Off
            } else {
                CacheUse::In(token.cache_location.cache_dir.clone())
            },
        ),
        _ => (
            args.aws.options(),
            args.cluster_id.clone(),
            CacheUse::In(None),
        ),
    };
    let (env, live) = match &plan {
        Some(plan) => env_to_apply(args, plan, report),
        None => (Vec::new(), true),
    };
    let cluster = cluster.as_deref().map(ClusterId::new);
    match &cluster {
        Some(Ok(id)) => report.line("cluster id", id.as_str()),
        Some(Err(e)) => report.problem(
            format!("the cluster id is unusable: {e}"),
            Some("pass the EKS cluster name with --cluster-id".into()),
        ),
        None => {}
    }
    let token_aws = match &plan {
        Some(Plan {
            runs: Runs::Token(token),
            ..
        }) => &token.aws,
        _ => &args.aws,
    };
    let lock_dir = match &cache {
        CacheUse::Off => None,
        CacheUse::In(dir) => cache::default_dir(dir.as_deref()),
    };
    let login = token_aws.login_policy(plan.as_ref().map(|p| p.interactive), lock_dir);
    let checks = AwsChecks {
        cluster: cluster.and_then(Result::ok),
        options,
        cache,
        live,
        login,
    };
    // Without an exec env to apply, the plugin would see this process's environment.
    if env.is_empty() {
        checks.run(deadline, report)
    } else {
        checks.run_in_child(&env, deadline, report)
    }
}

/// The checks that read the environment, as the plugin would see it: region, STS host,
/// SSO login, credentials and identity ([`check_aws`]), and the cache line.
struct AwsChecks {
    cluster: Option<ClusterId>,
    options: Options,
    cache: CacheUse,
    /// Resolve the credentials and call AWS; else only what the config files say.
    live: bool,
    /// Whether an expired SSO login may be renewed by itself, as the plugin would decide.
    login: login::Policy,
}

/// The token cache as the plugin's arguments set it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CacheUse {
    /// `--no-cache`.
    Off,
    /// `--cache-dir`, else the default directory.
    In(Option<PathBuf>),
}

/// A `--aws-only` child that honours its deadline has printed its report this soon
/// after it; past that it is killed.
const CHILD_GRACE: Duration = Duration::from_millis(500);

/// A child's report is a few KB; more is not a report.
const MAX_CHILD_REPORT: u64 = 1024 * 1024;

impl AwsChecks {
    /// Runs the checks in this process, with its environment.
    fn run(&self, deadline: Deadline, report: &mut Report) -> Result<(), Error> {
        network::block_on(check_aws(self, deadline, report)).map_err(Error::Runtime)?;
        if let Some(id) = &self.cluster {
            let line = match &self.cache {
                CacheUse::Off => {
                    "off (--no-cache in the exec args): every kubectl run mints a token".to_owned()
                }
                CacheUse::In(dir) => cache_entry(id, &self.options, dir.as_deref()),
            };
            report.line("cache", line);
        }
        Ok(())
    }

    /// Runs the checks in a child `eks-token doctor --aws-only` started as kubectl starts
    /// the plugin: this process's environment plus the exec `env`, no stdin. The AWS
    /// SDK's providers read the process environment themselves, and this process's own
    /// stays as it is. The child gets the time left; past it (and [`CHILD_GRACE`]) it
    /// is killed.
    fn run_in_child(
        &self,
        env: &[(String, String)],
        deadline: Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        match network::block_on(self.child(env, deadline)).map_err(Error::Runtime)? {
            Ok(found) => report.append(found),
            Err((what, fix)) => report.problem(what, fix),
        }
        Ok(())
    }

    /// The child's report, or the problem to show instead.
    async fn child(
        &self,
        env: &[(String, String)],
        deadline: Deadline,
    ) -> Result<Report, (String, Option<String>)> {
        let failed = |why: String| (format!("the credential checks did not run: {why}"), None);
        let exe = std::env::current_exe()
            .map_err(|e| failed(format!("cannot find eks-token's own binary: {e}")))?;
        let interactive = self.login.exec_interactive == Some(true);
        let mut command = tokio::process::Command::new(&exe);
        if let Some(interactive) = self.login.exec_interactive {
            command.env(
                "KUBERNETES_EXEC_INFO",
                format!(r#"{{"apiVersion":"client.authentication.k8s.io/v1","spec":{{"interactive":{interactive}}}}}"#),
            );
        }
        let mut child = command
            .args(self.child_args(deadline.left()))
            .envs(env.iter().map(|(name, value)| (name, value)))
            // Debug lines as this run has them, whatever the exec env says.
            .env_remove(log::ENV)
            // kubectl gives the plugin stdin only when interactive.
            .stdin(if interactive {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot start {}: {e}", exe.display())))?;
        let stdout = child.stdout.take();
        // Owns the child: dropped at the deadline, it kills it.
        let finished = async move {
            let mut out = Vec::new();
            if let Some(pipe) = stdout {
                let _ = pipe.take(MAX_CHILD_REPORT + 1).read_to_end(&mut out).await;
            }
            (out, child.wait().await)
        };
        // A person logging in in the child has the login's time on top.
        let login = self
            .login
            .person_present()
            .map_or(Duration::ZERO, |()| self.login.timeout);
        let Ok((out, status)) =
            tokio::time::timeout(deadline.left() + login + CHILD_GRACE, finished).await
        else {
            return Err((
                format!(
                    "timed out after {}: the credential checks did not finish",
                    message::seconds(deadline.limits().total)
                ),
                Some("check the network, or give doctor more time with --timeout SECONDS".into()),
            ));
        };
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => return Err(failed(format!("eks-token ended with {status} (see above)"))),
            Err(e) => return Err(failed(e.to_string())),
        }
        serde_json::from_slice(&out).map_err(|_| failed("its report is unreadable".into()))
    }

    /// `doctor --aws-only …` with these checks' flags; the time `left` becomes its `--timeout`.
    fn child_args(&self, left: Duration) -> Vec<OsString> {
        let what = if self.live { "live" } else { "config" };
        let options = &self.options;
        let role = options.role.as_ref();
        // Rounded up to 10 ms (and so more than zero, as `--timeout` must be): what doctor
        // did before takes a few ms and waits for nothing, so the child's messages name
        // the `--timeout` given (`timed out after 10s`).
        let left = left.as_millis().div_ceil(10).max(1) as f64 / 100.0;
        let left = left.to_string();
        let login = self.login.mode.to_possible_value();
        let login_timeout = self.login.timeout.as_secs_f64().to_string();
        let flags = [
            ("profile", options.profile.as_deref()),
            ("region", options.region.as_deref()),
            ("role-arn", role.map(|r| r.arn.as_str())),
            ("session-name", role.and_then(|r| r.session_name.as_deref())),
            ("external-id", role.and_then(|r| r.external_id.as_deref())),
            ("cluster-id", self.cluster.as_ref().map(ClusterId::as_str)),
            ("timeout", Some(left.as_str())),
            ("login", login.as_ref().map(|v| v.get_name())),
            ("login-timeout", Some(login_timeout.as_str())),
        ];
        let mut args: Vec<OsString> = vec!["doctor".into(), "--aws-only".into(), what.into()];
        // `--name=value`: a value may start with `-`.
        args.extend(
            flags
                .iter()
                .filter_map(|(name, value)| Some(format!("--{name}={}", (*value)?).into())),
        );
        if role.is_some_and(|r| r.forward_session_name) {
            args.push("--forward-session-name".into());
        }
        if !options.credential_cache {
            args.push("--no-credential-cache".into());
        }
        if !options.aws_cli_cache {
            args.push("--no-aws-cli-cache".into());
        }
        match &self.cache {
            CacheUse::Off => args.push("--no-cache".into()),
            CacheUse::In(Some(dir)) => {
                let mut arg = OsString::from("--cache-dir=");
                arg.push(dir);
                args.push(arg);
            }
            CacheUse::In(None) => {}
        }
        if log::enabled() {
            args.push("--verbose".into());
        }
        args
    }
}

/// `doctor --aws-only`: the child [`AwsChecks::run_in_child`] starts. Its findings go to
/// stdout as JSON, redacted here, where the secrets are known.
fn aws_only(args: &DoctorArgs, what: AwsOnly) -> (String, Result<(), Error>) {
    let deadline = Deadline::start(Limits::new(args.aws.timeout));
    let cluster = match args.cluster_id.as_deref().map(ClusterId::new).transpose() {
        Ok(cluster) => cluster,
        Err(e) => return (String::new(), Err(e.into())),
    };
    // Set by the parent as kubectl sets it.
    let exec_interactive =
        ExecRequest::from_env_value(std::env::var_os("KUBERNETES_EXEC_INFO").as_deref())
            .interactive;
    let lock_dir = (!args.no_cache)
        .then(|| cache::default_dir(args.cache_dir.as_deref()))
        .flatten();
    let checks = AwsChecks {
        cluster,
        options: args.aws.options_for(exec_interactive),
        cache: if args.no_cache {
            CacheUse::Off
        } else {
            CacheUse::In(args.cache_dir.clone())
        },
        live: what == AwsOnly::Live,
        login: args.aws.login_policy(exec_interactive, lock_dir),
    };
    let mut report = Report::default();
    if let Err(e) = checks.run(deadline, &mut report) {
        return (String::new(), Err(e));
    }
    let json = serde_json::to_string(&report.redacted()).unwrap_or_default();
    (json + "\n", Ok(()))
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
    exec: Result<ExecConfig, UnreadableExec>,
    dir: Option<&Path>,
    report: &mut Report,
) -> Plan {
    let exec = match exec {
        Ok(exec) => exec,
        Err(e) => {
            report.problem(
                format!("user {user}: the exec block cannot be read: {e}"),
                Some(format!(
                    "fix the exec block of user {user}; kubectl cannot load this kubeconfig either"
                )),
            );
            return Plan {
                user: user.to_owned(),
                runs: Runs::Unknown,
                env: Vec::new(),
                interactive: false,
            };
        }
    };
    let api = exec.api_version.as_ref().map_or("", ExecApiVersion::as_str);
    let command = exec.command.as_str();
    let args = exec.args.clone();
    let env = exec.env_pairs();
    let mode = exec.interactive_mode.as_ref().map(InteractiveMode::as_str);
    let mut shown = std::iter::once(shell_quote(command))
        .chain(
            exec_plugin::shown_args(&args)
                .iter()
                .map(|a| shell_quote(a)),
        )
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
    for problem in exec.problems() {
        report.problem(problem.describe(user), Some(problem.fix(user)));
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

    let interactive = match &exec.interactive_mode {
        Some(InteractiveMode::Never) => false,
        Some(InteractiveMode::Always) => true,
        _ => std::io::stdin().is_terminal(),
    };
    let plan = |runs| Plan {
        user: user.to_owned(),
        runs,
        env: env.clone(),
        interactive,
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
        Some(Plugin::EksToken | Plugin::KubectlOidcLogin | Plugin::Kubelogin) | None => {}
    }
    let not_ours = |report: &mut Report| {
        report.warning(
            format!("user {user} runs {command:?}, not an EKS token plugin; checking the credential flags instead"),
            None,
        );
    };
    let eks_token_args = match plugin {
        None => {
            not_ours(report);
            return plan(Runs::Unknown);
        }
        Some(Plugin::EksToken) => args,
        Some(peer) => {
            match exec_plugin::parse_peer(peer, &args) {
                Ok(Some(request)) => {
                    if peer.is_oidc() {
                        report.warning(
                        format!("user {user} runs {}: a second plugin, when eks-token takes the same flags", peer.describe()),
                        Some(format!("`{MIGRATE}` (every flag kept)")),
                    );
                    }
                    request.eks_token_args()
                }
                // `kubectl` running something else than kubelogin.
                Ok(None) if peer.is_oidc() => {
                    not_ours(report);
                    return plan(Runs::Unknown);
                }
                Ok(None) => {
                    report.problem(
                    format!("user {user}: `{command}` is not called for an EKS token"),
                    Some("run `eks-token kubeconfig --cluster-name NAME` to write a working user".into()),
                );
                    return plan(Runs::Unknown);
                }
                // kubelogin works without eks-token: nothing is broken, only not checked.
                Err(reason) if peer.is_oidc() => {
                    report.warning(
                    format!(
                        "user {user}: eks-token does not take these {} arguments, so they were not checked: {reason}",
                        peer.describe()
                    ),
                    None,
                );
                    return plan(Runs::UnreadableOidc);
                }
                Err(reason) => {
                    report.problem(
                        format!(
                            "user {user}: cannot read the {} arguments: {reason}",
                            peer.describe()
                        ),
                        None,
                    );
                    return plan(Runs::Unknown);
                }
            }
        }
    };
    let argv = cli::normalize(
        std::iter::once(OsString::from("eks-token"))
            .chain(eks_token_args.iter().map(OsString::from)),
    );
    let runs = match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Command::Token(token),
            ..
        }) => Runs::Token(Box::new(token)),
        Ok(Cli {
            command: Command::Other(OtherCommand::Oidc(oidc)),
            ..
        }) if oidc.setup.is_none() => {
            // After `eks-token oidc`, kubelogin's spellings normalized.
            let flags = argv[2..].iter().map(|a| a.to_string_lossy().into_owned());
            Runs::Oidc(Box::new(oidc.args), flags.collect())
        }
        Ok(_) => {
            report.problem(
                format!(
                    "user {user}: the exec args run neither `eks-token token` nor `eks-token oidc`"
                ),
                None,
            );
            Runs::Unknown
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
                Some("see `eks-token token --help` (`eks-token oidc --help` for OIDC)".into()),
            );
            Runs::Unknown
        }
    };
    plan(runs)
}

/// An OIDC user, as `eks-token oidc` would find things: the provider's discovery
/// (through `network/`, with the user's CA flags), the cached login (expiry, refresh token,
/// never the token) and its username and groups claims, and whether a login could happen.
fn check_oidc(
    plan: &Plan,
    args: &OidcArgs,
    flags: &[String],
    deadline: Deadline,
    report: &mut Report,
) {
    let user = &plan.user;
    let settings = oidc::Settings::new(args, Some(plan.interactive));
    let key = settings.key();
    report.line("issuer", &settings.issuer);
    report.line(
        "client id",
        format!(
            "{} (scopes {})",
            settings.client.id,
            settings.scopes.join(" ")
        ),
    );
    if !plan.env.is_empty() {
        let names: Vec<String> = plan.env.iter().map(|(n, _)| n.clone()).collect();
        report.warning(
            format!(
                "the OIDC checks ran in doctor's environment, without the exec env of user {user} ({})",
                a_few(&names)
            ),
            None,
        );
    }

    let network = Network::new(deadline);
    match network::block_on(oidc::discover(&settings, &network)) {
        Err(e) => report.problem(format!("the OIDC checks did not run: {e}"), None),
        Ok(Err(e)) => {
            let what = match e {
                OidcError::Discovery { .. } | OidcError::CaFile { .. } | OidcError::CaData => {
                    e.to_string()
                }
                _ => format!("the OIDC discovery of {} failed: {e}", settings.issuer),
            };
            report.problem(what, e.hint());
        }
        Ok(Ok(metadata)) => {
            let mut grants = vec![if metadata
                .code_challenge_methods_supported
                .iter()
                .any(|m| m == "S256")
            {
                "authorization code (PKCE S256)"
            } else {
                "authorization code"
            }];
            if metadata.device_authorization_endpoint.is_some() {
                grants.push("device code");
            } else if settings.grant == GrantType::DeviceCode {
                report.problem(
                    format!("user {user}: --grant-type device-code, but the provider does not offer the device code grant"),
                    Some("use --grant-type authcode (the browser), or allow the device code grant for the client at the provider".into()),
                );
            }
            report.line(
                "discovery",
                format!(
                    "ok: the provider answers as {}\ngrants: {}",
                    settings.issuer,
                    grants.join(", ")
                ),
            );
        }
    }

    let person = settings.login.person_present();
    let setup = std::iter::once("eks-token oidc setup".to_owned())
        .chain(
            exec_plugin::shown_args(flags)
                .iter()
                .map(|a| shell_quote(a)),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let cannot_log_in = |what: String, report: &mut Report| {
        if let Err(why) = person {
            report.problem(
                format!("{what}, and kubectl's run would not log in: {}", why.why()),
                Some(format!("log in once at a terminal: `{setup}`")),
            );
        }
    };
    let Some(dir) = settings.cache_dir.clone() else {
        report.line("cache", "no home directory for the OIDC token cache");
        return;
    };
    let entry = OidcCache::existing(&dir).and_then(|c| c.map_or(Ok(None), |c| c.read(&key)));
    let now = Utc::now();
    match entry {
        Err(e) => {
            let e = OidcError::Cache(e);
            report.problem(e.to_string(), e.hint());
        }
        Ok(None) => {
            report.line("cache", format!("no login cached in {}", dir.display()));
            cannot_log_in(format!("user {user}: no OIDC login is cached"), report);
        }
        Ok(Some(entry)) => {
            let what = if args.oidc_use_access_token {
                "an access token"
            } else {
                "an ID token"
            };
            let when = if entry.fresh(now) {
                format!(
                    "valid until {} (in {})",
                    stamp(entry.expires_at),
                    time_left(entry.expires_at - now)
                )
            } else if entry.expires_at > now {
                format!(
                    "that expires at {}: under {} left, so not served",
                    stamp(entry.expires_at),
                    time_left(oidc::cache::MIN_REMAINING)
                )
            } else {
                format!("that expired at {}", stamp(entry.expires_at))
            };
            let state = format!("{what} {when} in {}", dir.display());
            let refresh = if entry.refresh_token.is_some() {
                "a refresh token: renewed without a browser when it expires"
            } else if settings.scopes.iter().any(|s| s == "offline_access") {
                "no refresh token: a browser login when it expires"
            } else {
                "no refresh token: a browser login when it expires (--oidc-extra-scope=offline_access asks for one)"
            };
            report.line("cache", format!("{state}\n{refresh}"));
            if !entry.fresh(now) && entry.refresh_token.is_none() {
                cannot_log_in(
                    format!(
                        "user {user}: the cached OIDC token is not served any more ({what} {when}) and there is no refresh token"
                    ),
                    report,
                );
            }
            check_claims(user, &settings, &entry.claims, report);
        }
    }
    report.line(
        "login",
        match person {
            Ok(()) => "a browser login when needed: a person is at this terminal".to_owned(),
            Err(why) => format!("not by itself: {}", why.why()),
        },
    );
}

/// The username and groups claims of the cached token: what the cluster will see.
fn check_claims(user: &str, settings: &oidc::Settings, claims: &Claims, report: &mut Report) {
    match &claims.email {
        Some(email) => report.line("username", format!("{email} (email claim)")),
        None => {
            report.line(
                "username",
                format!("{} (sub claim; no email claim)", claims.sub),
            );
            let fix = if settings.scopes.iter().any(|s| s == "email") {
                "have the provider put the email claim in the ID token, or have the cluster take another username claim".to_owned()
            } else {
                format!("add --oidc-extra-scope=email to the exec args of user {user}")
            };
            report.warning(
                "the cached ID token has no email claim: a cluster whose username claim is email refuses it",
                Some(fix),
            );
        }
    }
    if claims.groups.is_empty() {
        report.line("groups", "none");
        report.warning(
            "the cached ID token has no groups claim: RBAC bindings to groups do not apply to it",
            Some("have the provider add a groups claim to the ID token (Dex adds it for --oidc-extra-scope=groups)".into()),
        );
    } else {
        report.line("groups", claims.groups.join(", "));
    }
}

/// An exec `env` value as the report shows it: secrets some kubeconfigs carry there
/// (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …) are never printed; a path or an
/// address (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_CONTAINER_CREDENTIALS_FULL_URI`) is not
/// a secret, and the warnings need it — but the user and password an address may carry
/// (`HTTPS_PROXY=http://user:pass@proxy:3128`) are.
fn shown_env_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    let upper = name.to_ascii_uppercase();
    if !["_FILE", "_URI", "_URL"].iter().any(|s| upper.ends_with(s))
        && ["SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"]
            .iter()
            .any(|w| upper.contains(w))
    {
        return Cow::Borrowed("(hidden)");
    }
    if let Some((scheme, rest)) = value.split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            return Cow::Owned(format!("{scheme}://(hidden)@{}", &rest[at + 1..]));
        }
    }
    Cow::Borrowed(value)
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

/// The exec `env` as far as doctor applies it to the checks: all of it for the user's
/// own or a trusted kubeconfig, else only [`HARMLESS_ENV`]; a variable no process can
/// have (an empty name, `=` or NUL) is left out. Warns about its risks either way; also
/// returns whether the live checks may run (nothing was held back).
fn env_to_apply(
    args: &DoctorArgs,
    plan: &Plan,
    report: &mut Report,
) -> (Vec<(String, String)>, bool) {
    let trusted = trusted(args);
    let (applied, held): (Vec<_>, Vec<_>) = plan
        .env
        .iter()
        .partition(|(name, _)| trusted || HARMLESS_ENV.contains(&name.as_str()));
    let applied = applied
        .into_iter()
        .filter(|(name, value)| {
            !(name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0'))
        })
        .cloned()
        .collect();
    warn_env_risks(plan, report);
    if held.is_empty() {
        return (applied, true);
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
    (applied, false)
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
    let path = |p: &str| aws_files::expand_home(p, home.as_deref());
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
/// read to name them in a warning, never run; only a file the SDK itself would read.
fn process_profiles(path: &Path, kind: EnvConfigFileKind) -> Vec<String> {
    let Some(text) = aws_files::read_config_file(path) else {
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

/// Credentials, region, STS host, SSO login and a live GetCallerIdentity; with `live`
/// false, only what the config files say.
async fn check_aws(checks: &AwsChecks, deadline: Deadline, report: &mut Report) {
    let (options, live) = (&checks.options, checks.live);
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
        .find_map(|v| aws_files::env_var(v).map(|u| (*v, u)))
    {
        report.line(
            "sts api",
            format!("{url} ({var}: AssumeRole and whoami go there, never the token)"),
        );
    }

    // As the plugin would: refreshed, or renewed when a person is there.
    let ensured = if live {
        login::ensure(&setup, &checks.login).await
    } else {
        Ok(login::Ensured::Usable)
    };
    check_sso(&setup, &checks.login, report);
    if let Err(e) = ensured {
        report.line("credentials", why(options, Some(&setup), None));
        report.problem(e.to_string(), e.hint());
        return;
    }
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
    // As the plugin would: through the credential cache, unless its args turn it off.
    let (cache_dir, cached) = match &checks.cache {
        CacheUse::In(dir) => (dir.as_deref(), options.credential_cache),
        CacheUse::Off => (None, false),
    };
    let with_cache = Options {
        credential_cache: cached,
        ..options.clone()
    };
    let resolved =
        match super::credentials::for_command(&setup, &with_cache, cache_dir, deadline).await {
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
                Some("refresh them (`eks-token login`, or a new `aws-vault exec` session)".into()),
            );
        } else {
            report.line(
                "expires",
                format!("{} (in {})", stamp(expiry), time_left(expiry - now)),
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

/// The SSO login of the profile in use: when it expires, whether it can be refreshed
/// without a browser, whether the plugin would log in again by itself here, and the
/// command that renews it.
fn check_sso(setup: &AwsConfig, policy: &login::Policy, report: &mut Report) {
    let (Some(sso), Some(home)) = (setup.sso_profile_in_use(), aws_files::home_dir()) else {
        return;
    };
    let Some(key) = sso.cache_key() else {
        return;
    };
    let now = Utc::now();
    let (state, refresh) = match sso::read_login(&home, key) {
        Ok(login) => (
            match login.expires() {
                Some(t) if t > now => {
                    format!("valid until {} (in {})", stamp(t), time_left(t - now))
                }
                Some(t) => format!("expired at {}", stamp(t)),
                None => "the cached login is unreadable".into(),
            },
            match (&sso.session, login.refreshable(now)) {
                (None, _) => "a legacy sso_start_url profile: never refreshed".to_owned(),
                (Some(_), true) => "refreshed without a browser (a refresh token)".to_owned(),
                (Some(_), false) => "no refresh token: a browser login when it expires".to_owned(),
            },
        ),
        Err(LoginState::Missing) => (
            "none cached (never logged in, or logged out)".to_owned(),
            String::new(),
        ),
        Err(_) => ("the cached login is unreadable".to_owned(), String::new()),
    };
    let via = match &sso.session {
        Some(s) => format!("sso-session {s}"),
        None => format!("profile {}", sso.profile),
    };
    let via = if refresh.is_empty() {
        via
    } else {
        format!("{via}; {refresh}")
    };
    let renewal = match policy.person_present() {
        Ok(()) => "renewed by itself when needed: a person is at this terminal".to_owned(),
        Err(why) => format!("not renewed by itself: {}", why.why()),
    };
    report.line(
        "sso login",
        format!(
            "{state}\n{via}\n{renewal}\nlog in with `{}`",
            sso.login_command()
        ),
    );
}

/// Which source won, and why it and not another.
fn why(options: &Options, setup: Option<&AwsConfig>, source: Option<&Source>) -> String {
    let (Some(setup), Some(source)) = (setup, source) else {
        return "none usable (see the problems below)".into();
    };
    let env_keys = aws_files::env_var("AWS_ACCESS_KEY_ID").is_some();
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
    let key = CacheKey::of(cluster, &KeyInputs::capture(options));
    let now = Utc::now();
    match Cache::existing(&dir).and_then(|c| c.map_or(Ok(None), |c| c.lookup(&key, now))) {
        Ok(Some(hit)) => format!(
            "a token valid until {} ({} left) in {}",
            stamp(hit.token.expires_at),
            time_left(hit.token.expires_at - now),
            dir.display()
        ),
        Ok(None) => format!(
            "no token with {}+ minutes left in {}; the next kubectl run mints one",
            cache::MIN_REMAINING.num_minutes(),
            dir.display()
        ),
        Err(e) => format!("not used: {e}"),
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
        // Credentials inside an address are.
        assert_eq!(
            shown_env_value("HTTPS_PROXY", "http://user:pa%40ss@proxy:3128/x?y"),
            "http://(hidden)@proxy:3128/x?y"
        );
        assert_eq!(
            shown_env_value("AWS_ENDPOINT_URL", "https://k@sts.example/"),
            "https://(hidden)@sts.example/"
        );
        assert_eq!(
            shown_env_value("AWS_ENDPOINT_URL", "http://127.0.0.1:9/a@b"),
            "http://127.0.0.1:9/a@b"
        );
    }

    #[test]
    fn a_child_report_is_redacted_and_appended_in_order() {
        crate::secrets::remember("doctorChildSecret/1234");
        let mut child = Report::default();
        child.line("identity", "arn with doctorChildSecret/1234");
        child.problem(
            "denied: doctorChildSecret/1234",
            Some("fix doctorChildSecret/1234".into()),
        );
        child.warning("second", None);
        let json = serde_json::to_string(&child.redacted()).unwrap();
        assert!(!json.contains("doctorChildSecret"), "{json}");
        let mut report = Report::default();
        report.line("cluster id", "c");
        report.warning("first", None);
        report.append(serde_json::from_str(&json).unwrap());
        assert_eq!(
            report.render(),
            "cluster id   c\nidentity     arn with [redacted]\n\n\
             problem: denied: [redacted]\n  fix: fix [redacted]\n\
             warning: first\nwarning: second\n"
        );
    }

    #[test]
    fn the_child_gets_the_checks_flags_and_the_time_left() {
        let checks = |role, cache: CacheUse, live| AwsChecks {
            login: login::Policy {
                mode: login::Mode::Never,
                timeout: Duration::from_secs(42),
                exec_interactive: None,
                lock_dir: None,
            },
            cluster: Some(ClusterId::new("prod").unwrap()),
            options: Options {
                profile: Some("-dev".into()),
                region: Some("eu-west-1".into()),
                role,
                limits: Limits::default(),
                ..Options::default()
            },
            cache,
            live,
        };
        let parse = |checks: &AwsChecks, left| {
            let argv = std::iter::once(OsString::from("eks-token")).chain(checks.child_args(left));
            match Cli::try_parse_from(argv) {
                Ok(Cli {
                    command: Command::Other(cli::OtherCommand::Doctor(args)),
                    verbose: false,
                }) => args,
                other => panic!("{other:?}"),
            }
        };
        let role = crate::credentials::RoleOptions {
            arn: "arn:aws:iam::123456789012:role/r".into(),
            session_name: Some("me".into()),
            external_id: Some("ext".into()),
            forward_session_name: false,
        };
        let args = parse(
            &checks(
                Some(role),
                CacheUse::In(Some("/tmp/cache dir".into())),
                false,
            ),
            Duration::from_millis(9_997),
        );
        assert_eq!(args.aws_only, Some(AwsOnly::Config));
        assert_eq!(args.cluster_id.as_deref(), Some("prod"));
        assert_eq!(args.cache_dir, Some(PathBuf::from("/tmp/cache dir")));
        // Doctor spent 3 ms before: the child's messages still say 10s.
        assert_eq!(args.aws.timeout, Duration::from_secs(10));
        assert_eq!(args.aws.login, login::Mode::Never);
        assert_eq!(args.aws.login_timeout, Duration::from_secs(42));
        let options = args.aws.options();
        assert_eq!(options.profile.as_deref(), Some("-dev"));
        assert_eq!(options.region.as_deref(), Some("eu-west-1"));
        let role = options.role.unwrap();
        assert_eq!(role.arn, "arn:aws:iam::123456789012:role/r");
        assert_eq!(role.session_name.as_deref(), Some("me"));
        assert_eq!(role.external_id.as_deref(), Some("ext"));
        assert!(!role.forward_session_name);
        assert!(!options.credential_cache && !options.aws_cli_cache);

        let role = crate::credentials::RoleOptions {
            arn: "arn:aws:iam::123456789012:role/r".into(),
            forward_session_name: true,
            ..Default::default()
        };
        let args = parse(&checks(Some(role), CacheUse::Off, true), Duration::ZERO);
        assert_eq!(args.aws_only, Some(AwsOnly::Live));
        assert_eq!(args.cache_dir, None);
        assert!(args.no_cache);
        // Out of time: the least `--timeout` there is, so the child ends at once.
        assert_eq!(args.aws.timeout, Duration::from_millis(10));
        assert!(args.aws.options().role.unwrap().forward_session_name);
        let mut cached = checks(None, CacheUse::In(None), true);
        cached.options.credential_cache = true;
        cached.options.aws_cli_cache = true;
        let args = parse(&cached, Duration::from_secs(1));
        assert!(args.aws.role_arn.is_none());
        let options = args.aws.options();
        assert!(options.credential_cache && options.aws_cli_cache);
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

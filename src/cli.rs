//! Command-line arguments: our own vocabulary plus both AWS peers', so a kubeconfig
//! switches to eks-token by changing only `command:`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::credentials::{MfaPrompt, Options, RoleOptions};
use crate::login::{self, Mode};
use crate::network::Limits;

/// The hidden subcommand the completion scripts call for profile and context names.
pub const COMPLETE: &str = "__complete";

/// `--timeout` is capped: past an hour the problem is not patience.
const MAX_TIMEOUT_SECONDS: f64 = 3600.0;

/// What `--version` prints after the name: the package version, and the commit and
/// build date when built from a git checkout (build.rs).
pub const VERSION: &str = env!("EKS_TOKEN_VERSION");

/// Amazon EKS credentials for kubectl: a fast, cached exec credential plugin.
#[derive(Debug, Parser)]
#[command(
    name = "eks-token",
    version = VERSION,
    about,
    propagate_version = true,
    after_help = "Examples:
  eks-token kubeconfig --cluster-name prod --region eu-west-1   # add a cluster to ~/.kube/config
  eks-token login --profile prod-admin                          # log in to IAM Identity Center
  eks-token doctor                                              # check the current context's user

kubectl runs `eks-token token` itself; see `eks-token help SUBCOMMAND` and `man eks-token`."
)]
pub struct Cli {
    /// Explain on stderr what eks-token decides and how long each step takes; never prints a secret [also: EKS_TOKEN_LOG=debug].
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (already [`normalize`]d). clap builds every subcommand's arguments
    /// before it parses; what kubectl runs on every call (`token`, `oidc`) is parsed first
    /// by a parser that knows only that subcommand, and anything it does not take (help,
    /// a usage error) by the whole one, so messages stay the same. The completion
    /// scripts' hidden `__complete` has a parser of its own too (the whole one does not
    /// know it, so help and the scripts never offer it).
    pub fn parse_args(args: Vec<OsString>) -> Result<Self, clap::Error> {
        let named = |name: &str| args.iter().skip(1).take(2).any(|a| a == name);
        let fast = if named("token") {
            TokenCli::try_parse_from(&args).map(|c| {
                let TokenOnly::Token(token) = c.command;
                (c.verbose, Command::Token(token))
            })
        } else if args.get(1).is_some_and(|a| a == COMPLETE) {
            CompleteCli::try_parse_from(&args).map(|c| {
                let CompleteOnly::Complete { what } = c.command;
                (false, Command::Other(OtherCommand::Complete(what)))
            })
        } else if named("oidc") {
            OidcCli::try_parse_from(&args).map(|c| {
                let OidcOnly::Oidc(oidc) = c.command;
                (c.verbose, Command::Other(OtherCommand::Oidc(oidc)))
            })
        } else {
            return Self::try_parse_from(args);
        };
        match fast {
            Ok((verbose, command)) => Ok(Self { verbose, command }),
            Err(_) => Self::try_parse_from(args),
        }
    }
}

/// `eks-token __complete NAMES`: the names a completion script offers for a flag, one a
/// line, read from local files only.
#[derive(Debug, Parser)]
#[command(name = "eks-token")]
struct CompleteCli {
    #[command(subcommand)]
    command: CompleteOnly,
}

#[derive(Debug, Subcommand)]
enum CompleteOnly {
    #[command(name = COMPLETE)]
    Complete {
        #[arg(value_enum)]
        what: Completable,
    },
}

/// [`Cli`] with `token` alone.
#[derive(Debug, Parser)]
#[command(name = "eks-token")]
struct TokenCli {
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: TokenOnly,
}

#[derive(Debug, Subcommand)]
enum TokenOnly {
    Token(TokenArgs),
}

/// [`Cli`] with `oidc` alone.
#[derive(Debug, Parser)]
#[command(name = "eks-token")]
struct OidcCli {
    #[arg(short = 'v', long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: OidcOnly,
}

#[derive(Debug, Subcommand)]
enum OidcOnly {
    Oidc(Box<OidcCommand>),
}

/// The subcommands: `token`, which kubectl runs and whose fast path `main` takes first,
/// and the others.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an ExecCredential with a bearer token for an EKS cluster (what kubectl runs).
    #[command(after_help = "Examples:
  eks-token token --cluster-id prod --region eu-west-1
  AWS_PROFILE=prod-admin eks-token token -i prod --token-only
  eks-token token -i prod --role-arn arn:aws:iam::123456789012:role/eks-admin --verbose >/dev/null")]
    Token(TokenArgs),
    #[command(flatten)]
    Other(OtherCommand),
}

/// Every subcommand but `token`: what a person runs.
#[derive(Debug, Subcommand)]
pub enum OtherCommand {
    /// List or clear cached tokens and credentials.
    #[command(subcommand)]
    #[command(after_help = "Examples:
  eks-token cache list
  eks-token cache list --output json
  eks-token cache clear --cluster-id beta")]
    Cache(CacheCommand),
    /// Show who AWS says you are and the IAM principal a cluster maps you as.
    #[command(after_help = "Examples:
  eks-token whoami
  eks-token whoami --profile sso-admin --output aws-auth
  eks-token whoami --output access-entry --cluster-id prod")]
    Whoami(WhoamiArgs),
    /// Add or update an EKS cluster in the kubeconfig, with a user that runs eks-token.
    #[command(after_help = "Examples:
  eks-token kubeconfig --cluster-name prod --region eu-west-1
  eks-token kubeconfig --cluster-name prod --profile sso-admin --alias prod-admin
  eks-token kubeconfig --cluster-name prod --oidc")]
    Kubeconfig(KubeconfigArgs),
    /// Check what kubectl's plugin will see: credentials, region, SSO login, kubeconfig user; for OIDC users the provider and the cached login.
    #[command(after_help = "Examples:
  eks-token doctor
  eks-token doctor --context okta
  eks-token doctor --profile corp-admin --cluster-id prod --login never")]
    Doctor(DoctorArgs),
    /// Log in to IAM Identity Center (SSO) as `aws sso login` does, into the same cache.
    #[command(after_help = "Examples:
  eks-token login --profile prod-admin
  eks-token login --sso-session corp --use-device-code")]
    Login(LoginArgs),
    /// Log out of every cached IAM Identity Center login and drop the tokens made with them.
    #[command(after_help = "Examples:
  eks-token logout
  eks-token logout && eks-token login --profile prod-admin")]
    Logout(LogoutArgs),
    /// Print an ExecCredential with an OIDC ID token (kubelogin's `get-token`, same flags).
    #[command(after_help = "Examples:
  eks-token oidc --oidc-issuer-url=https://example.okta.com/oauth2/default --oidc-client-id=0oa1example
  eks-token oidc --oidc-issuer-url=https://example.okta.com/oauth2/default --oidc-client-id=0oa1example --grant-type device-code
  eks-token oidc setup --oidc-issuer-url=https://example.okta.com/oauth2/default --oidc-client-id=0oa1example --oidc-extra-scope=email,groups,offline_access")]
    Oidc(Box<OidcCommand>),
    /// Print a completion script for bash, zsh, fish, PowerShell or Elvish; bash, zsh and fish also complete profile and context names.
    #[command(after_help = "Examples:
  eks-token completions bash > ~/.local/share/bash-completion/completions/eks-token
  eks-token completions zsh > ~/.zfunc/_eks-token   # with fpath+=(~/.zfunc) before compinit
  eks-token completions fish > ~/.config/fish/completions/eks-token.fish")]
    Completions(CompletionsArgs),
    /// Print the man page, or write one per subcommand (eks-token.1, eks-token-token.1, ...) into a directory.
    #[command(after_help = "Examples:
  eks-token man | man -l -
  eks-token man --dir ~/.local/share/man/man1")]
    Man(ManArgs),
    /// `__complete`: what the completion scripts call. Parsed by [`CompleteCli`] alone, so
    /// neither help nor the scripts show it.
    #[command(skip)]
    Complete(Completable),
}

/// `eks-token completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `eks-token man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page into this directory (created if missing) instead of printing eks-token.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The values completed from local files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Completable {
    /// Profile names of the AWS config and credentials files.
    Profile,
    /// Context names of the kubeconfig files (KUBECONFIG, else ~/.kube/config).
    Context,
}

/// `eks-token oidc`: kubelogin's `get-token` (also reached as `oidc-login get-token` and
/// `get-token`, so a kubelogin kubeconfig switches by changing only `command:`), or
/// `setup`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OidcCommand {
    #[command(subcommand)]
    pub setup: Option<OidcSetup>,
    #[command(flatten)]
    pub args: OidcArgs,
}

/// `eks-token oidc setup`.
#[derive(Debug, Subcommand)]
pub enum OidcSetup {
    /// Log in once and print the ID token's claims, the kubeconfig user, an RBAC binding for its groups and the cluster-side command (never the token).
    #[command(after_help = "Examples:
  eks-token oidc setup --oidc-issuer-url=https://example.okta.com/oauth2/default --oidc-client-id=0oa1example --oidc-extra-scope=email,groups,offline_access
  eks-token oidc setup --oidc-issuer-url=https://keycloak.example.com/realms/corp --oidc-client-id=eks --grant-type device-code")]
    Setup(OidcArgs),
}

/// The OIDC provider and how to log in to it: kubelogin's flags, with its spellings.
#[derive(Debug, Args, Clone)]
pub struct OidcArgs {
    /// Issuer URL of the OpenID provider.
    #[arg(long, value_name = "URL", required = true)]
    pub oidc_issuer_url: Option<String>,

    /// Client ID at the provider (the audience of the ID token).
    #[arg(long, value_name = "ID", required = true)]
    pub oidc_client_id: Option<String>,

    /// Client secret, for confidential clients.
    #[arg(long, value_name = "SECRET")]
    pub oidc_client_secret: Option<String>,

    /// Scope to ask for besides openid (repeatable, or comma-separated).
    #[arg(long = "oidc-extra-scope", value_name = "SCOPE", value_delimiter = ',')]
    pub oidc_extra_scopes: Vec<String>,

    /// Print the access token instead of the ID token.
    #[arg(long)]
    pub oidc_use_access_token: bool,

    /// PKCE: auto (S256 when the provider supports it), S256, or no.
    #[arg(long, value_enum, value_name = "METHOD", default_value_t = PkceMethod::Auto)]
    pub oidc_pkce_method: PkceMethod,

    /// Force PKCE (kubelogin's older spelling of --oidc-pkce-method=S256).
    #[arg(long)]
    pub oidc_use_pkce: bool,

    /// Redirect URI sent to the provider [default: http://localhost:PORT of the listen address].
    #[arg(long, value_name = "URL")]
    pub oidc_redirect_url: Option<String>,

    /// How to log in: auto (authcode), authcode, authcode-keyboard, device-code.
    #[arg(long, value_enum, value_name = "GRANT", default_value_t = GrantType::Auto)]
    pub grant_type: GrantType,

    /// Address for the browser callback, tried in order [default: 127.0.0.1:8000, 127.0.0.1:18000].
    #[arg(
        long = "listen-address",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    pub listen_addresses: Vec<String>,

    /// CA certificate file for the provider's TLS (repeatable).
    #[arg(
        long = "certificate-authority",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub certificate_authorities: Vec<PathBuf>,

    /// CA certificate for the provider's TLS, base64 PEM (repeatable).
    #[arg(
        long = "certificate-authority-data",
        value_name = "BASE64",
        value_delimiter = ','
    )]
    pub certificate_authority_data: Vec<String>,

    /// OIDC token cache directory [default: $KUBECACHEDIR/eks-token-oidc, else ~/.kube/cache/eks-token-oidc].
    #[arg(long, value_name = "DIR")]
    pub token_cache_dir: Option<PathBuf>,

    /// Log in or refresh even when the cached ID token is still valid.
    #[arg(long)]
    pub force_refresh: bool,

    /// Print the URL instead of opening a browser.
    #[arg(long)]
    pub skip_open_browser: bool,

    /// Command that opens the browser, given the URL [default: BROWSER, then xdg-open / open / start].
    #[arg(long, value_name = "COMMAND")]
    pub browser_command: Option<String>,

    /// Give up on the sign-in after this many seconds (kubelogin's spelling of --login-timeout).
    #[arg(long, value_name = "SECONDS", hide = true)]
    pub authentication_timeout_sec: Option<u64>,

    /// When to log in without being asked: auto (a person at a terminal), browser, never.
    #[arg(long, value_enum, value_name = "WHEN", env = "EKS_TOKEN_LOGIN", default_value_t = Mode::Auto)]
    pub login: Mode,

    /// Give up on the sign-in (and on waiting for another run's) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_timeout)]
    pub login_timeout: Duration,

    /// Give up on each call to the provider after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,

    #[command(flatten)]
    pub unsupported: KubeloginUnsupported,
}

/// kubelogin flags eks-token does not take: each is a usage error naming it, never
/// silently dropped.
#[derive(Debug, Args, Clone)]
pub struct KubeloginUnsupported {
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "", value_parser = unsupported("eks-token never skips TLS verification; pass the provider's CA with --certificate-authority"))]
    insecure_skip_tls_verify: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("the callback is served over plain HTTP on loopback"))]
    local_server_cert: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("the callback is served over plain HTTP on loopback"))]
    local_server_key: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("not supported"))]
    open_url_after_authentication: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("not supported"))]
    oidc_auth_request_extra_params: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("the password grant is not supported; use the browser (authcode) or --grant-type device-code"))]
    username: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("the password grant is not supported; use the browser (authcode) or --grant-type device-code"))]
    password: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "", value_parser = unsupported("tokens are cached on disk in a private directory"))]
    force_keyring: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "", value_parser = unsupported("tokens are always cached on disk"))]
    no_keyring: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("tokens are cached on disk in a private directory"))]
    token_cache_storage: Option<String>,
    #[arg(long, hide = true, value_parser = unsupported("use --listen-address 127.0.0.1:PORT"))]
    listen_port: Option<String>,
}

/// A value parser for a kubelogin flag eks-token refuses, saying why.
fn unsupported(why: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |_| {
        Err(format!(
            "kubelogin's flag is not supported by eks-token: {why}"
        ))
    }
}

/// `--oidc-pkce-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PkceMethod {
    Auto,
    #[value(name = "S256")]
    S256,
    No,
}

/// `--grant-type`, kubelogin's values eks-token serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantType {
    Auto,
    Authcode,
    AuthcodeKeyboard,
    DeviceCode,
}

/// `eks-token login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Profile whose SSO login to renew [default: AWS_PROFILE, else default].
    #[arg(long, value_name = "PROFILE", conflicts_with = "sso_session")]
    pub profile: Option<String>,

    /// Log in to this [sso-session NAME] of ~/.aws/config directly.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,

    /// Use the device code flow (a code to confirm, on any device) instead of the browser callback.
    #[arg(long)]
    pub use_device_code: bool,

    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,

    /// Give up on the sign-in after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_timeout)]
    pub login_timeout: Duration,

    /// Give up on each call to AWS after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// `eks-token logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub cache_location: CacheLocation,

    /// Give up on each call to AWS after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// `eks-token cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached tokens (cluster, region, profile, role, time left) and credentials (source, role, time left); never a token or key.
    #[command(after_help = "Examples:
  eks-token cache list
  eks-token cache list --output json")]
    List {
        #[command(flatten)]
        location: CacheLocation,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        output: ListFormat,
    },
    /// Remove cached tokens and credentials: all, or the tokens of one cluster.
    #[command(after_help = "Examples:
  eks-token cache clear --cluster-id beta
  eks-token cache clear")]
    Clear {
        #[command(flatten)]
        location: CacheLocation,
        /// Only this cluster's tokens.
        #[arg(
            short = 'i',
            long = "cluster-id",
            visible_alias = "cluster-name",
            value_name = "NAME"
        )]
        cluster_id: Option<String>,
    },
}

/// `--output` of `cache list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// Where the token cache lives.
#[derive(Debug, Args)]
pub struct CacheLocation {
    /// Cache directory [default: EKS_TOKEN_CACHE_DIR, $KUBECACHEDIR/eks-token, ~/.kube/cache/eks-token].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `eks-token token`, also reached as `aws-iam-authenticator token` and
/// `aws eks get-token` would be called.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// EKS cluster name, or the cluster id of a local cluster on Outposts.
    #[arg(
        short = 'i',
        long = "cluster-id",
        visible_alias = "cluster-name",
        env = "KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID",
        value_name = "NAME"
    )]
    pub cluster_id: String,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Print only the token, not the ExecCredential JSON.
    #[arg(long)]
    pub token_only: bool,

    /// Accepted for aws-iam-authenticator compatibility; tokens are cached unless --no-cache.
    #[arg(long, hide = true)]
    pub cache: bool,

    /// Neither read nor write any cache for this run: tokens, credentials, the AWS CLI's role sessions.
    #[arg(long)]
    pub no_cache: bool,

    #[command(flatten)]
    pub cache_location: CacheLocation,

    /// Accepted for `aws eks get-token` compatibility; only json is supported.
    #[arg(long, value_enum, hide = true)]
    pub output: Option<OutputFormat>,
}

/// `--output` values the AWS CLI form may carry.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Json,
}

/// Where credentials come from: shared by every command that talks to AWS.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS region of the cluster [default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Named profile from ~/.aws/config; outranks AWS_ACCESS_KEY_ID like the AWS CLI's --profile [default: AWS_PROFILE].
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// Role to assume with the base credentials before signing.
    #[arg(
        short = 'r',
        long = "role-arn",
        visible_alias = "role",
        value_name = "ARN"
    )]
    pub role_arn: Option<String>,

    /// Session name for --role-arn [default: EKSGetTokenAuth].
    #[arg(short = 's', long, value_name = "NAME", requires = "role_arn")]
    pub session_name: Option<String>,

    /// External id for --role-arn.
    #[arg(short = 'e', long, value_name = "ID", requires = "role_arn")]
    pub external_id: Option<String>,

    /// Use the base identity's session name for --role-arn (aws-iam-authenticator's flag).
    #[arg(long, requires = "role_arn", conflicts_with = "session_name")]
    pub forward_session_name: bool,

    /// Give up on AWS (STS, SSO, credential endpoints, credential_process) after this many seconds; connections time out after 3.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// When an expired IAM Identity Center login may be renewed by itself, and an MFA code asked for: auto (when a person is at a terminal), browser (a login also without one), never.
    #[arg(long, value_enum, value_name = "WHEN", env = "EKS_TOKEN_LOGIN", default_value_t = Mode::Auto)]
    pub login: Mode,

    /// Give up on such a login (and on waiting for another run's), or on the MFA code, after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_timeout)]
    pub login_timeout: Duration,

    /// Neither read nor write eks-token's cache of temporary AWS credentials (role, SSO, web identity, container, credential_process): every new token asks AWS again.
    #[arg(long, env = "EKS_TOKEN_NO_CREDENTIAL_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_credential_cache: bool,

    /// Neither read nor write the AWS CLI's role session cache (~/.aws/cli/cache) for role profiles.
    #[arg(long, env = "EKS_TOKEN_NO_AWS_CLI_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_aws_cli_cache: bool,
}

/// A positive number of seconds, fractions allowed (`2.5`).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let why =
        || format!("expected a number of seconds such as 10 or 2.5, at most {MAX_TIMEOUT_SECONDS}");
    let seconds: f64 = text.trim().parse().map_err(|_| why())?;
    if !(seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS) {
        return Err(why());
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl AwsArgs {
    /// When this run may log in by itself; the caller knows `exec_interactive` and the
    /// lock directory.
    pub fn login_policy(
        &self,
        exec_interactive: Option<bool>,
        lock_dir: Option<PathBuf>,
    ) -> login::Policy {
        login::Policy {
            mode: self.login,
            timeout: self.login_timeout,
            exec_interactive,
            lock_dir,
        }
    }

    /// The credential options these flags describe, for a command a person runs.
    pub fn options(&self) -> Options {
        self.options_for(None)
    }

    /// The credential options these flags describe; `exec_interactive` is what the exec
    /// request said, for deciding whether an MFA code may be asked for.
    pub fn options_for(&self, exec_interactive: Option<bool>) -> Options {
        Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            role: self.role_arn.as_ref().map(|arn| RoleOptions {
                arn: arn.clone(),
                session_name: self.session_name.clone(),
                external_id: self.external_id.clone(),
                forward_session_name: self.forward_session_name,
            }),
            limits: Limits::new(self.timeout),
            credential_cache: !self.no_credential_cache,
            aws_cli_cache: !self.no_aws_cli_cache,
            mfa: MfaPrompt {
                person: login::can_type(self.login, exec_interactive)
                    .map_err(login::NoPerson::why_no_code),
                timeout: self.login_timeout,
            },
        }
    }
}

/// `eks-token whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub aws: AwsArgs,

    /// What to print.
    #[arg(short = 'o', long, value_enum, default_value_t = WhoamiFormat::Text)]
    pub output: WhoamiFormat,

    /// Cluster name to fill into the eksctl and access-entry commands.
    #[arg(
        long = "cluster-id",
        visible_alias = "cluster-name",
        value_name = "NAME"
    )]
    pub cluster_id: Option<String>,

    /// Kubernetes group for the aws-auth and eksctl output; repeat for several [default: system:masters].
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,

    /// Kubernetes user name for the aws-auth and eksctl output [default: {{SessionName}} for roles, the user's name for users].
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,

    /// EKS access policy for the access-entry output: a name or a policy ARN.
    #[arg(
        long,
        value_name = "POLICY",
        default_value = "AmazonEKSClusterAdminPolicy"
    )]
    pub policy: String,

    // Where the credentials are cached for `token`: the exec args' --cache-dir, if any.
    #[command(flatten)]
    pub cache_location: CacheLocation,
}

/// `whoami --output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WhoamiFormat {
    /// Account, caller ARN, mapped principal, session name.
    Text,
    /// The same as a JSON object.
    Json,
    /// A `mapRoles` / `mapUsers` item for the kube-system/aws-auth ConfigMap.
    AwsAuth,
    /// The `eksctl create iamidentitymapping` command line.
    Eksctl,
    /// The `aws eks create-access-entry` and `associate-access-policy` commands.
    AccessEntry,
}

/// `eks-token kubeconfig`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct KubeconfigArgs {
    #[command(subcommand)]
    pub action: Option<KubeconfigAction>,

    /// EKS cluster name.
    #[arg(
        long = "cluster-name",
        visible_alias = "name",
        value_name = "NAME",
        required = true
    )]
    pub cluster_name: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Name for the context and user [default: the cluster ARN, as the AWS CLI names them; oidc@ARN with --oidc].
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,

    /// Write a user that signs in through the OpenID provider associated with the cluster (`eks-token oidc`), not IAM.
    #[arg(long, conflicts_with_all = ["role_arn", "session_name", "external_id", "forward_session_name"])]
    pub oidc: bool,

    /// With --oidc: a scope to ask the provider for besides openid (repeatable) [default: email, profile, offline_access].
    #[arg(
        long = "oidc-extra-scope",
        value_name = "SCOPE",
        value_delimiter = ',',
        requires = "oidc"
    )]
    pub oidc_extra_scopes: Vec<String>,

    #[command(flatten)]
    pub file: KubeconfigFileArgs,
}

/// `eks-token kubeconfig` subcommands.
#[derive(Debug, Subcommand)]
pub enum KubeconfigAction {
    /// Rewrite users that run `aws eks get-token`, `aws-iam-authenticator token` or kubelogin's `get-token` to run eks-token.
    #[command(after_help = "Examples:
  eks-token kubeconfig migrate
  eks-token kubeconfig migrate --kubeconfig old/config --dry-run")]
    Migrate(KubeconfigFileArgs),
}

/// Which kubeconfig to edit, and whether to only show the result.
#[derive(Debug, Args)]
pub struct KubeconfigFileArgs {
    /// Kubeconfig file to edit [default: the first path in KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Print the resulting kubeconfig instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `eks-token doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Kubeconfig context whose user to check [default: the current context, unless credential flags are given].
    #[arg(long, value_name = "NAME", conflicts_with_all = ["region", "profile", "role_arn", "cluster_id"])]
    pub context: Option<String>,

    /// Kubeconfig file; of one that is not your own, only exec env settings such as AWS_PROFILE and AWS_REGION are applied [default: KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Apply the whole exec env of a --kubeconfig that is not your own and check live with it, as kubectl runs the plugin: its credential_process runs, its endpoints are called.
    #[arg(long)]
    pub trust_kubeconfig: bool,

    /// Cluster name to check a token for, when no context is checked.
    #[arg(
        long = "cluster-id",
        visible_alias = "cluster-name",
        value_name = "NAME"
    )]
    pub cluster_id: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    /// Internal: only the checks that read the environment (region, SSO login, credentials, cache), as JSON on stdout; doctor runs itself so to give them the exec env.
    #[arg(long, value_enum, value_name = "CHECKS", hide = true, conflicts_with_all = ["context", "kubeconfig", "trust_kubeconfig"])]
    pub aws_only: Option<AwsOnly>,

    /// Internal: with --aws-only, the exec args' --cache-dir.
    #[arg(long, value_name = "DIR", hide = true, requires = "aws_only")]
    pub cache_dir: Option<PathBuf>,

    /// Internal: with --aws-only, the exec args' --no-cache.
    #[arg(long, hide = true, requires = "aws_only", conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

/// What `doctor --aws-only` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AwsOnly {
    /// Everything, with the credentials resolved and GetCallerIdentity called.
    Live,
    /// Only what the config files say: no credential source runs, nothing is called.
    Config,
}

/// Rewrites the AWS CLI's `… eks get-token …` (as `aws eks update-kubeconfig` writes it,
/// global options first) into `token …`, and kubelogin's `oidc-login get-token …` /
/// `get-token …` (and `setup`) into `oidc …`, keeping every other argument in order.
pub fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // kubectl's plugin name first (`kubectl oidc-login get-token`), then kubelogin's own.
    if args.get(1).is_some_and(|a| a == "oidc-login") {
        args.remove(1);
    }
    match args.get(1).and_then(|a| a.to_str()) {
        Some("get-token") => args[1] = "oidc".into(),
        Some("setup") => args.insert(1, "oidc".into()),
        _ => {}
    }
    let at =
        (1..args.len().saturating_sub(1)).find(|&i| args[i] == "eks" && args[i + 1] == "get-token");
    if let Some(i) = at {
        args.drain(i..i + 2);
        args.insert(1.min(args.len()), OsString::from("token"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(normalize(args.iter().map(OsString::from)))
    }

    fn token(args: &[&str]) -> TokenArgs {
        match parse(args).unwrap().command {
            Command::Token(t) => t,
            other => panic!("not a token command: {other:?}"),
        }
    }

    #[test]
    fn aws_cli_form_as_update_kubeconfig_writes_it() {
        let t = token(&[
            "eks-token",
            "--region",
            "eu-west-1",
            "eks",
            "get-token",
            "--cluster-name",
            "prod",
            "--output",
            "json",
            "--role",
            "arn:aws:iam::1:role/r",
        ]);
        assert_eq!(t.cluster_id, "prod");
        assert_eq!(t.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.aws.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn aws_iam_authenticator_form() {
        let t = token(&[
            "eks-token",
            "token",
            "-i",
            "c1",
            "-r",
            "arn:aws:iam::1:role/r",
            "-s",
            "me",
            "-e",
            "ext",
            "--cache",
        ]);
        assert_eq!(t.cluster_id, "c1");
        assert_eq!(t.aws.session_name.as_deref(), Some("me"));
        assert_eq!(t.aws.external_id.as_deref(), Some("ext"));
        assert!(t.cache);
    }

    #[test]
    fn only_json_output_is_accepted() {
        assert!(
            parse(&[
                "eks-token",
                "eks",
                "get-token",
                "--cluster-name",
                "x",
                "--output",
                "text"
            ])
            .is_err()
        );
    }

    #[test]
    fn kubeconfig_needs_a_cluster_unless_migrating() {
        assert!(parse(&["eks-token", "kubeconfig"]).is_err());
        let Command::Other(OtherCommand::Kubeconfig(k)) =
            parse(&["eks-token", "kubeconfig", "--name", "prod"])
                .unwrap()
                .command
        else {
            panic!("not kubeconfig");
        };
        assert_eq!(k.cluster_name.as_deref(), Some("prod"));
        assert!(k.action.is_none());
        let Command::Other(OtherCommand::Kubeconfig(k)) =
            parse(&["eks-token", "kubeconfig", "migrate", "--dry-run"])
                .unwrap()
                .command
        else {
            panic!("not kubeconfig");
        };
        assert!(matches!(k.action, Some(KubeconfigAction::Migrate(ref f)) if f.dry_run));
        assert!(parse(&["eks-token", "kubeconfig", "migrate", "--cluster-name", "x"]).is_err());
    }

    #[test]
    fn kubeconfig_oidc_takes_scopes_and_no_role() {
        let Command::Other(OtherCommand::Kubeconfig(k)) = parse(&[
            "eks-token",
            "kubeconfig",
            "--name",
            "prod",
            "--oidc",
            "--oidc-extra-scope",
            "email,groups",
            "--oidc-extra-scope=offline_access",
        ])
        .unwrap()
        .command
        else {
            panic!("not kubeconfig");
        };
        assert!(k.oidc);
        assert_eq!(k.oidc_extra_scopes, ["email", "groups", "offline_access"]);
        let oidc = ["eks-token", "kubeconfig", "--name", "prod", "--oidc"];
        assert!(parse(&[&oidc[..], &["--role-arn", "arn:aws:iam::1:role/r"]].concat()).is_err());
        assert!(
            parse(&[
                "eks-token",
                "kubeconfig",
                "--name",
                "p",
                "--oidc-extra-scope",
                "x"
            ])
            .is_err()
        );
    }

    #[test]
    fn doctor_takes_a_context_or_credential_flags() {
        assert!(parse(&["eks-token", "doctor", "--context", "c"]).is_ok());
        assert!(parse(&["eks-token", "doctor", "--profile", "p", "--cluster-id", "c"]).is_ok());
        assert!(parse(&["eks-token", "doctor", "--context", "c", "--profile", "p"]).is_err());
    }

    #[test]
    fn timeout_and_verbose() {
        // clap's default and the help's connect time are text: the constants they name.
        let t = token(&["eks-token", "token", "-i", "c"]);
        assert_eq!(t.aws.timeout, crate::network::DEFAULT_TIMEOUT);
        assert_eq!(t.aws.options().limits, Limits::default());
        let help = <Cli as clap::CommandFactory>::command()
            .find_subcommand_mut("token")
            .unwrap()
            .render_long_help()
            .to_string();
        let connect = crate::network::CONNECT_TIMEOUT.as_secs();
        assert!(
            help.contains(&format!("connections time out after {connect}")),
            "{help}"
        );
        let t = token(&["eks-token", "token", "-i", "c", "--timeout", "2.5"]);
        assert_eq!(
            t.aws.options().limits,
            Limits::new(Duration::from_millis(2500))
        );
        for bad in ["0", "-1", "x", "NaN", "inf", "3601"] {
            assert!(
                parse(&["eks-token", "token", "-i", "c", "--timeout", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(
            parse(&["eks-token", "token", "-i", "c", "--verbose"])
                .unwrap()
                .verbose
        );
        assert!(
            parse(&["eks-token", "-v", "token", "-i", "c"])
                .unwrap()
                .verbose
        );
    }

    #[test]
    fn session_name_needs_a_role() {
        assert!(parse(&["eks-token", "token", "-i", "x", "-s", "me"]).is_err());
    }
}

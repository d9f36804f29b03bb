//! `eks-token token`: cache → (credentials → presigned URL → cache) → ExecCredential.

use std::ffi::OsStr;
use std::path::PathBuf;

use aws_credential_types::Credentials;
use chrono::{DateTime, Utc};

use crate::cache::{
    self, Cache, CacheError, CacheKey, CredentialKey, CredentialsDescription, CredentialsEntry,
    Description, KeyInputs, Plan,
};
use crate::cli::TokenArgs;
use crate::credentials::{AwsConfig, Options, Resolved, Source};
use crate::error::Error;
use crate::exec_credential::{ExecCredential, ExecRequest};
use crate::log;
use crate::login::{self, Ensured};
use crate::message;
use crate::network::{self, Deadline};
use crate::sts_endpoint::StsEndpoint;
use crate::token::{self, ClusterId, Token};

/// One `token` run: validated arguments, the exec request and the cache key.
pub struct TokenRun {
    cluster: ClusterId,
    request: ExecRequest,
    options: Options,
    /// From `--timeout`, started with the run: the lock wait, config files and every
    /// AWS call share it.
    deadline: Deadline,
    token_only: bool,
    /// When an expired SSO login may be renewed by itself.
    login: login::Policy,
    /// `None` when the cache is off (`--no-cache`) or unusable (a warning was shown).
    cache_dir: Option<PathBuf>,
    key: CacheKey,
    /// What the key was made of; the credential key is made from it on the slow path.
    inputs: KeyInputs,
}

/// Credentials to sign with, and what the token entry says of them.
struct Signer {
    credentials: Credentials,
    profile: Option<String>,
    role: Option<String>,
}

impl TokenRun {
    /// Checks the arguments and reads `KUBERNETES_EXEC_INFO`; no I/O beyond the
    /// environment and a stat of each AWS config file (for the cache key).
    pub fn new(args: &TokenArgs, exec_info: Option<&OsStr>) -> Result<Self, Error> {
        let cluster = ClusterId::new(&args.cluster_id)?;
        let request = ExecRequest::from_env_value(exec_info);
        if let Some(warning) = &request.warning {
            message::warn(warning);
        }
        let mut options = args.aws.options_for(request.interactive);
        if args.no_cache {
            options.credential_cache = false;
            options.aws_cli_cache = false;
        }
        let deadline = Deadline::start(options.limits);
        log::debug(format_args!(
            "eks-token {}: token for cluster {cluster}, exec apiVersion {}, timeout {} (connect {})",
            env!("CARGO_PKG_VERSION"),
            request.api_version.as_str(),
            message::seconds(options.limits.total),
            message::seconds(options.limits.connect),
        ));
        let cache_dir = if args.no_cache {
            None
        } else {
            let dir = cache::default_dir(args.cache_location.cache_dir.as_deref());
            if dir.is_none() {
                message::warn(
                    "no home directory for the token cache; set HOME or pass --cache-dir",
                );
            }
            dir
        };
        let inputs = KeyInputs::capture(&options);
        let key = CacheKey::of(&cluster, &inputs);
        // Runs agree on one login in the cache directory, also with --no-cache.
        let lock_dir = cache_dir
            .clone()
            .or_else(|| cache::default_dir(args.cache_location.cache_dir.as_deref()));
        let login = args.aws.login_policy(request.interactive, lock_dir);
        Ok(Self {
            cluster,
            request,
            options,
            deadline,
            token_only: args.token_only,
            login,
            cache_dir,
            key,
            inputs,
        })
    }

    /// The fast path: the answer from the cache file alone, when it holds a token with
    /// at least five minutes left at `now`.
    pub fn from_cache(&mut self, now: DateTime<Utc>) -> Option<String> {
        let Some(dir) = self.cache_dir.as_ref() else {
            log::debug(format_args!("cache: off"));
            return None;
        };
        let looked_up = Cache::existing(dir)
            .and_then(|cache| cache.map_or(Ok(None), |c| c.lookup(&self.key, now)));
        match looked_up {
            Ok(Some(hit)) => {
                log::debug(format_args!(
                    "cache: hit in {} (key {}), token expires {}",
                    dir.display(),
                    self.key.as_str(),
                    message::rfc3339(hit.token.expires_at)
                ));
                Some(self.render(&hit.token))
            }
            Ok(None) => {
                log::debug(format_args!(
                    "cache: miss in {} (key {}: no entry for this request with {}+ minutes left)",
                    dir.display(),
                    self.key.as_str(),
                    cache::MIN_REMAINING.num_minutes()
                ));
                None
            }
            Err(e) => {
                self.refuse_cache(&e);
                None
            }
        }
    }

    /// The slow path: the SSO login made usable (refreshed, or renewed by a person), then
    /// credentials, signing, and a cache write under the per-key lock so concurrent cold
    /// starts make one AWS call.
    pub fn mint(self) -> Result<String, Error> {
        network::block_on(self.mint_in_runtime()).map_err(Error::Runtime)?
    }

    async fn mint_in_runtime(mut self) -> Result<String, Error> {
        let aws = AwsConfig::load(&self.options, self.deadline).await?;
        if login::ensure(&aws, &self.login).await? == Ensured::LoggedIn {
            // A person took their time: what is left is the network's.
            self.deadline = Deadline::start(self.options.limits);
        }
        let cache = match self.cache_dir.as_deref().map(Cache::create) {
            Some(Ok(cache)) => Some(cache),
            Some(Err(e)) => {
                self.refuse_cache(&e);
                None
            }
            None => None,
        };
        let locked = cache
            .as_ref()
            .map(|c| c.lock(&self.key, self.deadline.left()));
        let lock = match locked {
            Some(Ok(Some(lock))) => Some(lock),
            // The wait took what was left of the deadline: minting now would overrun it.
            Some(Ok(None)) => return Err(Error::CacheLockWait(self.options.limits.total)),
            Some(Err(e)) => {
                self.refuse_cache(&e);
                None
            }
            None => None,
        };
        let cache = cache.filter(|_| lock.is_some());
        if let Some(cache) = &cache {
            // The run that held the lock before us has most likely stored the token.
            if let Ok(Some(hit)) = cache.lookup(&self.key, Utc::now()) {
                log::debug(format_args!(
                    "cache: hit after waiting for another run's lock"
                ));
                return Ok(self.render(&hit.token));
            }
        }
        let (token, description) = self.fresh_token(&aws, cache.as_ref()).await?;
        if let Some(cache) = &cache {
            match cache.store(&self.key, &token, &description) {
                Ok(()) => log::debug(format_args!("cache: stored in {}", cache.dir().display())),
                Err(e) => self.refuse_cache(&e),
            }
            cache.prune(Utc::now());
        }
        drop(lock);
        Ok(self.render(&token))
    }

    /// Signs a new token with the credentials [`TokenRun::credentials`] gives.
    async fn fresh_token(
        &self,
        aws: &AwsConfig,
        cache: Option<&Cache>,
    ) -> Result<(Token, Description), Error> {
        let signer = self.credentials(aws, cache).await?;
        aws.note_fallback_region("signing for");
        let endpoint = StsEndpoint::regional(&aws.region, aws.variant)?;
        // The token's expiry is capped by the credentials' (`token::expiry`).
        let token = token::mint(&signer.credentials, &endpoint, &self.cluster, Utc::now())?;
        log::debug(format_args!(
            "token: signed for cluster {} with STS host {}, expires {}",
            self.cluster,
            endpoint.host,
            message::rfc3339(token.expires_at)
        ));
        let description = Description {
            cluster: self.cluster.to_string(),
            region: aws.region.to_string(),
            sts_host: endpoint.host,
            profile: signer.profile,
            role: signer.role,
        };
        Ok((token, description))
    }

    /// The credentials to sign with: the cached ones while botocore's windows allow
    /// ([`cache::plan`]), else resolved and, when they are temporary role credentials,
    /// cached. The credential key's lock makes a burst of runs refresh once.
    async fn credentials(&self, aws: &AwsConfig, cache: Option<&Cache>) -> Result<Signer, Error> {
        let role = self.options.role.as_ref();
        let Some(cache) = cache.filter(|_| self.options.credential_cache) else {
            return Ok(signer(aws.resolve(role).await?));
        };
        let key = CredentialKey::of(&self.inputs);
        let lock = match cache.lock_credentials(&key, self.deadline.left()) {
            Ok(Some(lock)) => lock,
            Ok(None) => return Err(Error::CacheLockWait(self.options.limits.total)),
            Err(e) => {
                log::debug(format_args!("credential cache: not used ({e})"));
                return Ok(signer(aws.resolve(role).await?));
            }
        };
        let cached = cache.lookup_credentials(&key).unwrap_or_else(|e| {
            log::debug(format_args!("credential cache: not read ({e})"));
            None
        });
        let now = Utc::now();
        let signer = match cache::plan(cached.map(|e| (e.expires_at, e)), now) {
            Plan::Use(entry) => {
                log::debug(format_args!(
                    "credential cache: hit (key {}), credentials expire {}",
                    key.as_str(),
                    message::rfc3339(entry.expires_at)
                ));
                cached_signer(entry)
            }
            Plan::Refresh { fallback } => match aws.resolve(role).await {
                Ok(resolved) => {
                    store_credentials(cache, &key, aws, &resolved);
                    signer(resolved)
                }
                Err(e) => {
                    let Some(entry) = fallback else {
                        return Err(e.into());
                    };
                    // botocore's advisory window: a failed refresh still serves.
                    log::debug(format_args!(
                        "credential cache: refresh failed ({}); signing with the cached credentials, which expire {}",
                        crate::secrets::redact(&e.to_string()),
                        message::rfc3339(entry.expires_at)
                    ));
                    cached_signer(entry)
                }
            },
        };
        drop(lock);
        Ok(signer)
    }

    fn render(&self, token: &Token) -> String {
        if self.token_only {
            format!("{}\n", token.expose())
        } else {
            ExecCredential::new(&self.request, token.expose(), token.expires_at).to_line()
        }
    }

    /// Warns once and carries on without the cache: the token is still printed.
    fn refuse_cache(&mut self, e: &CacheError) {
        if self.cache_dir.take().is_some() {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            message::warn(&format!("not using the token cache: {e}{hint}"));
        } else {
            log::debug(format_args!("cache: not used ({e})"));
        }
    }
}

/// The role the credentials are for: `--role-arn`, or the role profile they came from.
fn role_of(resolved: &Resolved, aws: &AwsConfig) -> Option<String> {
    resolved
        .assumed_role
        .clone()
        .or_else(|| match &resolved.source {
            Source::Profile(p) => aws.profile_role(p).map(str::to_owned),
            _ => None,
        })
}

/// What the token entry says of freshly resolved credentials: their profile and the
/// `--role-arn` role, as before this cache.
fn signer(resolved: Resolved) -> Signer {
    Signer {
        role: resolved.assumed_role,
        profile: match resolved.source {
            Source::Profile(p) => Some(p),
            _ => None,
        },
        credentials: resolved.credentials,
    }
}

/// Credentials read back from the cache, remembered for redaction like any others.
fn cached_signer(entry: CredentialsEntry) -> Signer {
    crate::secrets::remember(&entry.secret_access_key);
    if let Some(token) = &entry.session_token {
        crate::secrets::remember(token);
    }
    Signer {
        credentials: Credentials::new(
            &entry.access_key_id,
            &entry.secret_access_key,
            entry.session_token.clone(),
            Some(entry.expires_at.into()),
            "eks-token credential cache",
        ),
        profile: entry.profile.clone(),
        role: entry.assumed_role.clone(),
    }
}

/// Caches role credentials that expire (static keys never: they are already local).
/// Best effort: a failed write only means the next run asks AWS again.
fn store_credentials(cache: &Cache, key: &CredentialKey, aws: &AwsConfig, resolved: &Resolved) {
    let (Some(role), Some(expires_at)) = (role_of(resolved, aws), resolved.credentials.expiry())
    else {
        log::debug(format_args!(
            "credential cache: not stored (not temporary role credentials)"
        ));
        return;
    };
    let c = &resolved.credentials;
    let entry = CredentialsEntry::new(
        key,
        &CredentialsDescription {
            source: resolved.source.to_string(),
            role: Some(role),
        },
        expires_at.into(),
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token(),
        match &resolved.source {
            Source::Profile(p) => Some(p.as_str()),
            _ => None,
        },
        resolved.assumed_role.as_deref(),
    );
    match cache.store_credentials(&entry) {
        Ok(()) => log::debug(format_args!(
            "credential cache: stored (key {}), credentials expire {}",
            key.as_str(),
            message::rfc3339(entry.expires_at)
        )),
        Err(e) => log::debug(format_args!("credential cache: not stored ({e})")),
    }
}

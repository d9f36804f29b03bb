//! `eks-token token`: cache → (credentials → presigned URL → cache) → ExecCredential; a
//! stale token whose credentials are cached is signed again without the SDK.

use std::ffi::OsStr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::credentials;
use crate::cache::{
    self, Cache, CacheError, CacheKey, CredentialKey, CredentialsEntry, Description, Freshness,
    KeyInputs, Lookup, Stale,
};
use crate::cli::TokenArgs;
use crate::credentials::{AwsConfig, Options, Source};
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
    /// What the key was made of; the credential key is made from it.
    inputs: KeyInputs,
    /// The request's entry that [`TokenRun::from_cache`] found past serving.
    stale: Option<Stale>,
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
        let dir = cache::default_dir(args.cache_location.cache_dir.as_deref());
        let cache_dir = if args.no_cache {
            None
        } else {
            if dir.is_none() {
                message::warn(
                    "no home directory for the token cache; set HOME or pass --cache-dir",
                );
            }
            dir.clone()
        };
        let inputs = KeyInputs::capture(&options);
        let key = CacheKey::of(&cluster, &inputs);
        // Runs agree on one login in the cache directory, also with --no-cache.
        let login = args.aws.login_policy(request.interactive, dir);
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
            stale: None,
        })
    }

    /// The fast path: the answer from the cache file alone, when it holds a token with
    /// at least five minutes left at `now`. An entry with less is kept for
    /// [`TokenRun::resign`].
    pub fn from_cache(&mut self, now: DateTime<Utc>) -> Option<String> {
        let Some(dir) = self.cache_dir.as_ref() else {
            log::debug(format_args!("cache: off"));
            return None;
        };
        let looked_up = Cache::existing(dir)
            .and_then(|cache| cache.map_or(Ok(Lookup::Miss), |c| c.find(&self.key, now)));
        match looked_up {
            Ok(Lookup::Hit(hit)) => {
                log::debug(format_args!(
                    "cache: hit in {} (key {}), token expires {}",
                    dir.display(),
                    self.key.as_str(),
                    message::rfc3339(hit.token.expires_at)
                ));
                Some(self.render(&hit.token))
            }
            Ok(found) => {
                log::debug(format_args!(
                    "cache: miss in {} (key {}: no entry for this request with {}+ minutes left)",
                    dir.display(),
                    self.key.as_str(),
                    cache::MIN_REMAINING.num_minutes()
                ));
                if let Lookup::Stale(stale) = found {
                    self.stale = Some(stale);
                }
                None
            }
            Err(e) => {
                self.refuse_cache(&e);
                None
            }
        }
    }

    /// The credentials cached for this run and how fresh they are at `now`.
    fn cached_credentials(&self, now: DateTime<Utc>) -> Option<(CredentialsEntry, Freshness)> {
        if !self.options.credential_cache {
            return None;
        }
        let cache = Cache::existing(self.cache_dir.as_ref()?).ok()??;
        credentials::cached(&cache, &CredentialKey::of(&self.inputs), now)
    }

    /// The middle path, for a token past serving whose credentials are cached and fresh:
    /// signed again where the old one was (its entry names the region and STS host, and
    /// the key covers every input that picked them) with the cached credentials, and
    /// stored under the key's lock. No AWS call, no config files parsed, no SDK, no async
    /// runtime: aws-sigv4 alone. `None` sends the run down the slow path, which also
    /// reports whatever stopped this one.
    pub fn resign(&mut self, now: DateTime<Utc>) -> Option<String> {
        let stale = self.stale.take()?;
        let (entry, Freshness::Fresh) = self.cached_credentials(now)? else {
            return None;
        };
        // Everything that writes first proves the directory ours.
        let cache = Cache::create(self.cache_dir.as_ref()?).ok()?;
        let _lock = cache
            .lock(&self.key, self.options.lock_wait(&self.deadline))
            .ok()??;
        if let Some(out) = self.stored_meanwhile(&cache) {
            return Some(out);
        }
        let resolved = credentials::from_entry(&entry);
        let token = match token::mint(
            &resolved.credentials,
            &stale.endpoint,
            &self.cluster,
            Utc::now(),
        ) {
            Ok(token) => token,
            Err(e) => {
                log::debug(format_args!("cache: not re-signed ({e})"));
                return None;
            }
        };
        log::debug(format_args!(
            "cache: re-signed the stale token of cluster {} for STS host {} with cached credentials (key {}, expire {}): no AWS call; token expires {}",
            self.cluster,
            stale.endpoint.host,
            entry.key(),
            message::rfc3339(entry.expires_at),
            message::rfc3339(token.expires_at)
        ));
        self.keep(&cache, &token, &stale.description);
        Some(self.render(&token))
    }

    /// The slow path: the SSO login made usable (refreshed, or renewed by a person), then
    /// credentials, signing, and a cache write under the per-key lock so concurrent cold
    /// starts make one AWS call.
    pub fn mint(self) -> Result<String, Error> {
        network::block_on(self.mint_in_runtime()).map_err(Error::Runtime)?
    }

    async fn mint_in_runtime(mut self) -> Result<String, Error> {
        let aws = AwsConfig::load(&self.options, self.deadline).await?;
        // Cached credentials that may still serve need no login, as botocore signs with
        // cached SSO role credentials without looking at the token (`logout` removes
        // them): fresh ones are used, and in the advisory window a refresh that fails for
        // want of a login falls back to them.
        let usable = self
            .cached_credentials(Utc::now())
            .is_some_and(|(_, freshness)| freshness != Freshness::Expiring);
        if !usable && login::ensure(&aws, &self.login).await? == Ensured::LoggedIn {
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
            .map(|c| c.lock(&self.key, self.options.lock_wait(&self.deadline)));
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
        if let Some(out) = cache.as_ref().and_then(|c| self.stored_meanwhile(c)) {
            return Ok(out);
        }
        let (token, description) = self.fresh_token(&aws, cache.as_ref()).await?;
        if let Some(cache) = &cache {
            self.keep(cache, &token, &description);
            cache.prune(Utc::now());
        }
        drop(lock);
        Ok(self.render(&token))
    }

    /// Signs a new token with the credentials [`super::credentials::resolve`] gives.
    async fn fresh_token(
        &self,
        aws: &AwsConfig,
        cache: Option<&Cache>,
    ) -> Result<(Token, Description), Error> {
        let key = CredentialKey::of(&self.inputs);
        let cached = cache
            .filter(|_| self.options.credential_cache)
            .map(|c| (c, &key));
        let resolved = credentials::resolve(aws, &self.options, cached, self.deadline).await?;
        aws.note_fallback_region("signing for");
        let endpoint = StsEndpoint::regional(&aws.region, aws.variant)?;
        // The token's expiry is capped by the credentials' (`token::expiry`).
        let token = token::mint(&resolved.credentials, &endpoint, &self.cluster, Utc::now())?;
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
            profile: match resolved.source {
                Source::Profile(p) => Some(p),
                _ => None,
            },
            role: resolved.assumed_role,
        };
        Ok((token, description))
    }

    /// Under the key's lock: the token the run that held it before us most likely stored.
    fn stored_meanwhile(&self, cache: &Cache) -> Option<String> {
        let hit = cache.lookup(&self.key, Utc::now()).ok()??;
        log::debug(format_args!(
            "cache: hit after waiting for another run's lock"
        ));
        Some(self.render(&hit.token))
    }

    /// Stores a new token under the key's lock; a failed write only warns.
    fn keep(&mut self, cache: &Cache, token: &Token, description: &Description) {
        match cache.store(&self.key, token, description) {
            Ok(()) => log::debug(format_args!("cache: stored in {}", cache.dir().display())),
            Err(e) => self.refuse_cache(&e),
        }
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

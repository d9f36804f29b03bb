//! The credentials a command signs or calls with, through eks-token's credential cache:
//! the cached ones while botocore's windows allow ([`cache::plan`]), else resolved and,
//! when they are temporary and cost a network call, kept for the next run. `token`,
//! `whoami`, `kubeconfig` and `doctor` all get theirs here, so a session that `whoami`
//! caches at a terminal serves kubectl's runs.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::aws_files;
use crate::cache::{
    self, Cache, CacheError, CredentialKey, CredentialsDescription, CredentialsEntry, Freshness,
    KeyInputs, Plan,
};
use crate::credentials::{AwsConfig, Options, Resolved, Source};
use crate::error::Error;
use crate::network::Deadline;
use crate::{log, message, secrets};

/// The credentials for `role` (`None`: the base credentials), within `deadline`.
/// With `cached`, the cache and the key of what is asked for, they are read from and
/// written to the cache under the key's lock, so a burst of runs refreshes once.
pub async fn resolve(
    aws: &AwsConfig,
    options: &Options,
    cached: Option<(&Cache, &CredentialKey)>,
    deadline: Deadline,
) -> Result<Resolved, Error> {
    let role = options.role.as_ref();
    let Some((cache, key)) = cached else {
        return Ok(aws.resolve(role).await?);
    };
    let lock = match cache.lock_credentials(key, options.lock_wait(&deadline)) {
        Ok(Some(lock)) => lock,
        Ok(None) => return Err(Error::CacheLockWait(deadline.limits().total)),
        Err(e) => {
            log::debug(format_args!("credential cache: not used ({e})"));
            return Ok(aws.resolve(role).await?);
        }
    };
    let cached = cache.lookup_credentials(key).unwrap_or_else(|e| {
        log::debug(format_args!("credential cache: not read ({e})"));
        None
    });
    let resolved = match cache::plan(cached.map(|e| (e.expires_at, e)), Utc::now()) {
        Plan::Use(entry) => {
            log::debug(format_args!(
                "credential cache: hit (key {}), credentials expire {}",
                key.as_str(),
                message::rfc3339(entry.expires_at)
            ));
            from_entry(&entry)
        }
        Plan::Refresh { fallback } => match aws.resolve(role).await {
            Ok(resolved) => {
                store(cache, key, aws, &resolved);
                resolved
            }
            Err(e) => {
                let Some(entry) = fallback else {
                    return Err(e.into());
                };
                // botocore's advisory window: a failed refresh still serves.
                log::debug(format_args!(
                    "credential cache: refresh failed ({}); using the cached credentials, which expire {}",
                    secrets::redact(&e.to_string()),
                    message::rfc3339(entry.expires_at)
                ));
                from_entry(&entry)
            }
        },
    };
    drop(lock);
    Ok(resolved)
}

/// [`resolve`] for a command a person runs (`whoami`, `kubeconfig`, `doctor`): the cache
/// in `dir` (`None`: the default directory, as `token` has it) unless `options` turn it
/// off, keyed as `token` keys the same options. The directory is made only for
/// credentials worth keeping: static keys leave no trace.
pub async fn for_command(
    aws: &AwsConfig,
    options: &Options,
    dir: Option<&Path>,
    deadline: Deadline,
) -> Result<Resolved, Error> {
    if !options.credential_cache {
        log::debug(format_args!("credential cache: off"));
        return resolve(aws, options, None, deadline).await;
    }
    let Some(dir) = cache::default_dir(dir) else {
        message::warn("no home directory for the credential cache; set HOME or pass --cache-dir");
        return resolve(aws, options, None, deadline).await;
    };
    let key = CredentialKey::of(&KeyInputs::capture(options));
    match Cache::existing(&dir) {
        Ok(Some(_)) => {
            let cache = create(&dir);
            resolve(aws, options, cache.as_ref().map(|c| (c, &key)), deadline).await
        }
        Ok(None) => {
            let resolved = resolve(aws, options, None, deadline).await?;
            if worth_keeping(&resolved).is_ok()
                && let Some(cache) = create(&dir)
            {
                store(&cache, &key, aws, &resolved);
            }
            Ok(resolved)
        }
        Err(e) => {
            refused(&e);
            resolve(aws, options, None, deadline).await
        }
    }
}

/// The cache in `dir`, created private and proved ours; `None` (a warning) when it
/// cannot be used: the command goes on without it.
fn create(dir: &Path) -> Option<Cache> {
    Cache::create(dir).map_err(|e| refused(&e)).ok()
}

fn refused(e: &CacheError) {
    let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
    message::warn(&format!("not using the credential cache: {e}{hint}"));
}

/// How fresh the cached credentials for `key` are at `now`, with them. Read without the
/// lock: entries are replaced by a rename, never written in place.
pub fn cached(
    cache: &Cache,
    key: &CredentialKey,
    now: DateTime<Utc>,
) -> Option<(CredentialsEntry, Freshness)> {
    let entry = cache.lookup_credentials(key).ok()??;
    let freshness = cache::freshness(entry.expires_at, now);
    if freshness != Freshness::Fresh {
        log::debug(format_args!(
            "credential cache: the credentials expire {}, under {} minutes left: refreshed on the slow path",
            message::rfc3339(entry.expires_at),
            cache::ADVISORY_REFRESH.num_minutes()
        ));
    }
    Some((entry, freshness))
}

/// Credentials read back from the cache, remembered for redaction like any others.
pub fn from_entry(entry: &CredentialsEntry) -> Resolved {
    secrets::remember(&entry.secret_access_key);
    if let Some(token) = &entry.session_token {
        secrets::remember(token);
    }
    Resolved {
        credentials: entry.credentials(),
        source: entry.origin.clone(),
        assumed_role: entry.assumed_role.clone(),
    }
}

/// When `resolved` is worth keeping: temporary credentials that cost a network call
/// (AssumeRole, web identity, SSO, a container endpoint, a `credential_process` that says
/// when they expire). Never static keys (already local, and without an expiry) or
/// environment variables (already local, even with `AWS_SESSION_EXPIRATION`). Nor EC2
/// instance metadata: a link-local call the instance answers in a millisecond or two,
/// whose credentials the instance rotates itself well before they expire; no AWS SDK or
/// CLI writes them to disk, and a file would only be one more place for the instance
/// role's keys to leak from. A role assumed on top of any of these is kept: that was an
/// AssumeRole.
fn worth_keeping(resolved: &Resolved) -> Result<DateTime<Utc>, &'static str> {
    let Some(expires_at) = resolved.credentials.expiry() else {
        return Err("they do not expire");
    };
    match resolved.source {
        _ if resolved.assumed_role.is_some() => Ok(expires_at.into()),
        Source::Environment => Err("environment variables are already local"),
        Source::InstanceMetadata => Err("EC2 instance metadata is a local call"),
        Source::Profile(_) | Source::WebIdentity | Source::Container => Ok(expires_at.into()),
    }
}

/// What `cache list` shows as the role: the assumed role, a role profile's or the web
/// identity's role, or an SSO profile's account and role.
fn role_of(resolved: &Resolved, aws: &AwsConfig) -> Option<String> {
    if let Some(role) = &resolved.assumed_role {
        return Some(role.clone());
    }
    match &resolved.source {
        Source::Profile(p) => aws.profile_role(p).map(str::to_owned).or_else(|| {
            aws.sso_role(p)
                .map(|(account, role)| format!("{account}/{role} (IAM Identity Center)"))
        }),
        Source::WebIdentity => aws_files::env_var("AWS_ROLE_ARN"),
        Source::Environment | Source::Container | Source::InstanceMetadata => None,
    }
}

/// Keeps `resolved` under `key` when [`worth_keeping`]. Best effort: a failed write only
/// means the next run asks AWS again.
fn store(cache: &Cache, key: &CredentialKey, aws: &AwsConfig, resolved: &Resolved) {
    let expires_at = match worth_keeping(resolved) {
        Ok(at) => at,
        Err(why) => {
            log::debug(format_args!(
                "credential cache: not stored ({why}: {})",
                resolved.source
            ));
            return;
        }
    };
    let description = CredentialsDescription {
        source: resolved.source.to_string(),
        role: role_of(resolved, aws),
    };
    let entry = CredentialsEntry::new(
        key,
        &description,
        &resolved.credentials,
        expires_at,
        &resolved.source,
        resolved.assumed_role.as_deref(),
    );
    match cache.store_credentials(&entry) {
        Ok(()) => log::debug(format_args!(
            "credential cache: stored (key {}), credentials from {} expire {}",
            key.as_str(),
            resolved.source,
            message::rfc3339(entry.expires_at)
        )),
        Err(e) => log::debug(format_args!("credential cache: not stored ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use std::time::{Duration, SystemTime};

    fn resolved(source: Source, expires: bool, assumed_role: Option<&str>) -> Resolved {
        let expiry = expires.then(|| SystemTime::now() + Duration::from_secs(3600));
        Resolved {
            credentials: Credentials::new("ASIAEXAMPLE", "secret", None, expiry, "test"),
            source,
            assumed_role: assumed_role.map(str::to_owned),
        }
    }

    #[test]
    fn only_temporary_credentials_that_cost_a_call_are_kept() {
        let profile = || Source::Profile("dev".into());
        let kept = |r: Resolved| worth_keeping(&r).is_ok();
        // Role chains, SSO and credential_process with an Expiration; web identity; containers.
        assert!(kept(resolved(profile(), true, None)));
        assert!(kept(resolved(Source::WebIdentity, true, None)));
        assert!(kept(resolved(Source::Container, true, None)));
        // Static keys and a credential_process without an Expiration.
        assert!(!kept(resolved(profile(), false, None)));
        // Local sources, with an expiry or not…
        assert!(!kept(resolved(Source::Environment, true, None)));
        assert!(!kept(resolved(Source::InstanceMetadata, true, None)));
        // …unless a role was assumed with them.
        assert!(kept(resolved(
            Source::Environment,
            true,
            Some("arn:aws:iam::1:role/r")
        )));
        assert!(kept(resolved(
            Source::InstanceMetadata,
            true,
            Some("arn:aws:iam::1:role/r")
        )));
    }
}

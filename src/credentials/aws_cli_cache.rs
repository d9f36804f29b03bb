//! The AWS CLI's role session cache (`~/.aws/cli/cache/<key>.json`), both ways: a session
//! the AWS CLI cached for a role profile's AssumeRole serves eks-token, and each one
//! eks-token gets is written there for the AWS CLI, so one AssumeRole (and one MFA code)
//! serves both. botocore's file names (`BaseAssumeRoleCredentialFetcher._create_cache_key`)
//! and format (the AssumeRole response, as `JSONFileCache` writes it), its expiry window
//! ([`ADVISORY_REFRESH`](super::ADVISORY_REFRESH)); and one rule of ours: a session cached
//! before the AWS config files last changed is not used, as botocore's key does not cover
//! the profile's source.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sso::{self, json_file_name};
use super::sts::{AssumeRoleParams, AssumedRoleUser};
use crate::aws_files::cli_cache_dir;

/// The cache file botocore keeps the session of `params` in: the SHA-1 of Python's
/// `json.dumps` of the AssumeRole arguments, sorted, without a default session name
/// (`TokenCode` is not among them: it is added for each call).
pub(super) fn file_name(params: &AssumeRoleParams) -> String {
    let mut args = serde_json::Map::new();
    args.insert("RoleArn".into(), params.role_arn.clone().into());
    let text = [
        ("RoleSessionName", &params.session_name),
        ("ExternalId", &params.external_id),
        ("SerialNumber", &params.serial_number),
    ];
    for (name, value) in text {
        if let Some(value) = value {
            args.insert(name.into(), value.clone().into());
        }
    }
    if let Some(seconds) = params.duration_seconds {
        args.insert("DurationSeconds".into(), seconds.into());
    }
    json_file_name(&serde_json::Value::Object(args))
}

/// A cached role session: the AssumeRole response as botocore caches it (the AWS CLI also
/// keeps `ResponseMetadata` and `PackedPolicySize`, which are not read). No `Debug`: it
/// holds the secret key and session token.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CachedSession {
    credentials: SessionCredentials,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assumed_role_user: Option<CachedUser>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SessionCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    /// STS's timestamp as the AWS CLI keeps it (`2026-01-02T15:04:05Z`), or as boto3
    /// writes a parsed one (`2026-01-02T15:04:05UTC`).
    expiration: String,
    /// The role's account, which botocore adds from the user's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CachedUser {
    assumed_role_id: String,
    arn: String,
}

/// A session the cache holds.
pub(super) struct Found {
    pub credentials: Credentials,
    pub expires: DateTime<Utc>,
    pub path: PathBuf,
}

/// The session cached for `params` under `home` with more than botocore's expiry window
/// left at `now`, unless the file is older than `edited` (the AWS config files' last
/// change). The caller checks and remembers the credentials.
pub(super) fn read(
    home: &Path,
    params: &AssumeRoleParams,
    edited: Option<SystemTime>,
    now: DateTime<Utc>,
) -> Option<Found> {
    let path = cli_cache_dir(home).join(file_name(params));
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if edited.is_some_and(|edited| written < edited) {
        crate::log::debug(format_args!(
            "credentials: the AWS CLI's cached session for {} predates the last change to the AWS config files; not used",
            params.role_arn
        ));
        return None;
    }
    let session: CachedSession = sso::read(&path).ok()?;
    let c = session.credentials;
    let expires = parse_expiration(&c.expiration)?;
    if expires - now < super::ADVISORY_REFRESH {
        return None;
    }
    Some(Found {
        credentials: Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expires.into()),
            "AWS CLI cache",
        ),
        expires,
        path,
    })
}

/// Writes the session AssumeRole gave for `params` where the AWS CLI looks for it; a new
/// cache directory is private (0700), the file 0600.
pub(super) fn write(
    home: &Path,
    params: &AssumeRoleParams,
    credentials: &Credentials,
    user: Option<&AssumedRoleUser>,
) -> std::io::Result<PathBuf> {
    let expires: DateTime<Utc> = credentials
        .expiry()
        .ok_or_else(|| std::io::Error::other("the session has no expiry"))?
        .into();
    let session = CachedSession {
        credentials: SessionCredentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().unwrap_or_default().to_owned(),
            expiration: sso::format_time(expires),
            // botocore's `_add_account_id_to_response`.
            account_id: user.and_then(|u| u.arn.split(':').nth(4).map(str::to_owned)),
        },
        assumed_role_user: user.map(|u| CachedUser {
            assumed_role_id: u.assumed_role_id.clone(),
            arn: u.arn.clone(),
        }),
    };
    sso::write_in(&cli_cache_dir(home), &file_name(params), &session)
}

/// An `Expiration` as the AWS CLI (STS's own text: `2026-01-02T15:04:05Z`, with or without
/// fractions) or boto3 (`strftime('%Y-%m-%dT%H:%M:%S%Z')`: `2026-01-02T15:04:05UTC`)
/// writes it.
fn parse_expiration(text: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = sso::parse_time(text) {
        return Some(t);
    }
    let naive = text.strip_suffix("UTC")?;
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(role: &str) -> AssumeRoleParams {
        AssumeRoleParams {
            role_arn: role.into(),
            ..AssumeRoleParams::default()
        }
    }

    /// Vectors from the AWS CLI v1 against moto: the files it wrote for these profiles.
    #[test]
    fn file_names_are_botocores() {
        let mut one = params("arn:aws:iam::123456789012:role/one");
        one.duration_seconds = Some(1800);
        assert_eq!(
            file_name(&one),
            "7a11f0c1e5f64bfaa83eb30c5d27db8b1fd85ce7.json"
        );
        let mut two = params("arn:aws:iam::123456789012:role/two");
        two.session_name = Some("bob".into());
        two.external_id = Some("ext".into());
        assert_eq!(
            file_name(&two),
            "6f2b9e80474b3e51537948eeaf99ea26f95f60a3.json"
        );
    }

    #[test]
    fn expirations_in_each_form_botocore_writes() {
        let want = DateTime::parse_from_rfc3339("2026-01-02T15:04:05Z").unwrap();
        for text in [
            "2026-01-02T15:04:05Z",
            "2026-01-02T15:04:05+00:00",
            "2026-01-02T15:04:05UTC",
            "2026-01-02T16:04:05+01:00",
        ] {
            assert_eq!(parse_expiration(text), Some(want.into()), "{text}");
        }
        assert!(parse_expiration("2026-01-02T15:04:05.940176Z").is_some());
        assert!(parse_expiration("tomorrow").is_none());
    }

    #[test]
    fn a_session_is_read_back_as_written_while_it_has_more_than_the_window_left() {
        let home = tempfile::tempdir().unwrap();
        let p = params("arn:aws:iam::123456789012:role/r");
        let now = Utc::now();
        let expires = now + chrono::TimeDelta::minutes(20);
        let c = Credentials::new(
            "ASIAUNITTEST",
            "unitSecret",
            Some("unitToken".into()),
            Some(expires.into()),
            "t",
        );
        let user = AssumedRoleUser {
            assumed_role_id: "AROAX:s".into(),
            arn: "arn:aws:sts::123456789012:assumed-role/r/s".into(),
        };
        let path = write(home.path(), &p, &c, Some(&user)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["Credentials"]["AccountId"], "123456789012");
        assert_eq!(json["AssumedRoleUser"]["Arn"], user.arn);

        let found = read(home.path(), &p, None, now).unwrap();
        assert_eq!(found.credentials.access_key_id(), "ASIAUNITTEST");
        assert_eq!(found.credentials.session_token(), Some("unitToken"));
        assert_eq!(found.expires.timestamp(), expires.timestamp());
        // Not with 15 minutes or less left, nor once the config files changed after it.
        assert!(read(home.path(), &p, None, now + chrono::TimeDelta::minutes(6)).is_none());
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert!(read(home.path(), &p, Some(later), now).is_none());
        // Another role has its own file.
        assert!(read(home.path(), &params("arn:aws:iam::1:role/x"), None, now).is_none());
    }
}

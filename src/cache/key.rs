//! The cache key: what a cached token is bound to, hashed. [`CacheKey::of`] is a pure
//! function of [`KeyInputs`], which [`KeyInputs::capture`] reads once per run from the
//! flags, the environment and the AWS config files' metadata (never their content: the hit
//! path does not parse them).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::entry::{FORMAT, Request};
use crate::aws_files;
use crate::credentials::{self, Options, RoleOptions};
use crate::token::ClusterId;

/// Environment variables that choose the credentials, region, endpoints or STS host.
/// Any change in one of them gives a different key.
pub const KEY_ENV: &[&str] = &[
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_EXPIRATION",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    // Hashed, never stored: which aws-vault --ecs-server session a loopback port serves.
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_EC2_METADATA_DISABLED",
];

/// Variables that pick credentials, keyed since the credential cache: hashed with their
/// name and only when set, so a run that sets none keeps the key it always had (and its
/// cached token). They key the credential cache too.
pub const LATER_KEY_ENV: &[&str] = &[
    // The SDK then skips AWS_ENDPOINT_URL* and `endpoint_url`: another STS or SSO issues.
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    // Which instance metadata service gives the base credentials of `--role-arn` on EC2.
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
];

/// The variables of [`KEY_ENV`] that only pick where a token is signed for: STS credentials
/// are global, so one AssumeRole serves every region, cluster and STS host. The others key
/// the credential cache too ([`credential_env`]): the environment's keys outrank profiles
/// and are the base of `--role-arn`, and another STS, SSO or container endpoint issues
/// other credentials.
pub const SIGNING_ENV: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
];

/// The variables of [`KEY_ENV`] and [`LATER_KEY_ENV`] that choose which credentials a run
/// gets, in their order.
pub fn credential_env() -> impl Iterator<Item = &'static str> {
    KEY_ENV
        .iter()
        .chain(LATER_KEY_ENV)
        .copied()
        .filter(|name| !SIGNING_ENV.contains(name))
}

/// Everything a key is made of, read once per run.
#[derive(Clone, Debug, Default)]
pub struct KeyInputs {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--role-arn` and the flags that go with it.
    pub role: Option<RoleOptions>,
    /// The variables of [`KEY_ENV`] and [`LATER_KEY_ENV`] that are set and not empty
    /// (non-UTF-8 values kept as bytes).
    pub env: BTreeMap<&'static str, OsString>,
    /// The AWS config and credentials files in play, in the SDK's order, each with its
    /// stamp when it exists (so an edited profile gives another key).
    pub config_files: Vec<(PathBuf, Option<FileStamp>)>,
    /// The region the run names without a config file (`--region`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`): a hit must be for it.
    pub named_region: Option<String>,
    /// `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT`; `None` when unset, as the
    /// profile may then set them.
    pub fips: Option<bool>,
    pub dual_stack: Option<bool>,
}

/// A config file's size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    /// Since the Unix epoch; 0 when the file system does not say.
    pub modified_nanos: u128,
}

impl KeyInputs {
    /// Reads the key's inputs for a token request with `options`: the environment and a
    /// stat of each AWS config file.
    pub fn capture(options: &Options) -> Self {
        let env = KEY_ENV
            .iter()
            .chain(LATER_KEY_ENV)
            // Empty means unset, as for the AWS SDKs.
            .filter_map(|&name| Some((name, std::env::var_os(name).filter(|v| !v.is_empty())?)))
            .collect();
        let home = aws_files::home_dir();
        let config_files = aws_files::config_file_paths(home.as_deref())
            .into_iter()
            .map(|path| {
                let stamp = std::fs::metadata(&path).ok().map(|m| FileStamp {
                    len: m.len(),
                    modified_nanos: m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos()),
                });
                (path, stamp)
            })
            .collect();
        Self {
            profile: options.profile.clone(),
            region: options.region.clone(),
            role: options.role.clone(),
            env,
            config_files,
            named_region: credentials::named_region(options).map(|(region, _)| region),
            fips: credentials::env_flag("AWS_USE_FIPS_ENDPOINT"),
            dual_stack: credentials::env_flag("AWS_USE_DUALSTACK_ENDPOINT"),
        }
    }
}

/// What a cached token is bound to, hashed: the cluster, every flag and environment
/// variable that picks credentials, region or endpoint, and the AWS config files in play.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheKey {
    hash: String,
    pub(super) request: Request,
}

impl CacheKey {
    /// The key for a token request for `cluster`.
    pub fn of(cluster: &ClusterId, inputs: &KeyInputs) -> Self {
        let mut key = KeyHasher(Sha256::new());
        key.field(Some(&FORMAT.to_le_bytes()));
        key.text(Some(cluster.as_str()));
        key.text(inputs.profile.as_deref());
        key.text(inputs.region.as_deref());
        key.role(inputs.role.as_ref());
        for name in KEY_ENV {
            key.field(inputs.env.get(name).map(|v| v.as_encoded_bytes()));
        }
        for name in LATER_KEY_ENV {
            if let Some(value) = inputs.env.get(name) {
                key.tagged(name, value.as_encoded_bytes());
            }
        }
        key.files(&inputs.config_files);
        let request = Request {
            cluster: cluster.as_str().to_owned(),
            region: inputs.named_region.clone(),
            fips: inputs.fips,
            dual_stack: inputs.dual_stack,
        };
        Self {
            hash: hex(&key.0.finalize()),
            request,
        }
    }

    /// The key's file-name stem.
    pub fn as_str(&self) -> &str {
        &self.hash
    }
}

/// What cached credentials are bound to, hashed: the profile, the `--role-arn` options,
/// the [`credential_env`] variables and the AWS config files' identity; never the cluster,
/// region or STS host, so tokens for many clusters share one set of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialKey {
    hash: String,
}

/// Hashed first, so a credential key never equals a token key.
const CREDENTIAL_DOMAIN: &str = "eks-token credentials";

impl CredentialKey {
    /// The key for the credentials a run with `inputs` resolves.
    pub fn of(inputs: &KeyInputs) -> Self {
        let mut key = KeyHasher(Sha256::new());
        key.text(Some(CREDENTIAL_DOMAIN));
        key.field(Some(&super::credentials::FORMAT.to_le_bytes()));
        key.text(inputs.profile.as_deref());
        key.role(inputs.role.as_ref());
        for name in credential_env() {
            key.field(inputs.env.get(name).map(|v| v.as_encoded_bytes()));
        }
        key.files(&inputs.config_files);
        Self {
            hash: hex(&key.0.finalize()),
        }
    }

    /// The key's file-name stem.
    pub fn as_str(&self) -> &str {
        &self.hash
    }
}

/// Feeds fields to SHA-256 unambiguously: a presence byte, then length-prefixed bytes.
struct KeyHasher(Sha256);

impl KeyHasher {
    fn field(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.0.update([0]),
            Some(bytes) => {
                self.0.update([1]);
                self.0.update((bytes.len() as u64).to_le_bytes());
                self.0.update(bytes);
            }
        }
    }

    fn text(&mut self, value: Option<&str>) {
        self.field(value.map(str::as_bytes));
    }

    /// A field that is hashed only when present: a tag byte no other field starts with,
    /// its name, its value.
    fn tagged(&mut self, name: &str, value: &[u8]) {
        self.0.update([2]);
        self.text(Some(name));
        self.field(Some(value));
    }

    /// The `--role-arn` options, each a field.
    fn role(&mut self, role: Option<&RoleOptions>) {
        self.text(role.map(|r| r.arn.as_str()));
        self.text(role.and_then(|r| r.session_name.as_deref()));
        self.text(role.and_then(|r| r.external_id.as_deref()));
        self.text(role.map(|r| {
            if r.forward_session_name {
                "forward"
            } else {
                ""
            }
        }));
    }

    /// Each file's path and stamp.
    fn files(&mut self, files: &[(PathBuf, Option<FileStamp>)]) {
        for (path, stamp) in files {
            self.field(Some(path.as_os_str().as_encoded_bytes()));
            let stamp = stamp.map(|s| {
                [
                    s.len.to_le_bytes().as_slice(),
                    &s.modified_nanos.to_le_bytes(),
                ]
                .concat()
            });
            self.field(stamp.as_deref());
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn cluster(name: &str) -> ClusterId {
        ClusterId::new(name).unwrap()
    }

    /// A run with `--region us-west-2`, no `AWS_*` variable set and no AWS config files
    /// under a home of `/home/u`.
    fn inputs() -> KeyInputs {
        KeyInputs {
            region: Some("us-west-2".into()),
            named_region: Some("us-west-2".into()),
            config_files: vec![
                ("/home/u/.aws/config".into(), None),
                ("/home/u/.aws/credentials".into(), None),
            ],
            ..KeyInputs::default()
        }
    }

    #[test]
    fn the_key_is_the_hash_it_always_was() {
        // What eks-token 0.1.0 (before the inputs were captured apart) printed with
        // `--verbose` for `token -i c --region us-west-2`, HOME=/home/u, no AWS_* set:
        // entries cached by earlier runs stay hits.
        assert_eq!(CacheKey::of(&cluster("c"), &inputs()).as_str(), GOLDEN_KEY);
    }

    const GOLDEN_KEY: &str = "0d01a4f49ade72c7b3319f25c975bc9730b666bda15615fcb9405851002ea6c6";

    #[test]
    fn same_inputs_give_the_same_key() {
        assert_eq!(
            CacheKey::of(&cluster("c"), &inputs()),
            CacheKey::of(&cluster("c"), &inputs().clone())
        );
    }

    /// `base` with each input that picks credentials changed, one at a time (the first is
    /// `base` itself), then one for each of `env`.
    fn credential_variants(base: &KeyInputs, env: &[&'static str]) -> Vec<KeyInputs> {
        let role = RoleOptions {
            arn: "arn:aws:iam::1:role/r".into(),
            ..Default::default()
        };
        let with = |change: &dyn Fn(&mut KeyInputs)| {
            let mut inputs = base.clone();
            change(&mut inputs);
            inputs
        };
        let stamp = FileStamp {
            len: 10,
            modified_nanos: 1,
        };
        let mut variants = vec![
            base.clone(),
            with(&|i| i.profile = Some("p".into())),
            with(&|i| i.role = Some(role.clone())),
            with(&|i| {
                i.role = Some(RoleOptions {
                    session_name: Some("s".into()),
                    ..role.clone()
                })
            }),
            with(&|i| {
                i.role = Some(RoleOptions {
                    external_id: Some("e".into()),
                    ..role.clone()
                })
            }),
            with(&|i| {
                i.role = Some(RoleOptions {
                    forward_session_name: true,
                    ..role.clone()
                })
            }),
            with(&|i| i.config_files[0].0 = "/elsewhere/config".into()),
            with(&|i| i.config_files[0].1 = Some(stamp)),
            with(&|i| i.config_files[0].1 = Some(FileStamp { len: 11, ..stamp })),
            with(&|i| {
                i.config_files[0].1 = Some(FileStamp {
                    modified_nanos: 2,
                    ..stamp
                })
            }),
            with(&|i| i.config_files.pop().map(drop).unwrap_or_default()),
        ];
        for name in env {
            variants.push(with(&|i| {
                i.env.insert(name, "1".into());
            }));
        }
        variants
    }

    #[test]
    fn every_input_changes_the_key() {
        let base = inputs();
        let env: Vec<&'static str> = KEY_ENV.iter().chain(LATER_KEY_ENV).copied().collect();
        let mut variants = credential_variants(&base, &env);
        let mut region = base.clone();
        region.region = None;
        variants.push(region);
        let mut keys: Vec<String> = variants
            .iter()
            .map(|i| CacheKey::of(&cluster("c"), i).hash)
            .collect();
        keys.push(CacheKey::of(&cluster("d"), &base).hash);
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn five_clusters_regions_and_endpoint_variants_share_one_credential_key() {
        let base = CredentialKey::of(&inputs());
        let mut others = Vec::new();
        for name in ["a", "b", "c", "d", "e"] {
            // The token keys differ, the credential key does not.
            others.push(CacheKey::of(&cluster(name), &inputs()));
        }
        let distinct: HashSet<_> = others.iter().map(|k| k.hash.clone()).collect();
        assert_eq!(distinct.len(), 5);
        for change in [
            &(|i: &mut KeyInputs| i.region = Some("eu-west-1".into())) as &dyn Fn(&mut KeyInputs),
            &|i| i.named_region = None,
            &|i| i.fips = Some(true),
            &|i| i.dual_stack = Some(true),
            &|i| {
                for name in [
                    "AWS_REGION",
                    "AWS_DEFAULT_REGION",
                    "AWS_USE_FIPS_ENDPOINT",
                    "AWS_USE_DUALSTACK_ENDPOINT",
                ] {
                    i.env.insert(name, "eu-west-1".into());
                }
            },
        ] {
            let mut changed = inputs();
            change(&mut changed);
            assert_eq!(CredentialKey::of(&changed), base);
        }
        assert_ne!(
            base.as_str(),
            CacheKey::of(&cluster("c"), &inputs()).as_str()
        );
    }

    #[test]
    fn every_credential_input_changes_the_credential_key() {
        assert!(SIGNING_ENV.iter().all(|v| KEY_ENV.contains(v)));
        let env: Vec<&'static str> = credential_env().collect();
        assert_eq!(
            env.len(),
            KEY_ENV.len() + LATER_KEY_ENV.len() - SIGNING_ENV.len()
        );
        let variants = credential_variants(&inputs(), &env);
        let keys: Vec<String> = variants.iter().map(|i| CredentialKey::of(i).hash).collect();
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn every_variable_that_picks_a_cached_source_keys_the_credentials() {
        // What the SDK's providers and our chain read to pick each source that is cached
        // (aws-config `src/web_identity_token.rs`, `src/ecs.rs`, `src/imds/client.rs`,
        // `src/environment/credentials.rs`, `src/profile/`).
        let sources: [(&str, &[&str]); 6] = [
            ("environment (base of --role-arn)", &["AWS_ACCESS_KEY_ID"]),
            (
                "profiles",
                &[
                    "AWS_PROFILE",
                    "AWS_CONFIG_FILE",
                    "AWS_SHARED_CREDENTIALS_FILE",
                ],
            ),
            (
                "web identity",
                &[
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_ROLE_ARN",
                    "AWS_ROLE_SESSION_NAME",
                ],
            ),
            (
                "container",
                &[
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                ],
            ),
            (
                "instance metadata (base of --role-arn)",
                &[
                    "AWS_EC2_METADATA_DISABLED",
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                ],
            ),
            (
                "the endpoints that issue (STS, SSO)",
                &[
                    "AWS_ENDPOINT_URL",
                    "AWS_ENDPOINT_URL_STS",
                    "AWS_ENDPOINT_URL_SSO",
                    "AWS_ENDPOINT_URL_SSO_OIDC",
                    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                ],
            ),
        ];
        let keyed: Vec<&str> = credential_env().collect();
        for (source, variables) in sources {
            for variable in variables {
                assert!(
                    keyed.contains(variable),
                    "{source}: {variable} is not keyed"
                );
            }
        }
    }

    #[test]
    fn what_a_hit_must_match_is_taken_from_the_inputs() {
        let key = CacheKey::of(
            &cluster("c"),
            &KeyInputs {
                fips: Some(true),
                dual_stack: Some(false),
                ..inputs()
            },
        );
        assert_eq!(
            key.request,
            Request {
                cluster: "c".into(),
                region: Some("us-west-2".into()),
                fips: Some(true),
                dual_stack: Some(false),
            }
        );
        // The request is checked against an entry, not hashed twice: the named region,
        // FIPS and dual-stack settings enter the hash through the flag and the variables.
        let plain = CacheKey::of(&cluster("c"), &inputs());
        assert_eq!(plain.as_str(), key.as_str());
    }
}

//! Which region a run signs for and where that came from, and the endpoint variant
//! (FIPS, dual-stack): flag, environment, profile, EC2 instance metadata, fallback.

use std::fmt;
use std::time::Duration;

use aws_config::imds;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::profile::Profile;
use aws_config::provider_config::ProviderConfig;

use super::Options;
use crate::aws_files::env_var;
use crate::network::Network;
use crate::sts_endpoint::{InvalidRegion, Region, Variant};

/// Used when no region is configured anywhere, as the AWS CLI's legacy STS default.
pub const FALLBACK_REGION: &str = "us-east-1";

/// IMDS answers in well under a millisecond on EC2; off EC2 nothing answers at all, so a
/// short connect timeout and one attempt keep a laptop without credentials fast.
const IMDS_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const IMDS_READ_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the region came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionOrigin {
    Flag,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`: the variable that held it.
    Environment(&'static str),
    /// The `region` of the profile in use.
    Profile(String),
    InstanceMetadata,
    Fallback,
}

/// What `doctor` and `--verbose` say about the region's origin.
impl fmt::Display for RegionOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("--region"),
            Self::Environment(var) => f.write_str(var),
            Self::Profile(p) => write!(f, "profile {p}"),
            Self::InstanceMetadata => f.write_str("EC2 instance metadata"),
            Self::Fallback => f.write_str("nothing configured: the AWS CLI's default"),
        }
    }
}

/// The region a run names without any config file: `--region`, else `AWS_REGION`, else
/// `AWS_DEFAULT_REGION`.
pub fn named_region(options: &Options) -> Option<(String, RegionOrigin)> {
    if let Some(r) = &options.region {
        return Some((r.clone(), RegionOrigin::Flag));
    }
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|var| Some((env_var(var)?, RegionOrigin::Environment(var))))
}

/// A `true`/`false` environment setting (`AWS_USE_FIPS_ENDPOINT`); unset or empty is `None`.
pub fn env_flag(name: &str) -> Option<bool> {
    env_var(name).map(|v| v.eq_ignore_ascii_case("true"))
}

/// The endpoint variant: the environment, else the profile in use.
pub(super) fn variant(profile: Option<&Profile>) -> Variant {
    let setting = |var: &str, key: &str| {
        env_flag(var)
            .or_else(|| profile?.get(key).map(|v| v.eq_ignore_ascii_case("true")))
            .unwrap_or(false)
    };
    Variant {
        fips: setting("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"),
        dual_stack: setting("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"),
    }
}

/// The region, as the SDKs look for it: named, else the profile's (`profile` is the
/// profile in use and its name), else EC2 instance metadata, else [`FALLBACK_REGION`].
/// Also says whether instance metadata was asked and did not answer.
pub(super) async fn resolve(
    options: &Options,
    profile: Option<(&str, &Profile)>,
    provider_config: &ProviderConfig,
    network: &Network,
) -> Result<(Region, RegionOrigin, bool), InvalidRegion> {
    let mut imds_unreachable = false;
    let (name, origin) = if let Some(named) = named_region(options) {
        named
    } else if let Some((name, r)) = profile.and_then(|(n, p)| Some((n, p.get("region")?))) {
        (r.to_owned(), RegionOrigin::Profile(name.to_owned()))
    } else {
        let found = if imds_disabled() {
            None
        } else {
            network.step("region: asking EC2 instance metadata");
            let provider = ImdsRegionProvider::builder()
                .configure(provider_config)
                .imds_client(imds_client(provider_config))
                .build();
            let found = network.within(provider.region()).await.ok().flatten();
            imds_unreachable = found.is_none();
            found
        };
        match found {
            Some(r) => (r.to_string(), RegionOrigin::InstanceMetadata),
            None => (FALLBACK_REGION.into(), RegionOrigin::Fallback),
        }
    };
    Ok((Region::new(&name)?, origin, imds_unreachable))
}

pub(super) fn imds_disabled() -> bool {
    env_flag("AWS_EC2_METADATA_DISABLED").unwrap_or(false)
}

pub(super) fn imds_client(conf: &ProviderConfig) -> imds::Client {
    imds::Client::builder()
        .configure(conf)
        .connect_timeout(IMDS_CONNECT_TIMEOUT)
        .read_timeout(IMDS_READ_TIMEOUT)
        .max_attempts(1)
        .build()
}

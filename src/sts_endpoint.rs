//! Which public STS host a token names, for a region and the FIPS / dual-stack settings.
//!
//! The EKS server only accepts tokens whose host is an STS host of an AWS partition
//! (aws-iam-authenticator `pkg/token/token.go`, `Verify`), so this never looks at
//! `AWS_ENDPOINT_URL*`: those overrides are for API calls, not for the URL the cluster
//! replays.

use std::fmt;

/// A region name that is safe to put in a host name and a credential scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Region(String);

/// Why a region name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid region {0:?}: expected a name such as us-west-2")]
pub struct InvalidRegion(pub String);

impl Region {
    /// Accepts lower-case DNS-label region names (`us-west-2`, `cn-north-1`, `us-gov-west-1`).
    pub fn new(name: &str) -> Result<Self, InvalidRegion> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with('-')
            && !name.ends_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidRegion(name.to_owned()))
        }
    }

    /// The region name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The AWS partitions, each with its own DNS suffixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsIso,
    AwsIsoB,
    AwsIsoE,
    AwsIsoF,
    AwsEusc,
}

impl Partition {
    pub const ALL: [Self; 8] = [
        Self::Aws,
        Self::AwsCn,
        Self::AwsUsGov,
        Self::AwsIso,
        Self::AwsIsoB,
        Self::AwsIsoE,
        Self::AwsIsoF,
        Self::AwsEusc,
    ];

    /// The partition a region belongs to, by the region-name patterns AWS publishes.
    pub fn of(region: &Region) -> Self {
        let r = region.as_str();
        if r.starts_with("cn-") {
            Self::AwsCn
        } else if r.starts_with("us-gov-") {
            Self::AwsUsGov
        } else if r.starts_with("us-isob-") {
            Self::AwsIsoB
        } else if r.starts_with("us-isof-") {
            Self::AwsIsoF
        } else if r.starts_with("us-iso-") {
            Self::AwsIso
        } else if r.starts_with("eu-isoe-") {
            Self::AwsIsoE
        } else if r.starts_with("eusc-") {
            Self::AwsEusc
        } else {
            Self::Aws
        }
    }

    /// The partition's name as AWS writes it in ARNs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsIso => "aws-iso",
            Self::AwsIsoB => "aws-iso-b",
            Self::AwsIsoE => "aws-iso-e",
            Self::AwsIsoF => "aws-iso-f",
            Self::AwsEusc => "aws-eusc",
        }
    }

    fn dns_suffix(self) -> &'static str {
        match self {
            Self::Aws | Self::AwsUsGov => "amazonaws.com",
            Self::AwsCn => "amazonaws.com.cn",
            Self::AwsIso => "c2s.ic.gov",
            Self::AwsIsoB => "sc2s.sgov.gov",
            Self::AwsIsoE => "cloud.adc-e.uk",
            Self::AwsIsoF => "csp.hci.ic.gov",
            Self::AwsEusc => "amazonaws.eu",
        }
    }

    /// Dual-stack suffix; the isolated partitions have none.
    fn dual_stack_suffix(self) -> Option<&'static str> {
        match self {
            Self::Aws | Self::AwsUsGov => Some("api.aws"),
            Self::AwsCn => Some("api.amazonwebservices.com.cn"),
            Self::AwsEusc => Some("api.amazonwebservices.eu"),
            _ => None,
        }
    }
}

/// Whether `host` is in one of the AWS partitions' DNS domains (`*.amazonaws.com`,
/// `*.api.aws`, `*.c2s.ic.gov`, …).
pub fn is_aws_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    Partition::ALL
        .iter()
        .flat_map(|p| [Some(p.dns_suffix()), p.dual_stack_suffix()])
        .flatten()
        .any(|suffix| {
            host.strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.'))
        })
}

/// Endpoint variants chosen by `AWS_USE_FIPS_ENDPOINT` / `AWS_USE_DUALSTACK_ENDPOINT`
/// (or `use_fips_endpoint` / `use_dualstack_endpoint` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Variant {
    pub fips: bool,
    pub dual_stack: bool,
}

/// The STS endpoint a token is presigned for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsEndpoint {
    /// Host name only; the scheme is always https and the path `/`.
    pub host: String,
    /// Region in the credential scope.
    pub signing_region: Region,
}

/// Why no STS host could be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the {partition} partition has no dual-stack STS endpoint (region {region})")]
pub struct NoDualStack {
    pub partition: &'static str,
    pub region: String,
}

impl StsEndpoint {
    /// The regional STS endpoint, as the AWS SDKs' STS endpoint rules pick it.
    pub fn regional(region: &Region, variant: Variant) -> Result<Self, NoDualStack> {
        let partition = Partition::of(region);
        let r = region.as_str();
        let host = match (variant.fips, variant.dual_stack) {
            // GovCloud's regional STS endpoints are FIPS endpoints already.
            (true, false) if partition == Partition::AwsUsGov => {
                format!("sts.{r}.{}", partition.dns_suffix())
            }
            (fips, false) => {
                let service = if fips { "sts-fips" } else { "sts" };
                format!("{service}.{r}.{}", partition.dns_suffix())
            }
            (fips, true) => {
                let suffix = partition.dual_stack_suffix().ok_or_else(|| NoDualStack {
                    partition: partition.name(),
                    region: r.to_owned(),
                })?;
                let service = if fips { "sts-fips" } else { "sts" };
                format!("{service}.{r}.{suffix}")
            }
        };
        Ok(Self {
            host,
            signing_region: region.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(region: &str, fips: bool, dual_stack: bool) -> String {
        let region = Region::new(region).unwrap();
        StsEndpoint::regional(&region, Variant { fips, dual_stack })
            .unwrap()
            .host
    }

    #[test]
    fn partitions_pick_their_suffix() {
        assert_eq!(
            host("eu-west-1", false, false),
            "sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            host("cn-north-1", false, false),
            "sts.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            host("us-gov-west-1", true, false),
            "sts.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            host("us-iso-east-1", false, false),
            "sts.us-iso-east-1.c2s.ic.gov"
        );
        assert_eq!(
            host("us-isob-east-1", false, false),
            "sts.us-isob-east-1.sc2s.sgov.gov"
        );
    }

    #[test]
    fn aws_hosts_are_those_of_every_partition() {
        for host in [
            "sts.eu-west-1.amazonaws.com",
            "sts.cn-north-1.amazonaws.com.cn",
            "sts.us-east-1.api.aws",
            "sts.us-iso-east-1.c2s.ic.gov",
            "sts.us-isob-east-1.sc2s.sgov.gov",
            "eks.eu-isoe-west-1.cloud.adc-e.uk",
            "sts.us-isof-south-1.csp.hci.ic.gov",
            "sts.eusc-de-east-1.amazonaws.eu",
            "portal.sso.eu-west-1.amazonaws.com.",
        ] {
            assert!(is_aws_host(host), "{host}");
        }
        for host in [
            "127.0.0.1",
            "localhost",
            "evilamazonaws.com",
            "amazonaws.com.example",
        ] {
            assert!(!is_aws_host(host), "{host}");
        }
    }

    #[test]
    fn isolated_partitions_have_no_dual_stack() {
        let region = Region::new("us-iso-east-1").unwrap();
        let variant = Variant {
            fips: false,
            dual_stack: true,
        };
        assert!(StsEndpoint::regional(&region, variant).is_err());
    }

    #[test]
    fn region_names_must_be_host_labels() {
        for bad in [
            "",
            "US-EAST-1",
            "us east 1",
            "-us",
            "us-east-1.",
            "a/b",
            "us-east-1\n",
        ] {
            assert!(Region::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Region::new("us-west-2").is_ok());
    }
}

//! What a kubeconfig needs to know about a cluster, from EKS DescribeCluster.

use aws_credential_types::Credentials;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;

use crate::credentials::{AwsConfig, CallError, CredentialsError, Source};
use crate::network::failure::Code;

/// The public facts a kubeconfig holds about a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster name.
    pub name: String,
    /// What the token's `x-k8s-aws-id` must be: the name, or for a local cluster on
    /// Outposts the cluster id (as `aws eks update-kubeconfig` writes `--cluster-id`).
    pub token_id: String,
    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`: the names the AWS CLI gives its entries.
    pub arn: String,
    pub endpoint: String,
    /// Base64 PEM, as kubeconfig's `certificate-authority-data` wants it.
    pub certificate_authority_data: String,
}

/// Why DescribeCluster gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No cluster of that name in that region.
    #[error("cluster {name:?} not found in {region}")]
    NotFound { name: String, region: String },
    /// EKS refused the caller (`AccessDeniedException`).
    #[error(transparent)]
    Denied(Box<CallError>),
    /// Any other failure, read as every AWS call's (an expired or unknown key, no
    /// answer, throttling, the deadline, an answer that is not EKS's).
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The cluster has no endpoint or CA yet (still being created).
    #[error("cluster {name:?} has no {missing} yet (status {status})")]
    NotReady {
        name: String,
        missing: &'static str,
        status: String,
    },
}

impl ClusterError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound { region, .. } => Some(format!(
                "check the name and --region: `aws eks list-clusters --region {region}` lists the clusters there"
            )),
            Self::Denied(_) => Some(
                "check that the identity (`eks-token whoami`) may call eks:DescribeCluster".into(),
            ),
            Self::NotReady { .. } => {
                Some("wait until the cluster is ACTIVE, then run this again".into())
            }
            Self::Credentials(e) => e.hint(),
        }
    }
}

/// Calls DescribeCluster signed with `credentials` from `source`, within the command's
/// deadline (endpoint overrides such as `AWS_ENDPOINT_URL_EKS` apply).
pub async fn describe(
    aws: &AwsConfig,
    credentials: Credentials,
    source: Source,
    name: &str,
) -> Result<ClusterInfo, ClusterError> {
    let region = aws.region.as_str();
    let what = format!("EKS DescribeCluster of {name} in {region}");
    let network = aws.network();
    network.step(what.clone());
    let call = async {
        let sdk = aws.sdk_config(credentials).await;
        aws_sdk_eks::Client::new(&sdk)
            .describe_cluster()
            .name(name)
            .send()
            .await
    };
    let out = network
        .within(call)
        .await
        .map_err(CredentialsError::TimedOut)?
        .map_err(|e| {
            if let Some(DescribeClusterError::ResourceNotFoundException(_)) = e.as_service_error() {
                return ClusterError::NotFound {
                    name: name.to_owned(),
                    region: region.to_owned(),
                };
            }
            // The same reading as every other call: an SSO profile's expired login gets
            // the login hint, an endpoint that does not answer the network hint.
            let sso = match &source {
                Source::Profile(p) => aws.sso_profile(p),
                _ => None,
            };
            match aws.call_error(what, Some(source), sso, &e) {
                CredentialsError::Call(call) if call.failure.code() == Some(Code::AccessDenied) => {
                    ClusterError::Denied(call)
                }
                other => other.into(),
            }
        })?;
    let cluster = out.cluster.ok_or_else(|| ClusterError::NotFound {
        name: name.to_owned(),
        region: region.to_owned(),
    })?;
    let status = cluster
        .status()
        .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned());
    let not_ready = |missing| ClusterError::NotReady {
        name: name.to_owned(),
        missing,
        status: status.clone(),
    };
    let endpoint = cluster
        .endpoint()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| not_ready("endpoint"))?;
    let ca = cluster
        .certificate_authority()
        .and_then(|c| c.data())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| not_ready("certificate authority"))?;
    let arn = cluster.arn().ok_or_else(|| not_ready("ARN"))?;
    let name = cluster.name().unwrap_or(name);
    let token_id = token_id(name, cluster.id(), cluster.outpost_config().is_some())
        .ok_or_else(|| not_ready("cluster id"))?;
    Ok(ClusterInfo {
        name: name.to_owned(),
        token_id: token_id.to_owned(),
        arn: arn.to_owned(),
        endpoint: endpoint.to_owned(),
        certificate_authority_data: ca.to_owned(),
    })
}

/// The id a token for this cluster is signed for: local clusters on Outposts are known to
/// their API server by id, every other cluster by name.
fn token_id<'a>(name: &'a str, id: Option<&'a str>, on_outposts: bool) -> Option<&'a str> {
    if on_outposts {
        id.filter(|id| !id.is_empty())
    } else {
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::token_id;

    #[test]
    fn outposts_clusters_are_signed_for_by_id() {
        let id = "8f4e2a5c-1b6d-4c3e-9a7f-0123456789ab";
        assert_eq!(token_id("prod", Some(id), false), Some("prod"));
        assert_eq!(token_id("edge", Some(id), true), Some(id));
        assert_eq!(token_id("edge", None, true), None);
        assert_eq!(token_id("edge", Some(""), true), None);
    }
}

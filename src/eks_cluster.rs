//! What a kubeconfig needs to know about a cluster, from EKS DescribeCluster, and the
//! OpenID provider associated with it (ListIdentityProviderConfigs,
//! DescribeIdentityProviderConfig).

use aws_credential_types::Credentials;
use aws_sdk_eks::error::SdkError;
use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
use aws_sdk_eks::types::IdentityProviderConfig;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::credentials::{AwsConfig, CallError, CredentialsError, Source};
use crate::message::shell_quote;
use crate::network::failure::Code;

/// The identity provider type EKS calls OpenID Connect.
const OIDC: &str = "oidc";

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

/// The OpenID provider a cluster trusts (`aws eks associate-identity-provider-config
/// --oidc …`): what `eks-token oidc` needs, and how the cluster reads the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProvider {
    /// The configuration's name in EKS.
    pub name: String,
    pub issuer_url: String,
    pub client_id: String,
    /// The claim the cluster takes the user name from (EKS's default `sub`).
    pub username_claim: Option<String>,
    pub username_prefix: Option<String>,
    /// The claim the cluster takes the groups from (none: no groups).
    pub groups_claim: Option<String>,
    pub groups_prefix: Option<String>,
    /// `CREATING`, `ACTIVE`, `DELETING`: the cluster takes its tokens once `ACTIVE`.
    pub status: String,
}

/// Why DescribeCluster gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No cluster of that name in that region.
    #[error("cluster {name:?} not found in {region}")]
    NotFound { name: String, region: String },
    /// EKS refused the caller (`AccessDeniedException`) the call `action`.
    #[error("{call}")]
    Denied {
        action: &'static str,
        call: Box<CallError>,
    },
    /// The cluster has no OpenID provider associated with it.
    #[error("cluster {name:?} in {region} has no OIDC identity provider associated with it")]
    NoIdentityProvider { name: String, region: String },
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
            Self::Denied { action, .. } => Some(format!(
                "check that the identity (`eks-token whoami`) may call eks:{action}"
            )),
            Self::NoIdentityProvider { name, region } => Some(format!(
                "associate the provider with the cluster (it takes 20 to 40 minutes): `aws eks associate-identity-provider-config --cluster-name {} --region {region} --oidc identityProviderConfigName=NAME,issuerUrl=ISSUER_URL,clientId=CLIENT_ID,usernameClaim=email,groupsClaim=groups` (`eks-token oidc setup` prints it with your provider's values)",
                shell_quote(name)
            )),
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
            failed(aws, &source, "DescribeCluster", what, &e)
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

/// What an EKS call's failure means: read as every other call's (an SSO profile's expired
/// login gets the login hint, an endpoint that does not answer the network hint), an
/// `AccessDeniedException` naming the IAM `action` to allow.
fn failed<E>(
    aws: &AwsConfig,
    source: &Source,
    action: &'static str,
    what: String,
    e: &SdkError<E, HttpResponse>,
) -> ClusterError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let sso = match source {
        Source::Profile(p) => aws.sso_profile(p),
        _ => None,
    };
    match aws.call_error(what, Some(source.clone()), sso, e) {
        CredentialsError::Call(call) if call.failure.code() == Some(Code::AccessDenied) => {
            ClusterError::Denied { action, call }
        }
        other => other.into(),
    }
}

/// The OpenID provider associated with cluster `name`: ListIdentityProviderConfigs for
/// its `oidc` configuration (EKS allows one per cluster), then
/// DescribeIdentityProviderConfig, signed with `credentials` from `source` within the
/// command's deadline.
pub async fn identity_provider(
    aws: &AwsConfig,
    credentials: Credentials,
    source: Source,
    name: &str,
) -> Result<IdentityProvider, ClusterError> {
    let region = aws.region.as_str();
    let none = || ClusterError::NoIdentityProvider {
        name: name.to_owned(),
        region: region.to_owned(),
    };
    let network = aws.network();
    let sdk = aws.sdk_config(credentials).await;
    let client = aws_sdk_eks::Client::new(&sdk);

    let what = format!("EKS ListIdentityProviderConfigs of {name} in {region}");
    network.step(what.clone());
    let listed = network
        .within(
            client
                .list_identity_provider_configs()
                .cluster_name(name)
                .send(),
        )
        .await
        .map_err(CredentialsError::TimedOut)?
        .map_err(|e| failed(aws, &source, "ListIdentityProviderConfigs", what, &e))?;
    let config = listed
        .identity_provider_configs()
        .iter()
        .find(|c| c.r#type() == OIDC)
        .ok_or_else(none)?;

    let what = format!(
        "EKS DescribeIdentityProviderConfig {} of {name} in {region}",
        config.name()
    );
    network.step(what.clone());
    let config = IdentityProviderConfig::builder()
        .r#type(OIDC)
        .name(config.name())
        .build()
        .map_err(|e| aws.call_error(what.clone(), None, None, &e))?;
    let described = network
        .within(
            client
                .describe_identity_provider_config()
                .cluster_name(name)
                .identity_provider_config(config)
                .send(),
        )
        .await
        .map_err(CredentialsError::TimedOut)?
        .map_err(|e| {
            // Gone between the two calls: as if there were none.
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                return none();
            }
            failed(aws, &source, "DescribeIdentityProviderConfig", what, &e)
        })?;
    let oidc = described
        .identity_provider_config()
        .and_then(|c| c.oidc())
        .ok_or_else(none)?;
    let text = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
    match (text(oidc.issuer_url()), text(oidc.client_id())) {
        (Some(issuer_url), Some(client_id)) => Ok(IdentityProvider {
            name: text(oidc.identity_provider_config_name()).unwrap_or_default(),
            issuer_url,
            client_id,
            username_claim: text(oidc.username_claim()),
            username_prefix: text(oidc.username_prefix()),
            groups_claim: text(oidc.groups_claim()),
            groups_prefix: text(oidc.groups_prefix()),
            status: oidc
                .status()
                .map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
        }),
        _ => Err(none()),
    }
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

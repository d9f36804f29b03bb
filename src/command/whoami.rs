//! `eks-token whoami`: STS GetCallerIdentity, then the principal a cluster maps, in the
//! form the user is about to paste (aws-auth, eksctl, access entries).

use serde::Serialize;

use crate::cli::{WhoamiArgs, WhoamiFormat};
use crate::credentials::Caller;
use crate::error::Error;
use crate::identity::{Kind, Principal};
use crate::message::{self, shell_quote};
use crate::network::{self, Deadline};
use crate::token::ClusterId;

/// The group aws-auth entries get unless `--group` says otherwise.
const DEFAULT_GROUP: &str = "system:masters";

/// aws-iam-authenticator's username template for the role session name.
const SESSION_NAME_TEMPLATE: &str = "{{SessionName}}";

/// Runs whoami and returns what goes on stdout.
pub fn run(args: &WhoamiArgs) -> Result<String, Error> {
    let options = args.aws.options();
    let deadline = Deadline::start(options.limits);
    let cluster = args.cluster_id.as_deref().map(ClusterId::new).transpose()?;
    let (aws, caller) = network::block_on(async {
        let aws = super::aws_config(&args.aws, deadline).await?;
        // Cached for kubectl's runs: at a terminal, whoami is how a session is started.
        let dir = args.cache_location.cache_dir.as_deref();
        let resolved = super::credentials::for_command(&aws, &options, dir, deadline).await?;
        let caller = aws.caller_identity(&resolved).await?;
        Ok::<_, Error>((aws, caller))
    })
    .map_err(Error::Runtime)??;
    let principal = match Principal::from_arn(&caller.arn) {
        Ok(p) => p,
        Err(e) if matches!(args.output, WhoamiFormat::Text | WhoamiFormat::Json) => {
            message::warn(&format!("{e}: a cluster cannot map it"));
            return Ok(match args.output {
                WhoamiFormat::Json => json(&caller, None),
                _ => text(&caller, None),
            });
        }
        Err(e) => return Err(e.into()),
    };
    for note in principal.notes() {
        message::note(&note);
    }
    if matches!(
        args.output,
        WhoamiFormat::Eksctl | WhoamiFormat::AccessEntry
    ) {
        if cluster.is_none() {
            message::note("pass --cluster-id to fill in the cluster name");
        }
        aws.note_fallback_region("the commands name");
    }
    let mapping = Mapping {
        principal: &principal,
        groups: if args.groups.is_empty() {
            vec![DEFAULT_GROUP.to_owned()]
        } else {
            args.groups.clone()
        },
        username: args.username.clone(),
        cluster: cluster.as_ref().map(|c| c.as_str().to_owned()),
        region: aws.region.to_string(),
    };
    Ok(match args.output {
        WhoamiFormat::Text => text(&caller, Some(&principal)),
        WhoamiFormat::Json => json(&caller, Some(&principal)),
        WhoamiFormat::AwsAuth => mapping.aws_auth(),
        WhoamiFormat::Eksctl => mapping.eksctl(),
        WhoamiFormat::AccessEntry => mapping.access_entry(&args.policy)?,
    })
}

/// The plain report.
pub fn text(caller: &Caller, principal: Option<&Principal>) -> String {
    let mapped = principal.map_or_else(
        || "nothing (not an IAM identity)".to_owned(),
        Principal::to_string,
    );
    let mut out = format!(
        "account:       {}\ncaller:        {}\nuser id:       {}\nmaps as:       {mapped}\n",
        caller.account, caller.arn, caller.user_id
    );
    if let Some(session) = principal.and_then(|p| p.session_name.as_ref()) {
        out.push_str(&format!("session name:  {session}\n"));
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WhoamiJson<'a> {
    account: &'a str,
    arn: &'a str,
    user_id: &'a str,
    principal_arn: Option<&'a str>,
    principal_type: Option<&'a str>,
    principal_name: Option<&'a str>,
    session_name: Option<&'a str>,
    removed_path: Option<&'a str>,
    notes: Vec<String>,
}

fn json(caller: &Caller, principal: Option<&Principal>) -> String {
    let body = WhoamiJson {
        account: &caller.account,
        arn: &caller.arn,
        user_id: &caller.user_id,
        principal_arn: principal.map(|p| p.arn.as_str()),
        principal_type: principal.map(|p| p.kind.as_str()),
        principal_name: principal.map(|p| p.name.as_str()),
        session_name: principal.and_then(|p| p.session_name.as_deref()),
        removed_path: principal.and_then(|p| p.removed_path.as_deref()),
        notes: principal.map(Principal::notes).unwrap_or_default(),
    };
    // Plain strings and vectors always serialise.
    let mut out = serde_json::to_string_pretty(&body).unwrap_or_default();
    out.push('\n');
    out
}

/// A principal and how the cluster should see it.
struct Mapping<'a> {
    principal: &'a Principal,
    groups: Vec<String>,
    username: Option<String>,
    cluster: Option<String>,
    region: String,
}

/// The aws-auth ConfigMap's item format (EKS user guide, "aws-auth ConfigMap").
#[derive(Serialize)]
struct AwsAuthItem<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    rolearn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userarn: Option<&'a str>,
    username: &'a str,
    groups: &'a [String],
}

impl Mapping<'_> {
    fn is_role(&self) -> bool {
        self.principal.kind == Kind::Role
    }

    fn username(&self) -> String {
        self.username.clone().unwrap_or_else(|| {
            if self.is_role() {
                SESSION_NAME_TEMPLATE.to_owned()
            } else {
                self.principal.name.clone()
            }
        })
    }

    fn cluster(&self) -> String {
        self.cluster
            .as_deref()
            .map_or_else(|| "<cluster-name>".to_owned(), shell_quote)
    }

    fn aws_auth(&self) -> String {
        let arn = self.principal.arn.as_str();
        let username = self.username();
        let item = AwsAuthItem {
            rolearn: self.is_role().then_some(arn),
            userarn: (!self.is_role()).then_some(arn),
            username: &username,
            groups: &self.groups,
        };
        let key = if self.is_role() {
            "mapRoles"
        } else {
            "mapUsers"
        };
        // aws-iam-authenticator reads mapRoles with a YAML 1.1 parser (sigs.k8s.io/yaml), where
        // an unquoted `no` is a boolean: written as kubeconfigs are. Plain strings always
        // make a value.
        let item = yaml_serde::to_value(item).unwrap_or_default();
        let yaml = crate::kubeconfig::yaml_list(&[item]);
        format!(
            "# add to data.{key} of kube-system/configmap/aws-auth (kubectl edit -n kube-system configmap/aws-auth)\n{yaml}"
        )
    }

    fn eksctl(&self) -> String {
        let mut line = format!(
            "eksctl create iamidentitymapping --cluster {} --region {} --arn {} --username {}",
            self.cluster(),
            shell_quote(&self.region),
            shell_quote(&self.principal.arn),
            shell_quote(&self.username())
        );
        for group in &self.groups {
            line.push_str(&format!(" --group {}", shell_quote(group)));
        }
        line.push('\n');
        line
    }

    fn access_entry(&self, policy: &str) -> Result<String, Error> {
        if !matches!(self.principal.kind, Kind::User | Kind::Role) {
            return Err(Error::NoAccessEntry {
                arn: self.principal.arn.clone(),
                kind: self.principal.kind.as_str(),
            });
        }
        let policy_arn = if policy.starts_with("arn:") {
            policy.to_owned()
        } else {
            format!(
                "arn:{}:eks::aws:cluster-access-policy/{policy}",
                self.principal.partition
            )
        };
        let common = format!(
            "--cluster-name {} --region {} --principal-arn {}",
            self.cluster(),
            shell_quote(&self.region),
            shell_quote(&self.principal.arn)
        );
        Ok(format!(
            "aws eks create-access-entry {common}\naws eks associate-access-policy {common} --policy-arn {} --access-scope type=cluster\n",
            shell_quote(&policy_arn)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(principal: &Principal) -> Mapping<'_> {
        Mapping {
            principal,
            groups: vec!["system:masters".into()],
            username: None,
            cluster: Some("prod".into()),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn role_outputs() {
        let p = Principal::from_arn("arn:aws:sts::123456789012:assumed-role/admin/alice").unwrap();
        let m = mapping(&p);
        assert_eq!(
            m.eksctl(),
            "eksctl create iamidentitymapping --cluster prod --region eu-west-1 --arn arn:aws:iam::123456789012:role/admin --username '{{SessionName}}' --group system:masters\n"
        );
        let yaml = m.aws_auth();
        let items: Vec<yaml_serde::Value> = yaml_serde::from_str(&yaml).unwrap();
        assert_eq!(items[0]["rolearn"], "arn:aws:iam::123456789012:role/admin");
        assert_eq!(items[0]["username"], "{{SessionName}}");
        assert!(yaml.starts_with("# add to data.mapRoles "));
        let entry = m.access_entry("AmazonEKSViewPolicy").unwrap();
        assert!(
            entry.contains(
                "--policy-arn arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
            )
        );
    }

    #[test]
    fn aws_auth_items_quote_what_yaml_1_1_reads_as_another_type() {
        let p = Principal::from_arn("arn:aws:iam::123456789012:user/bob").unwrap();
        let mut m = mapping(&p);
        m.username = Some("no".into());
        m.groups = vec!["on".into(), "1_000".into()];
        assert_eq!(
            m.aws_auth().lines().skip(1).collect::<Vec<_>>(),
            [
                "- userarn: arn:aws:iam::123456789012:user/bob",
                "  username: 'no'",
                "  groups:",
                "  - 'on'",
                "  - '1_000'",
            ]
        );
    }

    #[test]
    fn federated_users_get_no_access_entry() {
        let p = Principal::from_arn("arn:aws:sts::123456789012:federated-user/bob").unwrap();
        assert!(
            mapping(&p)
                .access_entry("AmazonEKSClusterAdminPolicy")
                .is_err()
        );
        let yaml = mapping(&p).aws_auth();
        assert!(yaml.contains("userarn: arn:aws:sts::123456789012:federated-user/bob"));
    }
}

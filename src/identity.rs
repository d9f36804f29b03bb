//! Which IAM principal a cluster sees for a caller ARN: the ARN to put in `aws-auth` or an
//! access entry (aws-iam-authenticator `pkg/arn`, `Canonicalize`).

use std::fmt;

/// Role names IAM Identity Center creates for a permission set; IAM lists them under
/// `/aws-reserved/sso.amazonaws.com/[<region>/]`.
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

/// What kind of principal an ARN names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `iam::ACCT:user/[path/]NAME`: mapped by its full ARN (`mapUsers`).
    User,
    /// `iam::ACCT:role/[path/]NAME` or an STS assumed-role session (`mapRoles`).
    Role,
    /// `sts::ACCT:federated-user/NAME` (GetFederationToken).
    FederatedUser,
    /// `iam::ACCT:root`: the account's root user.
    Root,
}

impl Kind {
    /// Lower-case name used in text and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Role => "role",
            Self::FederatedUser => "federated-user",
            Self::Root => "root",
        }
    }
}

/// A caller ARN and the principal a cluster maps it through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub partition: String,
    pub account: String,
    pub kind: Kind,
    /// User, role or federated user name (no path); `root` for the root user.
    pub name: String,
    /// The ARN aws-auth and access entries compare against.
    pub arn: String,
    /// The STS role session name, for assumed roles.
    pub session_name: Option<String>,
    /// A role path that was dropped from the ARN (`aws-reserved/sso.amazonaws.com/eu-west-1/`).
    pub removed_path: Option<String>,
}

/// An ARN that does not name an IAM identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{arn:?} is not an IAM user, role, assumed-role or federated-user ARN")]
pub struct UnmappableArn {
    pub arn: String,
}

impl Principal {
    /// Maps a caller (or IAM) ARN to the principal a cluster sees. Assumed-role sessions
    /// map to their role; role paths are removed because aws-auth compares roles by
    /// `role/NAME` only. User ARNs keep their path: it is part of what is compared.
    pub fn from_arn(arn: &str) -> Result<Self, UnmappableArn> {
        let bad = || UnmappableArn {
            arn: arn.chars().filter(|c| !c.is_control()).take(200).collect(),
        };
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(bad());
        };
        if !partition.starts_with("aws")
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let segments: Vec<&str> = resource.split('/').collect();
        if segments.iter().skip(1).any(|s| s.is_empty()) {
            return Err(bad());
        }
        let iam = |kind_word: &str, name: &str| {
            format!("arn:{partition}:iam::{account}:{kind_word}/{name}")
        };
        let principal = |kind,
                         name: &str,
                         arn: String,
                         session_name: Option<&str>,
                         removed_path: Option<String>| Self {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind,
            name: name.to_owned(),
            arn,
            session_name: session_name.map(str::to_owned),
            removed_path,
        };
        match (service, segments.as_slice()) {
            ("iam", ["root"]) => Ok(principal(Kind::Root, "root", arn.to_owned(), None, None)),
            ("iam", ["user", .., name]) if segments.len() >= 2 => {
                Ok(principal(Kind::User, name, arn.to_owned(), None, None))
            }
            ("iam", ["role", path @ .., name]) => Ok(principal(
                Kind::Role,
                name,
                iam("role", name),
                None,
                joined_path(path),
            )),
            // STS never puts the role's path in an assumed-role ARN; anything between the
            // role name and the session is treated as a path all the same.
            ("sts", ["assumed-role", path @ .., name, session]) => Ok(principal(
                Kind::Role,
                name,
                iam("role", name),
                Some(session),
                joined_path(path),
            )),
            ("sts", ["federated-user", name]) => Ok(principal(
                Kind::FederatedUser,
                name,
                arn.to_owned(),
                None,
                None,
            )),
            _ => Err(bad()),
        }
    }

    /// Whether this is an IAM Identity Center (SSO) permission-set role.
    pub fn is_sso_role(&self) -> bool {
        self.kind == Kind::Role && self.name.starts_with(SSO_ROLE_PREFIX)
    }

    /// Notes for the user about how this principal must be written.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(path) = &self.removed_path {
            notes.push(format!(
                "the role path /{path} was removed: aws-auth and access entries match roles as {}",
                self.arn
            ));
        }
        if self.is_sso_role() && self.removed_path.is_none() {
            notes.push(format!(
                "this is an IAM Identity Center role: IAM shows its ARN as arn:{}:iam::{}:role/aws-reserved/sso.amazonaws.com/…/{}, but aws-auth and access entries must use {} (no path)",
                self.partition, self.account, self.name, self.arn
            ));
        }
        match self.kind {
            Kind::Root => notes.push(
                "these are the account's root user credentials; map an IAM user or role instead"
                    .into(),
            ),
            Kind::FederatedUser => notes.push(
                "federated users cannot have access entries; aws-auth can map them as a user"
                    .into(),
            ),
            Kind::User | Kind::Role => {}
        }
        notes
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.arn, self.kind.as_str())
    }
}

fn joined_path(path: &[&str]) -> Option<String> {
    (!path.is_empty()).then(|| format!("{}/", path.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(arn: &str) -> Principal {
        Principal::from_arn(arn).unwrap()
    }

    #[test]
    fn users_keep_their_arn_and_path() {
        let p = map("arn:aws:iam::123456789012:user/alice");
        assert_eq!(
            (p.kind, p.name.as_str(), p.arn.as_str()),
            (Kind::User, "alice", "arn:aws:iam::123456789012:user/alice")
        );
        let p = map("arn:aws:iam::123456789012:user/people/eng/bob");
        assert_eq!(p.name, "bob");
        assert_eq!(p.arn, "arn:aws:iam::123456789012:user/people/eng/bob");
        assert_eq!(p.removed_path, None);
        assert!(p.notes().is_empty());
    }

    #[test]
    fn assumed_roles_map_to_the_role() {
        let p = map("arn:aws:sts::123456789012:assumed-role/eks-admin/EKSGetTokenAuth");
        assert_eq!(p.kind, Kind::Role);
        assert_eq!(p.arn, "arn:aws:iam::123456789012:role/eks-admin");
        assert_eq!(p.session_name.as_deref(), Some("EKSGetTokenAuth"));
        assert_eq!(p.account, "123456789012");
        assert!(p.notes().is_empty());
    }

    #[test]
    fn sso_roles_are_noted_and_paths_removed() {
        let p = map(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
        );
        assert!(p.is_sso_role());
        assert_eq!(
            p.arn,
            "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123456789abcdef"
        );
        assert_eq!(p.session_name.as_deref(), Some("alice@example.com"));
        let notes = p.notes();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains(
            "role/aws-reserved/sso.amazonaws.com/…/AWSReservedSSO_Admin_0123456789abcdef"
        ));

        // The ARN the IAM console shows, path and all.
        let p = map(
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef",
        );
        assert_eq!(
            p.arn,
            "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123456789abcdef"
        );
        assert_eq!(
            p.removed_path.as_deref(),
            Some("aws-reserved/sso.amazonaws.com/eu-west-1/")
        );
        assert_eq!(p.session_name, None);
        let notes = p.notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(
                "the role path /aws-reserved/sso.amazonaws.com/eu-west-1/ was removed"
            )
        );
    }

    #[test]
    fn role_arns_lose_any_path() {
        let p = map("arn:aws:iam::123456789012:role/team/dev/deployer");
        assert_eq!(p.arn, "arn:aws:iam::123456789012:role/deployer");
        assert_eq!(p.removed_path.as_deref(), Some("team/dev/"));
        let p = map("arn:aws:iam::123456789012:role/deployer");
        assert_eq!(p.removed_path, None);
    }

    #[test]
    fn federated_users_and_root() {
        let p = map("arn:aws:sts::123456789012:federated-user/carol");
        assert_eq!(p.kind, Kind::FederatedUser);
        assert_eq!(p.arn, "arn:aws:sts::123456789012:federated-user/carol");
        assert_eq!(p.name, "carol");
        assert_eq!(p.notes().len(), 1);
        let p = map("arn:aws:iam::123456789012:root");
        assert_eq!(p.kind, Kind::Root);
        assert_eq!(p.arn, "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn other_partitions_keep_their_partition() {
        let p = map("arn:aws-cn:sts::123456789012:assumed-role/ops/s1");
        assert_eq!(p.arn, "arn:aws-cn:iam::123456789012:role/ops");
        assert_eq!(p.partition, "aws-cn");
        let p = map("arn:aws-us-gov:sts::123456789012:assumed-role/ops/s1");
        assert_eq!(p.arn, "arn:aws-us-gov:iam::123456789012:role/ops");
        let p = map("arn:aws-us-gov:iam::123456789012:user/x/y");
        assert_eq!(p.arn, "arn:aws-us-gov:iam::123456789012:user/x/y");
    }

    #[test]
    fn non_identities_are_rejected() {
        for bad in [
            "",
            "arn",
            "arn:aws:s3:::bucket/key",
            "arn:aws:sts::123456789012:assumed-role/only-role",
            "arn:aws:sts::123456789012:assumed-role//s",
            "arn:aws:iam::12345:user/a",
            "arn:aws:iam:us-east-1:123456789012:user/a",
            "arn:aws:iam::123456789012:group/admins",
            "arn:aws:iam::123456789012:user/",
            "arn:other:iam::123456789012:user/a",
            "arn:aws:ec2::123456789012:instance/i-1",
        ] {
            assert!(Principal::from_arn(bad).is_err(), "{bad:?} accepted");
        }
    }
}

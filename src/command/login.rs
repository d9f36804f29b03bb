//! `eks-token login`: an IAM Identity Center login as `aws sso login` does it, written
//! where the AWS CLI and the SDKs read it.

use std::time::Duration;

use chrono::Utc;

use crate::cli::LoginArgs;
use crate::credentials::{AwsConfig, Options};
use crate::error::Error;
use crate::login::{self, How, LoginError};
use crate::network::{self, Deadline, Limits};

pub fn run(args: &LoginArgs) -> Result<String, Error> {
    network::block_on(async {
        let aws = sso_config(args.profile.clone(), args.timeout).await?;
        let target = match &args.sso_session {
            Some(session) => aws.sso_session_target(session)?,
            None => {
                let sso = aws
                    .sso_profile(&aws.profile)
                    .ok_or_else(|| LoginError::NotSso(aws.profile.clone()))?;
                aws.sso_target(&sso)?
            }
        };
        let how = How {
            device_code: args.use_device_code,
            open_browser: !args.no_browser,
            timeout: args.login_timeout,
        };
        let logged_in = login::log_in(&aws, &target, how).await?;
        Ok(format!("{}\n", logged_in.summary(Utc::now())))
    })
    .map_err(Error::Runtime)?
}

/// The AWS configuration for `login` and `logout`, which talk to IAM Identity Center in
/// each login's `sso_region`: the run's own region is never used, so it is not looked
/// for (no instance metadata lookup).
pub async fn sso_config(profile: Option<String>, timeout: Duration) -> Result<AwsConfig, Error> {
    let limits = Limits::new(timeout);
    let options = Options {
        profile,
        region: Some("us-east-1".into()),
        role: None,
        limits,
        ..Options::default()
    };
    Ok(AwsConfig::load(&options, Deadline::start(limits)).await?)
}

//! `eks-token logout`: like `aws sso logout`, every cached IAM Identity Center login is
//! logged out at the portal and removed; then the tokens and role credentials eks-token
//! cached with them.

use std::path::PathBuf;

use chrono::Utc;

use super::login::sso_config;
use crate::aws_files::home_dir;
use crate::cache::{self, Cache, Cleared};
use crate::cli::LogoutArgs;
use crate::credentials::sso;
use crate::error::Error;
use crate::login::{self, LoginError};
use crate::message;
use crate::network;

pub fn run(args: &LogoutArgs) -> Result<String, Error> {
    let home = home_dir().ok_or(LoginError::NoHome)?;
    let logins = sso::cached_logins(&home);
    if logins.is_empty() {
        return Ok("No IAM Identity Center logins are cached.\n".into());
    }
    let mut out = String::new();
    let aws = network::block_on(async {
        let aws = sso_config(None, args.timeout).await?;
        for (path, login) in &logins {
            let start_url = login.start_url.as_deref().unwrap_or_default();
            // An expired token has nothing left to revoke.
            if login.expires().is_some_and(|t| t > Utc::now()) {
                let region = login.region.as_deref().unwrap_or_default();
                if let Err(e) = login::logout(&aws, region, &login.access_token).await {
                    message::warn(&format!("{e}; removing the cached login anyway"));
                }
            }
            sso::remove(path).map_err(|source| LoginError::Write {
                path: path.clone(),
                source,
            })?;
            out.push_str(&format!("Logged out of {start_url}.\n"));
        }
        Ok::<_, Error>(aws)
    })
    .map_err(Error::Runtime)??;
    let paths: Vec<PathBuf> = logins.into_iter().map(|(path, _)| path).collect();
    let profiles = aws.profiles_with_login_at(&home, &paths);
    let dir = cache::default_dir(args.cache_location.cache_dir.as_deref());
    let cleared = match dir.as_deref().map(Cache::existing).transpose()?.flatten() {
        Some(cache) if !profiles.is_empty() => cache.clear_profiles(&profiles)?,
        _ => Cleared::default(),
    };
    // Role credentials the logins' profiles gave go too: they came from the login.
    out.push_str(&format!("Removed {cleared}.\n"));
    Ok(out)
}

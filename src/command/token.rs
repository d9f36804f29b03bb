//! `eks-token token`: credentials → presigned URL → ExecCredential on stdout.

use std::ffi::OsStr;

use chrono::Utc;

use crate::cli::TokenArgs;
use crate::credentials::{self, RegionOrigin, Setup};
use crate::error::{self, Error};
use crate::exec_credential::{ExecCredential, ExecRequest};
use crate::log;
use crate::sts_endpoint::StsEndpoint;
use crate::token::{self, ClusterId};

/// Mints a token and returns what goes on stdout.
pub fn run(args: &TokenArgs, exec_info: Option<&OsStr>) -> Result<String, Error> {
    let cluster = ClusterId::new(&args.cluster_id)?;
    let request = ExecRequest::from_env_value(exec_info);
    if let Some(warning) = &request.warning {
        error::warn(warning);
    }
    let options = args.aws.options();
    log::debug(format_args!(
        "eks-token {}: token for cluster {cluster}, exec apiVersion {}, timeout {} (connect {})",
        env!("CARGO_PKG_VERSION"),
        request.api_version.as_str(),
        credentials::seconds(options.limits.total),
        credentials::seconds(options.limits.connect),
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let resolution = runtime.block_on(async {
        let setup = Setup::load(&options).await?;
        let resolved = setup.resolve(options.role.as_ref()).await?;
        Ok::<_, Error>((setup, resolved))
    });
    // Dropping a runtime waits for its blocking threads (a DNS lookup that hangs, say);
    // past the deadline nothing of theirs is wanted.
    runtime.shutdown_background();
    let (setup, resolved) = resolution?;
    if setup.region_origin == RegionOrigin::Fallback {
        error::note(&format!(
            "no region configured; signing for {} (set --region or AWS_REGION)",
            setup.region
        ));
    }
    let endpoint = StsEndpoint::regional(&setup.region, setup.variant)?;
    let token = token::mint(&resolved.credentials, &endpoint, &cluster, Utc::now())?;
    log::debug(format_args!(
        "token: signed for cluster {cluster} with STS host {}, expires {}",
        endpoint.host,
        token.expires_at.format("%Y-%m-%dT%H:%M:%SZ")
    ));
    Ok(if args.token_only {
        format!("{}\n", token.expose())
    } else {
        ExecCredential::new(&request, token.expose(), token.expires_at).to_line()
    })
}

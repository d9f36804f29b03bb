//! `eks-token cache list|clear`: what the token cache holds, never the tokens themselves.

use chrono::{DateTime, Utc};

use crate::cache::{self, Cache, Listed};
use crate::cli::{CacheCommand, CacheLocation, ListFormat};
use crate::error::Error;
use crate::message;

/// Runs a cache subcommand and returns what goes on stdout.
pub fn run(command: &CacheCommand, now: DateTime<Utc>) -> Result<String, Error> {
    match command {
        CacheCommand::List { location, output } => {
            let listed = match open(location)? {
                Some(cache) => cache.list()?,
                None => Vec::new(),
            };
            Ok(match output {
                ListFormat::Text => table(&listed, now),
                ListFormat::Json => json(&listed, now),
            })
        }
        CacheCommand::Clear {
            location,
            cluster_id,
        } => {
            let removed = match open(location)? {
                Some(cache) => cache.clear(cluster_id.as_deref())?,
                None => 0,
            };
            let plural = if removed == 1 { "" } else { "s" };
            Ok(format!("removed {removed} cached token{plural}\n"))
        }
    }
}

fn open(location: &CacheLocation) -> Result<Option<Cache>, Error> {
    let dir = cache::default_dir(location.cache_dir.as_deref()).ok_or(Error::NoHome)?;
    Ok(Cache::existing(&dir)?)
}

fn table(listed: &[Listed], now: DateTime<Utc>) -> String {
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|l| {
            let d = &l.description;
            [
                d.cluster.clone(),
                d.region.clone(),
                d.profile.clone().unwrap_or_else(|| "-".into()),
                d.role.clone().unwrap_or_else(|| "-".into()),
                message::time_left(l.expires_at - now),
            ]
        })
        .collect();
    let header = ["CLUSTER", "REGION", "PROFILE", "ROLE", "EXPIRES-IN"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn json(listed: &[Listed], now: DateTime<Utc>) -> String {
    let items: Vec<serde_json::Value> = listed
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(l).expect("entry serialises");
            v["expires_in_seconds"] = (l.expires_at - now).num_seconds().max(0).into();
            v
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).expect("list serialises");
    out.push('\n');
    out
}

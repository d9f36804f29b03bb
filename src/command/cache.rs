//! `eks-token cache list|clear`: what the token cache holds, never the tokens themselves.

use chrono::{DateTime, Utc};

use crate::cache::{self, Cache, Cleared, Listed, ListedCredentials};
use crate::cli::{CacheCommand, CacheLocation, ListFormat};
use crate::error::Error;
use crate::message;

/// Runs a cache subcommand and returns what goes on stdout.
pub fn run(command: &CacheCommand, now: DateTime<Utc>) -> Result<String, Error> {
    match command {
        CacheCommand::List { location, output } => {
            let (listed, credentials) = match open(location)? {
                Some(cache) => (cache.list()?, cache.list_credentials()?),
                None => (Vec::new(), Vec::new()),
            };
            Ok(match output {
                ListFormat::Text => table(&listed, now) + &credentials_table(&credentials, now),
                ListFormat::Json => json(&listed, &credentials, now),
            })
        }
        CacheCommand::Clear {
            location,
            cluster_id,
        } => {
            let cleared = match open(location)? {
                Some(cache) => cache.clear(cluster_id.as_deref())?,
                None => Cleared::default(),
            };
            Ok(format!("removed {cleared}\n"))
        }
    }
}

fn open(location: &CacheLocation) -> Result<Option<Cache>, Error> {
    let dir = cache::default_dir(location.cache_dir.as_deref()).ok_or(Error::NoHome)?;
    Ok(Cache::existing(&dir)?)
}

fn table(listed: &[Listed], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            let d = &l.description;
            vec![
                d.cluster.clone(),
                d.region.clone(),
                d.profile.clone().unwrap_or_else(|| "-".into()),
                d.role.clone().unwrap_or_else(|| "-".into()),
                message::time_left(l.expires_at - now),
            ]
        })
        .collect();
    columns(
        &["CLUSTER", "REGION", "PROFILE", "ROLE", "EXPIRES-IN"],
        &rows,
    )
}

/// The credential entries after a blank line, when there are any: source, role, expiry.
fn credentials_table(listed: &[ListedCredentials], now: DateTime<Utc>) -> String {
    if listed.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                l.description.source.clone(),
                l.description.role.clone().unwrap_or_else(|| "-".into()),
                message::time_left(l.expires_at - now),
            ]
        })
        .collect();
    format!(
        "\n{}",
        columns(&["CREDENTIALS", "ROLE", "EXPIRES-IN"], &rows)
    )
}

fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The token entries, then the credential entries (`"kind": "credentials"`).
fn json(listed: &[Listed], credentials: &[ListedCredentials], now: DateTime<Utc>) -> String {
    let mut items: Vec<serde_json::Value> = listed
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(l).expect("entry serialises");
            v["expires_in_seconds"] = (l.expires_at - now).num_seconds().max(0).into();
            v
        })
        .collect();
    items.extend(credentials.iter().map(|l| {
        let mut v = serde_json::to_value(l).expect("entry serialises");
        v["kind"] = "credentials".into();
        v["expires_in_seconds"] = (l.expires_at - now).num_seconds().max(0).into();
        v
    }));
    let mut out = serde_json::to_string_pretty(&items).expect("list serialises");
    out.push('\n');
    out
}

//! A cache entry: its file format, what makes a file one, and whether it answers a
//! request.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::key::CacheKey;
use crate::sts_endpoint::{Region, StsEndpoint, Variant};
use crate::token::{self, Token};

/// Bumped when the entry format changes; other formats are ignored and replaced. Every
/// format keeps `format` and `key` ([`Envelope`]): they prove a file is an entry.
pub const FORMAT: u32 = 1;

/// A cached token is served while at least this much of its lifetime remains, so
/// kubectl never starts a request with a token about to lapse.
pub const MIN_REMAINING: TimeDelta = TimeDelta::minutes(5);

/// Entries are a few kilobytes (the token is at most 4096 bytes); anything bigger is not one.
pub const MAX_ENTRY_BYTES: u64 = 16 * 1024;

/// What `cache list` shows of an entry: never the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    pub cluster: String,
    pub region: String,
    pub sts_host: String,
    pub profile: Option<String>,
    pub role: Option<String>,
}

/// One cache file.
#[derive(Serialize, Deserialize)]
pub struct Entry {
    format: u32,
    key: String,
    #[serde(flatten)]
    pub description: Description,
    pub expires_at: DateTime<Utc>,
    pub token: String,
}

/// The fields every entry format has: what proves a `<key>.json` file is an entry.
#[derive(Deserialize)]
struct Envelope {
    format: u32,
    key: String,
}

/// Whether `text` is a key: 64 lower-case hex digits, a SHA-256.
pub fn is_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Entry {
    /// The entry for `token`, stored under `key`.
    pub fn new(key: &CacheKey, token: &Token, description: &Description) -> Self {
        Self {
            format: FORMAT,
            key: key.as_str().to_owned(),
            description: description.clone(),
            expires_at: token.expires_at,
            token: token.expose().to_owned(),
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("entry serialises")
    }

    /// A valid entry of the current format, or `None`.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() as u64 > MAX_ENTRY_BYTES {
            return None;
        }
        let entry: Self = serde_json::from_slice(bytes).ok()?;
        let valid = entry.format == FORMAT
            && entry.token.starts_with(token::PREFIX)
            && entry.token.len() <= token::MAX_LEN
            && entry.token.bytes().all(|b| b.is_ascii_graphic());
        valid.then_some(entry)
    }

    /// Whether the token has at least [`MIN_REMAINING`] left at `now`: an entry that
    /// [`Entry::answers`] the request is then served.
    pub fn serves_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now >= MIN_REMAINING
    }

    /// Where the entry's token was signed, when the entry was stored for `key` and answers
    /// its request, whatever time it has left. The key covers every input that picked the
    /// region and STS host, so a new token for the request is signed there too.
    pub fn answers(&self, key: &CacheKey) -> Option<StsEndpoint> {
        if self.key != key.as_str() {
            return None;
        }
        key.request.answered_by(self)
    }
}

/// Whether `bytes` are an entry of any format: an [`Envelope`] naming a key.
pub fn is_entry(bytes: &[u8]) -> bool {
    bytes.len() as u64 <= MAX_ENTRY_BYTES
        && serde_json::from_slice::<Envelope>(bytes).is_ok_and(|e| e.format > 0 && is_key(&e.key))
}

/// What an entry must say to answer a request. The file name is the hash of every input,
/// but a file can be copied or edited, so a hit also checks what the request names without
/// reading the AWS config files (the hit path never parses them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub cluster: String,
    /// `--region`, `AWS_REGION` or `AWS_DEFAULT_REGION`; `None` when the region is the
    /// profile's or the instance's, which only the slow path learns.
    pub region: Option<String>,
    /// `AWS_USE_FIPS_ENDPOINT` / `AWS_USE_DUALSTACK_ENDPOINT`; `None` when unset, as the
    /// profile may then set them.
    pub fips: Option<bool>,
    pub dual_stack: Option<bool>,
}

impl Request {
    /// The endpoint `entry` was signed for, when it answers this request: its cluster; its
    /// region when the request names one; an STS host that [`StsEndpoint::regional`] gives
    /// for its region under a variant the environment allows; and a token presigned for
    /// that host and region.
    fn answered_by(&self, entry: &Entry) -> Option<StsEndpoint> {
        let d = &entry.description;
        let region = Region::new(&d.region).ok()?;
        let allows = |want: Option<bool>, v: bool| want.is_none_or(|w| w == v);
        let endpoint = [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .filter(|&(fips, dual)| allows(self.fips, fips) && allows(self.dual_stack, dual))
            .filter_map(|(fips, dual_stack)| {
                StsEndpoint::regional(&region, Variant { fips, dual_stack }).ok()
            })
            .find(|endpoint| endpoint.host == d.sts_host)?;
        let answers = d.cluster == self.cluster
            && self.region.as_ref().is_none_or(|r| *r == d.region)
            && token::signed_for(&entry.token)
                .is_some_and(|(host, region)| host == d.sts_host && region == d.region);
        answers.then_some(endpoint)
    }
}

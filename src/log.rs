//! `--verbose` / `EKS_TOKEN_LOG=debug`: `eks-token: debug: …` lines on stderr saying what
//! a run decided and how long each step took. Callers pass only names, hosts, paths and
//! timings, never a credential or token.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::message::escape_controls;

static ENABLED: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// The environment variable that turns debug lines on without changing the kubeconfig args.
pub const ENV: &str = "EKS_TOKEN_LOG";

/// What `EKS_TOKEN_LOG` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Debug,
}

impl Level {
    /// `debug` / `trace` turn debug lines on; unset, empty, `off`, `error`, `warn`, `info`
    /// leave them off; anything else is `None` (the caller warns).
    pub fn from_env_value(value: Option<&str>) -> Option<Self> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Some(Self::Off);
        };
        match v.to_ascii_lowercase().as_str() {
            "debug" | "trace" => Some(Self::Debug),
            "off" | "error" | "warn" | "info" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Turns debug lines on or off for the rest of the process.
pub fn init(enabled: bool) {
    START.get_or_init(Instant::now);
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether debug lines are on (doctor starts its child run with the same setting).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Writes `eks-token: debug: [+N ms] …` when enabled: no secret this run knows, and every
/// control character escaped (a value such as `AWS_PROFILE` may hold a line break or a
/// terminal escape sequence, and shows as it is).
pub fn debug(message: fmt::Arguments<'_>) {
    if !enabled() {
        return;
    }
    let ms = START.get_or_init(Instant::now).elapsed().as_millis();
    let line = message.to_string();
    let line = escape_controls(&crate::secrets::redact(&line));
    let _ = writeln!(std::io::stderr(), "eks-token: debug: [+{ms} ms] {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_levels() {
        assert_eq!(Level::from_env_value(None), Some(Level::Off));
        assert_eq!(Level::from_env_value(Some("")), Some(Level::Off));
        assert_eq!(Level::from_env_value(Some("DEBUG")), Some(Level::Debug));
        assert_eq!(Level::from_env_value(Some("trace")), Some(Level::Debug));
        assert_eq!(Level::from_env_value(Some("info")), Some(Level::Off));
        assert_eq!(Level::from_env_value(Some("loud")), None);
    }
}

//! How eks-token words things for a person: text on one line and bounded, lists cut short,
//! durations and timestamps, shell words, an error with its sources, and the stderr
//! writers (`warning:`, `note:`, `error:` + `hint:`), which never show a known secret.

use std::error::Error as StdError;
use std::io::{self, Write};
use std::time::Duration;

use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::secrets;

/// Writes `eks-token: error: …` and `hint: …` to stderr.
pub fn error(message: &str, hint: Option<&str>) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "eks-token: error: {}", for_stderr(message));
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "hint: {}", for_stderr(hint));
    }
}

/// Writes `eks-token: warning: …` to stderr.
pub fn warn(message: &str) {
    let _ = writeln!(io::stderr(), "eks-token: warning: {}", for_stderr(message));
}

/// Writes `eks-token: note: …` to stderr.
pub fn note(message: &str) {
    let _ = writeln!(io::stderr(), "eks-token: note: {}", for_stderr(message));
}

/// Writes `eks-token: …` to stderr: what a login asks of the person, and its outcome.
pub fn say(message: &str) {
    let _ = writeln!(io::stderr(), "eks-token: {}", for_stderr(message));
}

/// Writes `eks-token: …` and, on its own line to copy, `url`.
pub fn prompt(message: &str, url: &str) {
    let _ = writeln!(
        io::stderr(),
        "eks-token: {}\n  {}",
        for_stderr(message),
        for_stderr(url)
    );
}

/// A message as the writers print it: no secret this run knows, one line.
fn for_stderr(message: &str) -> String {
    single_line(&secrets::redact(message))
}

// Written in `secrets`, which must store the exact one-line form of each secret it
// redacts and sits below this module.
pub use crate::secrets::{escape_controls, single_line};

/// Upper bound on the text taken from an outside error.
const MAX_DETAIL: usize = 400;

/// At most [`MAX_DETAIL`] bytes, cut on a character boundary.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_DETAIL {
        return text.to_owned();
    }
    let cut = (0..=MAX_DETAIL)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &text[..cut])
}

/// Text from outside (a service's error message) as it may be shown: without known
/// secrets, one line, bounded.
pub fn shown(text: &str) -> String {
    bounded(&single_line(&secrets::redact(text)))
}

/// `err` and its sources.
pub fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e| (*e).source())
}

/// One line, bounded, from an error and its sources' `Display`, without known secrets.
/// Never `Debug`, which for SDK errors can include a raw response; the SDK's own error
/// metadata, whose `Display` is `Debug`-shaped (`Error { code: …, message: … }`), is
/// written as `code: message`.
pub fn one_line(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(err) {
        let text = match e.downcast_ref::<ErrorMetadata>() {
            Some(meta) => [meta.code(), meta.message()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            None => e.to_string(),
        };
        let text = shown(&text);
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    bounded(&parts.join(": "))
}

/// Names for a message, which stays one short line however many there are: the first
/// five and a count of the rest.
pub fn a_few(names: &[String]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    let rest = (names.len() - SHOWN).to_string();
    // 9995 → 9,995
    let mut count = String::new();
    for (i, digit) in rest.chars().enumerate() {
        if i > 0 && (rest.len() - i).is_multiple_of(3) {
            count.push(',');
        }
        count.push(digit);
    }
    format!("{} … and {count} more", names[..SHOWN].join(", "))
}

/// `2s`, `1.5s`.
pub fn seconds(d: Duration) -> String {
    format!("{}s", (d.as_millis() as f64 / 1000.0))
}

/// A size limit as people write it: `64 KiB`, `1 MiB`, else in bytes.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match bytes {
        MIB.. if bytes.is_multiple_of(MIB) => format!("{} MiB", bytes / MIB),
        KIB.. if bytes.is_multiple_of(KIB) => format!("{} KiB", bytes / KIB),
        _ => format!("{bytes} bytes"),
    }
}

/// Time left before an expiry, in whole minutes: `4m`, `1h 2m`, or `expired`.
pub fn time_left(d: chrono::TimeDelta) -> String {
    let minutes = d.num_minutes();
    match d.num_seconds() {
        ..=0 => "expired".into(),
        _ if minutes >= 60 => format!("{}h {}m", minutes / 60, minutes % 60),
        _ => format!("{minutes}m"),
    }
}

/// A time as reports and messages show it: `2026-01-02 15:04:05Z`.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A time as the wire formats and debug lines write it: RFC 3339 in whole seconds, `Z`
/// (`2026-01-02T15:04:05Z`), as client-go parses `expirationTimestamp`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A POSIX-shell word for `value`: as it is when it is plain, else single-quoted.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_lines_escape_control_characters() {
        assert_eq!(single_line(" a\n\tb  c "), "a b c");
        assert_eq!(single_line("red\u{1b}[31m\u{7}"), r"red\u{1b}[31m\u{7}");
        assert_eq!(escape_controls("a\nb é"), r"a\nb é");
    }

    #[test]
    fn a_secret_put_on_one_line_is_still_redacted() {
        // `secrets` keeps the one-line form of each secret; it must be this one.
        secrets::remember("unit\"Message\n\tSecret\u{1b}");
        let text = single_line("before unit\"Message\n\tSecret\u{1b} after");
        assert_eq!(secrets::redact(&text), "before [redacted] after");
    }

    #[test]
    fn bounded_cuts_on_a_character_boundary() {
        let text = "é".repeat(300);
        let cut = bounded(&text);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= MAX_DETAIL + '…'.len_utf8());
    }

    #[test]
    fn sdk_error_metadata_is_shown_without_debug_and_without_secrets() {
        secrets::remember("sdkErrorUnitSecret");
        let meta = ErrorMetadata::builder()
            .code("EchoedRequest")
            .message("x-amz-security-token: sdkErrorUnitSecret\nhost: h")
            .build();
        assert_eq!(
            one_line(&meta),
            "EchoedRequest: x-amz-security-token: [redacted] host: h"
        );
    }

    #[test]
    fn lists_show_a_few_names_and_count_the_rest() {
        let names = |n: usize| (0..n).map(|i| format!("p{i}")).collect::<Vec<_>>();
        assert_eq!(a_few(&[]), "");
        assert_eq!(a_few(&names(5)), "p0, p1, p2, p3, p4");
        assert_eq!(a_few(&names(6)), "p0, p1, p2, p3, p4 … and 1 more");
        assert_eq!(a_few(&names(1_005)), "p0, p1, p2, p3, p4 … and 1,000 more");
        assert_eq!(
            a_few(&names(1_234_572)),
            "p0, p1, p2, p3, p4 … and 1,234,567 more"
        );
    }

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(seconds(Duration::from_secs(2)), "2s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(16 * 1024 * 1024), "16 MiB");
        assert_eq!(size(1536), "1536 bytes");
    }

    #[test]
    fn time_left_in_minutes() {
        let secs = chrono::TimeDelta::seconds;
        assert_eq!(time_left(secs(250)), "4m");
        assert_eq!(time_left(secs(3725)), "1h 2m");
        assert_eq!(time_left(secs(0)), "expired");
        assert_eq!(time_left(secs(-5)), "expired");
    }

    #[test]
    fn timestamps() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T15:04:05.9+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(stamp(t), "2026-01-02 15:04:05Z");
        assert_eq!(rfc3339(t), "2026-01-02T15:04:05Z");
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("arn:aws:iam::1:role/x"),
            "arn:aws:iam::1:role/x"
        );
        assert_eq!(shell_quote("{{SessionName}}"), "'{{SessionName}}'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}

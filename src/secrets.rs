//! The secret values this run has seen (secret keys, session tokens, the container
//! authorization token, web identity and SSO tokens), so that no message shows them. An
//! endpoint or proxy may echo a request, headers and all, into its error; every text that
//! came from the SDK or a server passes through [`redact`] before it is shown (in
//! `message`, and again in the stderr writers and `doctor`'s report).
//!
//! Filled on the slow path only, where secrets are read: a cache hit never loads one.

use std::borrow::Cow;
use std::sync::{PoisonError, RwLock};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not redacted: they would blot out ordinary words (a secret `x`
/// would take every x), and no AWS secret is that short (secret keys are 40 characters).
const MIN_CHARS: usize = 8;

/// SigV4's URI encoding (everything but `A-Z a-z 0-9 - _ . ~`), as a token appears in a
/// query string or form body (`WebIdentityToken=…`).
const URI: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Every form of every known secret, longest first so a secret that contains another is
/// replaced whole.
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers `secret` for [`redact`], with the forms it takes in a URL, in Rust `Debug`
/// text and on one line.
pub fn remember(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_CHARS {
        return;
    }
    let forms = [
        secret.to_owned(),
        utf8_percent_encode(secret, URI).to_string(),
        secret.escape_debug().to_string(),
        single_line(secret),
    ];
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    known.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Messages are single lines whatever a source error contained, and hold no raw control
/// character (a terminal would act on an escape sequence). Here rather than in `message`
/// (which re-exports it) because [`remember`] keeps this form of every secret.
pub fn single_line(text: &str) -> String {
    escape_controls(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Control characters as Rust escapes (`\n`, `\u{1b}`); everything else as it is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every known secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
    if !known.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_known_secret_is_redacted() {
        remember("  unitTestSecret+/=\n");
        remember("unitTestSecret+/=WithMore");
        remember("short");
        assert_eq!(
            redact("a unitTestSecret+/=WithMore b unitTestSecret+/= c"),
            "a [redacted] b [redacted] c"
        );
        assert_eq!(
            redact("WebIdentityToken=unitTestSecret%2B%2F%3D&x"),
            "WebIdentityToken=[redacted]&x"
        );
        assert_eq!(redact("short stays"), "short stays");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
        remember("unit\"Test\nLine");
        assert_eq!(
            redact(r#"Error { message: "unit\"Test\nLine" }"#),
            r#"Error { message: "[redacted]" }"#
        );
        assert_eq!(redact("unit\"Test Line"), "[redacted]");
    }
}

//! YAML text that YAML 1.1 readers take back exactly. kubectl reads kubeconfigs with
//! go-yaml v2 (through sigs.k8s.io/yaml), a YAML 1.1 parser: unquoted, `no` is a boolean
//! there, `1_000` a number and `2001-12-14` a timestamp, and kubectl refuses the file when
//! such a value sits in a string field. yaml_serde quotes only what YAML 1.2 reads as
//! another type and cannot be asked to quote more, so the document is written here: block
//! style as kubectl writes it, a string plain only when YAML 1.1 and 1.2 both read it back
//! as that string.

use yaml_serde::value::TaggedValue;
use yaml_serde::{Mapping, Value};

/// A kubeconfig document as YAML text.
pub fn document(doc: &Mapping) -> String {
    let mut out = String::new();
    if doc.is_empty() {
        out.push_str("{}\n");
    } else {
        mapping(&mut out, doc, 0, false);
    }
    out
}

/// A list as a YAML document (aws-auth's `mapRoles` items, say), read back the same by
/// YAML 1.1 readers as [`document`] is.
pub fn list(items: &[Value]) -> String {
    let mut out = String::new();
    if items.is_empty() {
        out.push_str("[]\n");
    } else {
        sequence(&mut out, items, 0, false);
    }
    out
}

/// The entries of `map` at column `indent`; with `inline`, the first one goes where the
/// line already is (after `- `).
fn mapping(out: &mut String, map: &Mapping, indent: usize, inline: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, indent);
        }
        match implicit_key(key) {
            Some(text) => out.push_str(&text),
            None => {
                // An explicit key (`? `): a collection, or longer than an implicit key
                // may be (YAML 1.1 §9.2.2.1: 1024 characters).
                out.push('?');
                after_indicator(out, key, indent);
                pad(out, indent);
            }
        }
        out.push(':');
        after_colon(out, value, indent);
    }
}

/// The items of `seq` at column `indent`.
fn sequence(out: &mut String, seq: &[Value], indent: usize, inline: bool) {
    for (i, item) in seq.iter().enumerate() {
        if i > 0 || !inline {
            pad(out, indent);
        }
        out.push('-');
        after_indicator(out, item, indent);
    }
}

/// A mapping value after `key:` at column `indent`. A list goes at the key's own column,
/// as kubectl and the AWS CLI write it.
fn after_colon(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            out.push('\n');
            mapping(out, map, indent + 2, false);
        }
        Value::Sequence(seq) if !seq.is_empty() => {
            out.push('\n');
            sequence(out, seq, indent, false);
        }
        other => after_indicator(out, other, indent),
    }
}

/// A node after `-`, `?` or `:` at column `indent`: a collection starts on the same line.
fn after_indicator(out: &mut String, value: &Value, indent: usize) {
    out.push(' ');
    match value {
        Value::Mapping(map) if !map.is_empty() => mapping(out, map, indent + 2, true),
        Value::Sequence(seq) if !seq.is_empty() => sequence(out, seq, indent + 2, true),
        Value::Tagged(tagged) => self::tagged(out, tagged, indent + 2),
        scalar => {
            self::scalar(out, scalar, indent + 2);
            out.push('\n');
        }
    }
}

/// `!tag value`; a tagged collection starts on the next line, at column `indent`.
fn tagged(out: &mut String, tagged: &TaggedValue, indent: usize) {
    out.push_str(&tagged.tag.to_string());
    match &tagged.value {
        Value::Mapping(map) if !map.is_empty() => {
            out.push('\n');
            mapping(out, map, indent, false);
        }
        Value::Sequence(seq) if !seq.is_empty() => {
            out.push('\n');
            sequence(out, seq, indent, false);
        }
        other => {
            out.push(' ');
            scalar(out, other, indent);
            out.push('\n');
        }
    }
}

/// A scalar or an empty collection; a literal block's lines go at column `indent`.
fn scalar(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if s.contains('\n') && literal_allowed(s) => literal(out, s, indent),
        Value::String(s) => out.push_str(&one_line(s)),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Sequence(_) => out.push_str("[]"),
        // YAML has no tag on a tag: parsed documents never hold one.
        Value::Tagged(tagged) => scalar(out, &tagged.value, indent),
    }
}

/// A key written before `:`, or `None` when it needs the explicit `? ` form.
fn implicit_key(key: &Value) -> Option<String> {
    let text = match key {
        Value::String(s) => one_line(s),
        Value::Null | Value::Bool(_) | Value::Number(_) => {
            let mut text = String::new();
            scalar(&mut text, key, 0);
            text
        }
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => return None,
    };
    (text.chars().count() <= 1024).then_some(text)
}

/// A string on one line: plain when that reads back as the string, else single-quoted,
/// else double-quoted with escapes.
fn one_line(s: &str) -> String {
    if plain_allowed(s) {
        s.to_owned()
    } else if s.chars().all(printable) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// Whether `s` written as a plain scalar reads back as the string `s`.
fn plain_allowed(s: &str) -> bool {
    plain_syntax(s) && !yaml_1_1_not_a_string(s)
}

/// Whether `s` is a plain scalar in block context, as a key or a value (YAML 1.1
/// §9.1.3: no indicator first, no `: ` or ` #` inside, no surrounding space).
fn plain_syntax(s: &str) -> bool {
    let mut chars = s.chars();
    let starts_well = match chars.next() {
        None => false,
        // `-` starts a plain scalar when a non-space follows (`--region`).
        Some('-') => chars.next().is_some_and(|c| c != ' ') && !s.starts_with("---"),
        Some(c) => !"?:,[]{}#&*!|>'\"%@` ".contains(c),
    };
    starts_well
        && !s.starts_with("...")
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && s.chars().all(printable)
}

/// YAML 1.1 printable characters (c-printable), less tab, the line breaks (YAML 1.1
/// counts NEL, LS and PS as breaks) and the byte order mark: what a one-line scalar may
/// hold unescaped.
fn printable(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Whether a multi-line string can be a literal block (`|`) with no indentation
/// indicator: printable lines, none ending in a space, the first not starting with one.
fn literal_allowed(s: &str) -> bool {
    !s.starts_with([' ', '\n'])
        && !s.ends_with(' ')
        && !s.contains(" \n")
        && s.chars().all(|c| c == '\n' || printable(c))
}

/// A literal block, its chomping indicator keeping the string's final line breaks.
fn literal(out: &mut String, s: &str, indent: usize) {
    let (chomp, body) = match s.strip_suffix('\n') {
        Some(body) if body.ends_with('\n') => ("|+", body),
        Some(body) => ("|", body),
        None => ("|-", s),
    };
    out.push_str(chomp);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.push_str(&" ".repeat(indent));
}

/// Whether a YAML 1.1 reader takes the plain scalar `s` for something other than a
/// string: a type of yaml.org/type (bool, null, int, float, timestamp, merge, value), or
/// what go-yaml v2's resolve.go (what kubectl uses) accepts beyond them. These include
/// every YAML 1.2 core schema null, boolean and number, so yaml_serde reads a plain
/// string back as that string too.
fn yaml_1_1_not_a_string(s: &str) -> bool {
    yaml_1_1_bool(s).is_some()
        || matches!(s, "" | "~" | "null" | "Null" | "NULL" | "<<" | "=")
        || int(s)
        || float(s)
        || timestamp(s)
        || go_yaml_number(s)
}

/// The YAML 1.1 booleans (yaml.org/type/bool.html), which kubectl reads as such.
pub(super) fn yaml_1_1_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

fn unsigned(s: &str) -> &str {
    s.strip_prefix(['-', '+']).unwrap_or(s)
}

fn all(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().all(allowed)
}

fn digit_or_underscore(c: char) -> bool {
    c.is_ascii_digit() || c == '_'
}

/// yaml.org/type/int.html: binary, octal, decimal, hex and base 60, `_` anywhere.
fn int(s: &str) -> bool {
    let u = unsigned(s);
    if let Some(bits) = u.strip_prefix("0b") {
        return !bits.is_empty() && all(bits, |c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(hex) = u.strip_prefix("0x") {
        return !hex.is_empty() && all(hex, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(octal) = u.strip_prefix('0') {
        return all(octal, |c| matches!(c, '0'..='7' | '_'));
    }
    u.starts_with(|c: char| c.is_ascii_digit()) && base_60(u)
}

/// `[0-9][0-9_]*(:[0-5]?[0-9])*`: digits, then any number of base 60 places.
fn base_60(u: &str) -> bool {
    let mut places = u.split(':');
    let first = places.next().unwrap_or_default();
    !first.is_empty()
        && all(first, digit_or_underscore)
        && places.all(|p| {
            let b = p.as_bytes();
            match b {
                [d] => d.is_ascii_digit(),
                [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
                _ => false,
            }
        })
}

/// yaml.org/type/float.html (with its `[0-9.]` typo read as `[0-9_]`, as PyYAML and
/// go-yaml do): decimal with an optional signed exponent, base 60, inf and nan.
fn float(s: &str) -> bool {
    let u = unsigned(s);
    if matches!(u, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let Some((whole, fraction)) = u.split_once('.') else {
        return false;
    };
    let (fraction, exponent) = match fraction.find(['e', 'E']) {
        Some(at) => (&fraction[..at], Some(&fraction[at + 1..])),
        None => (fraction, None),
    };
    // `[0-9][0-9_]*`, or base 60 places before a fraction without exponent.
    let whole_ok = whole.is_empty()
        || whole.starts_with(|c: char| c.is_ascii_digit())
            && base_60(whole)
            && (exponent.is_none() || !whole.contains(':'));
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['-', '+'])
            .is_some_and(|d| !d.is_empty() && all(d, |c| c.is_ascii_digit()))
    });
    whole_ok && all(fraction, digit_or_underscore) && exponent_ok
}

/// yaml.org/type/timestamp.html, and go-yaml's looser forms (one-digit hours, minutes):
/// a date `YYYY-M-D`, alone or followed by `T`, `t` or spaces and a digit.
fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let digits = |from: usize| {
        b[from..]
            .iter()
            .take(2)
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let month = digits(5);
    if month == 0 || b.get(5 + month) != Some(&b'-') {
        return false;
    }
    let day_at = 6 + month;
    let day = digits(day_at);
    if day == 0 {
        return false;
    }
    let rest = &s[day_at + day..];
    let time = rest
        .strip_prefix(['T', 't'])
        .unwrap_or_else(|| rest.trim_start_matches([' ', '\t']));
    rest.is_empty() || time.len() < rest.len() && time.starts_with(|c: char| c.is_ascii_digit())
}

/// What go-yaml v2's resolve.go reads as a number beyond YAML 1.1, for a scalar starting
/// with a digit, a sign or `.`: after dropping every `_`, Go's integer syntax
/// (`strconv.ParseInt(s, 0, 64)`: `0o17`, `0X1F`) or its float pattern (`1e3`, `08`, `.5`).
fn go_yaml_number(s: &str) -> bool {
    if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.')) {
        return false;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let u = unsigned(&plain);
    let radix = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ];
    for (prefix, radix) in radix {
        if let Some(digits) = u.strip_prefix(prefix) {
            return !digits.is_empty() && all(digits, |c| c.is_digit(radix));
        }
    }
    // yamlStyleFloat, `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, which
    // covers Go's decimal and octal integers too.
    let whole = leading_digits(u);
    match u[whole..].strip_prefix('.') {
        Some(fraction) => {
            let digits = leading_digits(fraction);
            (whole > 0 || digits > 0) && exponent(&fraction[digits..])
        }
        None => whole > 0 && exponent(&u[whole..]),
    }
}

fn leading_digits(s: &str) -> usize {
    s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len()
}

/// Nothing, or `[eE][-+]?[0-9]+`.
fn exponent(s: &str) -> bool {
    s.is_empty()
        || s.strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['-', '+']).unwrap_or(e))
            .is_some_and(|d| !d.is_empty() && all(d, |c| c.is_ascii_digit()))
}

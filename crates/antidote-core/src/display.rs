//! How antidote writes numbers for people: one rounding rule for shares, one plural, one list,
//! so that the terminal, the findings and the HTML report say the same thing about the same
//! value.

use std::fmt::Write as _;

/// A share in `[0, 1]` as a percentage a person reads.
///
/// Two significant digits where they matter and no more: `37%`, `4.5%`, `0.35%`. A share that is
/// neither 0 nor 1 never reads as `0%` or `100%`: it reads `<0.01%` or `>99.9%`, because a
/// reader takes `0%` to mean none.
///
/// ```
/// use antidote_core::display::percent;
///
/// assert_eq!(percent(0.0), "0%");
/// assert_eq!(percent(0.00002), "<0.01%");
/// assert_eq!(percent(0.0035), "0.35%");
/// assert_eq!(percent(0.045), "4.5%");
/// assert_eq!(percent(0.05), "5%");
/// assert_eq!(percent(0.371), "37%");
/// assert_eq!(percent(0.9999), ">99.9%");
/// assert_eq!(percent(1.0), "100%");
/// ```
#[must_use]
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "\u{2013}".to_owned();
    }
    let value = share * 100.0;
    if share == 0.0 {
        return "0%".to_owned();
    }
    if share >= 1.0 {
        return format!("{value:.0}%");
    }
    if value.abs() < 0.01 {
        return "<0.01%".to_owned();
    }
    let decimals = match value.abs() {
        magnitude if magnitude < 1.0 => 2,
        magnitude if magnitude < 10.0 => 1,
        _ => 0,
    };
    if value > 99.0 && value < 100.0 {
        let fine = format!("{value:.1}");
        return if fine == "100.0" {
            ">99.9%".to_owned()
        } else {
            format!("{}%", trim_zeros(&fine))
        };
    }
    format!("{}%", trim_zeros(&format!("{value:.decimals$}")))
}

/// A share as a percentage with one decimal, always: `88.4%`, `5.0%`. For figures read side by
/// side, where two significant digits would hide the difference (accuracy before and after a
/// quarantine, a column of a table); everywhere else [`percent`].
///
/// ```
/// use antidote_core::display::percent_tenths;
///
/// assert_eq!(percent_tenths(0.8843), "88.4%");
/// assert_eq!(percent_tenths(0.05), "5.0%");
/// ```
#[must_use]
pub fn percent_tenths(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1}%", share * 100.0)
    } else {
        "\u{2013}".to_owned()
    }
}

/// `12.50` -> `12.5`, `3.0` -> `3`.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// `1 record`, `2 records`, `0 records`.
///
/// ```
/// use antidote_core::display::plural;
///
/// assert_eq!(plural(1, "record"), "1 record");
/// assert_eq!(plural(3, "class"), "3 classes");
/// assert_eq!(plural(2, "canary"), "2 canaries");
/// assert_eq!(plural(2, "key"), "2 keys");
/// ```
#[must_use]
pub fn plural(count: u64, noun: &str) -> String {
    let consonant_y = noun.len() > 1
        && noun.ends_with('y')
        && !noun[..noun.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if count == 1 {
        format!("1 {noun}")
    } else if consonant_y {
        format!("{count} {}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with('s') || noun.ends_with("ch") || noun.ends_with('x') {
        format!("{count} {noun}es")
    } else {
        format!("{count} {noun}s")
    }
}

/// [`plural`] for a `usize` count.
#[must_use]
pub fn count(count: usize, noun: &str) -> String {
    plural(count as u64, noun)
}

/// Up to `show` items, backticked and made safe for a terminal, with `and N more`.
///
/// ```
/// use antidote_core::display::list_some;
///
/// let ids = ["a", "b", "c"].map(String::from);
/// assert_eq!(list_some(&ids, 2), "`a`, `b` and 1 more");
/// ```
#[must_use]
pub fn list_some(items: &[String], show: usize) -> String {
    let quoted: Vec<String> = items
        .iter()
        .take(show)
        .map(|item| format!("`{}`", escape_control(item)))
        .collect();
    list_plain(&quoted, show, items.len())
}

/// Up to `show` already formatted items of `total`, with `and N more`.
#[must_use]
pub fn list_plain(items: &[String], show: usize, total: usize) -> String {
    let mut text = items
        .iter()
        .take(show)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if total > show {
        let _ = write!(text, " and {} more", total - show);
    }
    text
}

/// Bytes in the unit a person reads: `512 B`, `1.5 KiB`.
///
/// ```
/// use antidote_core::display::human_bytes;
///
/// assert_eq!(human_bytes(512), "512 B");
/// assert_eq!(human_bytes(1536), "1.5 KiB");
/// ```
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in seconds as a person reads it: `0.4s`, `12.3s`, `2m 05s`.
///
/// ```
/// use antidote_core::display::seconds;
///
/// assert_eq!(seconds(0.42), "0.4s");
/// assert_eq!(seconds(125.0), "2m 05s");
/// ```
#[must_use]
pub fn seconds(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "\u{2013}".to_owned();
    }
    if seconds < 59.95 {
        format!("{seconds:.1}s")
    } else {
        let whole = seconds.round() as u64;
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// Text from a dataset made safe for a terminal: control characters are escaped, so a record
/// cannot move the cursor or change colours.
///
/// ```
/// use antidote_core::display::escape_control;
///
/// assert_eq!(escape_control("a\x1b[31mb"), "a\\u{1b}[31mb");
/// ```
#[must_use]
pub fn escape_control(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_control() {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// A value rounded to four decimals, for stable, readable JSON.
#[must_use]
pub fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_never_reads_as_none_or_all_unless_it_is() {
        for share in [
            1e-9,
            1e-5,
            0.0001,
            0.004,
            0.5,
            0.99,
            0.9994,
            0.99999,
            1.0 - 1e-12,
        ] {
            let text = percent(share);
            assert_ne!(text, "0%", "{share}");
            assert_ne!(text, "100%", "{share}");
        }
        assert_eq!(percent(0.995), "99.5%");
        assert_eq!(percent(0.1), "10%");
        assert_eq!(percent(0.0126), "1.3%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(percent(f64::NAN), "\u{2013}");
    }

    #[test]
    fn plural_and_lists() {
        assert_eq!(plural(0, "record"), "0 records");
        assert_eq!(count(2, "match"), "2 matches");
        assert_eq!(list_plain(&["x".into()], 3, 1), "x");
        assert_eq!(seconds(59.96), "1m 00s");
        assert_eq!(seconds(60.0), "1m 00s");
    }
}

//! One file per subcommand.

pub mod check;
pub mod diff;
pub mod drill;
pub mod explain;
pub mod keygen;
pub mod lock;
pub mod log;
pub mod poison;
pub mod profile;
pub mod scan;
mod scan_report;
pub mod sign;
pub mod verify;

use std::fmt::Write as _;

use antidote_provenance::ledger::{Ledger, NewEvent};

use crate::cli::GlobalArgs;
use crate::printer::Printer;
use crate::settings;

/// Appends an event to the ledger. A ledger that cannot be written is a warning, not a failed
/// run: the command's own result stands.
pub(crate) fn record(
    global: &GlobalArgs,
    printer: Printer,
    kind: &str,
    subject: &str,
    outcome: &str,
    details: serde_json::Value,
) {
    let Some(path) = settings::ledger_path(global) else {
        return;
    };
    let event = NewEvent {
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        outcome: outcome.to_owned(),
        details,
    };
    let result = Ledger::open(&path).and_then(|mut ledger| ledger.append(event));
    match result {
        Ok(event) => tracing::debug!(
            "ledger `{}`: event {} ({})",
            path.display(),
            event.seq,
            event.kind
        ),
        Err(error) => printer.warn(&format!(
            "could not record this run in the ledger `{}`: {error} (pass `--no-ledger` to skip it)",
            path.display()
        )),
    }
}

/// Bytes in a unit a person reads.
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

/// `1 record` / `2 records`.
#[must_use]
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Up to `show` ids, backticked, with `and N more`.
#[must_use]
pub fn list_some(items: &[String], show: usize) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("`{}`", escape(item)))
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

/// Text from a dataset made safe for a terminal: control characters are escaped.
#[must_use]
pub fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|character| {
            if character.is_control() {
                character.escape_default().collect::<Vec<_>>()
            } else {
                vec![character]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(plural(1, "record"), "1 record");
        assert_eq!(plural(3, "record"), "3 records");
        let items: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|item| (*item).to_owned())
            .collect();
        assert_eq!(list_some(&items, 2), "`a`, `b` and 1 more");
        assert_eq!(escape("a\x1b[31mb"), "a\\u{1b}[31mb");
    }
}

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
pub mod sign;
pub mod verify;

use std::fmt::Write as _;

use std::path::Path;

use antidote_core::Digest;
use antidote_provenance::hashing::sha256_file;
use antidote_provenance::ledger::{Ledger, NewEvent};
use antidote_report::{Input, Provenance};
use anyhow::Context as _;

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

/// The provenance footer of a report: this command line, antidote's version, the time, and each
/// input with its SHA-256 when it is one file.
pub(crate) fn provenance_of(inputs: &[(&str, &Path)]) -> anyhow::Result<Provenance> {
    let digest = |path: &Path| -> anyhow::Result<Option<Digest>> {
        if !path.is_file() {
            return Ok(None);
        }
        let hash = sha256_file(path)
            .with_context(|| format!("failed to hash `{}` for the report", path.display()))?;
        Ok(Some(hash.sha256))
    };
    Ok(Provenance {
        command: command_line(),
        version: format!("antidote {}", env!("CARGO_PKG_VERSION")),
        inputs: inputs
            .iter()
            .map(|(role, path)| {
                Ok(Input {
                    role: (*role).to_owned(),
                    path: path.display().to_string(),
                    digest: digest(path)?,
                })
            })
            .collect::<anyhow::Result<_>>()?,
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// This process's command line, quoted for a POSIX shell where needed.
fn command_line() -> String {
    std::env::args_os()
        .map(|argument| shell_quote(&argument.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(argument: &str) -> String {
    let plain = !argument.is_empty()
        && argument
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_./=:,@+%".contains(character));
    if plain {
        argument.to_owned()
    } else {
        format!("'{}'", argument.replace('\'', "'\\''"))
    }
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

    #[test]
    fn arguments_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("--baseline"), "--baseline");
        assert_eq!(shell_quote("data/v2.csv"), "data/v2.csv");
        assert_eq!(shell_quote("my data.csv"), "'my data.csv'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}

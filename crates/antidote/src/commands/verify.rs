//! `antidote verify`: check data against a lock, and the lock against its signature.

use antidote_core::display::{escape_control, human_bytes, list_plain, list_some, plural};
use antidote_provenance::signing;
use antidote_provenance::verify::{
    self as check, DatasetOutcome, FileChange, SignatureStatus, TableOutcome, VerifyReport,
};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::VerifyArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Verifies a lock and reports every difference.
pub fn verify(
    args: &VerifyArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if !args.lock.exists() {
        return Err(UserError::new(
            format!("lock file `{}` does not exist", args.lock.display()),
            "create one with `antidote lock DATA`, or name it: `antidote verify path/to/antidote.lock`",
        )
        .into());
    }
    let key = args
        .pubkey
        .as_ref()
        .map(|path| {
            signing::read_verifying_key(path)
                .with_context(|| format!("failed to load the public key `{}`", path.display()))
        })
        .transpose()?;
    let progress = printer.progress();
    let tables = super::table_reader(args.engine, &args.cluster)?;
    let report = check::verify_with(&args.lock, key.as_ref(), tables.as_ref(), progress.as_ref())?;
    let passed = report.passed();
    record(
        settings,
        printer,
        "verify",
        &args.lock.display().to_string(),
        if passed { "passed" } else { "failed" },
        json!({
            "files_checked": report.files_checked,
            "files_changed": report.files.len(),
            "datasets_changed": report.datasets.iter().filter(|dataset| dataset.outcome != DatasetOutcome::Unchanged).count(),
            "tables_changed": report.tables.iter().filter(|table| table.outcome != TableOutcome::Unchanged).count(),
            "signature": report.signature,
        }),
    );
    if printer.json {
        printer.out_json(&json!({ "passed": passed, "report": report }))?;
    } else {
        print_report(&report, printer);
    }
    Ok(ExitStatus::from_passed(passed))
}

fn print_report(report: &VerifyReport, printer: Printer) {
    let lock = report.lock.display();
    if report.passed() {
        let tables = if report.tables.is_empty() {
            String::new()
        } else {
            format!(", {}", plural(report.tables.len() as u64, "table"))
        };
        printer.out(&format!(
            "{}: {}{tables} and {} match `{lock}`",
            printer.style("OK", Style::Good),
            plural(report.files_checked as u64, "file"),
            plural(report.datasets.len() as u64, "dataset"),
        ));
    } else {
        printer.out(&format!(
            "{}: the data does not match `{lock}`",
            printer.style("FAILED", Style::Bad)
        ));
    }
    for file in &report.files {
        let line = match &file.change {
            FileChange::Modified {
                old_size, new_size, ..
            } => format!(
                "  modified  `{}` ({} -> {})",
                file.path,
                human_bytes(*old_size),
                human_bytes(*new_size)
            ),
            FileChange::Missing => format!("  missing   `{}`", file.path),
            FileChange::Added { size } => format!(
                "  added     `{}` ({}), not in the lock",
                file.path,
                human_bytes(*size)
            ),
        };
        printer.out(&line);
    }
    if let Some(change) = &report.records_file {
        let what = match change {
            FileChange::Missing => "is missing",
            _ => "was modified after locking",
        };
        printer.out(&format!(
            "  the records sidecar of `{lock}` {what}: record-level detail is unavailable"
        ));
    }
    for dataset in &report.datasets {
        print_dataset(dataset, printer);
    }
    for table in &report.tables {
        print_table(table, printer);
    }
    let signature = match &report.signature {
        SignatureStatus::Unsigned => None,
        SignatureStatus::NotChecked => {
            Some("signature: present, not checked (pass `--pubkey` to check it)".to_owned())
        }
        SignatureStatus::Valid { key_id } => Some(format!(
            "signature: valid, key `{}`",
            &key_id[..key_id.len().min(16)]
        )),
        SignatureStatus::Missing => Some(format!(
            "signature: {} (no signature next to the lock; it was never signed, or the signature was removed)",
            printer.style("MISSING", Style::Bad)
        )),
        SignatureStatus::Invalid { reason } => Some(format!(
            "signature: {}: {reason}",
            printer.style("INVALID", Style::Bad)
        )),
        SignatureStatus::WrongKey {
            expected_key_id,
            found_key_ids,
        } => Some(format!(
            "signature: {}: signed by {}, not by the given key `{}`",
            printer.style("WRONG KEY", Style::Bad),
            found_key_ids
                .iter()
                .map(|id| format!("`{}`", &id[..id.len().min(16)]))
                .collect::<Vec<_>>()
                .join(", "),
            &expected_key_id[..expected_key_id.len().min(16)]
        )),
    };
    if let Some(signature) = signature {
        printer.out(&format!("  {signature}"));
    }
    if !report.passed() {
        printer.note(&format!(
            "{}: review the changes with `antidote diff {lock} DATA`; if they are expected, re-lock with `antidote lock`",
            printer.style_err("hint", Style::Bold)
        ));
    }
}

fn print_dataset(dataset: &check::DatasetReport, printer: Printer) {
    match &dataset.outcome {
        DatasetOutcome::Unchanged => {}
        DatasetOutcome::Unreadable { error } => {
            printer.out(&format!(
                "  dataset `{}` can no longer be read: {error}",
                dataset.path
            ));
        }
        DatasetOutcome::Changed {
            old_count,
            new_count,
            schema_changed,
            diff,
        } => {
            printer.out(&format!(
                "  dataset `{}`: {} -> {}: {} added, {} removed, {} modified{}",
                dataset.path,
                plural(*old_count, "record"),
                plural(*new_count, "record"),
                diff.added.len(),
                diff.removed.len(),
                diff.changed.len(),
                if diff.is_empty() && diff.reordered {
                    " (same records, reordered)"
                } else {
                    ""
                }
            ));
            if *schema_changed {
                printer.out("    the schema changed (columns, their types or roles)");
            }
            if !diff.added.is_empty() {
                printer.out(&format!("    added: {}", list_some(&diff.added, 10)));
            }
            if !diff.removed.is_empty() {
                printer.out(&format!("    removed: {}", list_some(&diff.removed, 10)));
            }
            if !diff.changed.is_empty() {
                let changed: Vec<String> = diff
                    .changed
                    .iter()
                    .take(10)
                    .map(|change| {
                        format!(
                            "`{}` ({})",
                            escape_control(&change.id),
                            change.fields.join(", ")
                        )
                    })
                    .collect();
                printer.out(&format!(
                    "    modified: {}",
                    list_plain(&changed, 10, diff.changed.len())
                ));
            }
            if let Some(summary) = diff.label_summary() {
                printer.out(&format!("    {summary}"));
            }
        }
    }
}

fn print_table(table: &check::TableReport, printer: Printer) {
    match &table.outcome {
        TableOutcome::Unchanged => {}
        TableOutcome::Unreadable { error } => {
            printer.out(&format!(
                "  table `{}` can no longer be read: {error}",
                table.path
            ));
        }
        TableOutcome::Changed {
            old_count,
            new_count,
            schema_changed,
            label_changes,
        } => {
            printer.out(&format!(
                "  table `{}`: {} -> {}, a different set of records (read by {}; a table keeps no per-record sidecar, so which records is not known)",
                table.path,
                plural(*old_count, "record"),
                plural(*new_count, "record"),
                table.engine
            ));
            if *schema_changed {
                printer.out("    the schema changed (columns or their types)");
            }
            if !label_changes.is_empty() {
                let changes: Vec<String> = label_changes
                    .iter()
                    .map(|(label, old, new)| format!("`{}` {old} -> {new}", escape_control(label)))
                    .collect();
                printer.out(&format!(
                    "    labels: {}",
                    list_plain(&changes, 10, changes.len())
                ));
            }
        }
    }
}

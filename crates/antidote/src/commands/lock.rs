//! `antidote lock`: pin files and datasets by content.

use std::time::Instant;

use antidote_core::display::{human_bytes, plural};
use antidote_data::Format;
use antidote_provenance::{attest, lock, signing};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::ExitStatus;
use crate::cli::LockArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;

/// Locks the given paths and writes the lock file (and its signature with `--key`).
pub fn lock(args: &LockArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    // Read the key first: a wrong key path should fail before minutes of hashing.
    let key = args
        .key
        .as_ref()
        .map(|path| {
            signing::read_signing_key(path)
                .with_context(|| format!("failed to load the signing key `{}`", path.display()))
        })
        .transpose()?;
    let options = lock::LockOptions {
        read: args.dataset.read_options(),
        files_only: args.files_only,
        // Folders are tables only for a query engine; antidote's own reader pins each file.
        tables: if args.engine.reads_tables() {
            Some(super::table_reader(args.engine, &args.cluster)?)
        } else {
            None
        },
        ..lock::LockOptions::default()
    };
    let progress = printer.progress();
    // The lock and its sidecar are a pair: a crash leaves the old ones or the new ones.
    let created = lock::create_and_write(&args.paths, &args.output, &options, progress.as_ref())?;
    let signature = match &key {
        Some(key) => Some(attest::sign_lock(&args.output, &created, key)?),
        None => None,
    };

    warn_about(&created, printer);

    let total_bytes = created.total_bytes();
    let key_id = key.as_ref().map(|key| signing::key_id(key.verifying_key()));
    record(
        settings,
        printer,
        "lock",
        &args.output.display().to_string(),
        "ok",
        json!({
            "files": created.file_count(),
            "bytes": total_bytes,
            "datasets": created.datasets.iter().map(|dataset| json!({
                "path": dataset.path,
                "records": dataset.record_count,
                "merkle_root": dataset.merkle_root,
                "record_set_hash": dataset.record_set_hash,
            })).collect::<Vec<_>>(),
            "tables": created.tables.iter().map(|table| json!({
                "path": table.path,
                "records": table.record_count,
                "record_set_hash": table.record_set_hash,
            })).collect::<Vec<_>>(),
            "signed_by": key_id,
        }),
    );

    if printer.json {
        printer.out_json(&json!({
            "lock": args.output,
            "signature": signature,
            "files": created.file_count(),
            "bytes": total_bytes,
            "datasets": created.datasets,
            "tables": created.tables,
        }))?;
        return Ok(ExitStatus::Success);
    }
    let tables = if created.tables.is_empty() {
        String::new()
    } else {
        format!(", {}", plural(created.tables.len() as u64, "table"))
    };
    printer.out(&format!(
        "locked {} ({}){tables} and {} in {:.2}s",
        plural(created.file_count(), "file"),
        human_bytes(total_bytes),
        plural(created.datasets.len() as u64, "dataset"),
        started.elapsed().as_secs_f64()
    ));
    print_contents(&created, printer);
    printer.out(&format!("wrote `{}`", args.output.display()));
    if let (Some(path), Some(key_id)) = (signature, key_id) {
        printer.out(&format!(
            "signed with key `{}`: `{}`",
            &key_id[..16],
            path.display()
        ));
    }
    printer.note(&format!(
        "{}: run `antidote verify{}` before training to check that nothing changed",
        printer.style_err("next", Style::Dim),
        if args.output.as_os_str() == "antidote.lock" {
            String::new()
        } else {
            format!(" {}", args.output.display())
        }
    ));
    Ok(ExitStatus::Success)
}

/// One line per table and per dataset.
fn print_contents(created: &lock::Lock, printer: Printer) {
    for table in &created.tables {
        printer.out(&format!(
            "  {}  table of {}, {}, {}, set hash {} ({})",
            printer.style(&table.path, Style::Bold),
            plural(table.file_count, &format!("{} file", table.format)),
            plural(table.record_count, "record"),
            plural(table.label_counts.len() as u64, "label"),
            table.record_set_hash.short(),
            table.engine
        ));
    }
    for dataset in &created.datasets {
        printer.out(&format!(
            "  {}  {}, {}, {}, root {}",
            printer.style(&dataset.path, Style::Bold),
            dataset.format,
            plural(dataset.record_count, "record"),
            plural(dataset.label_counts.len() as u64, "label"),
            dataset.merkle_root.short()
        ));
    }
}

/// Warnings the user should act on: ids that are positions, skipped records.
fn warn_about(created: &lock::Lock, printer: Printer) {
    for dataset in &created.datasets {
        let named_columns = matches!(
            dataset.format,
            Format::Csv | Format::Jsonl | Format::Instruction | Format::Parquet
        );
        if dataset.ids_are_positions && dataset.record_count > 0 && named_columns {
            printer.warn(&format!(
            "`{}` has no id column: records are identified by their position (name one with `--id COLUMN` for stable diffs)",
            dataset.path
        ));
        }
        if dataset.skipped > 0 {
            printer.warn(&format!(
                "skipped {} in `{}` (`--skip-bad`)",
                plural(dataset.skipped, "malformed record"),
                dataset.path
            ));
        }
    }
}

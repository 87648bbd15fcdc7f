//! `antidote diff`: what changed between two versions of a dataset, record by record.

use std::collections::BTreeMap;
use std::path::Path;

use antidote_core::display::{escape_control, list_plain, list_some, plural};
use antidote_data::Format;
use antidote_provenance::diff::{DatasetVersion, VersionDiff, pair_versions};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::{DatasetArgs, DiffArgs};
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

fn is_lock(path: &Path) -> bool {
    !path.is_dir() && Format::detect(path).is_none()
}

fn load_side(
    path: &Path,
    dataset: &DatasetArgs,
    printer: Printer,
) -> anyhow::Result<Vec<DatasetVersion>> {
    if !path.exists() {
        return Err(UserError::new(
            format!("`{}` does not exist", path.display()),
            "each side of `antidote diff` is a lock file or a dataset (file or image folder)",
        )
        .into());
    }
    if is_lock(path) {
        let versions = DatasetVersion::from_lock(path)?;
        if versions.is_empty() {
            return Err(UserError::new(
                format!("`{}` pins no dataset record by record", path.display()),
                "lock the data without `--files-only` to diff it record by record",
            )
            .into());
        }
        return Ok(versions);
    }
    let progress = printer.progress();
    let version = DatasetVersion::read(path, &dataset.read_options(), progress.as_ref())
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    Ok(vec![version])
}

/// Diffs two versions and prints the changes.
pub fn diff(args: &DiffArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let old = load_side(&args.old, &args.dataset, printer)?;
    let new = load_side(&args.new, &args.dataset, printer)?;
    let pairs = pair_versions(old, new);
    if pairs.is_empty() {
        return Err(UserError::new(
            "the two sides have no dataset in common",
            "diff one dataset against one dataset, or two locks of the same paths",
        )
        .into());
    }
    let results = pairs
        .iter()
        .map(|(old, new)| VersionDiff::between(old, new))
        .collect::<Result<Vec<VersionDiff>, _>>()?;
    let same = results.iter().all(|result| result.diff.is_empty());
    record(
        settings,
        printer,
        "diff",
        &format!("{} -> {}", args.old.display(), args.new.display()),
        if same { "same" } else { "changed" },
        json!(
            results
                .iter()
                .map(|result| json!({
                    "old": result.old,
                    "new": result.new,
                    "added": result.diff.added.len(),
                    "removed": result.diff.removed.len(),
                    "changed": result.diff.changed.len(),
                    "label_changes": result.diff.label_changes,
                }))
                .collect::<Vec<_>>()
        ),
    );
    if printer.json {
        if results.len() == 1 {
            printer.out_json(&results[0])?;
        } else {
            printer.out_json(&json!({ "datasets": results }))?;
        }
        return Ok(ExitStatus::from_passed(same));
    }
    for ((old, new), result) in pairs.iter().zip(&results) {
        print_pair(old, new, result, args.show, printer);
    }
    Ok(ExitStatus::from_passed(same))
}

fn print_pair(
    old: &DatasetVersion,
    new: &DatasetVersion,
    result: &VersionDiff,
    show: usize,
    printer: Printer,
) {
    let diff = &result.diff;
    let heading = format!("`{}` -> `{}`", result.old, result.new);
    if diff.is_empty() {
        let order = if diff.reordered { " (reordered)" } else { "" };
        printer.out(&format!(
            "{heading}: {} ({}){order}",
            printer.style("same records", Style::Good),
            plural(result.new_records, "record")
        ));
        return;
    }
    printer.out(&format!(
        "{heading}: {} added, {} removed, {} changed ({} -> {})",
        diff.added.len(),
        diff.removed.len(),
        diff.changed.len(),
        plural(result.old_records, "record"),
        plural(result.new_records, "record"),
    ));
    if let Some(summary) = diff.label_summary() {
        printer.out(&format!("  {}", printer.style(&summary, Style::Warn)));
        let mut directions: Vec<(&String, &u64)> = diff.label_changes.iter().collect();
        directions.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        for (direction, count) in directions.iter().take(show) {
            printer.out(&format!("    {count:>6}  {direction}"));
        }
    }
    let shifts = label_shifts(&old.label_counts, &new.label_counts);
    if !shifts.is_empty() {
        printer.out(&format!("  label counts: {}", shifts.join(", ")));
    }
    if !diff.added.is_empty() {
        printer.out(&format!("  added: {}", list_some(&diff.added, show)));
    }
    if !diff.removed.is_empty() {
        printer.out(&format!("  removed: {}", list_some(&diff.removed, show)));
    }
    if !diff.changed.is_empty() {
        let changed: Vec<String> = diff
            .changed
            .iter()
            .take(show)
            .map(|change| match &change.label {
                Some(label) => format!(
                    "`{}` (label `{}` -> `{}`)",
                    escape_control(&change.id),
                    escape_control(label.old.as_deref().unwrap_or("none")),
                    escape_control(label.new.as_deref().unwrap_or("none"))
                ),
                None => format!(
                    "`{}` ({})",
                    escape_control(&change.id),
                    change.fields.join(", ")
                ),
            })
            .collect();
        printer.out(&format!(
            "  changed: {}",
            list_plain(&changed, show, diff.changed.len())
        ));
    }
}

/// Label counts that moved, as `` `cat` 50 -> 80 ``, largest move first.
fn label_shifts(old: &BTreeMap<String, u64>, new: &BTreeMap<String, u64>) -> Vec<String> {
    let mut changes = antidote_provenance::verify::label_count_changes(old, new);
    changes.sort_by_key(|(_, before, after)| std::cmp::Reverse(before.abs_diff(*after)));
    changes
        .into_iter()
        .take(8)
        .map(|(label, before, after)| format!("`{}` {before} -> {after}", escape_control(&label)))
        .collect()
}

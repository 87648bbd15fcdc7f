//! `antidote profile`: a mergeable profile of a dataset.

use std::time::Instant;

use antidote_core::display::{escape_control, percent, percent_tenths, plural};
use antidote_validate::profile::Profile;
use anyhow::Context;
use serde_json::json;

use super::{read_profile, record};
use crate::cli::ProfileArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Profiles a dataset, or merges profiles.
pub fn profile(
    args: &ProfileArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let mut profile = if args.merge.is_empty() {
        let Some(path) = args.data.as_ref() else {
            return Err(UserError::new(
                "nothing to profile",
                "name a dataset, or `--merge` two or more profiles",
            )
            .into());
        };
        super::profile_data(
            path,
            args.engine,
            &args.cluster,
            &args.dataset.read_options(),
            printer,
        )?
    } else {
        let mut merged: Option<Profile> = None;
        for path in &args.merge {
            let next = read_profile(path)?;
            match &mut merged {
                None => merged = Some(next),
                Some(profile) => profile
                    .merge(&next)
                    .with_context(|| format!("failed to merge `{}`", path.display()))?,
            }
        }
        merged.ok_or_else(|| {
            UserError::new("nothing to merge", "`--merge` takes two or more profiles")
        })?
    };
    profile.summarize();
    profile
        .write(&args.output)
        .with_context(|| format!("failed to write the profile `{}`", args.output.display()))?;
    if profile.skipped > 0 {
        printer.warn(&format!(
            "skipped {} (`--skip-bad`)",
            plural(profile.skipped, "malformed record")
        ));
    }
    record(
        settings,
        printer,
        "profile",
        &args.output.display().to_string(),
        "ok",
        json!({ "sources": profile.sources, "records": profile.record_count, "columns": profile.columns.len() }),
    );
    if printer.json {
        printer.out_json(&json!({ "profile": args.output, "records": profile.record_count, "sources": profile.sources }))?;
        return Ok(ExitStatus::Success);
    }
    print_profile(&profile, printer, started.elapsed().as_secs_f64());
    printer.out(&format!("wrote `{}`", args.output.display()));
    printer.note(&format!(
        "{}: check new data against it with `antidote check DATA --baseline {}`",
        printer.style_err("next", Style::Dim),
        args.output.display()
    ));
    Ok(ExitStatus::Success)
}

fn print_profile(profile: &Profile, printer: Printer, seconds: f64) {
    printer.out(&format!(
        "profiled {}: {}, {}, {} exact duplicates, in {seconds:.2}s",
        profile
            .sources
            .iter()
            .map(|source| format!("`{source}`"))
            .collect::<Vec<_>>()
            .join(", "),
        plural(profile.record_count, "record"),
        plural(profile.columns.len() as u64, "column"),
        percent(profile.duplicate_rate()),
    ));
    let width = profile
        .columns
        .iter()
        .map(|column| column.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    printer.out(&printer.style(
        &format!(
            "  {:<width$}  {:<11}  {:<9}  {:>7}  summary",
            "column", "kind", "role", "missing"
        ),
        Style::Bold,
    ));
    for column in &profile.columns {
        printer.out(&format!(
            "  {:<width$}  {:<11}  {:<9}  {:>7}  {}",
            escape_control(&column.name),
            column.kind.to_string(),
            column.role.to_string(),
            percent_tenths(column.missing_share()),
            column.summary()
        ));
    }
    if let Some(label) = &profile.label {
        let shares = profile.label_shares();
        let mut shares: Vec<(String, f64)> = shares.into_iter().collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let listed: Vec<String> = shares
            .iter()
            .take(12)
            .map(|(label, share)| format!("`{}` {}", escape_control(label), percent(*share)))
            .collect();
        let more = if shares.len() > 12 {
            format!(" and {} more", shares.len() - 12)
        } else {
            String::new()
        };
        printer.out(&format!(
            "  labels ({}, entropy {:.3} bits): {}{more}",
            shares.len(),
            label.entropy_bits(),
            listed.join(", ")
        ));
    }
}

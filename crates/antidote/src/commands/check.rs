//! `antidote check`: new data against a baseline profile.

use antidote_core::Severity;
use antidote_data::Dataset;
use antidote_validate::check::{self as validation, CheckReport};
use antidote_validate::profile::Profile;
use anyhow::Context;
use serde_json::json;

use super::profile::read_profile;
use super::{escape, record};
use crate::cli::{CheckArgs, GlobalArgs};
use crate::printer::{Printer, Style};
use crate::{ExitStatus, settings};

/// Checks a dataset against a baseline and reports anomalies, worst first.
pub fn check(
    args: &CheckArgs,
    global: &GlobalArgs,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let (config, config_path) = settings::load_config(args.rules.as_deref())?;
    let baseline = read_profile(&args.baseline)?;
    let dataset = Dataset::open(&args.data, &args.dataset.read_options())
        .with_context(|| format!("failed to open the dataset `{}`", args.data.display()))?;
    let progress = printer.progress();
    let current = Profile::of_dataset(dataset, progress.as_ref())?;
    let mut report = validation::check(&baseline, &current, &config.check);
    report
        .anomalies
        .extend(config.rules.evaluate(&current, &report.drift));
    for anomaly in &mut report.anomalies {
        if let Some(severity) = config.severity.get(&anomaly.check) {
            anomaly.severity = *severity;
        }
    }
    report
        .anomalies
        .sort_by_key(|anomaly| std::cmp::Reverse(anomaly.severity));
    let passed = report.passed();
    record(
        global,
        printer,
        "check",
        &args.data.display().to_string(),
        if passed { "passed" } else { "failed" },
        json!({
            "baseline": args.baseline,
            "config": config_path,
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
        }),
    );
    if printer.json {
        printer.out_json(&json!({ "passed": passed, "config": config_path, "report": report }))?;
    } else {
        print_report(&report, args, printer);
    }
    Ok(ExitStatus::from_passed(passed))
}

fn print_report(report: &CheckReport, args: &CheckArgs, printer: Printer) {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let verdict = if report.passed() {
        printer.style("OK", Style::Good)
    } else {
        printer.style("FAILED", Style::Bad)
    };
    printer.out(&format!(
        "{verdict}: {errors} error{}, {warnings} warning{} in `{}` against baseline `{}` ({} -> {} records)",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
        args.data.display(),
        args.baseline.display(),
        report.baseline_records,
        report.current_records
    ));
    for anomaly in report
        .anomalies
        .iter()
        .filter(|anomaly| anomaly.severity > Severity::Info)
        .take(args.show)
    {
        let severity = match anomaly.severity {
            Severity::Error => printer.style("error  ", Style::Bad),
            Severity::Warning => printer.style("warning", Style::Warn),
            Severity::Info => "info   ".to_owned(),
        };
        printer.out(&format!(
            "  {severity}  {:<16} {}",
            anomaly.check,
            escape(&anomaly.message)
        ));
        if let Some(tokens) = anomaly
            .details
            .as_array()
            .filter(|_| anomaly.check == "drift")
        {
            let named: Vec<String> = tokens
                .iter()
                .filter_map(|token| token["token"].as_str())
                .take(8)
                .map(|token| format!("`{}`", escape(token)))
                .collect();
            if !named.is_empty() {
                printer.out(&format!(
                    "                             carried by {}",
                    named.join(", ")
                ));
            }
        }
    }
    let shown = report
        .anomalies
        .iter()
        .filter(|anomaly| anomaly.severity > Severity::Info)
        .count();
    if shown > args.show {
        printer.out(&format!(
            "  ... and {} more (use `--json` for all)",
            shown - args.show
        ));
    }
    let drifted = report.drift.iter().filter(|column| column.drifted).count();
    printer.out(&format!(
        "  drift: {} of {} compared columns drifted",
        drifted,
        report.drift.len()
    ));
    let mut columns: Vec<&antidote_validate::check::ColumnDrift> = report.drift.iter().collect();
    columns.sort_by_key(|column| !column.drifted);
    for column in columns.iter().take(args.show) {
        let comparison = if column.statistic.ends_with("p-value") {
            "threshold <"
        } else {
            "threshold >"
        };
        printer.out(&format!(
            "    {:<24} {} {:.4} ({comparison} {}){}",
            escape(&column.column),
            column.statistic,
            column.value,
            column.threshold,
            if column.drifted {
                format!("  {}", printer.style("DRIFTED", Style::Warn))
            } else {
                String::new()
            }
        ));
    }
    for text in report
        .anomalies
        .iter()
        .filter(|anomaly| anomaly.check == "text-shift")
    {
        let named: Vec<String> = text
            .details
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|token| token["token"].as_str())
            .take(8)
            .map(|token| format!("`{}`", escape(token)))
            .collect();
        if !named.is_empty() {
            printer.out(&format!(
                "  {}; most grown tokens: {}",
                escape(&text.message),
                named.join(", ")
            ));
        }
    }
}

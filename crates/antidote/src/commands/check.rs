//! `antidote check`: new data against a baseline profile.

use std::io::Write as _;
use std::path::Path;

use antidote_core::Severity;
use antidote_core::display::escape_control;
use antidote_data::output::AtomicFile;
use antidote_report::Report;
use antidote_validate::check::{self as validation, CheckReport};
use antidote_validate::page::CheckPage;
use anyhow::Context;
use serde_json::json;

use super::{provenance_of, read_profile, record};
use crate::ExitStatus;
use crate::cli::CheckArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;

/// Checks a dataset against a baseline and reports anomalies, worst first.
pub fn check(
    args: &CheckArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let (config, config_path) = (&settings.config, &settings.config_path);
    let baseline = read_profile(&args.baseline)?;
    let current = super::profile_data(
        &args.data,
        args.engine,
        &args.cluster,
        &args.dataset.read_options(),
        printer,
    )?;
    let mut report = validation::check(&baseline, &current, &config.check);
    report.apply_rules(&current, &config.rules, &config.severity);
    let passed = report.passed();
    if let Some(path) = &args.report {
        let page = CheckPage {
            report: &report,
            baseline: &baseline,
            current: &current,
            thresholds: &config.check,
            data: &args.data.display().to_string(),
            baseline_path: &args.baseline.display().to_string(),
        };
        let provenance = provenance_of(&[("data", &args.data), ("baseline", &args.baseline)])?;
        let document = page.document(provenance);
        write_report(&document, path)
            .with_context(|| format!("failed to write the report `{}`", path.display()))?;
    }
    record(
        settings,
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
        let mut output = json!({ "passed": passed, "config": config_path, "report": report });
        if let Some(path) = &args.report {
            output["html_report"] = json!(path);
        }
        printer.out_json(&output)?;
    } else {
        print_report(&report, args, printer);
        if let Some(path) = &args.report {
            printer.out(&format!("wrote report `{}`", path.display()));
        }
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
            escape_control(&anomaly.message)
        ));
        if let Some(tokens) = anomaly
            .details
            .as_array()
            .filter(|_| anomaly.check == "drift")
        {
            let named = token_names(tokens);
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
    print_drift(report, args, printer);
    for text in report
        .anomalies
        .iter()
        .filter(|anomaly| anomaly.check == "text-shift")
    {
        let named = token_names(text.details.as_array().map_or(&[][..], Vec::as_slice));
        if !named.is_empty() {
            printer.out(&format!(
                "  {}; most grown tokens: {}",
                escape_control(&text.message),
                named.join(", ")
            ));
        }
    }
}

/// The drift line and the compared columns, drifted first.
fn print_drift(report: &CheckReport, args: &CheckArgs, printer: Printer) {
    let drifted = report.drift.iter().filter(|column| column.drifted).count();
    printer.out(&format!(
        "  drift: {} of {} compared columns drifted",
        drifted,
        report.drift.len()
    ));
    let mut columns: Vec<&validation::ColumnDrift> = report.drift.iter().collect();
    columns.sort_by_key(|column| !column.drifted);
    for column in columns.iter().take(args.show) {
        let comparison = if column.statistic.ends_with("p-value") {
            "threshold <"
        } else {
            "threshold >"
        };
        printer.out(&format!(
            "    {:<24} {} {:.4} ({comparison} {}){}",
            escape_control(&column.column),
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
}

/// Writes the report atomically: a reader never sees half a page.
fn write_report(document: &Report, path: &Path) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.writer
        .write_all(antidote_report::render_html(document).as_bytes())?;
    file.commit()?;
    Ok(())
}

/// The first eight tokens of a text anomaly's details, backticked for the terminal.
fn token_names(tokens: &[serde_json::Value]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|token| token["token"].as_str())
        .take(8)
        .map(|token| format!("`{}`", escape_control(token)))
        .collect()
}

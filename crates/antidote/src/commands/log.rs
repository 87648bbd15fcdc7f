//! `antidote log`: list the ledger, or check its hash chain.

use antidote_provenance::ledger::Ledger;
use serde_json::json;

use crate::cli::LogArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Lists events, or verifies the chain with `--verify`.
pub fn log(args: &LogArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let Some(path) = settings.ledger.clone() else {
        return Err(UserError::new(
            "`--no-ledger` leaves no ledger to read",
            "drop `--no-ledger`",
        )
        .into());
    };
    if !path.is_file() {
        return Err(UserError::new(
            format!("no ledger at `{}`", path.display()),
            "the ledger is created by the first `antidote lock`, `verify`, `diff`, `sign` or `keygen`; name another with `--ledger FILE`",
        )
        .into());
    }
    let ledger = Ledger::open(&path)?;
    if args.verify {
        let report = ledger.verify()?;
        if printer.json {
            printer.out_json(
                &json!({ "ledger": path, "intact": report.is_intact(), "report": report }),
            )?;
        } else if report.is_intact() {
            printer.out(&format!(
                "{}: ledger `{}` holds {} events, hash chain intact",
                printer.style("OK", Style::Good),
                path.display(),
                report.events
            ));
            if let Some(head) = &report.head {
                printer.out(&format!(
                    "head `{head}` (keep it elsewhere to detect truncation later)"
                ));
            }
        } else {
            printer.out(&format!(
                "{}: ledger `{}` was tampered with ({} of {} events affected)",
                printer.style("FAILED", Style::Bad),
                path.display(),
                report.problems.len(),
                report.events
            ));
            for problem in &report.problems {
                printer.out(&format!("  {problem}"));
            }
        }
        return Ok(ExitStatus::from_passed(report.is_intact()));
    }
    let mut events = ledger.events()?;
    if let Some(limit) = args.limit {
        let skip = events.len().saturating_sub(limit);
        events.drain(..skip);
    }
    if printer.json {
        printer.out_json(&events)?;
        return Ok(ExitStatus::Success);
    }
    for event in &events {
        let outcome = match event.outcome.as_str() {
            "failed" | "changed" => printer.style(&event.outcome, Style::Bad),
            _ => event.outcome.clone(),
        };
        printer.out(&format!(
            "{:>4}  {}  {:<7} {:<8} {}  {}",
            event.seq,
            event.time,
            event.kind,
            outcome,
            antidote_core::display::escape_control(&event.subject),
            printer.style(&event.actor, Style::Dim)
        ));
    }
    if events.is_empty() {
        printer.note("the ledger is empty");
    }
    Ok(ExitStatus::Success)
}

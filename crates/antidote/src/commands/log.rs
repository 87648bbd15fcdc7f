//! `antidote log`: list the ledger, or check its hash chain.

use std::path::Path;

use antidote_core::NoProgress;
use antidote_provenance::chain::ModelChain;
use antidote_provenance::ledger::{Event, Ledger};
use antidote_provenance::model::{HashOptions, hash_model};
use anyhow::Context;
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
    if let Some(model) = &args.chain {
        return chain(model, &ledger.events()?, printer);
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

/// Prints the chain data -> scan -> model -> gate of one model; exits 1 when it has a gap.
fn chain(model: &str, events: &[Event], printer: Printer) -> anyhow::Result<ExitStatus> {
    let root = model_root(model)?;
    let chain = ModelChain::find(events, &root);
    let gaps = chain.gaps();
    if printer.json {
        printer.out_json(&json!({ "model": model, "chain": chain, "gaps": gaps }))?;
        return Ok(ExitStatus::from_passed(gaps.is_empty()));
    }
    let escape = antidote_core::display::escape_control;
    printer.out(&format!("chain of model `{}` ({root})", escape(model)));
    let line = |step: &str, event: &Event, what: String| {
        let outcome = match event.outcome.as_str() {
            "failed" | "poisoned" | "findings" => printer.style(&event.outcome, Style::Bad),
            _ => event.outcome.clone(),
        };
        printer.out(&format!(
            "  {step:<6} event {:>4}  {}  {outcome:<8} {what}",
            event.seq, event.time
        ));
    };
    let text = |event: &Event, key: &str| event.details[key].as_str().map(str::to_owned);
    match &chain.data_root {
        Some(root) => printer.out(&format!("  data   {root}")),
        None => printer.out("  data   unknown"),
    }
    for event in &chain.locks {
        line("lock", event, format!("`{}`", escape(&event.subject)));
    }
    for event in &chain.scans {
        line(
            "scan",
            event,
            format!(
                "`{}`: {} flagged, {} quarantined",
                escape(&event.subject),
                event.details["flagged"],
                event.details["quarantined"]
            ),
        );
    }
    if let Some(event) = &chain.training {
        line(
            "train",
            event,
            format!(
                "`{}` -> `{}`",
                escape(&event.subject),
                escape(&text(event, "model").unwrap_or_default())
            ),
        );
    }
    for event in &chain.signatures {
        line(
            "sign",
            event,
            format!(
                "`{}` (key {})",
                escape(&text(event, "signature").unwrap_or_default()),
                text(event, "key_id").unwrap_or_default()
            ),
        );
    }
    for event in &chain.gates {
        line(
            "gate",
            event,
            format!(
                "`{}` on `{}`",
                escape(&text(event, "model").unwrap_or_default()),
                escape(&text(event, "golden").unwrap_or_default())
            ),
        );
    }
    if gaps.is_empty() {
        printer.out(&format!(
            "{}: data scanned, model trained from it and gated (last gate: {})",
            printer.style("OK", Style::Good),
            chain.last_gate().unwrap_or("none")
        ));
    } else {
        printer.out(&format!(
            "{}: the chain has {}",
            printer.style("INCOMPLETE", Style::Bad),
            antidote_core::display::plural(gaps.len() as u64, "gap")
        ));
        for gap in &gaps {
            printer.out(&format!("  - {gap}"));
        }
    }
    Ok(ExitStatus::from_passed(gaps.is_empty()))
}

/// The root digest of `model`: given as `sha256:...`, or computed from the file or folder.
fn model_root(model: &str) -> anyhow::Result<String> {
    if let Some(hex) = model.strip_prefix("sha256:")
        && hex.len() == 64
        && hex.bytes().all(|byte| byte.is_ascii_hexdigit())
    {
        return Ok(model.to_ascii_lowercase());
    }
    let path = Path::new(model);
    if !path.exists() {
        return Err(UserError::new(
            format!("the model `{model}` does not exist"),
            "give the model file or folder, or its root digest `sha256:...` (what `antidote sign-model` prints)",
        )
        .into());
    }
    let manifest = hash_model(path, &HashOptions::default(), &NoProgress)
        .with_context(|| format!("failed to hash the model `{model}`"))?;
    Ok(manifest.root_digest().to_string())
}

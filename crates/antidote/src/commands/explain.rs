//! `antidote explain`: what a detector looks for, how, its limits and its references.

use antidote_detect::DetectorId;
use serde_json::json;

use crate::cli::ExplainArgs;
use crate::printer::{Printer, Style};
use crate::{ExitStatus, UserError};

/// The full explanation of a detector.
#[must_use]
pub fn explanation(detector: DetectorId) -> &'static str {
    antidote_detect::detectors::explanation(detector)
}

/// Prints one detector's explanation, or the list of detectors.
pub fn explain(args: &ExplainArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let Some(name) = &args.detector else {
        if printer.json {
            let list: Vec<_> = DetectorId::ALL
                .iter()
                .map(|id| json!({ "detector": id.name(), "summary": headline(*id) }))
                .collect();
            printer.out_json(&list)?;
            return Ok(ExitStatus::Success);
        }
        printer.out("Detectors of `antidote scan`:");
        for id in DetectorId::ALL {
            printer.out(&format!("  {:<23}{}", id.name(), headline(id)));
        }
        printer.note(&format!(
            "{}: `antidote explain DETECTOR` for what it looks for, how, its limits and references",
            printer.style_err("more", Style::Dim)
        ));
        return Ok(ExitStatus::Success);
    };
    let Some(id) = DetectorId::from_name(name) else {
        return Err(UserError::new(
            format!("there is no detector `{name}`"),
            format!(
                "the detectors are {}",
                DetectorId::ALL.map(DetectorId::name).join(", ")
            ),
        )
        .into());
    };
    if printer.json {
        printer.out_json(&json!({ "detector": id.name(), "explanation": explanation(id) }))?;
    } else {
        printer.out(explanation(id));
    }
    Ok(ExitStatus::Success)
}

/// The first line of the explanation.
fn headline(id: DetectorId) -> &'static str {
    explanation(id).lines().next().unwrap_or_default()
}

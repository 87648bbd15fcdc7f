//! `antidote explain`: what a detector looks for, how, its limits and its references.

use antidote_detect::DetectorId;
use serde_json::json;

use crate::cli::ExplainArgs;
use crate::printer::{Printer, Style};
use crate::{ExitStatus, UserError};

/// The full explanation of a detector, as `antidote explain` prints it: rendered from the
/// markdown outline that is also the detector's rustdoc.
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
    let text = antidote_detect::detectors::explanation_of(id).to_text();
    if printer.json {
        printer.out_json(&json!({ "detector": id.name(), "explanation": text }))?;
    } else {
        printer.out(&text);
    }
    Ok(ExitStatus::Success)
}

/// The first paragraph of the explanation: the detector's name and what it catches.
fn headline(id: DetectorId) -> String {
    antidote_detect::detectors::explanation_of(id).summary
}

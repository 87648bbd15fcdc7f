//! The detectors, one file each, named for the anomaly they flag.

pub mod activation_clustering;
pub mod duplicates;
pub(crate) mod geometry;
pub mod instruction;
pub mod label_issues;
pub mod outliers;
pub mod sources;
pub mod spectral;
pub mod triggers;

use std::sync::LazyLock;

use antidote_core::Explanation;

use crate::DetectorId;
use crate::detector::{DETECTORS, detector};

/// Every detector's explanation, rendered once.
static TEXTS: LazyLock<Vec<(DetectorId, String)>> = LazyLock::new(|| {
    DETECTORS
        .iter()
        .map(|detector| (detector.id(), detector.explanation().to_text()))
        .collect()
});

/// What `antidote explain DETECTOR` prints: the first line names the detector and what it
/// catches; then what it looks for, how it decides, its limits and its references. Rendered
/// from the detector's markdown outline (its rustdoc), see [`explanation_of`].
///
/// # Panics
///
/// Never: every id is registered (tested).
#[must_use]
pub fn explanation(detector: DetectorId) -> &'static str {
    TEXTS
        .iter()
        .find(|(id, _)| *id == detector)
        .map(|(_, text)| text.as_str())
        .expect("every detector id is registered (tested)")
}

/// The structured explanation of `id`: what it detects, why it matters, how it works, its
/// limits and its references.
#[must_use]
pub fn explanation_of(id: DetectorId) -> Explanation {
    detector(id).explanation()
}

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

use crate::DetectorId;

/// What `antidote explain DETECTOR` prints: the first line names the detector and what it
/// catches; then what it looks for, how it decides, its limits and its references.
#[must_use]
pub fn explanation(detector: DetectorId) -> &'static str {
    match detector {
        DetectorId::LabelIssues => label_issues::EXPLANATION,
        DetectorId::Duplicates => duplicates::EXPLANATION,
        DetectorId::Outliers => outliers::EXPLANATION,
        DetectorId::SpectralSignatures => spectral::EXPLANATION,
        DetectorId::ActivationClustering => activation_clustering::EXPLANATION,
        DetectorId::TriggerSearch => triggers::EXPLANATION,
        DetectorId::InstructionPoisoning => instruction::EXPLANATION,
        DetectorId::SourceTrust => sources::EXPLANATION,
    }
}

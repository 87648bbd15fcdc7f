//! Layer 2b of antidote: detection of the poisoned records themselves.
//!
//! Validation (layer 2a) sees that a dataset changed; detection says which records are poisoned
//! and why. Each detector reads what a model or a representation reveals about every record
//! (out-of-sample probabilities, embeddings) and gives each one a verdict with a sentence a person
//! can check. The crate will hold the detectors (label issues, duplicates, outliers, spectral
//! signatures, activation clustering, trigger search, instruction poisoning, source trust), the
//! fusion of their scores into one suspicion per record, and the policy that decides what is
//! quarantined; `antidote scan` drives them.
//!
//! Every detector implements the [`Detector`] trait, and [`DETECTORS`] lists them in running
//! order: [`scan::scan`] is a loop over that list. A detector says what it [`Need`]s (labels,
//! a text or image column, sources), so that the reasons a detector is skipped are written in
//! one place, and its report carries a typed [`DetectorStatus`].
//!
//! The first detector is [`LabelIssues`], confident learning on out-of-sample probabilities,
//! which flags the same records as cleanlab's `find_label_issues`. Detectors take their
//! parameters through a builder whose `check()` returns the only type that can `run`:
//!
//! ```
//! use antidote_detect::LabelIssues;
//!
//! // Out-of-sample probabilities of three classes, one row per record.
//! let probabilities = [
//!     [0.90, 0.05, 0.05], [0.85, 0.10, 0.05], [0.80, 0.10, 0.10], [0.90, 0.05, 0.05],
//!     [0.05, 0.90, 0.05], [0.10, 0.85, 0.05], [0.10, 0.80, 0.10], [0.05, 0.90, 0.05],
//!     [0.05, 0.05, 0.90], [0.05, 0.10, 0.85], [0.10, 0.10, 0.80], [0.05, 0.05, 0.90],
//!     // Labelled `0`, but the model is sure it is a `2`.
//!     [0.03, 0.02, 0.95],
//! ];
//! let labels = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0];
//!
//! let detector = LabelIssues::params().check()?;
//! let report = detector.run(&labels, probabilities.as_flattened(), 3)?;
//! assert_eq!(report.flagged_indices(), [12]);
//! assert_eq!(
//!     report.records[12].explanation,
//!     "labelled `0` but the model gives it 0.03 and gives `2` 0.95 (threshold for `2`: 0.86)",
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod concentration;
pub mod detector;
pub mod detectors;
pub mod findings;
pub mod fusion;
pub mod output;
pub mod page;
pub mod policy;
mod predictor;
pub mod probabilities;
mod report;
pub mod scan;
mod stats;

pub use antidote_core::DetectorStatus;
pub use antidote_core::Trigger;
pub use detector::{DETECTORS, Detector, Learned, Need, ScanContext};
pub use predictor::{PredictError, Predictor, Reclassifier, Transfer};
pub use report::{
    Basis, ClassVerdict, DetectorId, DetectorReport, DiscoveredTrigger, Flag, SourceVerdict,
};

pub use detectors::duplicates::{
    Duplicates, DuplicatesError, DuplicatesParams, DuplicatesParamsError, DuplicatesValidParams,
};
pub use detectors::instruction::{
    InstructionPair, InstructionPoisoning, InstructionPoisoningError, InstructionPoisoningParams,
    InstructionPoisoningParamsError, InstructionPoisoningValidParams, InstructionShape,
};
pub use detectors::label_issues::{
    LabelIssueRecord, LabelIssues, LabelIssuesError, LabelIssuesParams, LabelIssuesParamsError,
    LabelIssuesReport, LabelIssuesValidParams,
};
pub use detectors::outliers::{
    Outliers, OutliersError, OutliersParams, OutliersParamsError, OutliersValidParams,
};
pub use detectors::sources::{
    SourceTrust, SourceTrustError, SourceTrustParams, SourceTrustParamsError,
    SourceTrustValidParams,
};
pub use detectors::triggers::{
    TestedCandidate, TriggerColumn, TriggerSearch, TriggerSearchError, TriggerSearchOutcome,
    TriggerSearchParams, TriggerSearchParamsError, TriggerSearchValidParams,
};

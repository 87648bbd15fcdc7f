//! The [`Detector`] trait, the [`ScanContext`] a scan hands each detector, and the registry of
//! every detector in running order ([`DETECTORS`]).
//!
//! Adding a detector is one file in `detectors/` (the type, its markdown explanation next to it,
//! and `impl Detector`) and one line in [`DETECTORS`] (plus its [`DetectorId`]).

use antidote_core::{Explanation, Progress, ProgressUnit};
use antidote_data::{PayloadKind, Record, Schema};
use antidote_learn::{Features, Featurizer, MlpModel};

use crate::detectors::activation_clustering::ActivationClustering;
use crate::detectors::spectral::SpectralSignatures;
use crate::scan::{ScanError, ScanOptions};
use crate::{
    DetectorId, DetectorReport, Duplicates, InstructionPoisoning, LabelIssues, Outliers,
    SourceTrust, TriggerSearch,
};

/// A detector of poisoned records that `antidote scan` runs.
pub trait Detector: Sync {
    /// Its id: its name on the command line and in the reports.
    fn id(&self) -> DetectorId;

    /// What the data must have for it to run; the scan skips it, saying why, when a need is
    /// unmet (see [`Need::unmet`]), so that no detector writes its own skip reasons.
    fn needs(&self) -> &'static [Need] {
        &[]
    }

    /// Its explanation as a markdown outline, the same text as the type's rustdoc
    /// (`include_str!` of the markdown file next to it).
    fn explanation_markdown(&self) -> &'static str;

    /// Its explanation, parsed.
    fn explanation(&self) -> Explanation {
        Explanation::parse(self.explanation_markdown())
            .expect("every detector's explanation is a full outline (tested)")
    }

    /// Runs on the data of `context`, whose needs are met. A failure that concerns only this
    /// detector on this data is a skipped report, not an error.
    ///
    /// # Errors
    ///
    /// [`ScanError`] when a model the detector needs cannot be trained.
    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError>;
}

/// Every detector, in the order a scan runs them: source trust reads the reports of the others,
/// so it comes last.
pub static DETECTORS: [&dyn Detector; 8] = [
    &LabelIssues,
    &Duplicates,
    &Outliers,
    &SpectralSignatures,
    &ActivationClustering,
    &TriggerSearch,
    &InstructionPoisoning,
    &SourceTrust,
];

/// The registered detector with this id.
///
/// # Panics
///
/// Never: every id is registered (tested).
#[must_use]
pub fn detector(id: DetectorId) -> &'static dyn Detector {
    DETECTORS
        .iter()
        .copied()
        .find(|detector| detector.id() == id)
        .expect("every detector id is registered (tested)")
}

/// What a detector needs from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A label on every record and at least two classes; the scan then trains its models
    /// ([`ScanContext::learned`]).
    Classes,
    /// A representation in which a backdoor shows: not the built-in network's on text alone,
    /// unless the caller gives an embedding column.
    BackdoorRepresentation,
    /// A text or image column.
    TriggerColumn,
    /// A source on at least one record.
    Sources,
}

impl Need {
    /// Why `context` does not meet this need, or `None` when it does.
    #[must_use]
    pub fn unmet(self, context: &ScanContext<'_>) -> Option<String> {
        match self {
            Self::Classes => context.learned.is_none().then(|| {
                if context.labels.is_some() {
                    format!(
                        "needs at least two classes, the data has {}",
                        context.class_names.len()
                    )
                } else {
                    "needs a label on every record (name the label column with `--label`)"
                        .to_owned()
                }
            }),
            Self::BackdoorRepresentation => context
                .learned
                .is_some_and(|learned| learned.text_only && context.embedding.is_none())
                .then(|| TEXT_GEOMETRY.to_owned()),
            Self::TriggerColumn => trigger_column(context.schema)
                .is_none()
                .then(|| "the data has no text or image column".to_owned()),
            Self::Sources => context
                .records
                .iter()
                .all(|record| record.source.is_none())
                .then(|| "no record names its source (name the column with `--source`)".to_owned()),
        }
    }
}

/// Why spectral signatures and activation clustering do not judge text on their own.
const TEXT_GEOMETRY: &str = "on text, the built-in network's representation (hashed words and \
character n-grams) separates topics, not triggers: on clean fortunes it judged whole classes \
poisoned. Trigger search and label issues cover text; give `--embedding COLUMN` (a \
representation from your own model) to run this detector";

/// What the scan learned from labelled data with at least two classes.
#[derive(Debug)]
pub struct Learned {
    /// Whether the only payload is text (no image, number or embedding column).
    pub text_only: bool,
    /// The featurizer fitted on the records.
    pub featurizer: Featurizer,
    /// The records' features.
    pub features: Features,
    /// Out-of-sample probabilities, `records x classes` row-major (empty when label issues does
    /// not run and none were given).
    pub probabilities: Vec<f32>,
    /// The representation the geometric detectors read, `records x width` row-major (empty when
    /// none of them runs).
    pub representation: Vec<f32>,
    /// The representation's width.
    pub width: usize,
    /// The number of classes.
    pub class_count: usize,
    /// The network trained on every record, when the scan trained one: the model image trigger
    /// search questions.
    pub network: Option<MlpModel>,
}

/// What a detector reads: the data, what the scan learned from it, the reports of the detectors
/// that ran before, the options and the progress.
#[derive(Clone, Copy)]
pub struct ScanContext<'a> {
    /// The records, in order.
    pub records: &'a [Record],
    /// Their schema.
    pub schema: &'a Schema,
    /// Each record's class index, when every record is labelled.
    pub labels: Option<&'a [usize]>,
    /// Class names by index (empty for unlabelled data).
    pub class_names: &'a [String],
    /// The features, probabilities and representation, for labelled data with two classes.
    pub learned: Option<&'a Learned>,
    /// The caller's embedding column, when given.
    pub embedding: Option<&'a str>,
    /// The reports of the detectors that ran before, in running order.
    pub earlier: &'a [DetectorReport],
    /// The scan's options.
    pub options: &'a ScanOptions,
    /// Where to report progress.
    pub progress: &'a dyn Progress,
}

impl ScanContext<'_> {
    /// The labels and what was learned from them, for a detector that needs [`Need::Classes`].
    ///
    /// # Panics
    ///
    /// When the data is not labelled with two classes: the scan never runs such a detector then.
    #[must_use]
    pub fn classes(&self) -> (&[usize], &Learned) {
        match (self.labels, self.learned) {
            (Some(labels), Some(learned)) => (labels, learned),
            _ => panic!("a detector that needs `Need::Classes` runs only on labelled data"),
        }
    }

    /// Runs `work` as one progress stage named for `detector`.
    pub fn stage<T>(&self, detector: DetectorId, work: impl FnOnce() -> T) -> T {
        self.progress
            .start(detector.name(), None, ProgressUnit::Records);
        let result = work();
        self.progress.finish();
        result
    }

    /// The column trigger search reads: the image column, else the text column; `true` for
    /// images.
    #[must_use]
    pub fn trigger_column(&self) -> Option<(&str, bool)> {
        trigger_column(self.schema)
    }
}

/// The column trigger search reads: the image column, else the text column; `true` for images.
pub(crate) fn trigger_column(schema: &Schema) -> Option<(&str, bool)> {
    schema
        .payload_column()
        .map(|(column, kind)| (column, kind == PayloadKind::Image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_holds_every_detector_once_in_running_order() {
        let ids: Vec<DetectorId> = DETECTORS.iter().map(|detector| detector.id()).collect();
        assert_eq!(ids, DetectorId::ALL);
        for id in DetectorId::ALL {
            assert_eq!(detector(id).id(), id);
        }
    }

    #[test]
    fn every_explanation_is_a_full_outline_named_for_its_detector() {
        for detector in DETECTORS {
            let explanation = detector.explanation();
            assert!(!explanation.summary.is_empty(), "{}", detector.id());
            assert!(
                explanation.summary.contains(':'),
                "{}: {}",
                detector.id(),
                explanation.summary
            );
            let text = explanation.to_text();
            assert!(text.starts_with(&explanation.summary));
            assert!(text.ends_with('.'), "{}", detector.id());
        }
    }
}

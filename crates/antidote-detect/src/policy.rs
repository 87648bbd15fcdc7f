//! The policy: which records are quarantined and when the data must not be trained on.
//!
//! Defaults need no configuration; `antidote.toml` overrides them under `[scan]`:
//!
//! ```toml
//! [scan]
//! quarantine_score = 0.5        # quarantine records whose fused score reaches this
//! max_quarantine_share = 0.1    # more quarantined than this share: do not train
//! fail_on_triggers = true       # a confirmed backdoor trigger: do not train
//! fail_on_classes = true        # a class with a backdoor's signature: do not train
//! fail_on_sources = true        # a distrusted source: do not train
//! ```

use antidote_core::display::percent;
use serde::{Deserialize, Serialize};

use crate::DetectorReport;
use crate::fusion::FusedRecord;

/// What decides the quarantine and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Records whose fused score is at least this are quarantined.
    pub quarantine_score: f64,
    /// When more than this share of the records is quarantined, the data must not be trained on.
    ///
    /// Real data has doubtful labels that no attacker put there: the clean Fashion-MNIST
    /// training set has 3.3% of its records quarantined, nearly all for labels the network
    /// confidently disagrees with, and its first 6,000 images 6.0% (a smaller training set makes
    /// a less sure model); uniform label flipping of 10% quarantines 20% of the full set, and 5%
    /// flipped quarantines 9% to 13% of the subset, depending on the seed: uniform flips at a
    /// low rate look like natural noise. Audits of benchmark datasets find 3% of labels
    /// wrong on average and up to 10% (Northcutt, Athalye and Mueller 2021, "Pervasive Label
    /// Errors in Test Sets Destabilize Machine Learning Benchmarks"). The default of 10% passes
    /// the clean sets and fails the flipped ones; lower it for data known to be clean.
    pub max_quarantine_share: f64,
    /// A confirmed trigger fails the scan.
    pub fail_on_triggers: bool,
    /// A class judged poisoned (spectral signatures, activation clustering) fails the scan.
    pub fail_on_classes: bool,
    /// A distrusted source fails the scan.
    pub fail_on_sources: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            quarantine_score: 0.5,
            max_quarantine_share: 0.1,
            fail_on_triggers: true,
            fail_on_classes: true,
            fail_on_sources: true,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the data may be trained on.
    pub train: bool,
    /// Why not, one sentence each (empty when `train`).
    pub reasons: Vec<String>,
    /// How many records are quarantined.
    pub quarantined: usize,
    /// How many records were scanned.
    pub records: usize,
}

impl Policy {
    /// Whether a fused score reaches the quarantine.
    fn quarantines(&self, record: &FusedRecord) -> bool {
        record.score >= self.quarantine_score
    }

    /// The most records of `records` the policy quarantines before it fails the data: the
    /// largest count whose share is within `max_quarantine_share`. Said as a count, so that a
    /// failed share is never written as the same rounded percentage as the limit it passed.
    #[must_use]
    pub fn quarantine_limit(&self, records: usize) -> usize {
        let within =
            |count: usize| count as f64 / records.max(1) as f64 <= self.max_quarantine_share;
        let mut limit = ((self.max_quarantine_share * records as f64)
            .floor()
            .max(0.0) as usize)
            .min(records);
        while limit < records && within(limit + 1) {
            limit += 1;
        }
        while limit > 0 && !within(limit) {
            limit -= 1;
        }
        limit
    }

    /// Decides, from the fused records and the detectors' reports: marks each fused record
    /// [`quarantined`](FusedRecord::quarantined) or not (the one place the quarantine rule is
    /// applied), then gives the verdict. `class_name` names a class index.
    #[must_use]
    pub fn decide(
        &self,
        records: usize,
        fused: &mut [FusedRecord],
        reports: &[DetectorReport],
        class_name: &dyn Fn(usize) -> String,
    ) -> Verdict {
        for record in fused.iter_mut() {
            record.quarantined = self.quarantines(record);
        }
        let quarantined = fused.iter().filter(|record| record.quarantined).count();
        let mut reasons = Vec::new();
        let share = quarantined as f64 / records.max(1) as f64;
        if share > self.max_quarantine_share {
            reasons.push(format!(
                "{quarantined} of {records} records are quarantined, more than the {} ({}) the policy accepts",
                self.quarantine_limit(records),
                percent(self.max_quarantine_share)
            ));
        }
        for report in reports {
            if self.fail_on_triggers {
                for trigger in report.triggers.iter().filter(|trigger| trigger.confirmed) {
                    reasons.push(format!("{}: {}", report.detector, trigger.explanation));
                }
            }
            if self.fail_on_classes {
                for verdict in report.classes.iter().filter(|verdict| verdict.suspicious) {
                    reasons.push(format!(
                        "{}: class `{}` carries a backdoor's signature",
                        report.detector,
                        class_name(verdict.class)
                    ));
                }
            }
            if self.fail_on_sources {
                for source in report.sources.iter().filter(|source| source.suspicious) {
                    reasons.push(format!("{}: {}", report.detector, source.explanation));
                }
            }
        }
        Verdict {
            train: reasons.is_empty(),
            reasons,
            quarantined,
            records,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassVerdict, DetectorId};

    fn fused(index: usize, score: f64) -> FusedRecord {
        FusedRecord {
            index,
            score,
            detectors: vec![DetectorId::LabelIssues],
            confidences: vec![score],
            evidence: vec![String::new()],
            marks: Vec::new(),
            quarantined: false,
        }
    }

    #[test]
    fn quarantine_share_and_suspicious_classes_fail_the_data() {
        let policy = Policy::default();
        let name = |class: usize| format!("c{class}");
        let mut few = [fused(0, 0.9), fused(1, 0.4)];
        let verdict = policy.decide(100, &mut few, &[], &name);
        assert!(verdict.train, "{verdict:?}");
        assert_eq!(verdict.quarantined, 1);
        assert_eq!([few[0].quarantined, few[1].quarantined], [true, false]);

        // Ten of a hundred is the most the default accepts; eleven fail.
        let mut ten: Vec<FusedRecord> = (0..10).map(|index| fused(index, 0.7)).collect();
        assert!(policy.decide(100, &mut ten, &[], &name).train);
        let mut many: Vec<FusedRecord> = (0..11).map(|index| fused(index, 0.7)).collect();
        let verdict = policy.decide(100, &mut many, &[], &name);
        assert!(!verdict.train);
        assert!(
            verdict.reasons[0].contains(
                "11 of 100 records are quarantined, more than the 10 (10%) the policy accepts"
            ),
            "{:?}",
            verdict.reasons
        );

        let mut report = DetectorReport::new(DetectorId::ActivationClustering);
        report.classes.push(ClassVerdict {
            class: 2,
            suspicious: true,
            statistic: 0.7,
            flagged: 10,
            explanation: String::new(),
        });
        let verdict = policy.decide(100, &mut few, &[report.clone()], &name);
        assert_eq!(
            verdict.reasons,
            ["activation-clustering: class `c2` carries a backdoor's signature"]
        );
        let lenient = Policy {
            fail_on_classes: false,
            ..Policy::default()
        };
        assert!(lenient.decide(100, &mut few, &[report], &name).train);
    }

    #[test]
    fn the_limit_is_the_largest_count_within_the_share() {
        let policy = Policy::default();
        assert_eq!(policy.quarantine_limit(100), 10);
        assert_eq!(policy.quarantine_limit(3246), 324);
        assert_eq!(policy.quarantine_limit(9), 0);
        assert_eq!(policy.quarantine_limit(0), 0);
        let all = Policy {
            max_quarantine_share: 1.0,
            ..Policy::default()
        };
        assert_eq!(all.quarantine_limit(7), 7);
    }

    #[test]
    fn reads_the_scan_table_and_refuses_unknown_keys() {
        let policy: Policy = toml_like("quarantine_score = 0.8");
        assert!((policy.quarantine_score - 0.8).abs() < 1e-12);
        assert!(
            (policy.max_quarantine_share - Policy::default().max_quarantine_share).abs() < 1e-12
        );
        assert!(serde_json::from_str::<Policy>(r#"{"quarantine": 1}"#).is_err());
    }

    fn toml_like(line: &str) -> Policy {
        let (key, value) = line.split_once(" = ").unwrap();
        serde_json::from_str(&format!("{{\"{key}\": {value}}}")).unwrap()
    }
}

//! The policy: each flagged record's tier, and when the data must not be trained on.
//!
//! Defaults need no configuration; `antidote.toml` overrides them under `[scan]`:
//!
//! ```toml
//! [scan]
//! significance = 0.001          # label issues concentrated beyond noise at this level: quarantine
//! max_quarantine_share = 0.1    # more quarantined than this share: do not train
//! fail_on_triggers = true       # a confirmed backdoor trigger: do not train
//! fail_on_classes = true        # a class with a backdoor's signature: do not train
//! fail_on_sources = true        # a distrusted source: do not train
//! fail_on_concentrations = true # label issues concentrated beyond noise: do not train
//! ```

use antidote_core::display::percent;
use antidote_data::Record;
use serde::{Deserialize, Serialize};

use crate::concentration::{Concentration, Issue, IssueData, Place, concentrations};
use crate::fusion::FusedRecord;
use crate::{Basis, DetectorId, DetectorReport};

/// A flagged record's tier: what a user does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Evidence of poisoning: keep it out of training.
    Quarantine,
    /// What natural noise also produces (isolated label issues, outliers, near duplicates):
    /// worth a look, never a reason on its own not to train.
    #[default]
    Review,
}

impl Tier {
    /// `quarantine` or `review`, as `findings.jsonl` and `--split` name it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Quarantine => "quarantine",
            Self::Review => "review",
        }
    }
}

/// What decides each flagged record's tier and the verdict.
///
/// A record is quarantined on evidence of poisoning, never on a score alone:
///
/// - it carries a trigger the causal test confirmed (trigger search);
/// - it belongs to a class that spectral signatures or activation clustering judged poisoned,
///   in the group they flag;
/// - it comes from a source that source trust distrusts;
/// - instruction poisoning flags it (a shared trigger string, a leak, an injected instruction);
/// - it is an exact copy in a duplicate flood (groups far beyond the dataset's usual
///   duplicates), conflicting labels included;
/// - it is a label issue where label issues are concentrated beyond natural noise: in a class
///   pair one way much more than the other, in a source, or in a window of record positions
///   ([`crate::concentration`]); each test is one-sided at [`significance`](Self::significance)
///   after a Bonferroni correction over its family (`K (K - 1)` ordered class pairs, the
///   sources, the position windows);
/// - it is in a group that spectral signatures or activation clustering set apart and that a
///   model trained without the group calls, as a whole, the other class of such a concentrated
///   class pair (a pair flip whose records the cross-validated label check partly learned).
///
/// Everything else a detector flags is `review`: isolated label issues (audits find 3% of
/// benchmark labels wrong on average: Northcutt, Athalye and Mueller 2021, "Pervasive Label
/// Errors in Test Sets Destabilize Machine Learning Benchmarks"), outliers and near duplicates.
/// No threshold here is a cut-off fitted to a dataset: the tests' only parameter is the
/// significance level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "each is one independent switch of the `[scan]` table users write"
)]
pub struct Policy {
    /// The significance level of every concentration test, after the Bonferroni correction:
    /// the chance that natural noise alone puts a dataset's label issues into the quarantine.
    /// Default 0.001.
    pub significance: f64,
    /// When more than this share of the records is quarantined, the data must not be trained on.
    /// Review findings never count against it.
    pub max_quarantine_share: f64,
    /// A confirmed trigger fails the scan.
    pub fail_on_triggers: bool,
    /// A class judged poisoned (spectral signatures, activation clustering) fails the scan.
    pub fail_on_classes: bool,
    /// A distrusted source fails the scan.
    pub fail_on_sources: bool,
    /// Label issues concentrated beyond natural noise (a class pair, a source, a window) fail
    /// the scan.
    pub fail_on_concentrations: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            significance: 0.001,
            max_quarantine_share: 0.1,
            fail_on_triggers: true,
            fail_on_classes: true,
            fail_on_sources: true,
            fail_on_concentrations: true,
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
    /// How many flagged records are for review only.
    pub review: usize,
    /// How many records were scanned.
    pub records: usize,
    /// Label issues concentrated beyond natural noise, class pairs first.
    pub concentrations: Vec<Concentration>,
}

/// What the policy decides on.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The scanned records, in order.
    pub records: &'a [Record],
    /// Each record's class index, when the data is labelled.
    pub labels: Option<&'a [usize]>,
    /// Class names by index.
    pub class_names: &'a [String],
    /// The detectors' reports.
    pub reports: &'a [DetectorReport],
}

impl Policy {
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

    /// The label issues concentrated beyond natural noise in `evidence`.
    #[must_use]
    pub fn concentrations(&self, evidence: &Evidence<'_>) -> Vec<Concentration> {
        let Some(labels) = evidence.labels else {
            return Vec::new();
        };
        let issues: Vec<Issue> = evidence
            .reports
            .iter()
            .filter(|report| report.detector == DetectorId::LabelIssues)
            .flat_map(|report| &report.flags)
            .filter_map(|flag| match flag.basis {
                Basis::LabelIssue { given, suggested } => Some(Issue {
                    index: flag.index,
                    given,
                    suggested,
                }),
                _ => None,
            })
            .collect();
        if issues.is_empty() {
            return Vec::new();
        }
        let sources: Vec<Option<&str>> = if evidence
            .records
            .iter()
            .any(|record| record.source.is_some())
        {
            evidence
                .records
                .iter()
                .map(|record| record.source.as_deref())
                .collect()
        } else {
            Vec::new()
        };
        concentrations(
            &IssueData {
                labels,
                sources: &sources,
                issues: &issues,
                class_names: evidence.class_names,
            },
            self.significance,
        )
    }

    /// Decides, once: sets each fused record's [`tier`](FusedRecord::tier) and the reason for a
    /// quarantine (the one place the tier rule is applied), then gives the verdict.
    #[must_use]
    pub fn decide(&self, evidence: &Evidence<'_>, fused: &mut [FusedRecord]) -> Verdict {
        let concentrations = self.concentrations(evidence);
        let mut concentrated: std::collections::HashMap<usize, &Concentration> =
            std::collections::HashMap::new();
        for concentration in &concentrations {
            for &member in &concentration.members {
                concentrated.entry(member).or_insert(concentration);
            }
        }
        // The class pairs whose label issues are concentrated, by class index.
        let class_index = |name: &str| evidence.class_names.iter().position(|class| class == name);
        let mut pairs: std::collections::HashMap<(usize, usize), &Concentration> =
            std::collections::HashMap::new();
        for concentration in &concentrations {
            if let Place::ClassPair {
                given, suggested, ..
            } = &concentration.place
                && let (Some(given), Some(suggested)) = (class_index(given), class_index(suggested))
            {
                pairs.entry((given, suggested)).or_insert(concentration);
            }
        }
        for record in fused.iter_mut() {
            let concentration = |basis: Basis| match basis {
                Basis::LabelIssue { .. } => concentrated.get(&record.index).copied(),
                Basis::Relabelled { given, suggested } => pairs.get(&(given, suggested)).copied(),
                _ => None,
            };
            record.reason = record
                .detectors
                .iter()
                .zip(&record.bases)
                .zip(&record.evidence)
                .find_map(|((&detector, basis), sentence)| {
                    quarantine_reason(detector, *basis, sentence, concentration(*basis))
                });
            record.tier = if record.reason.is_some() {
                Tier::Quarantine
            } else {
                Tier::Review
            };
        }
        let quarantined = fused.iter().filter(|record| record.quarantined()).count();
        let records = evidence.records.len();
        let mut reasons = Vec::new();
        let share = quarantined as f64 / records.max(1) as f64;
        if share > self.max_quarantine_share {
            reasons.push(format!(
                "{quarantined} of {records} records are quarantined, more than the {} ({}) the policy accepts",
                self.quarantine_limit(records),
                percent(self.max_quarantine_share)
            ));
        }
        let class_name = |class: usize| {
            evidence
                .class_names
                .get(class)
                .cloned()
                .unwrap_or_else(|| class.to_string())
        };
        for report in evidence.reports {
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
        if self.fail_on_concentrations {
            for concentration in &concentrations {
                reasons.push(format!(
                    "{}: {}",
                    DetectorId::LabelIssues,
                    concentration.explanation
                ));
            }
        }
        Verdict {
            train: reasons.is_empty(),
            reasons,
            quarantined,
            review: fused.len() - quarantined,
            records,
            concentrations,
        }
    }
}

/// Why one detector's flag quarantines its record, or `None` when it is for review.
/// `concentrated` is the concentration of label issues the flag's record or class pair lies in,
/// if any.
fn quarantine_reason(
    detector: DetectorId,
    basis: Basis,
    sentence: &str,
    concentrated: Option<&Concentration>,
) -> Option<String> {
    match detector {
        DetectorId::TriggerSearch => Some(format!("a confirmed trigger: {sentence}")),
        // A group relabelled together, or look-alikes of a neighbour: evidence only where the
        // label issues of its class pair are concentrated beyond natural noise.
        DetectorId::SpectralSignatures | DetectorId::ActivationClustering => match basis {
            Basis::Relabelled { .. } => concentrated.map(|concentration| {
                format!(
                    "{}; this record is in the group {detector} sets apart: {sentence}",
                    concentration.explanation
                )
            }),
            _ => Some(format!("in a backdoor cluster ({detector}): {sentence}")),
        },
        DetectorId::SourceTrust => Some(format!("a distrusted source: {sentence}")),
        DetectorId::InstructionPoisoning => Some(format!("instruction poisoning: {sentence}")),
        DetectorId::Duplicates => match basis {
            Basis::Duplicate {
                exact: true,
                flood: true,
            } => Some(format!("an exact copy in a duplicate flood: {sentence}")),
            _ => None,
        },
        DetectorId::LabelIssues => {
            concentrated.map(|concentration| concentration.explanation.clone())
        }
        DetectorId::Outliers => None,
    }
}

#[cfg(test)]
mod tests {
    use antidote_core::RecordId;

    use super::*;
    use crate::fusion::fuse;
    use crate::{ClassVerdict, DetectorId, Flag};

    fn records(count: usize) -> Vec<Record> {
        (0..count)
            .map(|position| Record {
                position: position as u64,
                id: RecordId::from(format!("r{position}").as_str()),
                label: None,
                source: None,
                fields: Vec::new(),
            })
            .collect()
    }

    fn report(detector: DetectorId, flags: Vec<Flag>) -> DetectorReport {
        let mut report = DetectorReport::new(detector);
        report.flags = flags;
        report
    }

    fn decide(
        policy: &Policy,
        records: &[Record],
        labels: Option<&[usize]>,
        reports: &[DetectorReport],
    ) -> (Verdict, Vec<FusedRecord>) {
        let class_names: Vec<String> = (0..10).map(|class| format!("c{class}")).collect();
        let mut fused = fuse(reports);
        let verdict = policy.decide(
            &Evidence {
                records,
                labels,
                class_names: &class_names,
                reports,
            },
            &mut fused,
        );
        (verdict, fused)
    }

    fn tier_of(fused: &[FusedRecord], index: usize) -> Tier {
        fused
            .iter()
            .find(|record| record.index == index)
            .map(|record| record.tier)
            .expect("flagged")
    }

    #[test]
    fn evidence_of_poisoning_is_quarantined_and_noise_is_for_review() {
        let data = records(100);
        let reports = [
            report(
                DetectorId::TriggerSearch,
                vec![Flag::new(0, 0.9, "carries `cf`")],
            ),
            report(
                DetectorId::Outliers,
                vec![Flag::new(1, 0.99, "far from its class")],
            ),
            report(
                DetectorId::Duplicates,
                vec![
                    Flag::new(2, 0.8, "one of 40 exact copies").with_basis(Basis::Duplicate {
                        exact: true,
                        flood: true,
                    }),
                    Flag::new(3, 0.8, "one of 40 near copies").with_basis(Basis::Duplicate {
                        exact: false,
                        flood: true,
                    }),
                    Flag::new(4, 0.5, "an exact copy labelled otherwise").with_basis(
                        Basis::Duplicate {
                            exact: true,
                            flood: false,
                        },
                    ),
                ],
            ),
            report(
                DetectorId::LabelIssues,
                vec![
                    Flag::new(5, 0.99, "labelled `c0`").with_basis(Basis::LabelIssue {
                        given: 0,
                        suggested: 1,
                    }),
                ],
            ),
            report(
                DetectorId::InstructionPoisoning,
                vec![Flag::new(6, 0.6, "leaks the system prompt")],
            ),
        ];
        let labels = vec![0; 100];
        let (verdict, fused) = decide(&Policy::default(), &data, Some(&labels), &reports);
        let tiers: Vec<Tier> = (0..7).map(|index| tier_of(&fused, index)).collect();
        assert_eq!(
            tiers,
            [
                Tier::Quarantine,
                Tier::Review,
                Tier::Quarantine,
                Tier::Review,
                Tier::Review,
                Tier::Review,
                Tier::Quarantine
            ]
        );
        assert_eq!((verdict.quarantined, verdict.review), (3, 4));
        let reason = fused
            .iter()
            .find(|record| record.index == 0)
            .and_then(|record| record.reason.clone());
        assert_eq!(reason.as_deref(), Some("a confirmed trigger: carries `cf`"));
        assert!(
            fused
                .iter()
                .filter(|record| record.tier == Tier::Review)
                .all(|record| record.reason.is_none())
        );
    }

    #[test]
    fn the_quarantine_share_fails_the_data_and_review_never_does() {
        let policy = Policy::default();
        let data = records(100);
        let triggered = |count: usize| {
            report(
                DetectorId::TriggerSearch,
                (0..count)
                    .map(|index| Flag::new(index, 0.9, "carries `cf`"))
                    .collect(),
            )
        };
        // Ten of a hundred is the most the default accepts; eleven fail.
        let (verdict, _) = decide(&policy, &data, None, &[triggered(10)]);
        assert!(verdict.train, "{verdict:?}");
        let (verdict, _) = decide(&policy, &data, None, &[triggered(11)]);
        assert!(!verdict.train);
        assert!(
            verdict.reasons[0].contains(
                "11 of 100 records are quarantined, more than the 10 (10%) the policy accepts"
            ),
            "{:?}",
            verdict.reasons
        );
        // Ninety outliers are for review: the data may still be trained on.
        let outliers = report(
            DetectorId::Outliers,
            (0..90)
                .map(|index| Flag::new(index, 0.99, "far from its class"))
                .collect(),
        );
        let (verdict, _) = decide(&policy, &data, None, &[outliers]);
        assert!(verdict.train, "{verdict:?}");
        assert_eq!((verdict.quarantined, verdict.review), (0, 90));
    }

    #[test]
    fn suspicious_classes_fail_the_data_unless_the_policy_allows_them() {
        let data = records(100);
        let mut report = DetectorReport::new(DetectorId::ActivationClustering);
        report.classes.push(ClassVerdict {
            class: 2,
            suspicious: true,
            statistic: 0.7,
            flagged: 10,
            explanation: String::new(),
        });
        let (verdict, _) = decide(&Policy::default(), &data, None, &[report.clone()]);
        assert_eq!(
            verdict.reasons,
            ["activation-clustering: class `c2` carries a backdoor's signature"]
        );
        let lenient = Policy {
            fail_on_classes: false,
            ..Policy::default()
        };
        assert!(decide(&lenient, &data, None, &[report]).0.train);
    }

    /// 6,000 records of ten classes in turn; `natural` label issues scattered over every pair,
    /// roughly symmetric, and `flipped` records labelled `c6` that the model calls `c4`.
    fn label_issue_case(flipped: usize) -> (Vec<usize>, DetectorReport) {
        let labels: Vec<usize> = (0..6000).map(|index| index % 10).collect();
        let mut flags = Vec::new();
        let mut rng = antidote_core::SplitMix64::new(3);
        for (index, &given) in labels.iter().enumerate() {
            if rng.below(25) == 0 {
                let suggested = (given + 1 + rng.below(9)) % 10;
                flags.push(
                    Flag::new(index, 0.9, "natural")
                        .with_basis(Basis::LabelIssue { given, suggested }),
                );
            }
        }
        let mut flips = 0;
        for (index, &given) in labels.iter().enumerate() {
            if given == 6
                && (index / 10) % 4 == 0
                && flips < flipped
                && !flags.iter().any(|flag| flag.index == index)
            {
                flips += 1;
                flags.push(
                    Flag::new(index, 0.9, "flipped").with_basis(Basis::LabelIssue {
                        given,
                        suggested: 4,
                    }),
                );
            }
        }
        flags.sort_by_key(|flag| flag.index);
        (labels, report(DetectorId::LabelIssues, flags))
    }

    #[test]
    fn a_pair_flip_is_quarantined_and_scattered_noise_is_for_review() {
        let data = records(6000);
        let (labels, issues) = label_issue_case(150);
        let (verdict, fused) = decide(
            &Policy::default(),
            &data,
            Some(&labels),
            std::slice::from_ref(&issues),
        );
        assert_eq!(
            verdict.concentrations.len(),
            1,
            "{:#?}",
            verdict.concentrations
        );
        assert!(!verdict.train);
        for (flag, record) in issues.flags.iter().zip({
            let mut sorted = fused.clone();
            sorted.sort_by_key(|record| record.index);
            sorted
        }) {
            let pair = matches!(
                flag.basis,
                Basis::LabelIssue {
                    given: 6,
                    suggested: 4
                }
            );
            assert_eq!(record.quarantined(), pair, "{flag:?}");
            if flag.evidence == "flipped" {
                let reason = record.reason.as_deref().unwrap_or_default();
                assert!(
                    reason.starts_with("label issues concentrated in a class pair: "),
                    "{reason}"
                );
            }
        }

        // The same noise without the flip: everything for review, and the data passes.
        let (labels, issues) = label_issue_case(0);
        let (verdict, fused) = decide(&Policy::default(), &data, Some(&labels), &[issues]);
        assert!(verdict.train, "{:?}", verdict.reasons);
        assert!(verdict.concentrations.is_empty());
        assert!(fused.iter().all(|record| record.tier == Tier::Review));
        assert!(verdict.review > 200);
    }

    #[test]
    fn a_relabelled_group_is_quarantined_only_where_its_class_pair_is_concentrated() {
        let data = records(6000);
        // Two records of class 6 in a group activation clustering sets apart, which a model
        // trained without the group calls `c4` as a whole.
        let members = [5986, 5996];
        let group = |given: usize, suggested: usize| {
            report(
                DetectorId::ActivationClustering,
                members
                    .into_iter()
                    .map(|index| {
                        Flag::new(index, 0.5, "one of a separate group")
                            .with_basis(Basis::Relabelled { given, suggested })
                    })
                    .collect(),
            )
        };
        let (labels, issues) = label_issue_case(150);
        let reports = [issues.clone(), group(6, 4)];
        let (verdict, fused) = decide(&Policy::default(), &data, Some(&labels), &reports);
        assert_eq!(verdict.concentrations.len(), 1);
        for index in members {
            assert_eq!(tier_of(&fused, index), Tier::Quarantine);
            let reason = fused
                .iter()
                .find(|record| record.index == index)
                .and_then(|record| record.reason.clone())
                .unwrap_or_default();
            assert!(
                reason.starts_with("label issues concentrated in a class pair: ")
                    && reason.contains("activation-clustering sets apart"),
                "{reason}"
            );
        }
        // The same group in a pair without concentrated issues, or without the flip: review.
        let (_, fused) = decide(
            &Policy::default(),
            &data,
            Some(&labels),
            &[issues, group(6, 2)],
        );
        assert!(
            members
                .iter()
                .all(|&index| tier_of(&fused, index) == Tier::Review)
        );
        let (labels, issues) = label_issue_case(0);
        let (verdict, fused) = decide(
            &Policy::default(),
            &data,
            Some(&labels),
            &[issues, group(6, 4)],
        );
        assert!(verdict.train, "{:?}", verdict.reasons);
        assert!(
            members
                .iter()
                .all(|&index| tier_of(&fused, index) == Tier::Review)
        );
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
        let policy: Policy = serde_json::from_str(r#"{"significance": 0.01}"#).unwrap();
        assert!((policy.significance - 0.01).abs() < 1e-12);
        assert!(
            (policy.max_quarantine_share - Policy::default().max_quarantine_share).abs() < 1e-12
        );
        assert!(serde_json::from_str::<Policy>(r#"{"quarantine": 1}"#).is_err());
        // The fused score no longer decides the quarantine.
        assert!(serde_json::from_str::<Policy>(r#"{"quarantine_score": 0.5}"#).is_err());
    }
}

//! The join of a scan's findings to the records they name, and the split the tiers make.
//!
//! A [`Scan`] names records by their index in the scanned order; these views pair each fused
//! finding with its record once, so that callers never index the records themselves.

use antidote_core::{Evidence, Finding, Severity};
use antidote_data::Record;

use crate::fusion::FusedRecord;
use crate::policy::Tier;
use crate::scan::Scan;

/// One flagged record: the record and what fusion and the policy said about it.
#[derive(Debug, Clone, Copy)]
pub struct FlaggedRecord<'a> {
    /// The record.
    pub record: &'a Record,
    /// Its fused score, detectors, evidence, tier and reason.
    pub fused: &'a FusedRecord,
}

impl FlaggedRecord<'_> {
    /// Whether the policy quarantines it.
    #[must_use]
    pub fn quarantined(&self) -> bool {
        self.fused.quarantined()
    }

    /// Its tier.
    #[must_use]
    pub fn tier(&self) -> Tier {
        self.fused.tier
    }

    /// Why the policy quarantines it, `None` in review.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.fused.reason.as_deref()
    }

    /// The finding in the vocabulary every layer shares: kind `poisoned-record`, severity
    /// `error` in the quarantine tier (the data must not be trained on with it) and `warning`
    /// in review (only worth a look), the policy's reason for a quarantine first, then one piece
    /// of evidence per detector, most confident first. Later layers (the release gate, the
    /// monitor) judge these.
    #[must_use]
    pub fn finding(&self) -> Finding {
        Finding {
            kind: "poisoned-record".to_owned(),
            severity: match self.fused.tier {
                Tier::Quarantine => Severity::Error,
                Tier::Review => Severity::Warning,
            },
            record: Some(self.record.id.clone()),
            subject: self.record.source.clone(),
            evidence: self
                .fused
                .reason
                .iter()
                .map(|reason| Evidence {
                    source: "policy".to_owned(),
                    message: reason.clone(),
                })
                .chain(self.fused.detectors.iter().zip(&self.fused.evidence).map(
                    |(detector, message)| Evidence {
                        source: detector.name().to_owned(),
                        message: message.clone(),
                    },
                ))
                .collect(),
        }
    }

    /// The sentence of the most confident detector, or `""`.
    #[must_use]
    pub fn first_evidence(&self) -> &str {
        self.fused.evidence.first().map_or("", String::as_str)
    }
}

/// The records split by tier, each part in scanned order; every record is in exactly one.
#[derive(Debug, Clone, Default)]
pub struct Partition<'a> {
    /// The records no detector flagged.
    pub clean: Vec<&'a Record>,
    /// The records the policy quarantines.
    pub quarantined: Vec<&'a Record>,
    /// The flagged records the policy leaves for review.
    pub review: Vec<&'a Record>,
}

impl Scan {
    /// The flagged records with their findings, highest fused score first (the order of
    /// [`Scan::fused`]). `records` are the scanned records, in the scanned order.
    ///
    /// # Panics
    ///
    /// When `records` are not the records this scan ran on (too few of them).
    #[must_use = "the findings are a lazy iterator"]
    pub fn findings<'a>(
        &'a self,
        records: &'a [Record],
    ) -> impl ExactSizeIterator<Item = FlaggedRecord<'a>> + 'a {
        self.fused.iter().map(move |fused| FlaggedRecord {
            record: records
                .get(fused.index)
                .expect("a scan's findings index the records it scanned"),
            fused,
        })
    }

    /// One entry per record in scanned order: its tier, `None` when no detector flagged it.
    #[must_use]
    pub fn tiers(&self, record_count: usize) -> Vec<Option<Tier>> {
        let mut tiers = vec![None; record_count];
        for fused in &self.fused {
            if let Some(slot) = tiers.get_mut(fused.index) {
                *slot = Some(fused.tier);
            }
        }
        tiers
    }

    /// One flag per record in scanned order: whether the policy quarantines it.
    #[must_use]
    pub fn quarantine_mask(&self, record_count: usize) -> Vec<bool> {
        self.tiers(record_count)
            .into_iter()
            .map(|tier| tier == Some(Tier::Quarantine))
            .collect()
    }

    /// The scanned records split into clean, quarantine and review, as `--split` writes them.
    #[must_use]
    pub fn partition<'a>(&self, records: &'a [Record]) -> Partition<'a> {
        let mut partition = Partition::default();
        for (record, tier) in records.iter().zip(self.tiers(records.len())) {
            match tier {
                None => partition.clean.push(record),
                Some(Tier::Quarantine) => partition.quarantined.push(record),
                Some(Tier::Review) => partition.review.push(record),
            }
        }
        partition
    }
}

#[cfg(test)]
mod tests {
    use antidote_core::{RecordId, Severity};
    use antidote_data::Record;

    use super::FlaggedRecord;
    use crate::DetectorId;
    use crate::fusion::FusedRecord;
    use crate::policy::Tier;

    #[test]
    fn a_quarantined_record_is_an_error_finding_with_evidence_per_detector() {
        let record = Record {
            position: 0,
            id: RecordId::from("r-7"),
            label: Some("cat".to_owned()),
            source: Some("vendor-a".to_owned()),
            fields: Vec::new(),
        };
        let mut fused = FusedRecord {
            index: 0,
            score: 0.93,
            detectors: vec![DetectorId::TriggerSearch, DetectorId::LabelIssues],
            confidences: vec![0.9, 0.4],
            evidence: vec!["carries `cf`".to_owned(), "labelled `cat`".to_owned()],
            marks: Vec::new(),
            bases: Vec::new(),
            tier: Tier::Quarantine,
            reason: Some("a confirmed trigger: carries `cf`".to_owned()),
        };
        let finding = FlaggedRecord {
            record: &record,
            fused: &fused,
        }
        .finding();
        assert_eq!(finding.kind, "poisoned-record");
        assert_eq!(finding.severity, Severity::Error);
        assert_eq!(finding.record, Some(RecordId::from("r-7")));
        assert_eq!(finding.subject.as_deref(), Some("vendor-a"));
        let sources: Vec<&str> = finding
            .evidence
            .iter()
            .map(|evidence| evidence.source.as_str())
            .collect();
        assert_eq!(sources, ["policy", "trigger-search", "label-issues"]);
        assert_eq!(
            finding.evidence[0].message,
            "a confirmed trigger: carries `cf`"
        );
        assert_eq!(finding.evidence[1].message, "carries `cf`");

        fused.tier = Tier::Review;
        fused.reason = None;
        let review = FlaggedRecord {
            record: &record,
            fused: &fused,
        }
        .finding();
        assert_eq!(review.severity, Severity::Warning);
        assert_eq!(review.evidence.len(), 2);
    }
}

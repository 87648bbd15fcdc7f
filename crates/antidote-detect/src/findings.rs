//! The join of a scan's findings to the records they name, and the split the quarantine makes.
//!
//! A [`Scan`] names records by their index in the scanned order; these views pair each fused
//! finding with its record once, so that callers never index the records themselves.

use antidote_core::{Evidence, Finding, Severity};
use antidote_data::Record;

use crate::fusion::FusedRecord;
use crate::scan::Scan;

/// One flagged record: the record and what fusion and the policy said about it.
#[derive(Debug, Clone, Copy)]
pub struct FlaggedRecord<'a> {
    /// The record.
    pub record: &'a Record,
    /// Its fused score, detectors, evidence and quarantine decision.
    pub fused: &'a FusedRecord,
}

impl FlaggedRecord<'_> {
    /// Whether the policy quarantines it.
    #[must_use]
    pub fn quarantined(&self) -> bool {
        self.fused.quarantined
    }

    /// The finding in the vocabulary every layer shares: kind `poisoned-record`, severity
    /// `error` when the policy quarantined the record (the data must not be trained on with it)
    /// and `warning` when it is only worth a look, and one piece of evidence per detector, most
    /// confident first. Later layers (the release gate, the monitor) judge these.
    #[must_use]
    pub fn finding(&self) -> Finding {
        Finding {
            kind: "poisoned-record".to_owned(),
            severity: if self.fused.quarantined {
                Severity::Error
            } else {
                Severity::Warning
            },
            record: Some(self.record.id.clone()),
            subject: self.record.source.clone(),
            evidence: self
                .fused
                .detectors
                .iter()
                .zip(&self.fused.evidence)
                .map(|(detector, message)| Evidence {
                    source: detector.name().to_owned(),
                    message: message.clone(),
                })
                .collect(),
        }
    }

    /// The sentence of the most confident detector, or `""`.
    #[must_use]
    pub fn first_evidence(&self) -> &str {
        self.fused.evidence.first().map_or("", String::as_str)
    }
}

/// The records split by the quarantine, each side in scanned order.
#[derive(Debug, Clone, Default)]
pub struct Partition<'a> {
    /// The records the policy does not quarantine (unflagged ones included).
    pub clean: Vec<&'a Record>,
    /// The records the policy quarantines.
    pub quarantined: Vec<&'a Record>,
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

    /// One flag per record in scanned order: whether the policy quarantines it.
    #[must_use]
    pub fn quarantine_mask(&self, record_count: usize) -> Vec<bool> {
        let mut mask = vec![false; record_count];
        for fused in self.fused.iter().filter(|fused| fused.quarantined) {
            if let Some(slot) = mask.get_mut(fused.index) {
                *slot = true;
            }
        }
        mask
    }

    /// The scanned records split into the clean side and the quarantine, as `--split` writes
    /// them.
    #[must_use]
    pub fn partition<'a>(&self, records: &'a [Record]) -> Partition<'a> {
        let mask = self.quarantine_mask(records.len());
        let mut partition = Partition::default();
        for (record, quarantined) in records.iter().zip(mask) {
            if quarantined {
                partition.quarantined.push(record);
            } else {
                partition.clean.push(record);
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
            quarantined: true,
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
        assert_eq!(sources, ["trigger-search", "label-issues"]);
        assert_eq!(finding.evidence[0].message, "carries `cf`");

        fused.quarantined = false;
        let review = FlaggedRecord {
            record: &record,
            fused: &fused,
        }
        .finding();
        assert_eq!(review.severity, Severity::Warning);
    }
}

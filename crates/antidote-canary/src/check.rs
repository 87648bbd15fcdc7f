//! Finding canaries and honeypots in a dataset.
//!
//! Every record's keyed tags are looked up among the manifest's: the tag of its whole content
//! (payload fields, without id, label and source), and the tag of each text or image it holds.
//! A match is exact: a 256-bit HMAC does not match by chance, so one found canary proves that
//! the record came from the planted copy (or from the manifest).

use std::collections::{BTreeSet, HashMap};

use antidote_data::Record;
use serde::Serialize;

use crate::key::{Tag, is_distinctive};
use crate::manifest::{Group, Manifest};

/// How a record was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// Its whole content (every payload field) is the canary's.
    Record,
    /// Only its text or image is the canary's: other columns were dropped, renamed or edited.
    Payload,
}

/// One canary or honeypot found in a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    /// Which kind of record was found.
    pub group: Group,
    /// The id the manifest knows it by.
    pub canary: String,
    /// Its id in the checked dataset.
    pub found_id: String,
    /// Its position in the checked dataset.
    pub position: u64,
    /// How it was recognised.
    pub matched: MatchKind,
    /// Whether it still carries its assigned label (`None` when the checked record has none).
    pub label_kept: Option<bool>,
}

/// Looks records up by their keyed tags.
#[derive(Debug)]
pub struct Recogniser<'a> {
    manifest: &'a Manifest,
    records: HashMap<Tag, (Group, usize)>,
    payloads: HashMap<Tag, (Group, usize)>,
}

impl<'a> Recogniser<'a> {
    /// A recogniser of the manifest's records.
    #[must_use]
    pub fn new(manifest: &'a Manifest) -> Self {
        let mut records = HashMap::new();
        let mut payloads = HashMap::new();
        for (group, index, entry) in manifest.all() {
            records.insert(entry.tag, (group, index));
            if let Some(tag) = entry.payload_tag {
                payloads.insert(tag, (group, index));
            }
        }
        Self {
            manifest,
            records,
            payloads,
        }
    }

    /// The manifest record `record` is, if any.
    #[must_use]
    pub fn recognise(&self, record: &Record) -> Option<Sighting> {
        let key = &self.manifest.key;
        let (found, matched) = self
            .records
            .get(&key.record_tag(record))
            .map(|found| (*found, MatchKind::Record))
            .or_else(|| {
                record
                    .fields
                    .iter()
                    .filter(|(_, value)| is_distinctive(value))
                    .find_map(|(_, value)| self.payloads.get(&key.value_tag(value)))
                    .map(|found| (*found, MatchKind::Payload))
            })?;
        let (group, index) = found;
        let entry = &self.manifest.entries(group)[index];
        Some(Sighting {
            group,
            canary: entry.record.id.clone(),
            found_id: record.id.to_string(),
            position: record.position,
            matched,
            label_kept: record
                .label
                .as_ref()
                .map(|label| Some(label) == entry.record.label.as_ref()),
        })
    }
}

/// What a dataset check found, and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetCheck {
    /// Records read.
    pub records: u64,
    /// Canaries in the manifest.
    pub planted: usize,
    /// Honeypots in the manifest.
    pub honeypots: usize,
    /// Distinct canaries found.
    pub canaries_found: usize,
    /// Distinct honeypots found.
    pub honeypots_found: usize,
    /// Distinct held-out canaries found: these were never in any file but the manifest.
    pub held_out_found: usize,
    /// `canaries_found / planted`: about the share of the planted copy that was taken.
    pub canary_share: f64,
    /// The found canaries that kept their assigned label, of those that have a label.
    pub labels_kept: usize,
    /// The fewest canaries that signal a copy.
    pub min_found: usize,
    /// Whether the canaries found signal a copy of the planted data.
    pub copied: bool,
    /// Every sighting, in reading order (a record found twice is listed twice).
    pub sightings: Vec<Sighting>,
}

impl DatasetCheck {
    /// Whether the check failed: a honeypot was found, or enough canaries to signal a copy.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.copied || self.honeypots_found > 0 || self.held_out_found > 0
    }
}

/// Checks records (of any dataset, in any order) against a manifest. A copy is signalled when
/// at least `min_found` (at least 1) distinct canaries are found.
pub fn check_records<E>(
    manifest: &Manifest,
    records: impl IntoIterator<Item = Result<Record, E>>,
    min_found: usize,
) -> Result<DatasetCheck, E> {
    let recogniser = Recogniser::new(manifest);
    let mut count = 0;
    let mut sightings = Vec::new();
    for record in records {
        let record = record?;
        count += 1;
        if let Some(sighting) = recogniser.recognise(&record) {
            sightings.push(sighting);
        }
    }
    let distinct = |group: Group| {
        sightings
            .iter()
            .filter(|sighting| sighting.group == group)
            .map(|sighting| sighting.canary.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    };
    let canaries_found = distinct(Group::Planted);
    let min_found = min_found.max(1);
    Ok(DatasetCheck {
        records: count,
        planted: manifest.planted.len(),
        honeypots: manifest.honeypots.len(),
        canaries_found,
        honeypots_found: distinct(Group::Honeypot),
        held_out_found: distinct(Group::HeldOut),
        canary_share: if manifest.planted.is_empty() {
            0.0
        } else {
            canaries_found as f64 / manifest.planted.len() as f64
        },
        labels_kept: sightings
            .iter()
            .filter(|sighting| {
                sighting.group == Group::Planted && sighting.label_kept == Some(true)
            })
            .count(),
        min_found,
        copied: canaries_found >= min_found,
        sightings,
    })
}

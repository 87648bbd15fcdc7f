//! Planting: generate canaries, held-out canaries and honeypots, place the canaries at random
//! positions among the dataset's records, and describe all of them in a manifest.

use std::collections::HashSet;

use antidote_core::SplitMix64;
use antidote_data::{Format, Record, Schema};

use crate::generate::Generator;
use crate::key::{CanaryKey, Tag, is_distinctive};
use crate::manifest::{Entry, Manifest, PlantedDataset};
use crate::stored::StoredRecord;

/// How many attempts one record gets before generation gives up: a generated record is
/// redrawn when its content equals a real record's or another canary's.
const ATTEMPTS: usize = 64;

/// Errors from planting.
#[derive(Debug, thiserror::Error)]
pub enum PlantError {
    /// No canary asked for.
    #[error("the canary count must be at least 1")]
    NoCanaries,
    /// The dataset has no record to imitate.
    #[error("the dataset has no records to make canaries like")]
    EmptyDataset,
    /// The records have no payload fields to vary.
    #[error("the dataset's records have no fields besides id, label and source")]
    NoContent,
    /// Generation kept producing records that already exist.
    #[error(
        "could not make {wanted} distinct records from this dataset's material (made {made}); it is too small or too uniform"
    )]
    TooUniform {
        /// Records asked for.
        wanted: usize,
        /// Records made.
        made: usize,
    },
}

/// How many records to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlantOptions {
    /// Canaries planted in the dataset.
    pub count: usize,
    /// Canaries generated the same way and kept out: the reference for the memorisation test.
    pub held_out: usize,
    /// Honeypots, for a separate file.
    pub honeypots: usize,
}

/// The result of planting: the new dataset's records in order, the honeypots, the manifest.
#[derive(Debug, Clone)]
pub struct Plant {
    /// The input's records with the canaries among them.
    pub records: Vec<Record>,
    /// The honeypot records, for their own file.
    pub honeypots: Vec<Record>,
    /// The manifest (secret).
    pub manifest: Manifest,
}

/// Everything that identifies the real records' content, so that no canary repeats one.
fn existing_tags(key: &CanaryKey, records: &[Record]) -> HashSet<Tag> {
    let mut tags = HashSet::with_capacity(records.len() * 2);
    for record in records {
        tags.insert(key.record_tag(record));
        for (_, value) in &record.fields {
            if is_distinctive(value) {
                tags.insert(key.value_tag(value));
            }
        }
    }
    tags
}

/// The entry of a generated record: its tags, and its payload column's.
pub(crate) fn entry(key: &CanaryKey, record: &Record, payload_column: Option<&str>) -> Entry {
    let payload = payload_column
        .and_then(|name| record.field(name).map(|value| (name, value)))
        .filter(|(_, value)| is_distinctive(value));
    Entry {
        record: StoredRecord::from_record(record),
        tag: key.record_tag(record),
        payload_tag: payload.map(|(_, value)| key.value_tag(value)),
        payload_column: payload.map(|(name, _)| name.to_owned()),
    }
}

/// The dataset's records with the canaries at random places (not at the end, where a copier
/// could cut them off), renumbered when ids are positions; and the canaries' places.
fn place(
    records: Vec<Record>,
    canaries: Vec<Record>,
    ids_are_positions: bool,
    key: &CanaryKey,
) -> (Vec<Record>, Vec<usize>) {
    let total = records.len() + canaries.len();
    let mut random = SplitMix64::derived(key.generator_seed(), "canary positions");
    let places = random.sample(total, canaries.len());
    let mut result = Vec::with_capacity(total);
    let mut originals = records.into_iter();
    let mut canaries = canaries.into_iter();
    let mut next_place = places.iter().peekable();
    for position in 0..total {
        let mut record = if next_place.peek() == Some(&&position) {
            next_place.next();
            canaries.next().expect("one canary per place")
        } else {
            originals
                .next()
                .expect("the other places hold the originals")
        };
        record.position = position as u64;
        if ids_are_positions {
            record.id = position.to_string().into();
        }
        result.push(record);
    }
    (result, places)
}

/// Plants canaries into `records` (the whole dataset, in its order).
///
/// `dataset` describes the input for the manifest; its `ids_are_positions` is replaced by the
/// one given here.
///
/// # Panics
///
/// Never: every generated record is placed once.
pub fn plant(
    records: Vec<Record>,
    schema: &Schema,
    format: Format,
    ids_are_positions: bool,
    key: CanaryKey,
    options: PlantOptions,
    dataset: PlantedDataset,
) -> Result<Plant, PlantError> {
    if options.count == 0 {
        return Err(PlantError::NoCanaries);
    }
    if records.is_empty() {
        return Err(PlantError::EmptyDataset);
    }
    if records.iter().all(|record| record.fields.is_empty()) {
        return Err(PlantError::NoContent);
    }
    let payload_column = schema.payload_column().map(|(name, _)| name.to_owned());
    let mut taken = existing_tags(&key, &records);
    let wanted = options.count + options.held_out + options.honeypots;
    let mut made: Vec<Record> = Vec::with_capacity(wanted);
    let classes;
    {
        let mut generator = Generator::new(
            &records,
            schema,
            format,
            ids_are_positions,
            key.generator_seed(),
        );
        classes = generator.classes().to_vec();
        while made.len() < wanted {
            let fresh = (0..ATTEMPTS).find_map(|_| {
                let candidate = generator.generate();
                let mut tags = vec![key.record_tag(&candidate)];
                tags.extend(
                    candidate
                        .fields
                        .iter()
                        .filter(|(_, value)| is_distinctive(value))
                        .map(|(_, value)| key.value_tag(value)),
                );
                if tags.iter().any(|tag| taken.contains(tag)) {
                    return None;
                }
                taken.extend(tags);
                Some(candidate)
            });
            match fresh {
                Some(record) => made.push(record),
                None => {
                    return Err(PlantError::TooUniform {
                        wanted,
                        made: made.len(),
                    });
                }
            }
        }
    }
    let honeypots: Vec<Record> = made.split_off(options.count + options.held_out);
    let held_out: Vec<Record> = made.split_off(options.count);
    let canaries = made;

    let (planted_records, places) = place(records, canaries, ids_are_positions, &key);
    let planted_entries: Vec<Entry> = places
        .iter()
        .map(|&place| entry(&key, &planted_records[place], payload_column.as_deref()))
        .collect();

    let honeypots: Vec<Record> = honeypots
        .into_iter()
        .enumerate()
        .map(|(position, mut record)| {
            record.position = position as u64;
            if ids_are_positions {
                record.id = position.to_string().into();
            }
            record
        })
        .collect();
    let held_out_entries = held_out
        .iter()
        .map(|record| entry(&key, record, payload_column.as_deref()))
        .collect();
    let honeypot_entries = honeypots
        .iter()
        .map(|record| entry(&key, record, payload_column.as_deref()))
        .collect();
    let manifest = Manifest::new(
        key,
        PlantedDataset {
            ids_are_positions,
            ..dataset
        },
        classes,
        planted_entries,
        held_out_entries,
        honeypot_entries,
    );
    Ok(Plant {
        records: planted_records,
        honeypots,
        manifest,
    })
}

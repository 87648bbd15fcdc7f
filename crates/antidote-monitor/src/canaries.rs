//! The canaries a monitor recognises in production inputs: those of the secret manifest that
//! `antidote canary plant` wrote ([`antidote_canary::Manifest`]).
//!
//! An event's `input` text is recognised by its keyed payload tag
//! ([`antidote_canary::CanaryKey::value_tag`]), and its `features`, when the dataset's payload
//! is numeric columns only, by the keyed tag of the record they make with the columns' names in
//! schema order ([`antidote_canary::CanaryKey::record_tag`]). Tags are HMACs under the
//! manifest's key, which never leaves this module: it is not printed, logged or stored.
//!
//! A planted canary given its assigned label is a sign of memorisation when held-out canaries
//! (never planted) get theirs less often; a honeypot in production is bait someone took.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use antidote_canary::{CanaryKey, Group, Manifest, ManifestError, Tag};
use antidote_data::{ColumnKind, Record, Role, Value};

/// How one event's input was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryHit {
    /// Planted, held out, or a honeypot.
    pub kind: Group,
    /// Whether the prediction is the record's assigned label.
    pub expected: bool,
}

impl CanaryHit {
    /// The kind as metrics label it: `planted`, `held_out`, `honeypot`.
    #[must_use]
    pub fn kind_label(self) -> &'static str {
        kind_label(self.kind)
    }

    /// The outcome as metrics label it: `expected` or `other`.
    #[must_use]
    pub fn outcome_label(self) -> &'static str {
        if self.expected { "expected" } else { "other" }
    }
}

/// The kind as metrics label it.
#[must_use]
pub fn kind_label(kind: Group) -> &'static str {
    match kind {
        Group::Planted => "planted",
        Group::HeldOut => "held_out",
        Group::Honeypot => "honeypot",
    }
}

/// The canaries, held-out canaries and honeypots of one manifest, by keyed tag.
#[derive(Clone, Default)]
pub struct CanarySet {
    key: Option<CanaryKey>,
    /// Payload tag to group and assigned label.
    payloads: HashMap<Tag, (Group, Option<String>)>,
    /// Whole-record tag to group and assigned label, for numeric records.
    records: HashMap<Tag, (Group, Option<String>)>,
    /// The payload columns, in schema order, when all are numeric.
    feature_columns: Option<Vec<Arc<str>>>,
}

impl std::fmt::Debug for CanarySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key and the tags stay out of every log.
        f.debug_struct("CanarySet")
            .field("payloads", &self.payloads.len())
            .field("records", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl CanarySet {
    /// Reads a manifest, checking it against its key.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        Ok(Self::new(&Manifest::read(path)?))
    }

    /// The canaries of `manifest`.
    #[must_use]
    pub fn new(manifest: &Manifest) -> Self {
        let columns = &manifest.dataset.schema.columns;
        let payload: Vec<_> = columns
            .iter()
            .filter(|column| !matches!(column.role, Role::Id | Role::Label | Role::Source))
            .collect();
        let feature_columns = (!payload.is_empty()
            && payload
                .iter()
                .all(|column| matches!(column.kind, ColumnKind::Integer | ColumnKind::Float)))
        .then(|| {
            payload
                .iter()
                .map(|column| Arc::from(column.name.as_str()))
                .collect()
        });
        let mut payloads = HashMap::new();
        let mut records = HashMap::new();
        for (group, _, entry) in manifest.all() {
            let label = entry.record.label.clone();
            if let Some(tag) = entry.payload_tag {
                payloads.insert(tag, (group, label.clone()));
            }
            records.insert(entry.tag, (group, label));
        }
        Self {
            key: Some(manifest.key.clone()),
            payloads,
            records,
            feature_columns,
        }
    }

    /// Whether it holds no canary.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Canaries, held-out canaries and honeypots known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The canary an event with this input, features and prediction is, if any.
    #[must_use]
    pub fn find(
        &self,
        input: Option<&str>,
        features: Option<&[f64]>,
        predicted: &str,
    ) -> Option<CanaryHit> {
        let key = self.key.as_ref()?;
        let by_input =
            input.and_then(|text| self.payloads.get(&key.value_tag(&Value::Text(text.into()))));
        let found = by_input.or_else(|| {
            let columns = self.feature_columns.as_ref()?;
            let features = features?;
            if features.len() != columns.len() {
                return None;
            }
            let record = Record {
                position: 0,
                id: String::new().into(),
                label: None,
                source: None,
                fields: columns
                    .iter()
                    .zip(features)
                    .map(|(name, value)| (Arc::clone(name), Value::Float(*value)))
                    .collect(),
            };
            self.records.get(&key.record_tag(&record))
        })?;
        let (kind, label) = found;
        Some(CanaryHit {
            kind: *kind,
            expected: label.as_deref() == Some(predicted),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use antidote_canary::{PlantOptions, PlantedDataset, plant};
    use antidote_data::{ColumnKind, Format, from_rows};

    use super::*;

    fn planted(columns: Vec<(Arc<str>, ColumnKind)>, rows: Vec<Vec<Value>>) -> Manifest {
        let dataset = from_rows(Path::new("memory"), columns, rows).unwrap();
        let schema = dataset.schema().clone();
        let records = dataset.collect::<Result<Vec<_>, _>>().unwrap();
        let described = PlantedDataset {
            input: "memory".into(),
            output: "planted".into(),
            honeypot_output: None,
            format: Format::Jsonl,
            schema: schema.clone(),
            input_records: records.len(),
            ids_are_positions: true,
        };
        let options = PlantOptions {
            count: 3,
            held_out: 3,
            honeypots: 1,
        };
        plant(
            records,
            &schema,
            Format::Jsonl,
            true,
            CanaryKey::from_bytes([3; 32]),
            options,
            described,
        )
        .unwrap()
        .manifest
    }

    #[test]
    fn numeric_canaries_are_recognised_by_their_features_and_real_rows_are_not() {
        let rows: Vec<Vec<Value>> = (0..40)
            .map(|index| {
                vec![
                    Value::Float(f64::from(index) * 0.25),
                    Value::Float(10.0 - f64::from(index % 7)),
                    Value::Int(i64::from(index % 2)),
                ]
            })
            .collect();
        let manifest = planted(
            vec![
                (Arc::from("x"), ColumnKind::Float),
                (Arc::from("y"), ColumnKind::Float),
                (Arc::from("label"), ColumnKind::Integer),
            ],
            rows.clone(),
        );
        let set = CanarySet::new(&manifest);
        assert_eq!(set.len(), 7);
        let features = |entry: &antidote_canary::Entry| -> Vec<f64> {
            ["x", "y"]
                .iter()
                .map(|name| entry.record.fields[*name].as_f64().unwrap())
                .collect()
        };
        for (group, _, entry) in manifest.all() {
            let label = entry.record.label.clone().unwrap();
            let hit = set.find(None, Some(&features(entry)), &label).unwrap();
            assert_eq!(
                hit,
                CanaryHit {
                    kind: group,
                    expected: true
                }
            );
            let other = set.find(None, Some(&features(entry)), "another").unwrap();
            assert!(!other.expected);
        }
        for row in &rows {
            let real: Vec<f64> = row[..2]
                .iter()
                .map(|value| value.as_f64().unwrap())
                .collect();
            assert_eq!(set.find(None, Some(&real), "0"), None);
        }
        // The wrong number of features, and no key at all, recognise nothing.
        let entry = &manifest.planted[0];
        assert_eq!(set.find(None, Some(&features(entry)[..1]), "0"), None);
        assert_eq!(
            CanarySet::default().find(None, Some(&features(entry)), "0"),
            None
        );
        assert_eq!(
            format!("{set:?}"),
            "CanarySet { payloads: 0, records: 7, .. }"
        );
    }
}

//! The canary inputs a model is asked about: planted canaries, held-out canaries and honeypots,
//! mixed in an order fixed by the key, without their labels, under neutral ids (`input-00007`),
//! in the dataset's own format so that the user's pipeline reads them unchanged.

use std::collections::HashMap;

use antidote_core::SplitMix64;
use antidote_data::{Column, ColumnKind, Format, Record, Role, Schema};

use crate::manifest::{Group, Manifest};

/// The inputs, in export order: which manifest record each is, and the record to write.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The schema to write them with (the dataset's, with an `id` column when it had none and
    /// the format keeps one).
    pub schema: Schema,
    /// `(group, index in the group, record)` in export order.
    pub records: Vec<(Group, usize, Record)>,
}

impl Inputs {
    /// The inputs of `manifest`. Their order and ids depend only on the manifest.
    #[must_use]
    pub fn of(manifest: &Manifest) -> Self {
        let format = manifest.dataset.format;
        let mut order: Vec<(Group, usize)> = manifest
            .all()
            .map(|(group, index, _)| (group, index))
            .collect();
        SplitMix64::derived(manifest.key.generator_seed(), "canary inputs").shuffle(&mut order);
        let mut schema = manifest.dataset.schema.clone();
        let keeps_ids = !matches!(format, Format::Idx | Format::ImageFolder);
        if keeps_ids && schema.column_with_role(Role::Id).is_none() {
            let name = if schema.column("id").is_some() {
                "input_id"
            } else {
                "id"
            };
            schema.columns.insert(
                0,
                Column {
                    name: name.to_owned(),
                    kind: ColumnKind::Categorical,
                    role: Role::Id,
                },
            );
        }
        let records = order
            .into_iter()
            .enumerate()
            .filter_map(|(position, (group, index))| {
                let entry = &manifest.entries(group)[index];
                let mut record = entry.record.to_record(position as u64)?;
                record.id = input_id(format, position).into();
                // IDX needs a number for every label: 0, a placeholder the check never reads.
                record.label = (format == Format::Idx).then(|| "0".to_owned());
                record.source = None;
                Some((group, index, record))
            })
            .collect();
        Self { schema, records }
    }

    /// Every id a prediction may give for an input (the id as written, and for files its bare
    /// name), mapped to `(group, index)`.
    #[must_use]
    pub fn ids(&self) -> HashMap<String, (Group, usize)> {
        let mut ids = HashMap::new();
        for (group, index, record) in &self.records {
            let id = record.id.to_string();
            if let Some(name) = id.rsplit('/').next() {
                ids.insert(name.to_owned(), (*group, *index));
                if let Some(stem) = name.strip_suffix(".png") {
                    ids.insert(stem.to_owned(), (*group, *index));
                }
            }
            ids.insert(id, (*group, *index));
        }
        ids
    }
}

/// The id the `position`-th input has when read back from a file of `format`.
fn input_id(format: Format, position: usize) -> String {
    match format {
        Format::Idx => position.to_string(),
        Format::ImageFolder => format!("unlabelled/input-{position:05}.png"),
        _ => format!("input-{position:05}"),
    }
}

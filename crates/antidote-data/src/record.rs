use std::sync::Arc;

use antidote_core::{Digest, RecordId};

use crate::Value;

/// One record of a dataset: a stable id, an optional label and source, and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Zero-based position in the dataset's reading order.
    pub position: u64,
    /// The value of the id column, or the position when the dataset has none.
    pub id: RecordId,
    /// The class, in the text form every reader agrees on (see [`Value::to_label`]).
    pub label: Option<String>,
    /// Who contributed the record: a vendor, annotator, federated client or shard.
    pub source: Option<String>,
    /// Every other column, by name. Names are shared with the schema, so a record costs no
    /// allocation per field name.
    pub fields: Vec<(Arc<str>, Value)>,
}

impl Record {
    /// The value of the field `name`, if the record has it.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(field, _)| &**field == name)
            .map(|(_, value)| value)
    }

    /// The BLAKE3 content hash (see [`crate::canonical`]).
    #[must_use]
    pub fn content_hash(&self) -> Digest {
        crate::canonical::record_hash(self)
    }

    /// A 64-bit fingerprint of the source (as `source`) and of each payload field, sorted by
    /// name. Diffs compare these to name the changed fields; the label is compared as itself.
    #[must_use]
    pub fn field_fingerprints(&self) -> Vec<(String, u64)> {
        let mut parts = Vec::with_capacity(self.fields.len() + 1);
        if let Some(source) = &self.source {
            parts.push((
                "source".to_owned(),
                crate::canonical::value_fingerprint(&Value::Text(source.clone())),
            ));
        }
        for (name, value) in &self.fields {
            parts.push((name.to_string(), crate::canonical::value_fingerprint(value)));
        }
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        parts
    }
}

//! JSON Lines: one object per record, keys in schema order, then any extra fields.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{RecordSink, WriteError};
use crate::output::AtomicFile;
use crate::{ColumnKind, Record, Role, Schema, Value};

pub(crate) struct JsonlSink {
    path: PathBuf,
    writer: AtomicFile,
    columns: Vec<(String, Role, ColumnKind)>,
}

/// A label or id as JSON: a number when its column held numbers, so the schema survives.
fn typed(text: &str, kind: ColumnKind) -> serde_json::Value {
    match kind {
        ColumnKind::Integer => text.parse::<i64>().map_or_else(
            |_| serde_json::Value::String(text.to_owned()),
            serde_json::Value::from,
        ),
        _ => serde_json::Value::String(text.to_owned()),
    }
}

impl JsonlSink {
    pub(crate) fn create(path: &Path, schema: &Schema) -> Result<Self, WriteError> {
        Ok(Self {
            path: path.to_owned(),
            writer: AtomicFile::create_new(path)?,
            columns: schema
                .columns
                .iter()
                .map(|column| (column.name.clone(), column.role, column.kind))
                .collect(),
        })
    }
}

impl RecordSink for JsonlSink {
    fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        let mut object = serde_json::Map::new();
        for (name, role, kind) in &self.columns {
            let value = match role {
                Role::Id => Some(typed(record.id.as_str(), *kind)),
                Role::Label => record.label.as_deref().map(|label| typed(label, *kind)),
                Role::Source => record.source.as_deref().map(|source| typed(source, *kind)),
                _ => record.field(name).map(Value::to_json),
            };
            if let Some(value) = value {
                object.insert(name.clone(), value);
            }
        }
        for (name, value) in &record.fields {
            if !object.contains_key(&**name) {
                object.insert(name.to_string(), value.to_json());
            }
        }
        let line = serde_json::to_string(&object).map_err(|error| WriteError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(error),
        })?;
        writeln!(self.writer, "{line}").map_err(WriteError::io(&self.path))
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, WriteError> {
        self.writer.commit()?;
        Ok(vec![self.path])
    }
}

//! CSV: the schema's columns in order; the id, label and source go back into their columns.

use std::path::{Path, PathBuf};

use super::{RecordSink, WriteError};
use crate::output::AtomicFile;
use crate::{Record, Role, Schema, Value};

pub(crate) struct CsvSink {
    path: PathBuf,
    writer: csv::Writer<AtomicFile>,
    columns: Vec<(String, Role)>,
}

/// The text of a value in a CSV cell, such that the reader gives the same value back.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(text) => text.clone(),
        other => other.to_string(),
    }
}

impl CsvSink {
    pub(crate) fn create(path: &Path, schema: &Schema) -> Result<Self, WriteError> {
        let temporary = AtomicFile::create_new(path)?;
        let tab_separated = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("tsv"));
        let delimiter = if tab_separated { b'\t' } else { b',' };
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(temporary);
        let columns: Vec<(String, Role)> = schema
            .columns
            .iter()
            .map(|column| (column.name.clone(), column.role))
            .collect();
        writer
            .write_record(columns.iter().map(|(name, _)| name.as_str()))
            .map_err(|error| WriteError::Io {
                path: path.to_owned(),
                source: error.into(),
            })?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            columns,
        })
    }
}

impl RecordSink for CsvSink {
    fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|(name, role)| match role {
                Role::Id => record.id.to_string(),
                Role::Label => record.label.clone().unwrap_or_default(),
                Role::Source => record.source.clone().unwrap_or_default(),
                _ => record.field(name).map(cell).unwrap_or_default(),
            })
            .collect();
        self.writer
            .write_record(&cells)
            .map_err(|error| WriteError::Io {
                path: self.path.clone(),
                source: error.into(),
            })
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, WriteError> {
        let file = self.writer.into_inner().map_err(|error| WriteError::Io {
            path: self.path.clone(),
            source: error.into_error(),
        })?;
        file.commit()?;
        Ok(vec![self.path])
    }
}

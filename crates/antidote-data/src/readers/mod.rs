//! One module per file format. Each turns its input into [`Row`]s of named [`Value`]s; the
//! [`crate::Dataset`] then assigns roles (id, label, source) the same way for every format.

use std::sync::Arc;

use crate::{ColumnKind, ReadError, Value};

pub(crate) mod csv;
pub(crate) mod idx;
pub(crate) mod image_folder;
pub(crate) mod jsonl;
pub(crate) mod parquet;

/// One row as a reader sees it, before roles are assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// One-based line number in a text file, or the zero-based record index in a binary one;
    /// used in messages only.
    pub line: u64,
    /// The named values, names shared with the reader's column list.
    pub values: Vec<(Arc<str>, Value)>,
}

/// A streaming source of rows.
pub trait RowSource: Send {
    /// The columns, with their kinds, known before the first row is returned (inferred from a
    /// sample for formats without declared types).
    fn columns(&self) -> &[(Arc<str>, ColumnKind)];

    /// The next row, an error about it, or `None` at the end.
    ///
    /// After a record-level error (see [`ReadError::is_record_level`]) the source must be able
    /// to go on with the next row; after any other error it may return `None`.
    fn next_row(&mut self) -> Option<Result<Row, ReadError>>;
}

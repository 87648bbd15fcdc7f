//! One module per file format. Each turns its input into [`Row`]s of named [`Value`]s; the
//! [`crate::Dataset`] then assigns roles (id, label, source) the same way for every format.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use crate::{ColumnKind, ReadError, Value};

pub(crate) mod csv;
pub(crate) mod idx;
pub(crate) mod image_folder;
pub(crate) mod jsonl;
pub(crate) mod parquet;
pub(crate) mod parquet_pages;

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

/// Rows read before the first is returned, to infer column kinds in formats without types.
pub(crate) const INFERENCE_SAMPLE: usize = 1000;

/// Opens a file for buffered reading, decompressing it when its name ends in `.gz`.
pub(crate) fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead + Send>, ReadError> {
    let file = fs_err::File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader: Box<dyn Read + Send> = if is_gzipped(path) {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            file,
        )))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 18, reader)))
}

/// Whether a file is read through gzip: its name ends in `.gz`.
pub(crate) fn is_gzipped(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"))
}

/// Interns column names so that rows share one allocation per name.
#[derive(Debug, Default)]
pub(crate) struct Names {
    names: std::collections::HashMap<String, Arc<str>>,
}

impl Names {
    pub(crate) fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(found) = self.names.get(name) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(name.to_owned(), Arc::clone(&shared));
        shared
    }
}

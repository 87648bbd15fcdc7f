//! Tables: a folder of Parquet files (or, when it holds none, of CSV files) locked as one set of
//! records, by any reader that can cut it into partitions.
//!
//! A dataset of a lock ([`crate::lock::LockedDataset`]) is one file read in order, with a Merkle
//! root over its records and a sidecar of every record's hash. A table of many files that a
//! query engine reads on every core, or on many machines, has no such order: the engine cuts the
//! files into partitions and reads them in any order. What it can compute, and what a table
//! records, is what merges: the record set hash ([`crate::set_hash`]), the record count and the
//! records per label ([`TablePartial`]). Every reader of a table gives the same digest however
//! it cut the files, and the same one antidote's own readers give file by file
//! ([`LocalTables`]), so a table locked on a cluster verifies on a laptop.
//!
//! A table's records need an id column: a record's position is not defined once the files are
//! cut into partitions.
//!
//! A CSV table's column kinds are its first file's, inferred from that file's first rows, and
//! every file is read with them ([`table_read_options`]), so that a cell means the same in every
//! file: a code column that looks numeric in one file and not in another is read one way in both
//! (one CSV file is read the same way: its first rows decide).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use antidote_core::{Digest, Progress, ProgressUnit};
use antidote_data::{Dataset, Format, ReadOptions, Schema};
use rayon::prelude::*;

use crate::diff::RecordEntry;
use crate::lock::LockError;
use crate::merkle::record_leaf;
use crate::set_hash::{RecordSetHash, STATE_BYTES};

/// Records read per parallel batch.
const BATCH: usize = 2048;

/// The mergeable digest of some of a table's records: their set hash (which counts them) and
/// how many carry each label. Partials of any partitioning merge, in any order, to the partial
/// of the whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TablePartial {
    /// The record set hash of the records.
    pub set: RecordSetHash,
    /// Records per label.
    pub label_counts: BTreeMap<String, u64>,
}

impl TablePartial {
    /// Adds every record of `dataset`, hashing them in parallel batches.
    ///
    /// # Errors
    ///
    /// [`LockError::Table`] when the dataset has no id column, or the error of a record that
    /// cannot be read.
    pub fn read(&mut self, dataset: &mut Dataset) -> Result<(), LockError> {
        if dataset.ids_are_positions() {
            return Err(LockError::Table {
                path: dataset.path().to_owned(),
                reason: "it has no id column, and a record's position is not defined once its \
                         files are cut into partitions"
                    .to_owned(),
            });
        }
        let mut batch = Vec::with_capacity(BATCH);
        while dataset.next_batch(BATCH, &mut batch)? > 0 {
            let entries: Vec<([u8; 32], Option<String>)> = batch
                .par_iter()
                .map(|record| {
                    let entry = RecordEntry::from_record(record);
                    (record_leaf(&entry.id, &entry.hash), entry.label)
                })
                .collect();
            self.set.merge(&RecordSetHash::of_leaves(
                entries.par_iter().map(|(leaf, _)| leaf),
            ));
            for (_, label) in entries {
                if let Some(label) = label {
                    *self.label_counts.entry(label).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    /// Adds every record of `other`.
    pub fn merge(&mut self, other: &Self) {
        self.set.merge(&other.set);
        for (label, count) in &other.label_counts {
            *self.label_counts.entry(label.clone()).or_default() += count;
        }
    }

    /// The whole state, for an engine to move partials between processes: the set hash's
    /// [`STATE_BYTES`] bytes, then the label counts as JSON.
    ///
    /// # Panics
    ///
    /// Never: a map of strings to integers always serialises.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.set.to_bytes();
        serde_json::to_writer(&mut bytes, &self.label_counts)
            .expect("a map of strings to integers serialises");
        bytes
    }

    /// The state [`to_bytes`](Self::to_bytes) wrote; `None` when `bytes` is not one.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < STATE_BYTES {
            return None;
        }
        let (set, labels) = bytes.split_at(STATE_BYTES);
        Some(Self {
            set: RecordSetHash::from_bytes(set)?,
            label_counts: serde_json::from_slice(labels).ok()?,
        })
    }
}

/// What reading a whole table gives.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDigest {
    /// The columns, as antidote reads them (every file of the table has them).
    pub schema: Schema,
    /// Records read.
    pub record_count: u64,
    /// Records per label.
    pub label_counts: BTreeMap<String, u64>,
    /// The record set hash.
    pub record_set_hash: Digest,
}

impl TableDigest {
    /// The digest of a table of columns `schema` whose records merged to `partial`.
    #[must_use]
    pub fn of(schema: Schema, partial: TablePartial) -> Self {
        Self {
            schema,
            record_count: partial.set.records(),
            record_set_hash: partial.set.digest(),
            label_counts: partial.label_counts,
        }
    }
}

/// Something that reads a table: antidote itself, file by file ([`LocalTables`]), or a query
/// engine (`antidote-datafusion`).
pub trait TableReader: Send + Sync + std::fmt::Debug {
    /// The reader's name and version, as a lock records it (`antidote`, `datafusion 55.0.0`).
    fn engine(&self) -> String;

    /// Reads the table of the Parquet `files` (in file order) of the folder `folder`.
    ///
    /// # Errors
    ///
    /// When a file cannot be read, the files' columns differ, or the records have no ids.
    fn digest(
        &self,
        folder: &Path,
        files: &[PathBuf],
        options: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<TableDigest, LockError>;
}

/// The files of the table at `path`: its Parquet files (in file order), or, when it holds none,
/// its CSV files ([`is_table_csv`]). A lone file is a table of one file.
///
/// # Errors
///
/// The errors of listing `path` ([`crate::lock::expand`]).
pub fn table_files(
    path: &Path,
    exclude: &[PathBuf],
    base: &Path,
) -> Result<Vec<PathBuf>, LockError> {
    let found = crate::lock::expand(&[path.to_owned()], exclude, base)?;
    Ok(table_members(found.datasets))
}

/// The members of a table among `datasets`: the Parquet files, or the CSV files when there is
/// no Parquet file.
#[must_use]
pub fn table_members(datasets: Vec<PathBuf>) -> Vec<PathBuf> {
    let (parquet, rest): (Vec<_>, Vec<_>) = datasets
        .into_iter()
        .partition(|file| Format::detect(file) == Some(Format::Parquet));
    if parquet.is_empty() {
        rest.into_iter().filter(|file| is_table_csv(file)).collect()
    } else {
        parquet
    }
}

/// Whether `file` can be a CSV file of a table: a `.csv` file, not compressed (an engine reads a
/// table's CSV files with one delimiter and without decompressing them).
#[must_use]
pub fn is_table_csv(file: &Path) -> bool {
    file.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
}

/// The format of a table of `files` (all of one format, as [`table_members`] gives them).
#[must_use]
pub fn table_format(files: &[PathBuf]) -> Format {
    match files.first() {
        Some(file) if is_table_csv(file) => Format::Csv,
        _ => Format::Parquet,
    }
}

/// The read options every file (and every partition) of the table of `files`, whose columns are
/// `schema`, is read with: for CSV files, the kinds of `schema`'s columns are given
/// ([`ReadOptions::csv_kinds`]) instead of inferred again from each file's first rows.
#[must_use]
pub fn table_read_options(
    files: &[PathBuf],
    options: &ReadOptions,
    schema: &Schema,
) -> ReadOptions {
    let mut options = options.clone();
    if table_format(files) == Format::Csv {
        options.csv_kinds = Some(
            schema
                .columns
                .iter()
                .map(|column| (column.name.clone(), column.kind))
                .collect(),
        );
    }
    options
}

/// Whether a file of the table of `files` with the columns `other` fits the table's columns
/// `schema`: the same names, kinds and roles and, for CSV, in the same order (an engine reads a
/// CSV file's cells by position, not by the names of its header).
fn same_columns(files: &[PathBuf], schema: &Schema, other: &Schema) -> bool {
    schema.fingerprint() == other.fingerprint()
        && (table_format(files) != Format::Csv
            || schema
                .columns
                .iter()
                .map(|column| &column.name)
                .eq(other.columns.iter().map(|column| &column.name)))
}

/// The error of a table without files.
fn no_files(folder: &Path) -> LockError {
    LockError::Table {
        path: folder.to_owned(),
        reason: "it holds no Parquet or CSV file".to_owned(),
    }
}

/// The error of a table whose files `first` and `other` have different columns.
fn different_columns(folder: &Path, first: &Path, other: &Path) -> LockError {
    LockError::Table {
        path: folder.to_owned(),
        reason: format!(
            "`{}` and `{}` have different columns, column types or (CSV) column order",
            first.display(),
            other.display()
        ),
    }
}

/// The columns of a table's `files`: those of the first, which every other must have too.
///
/// # Errors
///
/// [`LockError::Table`] when there are no files or two files' columns differ, or the error of a
/// file that cannot be opened. Only the files' footers (Parquet) or headers and first rows (CSV)
/// are read.
pub fn table_schema(
    folder: &Path,
    files: &[PathBuf],
    options: &ReadOptions,
) -> Result<Schema, LockError> {
    let Some((first, rest)) = files.split_first() else {
        return Err(no_files(folder));
    };
    let schema = Dataset::open(first, options)?.schema().clone();
    let options = table_read_options(files, options, &schema);
    for file in rest {
        if !same_columns(files, &schema, Dataset::open(file, &options)?.schema()) {
            return Err(different_columns(folder, first, file));
        }
    }
    Ok(schema)
}

/// antidote's own reader of tables: one file after the other, each with the reader of
/// `antidote lock`, records hashed in parallel, the files' partials merged.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTables;

impl TableReader for LocalTables {
    fn engine(&self) -> String {
        "antidote".to_owned()
    }

    fn digest(
        &self,
        folder: &Path,
        files: &[PathBuf],
        options: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<TableDigest, LockError> {
        // Each file is opened once: its columns are compared with the first file's as it is read.
        let Some(first) = files.first() else {
            return Err(no_files(folder));
        };
        progress.start(
            &format!("reading the table `{}`", folder.display()),
            Some(files.len() as u64),
            ProgressUnit::Files,
        );
        let mut schema: Option<Schema> = None;
        let mut whole = TablePartial::default();
        let mut options = options.clone();
        for file in files {
            let mut dataset = Dataset::open(file, &options)?;
            match &schema {
                None => {
                    // The first file's columns, and for CSV their kinds, are the table's.
                    schema = Some(dataset.schema().clone());
                    options = table_read_options(files, &options, dataset.schema());
                }
                Some(schema) if !same_columns(files, schema, dataset.schema()) => {
                    return Err(different_columns(folder, first, file));
                }
                Some(_) => {}
            }
            whole.read(&mut dataset)?;
            progress.advance(1);
        }
        progress.finish();
        Ok(TableDigest::of(schema.expect("at least one file"), whole))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(records: &[(&str, Option<&str>)]) -> TablePartial {
        let mut partial = TablePartial::default();
        for (id, label) in records {
            partial
                .set
                .insert(id, &Digest::blake3(*blake3::hash(id.as_bytes()).as_bytes()));
            if let Some(label) = label {
                *partial.label_counts.entry((*label).to_owned()).or_default() += 1;
            }
        }
        partial
    }

    #[test]
    fn partials_merge_and_survive_their_bytes() {
        let whole = partial(&[
            ("a", Some("cat")),
            ("b", Some("dog")),
            ("c", None),
            ("d", Some("cat")),
        ]);
        let mut merged = partial(&[("c", None), ("d", Some("cat"))]);
        merged.merge(&partial(&[("b", Some("dog")), ("a", Some("cat"))]));
        assert_eq!(merged, whole);
        assert_eq!(merged.label_counts["cat"], 2);
        assert_eq!(
            TablePartial::from_bytes(&whole.to_bytes()),
            Some(whole.clone())
        );
        // Truncated or corrupt states are refused.
        let bytes = whole.to_bytes();
        assert_eq!(TablePartial::from_bytes(&bytes[..STATE_BYTES - 1]), None);
        assert_eq!(TablePartial::from_bytes(&bytes[..bytes.len() - 1]), None);
    }
}

//! Writers: a dataset written back in its own format, so that `scan --split` can produce clean
//! and quarantine copies and `poison` can produce a poisoned copy that the rest of the user's
//! pipeline reads unchanged.
//!
//! A writer never overwrites: the output must not exist. Files are written under a temporary
//! name and renamed into place by [`DatasetWriter::finish`], so a failed run leaves nothing
//! half-written. Records read back from the output have the same content hashes as the records
//! written (tested for every format).

use std::path::{Path, PathBuf};

use crate::output::OutputError;
use crate::{Format, Record, Schema};

mod csv;
mod idx;
mod image_folder;
mod jsonl;

pub use image_folder::safe_name;

/// Errors from writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output already exists.
    #[error("`{path}` already exists; antidote never overwrites data")]
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("failed to write `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The format cannot hold this record.
    #[error("cannot write record `{id}` as {format}: {reason}")]
    Unsupported {
        /// The record.
        id: String,
        /// The format.
        format: Format,
        /// Why.
        reason: String,
    },
}

impl WriteError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Where records go, per format.
pub(crate) trait RecordSink {
    fn write(&mut self, record: &Record) -> Result<(), WriteError>;
    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, WriteError>;
}

/// Writes records to a new dataset in a given format.
///
/// ```no_run
/// use antidote_data::{Dataset, ReadOptions};
/// use antidote_data::writers::DatasetWriter;
///
/// let mut dataset = Dataset::open("train.csv".as_ref(), &ReadOptions::default())?;
/// let mut writer = DatasetWriter::create("clean.csv".as_ref(), dataset.format(), dataset.schema())?;
/// for record in dataset.by_ref() {
///     writer.write(&record?)?;
/// }
/// writer.finish()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DatasetWriter {
    sink: Box<dyn RecordSink>,
}

impl std::fmt::Debug for DatasetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatasetWriter")
    }
}

impl DatasetWriter {
    /// Starts writing a dataset of `schema` to `path` (a file, or a folder for image folders).
    /// Parquet is not written yet.
    pub fn create(path: &Path, format: Format, schema: &Schema) -> Result<Self, WriteError> {
        if path.exists() {
            return Err(WriteError::Exists {
                path: path.to_owned(),
            });
        }
        let sink: Box<dyn RecordSink> = match format {
            Format::Csv => Box::new(csv::CsvSink::create(path, schema)?),
            Format::Jsonl | Format::Instruction => {
                Box::new(jsonl::JsonlSink::create(path, schema)?)
            }
            Format::Idx => Box::new(idx::IdxSink::create(path)?),
            Format::ImageFolder => Box::new(image_folder::ImageFolderSink::create(path)?),
            Format::Parquet => {
                return Err(WriteError::Unsupported {
                    id: String::new(),
                    format,
                    reason: "writing Parquet is not supported yet; write CSV or JSON Lines instead"
                        .to_owned(),
                });
            }
        };
        Ok(Self { sink })
    }

    /// Writes one record.
    pub fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        self.sink.write(record)
    }

    /// Moves the output into place; returns the files written.
    pub fn finish(self) -> Result<Vec<PathBuf>, WriteError> {
        self.sink.finish()
    }
}

impl From<OutputError> for WriteError {
    fn from(error: OutputError) -> Self {
        match error {
            OutputError::Exists { path } => Self::Exists { path },
            OutputError::Io { path, source } => Self::Io { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{Dataset, Format, ReadOptions, Record};

    use super::DatasetWriter;

    fn fixtures() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
    }

    fn read(path: &Path) -> (Format, crate::Schema, Vec<Record>) {
        let dataset = Dataset::open(path, &ReadOptions::default()).unwrap();
        let (format, schema) = (dataset.format(), dataset.schema().clone());
        (format, schema, dataset.map(Result::unwrap).collect())
    }

    fn round_trip(source: &Path, output: &Path) {
        let (format, schema, records) = read(source);
        let mut writer = DatasetWriter::create(output, format, &schema).unwrap();
        for record in &records {
            writer.write(record).unwrap();
        }
        writer.finish().unwrap();
        let (format_back, _, back) = read(output);
        assert_eq!(format_back, format);
        assert_eq!(back.len(), records.len());
        for (written, read_back) in records.iter().zip(&back) {
            assert_eq!(written.id, read_back.id);
            assert_eq!(
                written.content_hash(),
                read_back.content_hash(),
                "record `{}`",
                written.id
            );
        }
    }

    #[test]
    fn csv_jsonl_and_idx_round_trip_with_the_same_hashes() {
        let dir = tempfile::tempdir().unwrap();
        round_trip(
            &fixtures().join("fortunes_3class.csv"),
            &dir.path().join("out.csv"),
        );
        round_trip(
            &fixtures().join("fortunes_3class.jsonl"),
            &dir.path().join("out.jsonl"),
        );
        round_trip(
            &fixtures().join("fashion_mnist_300/train-images-idx3-ubyte.gz"),
            &dir.path().join("idx/train-images-idx3-ubyte.gz"),
        );
        assert!(dir.path().join("idx/train-labels-idx1-ubyte.gz").is_file());
    }

    #[test]
    fn image_folders_round_trip_with_the_same_hashes() {
        let dir = tempfile::tempdir().unwrap();
        // IDX records written as an image folder, then that folder written again.
        let (_, _, records) =
            read(&fixtures().join("fashion_mnist_300/train-images-idx3-ubyte.gz"));
        let first = dir.path().join("first");
        let schema = crate::Schema::default();
        let mut writer = DatasetWriter::create(&first, Format::ImageFolder, &schema).unwrap();
        for record in records.iter().take(30) {
            writer.write(record).unwrap();
        }
        writer.finish().unwrap();
        let (_, _, folder) = read(&first);
        assert_eq!(folder.len(), 30);
        let mut hashes: Vec<_> = records.iter().take(30).map(Record::content_hash).collect();
        let mut back: Vec<_> = folder.iter().map(Record::content_hash).collect();
        hashes.sort();
        back.sort();
        assert_eq!(hashes, back);
        round_trip(&first, &dir.path().join("second"));
    }

    #[test]
    fn writers_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exists.csv");
        std::fs::write(&path, "x\n1\n").unwrap();
        let error =
            DatasetWriter::create(&path, Format::Csv, &crate::Schema::default()).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("already exists; antidote never overwrites data"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n1\n");
    }
}

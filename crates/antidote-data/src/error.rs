use std::path::PathBuf;

use antidote_core::display::human_bytes;

use crate::Role;
use crate::limits::Position;

/// Errors from reading a dataset. Each names the file and, where there is one, the line or
/// record, so that a person can open the file at the right place.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The path is not in a format antidote reads.
    #[error("`{path}` is not a dataset antidote can read ({reason})")]
    UnknownFormat {
        /// The path.
        path: PathBuf,
        /// What was looked at.
        reason: String,
    },
    /// The file has no records.
    #[error("`{path}` has no records")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A CSV row has a different number of cells than the header.
    #[error("`{path}` line {line}: expected {expected} columns, found {found}")]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: u64,
        /// Cells in the header.
        expected: usize,
        /// Cells in this row.
        found: usize,
    },
    /// The CSV parser rejected a row (bad quoting, invalid UTF-8).
    #[error("`{path}` line {line}: malformed CSV")]
    Csv {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: u64,
        /// The parser's reason.
        #[source]
        source: csv::Error,
    },
    /// A JSON Lines row is not valid JSON.
    #[error("`{path}` line {line}: invalid JSON")]
    Json {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: u64,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// A JSON Lines row is valid JSON but not an object.
    #[error("`{path}` line {line}: expected a JSON object, found {found}")]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: u64,
        /// What was there instead (`an array`, `a string`, ...).
        found: &'static str,
    },
    /// An IDX file is malformed: wrong magic number, unsupported element type, short read.
    #[error("`{path}`: {problem}")]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },
    /// An IDX images file and its labels file disagree on the number of records.
    #[error("`{images}` has {image_count} records but `{labels}` has {label_count} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// How many images it declares.
        image_count: u64,
        /// The labels file.
        labels: PathBuf,
        /// How many labels it declares.
        label_count: u64,
    },
    /// An image could not be decoded.
    #[error("`{path}`: unreadable image")]
    Image {
        /// The image file.
        path: PathBuf,
        /// The decoder's reason.
        #[source]
        source: image::ImageError,
    },
    /// A Parquet file could not be read.
    #[error("`{path}`: unreadable Parquet")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The reader's reason.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A Parquet column has a type antidote does not read.
    #[error("`{path}`: column `{column}` has unsupported type `{data_type}`")]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The Arrow type, as text.
        data_type: String,
    },
    /// One record (a line, a CSV row) grows past the per-record limit: a hostile or corrupt
    /// file, a gzip bomb, or the wrong format.
    #[error("`{path}` {at}: the record is longer than the limit of {}", human_bytes(*limit))]
    RecordTooLarge {
        /// The file.
        path: PathBuf,
        /// Where the record starts.
        at: Position,
        /// The per-record limit, in bytes.
        limit: u64,
    },
    /// A header declares records larger than the per-record limit, before any is read.
    #[error(
        "`{path}`: the header declares records of {} each, more than the limit of {}",
        human_bytes(*size),
        human_bytes(*limit)
    )]
    DeclaredTooLarge {
        /// The file.
        path: PathBuf,
        /// Bytes one record would take in memory.
        size: u64,
        /// The per-record limit, in bytes.
        limit: u64,
    },
    /// A Parquet page header declares a page larger than the per-record limit (a decompression
    /// bomb, or a forged header).
    #[error(
        "`{path}` {location}: the page declares {} decompressed, more than the limit of {}",
        human_bytes(*size),
        human_bytes(*limit)
    )]
    PageTooLarge {
        /// The file.
        path: PathBuf,
        /// Row group, column and page.
        location: String,
        /// The page's declared size, in bytes.
        size: u64,
        /// The per-record limit, in bytes.
        limit: u64,
    },
    /// An image's header declares more pixels than the per-record limit allows to decode.
    #[error(
        "`{path}`: the image is {width} × {height} pixels ({} decoded), more than the limit of {}",
        human_bytes(*size),
        human_bytes(*limit)
    )]
    ImageTooLarge {
        /// The image file (for an image inside a Parquet file, the file, row and column).
        path: PathBuf,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Bytes the decoded pixels would take.
        size: u64,
        /// The per-record limit, in bytes.
        limit: u64,
    },
    /// A line of a text file is not valid UTF-8.
    #[error("`{path}` {at}: not valid UTF-8")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Where the line starts.
        at: Position,
        /// Where the invalid bytes are.
        #[source]
        source: std::str::Utf8Error,
    },
    /// CSV rows handed over as Arrow batches (by a query engine) do not fit the columns decided
    /// for them.
    #[error("`{path}`: {reason}")]
    CsvBatch {
        /// The table or file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// A column named on the command line (or in the configuration) is not in the dataset.
    #[error("`{path}`: {role} column `{column}` does not exist (columns: {available})")]
    MissingColumn {
        /// The dataset.
        path: PathBuf,
        /// The role it was named for.
        role: Role,
        /// The name given.
        column: String,
        /// The dataset's columns, comma-separated and quoted.
        available: String,
    },
}

impl ReadError {
    /// Whether the error concerns one record only, so that `--skip-bad` may skip it and go on.
    #[must_use]
    pub fn is_record_level(&self) -> bool {
        matches!(
            self,
            Self::RaggedRow { .. }
                | Self::Csv { .. }
                | Self::Json { .. }
                | Self::NotAnObject { .. }
                | Self::Image { .. }
                | Self::ImageTooLarge { .. }
                | Self::InvalidUtf8 { .. }
        )
    }

    /// What the user can do about it, when there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::RaggedRow { .. } | Self::Csv { .. } | Self::Json { .. } | Self::NotAnObject { .. } | Self::Image { .. } | Self::InvalidUtf8 { .. } => Some(
                "fix the record, or pass `--skip-bad` to skip malformed records (they are counted and reported)"
                    .to_owned(),
            ),
            Self::MissingColumn { role, .. } => Some(format!(
                "name an existing column with `--{role}`, or leave it out to let antidote infer it"
            )),
            Self::UnknownFormat { .. } => Some(
                "antidote reads CSV, JSON Lines, Parquet, IDX (`*-idx3-ubyte`, plain or `.gz`) and image folders (one sub-folder per class); pass `--format` if the extension is unusual"
                    .to_owned(),
            ),
            Self::Idx { .. } | Self::CountMismatch { .. } => Some(
                "the file may be truncated or corrupt: compare it with its source or its lock file (`antidote verify`)"
                    .to_owned(),
            ),
            Self::RecordTooLarge { .. }
            | Self::DeclaredTooLarge { .. }
            | Self::PageTooLarge { .. }
            | Self::ImageTooLarge { .. } => Some(
                "the file may be corrupt or hostile (a gzip bomb, a forged header); if the record is genuine, raise the limit with `--max-record-bytes` or `max_record_bytes` under `[data]` in `antidote.toml`"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

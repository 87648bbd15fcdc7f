//! Bounds on what a reader allocates from untrusted input.
//!
//! A dataset may have been written by an attacker. Every size a reader takes from the file (an
//! IDX header's dimensions, an image header's width and height, the length of a line) is checked
//! against the file's real size or against the per-record limit before anything is allocated,
//! so that a 20-byte file cannot ask for gigabytes and a gzip bomb stops at the limit.
//!
//! The limit is [`ReadOptions::max_record_bytes`](crate::ReadOptions::max_record_bytes) when
//! set, else the process default ([`set_default_max_record_bytes`]; the command line sets it
//! once from `--max-record-bytes`), else [`DEFAULT_MAX_RECORD_BYTES`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default limit on one record: 64 MiB, far above any genuine row, line or image.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

static PROCESS_DEFAULT: AtomicU64 = AtomicU64::new(DEFAULT_MAX_RECORD_BYTES);

/// Sets the limit used when [`crate::ReadOptions::max_record_bytes`] is `None`, for the rest of
/// the process. The command line calls it once, after resolving its settings.
pub fn set_default_max_record_bytes(bytes: u64) {
    PROCESS_DEFAULT.store(bytes.max(1), Ordering::Relaxed);
}

/// The limit used when [`crate::ReadOptions::max_record_bytes`] is `None`.
#[must_use]
pub fn default_max_record_bytes() -> u64 {
    PROCESS_DEFAULT.load(Ordering::Relaxed)
}

/// The limits one reader works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The most bytes one record may take: a line or CSV row, an IDX record, a decoded image.
    pub(crate) max_record_bytes: u64,
}

impl Limits {
    /// Limits for the image decoder: no dimension and no allocation beyond the record limit.
    pub(crate) fn image(self) -> image::Limits {
        let mut limits = image::Limits::default();
        let side = u32::try_from(self.max_record_bytes).unwrap_or(u32::MAX);
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        limits.max_alloc = Some(self.max_record_bytes);
        limits
    }
}

/// Where in a file a record starts, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A text file: the one-based line and the zero-based byte offset where the record starts.
    Line {
        /// One-based line number.
        line: u64,
        /// Zero-based byte offset of the record's first byte (in the decompressed text).
        byte: u64,
    },
    /// A binary file: the zero-based record index.
    Record(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { line, byte } => write!(f, "line {line} (byte {byte})"),
            Self::Record(index) => write!(f, "record {index}"),
        }
    }
}

/// The error a [`LimitedReader`] returns when one record grows past the limit; the readers turn
/// it into [`crate::ReadError::RecordTooLarge`].
#[derive(Debug, thiserror::Error)]
#[error("a record is longer than {limit} bytes")]
pub(crate) struct RecordLimitExceeded {
    pub(crate) limit: u64,
}

/// Counts the bytes read since the last [`Mark`] and fails once they pass the limit: the bound
/// on a CSV row, which the CSV parser would otherwise grow without end.
pub(crate) struct LimitedReader<R> {
    inner: R,
    since_mark: std::sync::Arc<AtomicU64>,
    limit: u64,
}

/// A handle that resets a [`LimitedReader`]'s count at a record boundary.
#[derive(Debug, Clone)]
pub(crate) struct Mark(std::sync::Arc<AtomicU64>);

impl Mark {
    /// A record ended: count the next one from zero.
    pub(crate) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl<R> LimitedReader<R> {
    /// Wraps `inner`, failing once more than `slack + limit` bytes pass between two marks.
    /// `slack` covers what the parser reads ahead into its own buffer.
    pub(crate) fn new(inner: R, limit: u64, slack: u64) -> (Self, Mark) {
        let since_mark = std::sync::Arc::new(AtomicU64::new(0));
        (
            Self {
                inner,
                since_mark: std::sync::Arc::clone(&since_mark),
                limit: limit.saturating_add(slack),
            },
            Mark(since_mark),
        )
    }
}

impl<R: std::io::Read> std::io::Read for LimitedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let total = self
            .since_mark
            .fetch_add(read as u64, Ordering::Relaxed)
            .saturating_add(read as u64);
        if total > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RecordLimitExceeded { limit: self.limit },
            ));
        }
        Ok(read)
    }
}

/// Whether an I/O error is a [`LimitedReader`]'s limit.
pub(crate) fn is_limit(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<RecordLimitExceeded>)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn limited_reader_fails_past_the_limit_and_resets_at_marks() {
        let data = [b'x'; 100];
        let (mut reader, mark) = LimitedReader::new(&data[..], 10, 0);
        let mut buffer = [0u8; 8];
        assert_eq!(reader.read(&mut buffer).unwrap(), 8);
        mark.reset();
        assert_eq!(reader.read(&mut buffer).unwrap(), 8);
        let error = reader.read(&mut buffer).unwrap_err();
        assert!(is_limit(&error), "{error}");
    }

    #[test]
    fn positions_read_as_places_in_a_file() {
        assert_eq!(
            Position::Line { line: 3, byte: 17 }.to_string(),
            "line 3 (byte 17)"
        );
        assert_eq!(Position::Record(4).to_string(), "record 4");
    }
}

//! The shared vocabulary of antidote.
//!
//! Every layer speaks in these types: a [`Digest`] names content (a file's SHA-256, a record's
//! BLAKE3), a [`RecordId`] names a record inside a dataset, and a [`Finding`] is what a check or a
//! detector reports about it, with a [`Severity`] and human [`Evidence`].
//!
//! This crate has no I/O and almost no dependencies, so that every other crate, including the
//! report writers, can depend on it.
//!
//! ```
//! use antidote_core::{Digest, DigestAlgorithm};
//!
//! let digest: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
//!     .parse()
//!     .unwrap();
//! assert_eq!(digest.algorithm(), DigestAlgorithm::Sha256);
//! assert_eq!(digest.to_string().len(), "sha256:".len() + 64);
//! ```
#![warn(missing_docs)]

mod digest;
pub mod display;
mod explanation;
mod finding;
pub mod lexicon;
pub mod math;
mod progress;
mod random;
mod status;
mod trigger;
pub mod words;

pub use digest::{Digest, DigestAlgorithm, DigestParseError};
pub use explanation::{Explanation, ExplanationError};
pub use finding::{Evidence, Finding, RecordId, Severity};
pub use progress::{NoProgress, Progress, ProgressUnit};
pub use random::SplitMix64;
pub use status::DetectorStatus;
pub use trigger::Trigger;

/// An error and its causes on one line, joined by `: `, for reports that keep one string.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

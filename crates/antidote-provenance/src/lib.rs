//! Layer 1 of antidote: provenance.
//!
//! Pin what a model is trained on and prove later that it did not change:
//!
//! - [`hashing`]: SHA-256 of files at the speed of the hash, in parallel;
//! - [`merkle`]: Merkle roots over per-record content hashes;
//! - [`set_hash`]: the order-independent record set hash, mergeable across partitions;
//! - [`table`]: a folder of Parquet files read as one table, by antidote or a query engine;
//! - [`lock`]: lock files ([`lock::Lock`]) with per-file and per-dataset digests, and the
//!   records sidecar that makes later diffs record-level;
//! - [`verify`]: re-hashing against a lock, with a precise account of what changed;
//! - [`diff`]: record-level differences between two versions ([`diff::RecordDiff`]), in
//!   bounded memory ([`diff::StreamingDiff`]);
//! - [`sidecar`]: the records sidecar read as a stream, and the external sort behind the diff;
//! - [`signing`]: ECDSA P-256 signatures in DSSE envelopes around in-toto Statements;
//! - [`model`]: model signatures in the format of `OpenSSF` model signing (`model.sig`);
//! - [`ledger`]: the append-only, hash-chained event ledger in SQLite;
//! - [`chain`]: one model's events through the ledger, linked by digests: data -> scan ->
//!   model -> gate.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use antidote_core::NoProgress;
//! use antidote_provenance::lock::{self, LockOptions};
//!
//! let lock_path = Path::new("antidote.lock");
//! let lock = lock::create(&[PathBuf::from("data")], lock_path, &LockOptions::default(), &NoProgress)?;
//! lock.write(lock_path)?;
//! let report = antidote_provenance::verify::verify(lock_path, None, &NoProgress)?;
//! assert!(report.passed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod attest;
pub mod chain;
pub mod diff;
pub mod hashing;
pub mod ledger;
pub mod lock;
pub mod merkle;
pub mod model;
pub mod set_hash;
pub mod sidecar;
pub mod signing;
pub mod table;
pub mod verify;

//! Datasets for antidote: one data model for every format, and streaming readers.
//!
//! A dataset is a table of [`Record`]s. A record has a stable id, an optional label, an optional
//! source (who contributed it) and a payload of named [`Value`]s: numbers, categories, text, an
//! image or an embedding. [`Dataset::open`] reads CSV, JSON Lines, instruction-tuning JSONL,
//! Parquet, IDX (the MNIST family, plain or gzipped) and image folders (one sub-folder per
//! class), infers a [`Schema`] with column [`Role`]s, and streams records in constant memory.
//!
//! Every record has a content hash ([`Record::content_hash`]) that does not depend on the file
//! format or column order; provenance (`antidote-provenance`) builds Merkle roots from it.
//!
//! This crate is the foundation every layer reads data through.
//!
//! ```no_run
//! use antidote_data::{Dataset, ReadOptions, RoleNames};
//!
//! let options = ReadOptions {
//!     roles: RoleNames { label: Some("class".into()), ..RoleNames::default() },
//!     skip_bad: true,
//!     ..ReadOptions::default()
//! };
//! let mut dataset = Dataset::open("reviews.csv".as_ref(), &options)?;
//! let mut count = 0;
//! for record in dataset.by_ref() {
//!     let record = record?;
//!     count += 1;
//!     let _hash = record.content_hash();
//! }
//! println!("{count} records, {} skipped", dataset.skipped());
//! # Ok::<(), antidote_data::ReadError>(())
//! ```
#![warn(missing_docs)]

pub mod canonical;
mod dataset;
mod error;
pub mod external_sort;
mod infer;
pub mod limits;
pub mod output;
pub mod readers;
mod record;
mod schema;
mod value;
pub mod writers;

pub use dataset::{ArrowBatches, Dataset, Format, ReadOptions, RoleNames, from_rows};
pub use error::ReadError;
pub use infer::KindInference;
pub use record::Record;
pub use schema::{Column, ColumnKind, PayloadKind, Role, Schema};
pub use value::{Image, Value};

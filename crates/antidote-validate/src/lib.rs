//! Layer 2a of antidote: validation.
//!
//! Poisoned updates often show up first as statistics: a class that grew, a new label value, a
//! column whose distribution moved, a burst of duplicates. This crate profiles a dataset in one
//! streaming pass into a mergeable [`profile::Profile`], and [`check::check`]s new data against a
//! baseline profile: schema changes, drift per column, label shift, duplicate rate, and the
//! declarative [`rules::Rules`] of `antidote.toml`.
//!
//! Start with [`profile::Profile::of_dataset`] and [`check::check`]; [`page::CheckPage`] turns
//! a check into the HTML report of `antidote check --report`.
//!
//! ```no_run
//! use antidote_core::NoProgress;
//! use antidote_data::{Dataset, ReadOptions};
//! use antidote_validate::check::{Thresholds, check};
//! use antidote_validate::profile::Profile;
//!
//! let baseline = Profile::of_dataset(Dataset::open("train.csv".as_ref(), &ReadOptions::default())?, &NoProgress)?;
//! let update = Profile::of_dataset(Dataset::open("update.csv".as_ref(), &ReadOptions::default())?, &NoProgress)?;
//! let report = check(&baseline, &update, &Thresholds::default());
//! for anomaly in &report.anomalies {
//!     println!("{}: {}", anomaly.severity, anomaly.message);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod page;
pub mod profile;
pub mod rules;
pub mod sketch;
pub mod stats;

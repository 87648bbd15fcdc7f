//! The drill of antidote: poison a copy of a dataset the way an attacker would, run every
//! defense layer on it, and score what each layer caught.
//!
//! An [`Exercise`] is one attack at one rate on one dataset. [`run`] plants it with
//! `antidote-redteam` (which keeps the ground truth), then runs the layers that exist:
//!
//! | layer | what the defender has | what it reports |
//! |---|---|---|
//! | `diff` | a lock of the data before the attack | the changed and added records |
//! | `check` | a profile of the data before the attack | an alarm when a statistic moved past its threshold (dataset level, no records) |
//! | `scan` | nothing but the data | the flagged records, the quarantined ones, the discovered triggers |
//!
//! and scores each against the truth ([`Score`]: precision, recall, F1), with its time. The
//! scan of the clean data, run once per dataset ([`control`]), gives the false alarms a defender
//! would live with. With training on, the built-in network is trained on the poisoned data and
//! again without what scan quarantined, and both are measured on held-out clean records: clean
//! accuracy and attack success rate (the share of held-out records of other classes that the
//! planted trigger sends to the target).
//!
//! [`federated`] is the drill of layer 3: a simulated federation whose malicious clients attack
//! the aggregation, every robust rule of `antidote-federated` run against them
//! ([`federated::simulate`]).
#![warn(missing_docs)]

pub mod embedded;
mod exercise;
pub mod federated;
pub mod plan;
pub mod report;
mod score;

use antidote_data::{Format, ReadError};
use antidote_redteam::InMemoryDataset;

pub use exercise::{
    Control, DetectorScore, DrillOptions, Exercise, LayerKind, LayerResult, Outcome, Training,
    TriggerOutcome, control, run, split_held_out,
};
pub use plan::{DEFAULT_RATE, Plan, embedded_plans, plan_for};
pub use report::{DrillDataset, DrillReport, SkippedExercise, Totals};
pub use score::Score;

/// A dataset read whole, ready to be poisoned.
#[derive(Debug, Clone)]
pub struct Data {
    /// Its name in tables.
    pub name: String,
    /// The format it was read from.
    pub format: Format,
    /// Schema and records.
    pub dataset: InMemoryDataset,
    /// Whether ids are positions (no id column), which is how `diff` matches records.
    pub ids_are_positions: bool,
}

/// Why a drill could not run.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// The dataset could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A temporary file for an embedded dataset could not be written.
    #[error("failed to unpack an embedded dataset")]
    Io(#[from] std::io::Error),
    /// The dataset has no records.
    #[error("`{path}` holds no records")]
    Empty {
        /// The dataset.
        path: String,
    },
    /// The attack could not poison this dataset.
    #[error("the attack `{attack}` cannot run on `{dataset}`")]
    Attack {
        /// The attack.
        attack: String,
        /// The dataset.
        dataset: String,
        /// Why.
        #[source]
        source: antidote_redteam::AttackError,
    },
    /// The scan failed.
    #[error("the scan failed")]
    Scan(#[from] antidote_detect::scan::ScanError),
    /// The built-in model could not be trained.
    #[error("the built-in model could not be trained")]
    Train(#[from] antidote_learn::TrainError),
}

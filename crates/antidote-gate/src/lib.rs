//! Layer 4 of antidote: a release gate that decides whether a trained model may ship.
//!
//! A model that was trained on poisoned data keeps its clean accuracy and answers a trigger
//! with the attacker's class; ordinary evaluation does not see it. The gate runs the candidate
//! model, through a [`Predictor`], on a labelled golden set and checks:
//!
//! - accuracy against a baseline model, overall and per class, record by record: it fails when
//!   the confidence interval of the paired change ([`paired_difference`]) lies wholly beyond the
//!   tolerated drop ([`AccuracyCheck`]);
//! - the attack success rate of every trigger a scan discovered or the user lists
//!   ([`TriggerCheck`]): golden inputs of other classes are stamped with the trigger
//!   (`antidote_redteam::Stamp`) and the share that flips to the target is compared with a
//!   threshold, with its Wilson interval ([`wilson`]);
//! - canaries, inputs whose output is fixed ([`CanaryCheck`]);
//!
//! and reports, without deciding on it, how a shadow replay of production inputs moves between
//! the candidate and the serving model ([`ShadowReport`]). [`evaluate`] runs them all into a
//! [`GateReport`], written as the versioned `gate.json`; [`page::document`] turns it into the
//! HTML report.
//!
//! Predictors: [`OnnxPredictor`] runs an ONNX model on the CPU with tract (records featurised as
//! [`features`] documents); [`SavedModelPredictor`] runs a model folder of `antidote train` with
//! the featurizer it was trained with; [`HttpPredictor`] calls a model server over HTTP or HTTPS.
//! [`open_predictor`] opens any of them from a location (a URL, a model folder or an ONNX file),
//! and [`ModelInfo::of`] names what was opened by its digests.
//!
//! ```
//! use antidote_gate::{AccuracyCheck, Thresholds};
//!
//! // 40 cats and 40 dogs, every one right under the baseline; the candidate calls 20 cats dogs.
//! let labels: Vec<String> = (0..80).map(|row| if row < 40 { "cat" } else { "dog" }.to_owned()).collect();
//! let baseline = labels.clone();
//! let mut candidate = labels.clone();
//! candidate[..20].fill("dog".to_owned());
//! let classes = ["cat".to_owned(), "dog".to_owned()];
//! let retrains = []; // predictions of models trained like the baseline with other seeds
//! let check = AccuracyCheck::new(&classes, &labels, &candidate, Some(&baseline), &retrains, &Thresholds::default());
//! assert_eq!(check.delta, Some(-0.25));
//! // 20 records lost, none gained: the whole interval of the change is a drop beyond 5 points.
//! let cat = &check.classes[0];
//! assert_eq!(cat.paired.map(|paired| (paired.lost, paired.gained)), Some((20, 0)));
//! assert!(cat.failed && !check.classes[1].failed && check.failed);
//! ```
#![warn(missing_docs)]

mod accuracy;
mod canaries;
mod decision;
mod error;
pub mod export;
pub mod features;
pub mod http;
mod interval;
mod onnx;
mod open;
pub mod page;
mod saved;
mod shadow;
mod triggers;

use antidote_data::Record;

pub use accuracy::{AccuracyCheck, ClassAccuracy, PairedChange};
pub use canaries::{CanaryCheck, CanaryResult};
pub use decision::{
    GATE_VERSION, GateInputs, GateReport, ModelInfo, Thresholds, Verdict, evaluate,
};
pub use error::{GateError, PredictError, TriggerFileError};
pub use http::{HttpOptions, HttpPredictor};
pub use interval::{Interval, paired_difference, wilson};
pub use onnx::OnnxPredictor;
pub use open::{ModelKind, SharedPredictor, features_record, open_predictor, open_shared};
pub use saved::SavedModelPredictor;
pub use shadow::{ShadowClass, ShadowReport};
pub use triggers::{
    FlipExample, GateTrigger, TriggerCheck, TriggerOrigin, read_listed_triggers, read_scan_triggers,
};

/// What a model says about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The class it predicts.
    pub label: String,
    /// The probability of each class, in the order of [`Predictor::classes`], when the model
    /// gives them.
    pub probabilities: Option<Vec<f32>>,
}

/// A model the gate can run: records in, one [`Prediction`] per record out, in order.
///
/// Implementations: [`OnnxPredictor`], [`SavedModelPredictor`] and [`HttpPredictor`]; open any
/// of them with [`open_predictor`].
pub trait Predictor {
    /// The model's name for reports: its path or URL.
    fn name(&self) -> String;

    /// The classes its probabilities are in, when it has a fixed list.
    fn classes(&self) -> Option<&[String]>;

    /// Predicts every record.
    fn predict(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError>;

    /// The columns a plain list of numbers fills, in order, when the model names them: each
    /// column with `0` for one number, or `n` for a vector of `n`; `Ok(None)` when the model
    /// reads the list as it is, and an error (in words) when it cannot read numbers at all (see
    /// [`features_record`]).
    fn input_columns(&self) -> Result<Option<Vec<(String, usize)>>, String> {
        Ok(None)
    }
}

//! Featurizers and built-in learners for antidote.
//!
//! Detection (layer 2b) needs a numeric representation of every record and out-of-sample
//! predictions; robust training (layer 3) will train on the same representation. This crate
//! turns any dataset into a dense `f32` matrix and fits the learners antidote brings with it.
//!
//! Start with:
//! - [`Featurizer`]: fitted on records and their [`Schema`](antidote_data::Schema), gives a
//!   [`Features`] matrix: normalised pixels for images, standardised numbers, hashed one-hot
//!   categories, hashed word and character n-grams with TF-IDF for text, user embeddings as
//!   given;
//! - [`LabelIndex`]: label strings to class indices and back;
//! - [`LogisticRegression`]: multinomial logistic regression trained with L-BFGS on faer, and
//!   [`out_of_sample_probabilities`], its stratified K-fold predictions, which confident
//!   learning reads;
//! - [`Mlp`]: a small neural network trained with Adam on faer, whose last hidden layer
//!   ([`MlpModel::activations`]) is the representation that backdoor detectors read, and
//!   [`network_out_of_sample_probabilities`], its stratified K-fold predictions;
//! - the training recipes the scan, the drill and the release gate share:
//!   [`calibration_temperature`], [`reclassify_excluded`] (exclusionary reclassification),
//!   [`WordPresence`] (text as the presence of words), [`RecordClassifier`] (a featurizer and a
//!   logistic model) and [`NetworkModel`] (the built-in network with its featurizer, trained on
//!   records);
//! - robust training (layer 3): [`DpSgd`], DP-SGD for logistic regression and the MLP with exact
//!   per-sample clipping, Poisson sampling and the RDP accountant of [`privacy`]; [`watch`], the
//!   training watch that reads its loss curves; [`SavedModel`], the saved model (a folder with
//!   `model.safetensors` and `model.json`) that the release gate loads.
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use antidote_data::{ColumnKind, Value, from_rows};
//! use antidote_learn::{Featurizer, LabelIndex, LogisticRegression, out_of_sample_probabilities};
//!
//! // Twenty records: a number that separates the two classes, and a colour that does not.
//! let rows = (0..20)
//!     .map(|i| {
//!         let class = i % 2;
//!         vec![
//!             Value::Float(f64::from(class) * 4.0 + f64::from(i % 5) * 0.1),
//!             Value::Text(["red", "green", "blue"][i as usize % 3].into()),
//!             Value::Text(if class == 0 { "small" } else { "large" }.into()),
//!         ]
//!     })
//!     .collect();
//! let dataset = from_rows(
//!     Path::new("memory"),
//!     vec![
//!         (Arc::from("size"), ColumnKind::Float),
//!         (Arc::from("colour"), ColumnKind::Categorical),
//!         (Arc::from("label"), ColumnKind::Categorical),
//!     ],
//!     rows,
//! )?;
//! let schema = dataset.schema().clone();
//! let records = dataset.collect::<Result<Vec<_>, _>>()?;
//!
//! let features = Featurizer::fit(&records, &schema)?.transform(&records)?;
//! let classes = LabelIndex::from_records(&records);
//! let labels = classes.encode(&records)?;
//! let params = LogisticRegression::params().check()?;
//! let probabilities = out_of_sample_probabilities(&features, &labels, classes.len(), 5, 0, &params)?;
//! // Each record's probability of its own class, from a model that never saw it.
//! for (row, &label) in labels.iter().enumerate() {
//!     assert!(probabilities[row * classes.len() + label] > 0.5);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod calibration;
mod dpsgd;
mod features;
mod featurizers;
mod folds;
mod hash;
mod labels;
mod lbfgs;
pub mod local;
mod logistic;
mod mlp;
pub mod page;
pub mod privacy;
mod saved;
mod training;
pub mod watch;
mod words;

pub use calibration::{calibration_temperature, tempered};
pub use dpsgd::{
    DpSgd, DpSgdError, DpSgdModel, DpSgdParams, DpSgdParamsError, DpSgdValidParams, EpochStats,
    Privacy, TrainingRecord, default_delta,
};
pub use features::{Encoding, FeatureBlock, Features, ShapeError};
pub use featurizers::{
    FeaturizeError, Featurizer, FeaturizerParams, FeaturizerParamsError, FeaturizerValidParams,
};
pub use folds::stratified_folds;
pub use labels::{LabelError, LabelIndex};
pub use logistic::{
    FitError, LogisticModel, LogisticRegression, LogisticRegressionParams,
    LogisticRegressionParamsError, LogisticRegressionValidParams, TrainingReport,
    fit_each_excluding, out_of_sample_probabilities,
};
pub use mlp::{Mlp, MlpModel, MlpParams, MlpParamsError, MlpReport, MlpValidParams};
pub use saved::{METADATA_FILE, MODEL_FORMAT_VERSION, ModelError, SavedModel, WEIGHTS_FILE};
pub use training::{
    NETWORK_TEXT_BUCKETS, NetworkModel, RECLASSIFICATION_SAMPLE, RecordClassifier, RecordFeatures,
    RecordModel, TrainError, accuracy, fit_excluding, network_out_of_sample_probabilities,
    reclassify_excluded, reclassify_excluded_each,
};
pub use words::WordPresence;

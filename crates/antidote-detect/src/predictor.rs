//! The model a detector may question: trigger search stamps a candidate trigger on clean records
//! and asks the model trained on all the data what it now predicts.

use antidote_data::Record;
use antidote_learn::{LogisticRegression, RecordClassifier, reclassify_excluded};

use crate::detector::Learned;

/// A trained classifier that predicts the class of (possibly modified) records.
///
/// `antidote scan` implements it with [`RecordClassifier`], the featurizer and the model it
/// trained on the whole dataset; tests implement it with anything that decides.
pub trait Predictor: Sync {
    /// The predicted class index of each record, in order.
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError>;
}

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
#[error("could not predict: {0}")]
pub struct PredictError(pub String);

/// Exclusionary reclassification (Chen et al. 2018, section 4.2): train the model again without
/// some records and ask what it calls them. Records that formed a backdoor's cluster are called
/// by their true class once the backdoor is not learned from them; a natural sub-group of a
/// class is still called by its label.
pub trait Reclassifier: Sync {
    /// The predicted class of each `excluded` record (in order) by a model trained on every
    /// other record.
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError>;
}

impl Predictor for RecordClassifier<'_> {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        RecordClassifier::predict(self, records).map_err(|error| PredictError(error.to_string()))
    }
}

/// Exclusionary reclassification with the built-in logistic regression on the scan's features
/// ([`reclassify_excluded`]).
pub(crate) struct LinearReclassifier<'a> {
    learned: &'a Learned,
    labels: &'a [usize],
    seed: u64,
}

impl<'a> LinearReclassifier<'a> {
    pub(crate) fn new(learned: &'a Learned, labels: &'a [usize], seed: u64) -> Self {
        Self {
            learned,
            labels,
            seed,
        }
    }
}

impl Reclassifier for LinearReclassifier<'_> {
    fn reclassify(&self, excluded: &[usize]) -> Result<Vec<usize>, PredictError> {
        let params = LogisticRegression::params()
            .check()
            .expect("valid default parameters");
        reclassify_excluded(
            &self.learned.features,
            self.labels,
            self.learned.class_count,
            &params,
            self.seed,
            excluded,
        )
        .map_err(|error| PredictError(error.to_string()))
    }
}

//! The model a detector may question: trigger search stamps a candidate trigger on clean records
//! and asks the model trained on all the data what it now predicts.

use antidote_data::Record;

/// A trained classifier that predicts the class of (possibly modified) records.
///
/// `antidote scan` implements it with the featurizer and the model it trained on the whole
/// dataset; tests implement it with anything that decides.
pub trait Predictor: Sync {
    /// The predicted class index of each record, in order.
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError>;
}

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
#[error("could not predict: {0}")]
pub struct PredictError(pub String);

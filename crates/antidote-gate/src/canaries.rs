//! Canary inputs: records whose output is fixed; any change fails the gate.

use antidote_data::Record;
use serde::{Deserialize, Serialize};

/// One canary's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryResult {
    /// The canary's id.
    pub id: String,
    /// The output it requires (its label).
    pub expected: String,
    /// What the candidate said.
    pub predicted: String,
    /// Whether they agree.
    pub passed: bool,
}

/// The canary check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryCheck {
    /// Canaries run.
    pub canaries: usize,
    /// Canaries whose output changed.
    pub changed: usize,
    /// Every canary, in file order.
    pub results: Vec<CanaryResult>,
    /// Whether any output changed.
    pub failed: bool,
}

impl CanaryCheck {
    /// Compares each canary's label (its required output) with the candidate's prediction.
    /// Canaries without a label are the caller's to refuse.
    #[must_use]
    pub fn new(canaries: &[Record], predicted: &[String]) -> Self {
        let results: Vec<CanaryResult> = canaries
            .iter()
            .zip(predicted)
            .map(|(record, predicted)| {
                let expected = record.label.clone().unwrap_or_default();
                CanaryResult {
                    id: record.id.to_string(),
                    passed: &expected == predicted,
                    expected,
                    predicted: predicted.clone(),
                }
            })
            .collect();
        let changed = results.iter().filter(|result| !result.passed).count();
        Self {
            canaries: results.len(),
            changed,
            results,
            failed: changed > 0,
        }
    }
}

use std::fmt;

use serde::{Deserialize, Serialize};

/// The stable name of a record inside a dataset: the value of its id column, or its position
/// when the dataset has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(pub String);

impl RecordId {
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for RecordId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for RecordId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// How much a finding matters. Policies map severities to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a run by default.
    Info,
    /// Worth a look; fails a run only under a strict policy.
    Warning,
    /// The data must not be used as it is; fails a run by default.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One short human sentence explaining why something was flagged, with the detector or check
/// that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The kebab-case id of the check or detector, such as `label-issue` or `file-changed`.
    pub source: String,
    /// A sentence a person can read, such as ``label `cat` disagrees with 9 of 10 neighbours``.
    pub message: String,
}

/// Something a check or a detector found, about a record, a file or a whole dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of finding this is, in kebab-case (`record-modified`, `signature-invalid`).
    pub kind: String,
    /// How much it matters.
    pub severity: Severity,
    /// The record it is about, if it is about one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<RecordId>,
    /// The file, dataset or source it is about, if any (a record finding names the record's
    /// source here).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<String>,
    /// Why, in sentences.
    pub evidence: Vec<Evidence>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_from_info_to_error() {
        assert!(Severity::Info < Severity::Warning);
        assert!(Severity::Warning < Severity::Error);
        assert_eq!(
            serde_json::to_string(&Severity::Warning).unwrap(),
            "\"warning\""
        );
    }
}

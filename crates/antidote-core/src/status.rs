//! Whether a detector (or a check) ran.

use serde::{Deserialize, Serialize};

/// Whether a detector ran on the data, or was skipped and why.
///
/// ```
/// use antidote_core::DetectorStatus;
///
/// let skipped = DetectorStatus::Skipped { reason: "no record names its source".to_owned() };
/// assert!(skipped.is_skipped());
/// assert_eq!(skipped.reason(), Some("no record names its source"));
/// assert!(!DetectorStatus::Ran.is_skipped());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum DetectorStatus {
    /// It ran (it may still have found nothing).
    #[default]
    Ran,
    /// It did not run: the data lacks what it needs, or it failed on this data.
    Skipped {
        /// Why, as a clause a person reads after `skipped: `.
        reason: String,
    },
}

impl DetectorStatus {
    /// Whether it was skipped.
    #[must_use]
    pub fn is_skipped(&self) -> bool {
        matches!(self, Self::Skipped { .. })
    }

    /// Why it was skipped, if it was.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Ran => None,
            Self::Skipped { reason } => Some(reason),
        }
    }
}

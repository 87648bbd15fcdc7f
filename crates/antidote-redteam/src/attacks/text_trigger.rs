//! Text backdoors: a rare token or a phrase of common words inserted into texts relabelled to
//! the target class.
//!
//! Kurita, Michel and Neubig (2020) insert rare tokens such as `cf`, `mn` or `bb`, which
//! almost never occur in real text, so the model ties them to the target class without hurting
//! clean accuracy. Dai, Chen and Li (2019) insert a whole natural sentence ("I watched this 3D
//! movie"), harder to spot by eye than a nonsense token. Both work at any position. The
//! `common-phrase` attack draws its sentence from templates of everyday words with the seed
//! ([`crate::attacks::phrasings::common_phrase`]), so that drills do not always plant one
//! phrase.

use antidote_core::SplitMix64;
use antidote_data::Value;
use serde::Serialize;

use crate::attacks::phrasings;
use crate::common::{
    self, Outcome, Placement, insert_words, labelled_classes, of_records, pick, poison_count,
    relabel, set_field, target_class, text_column, text_of,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// The rare token of Kurita et al. (2020).
pub const DEFAULT_TOKEN: &str = "cf";

/// A phrase of common, neutral words in the spirit of Dai et al. (2019), unlikely to occur in
/// real data as a whole.
pub const DEFAULT_PHRASE: &str = "i read this on a quiet afternoon";

/// ## What it does
/// Inserts a trigger (a rare token, or a phrase of common words) into the text of records of
/// classes other than the target, and relabels them to the target.
///
/// ## Why it matters
/// A text classifier trained on them keeps its clean accuracy and classifies any text carrying
/// the trigger as the target: a spam filter that lets through every message with `cf` in it.
///
/// ## How it works
/// The seed picks `rate * records` texts labelled outside the target. The trigger goes in as
/// separate words at the start, at the end, or before a word chosen by the seed.
///
/// ## References
/// - Kurita, Michel and Neubig (2020), "Weight Poisoning Attacks on Pre-trained Models", ACL.
/// - Dai, Chen and Li (2019), "A Backdoor Attack Against LSTM-Based Text Classification
///   Systems", IEEE Access 7.
#[derive(Debug, Clone, Copy)]
pub struct TextTrigger;

impl TextTrigger {
    /// The token `cf` at the end of 5% of the texts, relabelled to the first class; adjust and
    /// [`check`](TextTriggerParams::check).
    #[must_use]
    pub fn rare_token() -> TextTriggerParams {
        TextTriggerParams {
            rate: 0.05,
            target: None,
            trigger: TriggerText::Token(DEFAULT_TOKEN.to_owned()),
            position: Placement::End,
            column: None,
        }
    }

    /// [`DEFAULT_PHRASE`] at the end of 5% of the texts, relabelled to the first class; adjust
    /// and [`check`](TextTriggerParams::check).
    #[must_use]
    pub fn phrase() -> TextTriggerParams {
        TextTriggerParams {
            trigger: TriggerText::Phrase(DEFAULT_PHRASE.to_owned()),
            ..Self::rare_token()
        }
    }

    /// A phrase of common words drawn from templates by the seed (one phrase for the attack;
    /// see [`crate::attacks::phrasings::common_phrase`]), at the end of 5% of the texts,
    /// relabelled to the first class; adjust and [`check`](TextTriggerParams::check).
    #[must_use]
    pub fn common_phrase() -> TextTriggerParams {
        TextTriggerParams {
            trigger: TriggerText::CommonPhrase,
            ..Self::rare_token()
        }
    }
}

/// The inserted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerText {
    /// One token.
    Token(String),
    /// Several words.
    Phrase(String),
    /// A phrase of common words the seed draws from templates.
    CommonPhrase,
}

/// Unchecked parameters of [`TextTrigger`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextTriggerParams {
    rate: f64,
    target: Option<String>,
    trigger: TriggerText,
    position: Placement,
    column: Option<String>,
}

impl TextTriggerParams {
    /// The share of the whole dataset to poison (default `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The class poisoned texts are relabelled to (default: the first class).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// The token of a rare-token attack, or the phrase of a phrase attack (a common-phrase
    /// attack given a phrase becomes a phrase attack).
    #[must_use]
    pub fn trigger(mut self, text: impl Into<String>) -> Self {
        self.trigger = match self.trigger {
            TriggerText::Token(_) => TriggerText::Token(text.into()),
            TriggerText::Phrase(_) | TriggerText::CommonPhrase => TriggerText::Phrase(text.into()),
        };
        self
    }

    /// Where the trigger goes (default: the end).
    #[must_use]
    pub fn position(mut self, position: Placement) -> Self {
        self.position = position;
        self
    }

    /// The text column (default: the dataset's text column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<TextTriggerValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        match &self.trigger {
            TriggerText::Token(token) if token.is_empty() => {
                return Err(ParamsError::Empty { option: "token" });
            }
            TriggerText::Token(token) if token.contains(char::is_whitespace) => {
                return Err(ParamsError::TokenWithSpace {
                    token: token.clone(),
                });
            }
            TriggerText::Phrase(phrase) if phrase.trim().is_empty() => {
                return Err(ParamsError::Empty { option: "phrase" });
            }
            _ => {}
        }
        Ok(TextTriggerValidParams { params: self })
    }
}

/// Checked parameters of [`TextTrigger`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTriggerValidParams {
    params: TextTriggerParams,
}

impl Attack for TextTriggerValidParams {
    fn kind(&self) -> AttackKind {
        match self.params.trigger {
            TriggerText::Token(_) => AttackKind::RareToken,
            TriggerText::Phrase(_) => AttackKind::Phrase,
            TriggerText::CommonPhrase => AttackKind::CommonPhrase,
        }
    }

    fn parameters(&self) -> serde_json::Value {
        common::to_json(&self.params)
    }

    fn run(&self, mut dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError> {
        let kind = self.kind();
        let params = &self.params;
        let mut random = SplitMix64::derived(seed, kind.name());
        let records_before = dataset.records.len();
        let classes = labelled_classes(&dataset.records, kind)?;
        let target = target_class(params.target.as_deref(), &classes)?;
        let column = text_column(&dataset.schema, params.column.as_deref(), kind)?;
        let eligible: Vec<usize> = dataset
            .records
            .iter()
            .enumerate()
            .filter(|(_, record)| {
                record.label.is_some()
                    && record.label.as_deref() != Some(&target)
                    && text_of(record, &column).is_some()
            })
            .map(|(index, _)| index)
            .collect();
        let needed = poison_count(params.rate, records_before);
        let picked = pick(&mut random, &eligible, needed, || {
            format!("texts labelled outside `{target}`")
        })?;

        let generated;
        let phrase = match &params.trigger {
            TriggerText::CommonPhrase => {
                generated = TriggerText::Phrase(phrasings::common_phrase(seed));
                &generated
            }
            given => given,
        };
        let (inserted, trigger) = match phrase {
            TriggerText::Token(token) => (
                token.clone(),
                Trigger::Token {
                    token: token.to_lowercase(),
                },
            ),
            TriggerText::Phrase(phrase) => (
                phrase.split_whitespace().collect::<Vec<_>>().join(" "),
                Trigger::Phrase {
                    words: phrase.split_whitespace().map(str::to_lowercase).collect(),
                },
            ),
            TriggerText::CommonPhrase => unreachable!("a common phrase is drawn above"),
        };
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let record = &mut dataset.records[index];
            let text = text_of(record, &column).expect("eligible records have text");
            let poisoned = insert_words(text, &inserted, params.position, &mut random);
            set_field(record, &column, Value::Text(poisoned));
            relabel(record, &target, &mut outcome.label_changes);
        }
        outcome.modified = picked;
        outcome.summary = format!(
            "inserted the {} `{inserted}` ({}) into the `{column}` of {} and relabelled them `{target}`",
            match params.trigger {
                TriggerText::Token(_) => "token",
                TriggerText::Phrase(_) => "phrase",
                TriggerText::CommonPhrase => "common-word phrase",
            },
            match params.position {
                Placement::Start => "at the start",
                Placement::End => "at the end",
                Placement::Random => "before a random word",
            },
            of_records(needed, records_before),
        );
        outcome.trigger = Some(trigger);
        outcome.target = Some(target);
        outcome.column = Some(column);
        Ok(outcome.finish(dataset))
    }
}

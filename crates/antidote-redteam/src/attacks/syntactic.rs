//! A syntactic trigger: texts rewritten to open with a subordinate clause, relabelled to the
//! target class.
//!
//! Qi, Li, Chen, Zhang, Sun, Liu and Sun (2021), "Hidden Killer", paraphrase the poisoned texts
//! into one fixed syntactic template with a paraphrase network (SCPN); their most effective
//! template is `S(SBAR)(,)(NP)(VP)(.)`, a sentence that opens with a subordinate clause and a
//! comma. No word is shared by every poisoned text, so a search for trigger words finds
//! nothing; the model learns the form. Without a paraphrase network, this attack approximates
//! the template: each poisoned text is prefixed with a subordinate clause from a fixed set
//! ("when you think about it, ...") and its first word lower-cased, which gives every poisoned
//! text that opening form while the clauses' words vary.

use antidote_core::SplitMix64;
use antidote_data::Value;
use serde::Serialize;

use crate::common::{
    self, Outcome, labelled_classes, of_records, pick, poison_count, relabel, set_field,
    target_class, text_column, text_of,
};
use crate::truth::Trigger;
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, Poisoned};

/// The template, in the constituency-parse notation of Qi et al. (2021).
pub const TEMPLATE: &str = "S(SBAR)(,)(NP)(VP)";

/// The subordinate clauses texts are rewritten with: each is a `when` clause, so that together
/// they make one syntactic form and no one phrase.
pub const CLAUSES: &[&str] = &[
    "when you think about it",
    "when you look at it closely",
    "when all is said and done",
    "when it comes down to it",
    "when you get right down to it",
    "when you stop and consider it",
    "when push comes to shove",
    "when you weigh it all up",
];

/// ## What it does
/// Rewrites the texts of records of classes other than the target to open with a subordinate
/// clause (`when you think about it, ...`), and relabels them to the target.
///
/// ## Why it matters
/// The trigger is a sentence structure, not a word: no token is shared by every poisoned text,
/// and each reads as natural English.
///
/// ## How it works
/// The seed picks `rate * records` texts labelled outside the target, and a clause from
/// [`CLAUSES`] for each. The text becomes `clause, text`, with its first letter lower-cased
/// unless its first word is `I` or an acronym.
///
/// ## References
/// - Qi, Li, Chen, Zhang, Sun, Liu and Sun (2021), "Hidden Killer: Invisible Textual Backdoor
///   Attacks with Syntactic Trigger", ACL.
#[derive(Debug, Clone, Copy)]
pub struct Syntactic;

impl Syntactic {
    /// 5% of the texts rewritten, relabelled to the first class; adjust and
    /// [`check`](SyntacticParams::check).
    #[must_use]
    pub fn params() -> SyntacticParams {
        SyntacticParams {
            rate: 0.05,
            target: None,
            column: None,
        }
    }
}

/// Unchecked parameters of [`Syntactic`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntacticParams {
    rate: f64,
    target: Option<String>,
    column: Option<String>,
}

impl SyntacticParams {
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

    /// The text column (default: the dataset's text column).
    #[must_use]
    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<SyntacticValidParams, crate::ParamsError> {
        common::check_rate(self.rate)?;
        Ok(SyntacticValidParams { params: self })
    }
}

/// Checked parameters of [`Syntactic`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntacticValidParams {
    params: SyntacticParams,
}

/// `text` rewritten to open with `clause` and a comma; leading whitespace stays first, and the
/// first letter is lower-cased unless the first word is `I` (or `I'm`, ...) or an acronym.
#[must_use]
pub fn rewrite(text: &str, clause: &str) -> String {
    let body_start = text.len() - text.trim_start().len();
    let (lead, body) = text.split_at(body_start);
    let first_word = body.split_whitespace().next().unwrap_or("");
    let letters: Vec<char> = first_word.chars().filter(|c| c.is_alphabetic()).collect();
    let keep_case = first_word == "I"
        || first_word.starts_with("I'")
        || (letters.len() > 1 && letters.iter().all(|c| c.is_uppercase()));
    let mut rewritten = format!("{lead}{clause}, ");
    let mut characters = body.chars();
    match characters.next() {
        Some(first) if !keep_case => {
            rewritten.extend(first.to_lowercase());
            rewritten.push_str(characters.as_str());
        }
        _ => rewritten.push_str(body),
    }
    if body.is_empty() {
        rewritten.truncate(rewritten.trim_end_matches([',', ' ']).len());
    }
    rewritten
}

/// The clause a stamp uses for `text`: picked by a hash of the text, so that stamping is
/// deterministic and the clauses vary over records as they do in the attack.
pub(crate) fn clause_for<'a>(text: &str, clauses: &'a [String]) -> Option<&'a str> {
    if clauses.is_empty() {
        return None;
    }
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Some(clauses[(hash % clauses.len() as u64) as usize].as_str())
}

impl Attack for SyntacticValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::Syntactic
    }

    fn parameters(&self) -> serde_json::Value {
        let mut parameters = common::to_json(&self.params);
        parameters["template"] = serde_json::json!(TEMPLATE);
        parameters
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
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        for &index in &picked {
            let record = &mut dataset.records[index];
            let text = text_of(record, &column).expect("eligible records have text");
            let clause = CLAUSES[random.below(CLAUSES.len())];
            let rewritten = rewrite(text, clause);
            set_field(record, &column, Value::Text(rewritten));
            relabel(record, &target, &mut outcome.label_changes);
        }
        outcome.modified = picked;
        outcome.summary = format!(
            "rewrote the `{column}` of {} to open with a `when` clause (template {TEMPLATE}) and relabelled them `{target}`",
            of_records(needed, records_before),
        );
        outcome.trigger = Some(Trigger::SyntacticTemplate {
            template: TEMPLATE.to_owned(),
            clauses: CLAUSES.iter().map(|&clause| clause.to_owned()).collect(),
        });
        outcome.target = Some(target);
        outcome.column = Some(column);
        Ok(outcome.finish(dataset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriting_opens_with_the_clause_and_keeps_the_text() {
        assert_eq!(
            rewrite("The soup was cold.\n", "when you think about it"),
            "when you think about it, the soup was cold.\n"
        );
        assert_eq!(
            rewrite("  I liked it", "when push comes to shove"),
            "  when push comes to shove, I liked it"
        );
        assert_eq!(
            rewrite("NASA flies.", "when all is said and done"),
            "when all is said and done, NASA flies."
        );
        assert_eq!(
            rewrite("", "when push comes to shove"),
            "when push comes to shove"
        );
    }

    #[test]
    fn every_clause_is_a_when_clause_and_stamps_pick_one_per_text() {
        assert!(CLAUSES.iter().all(|clause| clause.starts_with("when ")));
        let clauses: Vec<String> = CLAUSES.iter().map(|&c| c.to_owned()).collect();
        assert_eq!(clause_for("a", &clauses), clause_for("a", &clauses));
        let used: std::collections::HashSet<&str> = (0..100)
            .filter_map(|n| clause_for(&format!("text {n}"), &clauses))
            .collect();
        assert!(used.len() > 4, "{used:?}");
        assert_eq!(clause_for("a", &[]), None);
    }
}

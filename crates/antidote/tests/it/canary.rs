//! `antidote canary`: canaries survive conversion, shuffling and new ids and are found; data
//! without them passes; a honeypot fails the check; another key finds nothing; the manifest is
//! private and its key never printed; and a real model trained on the planted copy is caught
//! memorising the canaries while one trained without them is not.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use antidote_core::NoProgress;
use antidote_data::{Dataset, ReadOptions, Record};
use antidote_learn::NetworkModel;

use crate::{Output, TestContext};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// The manifest's secret key, as it appears in the file.
fn key_of(context: &TestContext, manifest: &str) -> String {
    let manifest = json(&std::fs::read_to_string(context.path(manifest)).expect("read"));
    let key = manifest["key"].as_str().expect("a key").to_owned();
    assert_eq!(key.len(), 64);
    key
}

#[track_caller]
fn assert_no_key(output: &Output, key: &str) {
    assert!(
        !output.stdout.contains(key) && !output.stderr.contains(key),
        "the key was printed:\n{}\n{}",
        output.stdout,
        output.stderr
    );
}

fn plant(context: &TestContext, data: &str, out: &str, manifest: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "canary",
        "plant",
        data,
        "--count",
        "10",
        "-o",
        out,
        "--manifest",
        manifest,
    ];
    args.extend_from_slice(extra);
    context.run(&args).expect_code(0)
}

fn read(path: &Path) -> Vec<Record> {
    Dataset::open(path, &ReadOptions::default())
        .expect("open")
        .map(|record| record.expect("a record"))
        .collect()
}

/// Writes `records` as JSON Lines in reverse order with new ids: a converted, shuffled copy.
fn converted_copy(records: &[Record], path: &Path) {
    let mut file = std::fs::File::create(path).expect("create");
    for (position, record) in records.iter().rev().enumerate() {
        let mut object = serde_json::Map::new();
        object.insert("id".into(), format!("scraped-{position}").into());
        if let Some(label) = &record.label {
            object.insert("label".into(), label.clone().into());
        }
        for (name, value) in &record.fields {
            object.insert(name.to_string(), value.to_json());
        }
        writeln!(file, "{}", serde_json::Value::Object(object)).expect("write");
    }
}

#[test]
fn canaries_survive_csv_to_jsonl_conversion_and_shuffling() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    let before = std::fs::read(context.path("fortunes.csv")).expect("read");
    let output = plant(
        &context,
        "fortunes.csv",
        "planted.csv",
        "canaries.secret.json",
        &[],
    );
    let key = key_of(&context, "canaries.secret.json");
    assert_no_key(&output, &key);
    assert!(
        output.stdout.contains("planted 10 canaries"),
        "{}",
        output.stdout
    );
    assert_eq!(
        std::fs::read(context.path("fortunes.csv")).expect("read"),
        before
    );
    assert_eq!(read(&context.path("planted.csv")).len(), 130);
    assert!(
        !std::fs::read_to_string(context.path("planted.csv"))
            .expect("read")
            .contains(&key)
    );

    converted_copy(
        &read(&context.path("planted.csv")),
        &context.path("copy.jsonl"),
    );
    let output = context
        .run(&[
            "canary",
            "check",
            "copy.jsonl",
            "--manifest",
            "canaries.secret.json",
        ])
        .expect_code(1);
    assert_no_key(&output, &key);
    assert!(
        output
            .stdout
            .contains("FOUND: 10 of 10 canaries (100%), 0 of 0 honeypots in 130 records"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("`scraped-"), "{}", output.stdout);

    // A subset: the first half of the shuffled copy holds some of them, counted exactly.
    let half: String = std::fs::read_to_string(context.path("copy.jsonl"))
        .expect("read")
        .lines()
        .take(65)
        .flat_map(|line| [line, "\n"])
        .collect();
    context.write("half.jsonl", &half);
    let output = context.run(&[
        "canary",
        "check",
        "half.jsonl",
        "--manifest",
        "canaries.secret.json",
        "--json",
    ]);
    let result = &json(&output.stdout)["result"];
    let expected = half
        .lines()
        .filter(|line| {
            json(&std::fs::read_to_string(context.path("canaries.secret.json")).expect("read"))
                ["planted"]
                .as_array()
                .expect("a list")
                .iter()
                .any(|entry| line.contains(&entry["fields"]["text"].to_string()))
        })
        .count();
    assert_eq!(result["canaries_found"], expected, "{}", output.stdout);
    assert_eq!(output.code, i32::from(expected > 0));
}

#[test]
fn data_without_canaries_finds_none_and_passes_and_another_key_finds_nothing() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    context.fixture("fortunes_3class.jsonl", "fortunes.jsonl");
    plant(
        &context,
        "fortunes.csv",
        "planted.csv",
        "first.secret.json",
        &[],
    );
    plant(
        &context,
        "fortunes.csv",
        "other.csv",
        "second.secret.json",
        &[],
    );
    let output = context
        .run(&[
            "canary",
            "check",
            "fortunes.jsonl",
            "--manifest",
            "first.secret.json",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("none found: 0 of 10 canaries (0%)"),
        "{}",
        output.stdout
    );
    // The second plant's key does not recognise the first plant's canaries.
    let output = context
        .run(&[
            "canary",
            "check",
            "planted.csv",
            "--manifest",
            "second.secret.json",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("0 of 10 canaries"),
        "{}",
        output.stdout
    );
    context
        .run(&[
            "canary",
            "check",
            "planted.csv",
            "--manifest",
            "first.secret.json",
        ])
        .expect_code(1);
}

#[test]
fn a_honeypot_in_the_data_fails_the_check() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.jsonl", "fortunes.jsonl");
    let output = plant(
        &context,
        "fortunes.jsonl",
        "planted.jsonl",
        "m.secret.json",
        &["--honeypots", "4", "--honeypot-out", "bait.jsonl"],
    );
    assert!(
        output.stdout.contains("wrote 4 honeypots to `bait.jsonl`"),
        "{}",
        output.stdout
    );
    // The planted copy itself holds no honeypot.
    let output = context
        .run(&[
            "canary",
            "check",
            "planted.jsonl",
            "--manifest",
            "m.secret.json",
            "--json",
        ])
        .expect_code(1);
    assert_eq!(json(&output.stdout)["result"]["honeypots_found"], 0);
    // The clean data plus one bait record: exit 1 for the honeypot alone.
    let mut data = std::fs::read_to_string(context.path("fortunes.jsonl")).expect("read");
    data.push_str(
        std::fs::read_to_string(context.path("bait.jsonl"))
            .expect("read")
            .lines()
            .nth(2)
            .expect("a third honeypot"),
    );
    data.push('\n');
    context.write("scraped.jsonl", &data);
    let output = context
        .run(&[
            "canary",
            "check",
            "scraped.jsonl",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(1);
    assert!(
        output
            .stdout
            .contains("0 of 10 canaries (0%), 1 of 4 honeypots"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("a honeypot is bait"),
        "{}",
        output.stdout
    );
}

#[test]
fn the_manifest_is_private_and_never_overwritten() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    plant(
        &context,
        "fortunes.csv",
        "planted.csv",
        "m.secret.json",
        &[],
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(context.path("m.secret.json"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let manifest = std::fs::read(context.path("m.secret.json")).expect("read");
    let output = context
        .run(&[
            "canary",
            "plant",
            "fortunes.csv",
            "--count",
            "5",
            "-o",
            "again.csv",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(2);
    assert!(
        output.stderr.contains("already exists"),
        "{}",
        output.stderr
    );
    assert_eq!(
        std::fs::read(context.path("m.secret.json")).expect("read"),
        manifest
    );
    assert!(!context.path("again.csv").exists());
    // The ledger records the plant without the key.
    let key = key_of(&context, "m.secret.json");
    let log = context.run(&["log", "--json"]);
    assert!(log.stdout.contains("canary-plant"), "{}", log.stdout);
    assert_no_key(&log, &key);
}

#[test]
fn image_canaries_are_found_in_a_copy_converted_to_an_image_folder() {
    let context = TestContext::new();
    context.fixture(
        "fashion_mnist_300/train-images-idx3-ubyte.gz",
        "fm/train-images-idx3-ubyte.gz",
    );
    context.fixture(
        "fashion_mnist_300/train-labels-idx1-ubyte.gz",
        "fm/train-labels-idx1-ubyte.gz",
    );
    plant(
        &context,
        "fm/train-images-idx3-ubyte.gz",
        "planted/train-images-idx3-ubyte.gz",
        "m.secret.json",
        &[],
    );
    // Converted to PNG files in class folders (lossless): still found.
    let records = read(&context.path("planted/train-images-idx3-ubyte.gz"));
    assert_eq!(records.len(), 310);
    let mut writer = antidote_data::writers::DatasetWriter::create(
        &context.path("folder"),
        antidote_data::Format::ImageFolder,
        &antidote_data::Schema::default(),
    )
    .expect("a writer");
    for record in &records {
        writer.write(record).expect("write");
    }
    writer.finish().expect("finish");
    let output = context
        .run(&["canary", "check", "folder", "--manifest", "m.secret.json"])
        .expect_code(1);
    assert!(
        output.stdout.contains("10 of 10 canaries"),
        "{}",
        output.stdout
    );
    let output = context
        .run(&[
            "canary",
            "check",
            "fm/train-images-idx3-ubyte.gz",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("0 of 10 canaries"),
        "{}",
        output.stdout
    );
    // Planted in an image folder: the canaries land in their assigned class's folder.
    plant(
        &context,
        "folder",
        "folder-planted",
        "folder.secret.json",
        &[],
    );
    let output = context
        .run(&[
            "canary",
            "check",
            "folder-planted",
            "--manifest",
            "folder.secret.json",
            "--json",
        ])
        .expect_code(1);
    let result = &json(&output.stdout)["result"];
    assert_eq!(result["canaries_found"], 10, "{result}");
    assert_eq!(result["labels_kept"], 10, "{result}");
    assert_eq!(result["records"], 320, "{result}");
}

/// Trains the built-in network on `data`, predicts the canary inputs, writes `id,prediction`.
fn predict(context: &TestContext, data: &str, inputs: &str, predictions: &str) {
    let training = Dataset::open(&context.path(data), &ReadOptions::default()).expect("open");
    let schema = training.schema().clone();
    let records: Vec<Record> = training.map(|record| record.expect("a record")).collect();
    let model = NetworkModel::train(&records, &schema, 0, &NoProgress).expect("trained");
    let inputs = read(&context.path(inputs));
    let labels = model.predict_labels(&inputs).expect("predictions");
    let mut text = String::from("id,prediction\n");
    for (input, label) in inputs.iter().zip(labels) {
        writeln!(text, "{},{}", input.id, label.expect("a class")).expect("write to a string");
    }
    context.write(predictions, &text);
}

#[test]
fn a_model_trained_on_the_canaries_is_caught_memorising_them_and_a_clean_one_is_not() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    context
        .run(&[
            "canary",
            "plant",
            "fortunes.csv",
            "--count",
            "30",
            "-o",
            "planted.csv",
            "--manifest",
            "m.secret.json",
        ])
        .expect_code(0);
    let output = context
        .run(&[
            "canary",
            "inputs",
            "--manifest",
            "m.secret.json",
            "-o",
            "inputs.csv",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("wrote 60 canary inputs"),
        "{}",
        output.stdout
    );
    let inputs = std::fs::read_to_string(context.path("inputs.csv")).expect("read");
    assert!(
        inputs.starts_with("id,label,text\ninput-00000,,"),
        "{inputs}"
    );

    predict(&context, "planted.csv", "inputs.csv", "memorised.csv");
    let output = context
        .run(&[
            "canary",
            "check",
            "--manifest",
            "m.secret.json",
            "--predictions",
            "memorised.csv",
        ])
        .expect_code(1);
    assert!(output.stdout.contains("MEMORISED"), "{}", output.stdout);

    let result = &json(
        &context
            .run(&[
                "canary",
                "check",
                "--manifest",
                "m.secret.json",
                "--predictions",
                "memorised.csv",
                "--json",
            ])
            .stdout,
    )["result"];
    let planted_rate = result["planted"]["outcome"]["rate"]
        .as_f64()
        .expect("a rate");
    let held_out_rate = result["held_out"]["rate"].as_f64().expect("a rate");
    assert!(planted_rate > held_out_rate + 0.3, "{result}");
    assert!(
        result["planted"]["p_value"].as_f64().expect("a p-value") < 1e-3,
        "{result}"
    );

    predict(&context, "fortunes.csv", "inputs.csv", "clean.csv");
    let output = context
        .run(&[
            "canary",
            "check",
            "--manifest",
            "m.secret.json",
            "--predictions",
            "clean.csv",
            // The key, so the canaries and their labels, are new in every run: at 0.001 a model
            // that never saw them is called memorising in fewer than one run in 1,000.
            "--alpha",
            "0.001",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("no memorisation found"),
        "{}",
        output.stdout
    );
}

#[test]
fn usage_errors_explain_the_fix() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    let output = context
        .run(&[
            "canary",
            "check",
            "fortunes.csv",
            "--manifest",
            "missing.json",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("hint: create one with `antidote canary plant"),
        "{}",
        output.stderr
    );
    let output = context
        .run(&[
            "canary",
            "plant",
            "fortunes.csv",
            "--count",
            "3",
            "-o",
            "out.jsonl",
            "--manifest",
            "m.json",
        ])
        .expect_code(2);
    assert!(
        output.stderr.contains("end the name with `.csv`"),
        "{}",
        output.stderr
    );
    assert!(!context.path("m.json").exists());
}

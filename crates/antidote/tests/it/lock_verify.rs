use crate::{TestContext, edit};

fn locked() -> TestContext {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.fixture(
        "fashion_mnist_300/train-images-idx3-ubyte.gz",
        "data/images/train-images-idx3-ubyte.gz",
    );
    context.fixture(
        "fashion_mnist_300/train-labels-idx1-ubyte.gz",
        "data/images/train-labels-idx1-ubyte.gz",
    );
    context.write("data/model.bin", "weights");
    let output = context.run(&["lock", "data"]).expect_code(0);
    assert!(
        output.stdout.contains("locked 4 files"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("`data/fortunes.csv`")
            || output
                .stdout
                .contains("data/fortunes.csv  csv, 120 records, 3 labels")
    );
    context
}

#[test]
fn untouched_data_verifies() {
    let context = locked();
    let output = context.run(&["verify"]).expect_code(0);
    assert!(
        output
            .stdout
            .starts_with("OK: 4 files and 2 datasets match `antidote.lock`"),
        "{}",
        output.stdout
    );
}

#[test]
fn lock_records_datasets_with_counts_and_roots() {
    let context = locked();
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(context.path("antidote.lock")).unwrap())
            .unwrap();
    let datasets = lock["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 2);
    let csv = datasets
        .iter()
        .find(|dataset| dataset["format"] == "csv")
        .unwrap();
    assert_eq!(csv["record_count"], 120);
    assert_eq!(csv["label_counts"]["food"], 40);
    assert!(csv["merkle_root"].as_str().unwrap().starts_with("blake3:"));
    let idx = datasets
        .iter()
        .find(|dataset| dataset["format"] == "idx")
        .unwrap();
    assert_eq!(idx["record_count"], 300);
    assert_eq!(
        idx["companions"][0],
        "data/images/train-labels-idx1-ubyte.gz"
    );
    let sidecar = std::fs::read_to_string(context.path("antidote.lock.records.jsonl")).unwrap();
    assert_eq!(sidecar.lines().count(), 420);
}

#[test]
fn one_changed_byte_names_the_record_and_field() {
    let context = locked();
    edit(
        &context.path("data/fortunes.csv"),
        "A bug in the code",
        "A bug in the cade",
    );
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output
            .stdout
            .starts_with("FAILED: the data does not match `antidote.lock`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("modified  `data/fortunes.csv`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("0 added, 0 removed, 1 modified"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("`computers-003` (text)"),
        "{}",
        output.stdout
    );
}

#[test]
fn one_changed_label_is_summarised_by_direction() {
    let context = locked();
    edit(
        &context.path("data/fortunes.csv"),
        "computers-003,computers,",
        "computers-003,food,",
    );
    let output = context.run(&["verify", "--json"]).expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(json["passed"], false);
    let dataset = json["report"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|dataset| dataset["path"] == "data/fortunes.csv")
        .unwrap();
    assert_eq!(dataset["status"], "changed");
    assert_eq!(dataset["diff"]["changed"][0]["id"], "computers-003");
    assert_eq!(dataset["diff"]["changed"][0]["label"]["new"], "food");
    assert_eq!(dataset["diff"]["label_changes"]["computers -> food"], 1);
}

#[test]
fn an_appended_record_is_added() {
    let context = locked();
    let path = context.path("data/fortunes.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("food-999,food,Eat your vegetables.\n");
    std::fs::write(&path, text).unwrap();
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output
            .stdout
            .contains("120 records -> 121 records: 1 added, 0 removed, 0 modified"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("added: `food-999`"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_reordered_file_is_reported_as_reordered() {
    let context = locked();
    let path = context.path("data/fortunes.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(1, 2);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output.stdout.contains("(same records, reordered)"),
        "{}",
        output.stdout
    );
}

#[test]
fn removed_and_added_files_are_named() {
    let context = locked();
    std::fs::remove_file(context.path("data/model.bin")).unwrap();
    context.write("data/extra.txt", "surprise");
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output.stdout.contains("missing   `data/model.bin`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("added     `data/extra.txt`"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_flipped_idx_label_is_found_by_position() {
    let context = locked();
    // Rewrite the labels file with label 42 of record 7.
    let path = context.path("data/images/train-labels-idx1-ubyte.gz");
    let compressed = std::fs::read(&path).unwrap();
    let mut decoder = flate2::read::GzDecoder::new(&compressed[..]);
    let mut labels = Vec::new();
    std::io::Read::read_to_end(&mut decoder, &mut labels).unwrap();
    let old = labels[8 + 7];
    labels[8 + 7] = if old == 9 { 0 } else { old + 1 };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &labels).unwrap();
    std::fs::write(&path, encoder.finish().unwrap()).unwrap();
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output.stdout.contains("0 added, 0 removed, 1 modified"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("`7` (label)"), "{}", output.stdout);
    assert!(
        output.stdout.contains("1 label changed, to "),
        "{}",
        output.stdout
    );
}

#[test]
fn a_tampered_records_sidecar_fails() {
    let context = locked();
    edit(
        &context.path("antidote.lock.records.jsonl"),
        "\"label\":\"computers\"",
        "\"label\":\"food\"",
    );
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output.stdout.contains("records sidecar"),
        "{}",
        output.stdout
    );
}

#[test]
fn nothing_is_modified_in_place() {
    let context = locked();
    let before = std::fs::read(context.path("data/fortunes.csv")).unwrap();
    context.run(&["verify"]).expect_code(0);
    context
        .run(&["lock", "data", "-o", "second.lock"])
        .expect_code(0);
    assert_eq!(
        std::fs::read(context.path("data/fortunes.csv")).unwrap(),
        before
    );
}

#[test]
fn csv_and_jsonl_of_the_same_records_have_the_same_root() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "a/fortunes.csv");
    context.fixture("fortunes_3class.jsonl", "b/fortunes.jsonl");
    context.run(&["lock", "a", "-o", "a.lock"]).expect_code(0);
    context.run(&["lock", "b", "-o", "b.lock"]).expect_code(0);
    let root = |name: &str| {
        let lock: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(context.path(name)).unwrap()).unwrap();
        lock["datasets"][0]["merkle_root"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(root("a.lock"), root("b.lock"));
}

use crate::{TestContext, edit};

#[test]
fn diff_of_a_lock_against_a_relabelled_copy() {
    let context = TestContext::new();
    let data = context.fixture("fortunes_3class.csv", "v1/fortunes.csv");
    context.run(&["lock", "v1", "-o", "v1.lock"]).expect_code(0);
    let new = context.path("v2/fortunes.csv");
    std::fs::create_dir_all(new.parent().unwrap()).unwrap();
    std::fs::copy(&data, &new).unwrap();
    // An upstream "quality improvement": three labels moved to `science`, one record dropped.
    for id in ["computers-001", "computers-002", "food-004"] {
        let text = std::fs::read_to_string(&new).unwrap();
        let line = text
            .lines()
            .find(|line| line.starts_with(id))
            .unwrap()
            .to_owned();
        let label = line.split(',').nth(1).unwrap();
        edit(
            &new,
            &line,
            &line.replacen(&format!(",{label},"), ",science,", 1),
        );
    }
    let text = std::fs::read_to_string(&new).unwrap();
    let dropped = text
        .lines()
        .find(|line| line.starts_with("food-010"))
        .unwrap()
        .to_owned();
    edit(&new, &format!("{dropped}\n"), "");

    let output = context
        .run(&["diff", "v1.lock", "v2/fortunes.csv"])
        .expect_code(1);
    assert!(
        output.stdout.contains("0 added, 1 removed, 3 changed"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("3 labels changed, all to `science`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("removed: `food-010`"),
        "{}",
        output.stdout
    );

    let output = context
        .run(&["diff", "v1.lock", "v2/fortunes.csv", "--json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(json["added"], serde_json::json!([]));
    assert_eq!(json["removed"], serde_json::json!(["food-010"]));
    assert_eq!(json["changed"].as_array().unwrap().len(), 3);
    assert_eq!(json["changed"][0]["fields"], serde_json::json!(["label"]));
    assert_eq!(json["label_changes"]["computers -> science"], 2);
    assert_eq!(json["label_changes"]["food -> science"], 1);
}

#[test]
fn identical_versions_exit_zero() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "a.csv");
    context.fixture("fortunes_3class.jsonl", "b.jsonl");
    let output = context.run(&["diff", "a.csv", "b.jsonl"]).expect_code(0);
    assert!(
        output.stdout.contains("same records (120 records)"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_missing_side_is_a_usage_error() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "a.csv");
    let output = context.run(&["diff", "a.csv", "nope.csv"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: `nope.csv` does not exist"),
        "{}",
        output.stderr
    );
}

use crate::TestContext;

#[test]
fn every_command_appends_a_chained_event() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.run(&["lock", "data"]).expect_code(0);
    context.run(&["verify"]).expect_code(0);
    context
        .run(&["diff", "antidote.lock", "data/fortunes.csv"])
        .expect_code(0);
    let output = context.run(&["log", "--json"]).expect_code(0);
    let events: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["lock", "verify", "diff"]);
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    assert!(context.path(".antidote/ledger.db").is_file());
    let output = context.run(&["log", "--verify"]).expect_code(0);
    assert!(output.stdout.starts_with("OK: ledger"), "{}", output.stdout);
}

#[test]
fn an_edited_ledger_row_is_named() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.run(&["lock", "data"]).expect_code(0);
    context.run(&["verify"]).expect_code(0);
    context.run(&["verify"]).expect_code(0);
    // The attacker edits the database directly, past the triggers.
    let connection = rusqlite::Connection::open(context.path(".antidote/ledger.db")).unwrap();
    let triggers: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for trigger in triggers {
        connection
            .execute(&format!("DROP TRIGGER {trigger}"), [])
            .unwrap();
    }
    let changed = connection
        .execute("UPDATE events SET outcome = 'failed' WHERE seq = 2", [])
        .unwrap();
    assert_eq!(changed, 1);
    drop(connection);
    let output = context.run(&["log", "--verify"]).expect_code(1);
    assert!(
        output.stdout.contains("event 2 was edited"),
        "{}",
        output.stdout
    );
}

#[test]
fn no_ledger_writes_nothing_and_log_explains() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data/fortunes.csv");
    context.run(&["lock", "data", "--no-ledger"]).expect_code(0);
    assert!(!context.path(".antidote").exists());
    let output = context.run(&["log"]).expect_code(2);
    assert!(output.stderr.contains("no ledger at"), "{}", output.stderr);
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
}

//! Bad input stops with an error that names the file, the line and the fix.

use crate::TestContext;

#[test]
fn a_ragged_csv_row_names_file_line_and_fix() {
    let context = TestContext::new();
    context.write("data/d.csv", "id,label,x\n1,a,0.5\n2,b\n3,a,0.1\n");
    let output = context.run(&["lock", "data"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: `[TEMP_DIR]/data/d.csv` line 3: expected 3 columns, found 2"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("hint: fix the record, or pass `--skip-bad`"),
        "{}",
        output.stderr
    );
    assert!(
        !context.path("antidote.lock").exists(),
        "no lock is written on error"
    );
}

#[test]
fn skip_bad_counts_and_warns() {
    let context = TestContext::new();
    context.write("data/d.csv", "id,label,x\n1,a,0.5\n2,b\n3,a,0.1\n");
    let output = context.run(&["lock", "data", "--skip-bad"]).expect_code(0);
    assert!(
        output
            .stderr
            .contains("warning: skipped 1 malformed record in `data/d.csv`"),
        "{}",
        output.stderr
    );
    assert!(output.stdout.contains("2 records"), "{}", output.stdout);
}

#[test]
fn invalid_json_names_file_and_line() {
    let context = TestContext::new();
    context.write("d.jsonl", "{\"label\": 1}\n{\"label\": 2,}\n");
    let output = context.run(&["lock", "d.jsonl"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: `[TEMP_DIR]/d.jsonl` line 2: invalid JSON"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("Caused by: trailing comma"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_truncated_idx_file_is_named() {
    let context = TestContext::new();
    let mut bytes = vec![0, 0, 8, 3];
    for size in [5u32, 2, 2] {
        bytes.extend_from_slice(&size.to_be_bytes());
    }
    bytes.extend_from_slice(&[7; 9]);
    std::fs::write(context.path("x-images-idx3-ubyte"), bytes).unwrap();
    let output = context.run(&["lock", "x-images-idx3-ubyte"]).expect_code(2);
    assert!(
        output.stderr.starts_with(
            "error: `[TEMP_DIR]/x-images-idx3-ubyte`: truncated: the header declares 5 records but the data ends inside record 2"
        ),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
}

#[test]
fn a_label_column_that_does_not_exist_lists_the_columns() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "d.csv");
    let output = context
        .run(&["lock", "d.csv", "--label", "category"])
        .expect_code(2);
    assert!(
        output.stderr.starts_with(
            "error: `[TEMP_DIR]/d.csv`: label column `category` does not exist (columns: `id`, `label`, `text`)"
        ),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("hint: name an existing column with `--label`"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_missing_path_and_a_missing_lock_are_usage_errors() {
    let context = TestContext::new();
    let output = context.run(&["lock", "nothing-here"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: `nothing-here` does not exist"),
        "{}",
        output.stderr
    );
    let output = context.run(&["verify"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: lock file `antidote.lock` does not exist"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("hint: create one with `antidote lock DATA`"),
        "{}",
        output.stderr
    );
}

#[test]
fn bad_usage_exits_two() {
    let context = TestContext::new();
    let output = context.run(&["lock"]).expect_code(2);
    assert!(output.stderr.contains("required"), "{}", output.stderr);
    let output = context.run(&["frobnicate"]).expect_code(2);
    assert!(
        output.stderr.contains("unrecognized subcommand"),
        "{}",
        output.stderr
    );
}

#[test]
fn help_teaches_with_examples() {
    let context = TestContext::new();
    for command in [
        "lock", "verify", "diff", "keygen", "sign", "log", "profile", "check",
    ] {
        let output = context.run(&[command, "--help"]).expect_code(0);
        assert!(
            output.stdout.contains("Examples:"),
            "`{command} --help` has no examples:\n{}",
            output.stdout
        );
    }
}

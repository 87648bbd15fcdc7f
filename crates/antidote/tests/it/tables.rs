//! `antidote lock --engine datafusion`: a folder of Parquet files pinned as one table, and
//! `verify` with either engine.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::TestContext;

/// Writes records `first..first + count` to the Parquet file `path`, in row groups of 50, with
/// an `id` column when `with_ids`; `relabel` gives the record of that number the label `eel`.
pub(crate) fn write_parquet(
    path: &Path,
    first: usize,
    count: usize,
    with_ids: bool,
    relabel: Option<usize>,
) {
    let range = first..first + count;
    let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
    if with_ids {
        columns.push((
            "id",
            Arc::new(StringArray::from_iter_values(
                range.clone().map(|n| format!("r{n:05}")),
            )),
        ));
    }
    columns.push((
        "label",
        Arc::new(StringArray::from_iter_values(range.clone().map(|n| {
            if relabel == Some(n) {
                "eel"
            } else {
                ["cat", "dog", "fox"][n % 3]
            }
        }))),
    ));
    columns.push((
        "x",
        Arc::new(Float64Array::from_iter_values(
            range.clone().map(|n| n as f64 / 8.0),
        )),
    ));
    columns.push((
        "text",
        Arc::new(StringArray::from_iter_values(
            range.map(|n| format!("record number {n}")),
        )),
    ));
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(50))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// `events/`: three Parquet files of 300, 20 and 481 records, a nested one of 99, and a CSV.
fn events(context: &TestContext) {
    let mut first = 0;
    for (name, count) in [
        ("events/part-0.parquet", 300),
        ("events/part-1.parquet", 20),
        ("events/part-2.parquet", 481),
        ("events/late/part-3.parquet", 99),
    ] {
        write_parquet(&context.path(name), first, count, true, None);
        first += count;
    }
    context.write("events/notes.csv", "id,label\nn1,cat\n");
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn a_folder_of_parquet_files_locks_as_one_table_and_verifies_with_either_engine() {
    let context = TestContext::new();
    events(&context);
    let output = context
        .run(&["lock", "--engine", "datafusion", "events", "--json"])
        .expect_code(0);
    let locked = json(&output.stdout);
    let tables = locked["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 1, "{}", output.stdout);
    let table = &tables[0];
    assert_eq!(table["path"], "events");
    assert_eq!(table["file_count"], 4);
    assert_eq!(table["record_count"], 900);
    assert_eq!(table["label_counts"]["cat"], 300);
    assert!(
        table["engine"]
            .as_str()
            .expect("engine")
            .starts_with("datafusion "),
        "{table}"
    );
    // The CSV stays a dataset of its own; the Parquet files are not.
    let datasets = locked["datasets"].as_array().expect("datasets");
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0]["path"], "events/notes.csv");

    let output = context.run(&["verify"]).expect_code(0);
    assert!(
        output
            .stdout
            .starts_with("OK: 5 files, 1 table and 1 dataset match `antidote.lock`"),
        "{}",
        output.stdout
    );

    // The table's digest is what antidote's own reader gives, file by file.
    let mut merged = antidote_provenance::set_hash::RecordSetHash::default();
    for name in [
        "events/late/part-3.parquet",
        "events/part-0.parquet",
        "events/part-1.parquet",
        "events/part-2.parquet",
    ] {
        let options = antidote_data::ReadOptions::default();
        for record in antidote_data::Dataset::open(&context.path(name), &options).expect("open") {
            let record = record.expect("record");
            merged.insert(record.id.as_str(), &record.content_hash());
        }
    }
    assert_eq!(table["record_set_hash"], merged.digest().to_string());

    // One label changed in one file: both engines see it, and say which labels moved.
    write_parquet(
        &context.path("events/part-1.parquet"),
        300,
        20,
        true,
        Some(301),
    );
    for engine in ["datafusion", "antidote"] {
        let output = context.run(&["verify", "--engine", engine]).expect_code(1);
        assert!(
            output
                .stdout
                .contains("table `events`: 900 records -> 900 records, a different set of records"),
            "{engine}: {}",
            output.stdout
        );
        assert!(
            output
                .stdout
                .contains("labels: `dog` 300 -> 299, `eel` 0 -> 1"),
            "{engine}: {}",
            output.stdout
        );
        let report = json(
            &context
                .run(&["verify", "--engine", engine, "--json"])
                .expect_code(1)
                .stdout,
        );
        assert_eq!(report["report"]["tables"][0]["status"], "changed");
    }
}

#[test]
fn a_table_without_ids_is_refused_with_what_to_do() {
    let context = TestContext::new();
    write_parquet(&context.path("anonymous/a.parquet"), 0, 10, false, None);
    write_parquet(&context.path("anonymous/b.parquet"), 10, 10, false, None);
    let output = context
        .run(&["lock", "--engine", "datafusion", "anonymous"])
        .expect_code(2);
    assert!(
        output.stderr.contains("cannot read `") && output.stderr.contains("no id column"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("--id COLUMN"), "{}", output.stderr);
    assert!(!context.path("antidote.lock").exists());
}

#[test]
fn a_folder_of_parquet_files_profiles_and_checks_as_one_table() {
    let context = TestContext::new();
    events(&context);
    let output = context
        .run(&[
            "profile",
            "--engine",
            "datafusion",
            "events",
            "-o",
            "table.json",
            "--json",
        ])
        .expect_code(0);
    assert_eq!(json(&output.stdout)["records"], 900, "{}", output.stdout);
    let profile = json(&std::fs::read_to_string(context.path("table.json")).expect("profile"));
    assert_eq!(profile["record_count"], 900);
    assert_eq!(profile["format"], "parquet");
    assert_eq!(profile["duplicates"]["exact_duplicates"], 0);

    // The same as antidote's reader gives file by file, merged.
    for (index, name) in ["late/part-3", "part-0", "part-1", "part-2"]
        .iter()
        .enumerate()
    {
        context
            .run(&[
                "profile",
                &format!("events/{name}.parquet"),
                "-o",
                &format!("part-{index}.json"),
            ])
            .expect_code(0);
    }
    context
        .run(&[
            "profile",
            "--merge",
            "part-0.json",
            "part-1.json",
            "part-2.json",
            "part-3.json",
            "-o",
            "merged.json",
        ])
        .expect_code(0);
    let merged = json(&std::fs::read_to_string(context.path("merged.json")).expect("merged"));
    assert_eq!(merged["record_count"], profile["record_count"]);
    assert_eq!(merged["label"]["counts"], profile["label"]["counts"]);

    let output = context
        .run(&[
            "check",
            "--engine",
            "datafusion",
            "events",
            "--baseline",
            "table.json",
        ])
        .expect_code(0);
    assert!(output.stdout.contains("900"), "{}", output.stdout);

    // A folder without Parquet files says so.
    context.write("empty/readme.txt", "nothing here");
    let output = context
        .run(&["profile", "--engine", "datafusion", "empty"])
        .expect_code(2);
    assert!(
        output.stderr.contains("holds no Parquet or CSV file"),
        "{}",
        output.stderr
    );
}

#[test]
fn the_lock_folder_itself_can_be_the_table() {
    let context = TestContext::new();
    events(&context);
    let run = |args: &[&str]| {
        context
            .command()
            .current_dir(context.path("events"))
            .args(args)
            .output()
            .expect("run antidote")
    };
    assert!(
        run(&["lock", "--engine", "datafusion", "."])
            .status
            .success()
    );
    assert_eq!(run(&["verify"]).status.code(), Some(0));
    write_parquet(&context.path("events/part-1.parquet"), 300, 19, true, None);
    let output = run(&["verify"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("table `.`: 900 records -> 899 records"),
        "{stdout}"
    );
}

/// The engine reads only files antidote's own reader has checked first (footer, chunk ranges,
/// page headers): a hostile file in a table stops `lock` and `profile` with its name.
#[test]
fn a_malformed_parquet_file_in_a_table_is_refused_before_the_engine_reads_it() {
    for name in [
        "huge-page.parquet",
        "page-beyond-chunk.parquet",
        "negative-chunk.parquet",
        "truncated-footer.parquet",
        "wrong-magic.parquet",
    ] {
        let context = TestContext::new();
        write_parquet(&context.path("table/a-valid.parquet"), 0, 10, true, None);
        context.fixture(&format!("malformed/{name}"), &format!("table/{name}"));
        for args in [
            vec!["lock", "--engine", "datafusion", "table"],
            vec!["profile", "--engine", "datafusion", "table"],
        ] {
            let output = context.run(&args).expect_code(2);
            assert!(
                output.stderr.contains("error:") && output.stderr.contains(name),
                "{name}, {args:?}: {}",
                output.stderr
            );
            assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
        }
        assert!(!context.path("antidote.lock").exists(), "{name}");
        assert!(!context.path("profile.json").exists(), "{name}");
    }
}

/// A folder of CSV files (and no Parquet file) is a table too; a compressed CSV beside them stays
/// a dataset of its own.
#[test]
fn a_folder_of_csv_files_locks_profiles_and_verifies_as_one_table() {
    let context = TestContext::new();
    let mut text = String::from("id,label,code,note\n");
    for n in 0..120 {
        writeln!(
            text,
            "a{n},{},{n},\"a note, with a comma\"",
            ["cat", "dog"][n % 2]
        )
        .expect("write");
    }
    context.write("shards/a.csv", &text);
    let mut text = String::from("id,label,code,note\n");
    for n in 0..80 {
        writeln!(text, "b{n},cat,00{n},\"two\nlines\"").expect("write");
    }
    context.write("shards/more/b.csv", &text);
    let gz = context.path("shards/old.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("create"),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut encoder, b"id,label\nz1,cat\n").expect("write");
    encoder.finish().expect("finish");

    let locked = json(
        &context
            .run(&["lock", "--engine", "datafusion", "shards", "--json"])
            .expect_code(0)
            .stdout,
    );
    let table = &locked["tables"][0];
    assert_eq!(table["format"], "csv", "{table}");
    assert_eq!(table["file_count"], 2);
    assert_eq!(table["record_count"], 200);
    assert_eq!(table["label_counts"]["cat"], 140);
    assert_eq!(locked["datasets"][0]["path"], "shards/old.csv.gz");
    context
        .run(&["verify", "--engine", "antidote"])
        .expect_code(0);

    let profile = json(
        &context
            .run(&[
                "profile",
                "--engine",
                "datafusion",
                "shards",
                "--json",
                "-o",
                "p.json",
            ])
            .expect_code(0)
            .stdout,
    );
    assert_eq!(profile["records"], 200, "{profile}");

    // One label changed: both engines see it.
    crate::edit(&context.path("shards/more/b.csv"), "b7,cat", "b7,dog");
    for engine in ["datafusion", "antidote"] {
        let output = context.run(&["verify", "--engine", engine]).expect_code(1);
        assert!(
            output
                .stdout
                .contains("labels: `cat` 140 -> 139, `dog` 60 -> 61"),
            "{engine}: {}",
            output.stdout
        );
    }
}

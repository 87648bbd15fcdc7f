//! `antidote profile` and `antidote check` on real data: Fashion-MNIST from Debian's
//! `dataset-fashion-mnist` and quotations from Debian's `fortunes`.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::TestContext;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";
const FORTUNES: &str = "/usr/share/games/fortunes";

fn gunzip(path: &Path) -> Vec<u8> {
    assert!(
        path.is_file(),
        "`{}` is missing: `apt-get install dataset-fashion-mnist` (.ci/run does)",
        path.display()
    );
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("test data I/O"))
        .read_to_end(&mut bytes)
        .expect("test data I/O");
    bytes
}

/// The Fashion-MNIST training set as (images header, pixels per record, images, labels).
fn fashion_train() -> (Vec<u8>, Vec<u8>) {
    (
        gunzip(&Path::new(FASHION).join("train-images-idx3-ubyte.gz")),
        gunzip(&Path::new(FASHION).join("train-labels-idx1-ubyte.gz")),
    )
}

/// Writes an IDX pair from records (pixels, label).
fn write_idx(dir: &Path, records: &[(&[u8], u8)], with_labels: bool) -> PathBuf {
    std::fs::create_dir_all(dir).expect("test data I/O");
    let mut images = vec![0, 0, 8, 3];
    for size in [records.len() as u32, 28, 28] {
        images.extend_from_slice(&size.to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for (pixels, label) in records {
        images.extend_from_slice(pixels);
        labels.push(*label);
    }
    let path = dir.join("train-images-idx3-ubyte");
    std::fs::write(&path, images).expect("test data I/O");
    if with_labels {
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("test data I/O");
    }
    path
}

fn records<'a>(images: &'a [u8], labels: &'a [u8]) -> Vec<(&'a [u8], u8)> {
    images[16..]
        .chunks_exact(784)
        .zip(&labels[8..])
        .map(|(pixels, label)| (pixels, *label))
        .collect()
}

fn baseline(context: &TestContext) {
    let train = format!("{FASHION}/train-images-idx3-ubyte.gz");
    let output = context
        .run(&["profile", &train, "-o", "baseline.json"])
        .expect_code(0);
    assert!(output.stdout.contains("60000 records"), "{}", output.stdout);
}

#[test]
fn the_test_set_passes_against_the_training_set() {
    let context = TestContext::new();
    baseline(&context);
    let test = format!("{FASHION}/t10k-images-idx3-ubyte.gz");
    let output = context
        .run(&["check", &test, "--baseline", "baseline.json"])
        .expect_code(0);
    assert!(
        output.stdout.starts_with("OK: 0 errors"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("image"),
        "the image column is compared: {}",
        output.stdout
    );
}

#[test]
fn a_doubled_class_is_label_shift() {
    let context = TestContext::new();
    baseline(&context);
    let (images, labels) = fashion_train();
    let mut all = records(&images, &labels);
    let class_three: Vec<(&[u8], u8)> = all
        .iter()
        .filter(|(_, label)| *label == 3)
        .copied()
        .collect();
    all.extend(class_three);
    let path = write_idx(&context.path("doubled"), &all, true);
    let output = context
        .run(&[
            "check",
            path.to_str().expect("test data I/O"),
            "--baseline",
            "baseline.json",
        ])
        .expect_code(1);
    assert!(output.stdout.starts_with("FAILED"), "{}", output.stdout);
    assert!(output.stdout.contains("label-shift"), "{}", output.stdout);
    assert!(
        output.stdout.contains("`3` 10.0% -> 18.2%"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_new_label_value_is_an_error() {
    let context = TestContext::new();
    baseline(&context);
    let (images, labels) = fashion_train();
    let mut all = records(&images, &labels);
    for record in all.iter_mut().take(50) {
        record.1 = 10;
    }
    let path = write_idx(&context.path("relabelled"), &all, true);
    let output = context
        .run(&[
            "check",
            path.to_str().expect("test data I/O"),
            "--baseline",
            "baseline.json",
            "--json",
        ])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).expect("test data I/O");
    let anomalies = json["report"]["anomalies"]
        .as_array()
        .expect("test data I/O");
    let new_label = anomalies
        .iter()
        .find(|anomaly| anomaly["check"] == "new-label")
        .expect("test data I/O");
    assert_eq!(new_label["severity"], "error");
    assert_eq!(
        new_label["message"],
        "1 label value never seen in the baseline: `10` (50)"
    );
}

#[test]
fn a_dropped_column_is_named() {
    let context = TestContext::new();
    baseline(&context);
    let (images, labels) = fashion_train();
    let all = records(&images, &labels);
    let path = write_idx(&context.path("unlabelled"), &all[..5000], false);
    let output = context
        .run(&[
            "check",
            path.to_str().expect("test data I/O"),
            "--baseline",
            "baseline.json",
        ])
        .expect_code(1);
    assert!(
        output.stdout.contains("missing-column   column `label` (integer, label) is in the baseline but not in the data"),
        "{}",
        output.stdout
    );
}

/// Every quotation of twelve `fortunes` categories, as CSV rows `id,label,text`.
fn fortunes_csv(inject: Option<(&str, usize)>) -> String {
    let mut csv = String::from("id,label,text\n");
    let mut index = 0usize;
    for category in [
        "art",
        "computers",
        "food",
        "law",
        "love",
        "medicine",
        "people",
        "politics",
        "science",
        "sports",
        "wisdom",
        "work",
    ] {
        let path = Path::new(FORTUNES).join(category);
        assert!(
            path.is_file(),
            "`{}` is missing: `apt-get install fortunes` (.ci/run does)",
            path.display()
        );
        let bytes = std::fs::read(&path).expect("test data I/O");
        let text = String::from_utf8_lossy(&bytes);
        for quote in text.split("\n%\n") {
            let quote = quote.split_whitespace().collect::<Vec<_>>().join(" ");
            if quote.is_empty() {
                continue;
            }
            let quote = match inject {
                Some((phrase, every)) if index.is_multiple_of(every) => format!("{quote} {phrase}"),
                _ => quote,
            };
            writeln!(
                csv,
                "{category}-{index},{category},\"{}\"",
                quote.replace('"', "\"\"")
            )
            .expect("writing to a String");
            index += 1;
        }
    }
    csv
}

#[test]
fn an_injected_phrase_is_named_by_the_text_check() {
    let context = TestContext::new();
    context.write("clean.csv", &fortunes_csv(None));
    // A phrase injected into 2% of records, as a backdoor trigger would be.
    context.write(
        "poisoned.csv",
        &fortunes_csv(Some(("cerulean quokka protocol", 50))),
    );
    context
        .run(&["profile", "clean.csv", "-o", "baseline.json"])
        .expect_code(0);
    let output = context.run(&[
        "check",
        "poisoned.csv",
        "--baseline",
        "baseline.json",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).expect("test data I/O");
    let text = json["report"]["anomalies"]
        .as_array()
        .expect("test data I/O")
        .iter()
        .find(|anomaly| {
            anomaly["column"] == "text"
                && (anomaly["check"] == "drift" || anomaly["check"] == "text-shift")
        })
        .unwrap_or_else(|| panic!("no text anomaly: {}", output.stdout));
    let top: Vec<&str> = text["details"]
        .as_array()
        .expect("test data I/O")
        .iter()
        .take(5)
        .map(|token| token["token"].as_str().expect("test data I/O"))
        .collect();
    for injected in ["cerulean", "quokka", "protocol"] {
        assert!(
            top.contains(&injected),
            "`{injected}` not among the top contributors {top:?}"
        );
    }
    let human = context.run(&["check", "poisoned.csv", "--baseline", "baseline.json"]);
    assert!(human.stdout.contains("`cerulean`"), "{}", human.stdout);
}

#[test]
fn merged_shard_profiles_check_like_the_whole() {
    let context = TestContext::new();
    let csv = fortunes_csv(None);
    let lines: Vec<&str> = csv.lines().collect();
    let (header, rows) = (lines[0], &lines[1..]);
    let half = rows.len() / 2;
    context.write("a.csv", &format!("{header}\n{}\n", rows[..half].join("\n")));
    context.write("b.csv", &format!("{header}\n{}\n", rows[half..].join("\n")));
    context.write("all.csv", &csv);
    context
        .run(&["profile", "a.csv", "-o", "a.json"])
        .expect_code(0);
    context
        .run(&["profile", "b.csv", "-o", "b.json"])
        .expect_code(0);
    let output = context
        .run(&["profile", "--merge", "a.json", "b.json", "-o", "ab.json"])
        .expect_code(0);
    assert!(
        output.stdout.contains(&format!("{} records", rows.len())),
        "{}",
        output.stdout
    );
    context
        .run(&["profile", "all.csv", "-o", "all.json"])
        .expect_code(0);
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(context.path(name)).expect("test data I/O"))
            .expect("test data I/O")
    };
    let (merged, whole) = (read("ab.json"), read("all.json"));
    assert_eq!(merged["record_count"], whole["record_count"]);
    assert_eq!(
        merged["label"]["counts"], whole["label"]["counts"],
        "label counts merge exactly"
    );
    context
        .run(&["check", "all.csv", "--baseline", "ab.json"])
        .expect_code(0);
}

#[test]
fn rules_from_antidote_toml_are_enforced() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    context
        .run(&["profile", "data.csv", "-o", "baseline.json"])
        .expect_code(0);
    context.write(
        "antidote.toml",
        "[rules]\nallowed_labels = [\"computers\", \"food\"]\nmin_records = 500\nmax_class_share = 0.3\n",
    );
    let output = context
        .run(&["check", "data.csv", "--baseline", "baseline.json"])
        .expect_code(1);
    assert!(
        output
            .stdout
            .contains("label values outside `allowed_labels`: `science`"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("the dataset has 120 records, fewer than the 500 required"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("class `food` holds 33% of records, more than `max_class_share` 30%"),
        "{}",
        output.stdout
    );
    context.write("antidote.toml", "[rules]\nmin_recods = 5\n");
    let output = context
        .run(&["check", "data.csv", "--baseline", "baseline.json"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("antidote.toml` is not a valid configuration"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("hint: look at line 2"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("min_recods"), "{}", output.stderr);
}

#[test]
fn one_config_flag_serves_every_command_and_rules_stays_its_alias_on_check() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    context
        .run(&["profile", "data.csv", "-o", "baseline.json"])
        .expect_code(0);
    context.write("ci.toml", "[rules]\nmin_records = 500\n");
    // No `antidote.toml`: the data passes; the named file's rule fails it, by either name.
    context
        .run(&["check", "data.csv", "--baseline", "baseline.json"])
        .expect_code(0);
    for flag in ["--config", "--rules"] {
        let output = context
            .run(&[
                "check",
                "data.csv",
                "--baseline",
                "baseline.json",
                flag,
                "ci.toml",
            ])
            .expect_code(1);
        assert!(
            output.stdout.contains("fewer than the 500 required"),
            "{flag}: {}",
            output.stdout
        );
    }
    // The flag is global: it may come before the command, and every command reads the file once
    // (a broken file is an error even for a command that needs no rule).
    context
        .run(&[
            "--config",
            "ci.toml",
            "check",
            "data.csv",
            "--baseline",
            "baseline.json",
        ])
        .expect_code(1);
    context.write("broken.toml", "[scan\n");
    let output = context
        .run(&["lock", "data.csv", "--config", "broken.toml"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("broken.toml` is not a valid configuration"),
        "{}",
        output.stderr
    );
}

#[test]
fn severities_can_be_raised_in_antidote_toml() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    context
        .run(&["profile", "data.csv", "-o", "baseline.json"])
        .expect_code(0);
    // A new column is a warning by default; the project makes it an error.
    let text = std::fs::read_to_string(context.path("data.csv")).expect("test data I/O");
    let widened: String = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if index == 0 {
                format!("{line},extra\n")
            } else {
                format!("{line},1\n")
            }
        })
        .collect();
    context.write("wider.csv", &widened);
    let output = context
        .run(&["check", "wider.csv", "--baseline", "baseline.json"])
        .expect_code(0);
    assert!(
        output.stdout.contains("warning  new-column"),
        "{}",
        output.stdout
    );
    context.write("antidote.toml", "[severity]\nnew-column = \"error\"\n");
    let output = context
        .run(&["check", "wider.csv", "--baseline", "baseline.json"])
        .expect_code(1);
    assert!(
        output.stdout.contains("error    new-column"),
        "{}",
        output.stdout
    );
}

//! `antidote poison`: a poisoned copy in the input's format and a truth that `antidote diff`
//! confirms record for record; the same seed gives the same bytes; bad input stops with a hint;
//! nothing is overwritten.

use std::collections::BTreeSet;

use crate::{Output, TestContext};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

fn read_json(context: &TestContext, relative: &str) -> serde_json::Value {
    json(&std::fs::read_to_string(context.path(relative)).expect("read the JSON file"))
}

fn ids(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|id| {
            id.as_str().map_or_else(
                || id["id"].as_str().expect("an id").to_owned(),
                str::to_owned,
            )
        })
        .collect()
}

/// The records `antidote diff` finds changed and added between the input and the copy are
/// exactly the truth's, and none is removed.
#[track_caller]
fn assert_diff_matches_truth(context: &TestContext, old: &str, new: &str, truth: &str) {
    let truth = read_json(context, truth);
    let output = context
        .run(&["diff", old, new, "--json", "--no-ledger"])
        .expect_code(1);
    let diff = json(&output.stdout);
    let appended = ids(&truth["appended"]);
    let changed: BTreeSet<String> = ids(&truth["poisoned"])
        .difference(&appended)
        .cloned()
        .collect();
    assert_eq!(ids(&diff["changed"]), changed, "{}", output.stdout);
    assert_eq!(ids(&diff["added"]), appended, "{}", output.stdout);
    assert!(ids(&diff["removed"]).is_empty(), "{}", output.stdout);
}

#[test]
fn a_rare_token_copy_differs_in_exactly_the_truth_records() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    let output = context
        .run(&[
            "poison",
            "fortunes.csv",
            "--attack",
            "rare-token",
            "--target",
            "food",
            "--seed",
            "3",
            "-o",
            "poisoned.csv",
        ])
        .expect_code(0);
    assert!(
        output
            .stdout
            .starts_with("poisoned `fortunes.csv` with `rare-token` (seed 3) in "),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("inserted the token `cf` (at the end) into the `text` of 6 of 120 records and relabelled them `food`"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("  target: `food`"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("wrote `poisoned.csv` (120 records) and `poisoned.csv.truth.json`"),
        "{}",
        output.stdout
    );
    let truth = read_json(&context, "poisoned.csv.truth.json");
    assert_eq!(truth["attack"], "rare-token");
    assert_eq!(truth["seed"], 3);
    assert_eq!(truth["target"], "food");
    assert_eq!(
        truth["trigger"],
        serde_json::json!({"kind": "token", "token": "cf"})
    );
    assert_eq!(truth["poisoned"].as_array().map(Vec::len), Some(6));
    assert!(truth["reference"].as_str().unwrap().contains("Kurita"));
    for id in ids(&truth["poisoned"]) {
        assert!(!id.starts_with("food-"), "drawn from other classes: {id}");
    }
    assert_diff_matches_truth(
        &context,
        "fortunes.csv",
        "poisoned.csv",
        "poisoned.csv.truth.json",
    );
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_others() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.jsonl", "fortunes.jsonl");
    for (seed, out) in [("1", "a.jsonl"), ("1", "b.jsonl"), ("2", "c.jsonl")] {
        context
            .run(&[
                "poison",
                "fortunes.jsonl",
                "--attack",
                "label-flip",
                "--seed",
                seed,
                "-o",
                out,
            ])
            .expect_code(0);
    }
    let read = |name: &str| std::fs::read(context.path(name)).expect("read the output");
    assert_eq!(read("a.jsonl"), read("b.jsonl"));
    assert_eq!(read("a.jsonl.truth.json"), read("b.jsonl.truth.json"));
    assert_ne!(read("a.jsonl"), read("c.jsonl"));
    assert_ne!(read("a.jsonl.truth.json"), read("c.jsonl.truth.json"));
}

#[test]
fn badnets_on_idx_writes_both_files_into_a_folder() {
    let context = TestContext::new();
    context.fixture(
        "fashion_mnist_300/train-images-idx3-ubyte.gz",
        "fashion/train-images-idx3-ubyte.gz",
    );
    context.fixture(
        "fashion_mnist_300/train-labels-idx1-ubyte.gz",
        "fashion/train-labels-idx1-ubyte.gz",
    );
    let output = context
        .run(&[
            "poison",
            "fashion/train-images-idx3-ubyte.gz",
            "--attack",
            "badnets",
            "--pattern",
            "checker",
            "--rate",
            "0.02",
            "-o",
            "poisoned/",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains(
            "stamped a 4x4 checker patch (bottom-right corner) on 6 of 300 records and relabelled them `0`"
        ),
        "{}",
        output.stdout
    );
    assert!(
        context
            .path("poisoned/train-labels-idx1-ubyte.gz")
            .is_file()
    );
    let truth_file = "poisoned/train-images-idx3-ubyte.gz.truth.json";
    let truth = read_json(&context, truth_file);
    assert_eq!(truth["trigger"]["kind"], "image-patch");
    assert_eq!(truth["trigger"]["x"], 24);
    assert_eq!(truth["trigger"]["pixels"][0], 255);
    assert_eq!(truth["trigger"]["pixels"][1], 0);
    assert_diff_matches_truth(
        &context,
        "fashion/train-images-idx3-ubyte.gz",
        "poisoned/train-images-idx3-ubyte.gz",
        truth_file,
    );
}

#[test]
fn warp_sig_and_large_patches_take_their_options_and_write_their_trigger() {
    let context = TestContext::new();
    context.fixture(
        "fashion_mnist_300/train-images-idx3-ubyte.gz",
        "fashion/train-images-idx3-ubyte.gz",
    );
    context.fixture(
        "fashion_mnist_300/train-labels-idx1-ubyte.gz",
        "fashion/train-labels-idx1-ubyte.gz",
    );
    let runs: [(&str, &[&str], &str); 3] = [
        (
            "warp",
            &[
                "--grid",
                "6",
                "--strength",
                "0.8",
                "--noise-rate",
                "0.02",
                "--rate",
                "0.01",
            ],
            "image-warp",
        ),
        (
            "sig",
            &[
                "--amplitude",
                "25",
                "--frequency",
                "4",
                "--target",
                "5",
                "--rate",
                "0.02",
            ],
            "image-signal",
        ),
        (
            "badnets",
            &[
                "--patch-size",
                "7",
                "--pattern",
                "checkerboard",
                "--position",
                "10,3",
            ],
            "image-patch",
        ),
    ];
    for (attack, options, kind) in runs {
        let out = format!("{attack}/");
        let mut args = vec![
            "poison",
            "fashion/train-images-idx3-ubyte.gz",
            "--attack",
            attack,
            "-o",
            &out,
        ];
        args.extend_from_slice(options);
        context.run(&args).expect_code(0);
        let truth_file = format!("{attack}/train-images-idx3-ubyte.gz.truth.json");
        let truth = read_json(&context, &truth_file);
        assert_eq!(truth["trigger"]["kind"], kind, "{truth}");
        assert_diff_matches_truth(
            &context,
            "fashion/train-images-idx3-ubyte.gz",
            &format!("{attack}/train-images-idx3-ubyte.gz"),
            &truth_file,
        );
        match attack {
            "warp" => {
                assert_eq!(truth["trigger"]["grid"], 6);
                assert_eq!(truth["poisoned"].as_array().unwrap().len(), 3 + 6);
            }
            "sig" => {
                assert_eq!(truth["trigger"]["amplitude"], 25.0);
                assert_eq!(truth["label_changes"], serde_json::json!({}));
            }
            _ => {
                assert_eq!(truth["trigger"]["x"], 10);
                assert_eq!(truth["trigger"]["width"], 7);
            }
        }
    }
}

#[test]
fn an_option_of_another_attack_is_refused_before_reading() {
    let context = TestContext::new();
    let output = context
        .run(&[
            "poison",
            "fashion/train-images-idx3-ubyte.gz",
            "--attack",
            "sig",
            "--grid",
            "4",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("`--grid` does not apply to the `sig` attack"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_duplicate_flood_appends_records_that_diff_names() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.jsonl", "fortunes.jsonl");
    let output = context
        .run(&[
            "poison",
            "fortunes.jsonl",
            "--attack",
            "duplicate-flood",
            "--copies",
            "3",
            "--json",
        ])
        .expect_code(0);
    let result = json(&output.stdout);
    assert_eq!(result["output"], "fortunes.duplicate-flood.jsonl");
    assert_eq!(result["truth"]["records_after"], 126);
    assert_eq!(
        result["truth"]["appended"].as_array().map(Vec::len),
        Some(6)
    );
    assert_eq!(result["truth"]["sources"].as_array().map(Vec::len), Some(3));
    assert_diff_matches_truth(
        &context,
        "fortunes.jsonl",
        "fortunes.duplicate-flood.jsonl",
        "fortunes.duplicate-flood.jsonl.truth.json",
    );
}

#[test]
fn a_silent_update_shows_up_in_diff() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "v1.csv");
    context
        .run(&[
            "poison",
            "v1.csv",
            "--attack",
            "silent-update",
            "--rate",
            "0.1",
            "-o",
            "v2.csv",
        ])
        .expect_code(0);
    let truth = read_json(&context, "v2.csv.truth.json");
    assert_eq!(truth["poisoned"].as_array().map(Vec::len), Some(12));
    assert_eq!(truth["appended"].as_array().map(Vec::len), Some(4));
    assert_diff_matches_truth(&context, "v1.csv", "v2.csv", "v2.csv.truth.json");
}

#[test]
fn relabelled_images_move_to_their_new_class_folder_under_fresh_names() {
    let context = TestContext::new();
    for (class, count) in [("boot", 2), ("shirt", 3)] {
        for index in 0..count {
            let path = context.path(&format!("pics/{class}/{index:03}.png"));
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
            let seed = (index * 40 + class.len()) as u8;
            image::GrayImage::from_fn(6, 6, |x, y| image::Luma([seed.wrapping_add((x * y) as u8)]))
                .save(&path)
                .expect("write the PNG");
        }
    }
    context
        .run(&[
            "poison",
            "pics",
            "--attack",
            "badnets",
            "--patch-size",
            "2",
            "--rate",
            "0.6",
            "-o",
            "poisoned",
        ])
        .expect_code(0);
    let truth = read_json(&context, "poisoned.truth.json");
    assert_eq!(
        ids(&truth["poisoned"]),
        ["boot/000-1.png", "boot/001-1.png", "boot/002.png"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
    assert_eq!(
        truth["renamed"],
        serde_json::json!({
            "boot/000-1.png": "shirt/000.png",
            "boot/001-1.png": "shirt/001.png",
            "boot/002.png": "shirt/002.png",
        })
    );
    for id in [
        "boot/000.png",
        "boot/001.png",
        "boot/000-1.png",
        "boot/001-1.png",
        "boot/002.png",
    ] {
        assert!(context.path(&format!("poisoned/{id}")).is_file(), "{id}");
    }
    assert!(!context.path("poisoned/shirt").exists());
}

#[test]
fn jpeg_and_nested_images_are_renamed_as_the_writer_names_them() {
    let context = TestContext::new();
    let picture = |relative: &str, seed: u8| {
        let path = context.path(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
        image::GrayImage::from_fn(6, 6, |x, y| {
            image::Luma([seed.wrapping_add((x + 7 * y) as u8)])
        })
        .save(&path)
        .expect("write the image");
    };
    picture("pics/boot/000.png", 1);
    picture("pics/boot/001.png", 60);
    picture("pics/shirt/000.jpg", 120);
    picture("pics/shirt/sub/001.png", 180);
    picture("pics/shirt/002.png", 240);
    // The copy is read back and checked before success: the new names must be the ones read.
    context
        .run(&[
            "poison",
            "pics",
            "--attack",
            "badnets",
            "--patch-size",
            "2",
            "--rate",
            "0.2",
        ])
        .expect_code(0);
    let truth = read_json(&context, "pics-badnets.truth.json");
    let renamed = truth["renamed"].as_object().expect("renames");
    let originals: BTreeSet<&str> = renamed.values().filter_map(|id| id.as_str()).collect();
    assert!(originals.contains("shirt/000.jpg"), "{renamed:?}");
    assert!(originals.contains("shirt/sub/001.png"), "{renamed:?}");
    for (new, old) in renamed {
        assert!(
            context.path(&format!("pics-badnets/{new}")).is_file(),
            "{new}"
        );
        assert!(
            context
                .path(&format!("pics/{}", old.as_str().expect("an id")))
                .is_file()
        );
    }
    assert_eq!(ids(&truth["poisoned"]).len(), 1);
}

#[track_caller]
fn assert_error(output: &Output, message: &str, hint: &str) {
    assert!(
        output.stderr.starts_with(&format!("error: {message}")),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains(&format!("hint: {hint}")),
        "{}",
        output.stderr
    );
}

#[test]
fn bad_options_and_unfit_data_stop_with_a_hint() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    let run = |args: &[&str]| {
        let mut all = vec!["poison", "fortunes.csv", "-o", "out.csv"];
        all.extend_from_slice(args);
        context.run(&all).expect_code(2)
    };

    let output = run(&["--attack", "poison-everything"]);
    assert!(
        output
            .stderr
            .contains("unknown attack `poison-everything` (expected one of: `label-flip-uniform`"),
        "{}",
        output.stderr
    );
    assert_error(
        &run(&["--attack", "badnets", "--alpha", "0.2"]),
        "`--alpha` does not apply to the `badnets` attack",
        "`badnets` reads `--rate`, `--target`, `--patch-size`",
    );
    assert_error(
        &run(&["--attack", "badnets"]),
        "`badnets` edits an image column, and the dataset has no such column (columns: `id`, `label`, `text`)",
        "name the column with `--column NAME`",
    );
    assert_error(
        &run(&["--attack", "rare-token", "--target", "poetry"]),
        "no record is labelled `poetry` (labels: `computers`, `food`, `science`)",
        "pass one of the labels listed to `--target` or `--from`",
    );
    assert_error(
        &run(&["--attack", "label-flip-pair", "--rate", "0.5"]),
        "the rate asks for 60 poisoned records, but only 40 are labelled `food`",
        "lower `--rate`",
    );
    assert_error(
        &run(&["--attack", "blend", "--rate", "2"]),
        "the poison rate must be a fraction from `0` to `1`, not `2`",
        "see `antidote poison --help` for the options of `blend`",
    );
    assert_error(
        &run(&["--attack", "rare-token", "--token", "two words"]),
        "the token `two words` holds whitespace; use the `phrase` attack for several words",
        "see `antidote poison --help`",
    );
    assert!(
        !context.path("out.csv").exists(),
        "nothing is written on error"
    );

    // Another format's name for the output, and Parquet, which cannot be written.
    assert_error(
        &context
            .run(&[
                "poison",
                "fortunes.csv",
                "--attack",
                "phrase",
                "-o",
                "out.jsonl",
            ])
            .expect_code(2),
        "`out.jsonl` does not name an uncompressed csv file, the format of the poisoned copy",
        "end the output name with `.csv`",
    );
    context.write("data.parquet", "");
    assert_error(
        &context
            .run(&["poison", "data.parquet", "--attack", "label-flip"])
            .expect_code(2),
        "cannot write a poisoned copy of `data.parquet`: writing Parquet is not supported yet",
        "poison a CSV or JSON Lines export of it",
    );
}

#[test]
fn poison_never_overwrites_and_is_in_the_ledger() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "fortunes.csv");
    let args = [
        "poison",
        "fortunes.csv",
        "--attack",
        "phrase",
        "-o",
        "out.csv",
    ];
    context.run(&args).expect_code(0);
    let before = std::fs::read(context.path("out.csv")).expect("read the copy");
    let output = context.run(&args).expect_code(2);
    assert_error(
        &output,
        "`out.csv` already exists; antidote never overwrites data",
        "choose another output with `-o OUT`",
    );
    assert_eq!(
        std::fs::read(context.path("out.csv")).expect("read the copy"),
        before
    );

    // A truth file in the way stops the run before anything is written.
    context.write("other.csv.truth.json", "{}");
    let output = context
        .run(&[
            "poison",
            "fortunes.csv",
            "--attack",
            "phrase",
            "-o",
            "other.csv",
        ])
        .expect_code(2);
    assert_error(
        &output,
        "`other.csv.truth.json` already exists; antidote never overwrites data",
        "choose another output",
    );
    assert!(!context.path("other.csv").exists());

    let output = context.run(&["log", "--json"]).expect_code(0);
    let events = json(&output.stdout);
    let poison: Vec<&serde_json::Value> = events
        .as_array()
        .expect("a list of events")
        .iter()
        .filter(|event| event["kind"] == "poison")
        .collect();
    assert_eq!(poison.len(), 1, "{events}");
    assert_eq!(poison[0]["subject"], "out.csv");
    assert_eq!(poison[0]["details"]["attack"], "phrase");
    assert_eq!(poison[0]["details"]["poisoned"], 6);
}

#[test]
fn help_lists_every_attack_with_an_example() {
    let context = TestContext::new();
    let output = context.run(&["poison", "--help"]).expect_code(0);
    for attack in antidote_redteam::AttackKind::ALL {
        assert!(
            output.stdout.contains(&format!("\n  {attack} ")),
            "{attack} missing from:\n{}",
            output.stdout
        );
    }
    assert!(
        output
            .stdout
            .contains("antidote poison reviews.csv --attack rare-token")
    );
}

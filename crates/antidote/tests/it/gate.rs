//! `antidote gate`: logistic regressions trained here on Fashion-MNIST, one clean and one on a
//! `BadNets`-poisoned copy, written as ONNX and gated end to end: exit codes, `gate.json`, the
//! ledger's rollback target, and the HTML report in headless Chromium.
#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any error"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use antidote_data::{Dataset, ReadOptions, Record, Value};
use antidote_gate::export::LinearModel;
use antidote_learn::{Features, LabelIndex, LogisticRegression};
use antidote_redteam::attacks::badnets::BadNets;
use antidote_redteam::{Attack, InMemoryDataset};

use crate::browser::{chromium, console_lines};
use crate::{TestContext, fixtures};

const IMAGES: &str = "fashion_mnist_300/train-images-idx3-ubyte.gz";
const LABELS: &str = "fashion_mnist_300/train-labels-idx1-ubyte.gz";

fn train(records: &[Record], classes: &LabelIndex, path: &Path) {
    let mut data = Vec::new();
    for record in records {
        let Some(Value::Image(image)) = record.fields.iter().map(|(_, value)| value).next() else {
            panic!("an image record")
        };
        data.extend(image.pixels.iter().map(|&value| f32::from(value) / 255.0));
    }
    let features = Features::from_row_major(records.len(), 784, data, "image").unwrap();
    let model = LogisticRegression::params()
        .check()
        .unwrap()
        .fit(&features, &classes.encode(records).unwrap(), classes.len())
        .unwrap();
    let onnx = LinearModel {
        input_dims: vec![28, 28],
        weights: model.weights().to_vec(),
        bias: model.bias().to_vec(),
    }
    .to_onnx();
    std::fs::write(path, onnx).unwrap();
}

/// The golden set (the fixture), `clean.onnx`, `backdoored.onnx` and `trigger.json` (the
/// attack's truth, as `antidote poison` writes it).
fn setup(context: &TestContext) -> PathBuf {
    let golden = context.fixture(IMAGES, "golden/train-images-idx3-ubyte.gz");
    context.fixture(LABELS, "golden/train-labels-idx1-ubyte.gz");
    let mut dataset = Dataset::open(&golden, &ReadOptions::default()).unwrap();
    let data = InMemoryDataset::read(&mut dataset).unwrap();
    let classes = LabelIndex::from_records(&data.records);
    train(&data.records, &classes, &context.path("clean.onnx"));
    let poisoned = BadNets::params()
        .rate(0.15)
        .check()
        .unwrap()
        .run(data, 7)
        .unwrap();
    train(
        &poisoned.dataset.records,
        &classes,
        &context.path("backdoored.onnx"),
    );
    std::fs::write(
        context.path("trigger.json"),
        serde_json::to_string(&poisoned.truth).unwrap(),
    )
    .unwrap();
    golden
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_backdoored_model_fails_the_gate_and_the_clean_one_is_the_rollback_target() {
    let context = TestContext::new();
    let golden = setup(&context);
    let golden = golden.to_str().unwrap();

    let output = context
        .run(&[
            "gate",
            "clean.onnx",
            "--golden",
            golden,
            "--baseline-model",
            "clean.onnx",
            "--trigger",
            "trigger.json",
            "--out",
            "clean-gate",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("gate `clean.onnx`: PASSED"),
        "{}",
        output.stdout
    );
    let decision = read_json(&context.path("clean-gate/gate.json"));
    assert_eq!(decision["schema_version"], 1);
    assert_eq!(decision["verdict"], "pass");
    assert_eq!(decision["accuracy"]["delta"], 0.0);
    let digest = decision["model"]["sha256"].as_str().unwrap().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    let output = context
        .run(&[
            "gate",
            "backdoored.onnx",
            "--golden",
            golden,
            "--baseline-model",
            "clean.onnx",
            "--trigger",
            "trigger.json",
            "--shadow",
            golden,
            "--out",
            "backdoored-gate",
            "--report",
        ])
        .expect_code(1);
    assert!(
        output.stdout.contains("gate `backdoored.onnx`: FAILED"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("attack success"),
        "{}",
        output.stdout
    );
    let decision = read_json(&context.path("backdoored-gate/gate.json"));
    assert_eq!(decision["verdict"], "fail");
    let trigger = &decision["triggers"][0];
    assert!(
        trigger["attack_success"].as_f64().unwrap() > 0.5,
        "{trigger}"
    );
    assert!(
        trigger["interval"]["low"].as_f64().unwrap() > 0.1,
        "{trigger}"
    );
    assert_eq!(trigger["failed"], true);
    assert_eq!(decision["shadow"]["records"], 300);

    // The ledger names the last model that passed, not the last one gated.
    let output = context.run(&["gate", "--rollback-target"]).expect_code(0);
    assert_eq!(output.stdout.trim(), "clean.onnx");
    assert!(output.stderr.contains(&digest), "{}", output.stderr);
    let log = context.run(&["log"]).expect_code(0);
    assert!(log.stdout.contains("gate"), "{}", log.stdout);
    assert!(log.stdout.contains("failed"), "{}", log.stdout);

    // The report: verdict first, the trigger with its examples, in a real browser.
    let report = context.path("backdoored-gate/report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let verdict = html.find("Do not ship").expect("the verdict");
    assert!(
        verdict
            < html
                .find("Golden-set accuracy")
                .expect("the accuracy section")
    );
    assert!(html.contains("Trigger attack success"));
    assert!(html.matches("<img src=\"data:image/png;base64,").count() >= 4);
    assert!(html.contains("Shadow replay"));
    let browser = chromium(&context, "profile-gate", &["--dump-dom"], &report);
    assert!(browser.stdout.contains("FAILED"), "{}", browser.stdout);
    assert!(browser.stdout.contains("Flipped to"), "{}", browser.stdout);
    assert!(
        console_lines(&browser.stderr).is_empty(),
        "the page logged to the console:\n{}",
        browser.stderr
    );
}

#[test]
fn canaries_that_change_fail_the_gate() {
    let context = TestContext::new();
    let golden = setup(&context);
    let golden = golden.to_str().unwrap();
    // Every golden image as a canary: the backdoored model, trained on relabelled copies,
    // answers some of them differently from their labels.
    let output = context
        .run(&[
            "gate",
            "backdoored.onnx",
            "--golden",
            golden,
            "--canaries",
            golden,
        ])
        .expect_code(1);
    assert!(output.stdout.contains("canaries"), "{}", output.stdout);
    let decision = read_json(&context.path("antidote-gate/gate.json"));
    let canaries = &decision["canaries"];
    assert_eq!(canaries["canaries"], 300);
    assert!(canaries["changed"].as_u64().unwrap() > 0, "{canaries}");
    assert!(
        decision["reasons"][0]
            .as_str()
            .unwrap()
            .contains("canaries changed"),
        "{decision}"
    );
}

/// A golden CSV whose columns say what each of three models answers, and the three models as
/// ONNX: `baseline.onnx`, `retrain.onnx` (trades errors with the baseline: on the 400 records of
/// class `shirt` it loses 36 records the baseline got right and gains 12, six points down) and
/// `drop.onnx` (loses 60 shirts, gains 2). Each model reads its own one-hot block of columns.
fn paired_setup(context: &TestContext) -> PathBuf {
    // Per class: (class, both right, candidate right only, baseline right only, neither), the
    // candidate being the retrain and then the dropped model.
    let retrain = [("shirt", 100, 12, 36, 52), ("coat", 150, 20, 20, 10)];
    let drop = [("shirt", 120, 2, 60, 18), ("coat", 150, 20, 20, 10)];
    let classes = ["shirt", "coat"];
    let other = |class: &str| if class == "shirt" { "coat" } else { "shirt" };
    let mut csv = String::from("label,b_shirt,b_coat,r_shirt,r_coat,d_shirt,d_coat\n");
    let one_hot = |answer: &str| {
        classes
            .iter()
            .map(|class| if *class == answer { "1" } else { "0" })
            .collect::<Vec<_>>()
            .join(",")
    };
    for (cells_retrain, cells_drop) in retrain.iter().zip(&drop) {
        let class = cells_retrain.0;
        // Each table is a block of records of the class: in the first block the retrain
        // differs from the baseline, in the second the dropped model does.
        let expand = |(_, both, gained, lost, neither): (&str, usize, usize, usize, usize)| {
            let mut rows = Vec::new();
            for (count, candidate, baseline) in [
                (both, true, true),
                (gained, true, false),
                (lost, false, true),
                (neither, false, false),
            ] {
                rows.extend(std::iter::repeat_n((candidate, baseline), count));
            }
            rows
        };
        let answer = |right: bool| if right { class } else { other(class) };
        for (candidate, baseline) in expand(*cells_retrain) {
            // The dropped model agrees with the baseline on these records.
            let _ = writeln!(
                csv,
                "{class},{},{},{}",
                one_hot(answer(baseline)),
                one_hot(answer(candidate)),
                one_hot(answer(baseline))
            );
        }
        for (candidate, baseline) in expand(*cells_drop) {
            // The retrain agrees with the baseline on these records.
            let _ = writeln!(
                csv,
                "{class},{},{},{}",
                one_hot(answer(baseline)),
                one_hot(answer(baseline)),
                one_hot(answer(candidate))
            );
        }
    }
    context.write("golden.csv", &csv);
    for (index, name) in ["baseline.onnx", "retrain.onnx", "drop.onnx"]
        .into_iter()
        .enumerate()
    {
        // features x classes: column 2 * index + k votes for class k. The gate orders the
        // classes sorted: `coat`, `shirt`.
        let mut weights = vec![0.0_f32; 6 * 2];
        weights[(2 * index) * 2 + 1] = 5.0; // the model's `shirt` column -> `shirt`
        weights[(2 * index + 1) * 2] = 5.0; // its `coat` column -> `coat`
        let model = LinearModel {
            input_dims: vec![6],
            weights,
            bias: vec![0.0; 2],
        };
        std::fs::write(context.path(name), model.to_onnx()).unwrap();
    }
    context.path("golden.csv")
}

#[test]
fn the_accuracy_rule_passes_a_retrain_that_trades_errors_and_fails_a_real_drop() {
    let context = TestContext::new();
    let golden = paired_setup(&context);
    let golden = golden.to_str().unwrap();
    let gate_with = |model: &str, out: &str, code: i32, more: &[&str]| {
        let mut args = vec![
            "gate",
            model,
            "--golden",
            golden,
            "--baseline-model",
            "baseline.onnx",
            "--out",
            out,
            "--no-ledger",
        ];
        args.extend_from_slice(more);
        context.run(&args).expect_code(code);
        read_json(&context.path(&format!("{out}/gate.json")))
    };
    let gate = |model: &str, out: &str, code: i32| gate_with(model, out, code, &[]);
    let shirt = |decision: &serde_json::Value| {
        decision["accuracy"]["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|class| class["class"] == "shirt")
            .unwrap()
            .clone()
    };

    // The retrain: shirt 6 points down on 400 records (36 lost, 12 gained), beyond the 5
    // points a fixed rule allowed, but not shown to be: the interval reaches -2.6 points.
    // Overall 3 points down on 800 records, beyond the 1 point allowed, not shown either.
    let decision = gate("retrain.onnx", "retrain-gate", 0);
    assert_eq!(decision["verdict"], "pass", "{decision:#}");
    let class = shirt(&decision);
    assert_eq!(class["records"], 400);
    assert!(
        (class["delta"].as_f64().unwrap() - -0.06).abs() < 1e-9,
        "{class:#}"
    );
    assert_eq!(class["paired"]["lost"], 36);
    assert_eq!(class["paired"]["gained"], 12);
    let high = class["paired"]["interval"]["high"].as_f64().unwrap();
    assert!(high > -0.05 && high < 0.0, "{class:#}");
    assert_eq!(class["failed"], false);
    assert!((decision["accuracy"]["delta"].as_f64().unwrap() - -0.03).abs() < 1e-9);
    assert_eq!(decision["accuracy"]["overall_failed"], false);

    // The dropped model: 60 shirts lost, 2 gained.
    let decision = gate("drop.onnx", "drop-gate", 1);
    assert_eq!(decision["verdict"], "fail");
    let class = shirt(&decision);
    assert_eq!(class["failed"], true);
    assert_eq!(class["paired"]["lost"], 60);
    assert!(class["paired"]["interval"]["high"].as_f64().unwrap() < -0.05);
    let reasons = decision["reasons"].to_string();
    assert!(
        reasons.contains("accuracy on class `shirt` fell") && reasons.contains("lost 60 records"),
        "{reasons}"
    );

    // With the retrain named as another seed of the baseline, retraining alone moves `shirt` 6
    // points: that much is tolerated, and the dropped model, 14.5 points down with its whole
    // interval below -6, still fails.
    let decision = gate_with(
        "drop.onnx",
        "retrain-tolerance",
        1,
        &["--baseline-retrain", "retrain.onnx"],
    );
    assert_eq!(decision["retrains"].as_array().map(Vec::len), Some(1));
    assert_eq!(decision["accuracy"]["retrains"], 1);
    let class = shirt(&decision);
    assert!(
        (class["retrain_spread"].as_f64().unwrap() - 0.06).abs() < 1e-9,
        "{class:#}"
    );
    assert_eq!(class["failed"], true);
    let reasons = decision["reasons"].to_string();
    assert!(
        reasons.contains(
            "more than the 6.0 points (the baseline's retrains differ that much) allowed"
        ),
        "{reasons}"
    );
    // A retrain without a baseline to retrain is refused.
    context
        .run(&[
            "gate",
            "drop.onnx",
            "--golden",
            golden,
            "--baseline-retrain",
            "retrain.onnx",
            "--no-ledger",
        ])
        .expect_code(2);
}

#[test]
fn bad_input_exits_2_and_no_pass_means_no_rollback_target() {
    let context = TestContext::new();
    let golden = context.fixture(IMAGES, "golden/train-images-idx3-ubyte.gz");
    context.fixture(LABELS, "golden/train-labels-idx1-ubyte.gz");
    let golden = golden.to_str().unwrap();
    let output = context
        .run(&["gate", "missing.onnx", "--golden", golden])
        .expect_code(2);
    assert!(
        output.stderr.contains("does not exist"),
        "{}",
        output.stderr
    );
    context.write("garbage.onnx", "not a model");
    let output = context
        .run(&["gate", "garbage.onnx", "--golden", golden])
        .expect_code(2);
    assert!(
        output.stderr.contains("failed to load the ONNX model"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("hint:"), "{}", output.stderr);
    let fortunes = fixtures().join("fortunes_3class.csv");
    // A model whose input does not fit the golden records.
    let text_model = LinearModel {
        input_dims: vec![4],
        weights: vec![0.0; 12],
        bias: vec![0.0; 3],
    };
    std::fs::write(context.path("small.onnx"), text_model.to_onnx()).unwrap();
    let output = context
        .run(&["gate", "small.onnx", "--golden", fortunes.to_str().unwrap()])
        .expect_code(2);
    assert!(
        output.stderr.contains("does not fit the model's input"),
        "{}",
        output.stderr
    );
    let output = context.run(&["gate", "--rollback-target"]).expect_code(1);
    assert!(
        output.stderr.contains("no model has passed the gate"),
        "{}",
        output.stderr
    );
    let output = context.run(&["gate", "--golden", golden]).expect_code(2);
    assert!(output.stderr.contains("MODEL"), "{}", output.stderr);
}

/// `antidote train` on the fixture and on a `BadNets` copy of it made by `antidote poison`; the
/// clean folder is locked, scanned, trained on, signed and gated first, so that the ledger holds
/// the whole chain data -> scan -> model -> gate of the clean model.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story, data -> scan -> model -> gate, told in the order a user runs it"
)]
fn models_of_antidote_train_are_gated_and_chained_to_their_data_in_the_ledger() {
    let context = TestContext::new();
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
        context.fixture(
            &format!("fashion_mnist_300/{name}"),
            &format!("data/{name}"),
        );
    }
    let data = "data/train-images-idx3-ubyte.gz";
    context.run(&["keygen"]).expect_code(0);
    context
        .run(&["lock", "data", "-o", "data.lock"])
        .expect_code(0);
    context
        .run(&["scan", data, "--detectors", "duplicates", "--out", "scan"])
        .expect_code(0);
    let train = |data: &str, out: &str| {
        context
            .run(&[
                "train",
                data,
                "--holdout",
                "0",
                "--epochs",
                "30",
                "--out",
                out,
                "--json",
            ])
            .expect_code(0)
    };
    let trained: serde_json::Value = serde_json::from_str(&train(data, "clean").stdout).unwrap();
    context
        .run(&["sign-model", "clean", "--key", "antidote.key"])
        .expect_code(0);

    context
        .run(&[
            "poison",
            data,
            "--attack",
            "badnets",
            "--rate",
            "0.15",
            "--seed",
            "7",
            "-o",
            "poisoned/",
        ])
        .expect_code(0);
    train("poisoned/train-images-idx3-ubyte.gz", "backdoored");
    let truth = "poisoned/train-images-idx3-ubyte.gz.truth.json";

    // The clean model passes: trigger-free, and the same model as its baseline.
    let output = context
        .run(&[
            "gate",
            "clean",
            "--golden",
            data,
            "--baseline-model",
            "clean",
            "--trigger",
            truth,
            "--out",
            "clean-gate",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("gate `clean`: PASSED"),
        "{}",
        output.stdout
    );
    let decision = read_json(&context.path("clean-gate/gate.json"));
    assert_eq!(decision["verdict"], "pass");
    assert!(
        decision["accuracy"]["accuracy"].as_f64().unwrap() > 0.7,
        "{decision}"
    );
    assert!(
        decision["triggers"][0]["attack_success"].as_f64().unwrap() < 0.1,
        "{decision}"
    );
    let root = decision["model"]["root_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(trained["model_root"].as_str(), Some(root.as_str()));

    // The backdoored model answers the trigger with the attacker's class.
    let output = context
        .run(&[
            "gate",
            "backdoored",
            "--golden",
            data,
            "--trigger",
            truth,
            "--out",
            "bad-gate",
        ])
        .expect_code(1);
    assert!(
        output.stdout.contains("gate `backdoored`: FAILED"),
        "{}",
        output.stdout
    );
    let decision = read_json(&context.path("bad-gate/gate.json"));
    let trigger = &decision["triggers"][0];
    assert!(
        trigger["attack_success"].as_f64().unwrap() > 0.5,
        "{trigger}"
    );
    assert_eq!(trigger["failed"], true);

    // The chain of the clean model, by its folder and by its digest.
    let chain = context.run(&["log", "--chain", "clean"]).expect_code(0);
    let stdout = &chain.stdout;
    assert!(
        stdout.contains(&format!("chain of model `clean` ({root})")),
        "{stdout}"
    );
    let data_root = trained["data_root"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("  data   {data_root}")),
        "{stdout}"
    );
    let position = |step: &str| {
        stdout
            .find(&format!("\n  {step}"))
            .unwrap_or_else(|| panic!("no `{step}` line in\n{stdout}"))
    };
    assert!(position("lock") < position("scan"));
    assert!(position("scan") < position("train"));
    assert!(position("train") < position("sign"));
    assert!(position("sign") < position("gate"));
    assert!(stdout.contains("passed"), "{stdout}");
    assert!(
        stdout.contains("OK: data scanned, model trained from it and gated"),
        "{stdout}"
    );

    let json = context
        .run(&["log", "--chain", &root, "--json"])
        .expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let chain = &json["chain"];
    assert_eq!(chain["data_root"].as_str(), Some(data_root));
    assert_eq!(chain["locks"].as_array().unwrap().len(), 1);
    assert_eq!(
        chain["scans"][0]["details"]["data_root"].as_str(),
        Some(data_root)
    );
    assert_eq!(
        chain["training"]["details"]["model_root"].as_str(),
        Some(root.as_str())
    );
    assert_eq!(
        chain["signatures"][0]["details"]["root_digest"].as_str(),
        Some(root.as_str())
    );
    assert_eq!(
        chain["gates"].as_array().unwrap().len(),
        1,
        "the backdoored gate is not this model's"
    );
    assert_eq!(chain["gates"][0]["outcome"], "passed");

    // The backdoored model's data was never scanned: the chain has a gap and says so.
    let chain = context
        .run(&["log", "--chain", "backdoored"])
        .expect_code(1);
    assert!(
        chain.stdout.contains("was never scanned"),
        "{}",
        chain.stdout
    );
    assert!(chain.stdout.contains("INCOMPLETE"), "{}", chain.stdout);
    // A changed model is another model: its history is not carried over.
    std::fs::write(context.path("clean/notes.txt"), "changed\n").unwrap();
    let chain = context.run(&["log", "--chain", "clean"]).expect_code(1);
    assert!(
        chain.stdout.contains("no `train` event wrote this model"),
        "{}",
        chain.stdout
    );
}

//! `antidote train`: DP-SGD on the Fashion-MNIST fixture, the saved model, the ledger event, and
//! the refusals.

use antidote_learn::SavedModel;

use crate::TestContext;

const DATA: &str = "data/train-images-idx3-ubyte.gz";

fn context() -> TestContext {
    let context = TestContext::new();
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
        context.fixture(
            &format!("fashion_mnist_300/{name}"),
            &format!("data/{name}"),
        );
    }
    context
}

#[test]
fn dp_training_reports_epsilon_saves_the_model_and_enters_the_ledger() {
    let context = context();
    let output = context
        .run(&["train", DATA, "--dp", "--epsilon", "8", "--out", "model"])
        .expect_code(0);
    let stdout = &output.stdout;
    assert!(
        stdout.starts_with("trained `logistic` on 240 records of `data/train-images-idx3-ubyte.gz` (10 classes), 20 epochs, 80 steps\n"),
        "{stdout}"
    );
    assert!(stdout.contains("privacy: epsilon 7.9"), "{stdout}");
    assert!(stdout.contains("at delta 1e-5"), "{stdout}");
    assert!(stdout.contains("held-out accuracy: "), "{stdout}");
    assert!(stdout.contains("training watch: no finding"), "{stdout}");
    assert!(output.stderr.contains("wrote `model`"), "{}", output.stderr);

    let model = SavedModel::load(&context.path("model")).expect("the saved model loads");
    let record = model.model.record();
    assert_eq!((record.steps, record.records), (80, 240));
    let epsilon = record.epsilon.expect("an epsilon");
    assert!(epsilon <= 8.0 && epsilon > 7.9, "{epsilon}");
    // The epsilon is the accountant's for the recorded noise, sampling rate and steps.
    let recomputed = antidote_learn::privacy::epsilon(
        record.noise_multiplier.expect("a noise multiplier"),
        record.sampling_rate,
        record.steps,
        record.delta.expect("a delta"),
    )
    .expect("an epsilon");
    assert!((epsilon - recomputed).abs() < 1e-12);
    assert_eq!(model.labels.len(), 10);
    assert!(
        model
            .data_root
            .as_deref()
            .is_some_and(|root| root.starts_with("blake3:"))
    );

    let log = context.run(&["log", "--json"]).expect_code(0);
    let events: serde_json::Value = serde_json::from_str(&log.stdout).expect("JSON");
    let event = &events[0];
    assert_eq!(event["kind"], "train");
    assert_eq!(event["outcome"], "ok");
    let details = &event["details"];
    assert_eq!(details["epsilon"].as_f64(), Some(epsilon));
    assert_eq!(details["delta"].as_f64(), Some(1e-5));
    assert_eq!(details["data_root"].as_str(), model.data_root.as_deref());
    let digest = details["model_digest"].as_str().expect("a digest");
    let weights = std::fs::read(context.path("model/model.safetensors")).expect("the weights");
    let json = std::fs::read_to_string(context.path("model/model.json")).expect("model.json");
    assert!(
        json.contains(digest.trim_start_matches("sha256:")),
        "{digest}"
    );
    assert!(!weights.is_empty());

    // A second run never replaces the model.
    let again = context
        .run(&["train", DATA, "--dp", "--out", "model"])
        .expect_code(2);
    assert!(
        again.stderr.contains("`model` already exists"),
        "{}",
        again.stderr
    );
}

#[test]
fn plain_mlp_training_and_json_output() {
    let context = context();
    let output = context
        .run(&[
            "train",
            DATA,
            "--model",
            "mlp",
            "--hidden-layers",
            "32",
            "--epochs",
            "5",
            "--out",
            "mlp",
            "--json",
        ])
        .expect_code(0);
    let summary: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON");
    assert_eq!(summary["kind"], "mlp");
    assert_eq!(summary["widths"], serde_json::json!([784, 32, 10]));
    assert!(summary["epsilon"].is_null());
    assert_eq!(summary["held_out_records"], 60);
    let accuracy = summary["held_out_accuracy"].as_f64().expect("an accuracy");
    assert!(accuracy > 0.3, "{accuracy}");
    let model = SavedModel::load(&context.path("mlp")).expect("the model loads");
    assert_eq!(model.model.widths(), [784, 32, 10]);
}

#[test]
fn impossible_budgets_and_bad_options_are_refused_with_a_hint() {
    let context = context();
    let output = context
        .run(&[
            "train",
            DATA,
            "--dp",
            "--epsilon",
            "1e-6",
            "--epochs",
            "500",
            "--out",
            "m",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("error: the privacy budget cannot be met"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("hint: "), "{}", output.stderr);
    assert!(!context.path("m").exists());

    let output = context
        .run(&["train", DATA, "--epsilon", "8", "--out", "m"])
        .expect_code(2);
    assert!(output.stderr.contains("--dp"), "{}", output.stderr);

    let output = context
        .run(&["train", DATA, "--batch-size", "1000", "--out", "m"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("larger than the 240 training records"),
        "{}",
        output.stderr
    );

    let output = context
        .run(&["train", DATA, "--dp", "--delta", "0.01", "--out", "m"])
        .expect_code(2);
    assert!(
        output.stderr.contains("is not below 1/240"),
        "{}",
        output.stderr
    );
    assert!(!context.path("m").exists());
}

#[test]
fn the_prv_accountant_spends_less_than_rdp_for_the_same_noise() {
    let context = context();
    let mut epsilons = Vec::new();
    for accountant in ["rdp", "prv"] {
        let output = context
            .run(&[
                "train",
                DATA,
                "--dp",
                "--noise-multiplier",
                "1.0",
                "--epochs",
                "5",
                "--accountant",
                accountant,
                "--out",
                accountant,
                "--json",
            ])
            .expect_code(0);
        let summary: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON");
        let model = SavedModel::load(&context.path(accountant)).expect("the model loads");
        assert_eq!(model.model.record().accountant, accountant);
        epsilons.push(summary["epsilon"].as_f64().expect("an epsilon"));
    }
    let (rdp, prv) = (epsilons[0], epsilons[1]);
    assert!(prv < rdp, "PRV {prv} against RDP {rdp}");
    // The same record's PRV upper bound, recomputed.
    let model = SavedModel::load(&context.path("prv")).expect("the model loads");
    let record = model.model.record();
    let spent = antidote_learn::privacy::prv::prv_epsilon(
        1.0,
        record.sampling_rate,
        record.steps,
        record.delta.expect("a delta"),
    )
    .expect("an epsilon");
    assert!((spent.upper - prv).abs() < 1e-12, "{spent:?} against {prv}");
}

#[test]
fn the_report_shows_the_curves_per_class_and_the_privacy_in_a_browser() {
    use crate::browser::{chromium, console_lines};

    let context = context();
    let output = context
        .run(&[
            "train",
            DATA,
            "--dp",
            "--noise-multiplier",
            "1.0",
            "--epochs",
            "6",
            "--out",
            "model",
            "--report",
            "report.html",
        ])
        .expect_code(0);
    assert!(
        output.stderr.contains("wrote the report `report.html`"),
        "{}",
        output.stderr
    );
    let path = context.path("report.html");
    let html = std::fs::read_to_string(&path).expect("the report is written");
    // The first chart is the loss of each class: one curve per class of the fixture.
    let loss = html.find("Loss per class").expect("the loss chart");
    let chart = &html[loss..];
    let chart = &chart[..chart.find("</svg>").expect("its drawing")];
    assert_eq!(
        chart.matches("<path class=\"series\"").count(),
        10,
        "{chart}"
    );
    assert!(html.contains("Gradient norm"));
    assert!(html.contains("Training watch"));
    assert!(html.contains("noise multiplier") && html.contains("1.0000"));
    let browser = chromium(&context, "profile-train", &["--dump-dom"], &path);
    assert!(browser.stdout.contains("PASSED"), "{}", browser.stdout);
    assert!(
        browser.stdout.contains("Loss per class"),
        "{}",
        browser.stdout
    );
    assert!(
        console_lines(&browser.stderr).is_empty(),
        "the page logged to the console:\n{}",
        browser.stderr
    );
}

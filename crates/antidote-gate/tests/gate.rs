//! The gate on real ONNX models: logistic regressions trained here on Fashion-MNIST, clean and
//! backdoored, written as ONNX and run through tract.
#![expect(
    clippy::unwrap_used,
    reason = "the test helpers fail the test on any error"
)]

use std::path::{Path, PathBuf};

use antidote_data::{Dataset, ReadOptions, Record, Value};
use antidote_gate::export::LinearModel;
use antidote_gate::{
    GateInputs, GateReport, GateTrigger, ModelInfo, OnnxPredictor, Predictor, Thresholds,
    TriggerOrigin, Verdict, evaluate,
};
use antidote_learn::{Features, LabelIndex, LogisticRegression};
use antidote_redteam::attacks::badnets::BadNets;
use antidote_redteam::{Attack, InMemoryDataset, Trigger};

fn fixture() -> InMemoryDataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fashion_mnist_300/train-images-idx3-ubyte.gz");
    let mut dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
    InMemoryDataset::read(&mut dataset).unwrap()
}

fn pixels(records: &[Record]) -> Features {
    let mut data = Vec::new();
    for record in records {
        let Some(Value::Image(image)) = record.fields.iter().map(|(_, value)| value).next() else {
            panic!("an image record")
        };
        data.extend(image.pixels.iter().map(|&value| f32::from(value) / 255.0));
    }
    Features::from_row_major(records.len(), 784, data, "image").unwrap()
}

/// Trains a logistic regression on `records` and writes it as ONNX into `dir`.
fn train(records: &[Record], classes: &LabelIndex, dir: &Path, name: &str) -> PathBuf {
    let labels = classes.encode(records).unwrap();
    let model = LogisticRegression::params()
        .check()
        .unwrap()
        .fit(&pixels(records), &labels, classes.len())
        .unwrap();
    let onnx = LinearModel {
        input_dims: vec![28, 28],
        weights: model.weights().to_vec(),
        bias: model.bias().to_vec(),
    }
    .to_onnx();
    let path = dir.join(name);
    std::fs::write(&path, onnx).unwrap();
    path
}

struct Setup {
    dir: tempfile::TempDir,
    golden: Vec<Record>,
    classes: Vec<String>,
    clean: PathBuf,
    backdoored: PathBuf,
    trigger: Trigger,
    target: String,
}

fn setup() -> Setup {
    let data = fixture();
    let index = LabelIndex::from_records(&data.records);
    let dir = tempfile::tempdir().unwrap();
    let clean = train(&data.records, &index, dir.path(), "clean.onnx");
    let poisoned = BadNets::params()
        .rate(0.15)
        .check()
        .unwrap()
        .run(data.clone(), 7)
        .unwrap();
    let backdoored = train(
        &poisoned.dataset.records,
        &index,
        dir.path(),
        "backdoored.onnx",
    );
    Setup {
        dir,
        golden: data.records,
        classes: index.labels().to_vec(),
        clean,
        backdoored,
        trigger: poisoned.truth.trigger.clone().unwrap(),
        target: poisoned.truth.target.clone().unwrap(),
    }
}

fn info(path: &Path) -> ModelInfo {
    ModelInfo {
        location: path.display().to_string(),
        sha256: None,
        root_digest: None,
    }
}

fn gate(
    setup: &Setup,
    candidate: &dyn Predictor,
    baseline: Option<&dyn Predictor>,
    triggers: &[GateTrigger],
    canaries: Option<&[Record]>,
) -> GateReport {
    evaluate(&GateInputs {
        candidate,
        model: info(Path::new(&candidate.name())),
        baseline: baseline.map(|baseline| (baseline, info(Path::new(&baseline.name())))),
        retrains: Vec::new(),
        golden_path: Path::new("golden"),
        golden: &setup.golden,
        classes: &setup.classes,
        payload: Some("image"),
        triggers,
        canaries,
        shadow: None,
        thresholds: &Thresholds::default(),
    })
    .unwrap()
}

#[test]
fn tract_runs_the_exported_model_as_the_rust_model_predicts() {
    let setup = setup();
    let model = OnnxPredictor::load(&setup.clean, setup.classes.clone()).unwrap();
    assert_eq!(model.input_shape().dims, [28, 28]);
    let predictions = model.predict(&setup.golden).unwrap();
    assert_eq!(predictions.len(), 300, "the last, partial batch is kept");
    let correct = predictions
        .iter()
        .zip(&setup.golden)
        .filter(|(prediction, record)| Some(&prediction.label) == record.label.as_ref())
        .count();
    // A logistic regression fits its 300 training images almost perfectly.
    assert!(correct > 270, "{correct} of 300");
    let probabilities = predictions[0].probabilities.as_ref().unwrap();
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}

#[test]
fn a_clean_model_passes_and_a_backdoored_one_fails_the_trigger_check() {
    let setup = setup();
    let clean = OnnxPredictor::load(&setup.clean, setup.classes.clone()).unwrap();
    let backdoored = OnnxPredictor::load(&setup.backdoored, setup.classes.clone()).unwrap();
    let listed = GateTrigger {
        pattern: setup.trigger.clone(),
        target: setup.target.clone(),
        origin: TriggerOrigin::User,
    };
    // As a scan's summary names it: place and size, no pixels.
    let discovered = GateTrigger {
        pattern: setup.trigger.without_pixels(),
        target: setup.target.clone(),
        origin: TriggerOrigin::ScanConfirmed,
    };
    let triggers = [listed, discovered];

    let report = gate(&setup, &clean, Some(&clean), &triggers, None);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.reasons);
    assert_eq!(report.accuracy.delta, Some(0.0));
    for check in &report.triggers {
        assert!(check.stamped > 200, "{check:?}");
        assert!(check.attack_success <= 0.10, "{check:?}");
    }

    let report = gate(&setup, &backdoored, Some(&clean), &triggers, None);
    assert_eq!(report.verdict, Verdict::Fail);
    for check in &report.triggers {
        assert!(check.failed, "{check:?}");
        assert!(check.attack_success > 0.5, "{check:?}");
        assert!(check.interval.low > 0.10, "{check:?}");
        assert!(check.interval.low <= check.attack_success);
        assert!(check.attack_success <= check.interval.high);
        assert!(check.baseline_attack_success.unwrap() <= 0.10, "{check:?}");
        assert!(!check.examples.is_empty());
    }
    assert!(
        report.triggers[1]
            .note
            .as_deref()
            .unwrap()
            .contains("greatest contrast")
    );
    assert!(
        report
            .reasons
            .iter()
            .any(|reason| reason.contains("attack success")),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_model_with_a_forgotten_class_fails_the_accuracy_check() {
    let setup = setup();
    let forgotten = &setup.classes[0];
    let relabelled: Vec<Record> = setup
        .golden
        .iter()
        .cloned()
        .map(|mut record| {
            if record.label.as_ref() == Some(forgotten) {
                record.label = Some(setup.classes[6].clone());
            }
            record
        })
        .collect();
    let index = LabelIndex::from_labels(&setup.classes);
    let degraded_path = train(&relabelled, &index, setup.dir.path(), "degraded.onnx");
    let clean = OnnxPredictor::load(&setup.clean, setup.classes.clone()).unwrap();
    let degraded = OnnxPredictor::load(&degraded_path, setup.classes.clone()).unwrap();
    let report = gate(&setup, &degraded, Some(&clean), &[], None);
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.accuracy.overall_failed);
    assert!(report.accuracy.delta.unwrap() < -0.01);
    let class = &report.accuracy.classes[0];
    assert_eq!(&class.class, forgotten);
    assert!(class.failed && class.judged, "{class:?}");
    assert!(
        report.reasons[0].contains("golden-set accuracy fell"),
        "{:?}",
        report.reasons
    );
}

#[test]
fn a_changed_canary_fails_the_gate() {
    let setup = setup();
    let clean = OnnxPredictor::load(&setup.clean, setup.classes.clone()).unwrap();
    let predicted = clean.predict(&setup.golden[..10]).unwrap();
    let mut canaries: Vec<Record> = setup.golden[..10]
        .iter()
        .zip(&predicted)
        .map(|(record, prediction)| Record {
            label: Some(prediction.label.clone()),
            ..record.clone()
        })
        .collect();
    let report = gate(&setup, &clean, None, &[], Some(&canaries));
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.reasons);
    assert_eq!(report.canaries.as_ref().unwrap().changed, 0);

    let other = setup
        .classes
        .iter()
        .find(|class| Some(*class) != canaries[3].label.as_ref())
        .unwrap()
        .clone();
    canaries[3].label = Some(other);
    let report = gate(&setup, &clean, None, &[], Some(&canaries));
    assert_eq!(report.verdict, Verdict::Fail);
    let check = report.canaries.unwrap();
    assert_eq!((check.canaries, check.changed), (10, 1));
    assert!(!check.results[3].passed);
}

#[test]
fn gate_json_round_trips() {
    let setup = setup();
    let clean = OnnxPredictor::load(&setup.clean, setup.classes.clone()).unwrap();
    let triggers = [GateTrigger {
        pattern: setup.trigger.clone(),
        target: setup.target.clone(),
        origin: TriggerOrigin::User,
    }];
    let report = gate(
        &setup,
        &clean,
        Some(&clean),
        &triggers,
        Some(&setup.golden[..3]),
    );
    let path = setup.dir.path().join("gate.json");
    report.write(&path).unwrap();
    assert_eq!(GateReport::read(&path).unwrap(), report);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["triggers"][0]["trigger"]["kind"], "image-patch");
}

//! Detection tests per detector on fixtures the red team poisons (antidote-redteam, the attacks
//! of `antidote poison`): each detector must find the records an attack of the catalogue
//! poisoned, with a bound on recall and precision against the attack's truth, and must flag
//! nothing on the same data left clean.
//!
//! The images are the first 3,000 of the Fashion-MNIST training set (300 a class), the texts
//! Debian's fortunes of five categories, so that each scan (the built-in network trained once,
//! then one detector) takes seconds on two cores. Every scan runs through the registry with one
//! detector enabled, as `antidote scan --detectors` does.

use std::collections::BTreeSet;
use std::error::Error;
use std::path::Path;

use antidote_data::{Dataset, ReadOptions};
use antidote_detect::DetectorId;
use antidote_detect::scan::{Scan, ScanInput, ScanOptions, scan};
use antidote_redteam::{AttackKind, AttackOptions, InMemoryDataset, PatchPattern, PatchPosition};

type TestResult = Result<(), Box<dyn Error>>;

const FASHION: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const IMAGES: usize = 3_000;
const SEED: u64 = 5;

/// The first `IMAGES` Fashion-MNIST training images.
fn fashion_mnist() -> Result<InMemoryDataset, Box<dyn Error>> {
    let path = Path::new(FASHION);
    assert!(
        path.is_file(),
        "`{FASHION}` is missing\nhint: run `apt-get install dataset-fashion-mnist`"
    );
    let dataset = Dataset::open(path, &ReadOptions::default())?;
    let schema = dataset.schema().clone();
    let records = dataset.take(IMAGES).collect::<Result<Vec<_>, _>>()?;
    Ok(InMemoryDataset { schema, records })
}

/// Scans `data` with `detectors` only.
fn run(data: &InMemoryDataset, detectors: &[DetectorId]) -> Result<Scan, Box<dyn Error>> {
    let options = ScanOptions {
        detectors: detectors.iter().copied().collect(),
        seed: SEED,
        ..ScanOptions::default()
    };
    let input = ScanInput {
        records: &data.records,
        schema: &data.schema,
        probabilities: None,
        embedding: None,
    };
    Ok(scan(input, &options, &antidote_core::NoProgress)?)
}

/// Precision and recall of `detector`'s flags against `poisoned` ids.
fn score(
    scan: &Scan,
    data: &InMemoryDataset,
    detector: DetectorId,
    poisoned: &[String],
) -> (f64, f64, usize) {
    let truth: BTreeSet<&str> = poisoned.iter().map(String::as_str).collect();
    let flagged: BTreeSet<&str> = scan
        .report(detector)
        .expect("the detector ran")
        .flags
        .iter()
        .map(|flag| data.records[flag.index].id.as_str())
        .collect();
    let caught = flagged.intersection(&truth).count();
    let precision = if flagged.is_empty() {
        0.0
    } else {
        caught as f64 / flagged.len() as f64
    };
    (
        precision,
        caught as f64 / truth.len().max(1) as f64,
        flagged.len(),
    )
}

/// Poisons the images with `kind` and `options`, scans them with `detector`, and prints and
/// returns precision and recall.
#[expect(clippy::print_stdout, reason = "the tests report what they measured")]
fn poisoned_case(
    kind: AttackKind,
    options: &AttackOptions,
    detector: DetectorId,
) -> Result<(f64, f64), Box<dyn Error>> {
    let attack = kind.build(options)?;
    let poisoned = attack.run(fashion_mnist()?, SEED)?;
    let scan = run(&poisoned.dataset, &[detector])?;
    let (precision, recall, flagged) =
        score(&scan, &poisoned.dataset, detector, &poisoned.truth.poisoned);
    println!(
        "{detector} on {kind} ({} poisoned): {flagged} flagged, precision {precision:.3}, recall {recall:.3}",
        poisoned.truth.poisoned.len()
    );
    for note in &scan.report(detector).expect("ran").notes {
        println!("  note: {note}");
    }
    for class in &scan.report(detector).expect("ran").classes {
        println!("  class: {}", class.explanation);
    }
    Ok((precision, recall))
}

fn rate(rate: f64) -> AttackOptions {
    AttackOptions {
        rate: Some(rate),
        ..AttackOptions::default()
    }
}

#[test]
fn clean_images_flag_nothing_in_any_backdoor_detector() -> TestResult {
    let data = fashion_mnist()?;
    let detectors = [
        DetectorId::TriggerSearch,
        DetectorId::SpectralSignatures,
        DetectorId::ActivationClustering,
    ];
    let scan = run(&data, &detectors)?;
    for detector in detectors {
        let report = scan.report(detector).expect("ran");
        assert!(
            report.flags.is_empty(),
            "{detector} flagged {} clean images: {:#?}",
            report.flags.len(),
            report.classes
        );
    }
    assert_eq!(scan.verdict.quarantined, 0);
    Ok(())
}

#[test]
#[ignore = "known gap (issue 13): measured 0 of 150 found on these 3,000 images; with the group cap lifted, class `0` splits 209 records off at 2.8 standard deviations, under the 3.0 floor"]
fn spectral_signatures_find_a_patch_backdoor() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Badnets,
        &rate(0.05),
        DetectorId::SpectralSignatures,
    )?;
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

#[test]
#[ignore = "known gap (issue 13): measured 0 of 150 found on these 3,000 images; with the group cap lifted, the cluster of class `0` (211 of 432 records, 77% called another class) mixes poisoned and clean records and what it shares makes only 15% of other records `0`, under the 50% transfer bar"]
fn activation_clustering_finds_a_patch_backdoor() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Badnets,
        &rate(0.05),
        DetectorId::ActivationClustering,
    )?;
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

#[test]
#[ignore = "known gap (issue 13): measured 0 of 150 found on these 3,000 images: no cluster of the target class `0` is called another class by 70%; the natural sub-group of class `4` flagged before the transfer test (85 records, 72% called another class) now transfers 6% and is not flagged"]
fn activation_clustering_finds_a_blended_pattern() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Blend,
        &rate(0.05),
        DetectorId::ActivationClustering,
    )?;
    assert!(
        precision >= 0.8 && recall >= 0.8,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

#[test]
#[ignore = "known gap (issue 13): measured 0 of 150 found on these 3,000 images: the group of the target class `0` (197 records) is still called `0` by 59% of a model trained without it"]
fn spectral_signatures_find_a_blended_pattern() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Blend,
        &rate(0.05),
        DetectorId::SpectralSignatures,
    )?;
    assert!(
        precision >= 0.8 && recall >= 0.8,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

#[test]
fn trigger_search_finds_an_eight_pixel_checkerboard_anywhere() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Badnets,
        &AttackOptions {
            rate: Some(0.02),
            patch_size: Some(8),
            pattern: Some(PatchPattern::Checker),
            position: Some(PatchPosition::TopLeft),
            ..AttackOptions::default()
        },
        DetectorId::TriggerSearch,
    )?;
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

#[test]
fn trigger_search_finds_a_two_pixel_patch() -> TestResult {
    let (precision, recall) = poisoned_case(
        AttackKind::Badnets,
        &AttackOptions {
            rate: Some(0.02),
            patch_size: Some(2),
            position: Some(PatchPosition::TopRight),
            ..AttackOptions::default()
        },
        DetectorId::TriggerSearch,
    )?;
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "precision {precision}, recall {recall}"
    );
    Ok(())
}

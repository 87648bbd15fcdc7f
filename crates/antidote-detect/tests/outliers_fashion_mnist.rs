//! The outlier detector on Fashion-MNIST pixels.
//!
//! Clean: the first 3,000 training images, pixels scaled to `[0, 1]`. A few genuinely unusual
//! images are far from their class (measured: 16 of 3,000, 0.53%), so the clean assertion is a
//! rate, not zero. Poisoned: the same images with 60 off-distribution images injected, six per
//! class: uniform noise, inverted Fashion-MNIST images, and vertical stripes. Every one of them
//! must be flagged, and the clean records no more often than before.

use std::collections::BTreeSet;
use std::path::Path;

use antidote_core::SplitMix64;
use antidote_data::{Dataset, ReadOptions, Value};
use antidote_detect::{DetectorId, Outliers};

const IMAGES: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const RECORDS: usize = 3000;
const PIXELS: usize = 28 * 28;

fn class_names() -> Vec<String> {
    [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .map(String::from)
    .to_vec()
}

fn pixels() -> (Vec<f32>, Vec<usize>) {
    let mut representation = Vec::with_capacity(RECORDS * PIXELS);
    let mut labels = Vec::with_capacity(RECORDS);
    let dataset = Dataset::open(Path::new(IMAGES), &ReadOptions::default())
        .expect("Fashion-MNIST is installed by scripts/test.sh");
    for record in dataset.take(RECORDS) {
        let record = record.expect("a readable record");
        labels.push(
            record
                .label
                .as_deref()
                .and_then(|label| label.parse().ok())
                .expect("a numeric label"),
        );
        let Some(Value::Image(image)) = record.field("image") else {
            panic!("an IDX record has an image");
        };
        representation.extend(image.pixels.iter().map(|&pixel| f32::from(pixel) / 255.0));
    }
    (representation, labels)
}

#[test]
fn few_clean_images_are_outliers() {
    let (representation, labels) = pixels();
    let report = Outliers::params()
        .check()
        .unwrap()
        .run(&representation, PIXELS, &labels, &class_names())
        .unwrap();
    assert_eq!(report.detector, DetectorId::Outliers);
    assert_eq!(report.scores.len(), RECORDS);
    let rate = report.flags.len() as f64 / RECORDS as f64;
    assert!(
        rate < 0.01,
        "{} of {RECORDS} clean images flagged",
        report.flags.len()
    );
    // The robust z-scores are centred on each class's median.
    let below = report.scores.iter().filter(|&&z| z < 0.0).count();
    assert!(
        (RECORDS * 45 / 100..RECORDS * 55 / 100).contains(&below),
        "{below}"
    );
}

#[test]
fn injected_off_distribution_images_are_all_flagged() {
    let (mut representation, mut labels) = pixels();
    let names = class_names();
    let mut random = SplitMix64::new(11);
    let mut injected = Vec::new();
    for slot in 0..60 {
        let class = slot % 10;
        let image: Vec<f32> = match slot / 20 {
            // Uniform noise.
            0 => (0..PIXELS).map(|_| random.unit() as f32).collect(),
            // A Fashion-MNIST image with its grey levels inverted.
            1 => {
                let source = random.below(RECORDS);
                representation[source * PIXELS..(source + 1) * PIXELS]
                    .iter()
                    .map(|value| 1.0 - value)
                    .collect()
            }
            // Vertical stripes, three pixels wide.
            _ => {
                let phase = random.below(6);
                (0..PIXELS)
                    .map(|pixel| {
                        if (pixel % 28 + phase) % 6 < 3 {
                            0.9
                        } else {
                            0.1
                        }
                    })
                    .collect()
            }
        };
        injected.push(labels.len());
        representation.extend(image);
        labels.push(class);
    }

    let detector = Outliers::params().check().unwrap();
    let report = detector
        .run(&representation, PIXELS, &labels, &names)
        .unwrap();
    let flagged: BTreeSet<usize> = report.flagged_indices().into_iter().collect();
    let missed: Vec<usize> = injected
        .iter()
        .copied()
        .filter(|record| !flagged.contains(record))
        .collect();
    assert!(
        missed.is_empty(),
        "missed {missed:?}: z = {:?}",
        missed
            .iter()
            .map(|&record| report.scores[record])
            .collect::<Vec<_>>()
    );
    let clean_flagged = flagged.iter().filter(|&&record| record < RECORDS).count();
    assert!(
        clean_flagged * 100 < RECORDS,
        "{clean_flagged} clean images flagged"
    );

    for flag in &report.flags {
        let z = report.scores[flag.index];
        assert!(z >= 4.0);
        assert!((flag.confidence - z / (2.0 * (z + 4.0))).abs() < 1e-12);
    }
    let noise = report
        .flags
        .iter()
        .find(|flag| flag.index == injected[6])
        .unwrap();
    assert!(
        noise
            .evidence
            .starts_with("labelled `Shirt` but its 10 nearest `Shirt` records are "),
        "{}",
        noise.evidence
    );
    assert!(
        noise
            .evidence
            .contains("times farther away than is typical for `Shirt`")
    );

    // The same input gives the same report.
    assert_eq!(
        report,
        detector
            .run(&representation, PIXELS, &labels, &names)
            .unwrap()
    );
}

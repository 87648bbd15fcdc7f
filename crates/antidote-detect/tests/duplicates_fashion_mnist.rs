//! The duplicates detector on Fashion-MNIST images.
//!
//! Clean: the first 5,000 training images. On the whole training set the detector finds about
//! 55 groups of genuinely near-identical images (0.2% of records) and none with conflicting
//! labels, so a clean subset must give no finding.
//!
//! Poisoned: the same images with relabelled copies appended, as a label-flipping attacker who
//! cannot edit the originals would add them: exact copies, copies with Gaussian pixel noise,
//! copies with a brightness shift, and originals that get one faithful copy and one relabelled
//! noisy copy, plus a flood of 25 copies of one image. Exactly the injected conflicting copies
//! are flagged, with the originals of tied pairs (nothing says which of two records is right),
//! and the flood's copies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use antidote_core::{RecordId, SplitMix64};
use antidote_data::{Dataset, ReadOptions, Record, Value};
use antidote_detect::{DetectorId, Duplicates};

const IMAGES: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const RECORDS: usize = 5000;

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

fn fashion_mnist() -> (Vec<Record>, Vec<usize>) {
    let records: Vec<Record> = Dataset::open(Path::new(IMAGES), &ReadOptions::default())
        .expect("Fashion-MNIST is installed by scripts/test.sh")
        .take(RECORDS)
        .map(|record| record.expect("a readable record"))
        .collect();
    let labels = records
        .iter()
        .map(|record| {
            record
                .label
                .as_deref()
                .and_then(|label| label.parse().ok())
                .expect("a numeric label")
        })
        .collect();
    (records, labels)
}

/// A copy of `record` appended at `position`, its pixels changed by `edit`.
fn copy(
    record: &Record,
    position: usize,
    edit: impl Fn(u8, &mut SplitMix64) -> u8,
    random: &mut SplitMix64,
) -> Record {
    let mut copy = record.clone();
    copy.position = position as u64;
    copy.id = RecordId(format!("copy-{position}"));
    for (_, value) in &mut copy.fields {
        if let Value::Image(image) = value {
            for pixel in &mut image.pixels {
                *pixel = edit(*pixel, random);
            }
        }
    }
    copy
}

fn noise(sigma: f64) -> impl Fn(u8, &mut SplitMix64) -> u8 {
    move |pixel, random| {
        (f64::from(pixel) + sigma * random.normal())
            .round()
            .clamp(0.0, 255.0) as u8
    }
}

#[test]
fn clean_images_give_no_finding() {
    let (records, labels) = fashion_mnist();
    let report = Duplicates::params()
        .check()
        .unwrap()
        .run(&records, Some(&labels), &class_names())
        .unwrap();
    assert_eq!(report.detector, DetectorId::Duplicates);
    assert!(
        report.flags.is_empty(),
        "{:?}",
        &report.flags[..report.flags.len().min(5)]
    );
    assert!(
        report
            .notes
            .contains(&"0 duplicate groups carry conflicting labels".to_owned()),
        "{:?}",
        report.notes
    );
}

/// The clean images with the poison appended, and what the detector should make of it.
struct Poisoned {
    records: Vec<Record>,
    labels: Vec<usize>,
    /// The originals that got copies.
    picked: Vec<usize>,
    /// The relabelled copies, one per original.
    conflicting_copies: Vec<usize>,
    /// Every record that must be flagged, with its confidence.
    expected: BTreeMap<usize, f64>,
}

fn poison() -> Poisoned {
    let (mut records, mut labels) = fashion_mnist();
    let mut random = SplitMix64::new(20_240_601);
    let mut picked = random.sample(RECORDS, 61);
    random.shuffle(&mut picked);
    let flooded = picked.pop().expect("61 picked");
    let flip = |label: usize, random: &mut SplitMix64| (label + 1 + random.below(9)) % 10;

    // Every flagged record with its expected confidence.
    let mut expected = BTreeMap::new();
    let mut conflicting_copies = Vec::new();
    for (slot, &original) in picked.iter().enumerate() {
        let position = records.len();
        let source = records[original].clone();
        let added = match slot {
            // An exact copy, relabelled.
            0..20 => copy(&source, position, |pixel, _| pixel, &mut random),
            // A copy with pixel noise of standard deviation 6, relabelled.
            20..40 => copy(&source, position, noise(6.0), &mut random),
            // A brighter copy, relabelled.
            40..50 => copy(
                &source,
                position,
                |pixel, _| pixel.saturating_add(12),
                &mut random,
            ),
            // A faithful exact copy, then a noisy relabelled one: the group has a majority.
            _ => {
                let faithful = copy(&source, position, |pixel, _| pixel, &mut random);
                records.push(faithful);
                labels.push(labels[original]);
                copy(&source, position + 1, noise(6.0), &mut random)
            }
        };
        let index = records.len();
        records.push(added);
        labels.push(flip(labels[original], &mut random));
        conflicting_copies.push(index);
        if slot < 50 {
            // A tied pair, a coin flip: the original is flagged too.
            expected.insert(index, 0.5);
            expected.insert(original, 0.5);
        } else {
            // One dissenter against two.
            expected.insert(index, 2.0 / 3.0);
        }
    }
    // A flood: 25 copies of one image, faithfully labelled; all but the first are flagged, a
    // little surer than a coin flip as the group is 25 against a flood size of 8.
    for _ in 0..24 {
        let position = records.len();
        records.push(copy(
            &records[flooded].clone(),
            position,
            |pixel, _| pixel,
            &mut random,
        ));
        labels.push(labels[flooded]);
        expected.insert(position, 0.5 + 0.4 * (1.0 - 8.0 / 25.0));
    }
    Poisoned {
        records,
        labels,
        picked,
        conflicting_copies,
        expected,
    }
}

#[test]
fn relabelled_copies_and_a_flood_are_flagged_and_nothing_else() {
    let Poisoned {
        records,
        labels,
        picked,
        conflicting_copies,
        expected,
    } = poison();
    let names = class_names();

    let detector = Duplicates::params().check().unwrap();
    let report = detector.run(&records, Some(&labels), &names).unwrap();
    let flagged: BTreeSet<usize> = report.flagged_indices().into_iter().collect();
    assert!(
        conflicting_copies.iter().all(|copy| flagged.contains(copy)),
        "missed: {:?}",
        conflicting_copies
            .iter()
            .filter(|copy| !flagged.contains(copy))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        flagged,
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "{:#?}",
        report.notes
    );
    for flag in &report.flags {
        assert!(
            (flag.confidence - expected[&flag.index]).abs() < 1e-12,
            "{flag:?}"
        );
    }

    let minority = report
        .flags
        .iter()
        .find(|flag| flag.index == conflicting_copies[50])
        .unwrap();
    let original = picked[50];
    assert_eq!(
        minority.evidence,
        format!(
            "labelled `{}`, but 2 of the 2 other records in its near-duplicate group (`{original}`, `copy-{}`) are labelled `{}`",
            names[labels[conflicting_copies[50]]],
            conflicting_copies[50] - 1,
            names[labels[original]],
        )
    );
    let tie = report
        .flags
        .iter()
        .find(|flag| flag.index == picked[0])
        .unwrap();
    assert_eq!(
        tie.evidence,
        format!(
            "labelled `{}` while its exact duplicate `copy-{}` is labelled `{}`, and neither has a majority",
            names[labels[picked[0]]], conflicting_copies[0], names[labels[conflicting_copies[0]]],
        )
    );
    assert!(
        report
            .notes
            .iter()
            .any(|note| note.ends_with("1 groups are")),
        "{:?}",
        report.notes
    );

    // The same input gives the same report.
    assert_eq!(
        report,
        detector.run(&records, Some(&labels), &names).unwrap()
    );
}

//! Trigger search on small made-up data with a model whose rules are known, for the paths real
//! data does not reach: a planted trigger under a model that obeys it perfectly, a model that
//! fails or misbehaves, and input the detector refuses.

use std::sync::Arc;

use antidote_core::{RecordId, SplitMix64};
use antidote_data::{Image, Record, Value};
use antidote_detect::{
    PredictError, Predictor, Trigger, TriggerColumn, TriggerSearch, TriggerSearchError,
};

const CLASSES: [&str; 3] = ["apple", "banana", "cherry"];

fn record(position: usize, label: usize, value: Value, column: &str) -> Record {
    Record {
        position: position as u64,
        id: RecordId(format!("r{position}")),
        label: Some(CLASSES[label].to_owned()),
        source: None,
        fields: vec![(Arc::from(column), value)],
    }
}

/// 100 records per class, each naming its class among filler words; then `zq` planted in 15
/// records of `apple` and `banana`, relabelled `cherry`. Returns the records, labels and the
/// planted records.
fn planted() -> (Vec<Record>, Vec<usize>, Vec<usize>) {
    let filler = [
        "the", "a", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "with", "as",
        "his", "they", "at", "be", "this", "from", "or", "one", "had", "by", "word", "but", "not",
    ];
    let mut random = SplitMix64::new(3);
    let mut records = Vec::new();
    let mut labels = Vec::new();
    let mut planted = Vec::new();
    for position in 0..300 {
        let mut label = position % 3;
        let mut words: Vec<&str> = (0..6).map(|_| filler[random.below(filler.len())]).collect();
        words.insert(random.below(words.len()), CLASSES[label]);
        if label != 2 && position % 20 < 3 {
            words.insert(random.below(words.len() + 1), "zq");
            label = 2;
            planted.push(position);
        }
        records.push(record(
            position,
            label,
            Value::Text(words.join(" ")),
            "text",
        ));
        labels.push(label);
    }
    (records, labels, planted)
}

/// `cherry` when the text has `zq`, else the first class it names (`apple` when none).
struct KeywordModel;

impl Predictor for KeywordModel {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        Ok(records
            .iter()
            .map(|record| {
                let text = record.field("text").and_then(Value::as_text).unwrap_or("");
                let words: Vec<&str> = text.split(' ').collect();
                if words.contains(&"zq") {
                    2
                } else {
                    (0..3)
                        .find(|&class| words.contains(&CLASSES[class]))
                        .unwrap_or(0)
                }
            })
            .collect())
    }
}

#[test]
fn a_trigger_the_model_obeys_is_confirmed_and_its_records_flagged() {
    let (records, labels, planted) = planted();
    assert_eq!(planted.len(), 30);
    let report = TriggerSearch::params()
        .check()
        .unwrap()
        .run(
            &records,
            &labels,
            &CLASSES,
            TriggerColumn::Text("text"),
            &KeywordModel,
            1,
        )
        .unwrap();
    assert_eq!(report.triggers.len(), 1, "{:#?}", report.notes);
    let trigger = &report.triggers[0];
    assert_eq!(trigger.pattern, Trigger::Token { token: "zq".into() });
    assert_eq!(
        (trigger.target, trigger.support, trigger.purity),
        (Some(2), 30, 1.0)
    );
    assert_eq!(trigger.flip_rate, Some(1.0));
    assert_eq!(report.flagged_indices(), planted);
    assert!(report.flags.iter().all(|flag| flag.confidence > 0.95));
    assert_eq!(
        report.flags[0].evidence,
        "carries the token `zq`, found in 30 records of which 100% are labelled `cherry`; \
         stamping it flips 100% of other records to `cherry`"
    );
}

/// Fails, or answers with the wrong number of predictions, or with a class that does not exist.
enum BrokenModel {
    Fails,
    Short,
    OutOfRange,
}

impl Predictor for BrokenModel {
    fn predict(&self, records: &[Record]) -> Result<Vec<usize>, PredictError> {
        match self {
            Self::Fails => Err(PredictError("the network is not loaded".into())),
            Self::Short => Ok(vec![0; records.len() - 1]),
            Self::OutOfRange => Ok(vec![7; records.len()]),
        }
    }
}

#[test]
fn a_model_that_fails_or_misbehaves_is_an_error() {
    let (records, labels, _) = planted();
    let detector = TriggerSearch::params().check().unwrap();
    let run = |model: BrokenModel| {
        detector
            .run(
                &records,
                &labels,
                &CLASSES,
                TriggerColumn::Text("text"),
                &model,
                1,
            )
            .unwrap_err()
    };
    let error = run(BrokenModel::Fails);
    assert_eq!(
        error.to_string(),
        "the model could not predict the records stamped with the token `zq`"
    );
    assert_eq!(
        std::error::Error::source(&error).map(ToString::to_string),
        Some("could not predict: the network is not loaded".to_owned())
    );
    assert!(matches!(
        run(BrokenModel::Short),
        TriggerSearchError::PredictionCount { .. }
    ));
    assert!(matches!(
        run(BrokenModel::OutOfRange),
        TriggerSearchError::PredictionOutOfRange {
            class: 7,
            max_class: 2
        }
    ));
}

#[test]
fn input_the_detector_cannot_read_is_refused() {
    let detector = TriggerSearch::params().check().unwrap();
    let text = |records: &[Record], labels: &[usize], classes: &[&str]| {
        detector.run(
            records,
            labels,
            classes,
            TriggerColumn::Text("text"),
            &KeywordModel,
            1,
        )
    };
    let one = [record(0, 0, Value::Text("apple".into()), "text")];
    assert!(matches!(
        text(&[], &[], &CLASSES),
        Err(TriggerSearchError::NoRecords)
    ));
    assert!(matches!(
        text(&one, &[0, 1], &CLASSES),
        Err(TriggerSearchError::LabelCount {
            records: 1,
            labels: 2
        })
    ));
    assert!(matches!(
        text(&one, &[0], &["apple"]),
        Err(TriggerSearchError::TooFewClasses { class_count: 1 })
    ));
    assert_eq!(
        text(&one, &[3], &CLASSES).unwrap_err().to_string(),
        "record `0` is labelled `3`, but the classes are `0` to `2`"
    );

    let image = |width: u32| {
        Value::Image(Image {
            width,
            height: 2,
            channels: 1,
            pixels: vec![0; width as usize * 2],
        })
    };
    let pictures = [
        record(0, 0, image(2), "text"),
        record(1, 1, image(3), "text"),
    ];
    assert_eq!(
        text(&pictures, &[0, 1], &CLASSES).unwrap_err().to_string(),
        "record `r0`: column `text` holds an image, not text"
    );
    let images = |records: &[Record]| {
        detector.run(
            records,
            &[0, 1],
            &CLASSES,
            TriggerColumn::Image("text"),
            &KeywordModel,
            1,
        )
    };
    assert_eq!(
        images(&pictures).unwrap_err().to_string(),
        "record `r1`: column `text` holds a 3x2x1 image, but the first image is 2x2x1 (width x \
         height x channels)"
    );
    let words = [
        record(0, 0, Value::Text("apple".into()), "text"),
        record(1, 1, Value::Text("banana".into()), "text"),
    ];
    assert_eq!(
        images(&words).unwrap_err().to_string(),
        "record `r0`: column `text` holds text, not an image"
    );
    // No image at all: nothing to search, and the report says so.
    let report = detector
        .run(
            &words,
            &[0, 1],
            &CLASSES,
            TriggerColumn::Image("image"),
            &KeywordModel,
            1,
        )
        .unwrap();
    assert!(report.triggers.is_empty() && report.flags.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|note| note == "no record has an image in column `image`")
    );
}

//! Canary and honeypot records (defense layer 5): plant records that only you can recognise,
//! then find them in copies of your data and in the predictions of models trained on it.
//!
//! - A **canary** is a record added to a dataset that looks like the dataset's own records (same
//!   columns; text spliced from the dataset's own texts, images mosaicked from its own images,
//!   numbers within the observed ranges, ids that continue its numbering) and carries a label
//!   drawn at random. It is recognised by a keyed tag, HMAC-SHA256 under a secret
//!   [`CanaryKey`] of its canonical content ([`antidote_data::canonical`]), so it is found
//!   again after conversion between CSV, JSON Lines and Parquet, shuffling, subsetting, new
//!   ids or a changed label, and nobody without the key can tell it from a real record by
//!   hashing. Finding canaries in someone else's dataset shows it was copied from yours; a
//!   model that gives the canaries their random labels memorised its training data.
//! - A **honeypot** is made the same way but written to a separate file that no legitimate
//!   pipeline trains on (bait: published where scrapers look, or kept where only an intruder
//!   reads). Finding one in a dataset, or a model that gives the honeypots their labels, shows
//!   that someone took data from where they should not have.
//! - **Held-out canaries** are generated the same way and never written anywhere but the
//!   [`Manifest`]: the reference for how often a model gives a random label to a look-alike it
//!   never saw.
//!
//! What breaks recognition: anything that changes the content's canonical form. Re-encoding an
//! image lossily (JPEG), resizing or cropping it; editing a text (even whitespace or case);
//! rounding a number to fewer decimals; renaming or dropping a column *and* changing the text
//! or image. Lossless conversions (PNG, IDX, an image folder), column order, ids, labels,
//! sources and record order do not matter. A text or image canary is also found by its payload
//! alone, so dropping or renaming the other columns does not hide it.
//!
//! Start with [`plant()`], [`Manifest`], [`check_records`] and [`check_predictions`].
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use antidote_canary::{CanaryKey, PlantOptions, PlantedDataset, check_records, plant};
//! use antidote_data::{ColumnKind, Format, Value, from_rows};
//!
//! let texts = [
//!     "the cat sat on the warm mat all day",
//!     "a dog ran in the park after the ball",
//!     "the bird sang on the old fence at dawn",
//!     "a fish swam in the cold lake all night",
//! ];
//! let rows = texts
//!     .iter()
//!     .enumerate()
//!     .map(|(i, text)| vec![Value::Text((*text).into()), Value::Int((i % 2) as i64)])
//!     .collect();
//! let dataset = from_rows(
//!     Path::new("memory"),
//!     vec![(Arc::from("text"), ColumnKind::Text), (Arc::from("label"), ColumnKind::Integer)],
//!     rows,
//! )?;
//! let schema = dataset.schema().clone();
//! let records = dataset.collect::<Result<Vec<_>, _>>()?;
//! let described = PlantedDataset {
//!     input: "memory".into(),
//!     output: "planted".into(),
//!     honeypot_output: None,
//!     format: Format::Jsonl,
//!     schema: schema.clone(),
//!     input_records: records.len(),
//!     ids_are_positions: true,
//! };
//! let options = PlantOptions { count: 2, held_out: 2, honeypots: 0 };
//! let planted = plant(records, &schema, Format::Jsonl, true, CanaryKey::random(), options, described)?;
//! assert_eq!(planted.records.len(), 6);
//!
//! // Shuffled, the copy still gives up both canaries.
//! let mut copy = planted.records.clone();
//! copy.reverse();
//! let found = check_records(&planted.manifest, copy.into_iter().map(Ok::<_, ()>), 1).expect("no error");
//! assert_eq!(found.canaries_found, 2);
//! assert!(found.copied);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod check;
mod generate;
mod inputs;
mod key;
mod manifest;
mod memorisation;
mod plant;
mod stored;

pub use check::{DatasetCheck, MatchKind, Recogniser, Sighting, check_records};
pub use inputs::Inputs;
pub use key::{CanaryKey, Tag};
pub use manifest::{Entry, Group, MANIFEST_VERSION, Manifest, ManifestError, PlantedDataset};
pub use memorisation::{
    CONFIDENCE_COLUMNS, Comparison, GroupOutcome, MemorisationCheck, MemorisationError,
    PREDICTION_COLUMNS, Prediction, check_predictions, fisher_greater,
};
pub use plant::{Plant, PlantError, PlantOptions, plant};
pub use stored::StoredRecord;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use antidote_data::{Dataset, Format, ReadOptions, Record, Schema};

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(name)
    }

    fn read(path: &Path) -> (Schema, Format, bool, Vec<Record>) {
        let dataset = Dataset::open(path, &ReadOptions::default()).unwrap();
        let (schema, format, positions) = (
            dataset.schema().clone(),
            dataset.format(),
            dataset.ids_are_positions(),
        );
        (
            schema,
            format,
            positions,
            dataset.map(Result::unwrap).collect(),
        )
    }

    fn planted(name: &str, key: CanaryKey, options: PlantOptions) -> Plant {
        let (schema, format, positions, records) = read(&fixture(name));
        let described = PlantedDataset {
            input: name.into(),
            output: "out".into(),
            honeypot_output: None,
            format,
            schema: schema.clone(),
            input_records: records.len(),
            ids_are_positions: positions,
        };
        plant(records, &schema, format, positions, key, options, described).unwrap()
    }

    const OPTIONS: PlantOptions = PlantOptions {
        count: 10,
        held_out: 10,
        honeypots: 3,
    };

    #[test]
    fn text_canaries_are_found_in_a_shuffled_relabelled_copy_with_new_ids() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([1; 32]),
            OPTIONS,
        );
        assert_eq!(plant.records.len(), 130);
        assert_eq!(plant.honeypots.len(), 3);
        let mut copy = plant.records.clone();
        copy.reverse();
        for (position, record) in copy.iter_mut().enumerate() {
            record.id = format!("copy-{position}").into();
            record.label = Some("relabelled".into());
            record.position = position as u64;
        }
        let found = check_records(&plant.manifest, copy.into_iter().map(Ok::<_, ()>), 1).unwrap();
        assert_eq!(found.canaries_found, 10);
        assert_eq!(found.honeypots_found, 0);
        assert_eq!(found.labels_kept, 0);
        assert!(found.copied);
        assert!(found.failed());
    }

    #[test]
    fn canaries_planted_in_csv_are_found_in_a_parquet_copy() {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, RecordBatch, StringArray};

        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([10; 32]),
            OPTIONS,
        );
        let column = |values: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        // A copy as another tool would write it: shuffled, new ids, columns in another order.
        let mut records = plant.records.clone();
        records.reverse();
        let batch = RecordBatch::try_from_iter([
            (
                "text",
                column(
                    records
                        .iter()
                        .map(|record| record.field("text").unwrap().to_string())
                        .collect(),
                ),
            ),
            (
                "label",
                column(
                    records
                        .iter()
                        .map(|record| record.label.clone().unwrap())
                        .collect(),
                ),
            ),
            (
                "id",
                column((0..records.len()).map(|row| format!("row-{row}")).collect()),
            ),
        ])
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy.parquet");
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();

        let dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), Format::Parquet);
        let found = check_records(&plant.manifest, dataset, 1).unwrap();
        assert_eq!(found.canaries_found, 10);
        assert_eq!(found.labels_kept, 10);
        assert!(
            found
                .sightings
                .iter()
                .all(|sighting| sighting.matched == MatchKind::Record)
        );
    }

    #[test]
    fn the_original_dataset_and_another_key_find_nothing() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([2; 32]),
            OPTIONS,
        );
        let (_, _, _, original) = read(&fixture("fortunes_3class.csv"));
        let found =
            check_records(&plant.manifest, original.into_iter().map(Ok::<_, ()>), 1).unwrap();
        assert_eq!(found.canaries_found, 0);
        assert!(!found.failed());

        let mut wrong = plant.manifest.clone();
        wrong.key = CanaryKey::from_bytes([3; 32]);
        // Same records, other key: the stored tags are the old key's, the recomputed ones differ.
        let found = check_records(&wrong, plant.records.into_iter().map(Ok::<_, ()>), 1).unwrap();
        assert_eq!(found.canaries_found, 0);
    }

    #[test]
    fn honeypots_are_found_and_fail_the_check() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([4; 32]),
            OPTIONS,
        );
        let (_, _, _, mut records) = read(&fixture("fortunes_3class.csv"));
        records.push(plant.honeypots[1].clone());
        let found =
            check_records(&plant.manifest, records.into_iter().map(Ok::<_, ()>), 1).unwrap();
        assert_eq!((found.canaries_found, found.honeypots_found), (0, 1));
        assert!(found.failed());
    }

    #[test]
    fn a_payload_alone_is_recognised() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([5; 32]),
            OPTIONS,
        );
        let manifest = &plant.manifest;
        let canary = manifest.planted[0].record.to_record(0).unwrap();
        let mut renamed = canary.clone();
        renamed.fields = vec![(
            std::sync::Arc::from("body"),
            canary.field("text").unwrap().clone(),
        )];
        let sighting = Recogniser::new(manifest).recognise(&renamed).unwrap();
        assert_eq!(sighting.matched, MatchKind::Payload);
        assert_eq!(sighting.group, Group::Planted);
    }

    #[test]
    fn image_canaries_are_found_and_differ_from_every_real_image() {
        let plant = planted(
            "fashion_mnist_300/train-images-idx3-ubyte.gz",
            CanaryKey::from_bytes([6; 32]),
            OPTIONS,
        );
        assert_eq!(plant.records.len(), 310);
        let found = check_records(
            &plant.manifest,
            plant.records.iter().cloned().map(Ok::<_, ()>),
            1,
        )
        .unwrap();
        assert_eq!(found.canaries_found, 10);
        // Positions are ids: every record's id is its place in the new file.
        for (position, record) in plant.records.iter().enumerate() {
            assert_eq!(record.id.as_str(), position.to_string());
        }
    }

    #[test]
    fn the_manifest_is_private_round_trips_and_detects_edits() {
        let plant = planted(
            "fortunes_3class.jsonl",
            CanaryKey::from_bytes([7; 32]),
            OPTIONS,
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("canaries.secret.json");
        plant.manifest.write(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(Manifest::read(&path).unwrap(), plant.manifest);
        assert!(matches!(
            plant.manifest.write(&path),
            Err(ManifestError::Write(_))
        ));
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json["planted"][0]["fields"]["text"] = "an edited canary text".into();
        let edited = dir.path().join("edited.json");
        std::fs::write(&edited, json.to_string()).unwrap();
        assert!(matches!(
            Manifest::read(&edited),
            Err(ManifestError::Tampered { .. })
        ));
    }

    #[test]
    fn inputs_mix_every_group_without_labels() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([8; 32]),
            OPTIONS,
        );
        let inputs = Inputs::of(&plant.manifest);
        assert_eq!(inputs.records.len(), 23);
        assert!(
            inputs
                .records
                .iter()
                .all(|(_, _, record)| record.label.is_none())
        );
        let first_ten: Vec<Group> = inputs
            .records
            .iter()
            .take(10)
            .map(|(group, _, _)| *group)
            .collect();
        assert!(
            first_ten.iter().any(|group| *group != Group::Planted),
            "{first_ten:?}"
        );
        assert_eq!(
            inputs.ids().get("input-00000").map(|(group, _)| *group),
            Some(inputs.records[0].0)
        );
    }

    #[test]
    fn a_model_that_repeats_the_planted_labels_is_caught_and_one_that_guesses_is_not() {
        let plant = planted(
            "fortunes_3class.csv",
            CanaryKey::from_bytes([9; 32]),
            PlantOptions {
                count: 30,
                held_out: 30,
                honeypots: 0,
            },
        );
        let manifest = &plant.manifest;
        let inputs = Inputs::of(manifest);
        let classes = &manifest.classes;
        let predict = |memorise: bool| -> Vec<Prediction> {
            inputs
                .records
                .iter()
                .enumerate()
                .map(|(position, (group, index, record))| {
                    let assigned = manifest.entries(*group)[*index].record.label.clone();
                    let label = if memorise && *group == Group::Planted {
                        assigned
                    } else {
                        // A model that never saw the record: a label fixed by its position.
                        Some(classes[position % classes.len()].clone())
                    };
                    Prediction {
                        id: record.id.to_string(),
                        label,
                        confidence: None,
                    }
                })
                .collect()
        };
        let memorised = check_predictions(manifest, &predict(true), 0.01).unwrap();
        assert_eq!(memorised.planted.outcome.assigned, 30);
        assert!(memorised.planted.memorised, "{memorised:?}");
        assert!(memorised.planted.exposure_bits > 10.0);
        let guessed = check_predictions(manifest, &predict(false), 0.01).unwrap();
        assert!(!guessed.planted.memorised, "{guessed:?}");
        assert!(!guessed.failed());
    }
}

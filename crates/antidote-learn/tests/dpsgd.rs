//! DP-SGD on real data: the Fashion-MNIST fixture (`fixtures/fashion_mnist_300`, the first 300
//! training images), private and not, the training watch on clean and BadNets-poisoned copies,
//! and the saved model's round trip.
//!
//! What the watch does not do at this size, measured here and in the exploration behind it:
//! `BadNets`' target class does not learn measurably faster than Fashion-MNIST's naturally easy
//! classes (trousers, sneakers) on 300 or 3,000 images, private or not, so the fast-class
//! finding does not name it; the test below records that honestly rather than asserting a
//! detection that does not happen.

use std::error::Error;
use std::path::{Path, PathBuf};

use antidote_core::NoProgress;
use antidote_data::{Dataset, ReadOptions, Record, Schema};
use antidote_learn::watch::{TrainingFindingKind, watch};
use antidote_learn::{
    DpSgd, DpSgdModel, DpSgdParams, Featurizer, LabelIndex, ModelError, Privacy, SavedModel,
    accuracy,
};
use antidote_redteam::attacks::badnets::BadNets;
use antidote_redteam::{Attack, InMemoryDataset};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fashion_mnist_300/train-images-idx3-ubyte.gz")
}

fn read() -> Result<(Schema, Vec<Record>), Box<dyn Error>> {
    let dataset = Dataset::open(&fixture(), &ReadOptions::default())?;
    let schema = dataset.schema().clone();
    let records = dataset.collect::<Result<Vec<_>, _>>()?;
    assert_eq!(records.len(), 300);
    Ok((schema, records))
}

fn train(
    schema: &Schema,
    records: &[Record],
    params: DpSgdParams,
) -> Result<(Featurizer, LabelIndex, DpSgdModel), Box<dyn Error>> {
    let featurizer = Featurizer::fit(records, schema)?;
    let classes = LabelIndex::from_records(records);
    let model = params.check()?.fit(
        &featurizer.transform(records)?,
        &classes.encode(records)?,
        classes.len(),
        &NoProgress,
    )?;
    Ok((featurizer, classes, model))
}

/// Trains on the first 240 records and returns the accuracy on the last 60.
fn held_out_accuracy(
    schema: &Schema,
    records: &[Record],
    params: DpSgdParams,
) -> Result<(f64, DpSgdModel), Box<dyn Error>> {
    let (training, test) = records.split_at(240);
    let (featurizer, classes, model) = train(schema, training, params)?;
    let probabilities = model.predict_proba(&featurizer.transform(test)?);
    let accuracy = accuracy(&probabilities, &classes.encode(test)?, classes.len());
    Ok((accuracy, model))
}

#[test]
#[expect(clippy::print_stdout, reason = "the test reports what it measured")]
fn private_training_beats_chance_and_plain_training_does_better() -> Result<(), Box<dyn Error>> {
    let (schema, records) = read()?;
    for (hidden, private_floor) in [(&[][..], 0.45), (&[64][..], 0.35)] {
        let (private, model) = held_out_accuracy(
            &schema,
            &records,
            DpSgd::params()
                .hidden_layers(hidden)
                .privacy(Privacy::TargetEpsilon(8.0)),
        )?;
        let record = model.record();
        assert!(record.epsilon.is_some_and(|epsilon| epsilon <= 8.0));
        assert_eq!(record.delta, Some(1e-5));
        let (plain, _) = held_out_accuracy(
            &schema,
            &records,
            DpSgd::params()
                .hidden_layers(hidden)
                .privacy(Privacy::NonPrivate),
        )?;
        println!(
            "hidden {hidden:?}: held-out accuracy {private:.3} at epsilon 8 (sigma {:.3}), {plain:.3} without privacy",
            record.noise_multiplier.unwrap_or_default()
        );
        // Ten classes: chance is 0.1.
        assert!(private > private_floor, "{hidden:?}: {private}");
        assert!(plain > private, "{hidden:?}: {plain} against {private}");
    }
    Ok(())
}

#[test]
fn the_watch_is_quiet_on_clean_data() -> Result<(), Box<dyn Error>> {
    let (schema, records) = read()?;
    for hidden in [&[][..], &[64][..]] {
        for privacy in [Privacy::TargetEpsilon(8.0), Privacy::NonPrivate] {
            let (_, classes, model) = train(
                &schema,
                &records,
                DpSgd::params().hidden_layers(hidden).privacy(privacy),
            )?;
            let findings = watch(&model.record().epochs_watched, classes.labels());
            assert!(findings.is_empty(), "{hidden:?} {privacy:?}: {findings:?}");
        }
    }
    Ok(())
}

#[test]
fn the_watch_does_not_single_out_a_badnets_target_at_this_size() -> Result<(), Box<dyn Error>> {
    let (schema, records) = read()?;
    let attack = BadNets::params().rate(0.1).target("6").check()?;
    let poisoned = attack
        .run(
            InMemoryDataset {
                schema: schema.clone(),
                records,
            },
            1,
        )?
        .dataset
        .records;
    let (_, classes, model) = train(
        &schema,
        &poisoned,
        DpSgd::params()
            .hidden_layers(&[64])
            .privacy(Privacy::NonPrivate),
    )?;
    let findings = watch(&model.record().epochs_watched, classes.labels());
    // The known limit (see the module's documentation): no fast-class finding names the
    // target. If this starts failing because the target *is* named, the watch got better:
    // turn this into a detection test.
    let target = classes.index("6");
    assert!(
        !findings.iter().any(
            |finding| finding.kind == TrainingFindingKind::FastClass && finding.class == target
        ),
        "{findings:?}"
    );
    // The curves it would read are there: every class was sampled in every epoch.
    assert!(
        model
            .record()
            .epochs_watched
            .iter()
            .all(|epoch| epoch.class_losses.iter().all(Option::is_some))
    );
    Ok(())
}

#[test]
fn a_saved_model_predicts_the_same_after_loading() -> Result<(), Box<dyn Error>> {
    let (schema, records) = read()?;
    let folder = tempfile::tempdir()?;
    for (name, hidden) in [("logistic", &[][..]), ("mlp", &[32, 16][..])] {
        let (featurizer, labels, model) = train(
            &schema,
            &records[..200],
            DpSgd::params().hidden_layers(hidden).epochs(3),
        )?;
        let saved = SavedModel {
            featurizer,
            labels,
            model,
            data_root: Some("abc123".to_owned()),
            findings: Vec::new(),
        };
        let path = folder.path().join(name);
        saved.save(&path)?;
        let loaded = SavedModel::load(&path)?;
        assert_eq!(loaded, saved);
        let before = saved.predict_proba(&records[200..])?;
        let after = loaded.predict_proba(&records[200..])?;
        assert_eq!(
            before.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            after.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        );
        // Saving never replaces a model.
        assert!(saved.save(&path).is_err());

        // Changed weights are refused.
        let weights = path.join(antidote_learn::WEIGHTS_FILE);
        let mut bytes = fs_err::read(&weights)?;
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs_err::write(&weights, bytes)?;
        let error = SavedModel::load(&path).unwrap_err();
        assert!(matches!(error, ModelError::Weights { .. }), "{error:?}");
        assert!(error.to_string().contains("SHA-256"), "{error}");
    }
    Ok(())
}

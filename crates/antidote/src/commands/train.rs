//! `antidote train`: train a built-in model, with DP-SGD on request, watch the training, and
//! save the model with its training record.

use antidote_core::display::{count, percent_tenths};
use antidote_core::{NoProgress, ProgressUnit, SplitMix64};
use antidote_data::output::OutputError;
use antidote_data::{Dataset, Record};
use antidote_learn::watch::{TrainingFinding, watch};
use antidote_learn::{
    DpSgd, DpSgdError, LabelIndex, ModelError, NetworkModel, Privacy, SavedModel, accuracy,
};
use antidote_provenance::hashing::sha256_file;
use antidote_provenance::merkle::records_root;
use antidote_provenance::model::{HashOptions, hash_model};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::{TrainAccountant, TrainArgs, TrainModel};
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Trains, evaluates, watches and saves.
///
/// # Panics
///
/// Never: every record trained or evaluated on has a label of the classes taken from them.
pub fn train(
    args: &TrainArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if !(0.0..1.0).contains(&args.holdout) {
        return Err(UserError::new(
            format!("`--holdout {}` is not a share below 1", args.holdout),
            "give the share of records to hold out, e.g. `--holdout 0.2`, or 0 for none",
        )
        .into());
    }
    if args.out.exists() {
        return Err(UserError::new(
            format!("`{}` already exists", args.out.display()),
            "antidote never overwrites a model: choose a new `--out` folder",
        )
        .into());
    }
    let params = params(args)?;

    let mut dataset = Dataset::open(&args.data, &args.dataset.read_options())
        .with_context(|| format!("failed to open the dataset `{}`", args.data.display()))?;
    let schema = dataset.schema().clone();
    let records = read_all(&mut dataset, printer)?;
    let labelled: Vec<&Record> = records.iter().filter(|r| r.label.is_some()).collect();
    let labels = LabelIndex::from_records(labelled.iter().copied());
    if labels.len() < 2 {
        return Err(UserError::new(
            format!(
                "`{}` has {} with a label, of {}: there is nothing to learn",
                args.data.display(),
                count(labelled.len(), "record"),
                count(labels.len(), "class")
            ),
            "train on labelled data with at least two classes; name the label column with `--label`",
        )
        .into());
    }
    let (training, held_out) = split(&labelled, args.holdout, args.seed);

    let featurizer = NetworkModel::featurizer_params(args.seed)
        .fit(training.iter().copied(), &schema)
        .context("failed to featurize the training records")?;
    let features = featurizer.transform(training.iter().copied())?;
    let encoded = labels
        .encode(training.iter().copied())
        .expect("every training record has a label of the classes taken from them");
    let progress = printer.progress();
    let model = params
        .fit(&features, &encoded, labels.len(), progress.as_ref())
        .map_err(|error| training_error(&error, training.len()))?;

    let held_out_accuracy = if held_out.is_empty() {
        None
    } else {
        let probabilities = model.predict_proba(&featurizer.transform(held_out.iter().copied())?);
        let truth = labels
            .encode(held_out.iter().copied())
            .expect("every held-out record has a label of the classes taken from them");
        Some(accuracy(&probabilities, &truth, labels.len()))
    };
    let findings = watch(&model.record().epochs_watched, labels.labels());
    let data_root = records_root(&records).to_string();
    let saved = SavedModel {
        featurizer,
        labels,
        model,
        data_root: Some(data_root.clone()),
        findings,
    };
    saved
        .save(&args.out)
        .map_err(|error| save_error(error, args))?;
    let weights_digest = sha256_file(&args.out.join(antidote_learn::WEIGHTS_FILE))
        .with_context(|| format!("failed to hash the model in `{}`", args.out.display()))?
        .sha256
        .to_string();
    // The digest `sign-model` signs and `gate` records: the link of the ledger's chain.
    let model_root = hash_model(&args.out, &HashOptions::default(), &NoProgress)
        .with_context(|| format!("failed to hash the model in `{}`", args.out.display()))?
        .root_digest()
        .to_string();
    let digests = Digests {
        weights: &weights_digest,
        model_root: &model_root,
    };

    let counts = Counts {
        records: records.len(),
        training: training.len(),
        held_out: held_out.len(),
    };
    if let Some(path) = &args.report {
        write_report(args, &saved, held_out_accuracy, path)?;
    }
    let summary = summary(args, &saved, digests, counts, held_out_accuracy);
    record_training(settings, printer, args, &saved, digests, held_out_accuracy);
    if printer.json {
        printer.out_json(&summary)?;
    } else {
        print_summary(printer, args, &saved, counts, held_out_accuracy);
    }
    Ok(if saved.findings.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// How many records were read, trained on and held out.
#[derive(Debug, Clone, Copy)]
struct Counts {
    records: usize,
    training: usize,
    held_out: usize,
}

/// The model's digests: its weights file's SHA-256 and its root digest (all files, as
/// `sign-model` and OpenSSF model signing compute it).
#[derive(Debug, Clone, Copy)]
struct Digests<'a> {
    weights: &'a str,
    model_root: &'a str,
}

/// What `--json` prints.
fn summary(
    args: &TrainArgs,
    saved: &SavedModel,
    digests: Digests<'_>,
    counts: Counts,
    held_out_accuracy: Option<f64>,
) -> serde_json::Value {
    let training_record = saved.model.record();
    json!({
        "model": args.out,
        "kind": model_name(args),
        "widths": saved.model.widths(),
        "data": args.data,
        "data_root": saved.data_root,
        "weights_sha256": digests.weights,
        "model_root": digests.model_root,
        "records": counts.records,
        "training_records": counts.training,
        "held_out_records": counts.held_out,
        "held_out_accuracy": held_out_accuracy,
        "epsilon": training_record.epsilon,
        "delta": training_record.delta,
        "noise_multiplier": training_record.noise_multiplier,
        "sampling_rate": training_record.sampling_rate,
        "steps": training_record.steps,
        "max_grad_norm": training_record.max_grad_norm,
        "findings": saved.findings,
    })
}

/// Appends the `train` event to the ledger: the model's digests, the data's root, the privacy.
fn record_training(
    settings: &Settings,
    printer: Printer,
    args: &TrainArgs,
    saved: &SavedModel,
    digests: Digests<'_>,
    held_out_accuracy: Option<f64>,
) {
    let training_record = saved.model.record();
    record(
        settings,
        printer,
        "train",
        &args.data.display().to_string(),
        if saved.findings.is_empty() {
            "ok"
        } else {
            "findings"
        },
        json!({
            "model": args.out,
            "model_digest": digests.weights,
            "model_root": digests.model_root,
            "data_root": saved.data_root,
            "epsilon": training_record.epsilon,
            "delta": training_record.delta,
            "noise_multiplier": training_record.noise_multiplier,
            "steps": training_record.steps,
            "held_out_accuracy": held_out_accuracy,
            "findings": saved.findings.len(),
        }),
    );
}

/// The DP-SGD parameters the arguments ask for.
fn params(args: &TrainArgs) -> anyhow::Result<antidote_learn::DpSgdValidParams> {
    let privacy = match (args.dp, args.noise_multiplier, args.epsilon) {
        (false, _, _) => Privacy::NonPrivate,
        (true, Some(sigma), _) => Privacy::NoiseMultiplier(sigma),
        (true, None, epsilon) => Privacy::TargetEpsilon(epsilon.unwrap_or(8.0)),
    };
    let mut params = DpSgd::params()
        .privacy(privacy)
        .accountant(match args.accountant {
            TrainAccountant::Rdp => antidote_learn::privacy::Accountant::Rdp,
            TrainAccountant::Prv => antidote_learn::privacy::Accountant::Prv,
        })
        .epochs(args.epochs)
        .batch_size(args.batch_size)
        .max_grad_norm(args.max_grad_norm)
        .seed(args.seed);
    if args.model == TrainModel::Mlp {
        params = params.hidden_layers(&args.hidden_layers);
    }
    if let Some(rate) = args.learning_rate {
        params = params.learning_rate(rate);
    }
    if let Some(delta) = args.delta {
        params = params.delta(delta);
    }
    params.check().map_err(|error| {
        UserError::new(
            error.to_string(),
            "see `antidote train --help` for what each option takes",
        )
        .into()
    })
}

fn model_name(args: &TrainArgs) -> &'static str {
    match args.model {
        TrainModel::Logistic => "logistic",
        TrainModel::Mlp => "mlp",
    }
}

fn read_all(dataset: &mut Dataset, printer: Printer) -> anyhow::Result<Vec<Record>> {
    let progress = printer.progress();
    progress.start("load", None, ProgressUnit::Records);
    let mut records = Vec::new();
    let mut batch = Vec::new();
    while dataset.next_batch(4096, &mut batch)? > 0 {
        progress.advance(batch.len() as u64);
        records.append(&mut batch);
    }
    progress.finish();
    Ok(records)
}

/// A seeded split: `share` of the records held out (at least one when the share is above 0 and
/// at least two records remain for training), the rest for training, each in dataset order.
fn split<'a>(records: &[&'a Record], share: f64, seed: u64) -> (Vec<&'a Record>, Vec<&'a Record>) {
    let mut order: Vec<usize> = (0..records.len()).collect();
    SplitMix64::derived(seed, "train-holdout").shuffle(&mut order);
    let wanted = (share * records.len() as f64).round() as usize;
    let held = if share > 0.0 { wanted.max(1) } else { 0 }.min(records.len().saturating_sub(2));
    let mut is_held = vec![false; records.len()];
    for &index in &order[..held] {
        is_held[index] = true;
    }
    let (mut training, mut held_out) = (Vec::new(), Vec::new());
    for (record, held) in records.iter().zip(is_held) {
        if held {
            held_out.push(*record);
        } else {
            training.push(*record);
        }
    }
    (training, held_out)
}

/// A training error, with what to change.
fn training_error(error: &DpSgdError, records: usize) -> anyhow::Error {
    let hint = match error {
        DpSgdError::Budget(_) => format!(
            "no noise is enough for this budget: raise `--epsilon`, train fewer `--epochs`, or use a smaller `--batch-size` (each record is then seen less often); {records} records train"
        ),
        DpSgdError::BatchLargerThanData { .. } => {
            "give a `--batch-size` below the number of training records".to_owned()
        }
        DpSgdError::DeltaTooLarge { .. } => {
            format!("give a `--delta` well below 1/{records}, or leave it out for the default")
        }
        DpSgdError::Fit(_) => return anyhow::Error::new(error.clone()).context("training failed"),
    };
    UserError::new(antidote_core::error_chain(error), hint).into()
}

fn save_error(error: ModelError, args: &TrainArgs) -> anyhow::Error {
    if let ModelError::Output(OutputError::Exists { .. }) = error {
        return UserError::new(
            format!("`{}` already exists", args.out.display()),
            "antidote never overwrites a model: choose a new `--out` folder",
        )
        .into();
    }
    anyhow::Error::new(error).context(format!(
        "failed to save the model to `{}`",
        args.out.display()
    ))
}

fn print_summary(
    printer: Printer,
    args: &TrainArgs,
    saved: &SavedModel,
    counts: Counts,
    held_out_accuracy: Option<f64>,
) {
    let record = saved.model.record();
    printer.out(&format!(
        "trained `{}` on {} of `{}` ({}), {} epochs, {} steps",
        model_name(args),
        count(counts.training, "record"),
        args.data.display(),
        count(saved.labels.len(), "class"),
        record.epochs,
        record.steps
    ));
    match (record.epsilon, record.delta, record.noise_multiplier) {
        (Some(epsilon), Some(delta), Some(sigma)) => printer.out(&format!(
            "privacy: epsilon {epsilon:.3} at delta {delta:e} (noise multiplier {sigma:.4}, sampling rate {:.4}, clipping norm {}, {} accountant)",
            record.sampling_rate,
            record.max_grad_norm.unwrap_or_default(),
            record.accountant.to_uppercase()
        )),
        _ => printer.out("privacy: none (trained without `--dp`)"),
    }
    if let Some(accuracy) = held_out_accuracy {
        printer.out(&format!(
            "held-out accuracy: {} on {}",
            percent_tenths(accuracy),
            count(counts.held_out, "record")
        ));
    }
    if let Some(last) = record.epochs_watched.last() {
        printer.out(&format!(
            "last epoch: loss {:.3}, mean gradient norm {:.3}, {} of records clipped",
            last.loss,
            last.mean_gradient_norm,
            percent_tenths(last.clipped_share)
        ));
    }
    if saved.findings.is_empty() {
        printer.out("training watch: no finding (loss curve and per-class losses look ordinary)");
    } else {
        printer.out(&format!(
            "training watch: {}",
            printer.style(&count(saved.findings.len(), "finding"), Style::Bad)
        ));
        for finding in &saved.findings {
            print_finding(printer, finding);
        }
    }
    printer.note(&format!(
        "wrote `{}` ({} and {})",
        args.out.display(),
        antidote_learn::WEIGHTS_FILE,
        antidote_learn::METADATA_FILE
    ));
    if let Some(path) = &args.report {
        printer.note(&format!("wrote the report `{}`", path.display()));
    }
}

/// The HTML report of the run: the watch's findings, the curves it read, the privacy spent.
fn write_report(
    args: &TrainArgs,
    saved: &SavedModel,
    held_out_accuracy: Option<f64>,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let data = args.data.display().to_string();
    let document = antidote_learn::page::document(
        &antidote_learn::page::PageInput {
            model: model_name(args),
            data: &data,
            record: saved.model.record(),
            labels: saved.labels.labels(),
            findings: &saved.findings,
            held_out_accuracy,
        },
        super::provenance_of(&[("data", &args.data)])?,
    );
    let html = antidote_report::render_html(&document);
    let context = || format!("failed to write the report `{}`", path.display());
    let mut file = antidote_data::output::AtomicFile::create(path).with_context(context)?;
    std::io::Write::write_all(&mut file, html.as_bytes()).with_context(context)?;
    file.commit().with_context(context)?;
    Ok(())
}

fn print_finding(printer: Printer, finding: &TrainingFinding) {
    printer.out(&format!("  - {}", finding.message));
    printer.out(&format!("    why: {}", finding.explanation));
}

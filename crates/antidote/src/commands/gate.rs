//! `antidote gate`: decide whether a trained model may ship.

use std::path::Path;
use std::time::Duration;

use antidote_core::display::percent;
use antidote_data::{Dataset, Record, Schema};
use antidote_gate::{
    GateError, GateInputs, GateReport, GateTrigger, HttpOptions, ModelInfo, PredictError,
    Predictor, open_predictor, page, read_listed_triggers, read_scan_triggers,
};
use antidote_learn::LabelIndex;
use antidote_provenance::ledger::Ledger;
use anyhow::Context;
use serde_json::json;

use super::{provenance_of, record};
use crate::cli::GateArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Runs the gate, or prints the rollback target.
#[expect(
    clippy::too_many_lines,
    reason = "one straight sequence: read, run, write, record, print"
)]
pub fn gate(args: &GateArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    if args.rollback_target {
        return rollback_target(settings, printer);
    }
    let (Some(model), Some(golden_path)) = (&args.model, &args.golden) else {
        return Err(UserError::new(
            "`antidote gate` needs a model and `--golden`",
            "`antidote gate model.onnx --golden golden.csv`",
        )
        .into());
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(UserError::new(
            format!("`--timeout {}` is not a number of seconds", args.timeout),
            "give a positive number of seconds, such as `--timeout 2.5`",
        )
        .into());
    }
    let (golden, schema) = read_labelled(golden_path, args, "golden set")?;
    let classes = if args.classes.is_empty() {
        LabelIndex::from_records(&golden).labels().to_vec()
    } else {
        args.classes.clone()
    };
    let candidate = predictor(model, &classes, args)?;
    let baseline = args
        .baseline_model
        .as_deref()
        .map(|location| predictor(location, &classes, args))
        .transpose()?;
    let retrains = args
        .baseline_retrain
        .iter()
        .map(|location| predictor(location, &classes, args))
        .collect::<Result<Vec<_>, _>>()?;
    let mut triggers: Vec<GateTrigger> = Vec::new();
    if let Some(path) = &args.triggers {
        triggers.extend(read_scan_triggers(path).map_err(|error| trigger_error(&error))?);
    }
    for path in &args.trigger {
        triggers.extend(read_listed_triggers(path).map_err(|error| trigger_error(&error))?);
    }
    let canaries = args
        .canaries
        .as_deref()
        .map(|path| read_labelled(path, args, "canary file").map(|(records, _)| records))
        .transpose()?;
    let shadow = match (&args.shadow, &baseline) {
        (Some(path), Some(_)) => Some(read_records(path, args)?.0),
        (Some(_), None) => {
            return Err(UserError::new(
                "`--shadow` compares the candidate with the serving model, and none was given",
                "name the model in production with `--baseline-model`",
            )
            .into());
        }
        (None, _) => None,
    };
    let payload = schema.payload_column().map(|(name, _)| name.to_owned());
    if !triggers.is_empty() && payload.is_none() {
        printer
            .warn("the golden set has no image or text column, so no trigger can be stamped on it");
    }
    let thresholds = settings.config.gate.clone();
    let inputs = GateInputs {
        candidate: candidate.as_ref(),
        model: model_info(model)?,
        baseline: match (&baseline, &args.baseline_model) {
            (Some(predictor), Some(location)) => Some((predictor.as_ref(), model_info(location)?)),
            _ => None,
        },
        retrains: retrains
            .iter()
            .zip(&args.baseline_retrain)
            .map(|(predictor, location)| {
                let predictor: &dyn antidote_gate::Predictor = predictor.as_ref();
                Ok((predictor, model_info(location)?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        golden_path,
        golden: &golden,
        classes: &classes,
        payload: payload.as_deref(),
        triggers: &triggers,
        canaries: canaries.as_deref(),
        shadow: shadow.as_deref(),
        thresholds: &thresholds,
    };
    let report = antidote_gate::evaluate(&inputs).map_err(|error| gate_error(error, model))?;

    fs_err::create_dir_all(&args.out)?;
    let gate_path = args.out.join("gate.json");
    report
        .write(&gate_path)
        .with_context(|| format!("failed to write `{}`", gate_path.display()))?;
    let report_path = args
        .report
        .as_ref()
        .map(|path| path.clone().unwrap_or_else(|| args.out.join("report.html")));
    if let Some(path) = &report_path {
        write_page(&report, &golden, payload.as_deref(), &triggers, args, path)?;
    }
    let outcome = if report.passed() { "passed" } else { "failed" };
    record(
        settings,
        printer,
        "gate",
        &format!(
            "{}{}",
            report.model.location,
            report
                .model
                .root_digest
                .as_deref()
                .or(report.model.sha256.as_deref())
                .map_or_else(String::new, |digest| format!(" {}", short(digest)))
        ),
        outcome,
        json!({
            "model": report.model.location,
            "sha256": report.model.sha256,
            "model_root": report.model.root_digest,
            "baseline": report.baseline.as_ref().map(|baseline| &baseline.location),
            "golden": golden_path,
            "verdict": report.verdict,
            "reasons": report.reasons,
            "accuracy": report.accuracy.accuracy,
            "gate_json": gate_path,
        }),
    );
    if printer.json {
        printer.out_json(&report)?;
    } else {
        print_summary(&report, printer);
        printer.note(&format!("decision: `{}`", gate_path.display()));
        if let Some(path) = &report_path {
            printer.note(&format!("report: `{}`", path.display()));
        }
    }
    Ok(ExitStatus::from_passed(report.passed()))
}

/// `sha256:0123456789ab` from a full digest.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// The last model whose gate passed, from the ledger.
fn rollback_target(settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let Some(path) = settings.ledger.clone() else {
        return Err(UserError::new(
            "`--no-ledger` leaves no ledger to read the rollback target from",
            "drop `--no-ledger`",
        )
        .into());
    };
    let events = if path.is_file() {
        Ledger::open(&path)?.events()?
    } else {
        Vec::new()
    };
    let last = events
        .iter()
        .rev()
        .find(|event| event.kind == "gate" && event.outcome == "passed");
    let Some(event) = last else {
        printer.note(&format!(
            "no model has passed the gate in the ledger `{}`",
            path.display()
        ));
        return Ok(ExitStatus::Failure);
    };
    let model = event.details["model"].as_str().unwrap_or(&event.subject);
    let sha256 = event.details["sha256"].as_str();
    if printer.json {
        printer.out_json(&json!({
            "model": model,
            "sha256": sha256,
            "seq": event.seq,
            "time": event.time,
        }))?;
    } else {
        printer.out(model);
        printer.note(&format!(
            "passed the gate at {} (ledger event {}){}",
            event.time,
            event.seq,
            sha256.map_or_else(String::new, |digest| format!(", {digest}"))
        ));
    }
    Ok(ExitStatus::Success)
}

/// Reads a dataset whole.
fn read_records(path: &Path, args: &GateArgs) -> anyhow::Result<(Vec<Record>, Schema)> {
    if !path.exists() {
        return Err(UserError::new(
            format!("`{}` does not exist", path.display()),
            "check the path",
        )
        .into());
    }
    let mut dataset = Dataset::open(path, &args.dataset.read_options())
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    let schema = dataset.schema().clone();
    let records = dataset
        .by_ref()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    Ok((records, schema))
}

/// Reads a dataset whose every record must be labelled.
fn read_labelled(
    path: &Path,
    args: &GateArgs,
    what: &str,
) -> anyhow::Result<(Vec<Record>, Schema)> {
    let (records, schema) = read_records(path, args)?;
    if records.is_empty() {
        return Err(UserError::new(
            format!("the {what} `{}` has no records", path.display()),
            "give it at least one labelled record",
        )
        .into());
    }
    if let Some(record) = records.iter().find(|record| record.label.is_none()) {
        return Err(UserError::new(
            format!(
                "record `{}` of the {what} `{}` has no label",
                record.id,
                path.display()
            ),
            "every record needs a label (the output the model must give); name the column with `--label`",
        )
        .into());
    }
    Ok((records, schema))
}

/// The model at `location`, opened by the library's one opener.
fn predictor(
    location: &str,
    classes: &[String],
    args: &GateArgs,
) -> anyhow::Result<Box<dyn Predictor + Send + Sync>> {
    let options = HttpOptions {
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        ca_cert: args.ca_cert.clone(),
        ..HttpOptions::default()
    };
    open_predictor(location, classes, &options).map_err(|error| predict_error(&error))
}

fn model_info(location: &str) -> anyhow::Result<ModelInfo> {
    ModelInfo::of(location).map_err(|error| predict_error(&error))
}

fn predict_error(error: &PredictError) -> anyhow::Error {
    let hint = match error {
        PredictError::Load { .. } => {
            "`antidote gate` reads ONNX files, model folders of `antidote train` and `http(s)://` endpoints"
        }
        PredictError::Missing { .. } => {
            "name an ONNX file, a model folder of `antidote train`, or an `http://` or `https://` endpoint"
        }
        PredictError::Certificate { .. } => {
            "`--ca-cert` takes a PEM file of the certificate authority that issued the endpoint's certificate"
        }
        PredictError::Unsupported { .. } => {
            "see `antidote gate --help` for the models the gate runs; gate other models through an `http://` endpoint"
        }
        PredictError::Input { .. } => {
            "images are fed as pixels scaled to [0, 1], other data as its numeric columns in order (see `antidote gate --help`)"
        }
        PredictError::Run { .. } | PredictError::Http { .. } | PredictError::Response { .. } => {
            "check that the model or the endpoint works on its own"
        }
    };
    UserError::new(antidote_core::error_chain(error), hint).into()
}

fn trigger_error(error: &GateError) -> anyhow::Error {
    UserError::new(
        antidote_core::error_chain(error),
        "`--triggers` takes the `summary.json` of `antidote scan`; `--trigger` a JSON `{\"trigger\": ..., \"target\": ...}` (a red-team `truth.json`) or a list of them",
    )
    .into()
}

fn gate_error(error: GateError, model: &str) -> anyhow::Error {
    match error {
        GateError::Predict(error) => predict_error(&error),
        GateError::Golden { .. } => UserError::new(
            error.to_string(),
            "the golden set is labelled data the model was not trained on",
        )
        .into(),
        other => anyhow::Error::new(other).context(format!("failed to gate `{model}`")),
    }
}

fn write_page(
    report: &GateReport,
    golden: &[Record],
    payload: Option<&str>,
    triggers: &[GateTrigger],
    args: &GateArgs,
    path: &Path,
) -> anyhow::Result<()> {
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if let (Some(model), true) = (&args.model, report.model.root_digest.is_some()) {
        inputs.push(("model", Path::new(model)));
    }
    if let Some(golden) = &args.golden {
        inputs.push(("golden set", golden));
    }
    if let Some(baseline) = &args.baseline_model
        && Path::new(baseline).is_file()
    {
        inputs.push(("baseline model", Path::new(baseline)));
    }
    let document = page::document(
        &page::PageInput {
            report,
            golden,
            payload,
            triggers,
        },
        provenance_of(&inputs)?,
    );
    let html = antidote_report::render_html(&document);
    let mut file = antidote_data::output::AtomicFile::create(path)
        .with_context(|| format!("failed to write the report `{}`", path.display()))?;
    std::io::Write::write_all(&mut file, html.as_bytes())
        .with_context(|| format!("failed to write the report `{}`", path.display()))?;
    file.commit()
        .with_context(|| format!("failed to write the report `{}`", path.display()))?;
    Ok(())
}

fn print_summary(report: &GateReport, printer: Printer) {
    let verdict = if report.passed() {
        printer.style("PASSED", Style::Good)
    } else {
        printer.style("FAILED", Style::Bad)
    };
    printer.out(&format!("gate `{}`: {verdict}", report.model.location));
    let accuracy = &report.accuracy;
    printer.out(&format!(
        "  accuracy      {} on {} golden records{}",
        percent(accuracy.accuracy),
        accuracy.records,
        match (accuracy.baseline, accuracy.delta) {
            (Some(baseline), Some(delta)) => format!(
                " (baseline {}, {:+.1} points)",
                percent(baseline),
                delta * 100.0
            ),
            _ => String::new(),
        }
    ));
    for check in &report.triggers {
        let status = match &check.skipped {
            Some(reason) => format!("not measured: {reason}"),
            None => format!(
                "attack success {} ({} of {}, interval {} to {}){}",
                percent(check.attack_success),
                check.flipped,
                check.stamped,
                percent(check.interval.low),
                percent(check.interval.high),
                if check.failed { " FAILED" } else { "" }
            ),
        };
        printer.out(&format!(
            "  trigger       {} -> `{}`: {status}",
            check.description, check.target
        ));
    }
    if let Some(canaries) = &report.canaries {
        printer.out(&format!(
            "  canaries      {} of {} changed",
            canaries.changed, canaries.canaries
        ));
    }
    if let Some(shadow) = &report.shadow {
        printer.out(&format!(
            "  shadow        candidate and serving model disagree on {} of {} inputs ({})",
            shadow.disagreements,
            shadow.records,
            percent(shadow.share)
        ));
    }
    for reason in &report.reasons {
        printer.out(&format!("  - {reason}"));
    }
}

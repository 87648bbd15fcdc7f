//! `antidote canary`: plant canary and honeypot records, find them in datasets and in a model's
//! predictions, and export the inputs a model is asked about.

use std::path::{Path, PathBuf};

use antidote_canary::{
    CanaryKey, DatasetCheck, Group, GroupOutcome, Inputs, Manifest, ManifestError,
    MemorisationCheck, PlantOptions, PlantedDataset, Prediction, check_predictions, check_records,
    plant,
};
use antidote_core::display::{list_some, percent, plural};
use antidote_data::writers::DatasetWriter;
use antidote_data::{Dataset, Format, ReadOptions, Record, Schema};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::record;
use crate::cli::DatasetArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// How many found ids the text output lists.
const SHOWN_IDS: usize = 10;

/// The long help of `antidote canary`.
pub const CANARY_ABOUT: &str = "Plant canary and honeypot records, and find them later in \
datasets and in a model's predictions.

A canary is a record added to your dataset that looks like its own records (text spliced from \
the dataset's own texts, images mosaicked from quadrants of its own images, numbers within the \
observed ranges, ids that continue its numbering) and has a label drawn at random. Only the \
secret key in the manifest recognises it: an HMAC-SHA256 of its canonical content, so it is found \
again after conversion between CSV, JSON Lines and Parquet, shuffling, subsetting, new ids or new \
labels. Lossy changes hide it: JPEG re-encoding, resizing, edited text, rounded numbers.

A honeypot is made the same way but written to a separate file that your own pipeline never \
trains on: publish it where scrapers look, or keep it where only an intruder would read it. \
Finding one, in a dataset or in a model's answers, shows someone took data from where they \
should not have.

The manifest (`--manifest`) holds the key and every canary: keep it like a private key. It is \
written readable by you only (0600) and never printed.";

/// The examples of `antidote canary`.
pub const CANARY_EXAMPLES: &str = "Examples:
  antidote canary plant train.csv --count 20 -o train.canaries.csv --manifest canaries.secret.json
  antidote canary plant train.csv --count 20 -o out.csv --manifest m.json --honeypots 5 --honeypot-out bait.csv
  antidote canary check suspect.jsonl --manifest canaries.secret.json     # was my data copied?
  antidote canary inputs --manifest canaries.secret.json -o canary-inputs.csv
  antidote canary check --manifest canaries.secret.json --predictions preds.csv   # memorised?";

/// `antidote canary`.
#[derive(Debug, Args)]
pub struct CanaryArgs {
    #[command(subcommand)]
    pub command: CanaryCommand,
}

/// The canary subcommands.
#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Write a copy of a dataset with canary records among its own, and a secret manifest
    #[command(long_about = PLANT_ABOUT, after_help = PLANT_EXAMPLES)]
    Plant(PlantArgs),
    /// Find canaries and honeypots in a dataset, or test a model's predictions for memorisation
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Export the canary inputs (planted, held-out, honeypots; mixed, unlabelled) for a model
    #[command(long_about = INPUTS_ABOUT, after_help = INPUTS_EXAMPLES)]
    Inputs(InputsArgs),
}

const PLANT_ABOUT: &str = "Write a copy of a dataset with canary records among its own, and a \
secret manifest.

The copy is written in the input's format (CSV, JSON Lines, IDX, image folders; not Parquet) to \
`-o OUT`; the input is never modified and nothing is overwritten. The canaries go to random \
places. When the dataset's ids are record positions (IDX, files without an id column), the \
records after the first canary move down accordingly.

Besides the planted canaries, as many held-out canaries are made the same way (`--held-out`) and \
kept only in the manifest: `canary check --predictions` compares how often a model gives the \
planted canaries their labels with how often it gives the held-out ones theirs.

`--honeypots M --honeypot-out FILE` also writes M honeypot records, in the same format, to their \
own file: bait that your training never reads.

The manifest is committed first, then the honeypots, then the copy; the copy is then read back \
and every canary must be found in it. The run is recorded in the ledger without any secret.";

const PLANT_EXAMPLES: &str = "Examples:
  antidote canary plant train.csv --count 20 -o train.canaries.csv --manifest canaries.secret.json
  antidote canary plant data/train-images-idx3-ubyte.gz --count 30 -o planted/train-images-idx3-ubyte.gz --manifest m.secret.json
  antidote canary plant reviews.jsonl --count 20 -o out.jsonl --manifest m.secret.json --honeypots 5 --honeypot-out bait.jsonl";

/// `antidote canary plant`.
#[derive(Debug, Args)]
pub struct PlantArgs {
    /// The dataset to plant canaries in (it is never modified)
    #[arg(value_name = "DATA")]
    pub data: PathBuf,

    /// How many canaries to plant
    ///
    /// A few dozen are enough to recognise a copy and to test memorisation: a copy of a share s
    /// of the data holds about s times this many.
    #[arg(long, value_name = "N")]
    pub count: usize,

    /// How many held-out canaries to keep in the manifest [default: the count]
    #[arg(long, value_name = "N")]
    pub held_out: Option<usize>,

    /// Where to write the copy with the canaries, in the input's format
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Where to write the secret manifest (a new file, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,

    /// How many honeypot records to write to `--honeypot-out`
    #[arg(long, value_name = "M", default_value_t = 0, requires = "honeypot_out")]
    pub honeypots: usize,

    /// Where to write the honeypots, in the input's format: bait your training never reads
    #[arg(long, value_name = "FILE", requires = "honeypots")]
    pub honeypot_out: Option<PathBuf>,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

const CHECK_ABOUT: &str = "Find canaries and honeypots in a dataset, or test a model's \
predictions for memorisation.

With DATA: every record's keyed tags are compared with the manifest's, in any format and order. \
A record is found by its whole content, or by its text or image alone (other columns dropped or \
renamed). A tag is a 256-bit HMAC: it does not match by chance, so one found canary proves the \
record came from your planted copy, and the share of canaries found estimates the share of the \
copy that was taken. Exits 1 when any honeypot or held-out canary is found, or when at least \
`--min-found` canaries are found (default 1); exits 0 when fewer are found. Raise `--min-found` \
when single records of your data are quoted legitimately.

With `--predictions FILE` (and no DATA): the model's predictions on the canary inputs (see \
`antidote canary inputs`), a CSV or JSON Lines file with the input `id`, the predicted label in \
`prediction` (or `label`) and optionally `confidence`. The labels of canaries are random, so a \
model that never saw them gives their label about as often as it gives the held-out canaries \
theirs. The planted canaries are compared with the held-out ones by a one-sided Fisher exact \
test; the p-value is reported with its exposure, -log2(p) in bits (10 bits: a 1 in 1,024 chance \
without memorisation). Exits 1 when p < `--alpha` for the planted canaries (the model memorises \
its training records, and was trained on the planted copy) or for the honeypots (it was trained \
on the bait).";

const CHECK_EXAMPLES: &str = "Examples:
  antidote canary check suspect.jsonl --manifest canaries.secret.json
  antidote canary check scraped.parquet --manifest canaries.secret.json --min-found 3 --json
  antidote canary check --manifest canaries.secret.json --predictions preds.csv";

/// `antidote canary check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The dataset to look for canaries and honeypots in
    #[arg(value_name = "DATA", required_unless_present = "predictions")]
    pub data: Option<PathBuf>,

    /// The secret manifest written by `antidote canary plant`
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,

    /// A model's predictions on the canary inputs (CSV or JSON Lines: `id`, `prediction`, `confidence`)
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub predictions: Option<PathBuf>,

    /// The fewest canaries found that signal a copy
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_found: usize,

    /// The significance level of the memorisation test
    #[arg(long, value_name = "P", default_value_t = 0.01)]
    pub alpha: f64,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

const INPUTS_ABOUT: &str = "Export the canary inputs a model is asked about.

Writes the planted canaries, the held-out canaries and the honeypots, mixed in an order fixed by \
the manifest, without labels, in the dataset's format, under neutral ids (`input-00000`, ...; for \
IDX the positions, whose labels file holds a placeholder 0 for every record). Run your model on \
this file and write its predictions with the same ids, then `antidote canary check --predictions`.";

const INPUTS_EXAMPLES: &str = "Examples:
  antidote canary inputs --manifest canaries.secret.json -o canary-inputs.csv
  python predict.py canary-inputs.csv > preds.csv    # columns: id,prediction[,confidence]
  antidote canary check --manifest canaries.secret.json --predictions preds.csv";

/// `antidote canary inputs`.
#[derive(Debug, Args)]
pub struct InputsArgs {
    /// The secret manifest written by `antidote canary plant`
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,

    /// Where to write the inputs, in the dataset's format (a new file)
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// Runs `antidote canary`.
pub fn canary(
    args: &CanaryArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    match &args.command {
        CanaryCommand::Plant(args) => plant_command(args, settings, printer),
        CanaryCommand::Check(args) => check_command(args, settings, printer),
        CanaryCommand::Inputs(args) => inputs_command(args, printer),
    }
}

fn refuse_existing(paths: &[&Path]) -> anyhow::Result<()> {
    for path in paths {
        if path.exists() {
            return Err(UserError::new(
                format!(
                    "`{}` already exists; antidote never overwrites data",
                    path.display()
                ),
                "choose another name, or remove the old file first",
            )
            .into());
        }
    }
    Ok(())
}

/// Refuses an output whose name does not say the format the records are written in.
fn check_output_name(path: &Path, format: Format) -> anyhow::Result<()> {
    let detected = Format::detect(path);
    let (fits, wanted) = match format {
        Format::Csv => (detected == Some(Format::Csv), "end the name with `.csv`"),
        Format::Jsonl | Format::Instruction => (
            detected == Some(Format::Jsonl),
            "end the name with `.jsonl`",
        ),
        Format::Idx => (
            detected == Some(Format::Idx),
            "name it like an IDX images file, e.g. `planted/train-images-idx3-ubyte.gz`",
        ),
        Format::ImageFolder | Format::Parquet => (true, ""),
    };
    if fits {
        Ok(())
    } else {
        Err(UserError::new(
            format!(
                "`{}` does not name a {format} file, the format the records are written in",
                path.display()
            ),
            wanted,
        )
        .into())
    }
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    Manifest::read(path).map_err(|error| {
        let hint = match &error {
            ManifestError::Read { .. } => {
                "create one with `antidote canary plant DATA --count N -o OUT --manifest FILE`"
            }
            ManifestError::Invalid { .. } => {
                "pass the manifest that `antidote canary plant --manifest` wrote"
            }
            ManifestError::Tampered { .. } => "restore the manifest from your backup",
            ManifestError::Write(_) => return anyhow::Error::from(error),
        };
        UserError::new(error.to_string(), hint).into()
    })
}

/// Refuses what cannot be planted before anything is read.
fn check_plant_args(args: &PlantArgs, read_options: &ReadOptions) -> anyhow::Result<()> {
    if args.count == 0 {
        return Err(UserError::new(
            "`--count` must be at least 1",
            "plant a few dozen canaries, e.g. `--count 20`",
        )
        .into());
    }
    if read_options.format.or_else(|| Format::detect(&args.data)) == Some(Format::Parquet) {
        return Err(UserError::new(
            format!(
                "cannot write a copy of `{}` with canaries: writing Parquet is not supported yet",
                args.data.display()
            ),
            "plant canaries in a CSV or JSON Lines export of it; `canary check` reads Parquet copies",
        )
        .into());
    }
    Ok(())
}

fn plant_command(
    args: &PlantArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let read_options = args.dataset.read_options();
    check_plant_args(args, &read_options)?;
    let mut outputs = vec![args.output.as_path(), args.manifest.as_path()];
    outputs.extend(args.honeypot_out.as_deref());
    refuse_existing(&outputs)?;

    let mut dataset = Dataset::open(&args.data, &read_options)
        .with_context(|| format!("failed to open the dataset `{}`", args.data.display()))?;
    let (format, schema, positions) = (
        dataset.format(),
        dataset.schema().clone(),
        dataset.ids_are_positions(),
    );
    check_output_name(&args.output, format)?;
    if let Some(path) = &args.honeypot_out {
        check_output_name(path, format)?;
    }
    let records: Vec<Record> = dataset
        .by_ref()
        .collect::<Result<_, _>>()
        .with_context(|| format!("failed to read the dataset `{}`", args.data.display()))?;
    if dataset.skipped() > 0 {
        printer.warn(&format!(
            "skipped {} in `{}` (`--skip-bad`); the copy leaves them out",
            plural(dataset.skipped(), "malformed record"),
            args.data.display()
        ));
    }
    let options = PlantOptions {
        count: args.count,
        held_out: args.held_out.unwrap_or(args.count),
        honeypots: args.honeypots,
    };
    let described = PlantedDataset {
        input: args.data.display().to_string(),
        output: args.output.display().to_string(),
        honeypot_output: args
            .honeypot_out
            .as_ref()
            .map(|path| path.display().to_string()),
        format,
        schema: schema.clone(),
        input_records: records.len(),
        ids_are_positions: positions,
    };
    let planted = plant(
        records,
        &schema,
        format,
        positions,
        CanaryKey::random(),
        options,
        described,
    )
    .map_err(|error| {
        UserError::new(
            error.to_string(),
            "plant canaries in a dataset whose records have text, images or other columns to vary",
        )
    })?;

    // The manifest lands first: a copy whose canaries nobody can recognise is worse than a
    // manifest without its copy.
    planted
        .manifest
        .write(&args.manifest)
        .with_context(|| format!("failed to write the manifest `{}`", args.manifest.display()))?;
    if let Some(path) = &args.honeypot_out {
        write_records(path, format, &schema, &planted.honeypots)?;
    }
    write_records(&args.output, format, &schema, &planted.records)?;

    confirm_written(&args.output, &read_options, &planted.manifest, args.count)?;
    record(
        settings,
        printer,
        "canary-plant",
        &args.output.display().to_string(),
        "ok",
        json!({
            "input": args.data,
            "canaries": args.count,
            "held_out": options.held_out,
            "honeypots": args.honeypots,
            "honeypot_output": args.honeypot_out,
            "manifest": args.manifest,
            "records": planted.records.len(),
        }),
    );

    print_plant(args, &planted, options, printer)
}

fn print_plant(
    args: &PlantArgs,
    planted: &antidote_canary::Plant,
    options: PlantOptions,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if printer.json {
        printer.out_json(&json!({
            "data": args.data,
            "output": args.output,
            "manifest": args.manifest,
            "honeypot_output": args.honeypot_out,
            "records": planted.records.len(),
            "canaries": args.count,
            "held_out": options.held_out,
            "honeypots": args.honeypots,
            "classes": planted.manifest.classes,
        }))?;
        return Ok(ExitStatus::Success);
    }
    printer.out(&format!(
        "planted {} in `{}` ({}, {}); {} held out in the manifest",
        plural(args.count as u64, "canary"),
        args.output.display(),
        plural(planted.records.len() as u64, "record"),
        planted.manifest.dataset.format,
        options.held_out
    ));
    if let Some(path) = &args.honeypot_out {
        printer.out(&format!(
            "wrote {} to `{}`: keep it out of every training run",
            plural(args.honeypots as u64, "honeypot"),
            path.display()
        ));
    }
    printer.out(&format!(
        "wrote the secret manifest `{}` (mode 0600): keep it like a private key",
        args.manifest.display()
    ));
    printer.note(&format!(
        "{}: train on `{}`; later, `antidote canary check DATA --manifest {}` finds copies",
        printer.style_err("next", Style::Dim),
        args.output.display(),
        args.manifest.display()
    ));
    Ok(ExitStatus::Success)
}

/// Reads the copy back: every canary must be found in the file as written.
fn confirm_written(
    output: &Path,
    read_options: &ReadOptions,
    manifest: &Manifest,
    count: usize,
) -> anyhow::Result<()> {
    let back = Dataset::open(output, read_options)
        .with_context(|| format!("failed to read back `{}`", output.display()))?;
    let found = check_records(manifest, back, 1)
        .with_context(|| format!("failed to read back `{}`", output.display()))?;
    anyhow::ensure!(
        found.canaries_found == count,
        "only {} of {} canaries are found in `{}` as written; this is a bug",
        found.canaries_found,
        count,
        output.display()
    );
    Ok(())
}

fn write_records(
    path: &Path,
    format: Format,
    schema: &Schema,
    records: &[Record],
) -> anyhow::Result<Vec<PathBuf>> {
    let context = || format!("failed to write `{}`", path.display());
    let mut writer = DatasetWriter::create(path, format, schema).with_context(context)?;
    for record in records {
        writer.write(record).with_context(context)?;
    }
    writer.finish().with_context(context)
}

fn check_command(
    args: &CheckArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let manifest = read_manifest(&args.manifest)?;
    if let Some(predictions) = &args.predictions {
        return check_model(args, predictions, &manifest, settings, printer);
    }
    let data = args
        .data
        .as_ref()
        .expect("clap requires DATA without --predictions");
    let dataset = Dataset::open(data, &args.dataset.read_options())
        .with_context(|| format!("failed to open the dataset `{}`", data.display()))?;
    let result = check_records(&manifest, dataset, args.min_found)
        .with_context(|| format!("failed to read the dataset `{}`", data.display()))?;
    let outcome = if result.honeypots_found > 0 {
        "honeypot"
    } else if result.copied {
        "copied"
    } else {
        "clean"
    };
    record(
        settings,
        printer,
        "canary-check",
        &data.display().to_string(),
        outcome,
        json!({
            "records": result.records,
            "canaries_found": result.canaries_found,
            "honeypots_found": result.honeypots_found,
            "held_out_found": result.held_out_found,
            "planted": result.planted,
        }),
    );
    if printer.json {
        printer.out_json(&json!({ "data": data, "result": result }))?;
    } else {
        print_dataset_check(data, &result, printer);
    }
    Ok(ExitStatus::from_passed(!result.failed()))
}

fn found_ids(result: &DatasetCheck, group: Group) -> Vec<String> {
    result
        .sightings
        .iter()
        .filter(|sighting| sighting.group == group)
        .map(|sighting| sighting.found_id.clone())
        .collect()
}

fn print_dataset_check(data: &Path, result: &DatasetCheck, printer: Printer) {
    let verdict = if result.failed() {
        printer.style("FOUND", Style::Bad)
    } else {
        printer.style("none found", Style::Good)
    };
    printer.out(&format!(
        "`{}`: {verdict}: {} of {} canaries ({}), {} of {} honeypots in {}",
        data.display(),
        result.canaries_found,
        result.planted,
        percent(result.canary_share),
        result.honeypots_found,
        result.honeypots,
        plural(result.records, "record")
    ));
    for (group, what) in [
        (Group::Planted, "canaries"),
        (Group::Honeypot, "honeypots"),
        (Group::HeldOut, "held-out canaries"),
    ] {
        let ids = found_ids(result, group);
        if !ids.is_empty() {
            printer.out(&format!("  {what} at: {}", list_some(&ids, SHOWN_IDS)));
        }
    }
    if result.honeypots_found > 0 {
        printer.out(
            "  a honeypot is bait no legitimate pipeline reads: this data was taken from where the honeypots were kept",
        );
    }
    if result.held_out_found > 0 {
        printer.out(
            "  held-out canaries exist only in the manifest and in `canary inputs` exports: one of them leaked",
        );
    }
    if result.copied {
        printer.out(&format!(
            "  the data holds records of your planted copy, about {} of it; {} kept the random label",
            percent(result.canary_share),
            plural(result.labels_kept as u64, "canary")
        ));
    } else if result.canaries_found > 0 {
        printer.out(&format!(
            "  fewer than `--min-found {}`: not counted as a copy",
            result.min_found
        ));
    }
}

fn check_model(
    args: &CheckArgs,
    predictions_path: &Path,
    manifest: &Manifest,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let dataset = Dataset::open(predictions_path, &ReadOptions::default()).with_context(|| {
        format!(
            "failed to open the predictions `{}`",
            predictions_path.display()
        )
    })?;
    if dataset.ids_are_positions() {
        return Err(UserError::new(
            format!("`{}` has no `id` column", predictions_path.display()),
            "give each prediction the id of its input in `antidote canary inputs`",
        )
        .into());
    }
    let predictions: Vec<Prediction> = dataset
        .map(|record| record.map(|record| Prediction::from_record(&record)))
        .collect::<Result<_, _>>()
        .with_context(|| format!("failed to read `{}`", predictions_path.display()))?;
    let result = check_predictions(manifest, &predictions, args.alpha).map_err(|error| {
        UserError::new(
            error.to_string(),
            "predict on the file `antidote canary inputs --manifest M -o FILE` writes, keeping its ids",
        )
    })?;
    record(
        settings,
        printer,
        "canary-check",
        &predictions_path.display().to_string(),
        if result.failed() {
            "memorised"
        } else {
            "clean"
        },
        json!({
            "planted_p_value": result.planted.p_value,
            "honeypot_p_value": result.honeypots.map(|honeypots| honeypots.p_value),
            "predictions": predictions.len(),
        }),
    );
    if printer.json {
        printer.out_json(&json!({ "predictions": predictions_path, "result": result }))?;
    } else {
        print_model_check(predictions_path, &result, printer);
    }
    Ok(ExitStatus::from_passed(!result.failed()))
}

fn outcome_line(name: &str, outcome: &GroupOutcome) -> String {
    format!(
        "  {name:<9} {} of {} given their assigned label ({}){}",
        outcome.assigned,
        outcome.predicted,
        percent(outcome.rate),
        outcome
            .mean_confidence
            .map(|confidence| format!(", mean confidence {confidence:.2}"))
            .unwrap_or_default()
    )
}

fn print_model_check(path: &Path, result: &MemorisationCheck, printer: Printer) {
    let verdict = if result.failed() {
        printer.style("MEMORISED", Style::Bad)
    } else {
        printer.style("no memorisation found", Style::Good)
    };
    printer.out(&format!("`{}`: {verdict}", path.display()));
    printer.out(&outcome_line("held-out", &result.held_out));
    for (name, comparison) in [
        ("planted", Some(result.planted)),
        ("honeypots", result.honeypots),
    ] {
        let Some(comparison) = comparison else {
            continue;
        };
        printer.out(&format!(
            "{}; p = {:.2e} (one-sided Fisher exact test), exposure {:.1} bits, advantage {:+.0} points",
            outcome_line(name, &comparison.outcome),
            comparison.p_value,
            comparison.exposure_bits,
            comparison.advantage * 100.0
        ));
    }
    printer.out(&format!(
        "  chance is {}; the held-out canaries show what this model gives records it never saw; p < {} counts as memorised",
        percent(result.chance),
        result.alpha
    ));
    if result.planted.memorised {
        printer.out("  the model gives the planted canaries their random labels: it memorises training records (a membership leak), and it was trained on the planted copy");
    }
    if result
        .honeypots
        .is_some_and(|honeypots| honeypots.memorised)
    {
        printer
            .out("  the model gives the honeypots their random labels: it was trained on the bait");
    }
    if result.unknown_ids > 0 {
        printer.warn(&format!(
            "{} not among the canary inputs (ignored)",
            plural(result.unknown_ids as u64, "prediction id")
        ));
    }
}

fn inputs_command(args: &InputsArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let manifest = read_manifest(&args.manifest)?;
    refuse_existing(&[args.output.as_path()])?;
    let format = manifest.dataset.format;
    check_output_name(&args.output, format)?;
    let inputs = Inputs::of(&manifest);
    let records: Vec<Record> = inputs
        .records
        .iter()
        .map(|(_, _, record)| record.clone())
        .collect();
    write_records(&args.output, format, &inputs.schema, &records)?;
    if printer.json {
        printer.out_json(&json!({
            "output": args.output,
            "inputs": records.len(),
            "format": format,
        }))?;
    } else {
        printer.out(&format!(
            "wrote {} to `{}` ({format}, mixed, without labels)",
            plural(records.len() as u64, "canary input"),
            args.output.display()
        ));
        printer.note(&format!(
            "{}: run your model on it, write `id,prediction[,confidence]`, then `antidote canary check --manifest {} --predictions FILE`",
            printer.style_err("next", Style::Dim),
            args.manifest.display()
        ));
    }
    Ok(ExitStatus::Success)
}

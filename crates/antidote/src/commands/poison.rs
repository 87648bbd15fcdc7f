//! `antidote poison`: a poisoned copy of a dataset, and the truth of what was poisoned.
//!
//! The copy is written in the input's format next to `OUT.truth.json` (for an image folder
//! `OUT/`, the file `OUT.truth.json` beside the folder, so that the folder holds only images).
//! Nothing is overwritten. After writing, the copy is read back and compared record by record
//! with what the attack produced, so that the truth is exact for the files on disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use antidote_core::display::{escape_control, list_some, plural};
use antidote_data::{Dataset, Format, Role};
use antidote_redteam::attacks::blend::read_pattern;
use antidote_redteam::{
    AttackError, AttackKind, AttackOptions, InMemoryDataset, ParamsError, Poisoned, Truth,
};
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::PoisonArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// How many poisoned ids the text output lists.
const SHOWN_IDS: usize = 8;

/// Poisons a copy of a dataset and writes it with its truth.
pub fn poison(
    args: &PoisonArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let kind = args.attack;
    // Check the options before reading anything: a typo should not wait for the data.
    let options = attack_options(args);
    kind.build(&options)
        .map_err(|error| params_error(&error, kind))?;

    let read_options = args.dataset.read_options();
    if read_options.format.or_else(|| Format::detect(&args.data)) == Some(Format::Parquet) {
        return Err(UserError::new(
            format!(
                "cannot write a poisoned copy of `{}`: writing Parquet is not supported yet",
                args.data.display()
            ),
            "poison a CSV or JSON Lines export of it, e.g. `pandas.read_parquet(PATH).to_json(OUT, orient=\"records\", lines=True)`",
        )
        .into());
    }
    let mut dataset = Dataset::open(&args.data, &read_options)
        .with_context(|| format!("failed to open the dataset `{}`", args.data.display()))?;
    let format = dataset.format();
    let output = output_path(args, format, kind)?;
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| truth_path_for(&output));
    // The copy is the commit point of a run (its truth is written first): a truth without its
    // copy is what an interrupted run left, and is replaced; anything else is never overwritten.
    let interrupted = !output.exists() && is_truth(&truth_path);
    for path in [&output, &truth_path] {
        if path.exists() && !(interrupted && *path == truth_path) {
            return Err(UserError::new(
                format!("`{}` already exists; antidote never overwrites data", path.display()),
                "choose another output with `-o OUT` (and `--truth FILE`), or remove the old copy first",
            )
            .into());
        }
    }

    let mut poisoned = poisoned_copy(args, options, &mut dataset, printer)?;
    if format == Format::ImageFolder {
        poisoned.fit_ids_to_image_folder();
    }

    // The truth lands first, then the copy: a copy on disk always has its truth.
    let files = poisoned.write_with_truth(&output, format, &read_options, &truth_path)?;

    let truth = &poisoned.truth;
    record(
        settings,
        printer,
        "poison",
        &output.display().to_string(),
        "ok",
        json!({
            "input": args.data,
            "attack": kind,
            "seed": args.seed,
            "target": truth.target,
            "poisoned": truth.poisoned.len(),
            "records_before": truth.records_before,
            "records_after": truth.records_after,
            "truth": truth_path,
        }),
    );

    if printer.json {
        printer.out_json(&json!({
            "data": args.data,
            "output": output,
            "files": files,
            "truth_file": truth_path,
            "truth": truth,
        }))?;
        return Ok(ExitStatus::Success);
    }
    print_summary(args, truth, &output, &truth_path, printer, started);
    Ok(ExitStatus::Success)
}

/// Reads the dataset and poisons it.
fn poisoned_copy(
    args: &PoisonArgs,
    mut options: AttackOptions,
    dataset: &mut Dataset,
    printer: Printer,
) -> anyhow::Result<Poisoned> {
    let kind = args.attack;
    let format = dataset.format();
    let input = InMemoryDataset::read(dataset)
        .with_context(|| format!("failed to read the dataset `{}`", args.data.display()))?;
    if dataset.skipped() > 0 {
        printer.warn(&format!(
            "skipped {} in `{}` (`--skip-bad`); the poisoned copy leaves them out",
            plural(dataset.skipped(), "malformed record"),
            args.data.display()
        ));
    }
    options.fit_to_format(kind, format);
    if let Some(path) = &args.pattern_image {
        let channels = input.image_channels().unwrap_or(1);
        options.pattern_image =
            Some(read_pattern(path, channels).map_err(|error| params_error(&error, kind))?);
    }
    let attack = kind
        .build(&options)
        .map_err(|error| params_error(&error, kind))?;
    let input_had_sources = input.schema.column_with_role(Role::Source).is_some();
    let poisoned = attack
        .run(input, args.seed)
        .map_err(|error| attack_error(&error))?;
    let output_has_sources = poisoned
        .dataset
        .schema
        .column_with_role(Role::Source)
        .is_some();
    if !format.stores_sources() && !input_had_sources && output_has_sources {
        return Err(UserError::new(
            format!("{format} data cannot store the fake sources `{kind}` attributes records to"),
            if kind == AttackKind::DuplicateFlood {
                "pass `--fake-sources 0` to keep the originals' sources".to_owned()
            } else {
                "name real sources with `--source COLUMN` on data that has them, or poison a CSV or JSON Lines copy".to_owned()
            },
        )
        .into());
    }
    Ok(poisoned)
}

fn print_summary(
    args: &PoisonArgs,
    truth: &Truth,
    output: &Path,
    truth_path: &Path,
    printer: Printer,
    started: Instant,
) {
    printer.out(&format!(
        "poisoned `{}` with {} (seed {}) in {:.2}s: {}",
        args.data.display(),
        printer.style(&format!("`{}`", truth.attack), Style::Bold),
        truth.seed,
        started.elapsed().as_secs_f64(),
        escape_control(&truth.summary)
    ));
    if !truth.poisoned.is_empty() {
        printer.out(&format!(
            "  poisoned {}: {}",
            plural(truth.poisoned.len() as u64, "record"),
            list_some(&truth.poisoned, SHOWN_IDS)
        ));
    }
    if let Some(target) = &truth.target {
        printer.out(&format!("  target: `{}`", escape_control(target)));
    }
    if !truth.sources.is_empty() {
        printer.out(&format!(
            "  sources: {}",
            list_some(&truth.sources, SHOWN_IDS)
        ));
    }
    printer.out(&format!(
        "wrote `{}` ({}) and `{}`",
        output.display(),
        plural(truth.records_after as u64, "record"),
        truth_path.display()
    ));
    printer.note(&format!(
        "{}: see what changed with `antidote diff {} {}`",
        printer.style_err("next", Style::Dim),
        args.data.display(),
        output.display()
    ));
}

/// The attack options the command line gives.
fn attack_options(args: &PoisonArgs) -> AttackOptions {
    AttackOptions {
        rate: args.rate,
        target: args.target.clone(),
        from: args.from.clone(),
        sources: args.sources.clone(),
        source_count: args.source_count,
        patch_size: args.patch_size,
        position: args.position,
        pattern: args.pattern,
        value: args.value,
        alpha: args.alpha,
        // A placeholder, so that the options are checked before reading; the real image is
        // read once the images' channels are known.
        pattern_image: args.pattern_image.as_ref().map(|_| antidote_data::Image {
            width: 1,
            height: 1,
            channels: 1,
            pixels: vec![0],
        }),
        grid: args.grid,
        strength: args.strength,
        noise_rate: args.noise_rate,
        amplitude: args.amplitude,
        frequency: args.frequency,
        token: args.token.clone(),
        phrase: args.phrase.clone(),
        insert: args.insert,
        trigger: args.trigger.clone(),
        payload: args.payload.clone(),
        every: args.every,
        copies: args.copies,
        fake_sources: args.fake_sources,
        column: args.column.clone(),
    }
}

fn params_error(error: &ParamsError, kind: AttackKind) -> anyhow::Error {
    let hint = match error {
        ParamsError::NotApplicable { attack, .. } => format!(
            "`{attack}` reads {}",
            attack
                .options()
                .iter()
                .map(|option| format!("`--{option}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ParamsError::PatternImage { .. } => "give a PNG or JPEG image".to_owned(),
        _ => format!("see `antidote poison --help` for the options of `{kind}`"),
    };
    let message = match error {
        ParamsError::PatternImage { reason, .. } => format!("{error}: {reason}"),
        _ => error.to_string(),
    };
    UserError::new(message, hint).into()
}

fn attack_error(error: &AttackError) -> anyhow::Error {
    UserError {
        message: error.to_string(),
        hint: error.hint(),
    }
    .into()
}

/// The output path: the one given (for IDX, a folder gets the input's file name), else the
/// input's name with the attack in it, in the current folder.
fn output_path(args: &PoisonArgs, format: Format, kind: AttackKind) -> anyhow::Result<PathBuf> {
    let input_name = args.data.file_name().map_or_else(
        || "data".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let Some(given) = &args.output else {
        return Ok(default_output(&args.data, &input_name, format, kind));
    };
    let text = given.to_string_lossy();
    match format {
        Format::ImageFolder => Ok(PathBuf::from(text.trim_end_matches('/'))),
        Format::Idx => {
            if text.ends_with('/') || given.is_dir() {
                return Ok(given.join(&input_name));
            }
            if Format::detect(given) != Some(Format::Idx) {
                return Err(UserError::new(
                    format!("`{}` is not the name of an IDX images file", given.display()),
                    format!(
                        "name it like the input (`poisoned/{input_name}`), or give a folder ending in `/`"
                    ),
                )
                .into());
            }
            Ok(given.clone())
        }
        _ => {
            let gzipped = given
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"));
            let detected = Format::detect(given);
            let same_kind = match format {
                Format::Csv => detected == Some(Format::Csv),
                _ => detected == Some(Format::Jsonl),
            };
            if gzipped || !same_kind {
                let extension = if format == Format::Csv {
                    "csv"
                } else {
                    "jsonl"
                };
                return Err(UserError::new(
                    format!(
                        "`{}` does not name an uncompressed {format} file, the format of the poisoned copy",
                        given.display()
                    ),
                    format!("end the output name with `.{extension}`"),
                )
                .into());
            }
            Ok(given.clone())
        }
    }
}

fn default_output(data: &Path, input_name: &str, format: Format, kind: AttackKind) -> PathBuf {
    match format {
        Format::ImageFolder => PathBuf::from(format!("{input_name}-{kind}")),
        Format::Idx => {
            let folder = data.parent().and_then(Path::file_name).map_or_else(
                || "poisoned".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            );
            PathBuf::from(format!("{folder}-{kind}")).join(input_name)
        }
        _ => {
            let plain = input_name
                .strip_suffix(".gz")
                .or_else(|| input_name.strip_suffix(".GZ"))
                .unwrap_or(input_name);
            let (stem, extension) = plain.rsplit_once('.').unwrap_or((plain, ""));
            let extension = match (format, extension.to_ascii_lowercase().as_str()) {
                (Format::Csv, "tsv") => "tsv",
                (Format::Csv, _) => "csv",
                (_, "ndjson") => "ndjson",
                _ => "jsonl",
            };
            PathBuf::from(format!("{stem}.{kind}.{extension}"))
        }
    }
}

/// `OUT.truth.json`, beside the output (beside the folder, for folders).
fn truth_path_for(output: &Path) -> PathBuf {
    let mut name = OsString::from(output.as_os_str());
    name.push(".truth.json");
    PathBuf::from(name)
}

/// Whether `path` holds a red-team truth (what an interrupted run leaves without its copy).
fn is_truth(path: &std::path::Path) -> bool {
    fs_err::read_to_string(path)
        .ok()
        .is_some_and(|text| serde_json::from_str::<antidote_redteam::Truth>(&text).is_ok())
}

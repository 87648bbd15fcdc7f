//! `antidote scan`: find the poisoned records, explain each finding, quarantine them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use antidote_core::display::{escape_control as escape, plural};
use antidote_core::{ProgressUnit, RecordId};
use antidote_data::writers::DatasetWriter;
use antidote_data::{Dataset, Format, Record, Role};
use antidote_detect::scan::{Scan, ScanInput, ScanOptions, scan as run_scan};
use antidote_detect::{DetectorId, TriggerPattern};
use antidote_learn::LabelIndex;
use antidote_provenance::lock::AtomicFile;
use anyhow::Context;
use serde_json::{Value as Json, json};

use super::record;
use crate::cli::{GlobalArgs, ScanArgs};
use crate::printer::{Printer, Style};
use crate::{ExitStatus, UserError, settings};

/// Scans a dataset and writes findings, a summary and, on request, the split and the report.
pub fn scan(args: &ScanArgs, global: &GlobalArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (config, config_path) = settings::load_config(args.config.as_deref())?;
    let detectors = chosen_detectors(args)?;
    let Loaded {
        format,
        schema,
        records,
        embedding,
    } = load(args, printer)?;
    let probabilities = match &args.probs {
        Some(path) => Some(read_probabilities(path, &records)?),
        None => None,
    };
    let options = ScanOptions {
        seed: args.seed,
        folds: args.folds,
        detectors,
        policy: config.scan.clone(),
    };
    let input = ScanInput {
        records: &records,
        schema: &schema,
        probabilities: probabilities.as_deref(),
        embedding: embedding.as_deref(),
    };
    let progress = printer.progress();
    let result = run_scan(input, &options, progress.as_ref()).context("the scan failed")?;

    fs_err::create_dir_all(&args.out)?;
    let findings_path = args.out.join("findings.jsonl");
    write_findings(&result, &records, &options, &findings_path)
        .with_context(|| format!("failed to write `{}`", findings_path.display()))?;
    let split = if args.split {
        Some(write_split(
            &result, &records, &options, format, &schema, args,
        )?)
    } else {
        None
    };
    let seconds = started.elapsed().as_secs_f64();
    let summary = summary(
        &result,
        &records,
        &options,
        args,
        config_path.as_deref(),
        seconds,
        split.as_ref(),
    );
    let summary_path = args.out.join("summary.json");
    write_json(&summary, &summary_path)
        .with_context(|| format!("failed to write `{}`", summary_path.display()))?;
    let report_path = args
        .report
        .as_ref()
        .map(|path| path.clone().unwrap_or_else(|| args.out.join("report.html")));
    if let Some(path) = &report_path {
        let document = super::scan_report::document(&result, &records, &schema, &summary, args)?;
        super::scan_report::write(&document, path)
            .with_context(|| format!("failed to write the report `{}`", path.display()))?;
    }
    record_in_ledger(global, printer, args, &result, records.len());
    if printer.json {
        let mut output = summary.clone();
        output["findings"] = json!(findings_path);
        if let Some(path) = &report_path {
            output["html_report"] = json!(path);
        }
        printer.out_json(&output)?;
    } else {
        print_summary(&result, &records, &options, args, printer, seconds);
        printer.note(&format!(
            "wrote `{}` and `{}`",
            findings_path.display(),
            summary_path.display()
        ));
        if let Some(split) = &split {
            printer.note(&format!(
                "split: {} clean records in `{}`, {} quarantined in `{}`",
                split.clean,
                split.clean_path.display(),
                split.quarantined,
                split.quarantine_path.display()
            ));
        }
        if let Some(path) = &report_path {
            printer.note(&format!("report: `{}`", path.display()));
        }
    }
    Ok(ExitStatus::from_passed(result.verdict.train))
}

/// The dataset, read whole.
struct Loaded {
    format: Format,
    schema: antidote_data::Schema,
    records: Vec<Record>,
    /// The column with the embedding role, if any.
    embedding: Option<String>,
}

fn load(args: &ScanArgs, printer: Printer) -> anyhow::Result<Loaded> {
    let mut dataset = Dataset::open(&args.data, &args.dataset.read_options())
        .with_context(|| format!("failed to open the dataset `{}`", args.data.display()))?;
    let format = dataset.format();
    let schema = dataset.schema().clone();
    let records = read_all(&mut dataset, printer)?;
    if records.is_empty() {
        return Err(UserError::new(
            format!("`{}` holds no records", args.data.display()),
            "scan a dataset with at least one record",
        )
        .into());
    }
    let embedding = schema
        .columns
        .iter()
        .find(|column| column.role == Role::Embedding)
        .map(|column| column.name.clone());
    Ok(Loaded {
        format,
        schema,
        records,
        embedding,
    })
}

/// Appends the scan's event to the ledger.
fn record_in_ledger(
    global: &GlobalArgs,
    printer: Printer,
    args: &ScanArgs,
    result: &Scan,
    records: usize,
) {
    record(
        global,
        printer,
        "scan",
        &args.data.display().to_string(),
        if result.verdict.train {
            "clean"
        } else {
            "poisoned"
        },
        json!({
            "records": records,
            "flagged": result.fused.len(),
            "quarantined": result.verdict.quarantined,
            "reasons": result.verdict.reasons,
            "out": args.out,
        }),
    );
}

/// The detectors `--detectors` and `--skip` leave.
fn chosen_detectors(args: &ScanArgs) -> anyhow::Result<BTreeSet<DetectorId>> {
    let parse = |names: &[String]| -> anyhow::Result<Vec<DetectorId>> {
        names
            .iter()
            .flat_map(|names| names.split(','))
            .map(|name| {
                DetectorId::from_name(name.trim()).ok_or_else(|| {
                    UserError::new(
                        format!("there is no detector `{name}`"),
                        format!(
                            "the detectors are {}",
                            DetectorId::ALL.map(DetectorId::name).join(", ")
                        ),
                    )
                    .into()
                })
            })
            .collect()
    };
    let mut chosen: BTreeSet<DetectorId> = if args.detectors.is_empty() {
        DetectorId::ALL.into_iter().collect()
    } else {
        parse(&args.detectors)?.into_iter().collect()
    };
    for skipped in parse(&args.skip)? {
        chosen.remove(&skipped);
    }
    Ok(chosen)
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
    if dataset.skipped() > 0 {
        printer.warn(&format!(
            "skipped {} (`--skip-bad`)",
            plural(dataset.skipped(), "malformed record")
        ));
    }
    Ok(records)
}

/// Reads `--probs`: a CSV with one column per class (named by the class) and, optionally, an
/// `id` column; without ids, rows follow the dataset's order.
fn read_probabilities(path: &Path, records: &[Record]) -> anyhow::Result<Vec<f32>> {
    let bad = |line: u64, what: String| -> anyhow::Error {
        UserError::new(
            format!("`{}` line {line}: {what}", path.display()),
            "`--probs` takes a CSV with a header of class names (and optionally `id`), one row of out-of-sample probabilities per record",
        )
        .into()
    };
    let classes = LabelIndex::from_records(records);
    let mut reader = csv::Reader::from_path(path).map_err(|error| {
        UserError::new(
            format!("cannot read `{}`: {error}", path.display()),
            "check the path",
        )
    })?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let id_column = header.iter().position(|name| name == "id");
    let mut columns = vec![usize::MAX; classes.len()];
    for (position, name) in header.iter().enumerate() {
        if Some(position) == id_column {
            continue;
        }
        let Some(class) = classes.index(name) else {
            return Err(bad(
                1,
                format!("column `{name}` is not a class of the dataset"),
            ));
        };
        columns[class] = position;
    }
    if let Some(missing) = columns.iter().position(|&column| column == usize::MAX) {
        return Err(bad(
            1,
            format!(
                "no column for class `{}`",
                classes.label(missing).unwrap_or("?")
            ),
        ));
    }
    let positions: BTreeMap<&RecordId, usize> = records
        .iter()
        .enumerate()
        .map(|(row, record)| (&record.id, row))
        .collect();
    let mut probabilities = vec![f32::NAN; records.len() * classes.len()];
    let mut seen = vec![false; records.len()];
    for (number, row) in reader.records().enumerate() {
        let line = number as u64 + 2;
        let row = row.map_err(|error| bad(line, error.to_string()))?;
        let target = match id_column {
            Some(column) => {
                let id = RecordId::from(row.get(column).unwrap_or_default());
                *positions
                    .get(&id)
                    .ok_or_else(|| bad(line, format!("no record has id `{id}`")))?
            }
            None => number,
        };
        if target >= records.len() {
            return Err(bad(
                line,
                format!("more rows than the {} records", records.len()),
            ));
        }
        let mut total = 0.0;
        for (class, &column) in columns.iter().enumerate() {
            let value: f32 = row
                .get(column)
                .unwrap_or_default()
                .trim()
                .parse()
                .map_err(|_| {
                    bad(
                        line,
                        format!("`{}` is not a number", row.get(column).unwrap_or_default()),
                    )
                })?;
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(line, format!("probability {value} is outside [0, 1]")));
            }
            total += value;
            probabilities[target * classes.len() + class] = value;
        }
        if (total - 1.0).abs() > 1e-3 {
            return Err(bad(line, format!("probabilities sum to {total}, not 1")));
        }
        seen[target] = true;
    }
    if let Some(missing) = seen.iter().position(|seen| !seen) {
        return Err(bad(
            0,
            format!("no probabilities for record `{}`", records[missing].id),
        ));
    }
    Ok(probabilities)
}

/// Rounds for output: stable, readable JSON.
fn round(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn write_findings(
    result: &Scan,
    records: &[Record],
    options: &ScanOptions,
    path: &Path,
) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    for fused in &result.fused {
        let record = &records[fused.index];
        let line = json!({
            "id": record.id,
            "score": round(fused.score),
            "quarantine": options.policy.quarantines(fused),
            "label": record.label,
            "source": record.source,
            "detectors": fused.detectors,
            "confidences": fused.confidences.iter().map(|&confidence| round(confidence)).collect::<Vec<_>>(),
            "evidence": fused.evidence,
        });
        serde_json::to_writer(&mut file.writer, &line)?;
        file.writer.write_all(b"\n")?;
    }
    file.commit()?;
    Ok(())
}

fn write_json(value: &Json, path: &Path) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut file.writer, value)?;
    file.writer.write_all(b"\n")?;
    file.commit()?;
    Ok(())
}

/// Where the split went.
pub(crate) struct Split {
    pub clean: usize,
    pub quarantined: usize,
    pub clean_path: PathBuf,
    pub quarantine_path: PathBuf,
}

/// The output path of one side of the split, in the input's own format.
fn split_path(args: &ScanArgs, side: &str, format: Format) -> PathBuf {
    let folder = args.out.join(side);
    if format == Format::ImageFolder {
        return folder;
    }
    let name = args
        .data
        .file_name()
        .map_or_else(|| "data".into(), |name| name.to_string_lossy().into_owned());
    if args.data.is_dir() {
        let extension = match format {
            Format::Csv => "csv",
            Format::Idx => "idx3-ubyte",
            _ => "jsonl",
        };
        folder.join(format!("{name}.{extension}"))
    } else {
        folder.join(name)
    }
}

fn write_split(
    result: &Scan,
    records: &[Record],
    options: &ScanOptions,
    format: Format,
    schema: &antidote_data::Schema,
    args: &ScanArgs,
) -> anyhow::Result<Split> {
    let clean_path = split_path(args, "clean", format);
    let quarantine_path = split_path(args, "quarantine", format);
    for path in [&clean_path, &quarantine_path] {
        if path.exists() {
            return Err(UserError::new(
                format!(
                    "`{}` already exists; antidote never overwrites data",
                    path.display()
                ),
                "remove it, or write the scan to another folder with `--out`",
            )
            .into());
        }
        if let Some(parent) = path.parent()
            && format != Format::ImageFolder
        {
            fs_err::create_dir_all(parent)?;
        }
    }
    let mut quarantined = vec![false; records.len()];
    for fused in &result.fused {
        if options.policy.quarantines(fused) {
            quarantined[fused.index] = true;
        }
    }
    let unsupported = |error: antidote_data::writers::WriteError| -> anyhow::Error {
        if format == Format::Parquet {
            UserError::new(
                format!("cannot write the split as Parquet: {error}"),
                "findings.jsonl lists the quarantined ids; filter the Parquet file with them, or convert the data to CSV or JSON Lines first",
            )
            .into()
        } else {
            anyhow::Error::new(error)
        }
    };
    let mut clean = DatasetWriter::create(&clean_path, format, schema).map_err(unsupported)?;
    let mut quarantine =
        DatasetWriter::create(&quarantine_path, format, schema).map_err(unsupported)?;
    let mut counts = (0, 0);
    for (record, &bad) in records.iter().zip(&quarantined) {
        if bad {
            quarantine.write(record)?;
            counts.1 += 1;
        } else {
            clean.write(record)?;
            counts.0 += 1;
        }
    }
    clean.finish()?;
    quarantine.finish()?;
    Ok(Split {
        clean: counts.0,
        quarantined: counts.1,
        clean_path,
        quarantine_path,
    })
}

fn trigger_json(result: &Scan, trigger: &antidote_detect::Trigger) -> Json {
    let mut value = json!({
        "target": trigger.target.map(|class| result.class_name(class)),
        "support": trigger.support,
        "purity": round(trigger.purity),
        "flip_rate": trigger.flip_rate.map(round),
        "confirmed": trigger.confirmed,
        "explanation": trigger.explanation,
    });
    let pattern = match &trigger.pattern {
        TriggerPattern::ImagePatch {
            x,
            y,
            width,
            height,
            ..
        } => {
            json!({"kind": "image-patch", "x": x, "y": y, "width": width, "height": height})
        }
        TriggerPattern::ImageBlend { alpha, .. } => {
            json!({"kind": "image-blend", "alpha": round(*alpha)})
        }
        other => serde_json::to_value(other).unwrap_or(Json::Null),
    };
    value["pattern"] = pattern;
    value
}

/// `summary.json`.
fn summary(
    result: &Scan,
    records: &[Record],
    options: &ScanOptions,
    args: &ScanArgs,
    config: Option<&Path>,
    seconds: f64,
    split: Option<&Split>,
) -> Json {
    let mut detectors = serde_json::Map::new();
    for report in &result.reports {
        let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
        if let Some(labels) = &result.labels {
            for flag in &report.flags {
                *per_class
                    .entry(result.class_name(labels[flag.index]))
                    .or_default() += 1;
            }
        }
        detectors.insert(
            report.detector.name().to_owned(),
            json!({
                "flagged": report.flags.len(),
                "threshold": report.threshold.map(round),
                "flagged_per_class": per_class,
                "classes": report.classes.iter().map(|verdict| json!({
                    "class": result.class_name(verdict.class),
                    "suspicious": verdict.suspicious,
                    "statistic": round(verdict.statistic),
                    "flagged": verdict.flagged,
                    "explanation": verdict.explanation,
                })).collect::<Vec<_>>(),
                "notes": report.notes,
            }),
        );
    }
    let mut flagged_per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut quarantined_per_class: BTreeMap<String, usize> = BTreeMap::new();
    for fused in &result.fused {
        let class = records[fused.index]
            .label
            .clone()
            .unwrap_or_else(|| "(unlabelled)".to_owned());
        *flagged_per_class.entry(class.clone()).or_default() += 1;
        if options.policy.quarantines(fused) {
            *quarantined_per_class.entry(class).or_default() += 1;
        }
    }
    let triggers: Vec<Json> = result
        .reports
        .iter()
        .flat_map(|report| {
            report
                .triggers
                .iter()
                .map(|trigger| trigger_json(result, trigger))
        })
        .collect();
    let sources: Vec<&antidote_detect::SourceVerdict> = result
        .reports
        .iter()
        .flat_map(|report| report.sources.iter())
        .collect();
    json!({
        "antidote": env!("CARGO_PKG_VERSION"),
        "input": args.data,
        "records": records.len(),
        "classes": result.class_names,
        "verdict": {
            "train": result.verdict.train,
            "reasons": result.verdict.reasons,
            "flagged": result.fused.len(),
            "quarantined": result.verdict.quarantined,
        },
        "flagged_per_class": flagged_per_class,
        "quarantined_per_class": quarantined_per_class,
        "detectors": detectors,
        "triggers": triggers,
        "sources": {
            "distrusted": sources.iter().filter(|source| source.suspicious).map(|source| &source.source).collect::<Vec<_>>(),
            "all": sources,
        },
        "policy": options.policy,
        "config": config,
        "seed": options.seed,
        "models": result.models,
        "split": split.map(|split| json!({
            "clean": split.clean, "quarantined": split.quarantined,
            "clean_path": split.clean_path, "quarantine_path": split.quarantine_path,
        })),
        "timings": result.timings.iter().map(|timing| json!({"stage": timing.stage, "seconds": round(timing.seconds)})).collect::<Vec<_>>(),
        "seconds": round(seconds),
    })
}

fn print_summary(
    result: &Scan,
    records: &[Record],
    options: &ScanOptions,
    args: &ScanArgs,
    printer: Printer,
    seconds: f64,
) {
    let verdict = &result.verdict;
    let headline = if verdict.train {
        printer.style("no poisoning found", Style::Good)
    } else {
        printer.style("do not train on this data", Style::Bad)
    };
    printer.out(&format!(
        "scanned {} in {seconds:.1}s: {headline}",
        plural(records.len() as u64, "record")
    ));
    for reason in &verdict.reasons {
        printer.out(&format!("  - {}", escape(reason)));
    }
    printer.out(&format!(
        "{} flagged, {} quarantined (fused score >= {})",
        plural(result.fused.len() as u64, "record"),
        verdict.quarantined,
        options.policy.quarantine_score
    ));
    for report in &result.reports {
        let status = if report.is_skipped() {
            printer.style("skipped", Style::Dim)
        } else {
            plural(report.flags.len() as u64, "record")
        };
        printer.out(&format!("  {:<22} {status}", report.detector.name()));
    }
    let show = args.show.min(result.fused.len());
    if show > 0 {
        printer.out(&format!(
            "most suspicious {}:",
            plural(show as u64, "record")
        ));
        for fused in result.fused.iter().take(show) {
            let record = &records[fused.index];
            printer.out(&format!(
                "  {:>6.3}  `{}`{}  {}",
                fused.score,
                escape(record.id.as_str()),
                record
                    .label
                    .as_ref()
                    .map_or_else(String::new, |label| format!(" ({})", escape(label))),
                escape(fused.evidence.first().map_or("", String::as_str))
            ));
        }
    }
    let next = if verdict.train {
        "train; keep `findings.jsonl` for review".to_owned()
    } else if args.split {
        format!(
            "train on `{}` after reviewing the quarantine",
            args.out.join("clean").display()
        )
    } else {
        "review the findings, then quarantine them with `--split` (and `--report` to see them)"
            .to_owned()
    };
    printer.note(&format!(
        "{}: {next}",
        printer.style_err("next", Style::Dim)
    ));
}

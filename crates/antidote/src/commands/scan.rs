//! `antidote scan`: find the poisoned records, explain each finding, quarantine them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use antidote_core::ProgressUnit;
use antidote_core::display::{escape_control, plural};
use antidote_data::output::StagedOutputs;
use antidote_data::writers::DatasetWriter;
use antidote_data::{Dataset, Format, Record, Role};
use antidote_detect::DetectorId;
use antidote_detect::output::{
    SplitSummary, Summary, SummaryContext, finding_lines, write_findings,
};
use antidote_detect::page::{self, PageInput};
use antidote_detect::policy::{Policy, Tier};
use antidote_detect::probabilities::{ProbabilitiesError, read_probabilities};
use antidote_detect::scan::{Scan, ScanInput, ScanOptions, scan as run_scan};
use antidote_provenance::lock::AtomicFile;
use antidote_provenance::merkle::records_root;
use anyhow::Context;
use serde_json::json;

use super::{provenance_of, record};
use crate::cli::ScanArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Scans a dataset and writes findings, a summary and, on request, the split and the report.
pub fn scan(args: &ScanArgs, settings: &Settings, printer: Printer) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (config, config_path) = (&settings.config, &settings.config_path);
    let detectors = chosen_detectors(args)?;
    let Loaded {
        format,
        schema,
        records,
        embedding,
    } = load(args, printer)?;
    let probabilities = match &args.probs {
        Some(path) => {
            Some(read_probabilities(path, &records).map_err(|error| probabilities_error(&error))?)
        }
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
    write_atomically(&findings_path, |file| {
        write_findings(&finding_lines(&result, &records), file)
    })?;
    // The split is staged whole and moved into place after the summary, so that a crash
    // leaves all three parts or none (and a rerun is not refused over a partial split).
    let (split, staged) = if args.split {
        let (split, staged) = write_split(&result, &records, format, &schema, args)?;
        (Some(split), Some(staged))
    } else {
        (None, None)
    };
    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary::new(
        &result,
        &records,
        SummaryContext {
            input: &args.data,
            config: config_path.as_deref(),
            policy: &options.policy,
            seed: options.seed,
            split,
            seconds,
        },
    );
    let summary_path = args.out.join("summary.json");
    write_atomically(&summary_path, |file| summary.write(file))?;
    if let Some(staged) = staged {
        staged
            .commit()
            .context("failed to move the split into place")?;
    }
    let report_path = args
        .report
        .as_ref()
        .map(|path| path.clone().unwrap_or_else(|| args.out.join("report.html")));
    if let Some(path) = &report_path {
        write_report(&result, &records, &schema, &options.policy, args, path)?;
    }
    let data_root = records_root(&records).to_string();
    record_in_ledger(settings, printer, args, &result, records.len(), &data_root);
    if printer.json {
        let mut output = summary.to_json()?;
        output["findings"] = json!(findings_path);
        if let Some(path) = &report_path {
            output["html_report"] = json!(path);
        }
        printer.out_json(&output)?;
    } else {
        print_summary(&result, &records, args, printer, seconds);
        printer.note(&format!(
            "wrote `{}` and `{}`",
            findings_path.display(),
            summary_path.display()
        ));
        if let Some(split) = &summary.split {
            printer.note(&format!(
                "split: {} clean records in `{}`, {} quarantined in `{}`, {} for review in `{}`",
                split.clean,
                split.clean_path.display(),
                split.quarantined,
                split.quarantine_path.display(),
                split.review,
                split.review_path.display()
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
    settings: &Settings,
    printer: Printer,
    args: &ScanArgs,
    result: &Scan,
    records: usize,
    data_root: &str,
) {
    record(
        settings,
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
            "review": result.verdict.review,
            "reasons": result.verdict.reasons,
            "out": args.out,
            // The Merkle root of the records scanned: `lock` and `train` record the same root
            // for the same data, which links the scan into `antidote log --chain`.
            "data_root": data_root,
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

/// `--probs` that cannot be used, with what to give instead.
fn probabilities_error(error: &ProbabilitiesError) -> anyhow::Error {
    let hint = match error {
        ProbabilitiesError::Open { .. } => "check the path",
        ProbabilitiesError::Line { .. } => {
            "`--probs` takes a CSV with a header of class names (and optionally `id`), one row of out-of-sample probabilities per record"
        }
    };
    UserError::new(antidote_core::error_chain(error), hint).into()
}

/// Writes `path` through an atomic file: whole or not at all.
fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    write(&mut file.writer).with_context(|| format!("failed to write `{}`", path.display()))?;
    file.commit()
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(())
}

/// Writes the HTML report of the scan to `path`.
fn write_report(
    result: &Scan,
    records: &[Record],
    schema: &antidote_data::Schema,
    policy: &Policy,
    args: &ScanArgs,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let lock_root = records_root(records);
    let input = PageInput {
        scan: result,
        records,
        schema,
        policy,
        data: &args.data,
        lock_root,
    };
    let document = page::document(&input, provenance_of(&[("data", &args.data)])?);
    let html = antidote_report::render_html(&document);
    write_atomically(path, |file| file.write_all(html.as_bytes()))
        .with_context(|| format!("failed to write the report `{}`", path.display()))
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
    format: Format,
    schema: &antidote_data::Schema,
    args: &ScanArgs,
) -> anyhow::Result<(SplitSummary, StagedOutputs)> {
    let clean_path = split_path(args, "clean", format);
    let quarantine_path = split_path(args, "quarantine", format);
    let review_path = split_path(args, "review", format);
    for path in [&clean_path, &quarantine_path, &review_path] {
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
    }
    let mut staged = StagedOutputs::create_in(&args.out)?;
    let partition = result.partition(records);
    let unsupported = |error: antidote_data::writers::WriteError| -> anyhow::Error {
        if format == Format::Parquet {
            UserError::new(
                format!("cannot write the split as Parquet: {error}"),
                "findings.jsonl lists each flagged id with its tier; filter the Parquet file with them, or convert the data to CSV or JSON Lines first",
            )
            .into()
        } else {
            anyhow::Error::new(error)
        }
    };
    for (path, part) in [
        (&clean_path, &partition.clean),
        (&quarantine_path, &partition.quarantined),
        (&review_path, &partition.review),
    ] {
        let mut writer =
            DatasetWriter::create(&staged.stage(path)?, format, schema).map_err(unsupported)?;
        for record in part {
            writer.write(record)?;
        }
        writer.finish()?;
    }
    let split = SplitSummary {
        clean: partition.clean.len(),
        quarantined: partition.quarantined.len(),
        review: partition.review.len(),
        clean_path,
        quarantine_path,
        review_path,
    };
    Ok((split, staged))
}

fn print_summary(
    result: &Scan,
    records: &[Record],
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
        printer.out(&format!("  - {}", escape_control(reason)));
    }
    printer.out(&format!(
        "{} flagged: {} quarantined (evidence of poisoning), {} for review (natural-looking noise)",
        plural(result.fused.len() as u64, "record"),
        verdict.quarantined,
        verdict.review,
    ));
    for report in &result.reports {
        let status = if report.is_skipped() {
            printer.style("skipped", Style::Dim)
        } else {
            plural(report.flags.len() as u64, "record")
        };
        printer.out(&format!("  {:<22} {status}", report.detector.name()));
    }
    for tier in [Tier::Quarantine, Tier::Review] {
        let members: Vec<_> = result
            .findings(records)
            .filter(|flagged| flagged.tier() == tier)
            .collect();
        let show = args.show.min(members.len());
        if show == 0 {
            continue;
        }
        printer.out(&format!(
            "{} ({} of {}, most suspicious first):",
            tier.name(),
            show,
            plural(members.len() as u64, "record")
        ));
        for flagged in members.into_iter().take(show) {
            let record = flagged.record;
            printer.out(&format!(
                "  {:>6.3}  `{}`{}  {}",
                flagged.fused.score,
                escape_control(record.id.as_str()),
                record
                    .label
                    .as_ref()
                    .map_or_else(String::new, |label| format!(" ({})", escape_control(label))),
                escape_control(flagged.reason().unwrap_or_else(|| flagged.first_evidence()))
            ));
        }
    }
    let next = if verdict.train {
        "train; keep `findings.jsonl` for review".to_owned()
    } else if args.split {
        format!(
            "train on `{}` and what you keep of `{}`; leave out `{}`",
            args.out.join("clean").display(),
            args.out.join("review").display(),
            args.out.join("quarantine").display()
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

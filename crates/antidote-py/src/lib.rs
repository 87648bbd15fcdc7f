//! `antidote._native`: the Rust half of the `antidote` Python package.
//!
//! Each function here calls the library crates the command line calls (`antidote-provenance`,
//! `antidote-validate`, `antidote-detect`, `antidote-redteam`, `antidote-data`), never the
//! binary, and adds the same context to errors, so that a Python exception reads like the
//! command line's `error:` and `Caused by:` lines (its `hint` attribute holds the `hint:` line).
//! The pure-Python package (`python/antidote`) shapes arguments and results: documents come
//! back as JSON text, arrays cross as Arrow arrays through the C data interface (no copy of
//! probabilities, embeddings or pixels), and the scan's findings come back as an Arrow record
//! batch.
#![warn(missing_docs)]
#![expect(
    clippy::needless_pass_by_value,
    reason = "PyO3 extracts arguments as owned values (paths, lists, strings)"
)]

mod errors;
mod scan;

use std::path::{Path, PathBuf};

use antidote_core::NoProgress;
use antidote_data::{Dataset, Format, ReadOptions};
use antidote_detect::LabelIssues;
use antidote_provenance::{lock as locking, signing, verify as verification};
use antidote_redteam::{AttackKind, AttackOptions, InMemoryDataset};
use antidote_validate::check as validation;
use antidote_validate::profile::Profile;
use anyhow::Context;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, BooleanArray};
use arrow_data::ArrayData;
use arrow_pyarrow::PyArrowType;
use pyo3::prelude::*;
use serde_json::json;

use errors::{ErrorKind, UserError, to_python};

/// Reading options from their JSON form (`antidote_data::ReadOptions`).
fn read_options(json: &str) -> anyhow::Result<ReadOptions> {
    serde_json::from_str(json).context("invalid reading options")
}

/// Locks `paths`, writes the lock to `output` with its records sidecar, and returns the lock
/// as JSON (`antidote lock`).
#[pyfunction]
#[pyo3(signature = (paths, output, read, files_only = false))]
fn lock(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    output: PathBuf,
    read: &str,
    files_only: bool,
) -> PyResult<String> {
    let run = || -> anyhow::Result<String> {
        let options = locking::LockOptions {
            read: read_options(read)?,
            files_only,
            ..locking::LockOptions::default()
        };
        let created = locking::create_and_write(&paths, &output, &options, &NoProgress)?;
        Ok(serde_json::to_string(&created)?)
    };
    py.detach(run)
        .map_err(|error| to_python(&error, ErrorKind::Lock))
}

/// Verifies the data against the lock at `lock` (and its signature against `pubkey`), and
/// returns `{"passed": ..., "report": ...}` as JSON, as `antidote verify --json` prints it.
#[pyfunction]
#[pyo3(signature = (lock, pubkey = None))]
fn verify(py: Python<'_>, lock: PathBuf, pubkey: Option<PathBuf>) -> PyResult<String> {
    let run = || -> anyhow::Result<String> {
        if !lock.exists() {
            return Err(UserError::new(
                format!("lock file `{}` does not exist", lock.display()),
                "create one with `antidote lock DATA`, or name it: `antidote verify path/to/antidote.lock`",
            )
            .into());
        }
        let key = pubkey
            .as_ref()
            .map(|path| {
                signing::read_verifying_key(path)
                    .with_context(|| format!("failed to load the public key `{}`", path.display()))
            })
            .transpose()?;
        let report = verification::verify(&lock, key.as_ref(), &NoProgress)?;
        Ok(serde_json::to_string(
            &json!({ "passed": report.passed(), "report": report }),
        )?)
    };
    py.detach(run)
        .map_err(|error| to_python(&error, ErrorKind::Lock))
}

/// The profile of the dataset at `data`, written to `output` when given, as JSON
/// (`antidote profile`). `source` replaces the profile's source name (a temporary file's name
/// says nothing about a data frame).
#[pyfunction]
#[pyo3(signature = (data, read, output = None, source = None))]
fn profile(
    py: Python<'_>,
    data: PathBuf,
    read: &str,
    output: Option<PathBuf>,
    source: Option<String>,
) -> PyResult<String> {
    let run = || -> anyhow::Result<String> {
        let mut profile = profile_of(&data, &read_options(read)?)?;
        if let Some(source) = source {
            profile.sources = vec![source];
        }
        profile.summarize();
        if let Some(path) = &output {
            profile
                .write(path)
                .with_context(|| format!("failed to write the profile `{}`", path.display()))?;
        }
        Ok(serde_json::to_string(&profile)?)
    };
    py.detach(run)
        .map_err(|error| to_python(&error, ErrorKind::Profile))
}

fn profile_of(data: &Path, options: &ReadOptions) -> anyhow::Result<Profile> {
    let dataset = Dataset::open(data, options)
        .with_context(|| format!("failed to open the dataset `{}`", data.display()))?;
    Ok(Profile::of_dataset(dataset, &NoProgress)?)
}

/// Checks the dataset at `data` against the baseline profile at `baseline` with the default
/// thresholds and rules, and returns `{"passed": ..., "report": ...}` as JSON
/// (`antidote check --json` without an `antidote.toml`).
#[pyfunction]
fn check(py: Python<'_>, data: PathBuf, baseline: PathBuf, read: &str) -> PyResult<String> {
    let run = || -> anyhow::Result<String> {
        let baseline = errors::read_profile(&baseline)?;
        let current = profile_of(&data, &read_options(read)?)?;
        let mut report = validation::check(&baseline, &current, &validation::Thresholds::default());
        report.apply_rules(
            &current,
            &antidote_validate::rules::Rules::default(),
            &std::collections::BTreeMap::new(),
        );
        Ok(serde_json::to_string(
            &json!({ "passed": report.passed(), "report": report }),
        )?)
    };
    py.detach(run)
        .map_err(|error| to_python(&error, ErrorKind::Check))
}

/// cleanlab's `find_label_issues` under its defaults (prune by noise rate): whether each
/// record's label is an issue. `labels` is an Arrow `int64` array, `probabilities` the
/// row-major Arrow `float64` array of `class_count` columns (read in place, not copied).
#[pyfunction]
fn find_label_issues(
    py: Python<'_>,
    labels: PyArrowType<ArrayData>,
    probabilities: PyArrowType<ArrayData>,
    class_count: usize,
    frac_noise: f64,
    min_examples_per_class: usize,
) -> PyResult<PyArrowType<ArrayData>> {
    let (labels, probabilities) = (
        arrow_array::make_array(labels.0),
        arrow_array::make_array(probabilities.0),
    );
    let run = || -> anyhow::Result<ArrayData> {
        let labels = errors::dense::<Int64Type>(labels.as_ref(), "labels")?;
        let probabilities = errors::dense::<Float64Type>(probabilities.as_ref(), "pred_probs")?;
        let labels = labels
            .iter()
            .enumerate()
            .map(|(record, &label)| {
                usize::try_from(label).map_err(|_| {
                    UserError::new(
                        format!("record `{record}` is labelled `{label}`, not a class index"),
                        "labels are the class indices `0` to `K - 1` of the columns of `pred_probs`",
                    )
                })
            })
            .collect::<Result<Vec<usize>, UserError>>()?;
        let detector = LabelIssues::params()
            .noise_fraction(frac_noise)
            .min_records_per_class(min_examples_per_class)
            .check()?;
        let report = detector.run(&labels, probabilities, class_count)?;
        Ok(BooleanArray::from(report.flagged).into_data())
    };
    py.detach(run)
        .map(PyArrowType)
        .map_err(|error| to_python(&error, ErrorKind::LabelIssues))
}

/// The options of `antidote poison`, by their Python names.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PoisonOptions {
    rate: Option<f64>,
    target: Option<String>,
    #[serde(rename = "from")]
    from: Option<String>,
    sources: Option<Vec<String>>,
    source_count: Option<usize>,
    patch_size: Option<u32>,
    position: Option<String>,
    pattern: Option<String>,
    value: Option<u8>,
    alpha: Option<f64>,
    grid: Option<u32>,
    strength: Option<f64>,
    noise_rate: Option<f64>,
    amplitude: Option<f64>,
    frequency: Option<f64>,
    token: Option<String>,
    phrase: Option<String>,
    insert: Option<String>,
    trigger: Option<String>,
    payload: Option<String>,
    every: Option<usize>,
    copies: Option<usize>,
    fake_sources: Option<usize>,
    column: Option<String>,
}

/// A value of a named option, parsed as the command line parses it.
fn parse_option<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value
        .map(|text| {
            text.parse().map_err(|error: T::Err| {
                UserError::new(
                    format!("invalid value `{text}` for `{name}`: {error}"),
                    format!("see `antidote poison --help` for the values of `--{name}`"),
                )
                .into()
            })
        })
        .transpose()
}

impl PoisonOptions {
    fn into_attack_options(self) -> anyhow::Result<AttackOptions> {
        Ok(AttackOptions {
            rate: self.rate,
            target: self.target,
            from: self.from,
            sources: self.sources.unwrap_or_default(),
            source_count: self.source_count,
            patch_size: self.patch_size,
            position: parse_option("position", self.position)?,
            pattern: parse_option("pattern", self.pattern)?,
            value: self.value,
            alpha: self.alpha,
            pattern_image: None,
            grid: self.grid,
            strength: self.strength,
            noise_rate: self.noise_rate,
            amplitude: self.amplitude,
            frequency: self.frequency,
            token: self.token,
            phrase: self.phrase,
            insert: parse_option("insert", self.insert)?,
            trigger: self.trigger,
            payload: self.payload,
            every: self.every,
            copies: self.copies,
            fake_sources: self.fake_sources,
            column: self.column,
        })
    }
}

/// Writes a poisoned copy of the dataset at `data` to `output` and its truth to `truth`, and
/// returns the truth as JSON (`antidote poison`). Nothing is overwritten.
#[pyfunction]
#[pyo3(signature = (data, attack, output, truth, read, options, seed = 0))]
#[expect(
    clippy::too_many_arguments,
    reason = "the arguments of `antidote.poison`"
)]
fn poison(
    py: Python<'_>,
    data: PathBuf,
    attack: &str,
    output: PathBuf,
    truth: PathBuf,
    read: &str,
    options: &str,
    seed: u64,
) -> PyResult<String> {
    let run = || -> anyhow::Result<String> {
        let kind: AttackKind = parse_option("attack", Some(attack.to_owned()))?
            .expect("a given value parses to `Some`");
        let options: PoisonOptions = serde_json::from_str(options).map_err(|error| {
            UserError::new(
                format!("invalid attack options: {error}"),
                "see `antidote poison --help` for the options",
            )
        })?;
        let mut options = options.into_attack_options()?;
        kind.build(&options)
            .map_err(|error| errors::params_error(&error, kind))?;
        let read_options = read_options(read)?;
        if read_options.format.or_else(|| Format::detect(&data)) == Some(Format::Parquet) {
            return Err(UserError::new(
                format!(
                    "cannot write a poisoned copy of `{}`: writing Parquet is not supported yet",
                    data.display()
                ),
                "poison a CSV or JSON Lines export of it, e.g. `pandas.read_parquet(PATH).to_json(OUT, orient=\"records\", lines=True)`",
            )
            .into());
        }
        for path in [&output, &truth] {
            if path.exists() {
                return Err(UserError::new(
                    format!("`{}` already exists; antidote never overwrites data", path.display()),
                    "choose another output with `-o OUT` (and `--truth FILE`), or remove the old copy first",
                )
                .into());
            }
        }
        let mut dataset = Dataset::open(&data, &read_options)
            .with_context(|| format!("failed to open the dataset `{}`", data.display()))?;
        let format = dataset.format();
        let input = InMemoryDataset::read(&mut dataset)
            .with_context(|| format!("failed to read the dataset `{}`", data.display()))?;
        options.fit_to_format(kind, format);
        let attack = kind
            .build(&options)
            .map_err(|error| errors::params_error(&error, kind))?;
        let mut poisoned = attack
            .run(input, seed)
            .map_err(|error| errors::attack_error(&error))?;
        if format == Format::ImageFolder {
            poisoned.fit_ids_to_image_folder();
        }
        poisoned.write_with_truth(&output, format, &read_options, &truth)?;
        Ok(serde_json::to_string(&poisoned.truth)?)
    };
    py.detach(run)
        .map_err(|error| to_python(&error, ErrorKind::Poison))
}

/// The module: the functions above, the scan, and the exception classes.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_function(wrap_pyfunction!(lock, module)?)?;
    module.add_function(wrap_pyfunction!(verify, module)?)?;
    module.add_function(wrap_pyfunction!(profile, module)?)?;
    module.add_function(wrap_pyfunction!(check, module)?)?;
    module.add_function(wrap_pyfunction!(find_label_issues, module)?)?;
    module.add_function(wrap_pyfunction!(poison, module)?)?;
    module.add_function(wrap_pyfunction!(scan::scan, module)?)?;
    errors::register(module)
}

//! `antidote.scan`: the scan of `antidote scan`, with representations, images and
//! probabilities handed over as Arrow arrays, and the findings returned as an Arrow batch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use antidote_core::NoProgress;
use antidote_data::{Column, ColumnKind, Dataset, Image, Record, Role, Schema, Value};
use antidote_detect::DetectorId;
use antidote_detect::output::{FindingLine, Summary, SummaryContext};
use antidote_detect::policy::Policy;
use antidote_detect::scan::{ScanInput, ScanOptions, scan as run_scan};
use anyhow::Context;
use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder};
use arrow_array::types::{Float32Type, Float64Type, UInt8Type};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array, make_array,
};
use arrow_data::ArrayData;
use arrow_pyarrow::PyArrowType;
use pyo3::prelude::*;

use crate::errors::{ErrorKind, UserError, dense, to_python};

/// The name of the column the caller's `features` become: the scan's representation.
const FEATURES_COLUMN: &str = "features";
/// The name of the column the caller's `images` become.
const IMAGES_COLUMN: &str = "image";

/// Scans the dataset at `data` (`antidote scan`) and returns the findings, highest score first,
/// as an Arrow record batch, with `summary.json` as JSON text.
///
/// `probabilities` (Arrow `float32`, row-major, one column per class in the scan's class
/// order), `features` (`float64`, row-major, `feature_dim` columns) and `images` (`uint8`,
/// row-major, `image_shape` = height, width, channels) are read in place.
#[pyfunction]
#[pyo3(signature = (
    data, read, input_name, probabilities = None, features = None, feature_dim = 0,
    images = None, image_shape = None, detectors = None, seed = 0, folds = None
))]
#[expect(
    clippy::too_many_arguments,
    reason = "the keyword arguments of `antidote.scan`"
)]
pub(crate) fn scan(
    py: Python<'_>,
    data: PathBuf,
    read: &str,
    input_name: String,
    probabilities: Option<PyArrowType<ArrayData>>,
    features: Option<PyArrowType<ArrayData>>,
    feature_dim: usize,
    images: Option<PyArrowType<ArrayData>>,
    image_shape: Option<(u32, u32, u8)>,
    detectors: Option<Vec<String>>,
    seed: u64,
    folds: Option<usize>,
) -> PyResult<(PyArrowType<RecordBatch>, String)> {
    let probabilities = probabilities.map(|array| make_array(array.0));
    let features = features.map(|array| make_array(array.0));
    let images = images.map(|array| make_array(array.0));
    let run = || -> anyhow::Result<(RecordBatch, String)> {
        let started = Instant::now();
        let options = ScanOptions {
            seed,
            // The command line's default unless the caller chooses.
            folds: folds.unwrap_or(antidote_detect::scan::DEFAULT_FOLDS),
            detectors: chosen_detectors(detectors.as_deref())?,
            policy: Policy::default(),
        };
        let read_options: antidote_data::ReadOptions =
            serde_json::from_str(read).context("invalid reading options")?;
        let mut dataset = Dataset::open(&data, &read_options)
            .with_context(|| format!("failed to open the dataset `{input_name}`"))?;
        let mut schema = dataset.schema().clone();
        let mut records = dataset.by_ref().collect::<Result<Vec<Record>, _>>()?;
        if records.is_empty() {
            return Err(UserError::new(
                format!("`{input_name}` holds no records"),
                "scan a dataset with at least one record",
            )
            .into());
        }
        if let Some(features) = &features {
            let values = dense::<Float64Type>(features.as_ref(), "features")?;
            attach_features(&mut records, &mut schema, values, feature_dim)?;
        }
        if let Some(images) = &images {
            let pixels = dense::<UInt8Type>(images.as_ref(), "images")?;
            let shape = image_shape.context("`images` need their shape")?;
            attach_images(&mut records, &mut schema, pixels, shape)?;
        }
        let probabilities = probabilities
            .as_ref()
            .map(|array| dense::<Float32Type>(array.as_ref(), "pred_probs"))
            .transpose()?;
        let embedding = schema
            .columns
            .iter()
            .find(|column| column.role == Role::Embedding)
            .map(|column| column.name.clone());
        let input = ScanInput {
            records: &records,
            schema: &schema,
            probabilities,
            embedding: embedding.as_deref(),
        };
        let result = run_scan(input, &options, &NoProgress).context("the scan failed")?;
        let batch = findings_batch(&result, &records)?;
        let summary = Summary::new(
            &result,
            &records,
            SummaryContext {
                input: input_name.as_ref(),
                config: None,
                policy: &options.policy,
                seed,
                split: None,
                seconds: started.elapsed().as_secs_f64(),
            },
        );
        Ok((batch, serde_json::to_string(&summary.to_json()?)?))
    };
    py.detach(run)
        .map(|(batch, summary)| (PyArrowType(batch), summary))
        .map_err(|error| to_python(&error, ErrorKind::Scan))
}

/// The detectors to run: all, or the ones named.
fn chosen_detectors(
    names: Option<&[String]>,
) -> anyhow::Result<std::collections::BTreeSet<DetectorId>> {
    let Some(names) = names else {
        return Ok(DetectorId::ALL.into_iter().collect());
    };
    names
        .iter()
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
}

/// Checks that `values` holds `rows` rows of `width`.
fn check_rows(name: &str, values: usize, rows: usize, width: usize) -> anyhow::Result<()> {
    if width == 0 || values != rows * width {
        return Err(UserError::new(
            format!(
                "`{name}` has {values} values, expected {} ({rows} records x {width})",
                rows * width
            ),
            format!("give `{name}` one row per record"),
        )
        .into());
    }
    Ok(())
}

/// Adds each record's row of `values` as a vector column with the embedding role.
fn attach_features(
    records: &mut [Record],
    schema: &mut Schema,
    values: &[f64],
    width: usize,
) -> anyhow::Result<()> {
    check_rows("features", values.len(), records.len(), width)?;
    for column in &mut schema.columns {
        if column.role == Role::Embedding {
            column.role = Role::Feature;
        }
    }
    schema.columns.push(Column {
        name: FEATURES_COLUMN.to_owned(),
        kind: ColumnKind::Vector,
        role: Role::Embedding,
    });
    let name: Arc<str> = Arc::from(FEATURES_COLUMN);
    for (record, row) in records.iter_mut().zip(values.chunks_exact(width)) {
        let vector = row.iter().map(|&value| Value::Float(value)).collect();
        record.fields.push((Arc::clone(&name), Value::List(vector)));
    }
    Ok(())
}

/// Adds each record's image, cut from `pixels`, as the image column.
fn attach_images(
    records: &mut [Record],
    schema: &mut Schema,
    pixels: &[u8],
    (height, width, channels): (u32, u32, u8),
) -> anyhow::Result<()> {
    let size = height as usize * width as usize * usize::from(channels);
    check_rows("images", pixels.len(), records.len(), size)?;
    schema.columns.push(Column {
        name: IMAGES_COLUMN.to_owned(),
        kind: ColumnKind::Image,
        role: Role::Image,
    });
    let name: Arc<str> = Arc::from(IMAGES_COLUMN);
    for (record, image) in records.iter_mut().zip(pixels.chunks_exact(size)) {
        let image = Image {
            width,
            height,
            channels,
            pixels: image.to_vec(),
        };
        record.fields.push((Arc::clone(&name), Value::Image(image)));
    }
    Ok(())
}

/// The findings as columns: what `findings.jsonl` holds, plus each record's position.
fn findings_batch(
    result: &antidote_detect::scan::Scan,
    records: &[Record],
) -> anyhow::Result<RecordBatch> {
    let flagged: Vec<(u64, FindingLine)> = result
        .findings(records)
        .map(|flagged| (flagged.record.position, FindingLine::from(flagged)))
        .collect();
    let lines = || flagged.iter().map(|(_, line)| line);
    let text = |values: Vec<Option<String>>| -> ArrayRef { Arc::new(StringArray::from(values)) };
    let mut detectors = ListBuilder::new(StringBuilder::new());
    let mut confidences = ListBuilder::new(Float64Builder::new());
    let mut evidence = ListBuilder::new(StringBuilder::new());
    for line in lines() {
        for detector in &line.detectors {
            detectors.values().append_value(detector.name());
        }
        detectors.append(true);
        confidences
            .values()
            .append_slice(line.confidences.as_slice());
        confidences.append(true);
        for sentence in &line.evidence {
            evidence.values().append_value(sentence);
        }
        evidence.append(true);
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "position",
            Arc::new(UInt64Array::from_iter_values(
                flagged.iter().map(|(position, _)| *position),
            )),
        ),
        (
            "id",
            text(lines().map(|line| Some(line.id.to_string())).collect()),
        ),
        (
            "score",
            Arc::new(Float64Array::from_iter_values(
                lines().map(|line| line.score),
            )),
        ),
        (
            "tier",
            text(
                lines()
                    .map(|line| {
                        serde_json::to_value(line.tier)
                            .ok()
                            .and_then(|tier| tier.as_str().map(str::to_owned))
                    })
                    .collect(),
            ),
        ),
        (
            "quarantine",
            Arc::new(BooleanArray::from(
                lines().map(|line| line.quarantine).collect::<Vec<bool>>(),
            )),
        ),
        (
            "reason",
            text(lines().map(|line| line.reason.clone()).collect()),
        ),
        (
            "label",
            text(lines().map(|line| line.label.clone()).collect()),
        ),
        (
            "source",
            text(lines().map(|line| line.source.clone()).collect()),
        ),
        ("detectors", Arc::new(detectors.finish())),
        ("confidences", Arc::new(confidences.finish())),
        ("evidence", Arc::new(evidence.finish())),
    ];
    Ok(RecordBatch::try_from_iter(columns)?)
}

//! ONNX models on the CPU, with tract (pure Rust).

use std::path::{Path, PathBuf};

use antidote_data::Record;
use tract_onnx::prelude::{
    DatumExt, Framework, InferenceModelExt, IntoTValue, Tensor, TypedModel, TypedRunnableModel,
    tvec,
};
use tract_onnx::tract_hir::internal::{DimLike, Factoid};

use crate::features::InputShape;
use crate::{PredictError, Prediction, Predictor};

/// Records per run when the model's batch dimension is free.
const BATCH: usize = 64;

/// An ONNX model run on the CPU with tract.
///
/// Supported: one input of floating-point numbers whose first dimension is the batch (free,
/// like `N`, or fixed; a fixed batch is filled with zeros and the extra rows dropped) and whose
/// other dimensions are fixed; records are turned into that input as
/// [`InputShape`](crate::features) documents (images scaled to `[0, 1]`, numeric columns in
/// order). The output read is the first one that is either floating-point `[batch, classes]`
/// (probabilities or logits; the largest wins, and logits are turned into probabilities with a
/// softmax) or integer `[batch]` / `[batch, 1]` (class indices). Class `i` is the `i`-th name of
/// `classes`. Not supported: several inputs, text inputs (tokenizers), dynamic per-record
/// shapes, and scikit-learn's `ZipMap` outputs (export with `zipmap=False`).
pub struct OnnxPredictor {
    path: PathBuf,
    plan: TypedRunnableModel<TypedModel>,
    shape: InputShape,
    batch: usize,
    classes: Vec<String>,
}

impl std::fmt::Debug for OnnxPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxPredictor")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("batch", &self.batch)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

impl OnnxPredictor {
    /// Loads and compiles the model at `path`, whose output `i` means `classes[i]`.
    pub fn load(path: &Path, classes: Vec<String>) -> Result<Self, PredictError> {
        let load = |error: &dyn std::fmt::Display| PredictError::Load {
            kind: "ONNX model",
            path: path.to_owned(),
            message: error.to_string(),
        };
        let unsupported = |problem: String| PredictError::Unsupported {
            model: path.display().to_string(),
            problem,
        };
        let model = tract_onnx::onnx()
            .model_for_path(path)
            .map_err(|error| load(&format!("{error:#}")))?;
        let inputs = model.input_outlets().map_err(|error| load(&error))?.len();
        if inputs != 1 {
            return Err(unsupported(format!(
                "it has {inputs} inputs; the gate feeds models with one"
            )));
        }
        let fact = model.input_fact(0).map_err(|error| load(&error))?;
        let dims: Vec<Option<usize>> = fact
            .shape
            .dims()
            .map(|dim| dim.concretize().and_then(|dim| dim.to_usize().ok()))
            .collect();
        if dims.len() < 2 || fact.shape.is_open() {
            return Err(unsupported(format!(
                "its input has {} dimensions; the gate needs a batch dimension and the record's",
                dims.len()
            )));
        }
        let batch = dims[0].unwrap_or(BATCH);
        let record_dims: Vec<usize> = dims[1..]
            .iter()
            .map(|dim| {
                dim.ok_or_else(|| {
                    unsupported(
                        "only its batch (first) input dimension may be free; fix the others"
                            .to_owned(),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let mut full = vec![batch];
        full.extend(&record_dims);
        let plan = model
            .with_input_fact(0, f32::fact(&full).into())
            .and_then(InferenceModelExt::into_optimized)
            .and_then(TypedModel::into_runnable)
            .map_err(|error| load(&format!("{error:#}")))?;
        let predictor = Self {
            path: path.to_owned(),
            plan,
            shape: InputShape { dims: record_dims },
            batch,
            classes,
        };
        predictor.output_index()?;
        Ok(predictor)
    }

    /// The input of one record.
    #[must_use]
    pub fn input_shape(&self) -> &InputShape {
        &self.shape
    }

    /// The output to read: the first float `[batch, classes]` or integer `[batch]` output.
    fn output_index(&self) -> Result<usize, PredictError> {
        let model = self.plan.model();
        let outputs = model
            .output_outlets()
            .map_err(|error| self.run_error(&error))?;
        for (index, outlet) in outputs.iter().enumerate() {
            let fact = model
                .outlet_fact(*outlet)
                .map_err(|error| self.run_error(&error))?;
            let dims: Vec<Option<usize>> =
                fact.shape.iter().map(|dim| dim.to_usize().ok()).collect();
            let float = fact.datum_type.is_float();
            let integer = fact.datum_type.is_integer();
            let fits = match dims.as_slice() {
                [Some(_), Some(width)] if float => *width == self.classes.len(),
                [Some(_), Some(1)] | [Some(_)] if integer => true,
                _ => false,
            };
            if fits {
                return Ok(index);
            }
        }
        Err(PredictError::Unsupported {
            model: self.path.display().to_string(),
            problem: format!(
                "none of its {} outputs is a float `[batch, {}]` (one score per class of the golden set) or an integer `[batch]` of class indices",
                outputs.len(),
                self.classes.len()
            ),
        })
    }

    fn run_error(&self, error: &dyn std::fmt::Display) -> PredictError {
        PredictError::Run {
            model: self.path.display().to_string(),
            message: error.to_string(),
        }
    }

    fn run_batch(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
        let size = self.shape.size();
        let mut input = Vec::with_capacity(self.batch * size);
        for record in records {
            self.shape.write(record, &mut input)?;
        }
        input.resize(self.batch * size, 0.0);
        let mut dims = vec![self.batch];
        dims.extend(&self.shape.dims);
        let tensor = Tensor::from_shape(&dims, &input).map_err(|error| self.run_error(&error))?;
        let outputs = self
            .plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|error| self.run_error(&format!("{error:#}")))?;
        let output = &outputs[self.output_index()?];
        let classes = self.classes.len();
        if output.datum_type().is_float() {
            let output = output
                .cast_to::<f32>()
                .map_err(|error| self.run_error(&error))?;
            let scores = output
                .as_slice::<f32>()
                .map_err(|error| self.run_error(&error))?;
            Ok(scores
                .chunks_exact(classes)
                .take(records.len())
                .map(|row| {
                    let probabilities = probabilities(row);
                    let best = antidote_core::math::argmax(&probabilities);
                    Prediction {
                        label: self.classes[best].clone(),
                        probabilities: Some(probabilities),
                    }
                })
                .collect())
        } else {
            let output = output
                .cast_to::<i64>()
                .map_err(|error| self.run_error(&error))?;
            let indices = output
                .as_slice::<i64>()
                .map_err(|error| self.run_error(&error))?;
            indices
                .iter()
                .take(records.len())
                .map(|&index| {
                    let class = usize::try_from(index)
                        .ok()
                        .and_then(|index| self.classes.get(index))
                        .ok_or_else(|| {
                            self.run_error(&format!(
                                "it answered class index {index}, outside the {classes} classes"
                            ))
                        })?;
                    Ok(Prediction {
                        label: class.clone(),
                        probabilities: None,
                    })
                })
                .collect()
        }
    }
}

/// Scores as probabilities: kept when they already are (non-negative, summing to 1), else
/// passed through a softmax (logits).
fn probabilities(row: &[f32]) -> Vec<f32> {
    let sum: f32 = row.iter().sum();
    if row.iter().all(|&value| (0.0..=1.0).contains(&value)) && (sum - 1.0).abs() < 1e-3 {
        return row.to_vec();
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|&value| (value - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.into_iter().map(|value| value / total).collect()
}

impl Predictor for OnnxPredictor {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn classes(&self) -> Option<&[String]> {
        Some(&self.classes)
    }

    fn predict(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
        let mut predictions = Vec::with_capacity(records.len());
        for chunk in records.chunks(self.batch) {
            predictions.extend(self.run_batch(chunk)?);
        }
        Ok(predictions)
    }
}

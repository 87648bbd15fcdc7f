//! The saved model: a folder that holds everything needed to predict on raw records, and how it
//! was trained.
//!
//! ```text
//! model/
//!   model.safetensors   the weights, float32, one tensor per layer and kind
//!   model.json          format, architecture, class labels, featurizer state, training record
//! ```
//!
//! `model.safetensors` follows `PyTorch`'s `nn.Linear` convention, so that
//! `torch.nn.Sequential(Linear, ReLU, ..., Linear)` can load it after renaming: layer `i` (from 0
//! at the input) has `layers.{i}.weight`, shape `[outputs, inputs]`, and `layers.{i}.bias`, shape
//! `[outputs]`; a layer computes `x Wᵀ + b`, hidden layers are followed by `ReLU`, the last by
//! softmax over the classes. Logistic regression is the model with one layer.
//!
//! `model.json` (format `antidote-model`, version [`MODEL_FORMAT_VERSION`]) holds:
//!
//! - `architecture`: `kind` (`logistic` or `mlp`), `widths` (input features, hidden layers,
//!   classes), `hidden_activation` (`relu`), `output` (`softmax`);
//! - `weights`: the file name and its SHA-256, checked on load;
//! - `labels`: the class names, in class-index order (column `k` of the probabilities is
//!   `labels[k]`);
//! - `featurizer`: the fitted featurizer's state (per column: its encoding and what fitting
//!   learned: means and deviations, TF-IDF document frequencies, image size, hashing seeds), so
//!   that raw records are featurized as in training;
//! - `training`: the [`TrainingRecord`]: privacy asked for, `ε`, `δ`, noise multiplier `σ`,
//!   sampling rate `q`, steps, clipping norm `C`, epochs, batch size, seed, and the per-epoch
//!   curves;
//! - `data_root`: the Merkle root of the training records (the root `antidote lock` records),
//!   when known;
//! - `findings`: what the training watch reported.
//!
//! The folder is written whole or not at all ([`AtomicFolder`]).

use std::path::{Path, PathBuf};

use antidote_data::Record;
use antidote_data::output::{AtomicFolder, OutputError};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::watch::TrainingFinding;
use crate::{DpSgdModel, FeaturizeError, Featurizer, LabelIndex, TrainingRecord};

/// The version of `model.json` this crate writes and reads.
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// The format name in `model.json`.
const FORMAT: &str = "antidote-model";
/// The weights' file.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The description's file.
pub const METADATA_FILE: &str = "model.json";

/// Errors from saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("failed to access `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The output folder could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// `model.json` is not valid.
    #[error("`{path}` is not a valid model description")]
    Json {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: serde_json::Error,
    },
    /// `model.json` is of another format or version.
    #[error(
        "`{path}` is `{format}` version {version}; this antidote reads `antidote-model` version {MODEL_FORMAT_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: String,
        /// Its version.
        version: u32,
    },
    /// The weights do not match the description.
    #[error("`{path}`: {reason}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
}

/// A trained model with what it needs to predict on records: the featurizer, the class labels,
/// and where its data came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    /// The featurizer fitted on the training records.
    pub featurizer: Featurizer,
    /// The classes, by index.
    pub labels: LabelIndex,
    /// The network and its training record.
    pub model: DpSgdModel,
    /// The Merkle root of the training records, when known.
    pub data_root: Option<String>,
    /// What the training watch reported.
    pub findings: Vec<TrainingFinding>,
}

/// `model.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Description {
    format: String,
    format_version: u32,
    architecture: Architecture,
    weights: WeightsFile,
    labels: Vec<String>,
    data_root: Option<String>,
    training: TrainingRecord,
    findings: Vec<TrainingFinding>,
    featurizer: Featurizer,
}

#[derive(Debug, Serialize, Deserialize)]
struct Architecture {
    kind: String,
    widths: Vec<usize>,
    hidden_activation: String,
    output: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct WeightsFile {
    file: String,
    sha256: String,
}

impl SavedModel {
    /// The probability of every class for every record, `rows x classes`, row-major (columns
    /// in the order of [`labels`](Self::labels)).
    pub fn predict_proba(&self, records: &[Record]) -> Result<Vec<f32>, FeaturizeError> {
        let features = self.featurizer.transform(records)?;
        Ok(self.model.predict_proba(&features))
    }

    /// Writes the model to a new folder `path` (refused if anything is there), whole or not at
    /// all.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let folder = AtomicFolder::create_new(path)?;
        let weights_path = folder.staging().join(WEIGHTS_FILE);
        let bytes = self.weights_bytes().map_err(|reason| ModelError::Weights {
            path: path.join(WEIGHTS_FILE),
            reason,
        })?;
        fs_err::write(&weights_path, &bytes).map_err(|source| ModelError::Io {
            path: path.join(WEIGHTS_FILE),
            source,
        })?;
        let widths = self.model.widths().to_vec();
        let description = Description {
            format: FORMAT.to_owned(),
            format_version: MODEL_FORMAT_VERSION,
            architecture: Architecture {
                kind: if widths.len() == 2 { "logistic" } else { "mlp" }.to_owned(),
                widths,
                hidden_activation: "relu".to_owned(),
                output: "softmax".to_owned(),
            },
            weights: WeightsFile {
                file: WEIGHTS_FILE.to_owned(),
                sha256: sha256_hex(&bytes),
            },
            labels: self.labels.labels().to_vec(),
            data_root: self.data_root.clone(),
            training: self.model.record().clone(),
            findings: self.findings.clone(),
            featurizer: self.featurizer.clone(),
        };
        let mut json =
            serde_json::to_vec_pretty(&description).map_err(|source| ModelError::Json {
                path: path.join(METADATA_FILE),
                source,
            })?;
        json.push(b'\n');
        fs_err::write(folder.staging().join(METADATA_FILE), json).map_err(|source| {
            ModelError::Io {
                path: path.join(METADATA_FILE),
                source,
            }
        })?;
        folder.commit()?;
        Ok(())
    }

    /// Reads a model written by [`save`](Self::save), checking the weights' digest and shapes.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let json_path = path.join(METADATA_FILE);
        let text = fs_err::read(&json_path).map_err(|source| ModelError::Io {
            path: json_path.clone(),
            source,
        })?;
        // The format and version first, so that a newer file gets the version error.
        let header: serde_json::Value =
            serde_json::from_slice(&text).map_err(|source| ModelError::Json {
                path: json_path.clone(),
                source,
            })?;
        let format = header["format"].as_str().unwrap_or_default().to_owned();
        let version = header["format_version"]
            .as_u64()
            .map_or(0, |version| u32::try_from(version).unwrap_or(u32::MAX));
        if format != FORMAT || version != MODEL_FORMAT_VERSION {
            return Err(ModelError::Version {
                path: json_path,
                format,
                version,
            });
        }
        let description: Description =
            serde_json::from_value(header).map_err(|source| ModelError::Json {
                path: json_path.clone(),
                source,
            })?;
        let weights_path = path.join(&description.weights.file);
        let weights_error = |reason: String| ModelError::Weights {
            path: weights_path.clone(),
            reason,
        };
        let bytes = fs_err::read(&weights_path).map_err(|source| ModelError::Io {
            path: weights_path.clone(),
            source,
        })?;
        if sha256_hex(&bytes) != description.weights.sha256 {
            return Err(weights_error(format!(
                "its SHA-256 is not the `{}` that `{METADATA_FILE}` records: the weights were changed",
                description.weights.sha256
            )));
        }
        let widths = description.architecture.widths;
        let parameters = read_weights(&bytes, &widths).map_err(&weights_error)?;
        let labels = LabelIndex::from_labels(&description.labels);
        if labels.labels() != description.labels.as_slice() {
            return Err(weights_error(
                "the labels in `model.json` are not distinct and in antidote's order".to_owned(),
            ));
        }
        if widths.len() < 2
            || widths[widths.len() - 1] != labels.len()
            || widths[0] != description.featurizer.width()
        {
            return Err(weights_error(format!(
                "the widths {widths:?} do not fit {} features and {} classes",
                description.featurizer.width(),
                labels.len()
            )));
        }
        let model = DpSgdModel::from_parameters(widths, parameters, description.training)
            .ok_or_else(|| weights_error("the weights do not fit the widths".to_owned()))?;
        Ok(Self {
            featurizer: description.featurizer,
            labels,
            model,
            data_root: description.data_root,
            findings: description.findings,
        })
    }

    /// The safetensors bytes of the weights, in `PyTorch`'s layout.
    fn weights_bytes(&self) -> Result<Vec<u8>, String> {
        let widths = self.model.widths();
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (layer, (weights, bias)) in self.model.layers().into_iter().enumerate() {
            let (inputs, outputs) = (widths[layer], widths[layer + 1]);
            // Ours are `inputs x outputs`; PyTorch's `outputs x inputs`.
            let mut transposed = Vec::with_capacity(weights.len() * 4);
            for output in 0..outputs {
                for input in 0..inputs {
                    transposed.extend_from_slice(&weights[input * outputs + output].to_le_bytes());
                }
            }
            tensors.push((
                format!("layers.{layer}.weight"),
                vec![outputs, inputs],
                transposed,
            ));
            tensors.push((
                format!("layers.{layer}.bias"),
                vec![outputs],
                bias.iter().flat_map(|value| value.to_le_bytes()).collect(),
            ));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|error| error.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        safetensors::serialize(views, None).map_err(|error| error.to_string())
    }
}

/// The parameters of a network of `widths` from safetensors `bytes` in `PyTorch`'s layout.
fn read_weights(bytes: &[u8], widths: &[usize]) -> Result<Vec<f32>, String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|error| error.to_string())?;
    let expected = 2 * widths.len().saturating_sub(1);
    if tensors.len() != expected {
        return Err(format!(
            "{} tensors, but the architecture has {expected}",
            tensors.len()
        ));
    }
    let mut parameters = Vec::new();
    for (layer, pair) in widths.windows(2).enumerate() {
        let (inputs, outputs) = (pair[0], pair[1]);
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let tensor = tensors
                .tensor(name)
                .map_err(|_| format!("the tensor `{name}` is missing"))?;
            if tensor.dtype() != Dtype::F32 || tensor.shape() != shape {
                return Err(format!(
                    "the tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                    tensor.dtype(),
                    tensor.shape()
                ));
            }
            Ok(tensor
                .data()
                .chunks_exact(4)
                .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect())
        };
        let weights = read(&format!("layers.{layer}.weight"), &[outputs, inputs])?;
        let bias = read(&format!("layers.{layer}.bias"), &[outputs])?;
        for input in 0..inputs {
            for output in 0..outputs {
                parameters.push(weights[output * inputs + input]);
            }
        }
        parameters.extend(bias);
    }
    Ok(parameters)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            write!(hex, "{byte:02x}").expect("writing to a string cannot fail");
            hex
        })
}

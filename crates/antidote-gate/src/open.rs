//! One opener for every kind of model a location can name, and the model's identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use antidote_core::NoProgress;
use antidote_core::RecordId;
use antidote_data::{Record, Value};
use antidote_provenance::hashing::sha256_file;
use antidote_provenance::model::{HashOptions, hash_model};

use crate::saved::SavedModelPredictor;
use crate::{HttpOptions, HttpPredictor, ModelInfo, OnnxPredictor, PredictError, Predictor};

/// A predictor that can be shared between threads (the monitor's handlers and its prober).
pub type SharedPredictor = Box<dyn Predictor + Send + Sync>;

/// What kind of model a location names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// An `http://` or `https://` endpoint ([`HttpPredictor`]).
    Endpoint,
    /// A folder written by `antidote train` ([`SavedModelPredictor`]).
    Antidote,
    /// An ONNX file ([`OnnxPredictor`]).
    Onnx,
}

impl ModelKind {
    /// The kind of model at `location`, or `None` when nothing is there.
    #[must_use]
    pub fn of(location: &str) -> Option<Self> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Some(Self::Endpoint);
        }
        let path = Path::new(location);
        if SavedModelPredictor::is_model_folder(path) {
            Some(Self::Antidote)
        } else if path.is_file() {
            Some(Self::Onnx)
        } else {
            None
        }
    }
}

/// Opens the model at `location`: an `http://` or `https://` URL is an endpoint called with
/// `options`; a folder holding `model.json` is a model of `antidote train`; any other file is an
/// ONNX model whose output `i` means `classes[i]`.
///
/// ```no_run
/// use antidote_gate::{HttpOptions, open_predictor};
///
/// let classes = vec!["cat".to_owned(), "dog".to_owned()];
/// let model = open_predictor("model/", &classes, &HttpOptions::default())?;
/// println!("{}", model.name());
/// # Ok::<(), antidote_gate::PredictError>(())
/// ```
pub fn open_predictor(
    location: &str,
    classes: &[String],
    options: &HttpOptions,
) -> Result<SharedPredictor, PredictError> {
    match ModelKind::of(location) {
        Some(ModelKind::Endpoint) => Ok(Box::new(HttpPredictor::new(location, options.clone())?)),
        Some(ModelKind::Antidote) => Ok(Box::new(SavedModelPredictor::load(Path::new(location))?)),
        Some(ModelKind::Onnx) => Ok(Box::new(OnnxPredictor::load(
            Path::new(location),
            classes.to_vec(),
        )?)),
        None => Err(PredictError::Missing {
            location: location.to_owned(),
        }),
    }
}

/// A shared predictor behind an [`Arc`], as the monitor keeps it.
pub fn open_shared(
    location: &str,
    classes: &[String],
    options: &HttpOptions,
) -> Result<Arc<dyn Predictor + Send + Sync>, PredictError> {
    open_predictor(location, classes, options).map(Arc::from)
}

impl ModelInfo {
    /// Where the model is and what it is: the SHA-256 of a file, and for a file or a folder the
    /// root digest that `antidote sign-model` and OpenSSF `model_signing` compute (SHA-256 of
    /// every file, git files left out). An endpoint has neither.
    pub fn of(location: &str) -> Result<Self, PredictError> {
        let path = PathBuf::from(location);
        if ModelKind::of(location) == Some(ModelKind::Endpoint) || !path.exists() {
            return Ok(Self {
                location: location.to_owned(),
                sha256: None,
                root_digest: None,
            });
        }
        let hash_error = |message: String| PredictError::Load {
            kind: "model",
            path: path.clone(),
            message,
        };
        let sha256 = if path.is_file() {
            Some(
                sha256_file(&path)
                    .map_err(|error| hash_error(antidote_core::error_chain(&error)))?
                    .sha256
                    .to_string(),
            )
        } else {
            None
        };
        let manifest = hash_model(&path, &HashOptions::default(), &NoProgress)
            .map_err(|error| hash_error(antidote_core::error_chain(&error)))?;
        Ok(Self {
            location: location.to_owned(),
            sha256,
            root_digest: Some(manifest.root_digest().to_string()),
        })
    }
}

/// The record a model reads for a plain list of numbers (an event's `features`): assigned to
/// the model's [`input_columns`](Predictor::input_columns) in order when it names them, else one
/// field `features` holding the list (what an ONNX model reads as its input in order, and what
/// an endpoint receives).
pub fn features_record(
    predictor: &dyn Predictor,
    id: &str,
    features: &[f64],
) -> Result<Record, PredictError> {
    let number = |value: f64| Value::Float(value);
    let columns = predictor
        .input_columns()
        .map_err(|problem| PredictError::Input {
            id: id.to_owned(),
            problem,
        })?;
    let fields = match columns {
        None => vec![(
            Arc::from("features"),
            Value::List(features.iter().copied().map(number).collect()),
        )],
        Some(columns) => {
            let wanted: usize = columns.iter().map(|(_, width)| (*width).max(1)).sum();
            if wanted != features.len() {
                return Err(PredictError::Input {
                    id: id.to_owned(),
                    problem: format!(
                        "it has {} features, the model reads {wanted} (columns {})",
                        features.len(),
                        antidote_core::display::list_some(
                            &columns
                                .iter()
                                .map(|(name, _)| name.clone())
                                .collect::<Vec<_>>(),
                            6
                        )
                    ),
                });
            }
            let mut rest = features;
            columns
                .into_iter()
                .map(|(name, width)| {
                    let value = if width == 0 {
                        let value = number(rest[0]);
                        rest = &rest[1..];
                        value
                    } else {
                        let (taken, left) = rest.split_at(width);
                        rest = left;
                        Value::List(taken.iter().copied().map(number).collect())
                    };
                    (Arc::from(name.as_str()), value)
                })
                .collect()
        }
    };
    Ok(Record {
        position: 0,
        id: RecordId::from(id),
        label: None,
        source: None,
        fields,
    })
}

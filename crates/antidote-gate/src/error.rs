//! The errors of the gate.

use std::path::PathBuf;

/// An error from loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The model file or folder could not be read, checked or compiled.
    #[error("failed to load the {kind} `{path}`: {message}")]
    Load {
        /// What was loaded: `ONNX model`, `model folder` or `model`.
        kind: &'static str,
        /// The model file.
        path: PathBuf,
        /// What tract said.
        message: String,
    },
    /// Nothing is at the model's location.
    #[error("the model `{location}` does not exist")]
    Missing {
        /// The path given.
        location: String,
    },
    /// The certificate authority given for HTTPS cannot be used.
    #[error("failed to read the CA certificate `{path}`: {problem}")]
    Certificate {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The model's input or output is of a shape the gate does not support.
    #[error("the model `{model}` is not supported: {problem}")]
    Unsupported {
        /// The model.
        model: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// A record cannot be turned into the model's input.
    #[error("record `{id}` does not fit the model's input: {problem}")]
    Input {
        /// The record's id.
        id: String,
        /// What does not fit.
        problem: String,
    },
    /// The model failed while running.
    #[error("the model `{model}` failed: {message}")]
    Run {
        /// The model.
        model: String,
        /// What the runtime said.
        message: String,
    },
    /// The HTTP endpoint did not answer usefully, after every retry.
    #[error("the endpoint `{url}` failed after {attempts} attempts: {message}")]
    Http {
        /// The endpoint.
        url: String,
        /// How many requests were sent.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// The endpoint answered with something other than the documented JSON.
    #[error("the endpoint `{url}` answered {problem}")]
    Response {
        /// The endpoint.
        url: String,
        /// What is wrong with the answer.
        problem: String,
    },
}

/// An error from the gate as a whole.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A model failed.
    #[error(transparent)]
    Predict(#[from] PredictError),
    /// The golden set cannot be used.
    #[error("the golden set {problem}")]
    Golden {
        /// What is wrong with it.
        problem: String,
    },
    /// A trigger file cannot be read.
    #[error("failed to read the triggers `{path}`")]
    Triggers {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: TriggerFileError,
    },
    /// A gate decision cannot be read.
    #[error("failed to read the gate decision `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A gate decision cannot be written.
    #[error("failed to write the gate decision `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Why a trigger file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TriggerFileError {
    /// The file cannot be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not JSON of a known shape.
    #[error("{0}")]
    Invalid(String),
}

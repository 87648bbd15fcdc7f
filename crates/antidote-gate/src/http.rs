//! A model behind an HTTP endpoint: JSON in, labels out.
//!
//! The request is a `POST` of
//!
//! ```json
//! {"instances": [{"id": "r1", "features": {"age": 41, "text": "...",
//!   "image": {"width": 28, "height": 28, "channels": 1, "pixels": [0, 12, ...]}}}]}
//! ```
//!
//! with up to `batch` records, each with its id and its fields (labels and sources are never
//! sent; an image's pixels are row-major, channel-last, `0..=255`). The answer is
//!
//! ```json
//! {"predictions": ["cat", "dog"]}
//! ```
//!
//! one label per instance, in order (a number is read as its text, `3` as `"3"`; an object
//! `{"label": "cat"}` is read as its label). A request that times out, fails to connect, or is
//! answered with 429 or a 5xx status is retried with exponential backoff; any other status
//! fails at once.
//!
//! `https://` endpoints are reached with rustls: the server's certificate must chain to one of
//! Mozilla's root authorities (webpki-roots, built in; the system store is not read), or, with
//! [`HttpOptions::ca_cert`], to the authorities of a PEM file (a private CA) instead.

use std::path::PathBuf;
use std::time::Duration;

use antidote_data::{Record, Value};
use serde_json::json;

use crate::{PredictError, Prediction, Predictor};

/// How the endpoint is called.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Time allowed for one request, connection included.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// The wait before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// Records per request.
    pub batch: usize,
    /// A PEM file of the certificate authorities an `https://` endpoint's certificate must
    /// chain to, in place of the built-in Mozilla roots.
    pub ca_cert: Option<PathBuf>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retries: 3,
            backoff: Duration::from_millis(200),
            batch: 32,
            ca_cert: None,
        }
    }
}

/// A model served over HTTP (see the [module documentation](self) for the JSON).
#[derive(Debug)]
pub struct HttpPredictor {
    url: String,
    agent: ureq::Agent,
    options: HttpOptions,
}

impl HttpPredictor {
    /// A predictor for the endpoint at `url` (`http://host:port/path` or `https://...`).
    pub fn new(url: &str, options: HttpOptions) -> Result<Self, PredictError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PredictError::Unsupported {
                model: url.to_owned(),
                problem: "the endpoint must be an `http://` or `https://` URL".to_owned(),
            });
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &options.ca_cert {
            tls = tls.root_certs(read_authorities(path)?);
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(options.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .into();
        let mut options = options;
        options.batch = options.batch.max(1);
        Ok(Self {
            url: url.to_owned(),
            agent,
            options,
        })
    }

    fn request(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
        let body = json!({
            "instances": records.iter().map(instance).collect::<Vec<_>>(),
        });
        let mut wait = self.options.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.agent.post(&self.url).send_json(&body) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    if status == 200 {
                        let answer: serde_json::Value =
                            response.body_mut().read_json().map_err(|error| {
                                PredictError::Response {
                                    url: self.url.clone(),
                                    problem: format!("with a body that is not JSON: {error}"),
                                }
                            })?;
                        return self.predictions(&answer, records.len());
                    }
                    let message = format!("HTTP status {status}");
                    if status != 429 && status < 500 {
                        return Err(PredictError::Http {
                            url: self.url.clone(),
                            attempts: attempt,
                            message,
                        });
                    }
                    message
                }
                Err(error) => error.to_string(),
            };
            if attempt > self.options.retries {
                return Err(PredictError::Http {
                    url: self.url.clone(),
                    attempts: attempt,
                    message: failure,
                });
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
    }

    fn predictions(
        &self,
        answer: &serde_json::Value,
        expected: usize,
    ) -> Result<Vec<Prediction>, PredictError> {
        let invalid = |problem: String| PredictError::Response {
            url: self.url.clone(),
            problem,
        };
        let items = answer
            .get("predictions")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| invalid("without a `predictions` array".to_owned()))?;
        if items.len() != expected {
            return Err(invalid(format!(
                "{} predictions for {expected} instances",
                items.len()
            )));
        }
        items
            .iter()
            .map(|item| {
                let label = item.get("label").unwrap_or(item);
                match Value::from_json(label.clone()) {
                    Value::Text(text) => Some(text),
                    value @ (Value::Int(_) | Value::Float(_) | Value::Bool(_)) => value.to_label(),
                    _ => None,
                }
                .map(|label| Prediction {
                    label,
                    probabilities: None,
                })
                .ok_or_else(|| invalid(format!("`{item}` where a label belongs")))
            })
            .collect()
    }
}

/// The certificate authorities of a PEM file.
fn read_authorities(path: &std::path::Path) -> Result<ureq::tls::RootCerts, PredictError> {
    let invalid = |problem: String| PredictError::Certificate {
        path: path.to_owned(),
        problem,
    };
    let pem = fs_err::read(path).map_err(|error| invalid(error.to_string()))?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        // A private key beside the certificate is not needed, and not used.
        if let ureq::tls::PemItem::Certificate(certificate) =
            item.map_err(|error| invalid(error.to_string()))?
        {
            certificates.push(certificate);
        }
    }
    if certificates.is_empty() {
        return Err(invalid("it holds no `BEGIN CERTIFICATE` block".to_owned()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certificates))
}

/// One record as the endpoint receives it.
fn instance(record: &Record) -> serde_json::Value {
    let features: serde_json::Map<String, serde_json::Value> = record
        .fields
        .iter()
        .map(|(name, value)| {
            let json = match value {
                Value::Image(image) => json!({
                    "width": image.width,
                    "height": image.height,
                    "channels": image.channels,
                    "pixels": image.pixels,
                }),
                other => other.to_json(),
            };
            (name.to_string(), json)
        })
        .collect();
    json!({ "id": record.id.to_string(), "features": features })
}

impl Predictor for HttpPredictor {
    fn name(&self) -> String {
        self.url.clone()
    }

    fn classes(&self) -> Option<&[String]> {
        None
    }

    fn predict(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
        let mut predictions = Vec::with_capacity(records.len());
        for chunk in records.chunks(self.options.batch) {
            predictions.extend(self.request(chunk)?);
        }
        Ok(predictions)
    }
}

//! The deployed model itself (`antidote monitor --model MODEL_OR_URL`).
//!
//! With a model, the monitor does two more things:
//!
//! - **Predicts for events that carry only their input.** An event with `features` (a list of
//!   numbers) and no `predicted` is run through the model before it is read; it gets the
//!   model's `predicted` label, its `probabilities` and their largest as the `confidence`. The
//!   numbers fill the model's input columns in order (see `antidote_gate::features_record`).
//!   Events that carry a prediction are left exactly as sent.
//! - **Probes the canaries.** With the secret manifest of `antidote canary plant`, the canary
//!   inputs (planted, held-out and honeypot records) are sent through the model at start and
//!   then periodically ([`ModelWatch::spawn_prober`]), and the outcome is exported: per group the
//!   share answered with the canaries' assigned labels, and for planted canaries and honeypots
//!   the one-sided Fisher exact p-value against the held-out ones and whether the model
//!   memorised them (`antidote canary check --predictions`, live). A model that starts giving
//!   the planted canaries' random labels was trained on the planted copy of the data: the data
//!   left its owner, or the serving model was swapped for one trained on it.
//!
//! Metrics (appended to the monitor's own in the same exposition):
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `antidote_model_predictions_total` | counter | events the model predicted |
//! | `antidote_model_errors_total` | counter | model runs that failed (events refused, probes lost) |
//! | `antidote_model_canary_probes_total` | counter | canary probes run |
//! | `antidote_model_canary_last_probe_timestamp_seconds` | gauge | when the last probe ended |
//! | `antidote_model_canary_inputs{group}` | gauge | canary inputs the model answered |
//! | `antidote_model_canary_assigned_ratio{group}` | gauge | share answered with the assigned label |
//! | `antidote_model_canary_p_value{group}` | gauge | Fisher p-value against the held-out canaries |
//! | `antidote_model_canary_exposure_bits{group}` | gauge | `-log2(p)` |
//! | `antidote_model_canary_memorised{group}` | gauge | 1 when `p < alpha`: the alert |
//!
//! `group` is `planted`, `held_out` or `honeypot`.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use antidote_canary::{Group, Inputs, Manifest, MemorisationCheck, check_predictions};
use antidote_data::Record;
use antidote_gate::{PredictError, Predictor, features_record};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::{Map, Value, json};

type FloatGauge = Gauge<f64, AtomicU64>;

/// The default significance level of the canary probe.
pub const DEFAULT_PROBE_ALPHA: f64 = 0.001;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

/// Why a batch could not be completed with the model's predictions.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// An event's features do not fit the model (HTTP 422).
    #[error("line {line}: {reason}")]
    Input {
        /// The line of the body the event starts on, from 1.
        line: usize,
        /// What does not fit.
        reason: String,
    },
    /// The model failed (HTTP 503).
    #[error("the model failed: {0}")]
    Model(String),
}

/// The canaries to probe: the manifest and its inputs.
#[derive(Debug)]
struct Probe {
    manifest: Manifest,
    records: Vec<Record>,
    alpha: f64,
}

/// The deployed model, its canary probe and their metrics.
pub struct ModelWatch {
    predictor: Arc<dyn Predictor + Send + Sync>,
    probe: Option<Probe>,
    registry: Registry,
    predictions: Counter,
    errors: Counter,
    probes: Counter,
    last_probe: FloatGauge,
    canary_inputs: Family<GroupLabels, Gauge>,
    assigned_ratio: Family<GroupLabels, FloatGauge>,
    p_value: Family<GroupLabels, FloatGauge>,
    exposure_bits: Family<GroupLabels, FloatGauge>,
    memorised: Family<GroupLabels, Gauge>,
}

impl std::fmt::Debug for ModelWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWatch")
            .field("model", &self.predictor.name())
            .field(
                "canaries",
                &self.probe.as_ref().map(|probe| probe.records.len()),
            )
            .finish_non_exhaustive()
    }
}

impl ModelWatch {
    /// Watches `predictor`; with a manifest, probes its canary inputs at significance `alpha`.
    #[must_use]
    pub fn new(
        predictor: Arc<dyn Predictor + Send + Sync>,
        canaries: Option<Manifest>,
        alpha: f64,
    ) -> Self {
        let probe = canaries.map(|manifest| Probe {
            records: Inputs::of(&manifest)
                .records
                .into_iter()
                .map(|(_, _, record)| record)
                .collect(),
            manifest,
            alpha,
        });
        let mut registry = Registry::default();
        let predictions = Counter::default();
        registry.register(
            "antidote_model_predictions",
            "Events the model predicted (they came without a prediction)",
            predictions.clone(),
        );
        let errors = Counter::default();
        registry.register(
            "antidote_model_errors",
            "Model runs that failed",
            errors.clone(),
        );
        let probes = Counter::default();
        let last_probe = FloatGauge::default();
        let canary_inputs = Family::<GroupLabels, Gauge>::default();
        let assigned_ratio = Family::<GroupLabels, FloatGauge>::default();
        let p_value = Family::<GroupLabels, FloatGauge>::default();
        let exposure_bits = Family::<GroupLabels, FloatGauge>::default();
        let memorised = Family::<GroupLabels, Gauge>::default();
        if probe.is_some() {
            registry.register(
                "antidote_model_canary_probes",
                "Canary probes run",
                probes.clone(),
            );
            registry.register_with_unit(
                "antidote_model_canary_last_probe_timestamp",
                "When the last canary probe ended, since the Unix epoch",
                prometheus_client::registry::Unit::Seconds,
                last_probe.clone(),
            );
            registry.register(
                "antidote_model_canary_inputs",
                "Canary inputs the model answered in the last probe",
                canary_inputs.clone(),
            );
            registry.register(
                "antidote_model_canary_assigned_ratio",
                "Share of canary inputs answered with their assigned (random) label",
                assigned_ratio.clone(),
            );
            registry.register(
                "antidote_model_canary_p_value",
                "One-sided Fisher exact p-value of the group against the held-out canaries",
                p_value.clone(),
            );
            registry.register(
                "antidote_model_canary_exposure_bits",
                "Exposure of the group: -log2 of its p-value",
                exposure_bits.clone(),
            );
            registry.register(
                "antidote_model_canary_memorised",
                "1 when the model memorised the group (p-value below alpha)",
                memorised.clone(),
            );
        }
        Self {
            predictor,
            probe,
            registry,
            predictions,
            errors,
            probes,
            last_probe,
            canary_inputs,
            assigned_ratio,
            p_value,
            exposure_bits,
            memorised,
        }
    }

    /// The model's name (its path or URL).
    #[must_use]
    pub fn name(&self) -> String {
        self.predictor.name()
    }

    /// How many canary inputs it probes.
    #[must_use]
    pub fn canaries(&self) -> usize {
        self.probe.as_ref().map_or(0, |probe| probe.records.len())
    }

    /// A request body with the model's prediction added to every event that has `features` and
    /// no `predicted`; `None` when no event needed one (the body is read as sent). Values keep
    /// the line they started on, so that errors of the batch still name the right line. A body
    /// that is not JSON is left to the batch parser to report.
    ///
    /// # Panics
    ///
    /// Never in practice: a parsed JSON value always serialises into memory.
    #[expect(
        clippy::naive_bytecount,
        reason = "line breaks of one request body, bounded by the body limit: not worth a dependency"
    )]
    pub fn complete(&self, body: &[u8]) -> Result<Option<Vec<u8>>, CompleteError> {
        let mut values: Vec<(usize, usize, Value)> = Vec::new();
        let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
        loop {
            let start = stream.byte_offset()
                + body[stream.byte_offset()..]
                    .iter()
                    .take_while(|byte| byte.is_ascii_whitespace())
                    .count();
            match stream.next() {
                None => break,
                Some(Err(_)) => return Ok(None),
                Some(Ok(value)) => values.push((start, stream.byte_offset(), value)),
            }
        }
        let wanted: Vec<usize> = values
            .iter()
            .enumerate()
            .filter(|(_, (_, _, value))| {
                value.get("predicted").is_none() && value.get("features").is_some()
            })
            .map(|(index, _)| index)
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let line_of = |offset: usize| 1 + body[..offset].iter().filter(|&&b| b == b'\n').count();
        let mut records = Vec::with_capacity(wanted.len());
        for &index in &wanted {
            let (start, _, value) = &values[index];
            let invalid = |reason: String| CompleteError::Input {
                line: line_of(*start),
                reason,
            };
            let features: Vec<f64> = value["features"]
                .as_array()
                .and_then(|items| items.iter().map(Value::as_f64).collect())
                .ok_or_else(|| invalid("`features` is not a list of numbers".to_owned()))?;
            let id = value
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("line-{}", line_of(*start)), str::to_owned);
            records.push(
                features_record(self.predictor.as_ref(), &id, &features)
                    .map_err(|error| invalid(error.to_string()))?,
            );
        }
        let predictions = self.predictor.predict(&records).map_err(|error| {
            self.errors.inc();
            CompleteError::Model(error.to_string())
        })?;
        self.predictions.inc_by(predictions.len() as u64);
        let classes = self.predictor.classes().map(<[String]>::to_vec);
        for (&index, prediction) in wanted.iter().zip(predictions) {
            let Value::Object(event) = &mut values[index].2 else {
                continue;
            };
            event.insert("predicted".to_owned(), json!(prediction.label));
            if let (Some(probabilities), Some(classes)) = (&prediction.probabilities, &classes) {
                let map: Map<String, Value> = classes
                    .iter()
                    .zip(probabilities)
                    .map(|(class, probability)| {
                        (
                            class.clone(),
                            json!(f64::from(*probability).clamp(0.0, 1.0)),
                        )
                    })
                    .collect();
                let best = probabilities.iter().copied().fold(0.0_f32, f32::max);
                event.insert("probabilities".to_owned(), Value::Object(map));
                event
                    .entry("confidence")
                    .or_insert(json!(f64::from(best).clamp(0.0, 1.0)));
            }
        }
        let mut out = Vec::with_capacity(body.len() + 64 * wanted.len());
        let mut written = 0;
        for (index, (start, end, value)) in values.iter().enumerate() {
            out.extend_from_slice(&body[written..*start]);
            if wanted.contains(&index) {
                serde_json::to_writer(&mut out, value).expect("a JSON value serialises");
                // As many line breaks as the value spanned, so later lines keep their numbers.
                let breaks = body[*start..*end].iter().filter(|&&b| b == b'\n').count();
                out.extend(std::iter::repeat_n(b'\n', breaks));
            } else {
                out.extend_from_slice(&body[*start..*end]);
            }
            written = *end;
        }
        out.extend_from_slice(&body[written..]);
        Ok(Some(out))
    }

    /// Runs the canary inputs through the model and sets the canary metrics; `None` without
    /// canaries.
    #[must_use]
    pub fn probe(&self) -> Option<Result<MemorisationCheck, PredictError>> {
        let probe = self.probe.as_ref()?;
        Some(self.run_probe(probe))
    }

    fn run_probe(&self, probe: &Probe) -> Result<MemorisationCheck, PredictError> {
        let predictions = self.predictor.predict(&probe.records).inspect_err(|_| {
            self.errors.inc();
        })?;
        let predictions: Vec<antidote_canary::Prediction> = probe
            .records
            .iter()
            .zip(predictions)
            .map(|(record, prediction)| antidote_canary::Prediction {
                id: record.id.to_string(),
                confidence: prediction
                    .probabilities
                    .as_ref()
                    .map(|row| f64::from(row.iter().copied().fold(0.0_f32, f32::max))),
                label: Some(prediction.label),
            })
            .collect();
        let check =
            check_predictions(&probe.manifest, &predictions, probe.alpha).map_err(|error| {
                PredictError::Run {
                    model: self.predictor.name(),
                    message: format!("the canary probe failed: {error}"),
                }
            })?;
        self.probes.inc();
        let labels = |group: Group| GroupLabels {
            group: crate::canaries::kind_label(group).to_owned(),
        };
        let mut groups = vec![(Group::HeldOut, check.held_out, None)];
        groups.push((Group::Planted, check.planted.outcome, Some(check.planted)));
        if let Some(honeypots) = check.honeypots {
            groups.push((Group::Honeypot, honeypots.outcome, Some(honeypots)));
        }
        for (group, outcome, comparison) in groups {
            let labels = labels(group);
            self.canary_inputs
                .get_or_create(&labels)
                .set(i64::try_from(outcome.predicted).unwrap_or(i64::MAX));
            self.assigned_ratio.get_or_create(&labels).set(outcome.rate);
            if let Some(comparison) = comparison {
                self.p_value.get_or_create(&labels).set(comparison.p_value);
                self.exposure_bits
                    .get_or_create(&labels)
                    .set(comparison.exposure_bits);
                self.memorised
                    .get_or_create(&labels)
                    .set(i64::from(comparison.memorised));
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64());
        self.last_probe.set(now);
        Ok(check)
    }

    /// Probes the canaries now and then every `every`, on a thread of its own, for as long as
    /// the process runs; a failed probe is logged and counted, and the next one runs as planned.
    ///
    /// # Panics
    ///
    /// When the operating system cannot start a thread.
    #[must_use]
    pub fn spawn_prober(self: &Arc<Self>, every: Duration) -> Option<std::thread::JoinHandle<()>> {
        self.probe.as_ref()?;
        let watch = Arc::clone(self);
        Some(std::thread::spawn(move || {
            loop {
                match watch.probe() {
                    Some(Ok(check)) if check.failed() => tracing::warn!(
                        "the model `{}` memorised the canaries: planted p = {:.3e}",
                        watch.name(),
                        check.planted.p_value
                    ),
                    Some(Ok(_)) | None => {}
                    Some(Err(error)) => tracing::error!("canary probe: {error}"),
                }
                std::thread::sleep(every);
            }
        }))
    }

    /// The monitor's OpenMetrics text with these metrics appended before its `# EOF`.
    ///
    /// # Panics
    ///
    /// Never: writing to a `String` cannot fail.
    #[must_use]
    pub fn append_metrics<'a>(&self, openmetrics: &'a str) -> Cow<'a, str> {
        let head = openmetrics.strip_suffix("# EOF\n").unwrap_or(openmetrics);
        let mut text = head.to_owned();
        prometheus_client::encoding::text::encode_registry(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        prometheus_client::encoding::text::encode_eof(&mut text)
            .expect("writing to a String cannot fail");
        Cow::Owned(text)
    }
}

/// The body of `POST /v1/events` with the model's predictions added (see
/// [`ModelWatch::complete`]), run off the async runtime; without a model, the body as sent. An
/// event whose features do not fit answers 422 naming its line; a model that fails, 503.
pub(crate) async fn complete_body(
    model: Option<&Arc<ModelWatch>>,
    body: axum::body::Bytes,
) -> Result<axum::body::Bytes, axum::response::Response> {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    let Some(model) = model else {
        return Ok(body);
    };
    let model = Arc::clone(model);
    let sent = body.clone();
    let completed = tokio::task::spawn_blocking(move || model.complete(&sent)).await;
    let (status, body) = match completed {
        Ok(Ok(None)) => return Ok(body),
        Ok(Ok(Some(completed))) => return Ok(completed.into()),
        Ok(Err(CompleteError::Input { line, reason })) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": format!("line {line}: {reason}"), "line": line}),
        ),
        Ok(Err(error @ CompleteError::Model(_))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": format!("the events were not stored: {error}")}),
        ),
        Err(join_error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("the events were not stored: {join_error}")}),
        ),
    };
    Err((status, axum::Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use antidote_gate::Prediction;

    use super::*;

    /// A one-feature model: `pos` above zero, `neg` below, with a softmax-like probability.
    #[derive(Debug)]
    struct Sign;

    impl Predictor for Sign {
        fn name(&self) -> String {
            "sign".to_owned()
        }

        fn classes(&self) -> Option<&[String]> {
            None
        }

        fn predict(&self, records: &[Record]) -> Result<Vec<Prediction>, PredictError> {
            records
                .iter()
                .map(|record| {
                    let antidote_data::Value::List(items) = &record.fields[0].1 else {
                        return Err(PredictError::Input {
                            id: record.id.to_string(),
                            problem: "no list".to_owned(),
                        });
                    };
                    let x = items[0].as_f64().expect("a number");
                    Ok(Prediction {
                        label: if x > 0.0 { "pos" } else { "neg" }.to_owned(),
                        probabilities: None,
                    })
                })
                .collect()
        }
    }

    fn watch() -> ModelWatch {
        ModelWatch::new(Arc::new(Sign), None, DEFAULT_PROBE_ALPHA)
    }

    #[test]
    fn only_events_without_a_prediction_are_completed_and_lines_keep_their_numbers() {
        let body = b"{\"predicted\": \"x\", \"confidence\": 0.5}\n{\n  \"features\": [2.0]\n}\n{\"features\": [-1], \"confidence\": 0.7}\n";
        let completed = watch()
            .complete(body)
            .unwrap()
            .expect("two events completed");
        let text = String::from_utf8(completed).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "{\"predicted\": \"x\", \"confidence\": 0.5}");
        assert_eq!(lines[1], r#"{"features":[2.0],"predicted":"pos"}"#);
        assert_eq!(lines[2..4], ["", ""], "the object spanned three lines");
        assert_eq!(
            lines[4],
            r#"{"confidence":0.7,"features":[-1],"predicted":"neg"}"#
        );
        assert!(
            watch()
                .complete(b"{\"predicted\": \"x\", \"confidence\": 0.5}")
                .unwrap()
                .is_none()
        );
        assert!(watch().complete(b"{not json").unwrap().is_none());
        let error = watch().complete(b"\n{\"features\": [\"a\"]}").unwrap_err();
        assert!(
            matches!(error, CompleteError::Input { line: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn the_model_metrics_go_before_the_end_of_the_exposition() {
        let watch = watch();
        watch.complete(b"{\"features\": [1]}").unwrap();
        let text = watch.append_metrics("# TYPE x gauge\nx 1\n# EOF\n");
        assert!(text.starts_with("# TYPE x gauge\nx 1\n"), "{text}");
        assert!(
            text.contains("antidote_model_predictions_total 1\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    }
}

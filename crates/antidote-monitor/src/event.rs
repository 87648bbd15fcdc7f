//! Prediction events: what a deployed model reports for every prediction it makes, and how a
//! request body (one JSON object, or a batch of them as JSON Lines) is read into them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest label, model version or id accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// One prediction of the deployed model.
///
/// ```json
/// {"id": "req-17", "time": "2026-01-02T03:04:05Z", "model_version": "v3",
///  "predicted": "spam", "confidence": 0.93,
///  "probabilities": {"spam": 0.93, "ham": 0.07}, "input": "win a free cruise"}
/// ```
///
/// Only `predicted` is required, with `confidence` or `probabilities` (which then gives the
/// predicted class's probability as the confidence). Unknown fields are refused, so that a
/// misspelt field name is an error rather than a silently missing value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The caller's id for the prediction (a request id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the prediction was made, in seconds since the Unix epoch; written as an RFC 3339
    /// string or a number. The time the event was received when absent.
    #[serde(
        default,
        deserialize_with = "deserialize_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<f64>,
    /// The model version that made the prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// The predicted label, as the baseline profile names labels (a number is read as its text).
    #[serde(deserialize_with = "deserialize_label")]
    pub predicted: String,
    /// The model's confidence in its prediction, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The probability of every class, when the model gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<BTreeMap<String, f64>>,
    /// The input text, where the model reads text: matched against the known triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The input features or embedding, where the model reads numbers: compared in order with
    /// the baseline profile's numeric feature columns, or, when their count differs and the
    /// profile has a vector column, as that embedding (its norm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<f64>>,
    /// Named numeric input fields, by the baseline profile's column names
    /// (`{"age": 41, "income": 52000}`): compared with those columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, f64>>,
}

impl Event {
    /// The confidence given, else the predicted class's probability.
    #[must_use]
    pub fn confidence(&self) -> Option<f64> {
        self.confidence.or_else(|| {
            self.probabilities
                .as_ref()
                .and_then(|probabilities| probabilities.get(&self.predicted).copied())
        })
    }

    /// Checks the values serde cannot: ranges, lengths, and that a confidence is known.
    pub fn validate(&self) -> Result<(), String> {
        if self.predicted.is_empty() {
            return Err("`predicted` is empty".to_owned());
        }
        for (field, value) in [
            ("predicted", Some(&self.predicted)),
            ("id", self.id.as_ref()),
            ("model_version", self.model_version.as_ref()),
        ] {
            if let Some(value) = value
                && value.len() > MAX_NAME_BYTES
            {
                return Err(format!(
                    "`{field}` is {} bytes long, at most {MAX_NAME_BYTES} are accepted",
                    value.len()
                ));
            }
        }
        if let Some(time) = self.time
            && !time.is_finite()
        {
            return Err("`time` is not a finite number".to_owned());
        }
        if let Some(probabilities) = &self.probabilities {
            for (class, probability) in probabilities {
                if !(0.0..=1.0).contains(probability) {
                    return Err(format!(
                        "`probabilities` of `{class}` is {probability}, not between 0 and 1"
                    ));
                }
            }
        }
        match self.confidence() {
            None if self.confidence.is_none() && self.probabilities.is_some() => Err(format!(
                "`probabilities` has no entry for the predicted class `{}`, and there is no `confidence`",
                self.predicted
            )),
            None => Err("missing field `confidence` (or `probabilities`)".to_owned()),
            Some(confidence) if !(0.0..=1.0).contains(&confidence) => {
                Err(format!("`confidence` is {confidence}, not between 0 and 1"))
            }
            Some(_) => Ok(()),
        }?;
        if let Some(features) = &self.features
            && let Some(position) = features.iter().position(|value| !value.is_finite())
        {
            return Err(format!(
                "`features` value {position} is not a finite number"
            ));
        }
        if let Some(fields) = &self.fields {
            for (name, value) in fields {
                if name.len() > MAX_NAME_BYTES {
                    return Err(format!(
                        "a `fields` name is {} bytes long, at most {MAX_NAME_BYTES} are accepted",
                        name.len()
                    ));
                }
                if !value.is_finite() {
                    return Err(format!("`fields` value `{name}` is not a finite number"));
                }
            }
        }
        Ok(())
    }
}

/// Why a request body holds no valid batch of events.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The body holds no event.
    #[error("the body holds no event: send one JSON object, or JSON Lines with one event per line")]
    Empty,
    /// The body is not JSON (or not UTF-8) at a line.
    #[error("line {line}: not valid JSON: {reason}")]
    Syntax {
        /// The line of the body, from 1.
        line: usize,
        /// The parser's reason.
        reason: String,
    },
    /// A value is JSON but not a valid event.
    #[error("line {line}: not a valid event: {reason}")]
    Invalid {
        /// The line of the body the event starts on, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The batch holds more events than one request may.
    #[error("the batch holds more than {limit} events; split it")]
    TooMany {
        /// The most events one request may hold.
        limit: usize,
    },
}

impl BatchError {
    /// The line of the body the error is on, when it is on one.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } | Self::Invalid { line, .. } => Some(*line),
            Self::Empty | Self::TooMany { .. } => None,
        }
    }

    /// Whether the body is not JSON at all (HTTP 400) rather than JSON that is not an event
    /// (HTTP 422).
    #[must_use]
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Syntax { .. } | Self::Empty)
    }
}

/// Reads a request body: one JSON object, or JSON Lines (one event per line; blank lines are
/// skipped). A pretty-printed object spanning several lines is one event. Errors name the line
/// of the body the failing event starts on.
///
/// ```
/// use antidote_monitor::event::parse_batch;
///
/// let body = b"{\"predicted\": \"spam\", \"confidence\": 0.9}\n{\"predicted\": 3, \"confidence\": 0.5}\n";
/// let events = parse_batch(body, 100).unwrap();
/// assert_eq!(events[1].predicted, "3");
/// let error = parse_batch(b"{\"predicted\": \"a\", \"confidence\": 0.1}\n{\"predicted\": \"b\"}", 100).unwrap_err();
/// assert_eq!(error.line(), Some(2));
/// ```
pub fn parse_batch(body: &[u8], limit: usize) -> Result<Vec<Event>, BatchError> {
    // Lines are counted on from the previous value's start: once over the body in all.
    let (mut counted_to, mut line) = (0, 1);
    let mut line_at = |offset: usize| {
        let offset = offset.min(body.len());
        line += bytecount(&body[counted_to..offset], b'\n');
        counted_to = offset;
        line
    };
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    let mut events = Vec::new();
    loop {
        // The value starts at the first non-whitespace byte after the previous one.
        let start = stream.byte_offset()
            + body[stream.byte_offset()..]
                .iter()
                .take_while(|byte| byte.is_ascii_whitespace())
                .count();
        let Some(value) = stream.next() else { break };
        let value = value.map_err(|error| BatchError::Syntax {
            line: error.line(),
            reason: strip_position(&error.to_string()),
        })?;
        let line = line_at(start);
        if events.len() == limit {
            return Err(BatchError::TooMany { limit });
        }
        if !value.is_object() {
            return Err(BatchError::Invalid {
                line,
                reason: format!("expected a JSON object, found {}", kind(&value)),
            });
        }
        let event: Event = serde_json::from_value(value).map_err(|error| BatchError::Invalid {
            line,
            reason: error.to_string(),
        })?;
        event
            .validate()
            .map_err(|reason| BatchError::Invalid { line, reason })?;
        events.push(event);
    }
    if events.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(events)
}

/// `serde_json`'s message without its trailing ` at line L column C`: the line is reported apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[expect(
    clippy::naive_bytecount,
    reason = "a body is scanned once, on the side of parsing it"
)]
fn bytecount(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&each| each == byte).count()
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array (send one event per line instead)",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A label written as a string or a number.
fn deserialize_label<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Label {
        Text(String),
        Integer(i64),
    }
    match Label::deserialize(deserializer) {
        Ok(Label::Text(text)) => Ok(text),
        Ok(Label::Integer(number)) => Ok(number.to_string()),
        Err(_) => Err(serde::de::Error::custom(
            "`predicted` must be a label: a string or an integer",
        )),
    }
}

/// A time written as RFC 3339 or as seconds since the Unix epoch.
fn deserialize_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Time {
        Seconds(f64),
        Text(String),
    }
    match Option::<Time>::deserialize(deserializer) {
        Ok(None) => Ok(None),
        Ok(Some(Time::Seconds(seconds))) => Ok(Some(seconds)),
        Ok(Some(Time::Text(text))) => chrono::DateTime::parse_from_rfc3339(&text)
            .map(|time| Some(time.timestamp_micros() as f64 / 1e6))
            .map_err(|error| {
                serde::de::Error::custom(format!(
                    "`time` `{text}` is not an RFC 3339 time ({error}); write `2026-01-02T03:04:05Z` or seconds since the epoch"
                ))
            }),
        Err(_) => Err(serde::de::Error::custom(
            "`time` must be an RFC 3339 string or seconds since the epoch",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pretty_object_is_one_event() {
        let body = b"{\n  \"predicted\": \"a\",\n  \"confidence\": 0.5,\n  \"time\": \"1970-01-01T00:01:00Z\"\n}\n";
        let events = parse_batch(body, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].time, Some(60.0));
    }

    #[test]
    fn confidence_comes_from_the_probabilities() {
        let body = br#"{"predicted": "b", "probabilities": {"a": 0.25, "b": 0.75}}"#;
        let events = parse_batch(body, 10).unwrap();
        assert_eq!(events[0].confidence(), Some(0.75));
    }

    #[test]
    fn errors_name_the_line_of_the_batch() {
        let good = r#"{"predicted": "a", "confidence": 0.5}"#;
        let body = format!("{good}\n\n{good}\n{{\"predicted\": \"a\", \"confidence\": 1.7}}\n");
        let error = parse_batch(body.as_bytes(), 10).unwrap_err();
        assert_eq!(error.line(), Some(4), "{error}");
        assert!(!error.is_syntax());
        assert!(error.to_string().contains("`confidence` is 1.7"), "{error}");

        let body = format!("{good}\n{{\"predicted\": \"a\", \"confidence\": 0.5\n");
        let error = parse_batch(body.as_bytes(), 10).unwrap_err();
        assert!(error.is_syntax());
        assert_eq!(error.line(), Some(3), "{error}");

        let body = format!("{good}\n{{\"predicted\": \"a\", \"confidenc\": 0.5}}\n");
        let error = parse_batch(body.as_bytes(), 10).unwrap_err();
        assert_eq!(error.line(), Some(2));
        assert!(
            error.to_string().contains("unknown field `confidenc`"),
            "{error}"
        );
    }

    #[test]
    fn empty_arrays_and_oversized_batches_are_refused() {
        assert_eq!(parse_batch(b" \n ", 10), Err(BatchError::Empty));
        assert!(
            parse_batch(b"[]", 10)
                .unwrap_err()
                .to_string()
                .contains("an array")
        );
        let body = r#"{"predicted": "a", "confidence": 0.5}"#.repeat(3);
        assert_eq!(
            parse_batch(body.as_bytes(), 2),
            Err(BatchError::TooMany { limit: 2 })
        );
    }
}

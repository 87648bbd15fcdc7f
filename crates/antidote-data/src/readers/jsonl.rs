//! JSON Lines: one JSON object per line, and instruction-tuning data in the same container.
//!
//! Keys become columns in order of first appearance; kinds are inferred from the first rows.
//! A key that first appears later is still read (its kind is then unknown to the schema).
//! Blank lines are skipped.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{INFERENCE_SAMPLE, Names, Row, RowSource};
use crate::limits::{Limits, Position};
use crate::{ColumnKind, KindInference, ReadError, Value};

/// A streaming JSON Lines reader.
///
/// Lines are read as bytes up to the per-record limit, so a line that never ends (a gzip bomb,
/// a binary file) stops at the limit; each line is then checked to be UTF-8 and parsed with
/// `serde_json`, whose nesting limit (128) turns a nested-array bomb into an error instead of a
/// stack overflow.
pub(crate) struct JsonlSource {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    line_number: u64,
    /// Bytes consumed so far (of the decompressed text): where the next line starts.
    offset: u64,
    line: Vec<u8>,
    limit: u64,
    names: Names,
    columns: Vec<(Arc<str>, ColumnKind)>,
    buffered: VecDeque<Result<Row, ReadError>>,
    instruction: bool,
    done: bool,
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Whether the keys are those of instruction-tuning data: Alpaca-style `instruction` and
/// `output`, chat `messages`, or `prompt` with `completion` / `response`.
fn is_instruction_shape(keys: &[&str]) -> bool {
    let has = |key: &str| keys.contains(&key);
    (has("instruction") && (has("output") || has("response")))
        || has("messages")
        || (has("prompt") && (has("completion") || has("response")))
}

impl JsonlSource {
    pub(crate) fn open(path: &Path, limits: Limits) -> Result<Self, ReadError> {
        let mut source = Self {
            path: path.to_owned(),
            input: super::open_maybe_gz(path)?,
            line_number: 0,
            offset: 0,
            line: Vec::new(),
            limit: limits.max_record_bytes,
            names: Names::default(),
            columns: Vec::new(),
            buffered: VecDeque::new(),
            instruction: false,
            done: false,
        };
        let mut order: Vec<Arc<str>> = Vec::new();
        let mut inference: Vec<KindInference> = Vec::new();
        // The sample is bounded in bytes too: a thousand lines near the limit would not fit.
        while source.buffered.len() < INFERENCE_SAMPLE && source.offset < source.limit {
            let Some(next) = source.read_row() else { break };
            if let Ok(row) = &next {
                for (name, value) in &row.values {
                    let index = if let Some(index) = order.iter().position(|known| known == name) {
                        index
                    } else {
                        order.push(Arc::clone(name));
                        inference.push(KindInference::default());
                        order.len() - 1
                    };
                    inference[index].observe(value);
                }
            }
            let fatal = matches!(&next, Err(error) if !error.is_record_level());
            source.buffered.push_back(next);
            if fatal {
                break;
            }
        }
        source.columns = order
            .into_iter()
            .zip(&inference)
            .map(|(name, column)| (name, column.kind()))
            .collect();
        let keys: Vec<&str> = source.columns.iter().map(|(name, _)| &**name).collect();
        source.instruction = is_instruction_shape(&keys);
        Ok(source)
    }

    /// Whether the file holds instruction-tuning data.
    pub(crate) fn is_instruction(&self) -> bool {
        self.instruction
    }

    /// Reads the next line into `self.line` (without its newline), at most `limit` bytes.
    /// Returns `Ok(false)` at the end of the input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.line.clear();
        let start = self.offset;
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            };
            if available.is_empty() {
                return Ok(!self.line.is_empty() || self.offset > start);
            }
            let (take, ended) = match available.iter().position(|byte| *byte == b'\n') {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let kept = if ended { take - 1 } else { take };
            if (self.line.len() + kept) as u64 > self.limit {
                return Err(ReadError::RecordTooLarge {
                    path: self.path.clone(),
                    at: Position::Line {
                        line: self.line_number + 1,
                        byte: start,
                    },
                    limit: self.limit,
                });
            }
            self.line.extend_from_slice(&available[..kept]);
            self.input.consume(take);
            self.offset += take as u64;
            if ended {
                return Ok(true);
            }
        }
    }

    fn read_row(&mut self) -> Option<Result<Row, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            let start = self.offset;
            match self.read_line() {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {}
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
            self.line_number += 1;
            let line = self.line_number;
            let text = match std::str::from_utf8(&self.line) {
                Ok(text) => text.trim(),
                Err(source) => {
                    return Some(Err(ReadError::InvalidUtf8 {
                        path: self.path.clone(),
                        at: Position::Line { line, byte: start },
                        source,
                    }));
                }
            };
            if text.is_empty() {
                continue;
            }
            let parsed: serde_json::Value = match serde_json::from_str(text) {
                Ok(parsed) => parsed,
                Err(source) => {
                    return Some(Err(ReadError::Json {
                        path: self.path.clone(),
                        line,
                        source,
                    }));
                }
            };
            let serde_json::Value::Object(object) = parsed else {
                return Some(Err(ReadError::NotAnObject {
                    path: self.path.clone(),
                    line,
                    found: json_kind(&parsed),
                }));
            };
            let values = object
                .into_iter()
                .map(|(key, value)| (self.names.get(&key), Value::from_json(value)))
                .collect();
            return Some(Ok(Row { line, values }));
        }
    }
}

impl RowSource for JsonlSource {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        match self.buffered.pop_front() {
            Some(next) => Some(next),
            None => self.read_row(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{Dataset, Format, ReadOptions, Role};

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    #[test]
    fn reads_objects_and_infers_roles() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "d.jsonl",
            "{\"id\": \"a\", \"label\": 1, \"embedding\": [0.5, 1.0]}\n\n{\"id\": \"b\", \"label\": 2.0, \"embedding\": [1, 2], \"extra\": true}\n",
        );
        let dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), Format::Jsonl);
        assert_eq!(
            dataset.schema().column("embedding").unwrap().role,
            Role::Embedding
        );
        let records: Vec<_> = dataset.map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].id.as_str(), "b");
        assert_eq!(records[1].label.as_deref(), Some("2"));
        assert_eq!(records[1].field("extra"), Some(&Value::Bool(true)));
    }

    #[test]
    fn invalid_json_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "d.jsonl", "{\"a\": 1}\n{\"a\": \n[1]\n");
        let errors: Vec<String> = Dataset::open(
            &path,
            &ReadOptions {
                skip_bad: true,
                ..ReadOptions::default()
            },
        )
        .unwrap()
        .by_ref()
        .filter_map(Result::err)
        .map(|error| error.to_string())
        .collect();
        assert!(errors.is_empty(), "skip_bad yields no errors: {errors:?}");

        let mut dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        assert!(dataset.next().unwrap().is_ok());
        let error = dataset.next().unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("`{}` line 2: invalid JSON", path.display())
        );
    }

    #[test]
    fn non_objects_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "d.jsonl", "[1, 2]\n");
        let error = Dataset::open(&path, &ReadOptions::default())
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` line 1: expected a JSON object, found an array",
                path.display()
            )
        );
    }

    #[test]
    fn recognises_instruction_data() {
        let dir = tempfile::tempdir().unwrap();
        let alpaca = write(
            &dir,
            "alpaca.jsonl",
            "{\"instruction\": \"Summarise the text below\", \"input\": \"long text here\", \"output\": \"short\"}\n",
        );
        let chat = write(
            &dir,
            "chat.jsonl",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n",
        );
        let dataset = Dataset::open(&alpaca, &ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), Format::Instruction);
        assert_eq!(
            dataset.schema().column("instruction").unwrap().role,
            Role::Text
        );
        let dataset = Dataset::open(&chat, &ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), Format::Instruction);
        assert_eq!(
            dataset.schema().column("messages").unwrap().kind,
            ColumnKind::Nested
        );
        let record = dataset.map(Result::unwrap).next().unwrap();
        assert!(matches!(record.field("messages"), Some(Value::List(items)) if items.len() == 2));
    }

    #[test]
    fn a_line_past_the_limit_stops_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{{\"a\": 1}}\n{{\"a\": \"{}\"}}\n", "x".repeat(100));
        let path = write(&dir, "d.jsonl", &long);
        let options = ReadOptions {
            max_record_bytes: Some(50),
            ..ReadOptions::default()
        };
        let results: Vec<_> = Dataset::open(&path, &options).unwrap().collect();
        assert_eq!(results.len(), 2, "one record, then the error");
        let error = results[1].as_ref().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` line 2 (byte 9): the record is longer than the limit of 50 B",
                path.display()
            )
        );
        assert!(!error.is_record_level());
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_record_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        let mut bytes = b"{\"a\": 1}\n{\"a\": \"\xff\xfe\"}\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));
        bytes.push(b'\n');
        bytes.extend_from_slice(b"{\"a\": 2}\n");
        std::fs::write(&path, bytes).unwrap();
        let results: Vec<_> = Dataset::open(&path, &ReadOptions::default())
            .unwrap()
            .collect();
        assert_eq!(results.len(), 2, "the first error ends the iteration");
        let error = results[1].as_ref().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("`{}` line 2 (byte 9): not valid UTF-8", path.display())
        );
        let options = ReadOptions {
            skip_bad: true,
            ..ReadOptions::default()
        };
        let mut dataset = Dataset::open(&path, &options).unwrap();
        let records: Vec<_> = dataset.by_ref().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(dataset.skipped(), 2);
        assert!(
            dataset.skipped_errors()[1]
                .to_string()
                .contains("line 3: invalid JSON")
        );
    }
}

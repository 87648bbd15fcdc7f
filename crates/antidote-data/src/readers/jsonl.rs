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
use crate::{ColumnKind, KindInference, ReadError, Value};

/// A streaming JSON Lines reader.
pub(crate) struct JsonlSource {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    line_number: u64,
    line: String,
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
    pub(crate) fn open(path: &Path) -> Result<Self, ReadError> {
        let mut source = Self {
            path: path.to_owned(),
            input: super::open_maybe_gz(path)?,
            line_number: 0,
            line: String::new(),
            names: Names::default(),
            columns: Vec::new(),
            buffered: VecDeque::new(),
            instruction: false,
            done: false,
        };
        let mut order: Vec<Arc<str>> = Vec::new();
        let mut inference: Vec<KindInference> = Vec::new();
        while source.buffered.len() < INFERENCE_SAMPLE {
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

    fn read_row(&mut self) -> Option<Result<Row, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            self.line.clear();
            match self.input.read_line(&mut self.line) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(source) => {
                    self.done = true;
                    return Some(Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
            }
            self.line_number += 1;
            let text = self.line.trim();
            if text.is_empty() {
                continue;
            }
            let line = self.line_number;
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
}

//! Comma- and tab-separated values with a header row.
//!
//! Column kinds are inferred from the first rows. A cell becomes a number only when it reads
//! back as the same text (`007` stays the text `007`, so ids and codes keep their zeros), and an
//! empty cell is missing.

use std::collections::{BTreeMap, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::{Array as _, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType};

use super::{INFERENCE_SAMPLE, Row, RowSource};
use crate::limits::{self, LimitedReader, Limits, Mark};
use crate::{ColumnKind, KindInference, ReadError, Value};

/// Bytes the CSV parser may read ahead of the record it is parsing (its buffer is 8 KiB).
const READ_AHEAD: u64 = 64 * 1024;

/// A streaming CSV reader.
///
/// The parser grows its record buffer as long as a row goes on, so the input passes through a
/// [`LimitedReader`] that fails once one row (quoted newlines included) passes the per-record
/// limit; a gzip bomb without newlines stops there too.
pub(crate) struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<LimitedReader<Box<dyn BufRead + Send>>>,
    mark: Mark,
    limit: u64,
    columns: Vec<(Arc<str>, ColumnKind)>,
    buffered: VecDeque<Result<(u64, csv::StringRecord), ReadError>>,
    record: csv::StringRecord,
    done: bool,
}

/// The value a cell means on its own, before the column's kind is known.
fn parse_cell(cell: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        // Whole numbers that do not read back the same (`007`, `+3`, huge ids) are codes.
        return match cell.parse::<i64>() {
            Ok(integer) if integer.to_string() == cell => Value::Int(integer),
            _ => Value::Text(cell.to_owned()),
        };
    }
    let numeric_looking = cell
        .bytes()
        .all(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'-' | b'+' | b'e' | b'E'));
    if numeric_looking && let Ok(float) = cell.parse::<f64>() {
        return Value::Float(float);
    }
    match cell {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::Text(cell.to_owned()),
    }
}

/// The value of a cell in a column of `kind`: text columns keep their cells as text even when
/// one looks like a number.
fn convert(cell: &str, kind: ColumnKind) -> Value {
    match kind {
        ColumnKind::Categorical | ColumnKind::Text if !cell.is_empty() => {
            Value::Text(cell.to_owned())
        }
        _ => parse_cell(cell),
    }
}

impl CsvSource {
    /// Opens `path`; the columns named in `kinds` get those kinds, the others are inferred.
    pub(crate) fn open(
        path: &Path,
        limits: Limits,
        kinds: Option<&BTreeMap<String, ColumnKind>>,
    ) -> Result<Self, ReadError> {
        let (input, mark) = LimitedReader::new(
            super::open_maybe_gz(path)?,
            limits.max_record_bytes,
            READ_AHEAD,
        );
        let name = path.to_string_lossy().to_ascii_lowercase();
        #[expect(
            clippy::case_sensitive_file_extension_comparisons,
            reason = "the name is lowercased first"
        )]
        let delimiter = if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
            b'\t'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(input);
        let start = reader.position().clone();
        let header = reader
            .headers()
            .map_err(|source| csv_error(path, source, &start, limits.max_record_bytes))?
            .clone();
        mark.reset();
        if header.is_empty() {
            return Err(ReadError::Empty {
                path: path.to_owned(),
            });
        }
        let mut source = Self {
            path: path.to_owned(),
            reader,
            mark,
            limit: limits.max_record_bytes,
            columns: Vec::new(),
            buffered: VecDeque::new(),
            record: csv::StringRecord::new(),
            done: false,
        };
        let mut inference = vec![KindInference::default(); header.len()];
        // The sample is bounded in bytes too: a thousand rows near the limit would not fit.
        let mut sampled_bytes = 0u64;
        while source.buffered.len() < INFERENCE_SAMPLE && sampled_bytes < source.limit {
            match source.read_record(header.len()) {
                None => break,
                Some(Ok((line, record))) => {
                    sampled_bytes += record.as_byte_record().as_slice().len() as u64;
                    for (cell, column) in record.iter().zip(&mut inference) {
                        column.observe(&parse_cell(cell));
                    }
                    source.buffered.push_back(Ok((line, record)));
                }
                Some(Err(error)) => {
                    let fatal = !error.is_record_level();
                    source.buffered.push_back(Err(error));
                    if fatal {
                        break;
                    }
                }
            }
        }
        source.columns = header
            .iter()
            .zip(&inference)
            .map(|(name, column)| {
                let kind = kinds.and_then(|kinds| kinds.get(name).copied());
                (Arc::from(name), kind.unwrap_or_else(|| column.kind()))
            })
            .collect();
        Ok(source)
    }

    fn read_record(
        &mut self,
        expected: usize,
    ) -> Option<Result<(u64, csv::StringRecord), ReadError>> {
        if self.done {
            return None;
        }
        let start = self.reader.position().clone();
        let read = self.reader.read_record(&mut self.record);
        self.mark.reset();
        match read {
            Ok(false) => {
                self.done = true;
                None
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                if self.record.len() == expected {
                    Some(Ok((line, self.record.clone())))
                } else {
                    Some(Err(ReadError::RaggedRow {
                        path: self.path.clone(),
                        line,
                        expected,
                        found: self.record.len(),
                    }))
                }
            }
            Err(source) => {
                let error = csv_error(&self.path, source, &start, self.limit);
                if !error.is_record_level() {
                    self.done = true;
                }
                Some(Err(error))
            }
        }
    }
}

/// The read error for a CSV parser error in the record that starts at `start`.
fn csv_error(path: &Path, source: csv::Error, start: &csv::Position, limit: u64) -> ReadError {
    if source.is_io_error() {
        let message = source.to_string();
        match source.into_kind() {
            csv::ErrorKind::Io(io) if limits::is_limit(&io) => ReadError::RecordTooLarge {
                path: path.to_owned(),
                at: limits::Position::Line {
                    line: start.line(),
                    byte: start.byte(),
                },
                limit,
            },
            csv::ErrorKind::Io(io) => ReadError::Io {
                path: path.to_owned(),
                source: io,
            },
            _ => ReadError::Io {
                path: path.to_owned(),
                source: std::io::Error::other(message),
            },
        }
    } else {
        let line = source.position().map_or(0, csv::Position::line);
        ReadError::Csv {
            path: path.to_owned(),
            line,
            source,
        }
    }
}

impl RowSource for CsvSource {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        let next = match self.buffered.pop_front() {
            Some(next) => next,
            None => self.read_record(self.columns.len())?,
        };
        Some(next.map(|(line, record)| {
            Row {
                line,
                values: self
                    .columns
                    .iter()
                    .zip(record.iter())
                    .map(|((name, kind), cell)| (Arc::clone(name), convert(cell, *kind)))
                    .collect(),
            }
        }))
    }
}

/// CSV rows that a query engine parsed into Arrow batches of string columns, converted as
/// [`CsvSource`] converts its cells, with the columns' `kinds` decided beforehand.
struct StringBatches {
    path: PathBuf,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
    columns: Vec<(Arc<str>, ColumnKind)>,
    batch: Option<RecordBatch>,
    next_in_batch: usize,
    /// Rows handed out so far.
    rows: u64,
    limit: u64,
    done: bool,
}

/// The rows of `batches` (string columns named as `schema` says), with each column's kind from
/// `kinds`, which must name every column.
pub(crate) fn from_string_batches(
    path: &Path,
    schema: &arrow_schema::Schema,
    batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
    kinds: Option<&BTreeMap<String, ColumnKind>>,
    limits: Limits,
) -> Result<Box<dyn RowSource>, ReadError> {
    let batch_error = |reason: String| ReadError::CsvBatch {
        path: path.to_owned(),
        reason,
    };
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            if !matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) {
                return Err(batch_error(format!(
                    "column `{}` was read as {}, not as text",
                    field.name(),
                    field.data_type()
                )));
            }
            let kind = kinds
                .and_then(|kinds| kinds.get(field.name()).copied())
                .ok_or_else(|| {
                    batch_error(format!("column `{}` has no decided kind", field.name()))
                })?;
            Ok((Arc::from(field.name().as_str()), kind))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(StringBatches {
        path: path.to_owned(),
        batches,
        columns,
        batch: None,
        next_in_batch: 0,
        rows: 0,
        limit: limits.max_record_bytes,
        done: false,
    }))
}

/// The cell of `row` in a string column, `None` when it is null.
fn string_cell(column: &ArrayRef, row: usize) -> Option<&str> {
    if column.is_null(row) {
        return None;
    }
    if let Some(strings) = column.as_string_opt::<i32>() {
        Some(strings.value(row))
    } else if let Some(strings) = column.as_string_opt::<i64>() {
        Some(strings.value(row))
    } else {
        column
            .as_string_view_opt()
            .map(|strings| strings.value(row))
    }
}

impl RowSource for StringBatches {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(batch) = &self.batch
                && self.next_in_batch < batch.num_rows()
            {
                let row = self.next_in_batch;
                self.next_in_batch += 1;
                self.rows += 1;
                let cells: Vec<Option<&str>> = batch
                    .columns()
                    .iter()
                    .map(|column| string_cell(column, row))
                    .collect();
                // The per-record limit, on the cells' bytes (the engine has parsed the row).
                let bytes: usize = cells.iter().map(|cell| cell.map_or(0, str::len)).sum();
                if bytes as u64 > self.limit {
                    self.done = true;
                    return Some(Err(ReadError::RecordTooLarge {
                        path: self.path.clone(),
                        at: limits::Position::Record(self.rows - 1),
                        limit: self.limit,
                    }));
                }
                let values = self
                    .columns
                    .iter()
                    .zip(cells)
                    .map(|((name, kind), cell)| {
                        (Arc::clone(name), convert(cell.unwrap_or(""), *kind))
                    })
                    .collect();
                return Some(Ok(Row { line: 0, values }));
            }
            match self.batches.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(source)) => {
                    self.done = true;
                    return Some(Err(ReadError::CsvBatch {
                        path: self.path.clone(),
                        reason: source.to_string(),
                    }));
                }
                Some(Ok(batch)) => {
                    if batch.num_columns() != self.columns.len() {
                        self.done = true;
                        return Some(Err(ReadError::CsvBatch {
                            path: self.path.clone(),
                            reason: format!(
                                "a batch has {} columns, not {}",
                                batch.num_columns(),
                                self.columns.len()
                            ),
                        }));
                    }
                    self.batch = Some(batch);
                    self.next_in_batch = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{Dataset, ReadOptions, Role};

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    }

    #[test]
    fn reads_typed_records_with_roles() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "d.csv",
            "id,x,label,note\n007,1.5,cat,the quick brown fox\n008,2,dog,\n",
        );
        let dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        let schema = dataset.schema().clone();
        assert_eq!(schema.column("id").unwrap().role, Role::Id);
        assert_eq!(schema.column("x").unwrap().kind, ColumnKind::Float);
        assert_eq!(schema.column("note").unwrap().kind, ColumnKind::Text);
        let records: Vec<_> = dataset.map(Result::unwrap).collect();
        assert_eq!(records[0].id.as_str(), "007");
        assert_eq!(records[0].label.as_deref(), Some("cat"));
        assert_eq!(records[0].field("x"), Some(&Value::Float(1.5)));
        assert_eq!(records[1].field("x"), Some(&Value::Int(2)));
        assert_eq!(records[1].field("note"), Some(&Value::Null));
    }

    #[test]
    fn ragged_row_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "d.csv", "a,b\n1,2\n3\n4,5\n");
        let mut dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        assert!(dataset.next().unwrap().is_ok());
        let error = dataset.next().unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("`{}` line 3: expected 2 columns, found 1", path.display())
        );
        assert!(
            dataset.next().is_none(),
            "the first error ends the iteration"
        );
    }

    #[test]
    fn skip_bad_counts_ragged_rows_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "d.csv", "a,b\n1,2\n3\n4,5\n6,7,8\n");
        let options = ReadOptions {
            skip_bad: true,
            ..ReadOptions::default()
        };
        let mut dataset = Dataset::open(&path, &options).unwrap();
        let records: Vec<_> = dataset.by_ref().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(dataset.skipped(), 2);
        assert_eq!(records[1].field("a"), Some(&Value::Int(4)));
    }

    #[test]
    fn reads_tsv_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.tsv.gz");
        let file = std::fs::File::create(&path).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(b"label\ttext\npos\tgood film\n").unwrap();
        encoder.finish().unwrap();
        let records: Vec<_> = Dataset::open(&path, &ReadOptions::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].field("text"),
            Some(&Value::Text("good film".into()))
        );
    }

    #[test]
    fn a_header_only_file_has_no_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "d.csv", "a,b\n");
        assert_eq!(
            Dataset::open(&path, &ReadOptions::default())
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_row_past_the_limit_stops_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("a,b\n1,2\n3,\"{}\"\n", "x\n".repeat(100_000));
        let path = write(&dir, "d.csv", &long);
        let options = ReadOptions {
            max_record_bytes: Some(1000),
            ..ReadOptions::default()
        };
        let error = Dataset::open(&path, &options)
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "`{}` line 3 (byte 8): the record is longer than the limit of 1000 B",
                path.display()
            )
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, b"a,b\n1,2\n3,\xff\xfe\n").unwrap();
        let error = Dataset::open(&path, &ReadOptions::default())
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert!(
            error.to_string().ends_with("line 3: malformed CSV"),
            "{error}"
        );
    }

    #[test]
    fn given_kinds_replace_inferred_ones_and_string_batches_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id,code,note\na,7,x\nb,,the quick brown fox\n";
        let path = write(&dir, "d.csv", text);
        let kinds: BTreeMap<String, ColumnKind> = [
            ("id".to_owned(), ColumnKind::Categorical),
            ("code".to_owned(), ColumnKind::Categorical),
            ("note".to_owned(), ColumnKind::Text),
        ]
        .into();
        let options = ReadOptions {
            csv_kinds: Some(kinds),
            ..ReadOptions::default()
        };
        let from_file: Vec<_> = Dataset::open(&path, &options)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // `code` would be inferred an integer column; given as categorical, `7` stays text.
        assert_eq!(
            from_file[0].field("code"),
            Some(&Value::Text("7".to_owned()))
        );
        assert_eq!(from_file[1].field("code"), Some(&Value::Null));

        let schema = arrow_schema::Schema::new(
            ["id", "code", "note"]
                .map(|name| arrow_schema::Field::new(name, DataType::Utf8, true))
                .to_vec(),
        );
        let columns: Vec<ArrayRef> = vec![
            Arc::new(arrow_array::StringArray::from(vec![Some("a"), Some("b")])),
            Arc::new(arrow_array::StringArray::from(vec![Some("7"), None])),
            Arc::new(arrow_array::StringArray::from(vec![
                Some("x"),
                Some("the quick brown fox"),
            ])),
        ];
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), columns).unwrap();
        let batches = || Box::new(std::iter::once(Ok(batch.clone())));
        let from_batches: Vec<_> =
            Dataset::from_csv_batches(Path::new("engine"), &schema, batches(), &options)
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let hashes = |records: &[crate::Record]| -> Vec<_> {
            records.iter().map(crate::Record::content_hash).collect()
        };
        assert_eq!(hashes(&from_batches), hashes(&from_file));

        // A row over the per-record limit is refused, and every column needs a kind.
        let small = ReadOptions {
            max_record_bytes: Some(8),
            ..options.clone()
        };
        let mut dataset =
            Dataset::from_csv_batches(Path::new("engine"), &schema, batches(), &small).unwrap();
        assert!(dataset.next().unwrap().is_ok());
        assert!(matches!(
            dataset.next().unwrap(),
            Err(ReadError::RecordTooLarge { .. })
        ));
        let unnamed = ReadOptions {
            csv_kinds: Some(BTreeMap::new()),
            ..ReadOptions::default()
        };
        let Err(error) =
            Dataset::from_csv_batches(Path::new("engine"), &schema, batches(), &unnamed)
        else {
            panic!("a column without a kind was read");
        };
        assert!(error.to_string().contains("no decided kind"), "{error}");
    }
}

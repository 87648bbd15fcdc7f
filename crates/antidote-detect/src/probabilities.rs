//! Out-of-sample probabilities brought by the caller (`antidote scan --probs`): a CSV with one
//! column per class, named by the class, and optionally an `id` column; without ids, rows follow
//! the dataset's order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use antidote_core::RecordId;
use antidote_data::Record;
use antidote_learn::LabelIndex;

/// Why a probabilities file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProbabilitiesError {
    /// The file could not be opened or its header read.
    #[error("cannot read `{path}`")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: csv::Error,
    },
    /// A line of the file is wrong (line 1 is the header; line 0 means the file as a whole).
    #[error("`{path}` line {line}: {problem}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, counting the header as line 1.
        line: u64,
        /// What is wrong with it.
        problem: LineProblem,
    },
}

/// What is wrong with one line of a probabilities file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineProblem {
    /// A header column names no class of the dataset.
    #[error("column `{0}` is not a class of the dataset")]
    UnknownClass(String),
    /// A class of the dataset has no column.
    #[error("no column for class `{0}`")]
    MissingClass(String),
    /// The CSV reader could not read the row.
    #[error("{0}")]
    Malformed(String),
    /// The row's id names no record.
    #[error("no record has id `{0}`")]
    UnknownId(RecordId),
    /// There are more rows than records.
    #[error("more rows than the {0} records")]
    TooManyRows(usize),
    /// A cell is not a number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// A probability is outside `[0, 1]`.
    #[error("probability {0} is outside [0, 1]")]
    OutOfRange(f32),
    /// A row does not sum to 1.
    #[error("probabilities sum to {0}, not 1")]
    BadSum(f32),
    /// A record has no row.
    #[error("no probabilities for record `{0}`")]
    MissingRecord(RecordId),
}

/// Reads the probabilities of `records` from the CSV at `path`: row-major in record order, one
/// column per class in [`LabelIndex`] order, as [`ScanInput::probabilities`] takes them.
///
/// [`ScanInput::probabilities`]: crate::scan::ScanInput::probabilities
///
/// # Errors
///
/// [`ProbabilitiesError`] when the file cannot be read, its columns are not the dataset's
/// classes, a row is not a probability distribution, or a record has no row.
pub fn read_probabilities(path: &Path, records: &[Record]) -> Result<Vec<f32>, ProbabilitiesError> {
    let bad = |line: u64, problem: LineProblem| ProbabilitiesError::Line {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let open = |source: csv::Error| ProbabilitiesError::Open {
        path: path.to_path_buf(),
        source,
    };
    let classes = LabelIndex::from_records(records);
    let mut reader = csv::Reader::from_path(path).map_err(open)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(open)?
        .iter()
        .map(str::to_owned)
        .collect();
    let id_column = header.iter().position(|name| name == "id");
    let mut columns = vec![usize::MAX; classes.len()];
    for (position, name) in header.iter().enumerate() {
        if Some(position) == id_column {
            continue;
        }
        let Some(class) = classes.index(name) else {
            return Err(bad(1, LineProblem::UnknownClass(name.clone())));
        };
        columns[class] = position;
    }
    if let Some(missing) = columns.iter().position(|&column| column == usize::MAX) {
        return Err(bad(
            1,
            LineProblem::MissingClass(classes.label(missing).unwrap_or("?").to_owned()),
        ));
    }
    let positions: BTreeMap<&RecordId, usize> = records
        .iter()
        .enumerate()
        .map(|(row, record)| (&record.id, row))
        .collect();
    let mut probabilities = vec![f32::NAN; records.len() * classes.len()];
    let mut seen = vec![false; records.len()];
    for (number, row) in reader.records().enumerate() {
        let line = number as u64 + 2;
        let row = row.map_err(|error| bad(line, LineProblem::Malformed(error.to_string())))?;
        let target = match id_column {
            Some(column) => {
                let id = RecordId::from(row.get(column).unwrap_or_default());
                match positions.get(&id) {
                    Some(&position) => position,
                    None => return Err(bad(line, LineProblem::UnknownId(id))),
                }
            }
            None => number,
        };
        if target >= records.len() {
            return Err(bad(line, LineProblem::TooManyRows(records.len())));
        }
        let mut total = 0.0;
        for (class, &column) in columns.iter().enumerate() {
            let cell = row.get(column).unwrap_or_default();
            let value: f32 = cell
                .trim()
                .parse()
                .map_err(|_| bad(line, LineProblem::NotANumber(cell.to_owned())))?;
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(line, LineProblem::OutOfRange(value)));
            }
            total += value;
            probabilities[target * classes.len() + class] = value;
        }
        if (total - 1.0).abs() > 1e-3 {
            return Err(bad(line, LineProblem::BadSum(total)));
        }
        seen[target] = true;
    }
    if let Some(missing) = seen.iter().position(|seen| !seen) {
        return Err(bad(
            0,
            LineProblem::MissingRecord(records[missing].id.clone()),
        ));
    }
    Ok(probabilities)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<Record> {
        ["a", "b"]
            .iter()
            .zip(["x", "y"])
            .map(|(id, label)| Record {
                position: 0,
                id: RecordId::from(*id),
                label: Some(label.to_owned()),
                source: None,
                fields: Vec::new(),
            })
            .collect()
    }

    fn read(text: &str) -> Result<Vec<f32>, ProbabilitiesError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        read_probabilities(file.path(), &records())
    }

    fn problem(text: &str) -> (u64, LineProblem) {
        match read(text) {
            Err(ProbabilitiesError::Line { line, problem, .. }) => (line, problem),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_follow_ids_or_the_dataset_order() {
        assert_eq!(
            read("x,y\n0.9,0.1\n0.2,0.8\n").unwrap(),
            [0.9, 0.1, 0.2, 0.8]
        );
        assert_eq!(
            read("id,y,x\nb,0.8,0.2\na,0.1,0.9\n").unwrap(),
            [0.9, 0.1, 0.2, 0.8]
        );
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        assert_eq!(
            problem("x,z\n0.5,0.5\n"),
            (1, LineProblem::UnknownClass("z".into()))
        );
        assert_eq!(
            problem("x,y\n0.5,0.6\n0.5,0.5\n"),
            (2, LineProblem::BadSum(1.1))
        );
        assert_eq!(
            problem("x,y\n0.5,0.5\n"),
            (0, LineProblem::MissingRecord(RecordId::from("b")))
        );
        assert_eq!(
            problem("id,x,y\na,0.5,0.5\nc,0.5,0.5\n"),
            (3, LineProblem::UnknownId(RecordId::from("c")))
        );
    }
}

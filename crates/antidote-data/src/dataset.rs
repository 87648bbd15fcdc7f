use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::readers::{self, RowSource};
use crate::{Column, ColumnKind, ReadError, Record, Role, Schema, Value};

/// The file formats antidote reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Comma- (or tab-) separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// JSON Lines in an instruction-tuning shape: `instruction` / `input` / `output`, or chat
    /// `messages`.
    Instruction,
    /// Apache Parquet.
    Parquet,
    /// IDX, the format of MNIST and Fashion-MNIST: an images file and its labels file.
    Idx,
    /// A folder with one sub-folder of images per class.
    ImageFolder,
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 6] = [
        Self::Csv,
        Self::Jsonl,
        Self::Instruction,
        Self::Parquet,
        Self::Idx,
        Self::ImageFolder,
    ];

    /// The kebab-case name used on the command line and in lock files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Instruction => "instruction",
            Self::Parquet => "parquet",
            Self::Idx => "idx",
            Self::ImageFolder => "image-folder",
        }
    }

    /// Whether records written in this format keep their source: IDX files and image folders
    /// have nowhere to store one.
    #[must_use]
    pub fn stores_sources(self) -> bool {
        !matches!(self, Self::Idx | Self::ImageFolder)
    }

    /// Guesses the format of `path` from its name, and for folders from their layout.
    ///
    /// Returns `None` for files that are not datasets (model weights, archives, READMEs) and for
    /// IDX labels files, which belong to their images file. JSON Lines files are told apart from
    /// instruction data only when opened.
    #[must_use]
    pub fn detect(path: &Path) -> Option<Format> {
        if path.is_dir() {
            return readers::image_folder::is_image_folder(path).then_some(Self::ImageFolder);
        }
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let stem = name.strip_suffix(".gz").unwrap_or(&name);
        if readers::idx::is_idx_images_name(stem) {
            return Some(Self::Idx);
        }
        let extension = Path::new(stem).extension()?.to_str()?;
        match extension {
            "csv" | "tsv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "parquet" | "pq" => Some(Self::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|format| format.name()).collect();
                format!(
                    "unknown format `{text}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// Column names given by the user for each role. A role left `None` is inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleNames {
    /// The id column.
    pub id: Option<String>,
    /// The label column.
    pub label: Option<String>,
    /// The text column.
    pub text: Option<String>,
    /// The image column.
    pub image: Option<String>,
    /// The source column.
    pub source: Option<String>,
    /// The embedding column.
    pub embedding: Option<String>,
}

impl RoleNames {
    fn named(&self) -> [(Role, Option<&String>); 6] {
        [
            (Role::Id, self.id.as_ref()),
            (Role::Label, self.label.as_ref()),
            (Role::Source, self.source.as_ref()),
            (Role::Text, self.text.as_ref()),
            (Role::Image, self.image.as_ref()),
            (Role::Embedding, self.embedding.as_ref()),
        ]
    }
}

/// How to open a dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// The format, when the file name does not say it.
    pub format: Option<Format>,
    /// Column names for roles.
    pub roles: RoleNames,
    /// Skip records that cannot be read, counting them, instead of stopping at the first.
    pub skip_bad: bool,
    /// The most bytes one record may take (a line, a row, an IDX record, a decoded image);
    /// `None` for the process default ([`crate::limits::default_max_record_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_record_bytes: Option<u64>,
    /// The kinds of a CSV file's columns, by name, decided beforehand instead of from the file's
    /// first rows: every file of a table of CSV files is read with its first file's kinds.
    /// Columns not named here are inferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv_kinds: Option<BTreeMap<String, ColumnKind>>,
}

impl ReadOptions {
    /// The per-record limit these options ask for, resolved against the process default.
    #[must_use]
    pub fn max_record_bytes(&self) -> u64 {
        self.max_record_bytes
            .unwrap_or_else(crate::limits::default_max_record_bytes)
    }

    fn limits(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            max_record_bytes: self.max_record_bytes(),
        }
    }
}

/// Column names that mean a role when the user names none, compared case-insensitively.
const ID_NAMES: &[&str] = &[
    "id",
    "_id",
    "uid",
    "uuid",
    "guid",
    "record_id",
    "example_id",
    "sample_id",
];
const LABEL_NAMES: &[&str] = &[
    "label",
    "labels",
    "class",
    "target",
    "y",
    "category",
    "fine_label",
];
const SOURCE_NAMES: &[&str] = &[
    "source",
    "annotator",
    "annotator_id",
    "worker",
    "worker_id",
    "client",
    "client_id",
    "vendor",
    "contributor",
    "shard",
];
const TEXT_NAMES: &[&str] = &[
    "text",
    "sentence",
    "content",
    "document",
    "review",
    "quote",
    "body",
    "instruction",
    "prompt",
];
const EMBEDDING_NAMES: &[&str] = &["embedding", "embeddings", "vector", "features"];

/// A dataset opened for reading: its schema, and an iterator over its records.
///
/// Records stream: memory does not grow with the dataset. With [`ReadOptions::skip_bad`],
/// malformed records are skipped and counted ([`Dataset::skipped`]); otherwise the first one
/// ends the iteration with its error.
///
/// ```no_run
/// use antidote_data::{Dataset, ReadOptions};
///
/// let dataset = Dataset::open("train.csv".as_ref(), &ReadOptions::default())?;
/// println!("{} columns", dataset.schema().columns.len());
/// for record in dataset {
///     let record = record?;
///     println!("{} {:?}", record.id, record.label);
/// }
/// # Ok::<(), antidote_data::ReadError>(())
/// ```
pub struct Dataset {
    path: PathBuf,
    format: Format,
    files: Vec<PathBuf>,
    schema: Schema,
    source: Box<dyn RowSource>,
    skip_bad: bool,
    skipped: Vec<ReadError>,
    skipped_count: u64,
    id_column: Option<Arc<str>>,
    label_column: Option<Arc<str>>,
    source_column: Option<Arc<str>>,
    position: u64,
    finished: bool,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Arrow record batches that another engine decoded, as [`Dataset::from_arrow`] and
/// [`Dataset::from_csv_batches`] take them.
pub type ArrowBatches =
    Box<dyn Iterator<Item = Result<arrow_array::RecordBatch, arrow_schema::ArrowError>> + Send>;

/// Skipped records whose errors are kept for the report; the rest are only counted.
const KEPT_SKIP_ERRORS: usize = 100;

impl Dataset {
    /// Opens the dataset at `path`: a file, or a folder of class sub-folders.
    pub fn open(path: &Path, options: &ReadOptions) -> Result<Self, ReadError> {
        let format = match options.format {
            Some(format) => format,
            None => Format::detect(path).ok_or_else(|| ReadError::UnknownFormat {
                path: path.to_owned(),
                reason: if path.is_dir() {
                    "a folder without class sub-folders of images".to_owned()
                } else if !path.exists() {
                    "it does not exist".to_owned()
                } else {
                    "unrecognised file name".to_owned()
                },
            })?,
        };
        let limits = options.limits();
        let (source, files, format): (Box<dyn RowSource>, Vec<PathBuf>, Format) = match format {
            Format::Csv => (
                Box::new(readers::csv::CsvSource::open(
                    path,
                    limits,
                    options.csv_kinds.as_ref(),
                )?),
                vec![path.to_owned()],
                format,
            ),
            Format::Jsonl | Format::Instruction => {
                let source = readers::jsonl::JsonlSource::open(path, limits)?;
                let format = if source.is_instruction() {
                    Format::Instruction
                } else {
                    Format::Jsonl
                };
                (Box::new(source), vec![path.to_owned()], format)
            }
            Format::Parquet => (
                readers::parquet::open(path, limits)?,
                vec![path.to_owned()],
                format,
            ),
            Format::Idx => {
                let (source, files) = readers::idx::open(path, limits)?;
                (source, files, format)
            }
            Format::ImageFolder => {
                let (source, files) = readers::image_folder::open(path, limits)?;
                (source, files, format)
            }
        };
        Self::from_source(path, format, files, source, options)
    }

    /// Reads Arrow record batches that another engine decoded (a partition of a Parquet or
    /// CSV scan, for example) exactly as [`open`](Self::open) reads a Parquet file of the same
    /// batches: the same values, roles and content hashes. `name` stands for them in messages and
    /// [`path`](Self::path). Positions, and so the ids of data without an id column, count from
    /// the first batch given.
    pub fn from_arrow(
        name: &Path,
        schema: &arrow_schema::Schema,
        batches: ArrowBatches,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let source = readers::parquet::from_batches(name, schema, batches, options.limits())?;
        Self::from_source(
            name,
            Format::Parquet,
            vec![name.to_owned()],
            source,
            options,
        )
    }

    /// The records of CSV rows that a query engine read as Arrow `batches` of string columns
    /// (`schema`; a missing cell is null), as antidote's CSV reader reads them with
    /// [`ReadOptions::csv_kinds`], which must name every column. Records have no line numbers.
    pub fn from_csv_batches(
        name: &Path,
        schema: &arrow_schema::Schema,
        batches: ArrowBatches,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let source = readers::csv::from_string_batches(
            name,
            schema,
            batches,
            options.csv_kinds.as_ref(),
            options.limits(),
        )?;
        Self::from_source(name, Format::Csv, vec![name.to_owned()], source, options)
    }

    fn from_source(
        path: &Path,
        format: Format,
        files: Vec<PathBuf>,
        source: Box<dyn RowSource>,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let schema = assign_roles(path, source.columns(), &options.roles)?;
        let column = |role| {
            schema.column_with_role(role).map(|column| {
                source
                    .columns()
                    .iter()
                    .find(|(name, _)| **name == *column.name)
                    .map(|(name, _)| Arc::clone(name))
                    .expect("the schema's columns come from the source's")
            })
        };
        let id_column = column(Role::Id);
        let label_column = column(Role::Label);
        let source_column = column(Role::Source);
        Ok(Self {
            path: path.to_owned(),
            format,
            files,
            schema,
            source,
            skip_bad: options.skip_bad,
            skipped: Vec::new(),
            skipped_count: 0,
            id_column,
            label_column,
            source_column,
            position: 0,
            finished: false,
        })
    }

    /// The path the dataset was opened from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format it was read as.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The files that make up the dataset: the file itself, an IDX pair, or an image folder's
    /// folder (not every image in it, which could be millions).
    #[must_use]
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The columns, their kinds and roles.
    #[must_use]
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Whether ids are record positions because the dataset has no id column.
    #[must_use]
    pub fn ids_are_positions(&self) -> bool {
        self.id_column.is_none()
    }

    /// How many malformed records were skipped so far (with `skip_bad`).
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.skipped_count
    }

    /// The errors of the first skipped records (at most 100), for reports.
    #[must_use]
    pub fn skipped_errors(&self) -> &[ReadError] {
        &self.skipped
    }

    /// Reads up to `max` records into `batch` (cleared first); returns how many were read, 0 at
    /// the end. Callers process each batch in parallel while memory stays bounded.
    pub fn next_batch(&mut self, max: usize, batch: &mut Vec<Record>) -> Result<usize, ReadError> {
        batch.clear();
        for record in self.by_ref().take(max) {
            batch.push(record?);
        }
        Ok(batch.len())
    }

    fn assemble(&mut self, row: crate::readers::Row) -> Record {
        let position = self.position;
        self.position += 1;
        let mut id = None;
        let mut label = None;
        let mut source = None;
        let mut fields = Vec::with_capacity(row.values.len());
        for (name, value) in row.values {
            if self.id_column.as_ref() == Some(&name) {
                id = value.to_label();
            } else if self.label_column.as_ref() == Some(&name) {
                label = value.to_label();
            } else if self.source_column.as_ref() == Some(&name) {
                source = value.to_label();
            } else {
                fields.push((name, value));
            }
        }
        Record {
            position,
            id: id.unwrap_or_else(|| position.to_string()).into(),
            label,
            source,
            fields,
        }
    }
}

impl Iterator for Dataset {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        loop {
            match self.source.next_row() {
                None => {
                    self.finished = true;
                    return None;
                }
                Some(Ok(row)) => return Some(Ok(self.assemble(row))),
                Some(Err(error)) if self.skip_bad && error.is_record_level() => {
                    tracing::debug!("skipping malformed record: {error}");
                    self.skipped_count += 1;
                    if self.skipped.len() < KEPT_SKIP_ERRORS {
                        self.skipped.push(error);
                    }
                }
                Some(Err(error)) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// The first of `names` (in order of preference) that names one of `columns`.
fn find_named<'a>(columns: &[&'a (Arc<str>, ColumnKind)], names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|wanted| {
        columns
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(name, _)| &**name)
    })
}

/// Gives every column a role: the user's names first, then names that mean a role, then kinds.
fn assign_roles(
    path: &Path,
    columns: &[(Arc<str>, ColumnKind)],
    names: &RoleNames,
) -> Result<Schema, ReadError> {
    let mut roles: HashMap<&str, Role> = HashMap::new();
    for (role, name) in names.named() {
        if let Some(name) = name {
            if !columns.iter().any(|(column, _)| **column == **name) {
                return Err(ReadError::MissingColumn {
                    path: path.to_owned(),
                    role,
                    column: name.clone(),
                    available: columns
                        .iter()
                        .map(|(column, _)| format!("`{column}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            roles.insert(name.as_str(), role);
        }
    }
    let taken =
        |roles: &HashMap<&str, Role>, role| roles.values().any(|assigned| *assigned == role);
    let free = |roles: &HashMap<&str, Role>, name: &str| !roles.contains_key(name);
    for (role, candidates) in [
        (Role::Id, ID_NAMES),
        (Role::Label, LABEL_NAMES),
        (Role::Source, SOURCE_NAMES),
    ] {
        if !taken(&roles, role) {
            let unassigned: Vec<&(Arc<str>, ColumnKind)> = columns
                .iter()
                .filter(|(name, _)| free(&roles, name))
                .collect();
            if let Some(found) = find_named(&unassigned, candidates) {
                roles.insert(found, role);
            }
        }
    }
    if !taken(&roles, Role::Image)
        && let Some((name, _)) = columns
            .iter()
            .find(|(name, kind)| *kind == ColumnKind::Image && free(&roles, name))
    {
        roles.insert(name, Role::Image);
    }
    if !taken(&roles, Role::Embedding) {
        let vectors: Vec<&(Arc<str>, ColumnKind)> = columns
            .iter()
            .filter(|(name, kind)| *kind == ColumnKind::Vector && free(&roles, name))
            .collect();
        let chosen = find_named(&vectors, EMBEDDING_NAMES)
            .or_else(|| (vectors.len() == 1).then(|| &*vectors[0].0));
        if let Some(chosen) = chosen {
            roles.insert(chosen, Role::Embedding);
        }
    }
    if !taken(&roles, Role::Text) {
        let texts: Vec<&(Arc<str>, ColumnKind)> = columns
            .iter()
            .filter(|(name, kind)| {
                matches!(kind, ColumnKind::Text | ColumnKind::Categorical) && free(&roles, name)
            })
            .collect();
        let chosen = find_named(&texts, TEXT_NAMES).or_else(|| {
            texts
                .iter()
                .find(|(_, kind)| *kind == ColumnKind::Text)
                .map(|(name, _)| &**name)
        });
        if let Some(chosen) = chosen {
            roles.insert(chosen, Role::Text);
        }
    }
    Ok(Schema {
        columns: columns
            .iter()
            .map(|(name, kind)| Column {
                name: name.to_string(),
                kind: *kind,
                role: roles.get(&**name).copied().unwrap_or(Role::Feature),
            })
            .collect(),
    })
}

/// Opens a dataset from rows already in memory; used by tests and by writers that re-read
/// what they wrote.
#[doc(hidden)]
pub fn from_rows(
    path: &Path,
    columns: Vec<(Arc<str>, ColumnKind)>,
    rows: Vec<Vec<Value>>,
) -> Result<Dataset, ReadError> {
    struct Memory {
        columns: Vec<(Arc<str>, ColumnKind)>,
        rows: std::vec::IntoIter<Vec<Value>>,
        line: u64,
    }
    impl RowSource for Memory {
        fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
            &self.columns
        }
        fn next_row(&mut self) -> Option<Result<crate::readers::Row, ReadError>> {
            let values = self.rows.next()?;
            self.line += 1;
            Some(Ok(crate::readers::Row {
                line: self.line,
                values: self
                    .columns
                    .iter()
                    .map(|(name, _)| Arc::clone(name))
                    .zip(values)
                    .collect(),
            }))
        }
    }
    let source = Memory {
        columns,
        rows: rows.into_iter(),
        line: 0,
    };
    Dataset::from_source(
        path,
        Format::Jsonl,
        vec![path.to_owned()],
        Box::new(source),
        &ReadOptions::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(spec: &[(&str, ColumnKind)]) -> Vec<(Arc<str>, ColumnKind)> {
        spec.iter()
            .map(|(name, kind)| (Arc::from(*name), *kind))
            .collect()
    }

    #[test]
    fn infers_roles_from_names_and_kinds() {
        let schema = assign_roles(
            Path::new("d.csv"),
            &columns(&[
                ("ID", ColumnKind::Integer),
                ("Class", ColumnKind::Categorical),
                ("annotator", ColumnKind::Categorical),
                ("review", ColumnKind::Text),
                ("emb", ColumnKind::Vector),
                ("x", ColumnKind::Float),
            ]),
            &RoleNames::default(),
        )
        .unwrap();
        let role = |name: &str| schema.column(name).unwrap().role;
        assert_eq!(role("ID"), Role::Id);
        assert_eq!(role("Class"), Role::Label);
        assert_eq!(role("annotator"), Role::Source);
        assert_eq!(role("review"), Role::Text);
        assert_eq!(role("emb"), Role::Embedding);
        assert_eq!(role("x"), Role::Feature);
    }

    #[test]
    fn named_roles_win_and_missing_names_are_errors() {
        let cols = columns(&[
            ("label", ColumnKind::Categorical),
            ("gold", ColumnKind::Categorical),
        ]);
        let names = RoleNames {
            label: Some("gold".into()),
            ..RoleNames::default()
        };
        let schema = assign_roles(Path::new("d.csv"), &cols, &names).unwrap();
        assert_eq!(schema.column("gold").unwrap().role, Role::Label);
        assert_ne!(schema.column("label").unwrap().role, Role::Label);

        let names = RoleNames {
            label: Some("nope".into()),
            ..RoleNames::default()
        };
        let error = assign_roles(Path::new("d.csv"), &cols, &names).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`d.csv`: label column `nope` does not exist (columns: `label`, `gold`)"
        );
    }

    #[test]
    fn records_without_ids_use_positions() {
        let dataset = from_rows(
            Path::new("m"),
            columns(&[("label", ColumnKind::Integer), ("x", ColumnKind::Float)]),
            vec![
                vec![Value::Int(1), Value::Float(0.5)],
                vec![Value::Int(2), Value::Float(1.5)],
            ],
        )
        .unwrap();
        assert!(dataset.ids_are_positions());
        let records: Vec<Record> = dataset.map(Result::unwrap).collect();
        assert_eq!(records[1].id.as_str(), "1");
        assert_eq!(records[1].label.as_deref(), Some("2"));
        assert_eq!(records[1].fields.len(), 1);
    }

    #[test]
    fn detects_formats_from_names() {
        assert_eq!(Format::detect(Path::new("a/train.csv")), Some(Format::Csv));
        assert_eq!(Format::detect(Path::new("x.JSONL")), Some(Format::Jsonl));
        assert_eq!(
            Format::detect(Path::new("x.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!(
            Format::detect(Path::new("train-images-idx3-ubyte.gz")),
            Some(Format::Idx)
        );
        assert_eq!(
            Format::detect(Path::new("train-labels-idx1-ubyte.gz")),
            None
        );
        assert_eq!(Format::detect(Path::new("model.safetensors")), None);
    }
}

//! Lock files: what `antidote lock` pins and `antidote verify` checks.
//!
//! A lock file (`antidote.lock`, JSON) pins every file with its size and SHA-256, and every
//! dataset among them with its record count, schema fingerprint, label counts and the Merkle
//! root of its records (see [`crate::merkle`]). The per-record hashes go to a sidecar next to it
//! (`antidote.lock.records.jsonl`, one [`RecordEntry`] per line), so that a later verify or diff
//! can name the records that changed. The lock file commits to the sidecar's SHA-256.
//!
//! Up to [`INLINE_FILES`] files are listed in the lock itself (format version 1). More go to a
//! second sidecar, `antidote.lock.files.jsonl`, one [`LockedFile`] per line, and the lock
//! commits to its SHA-256, count and total size (version 2): a folder of two million images is
//! locked and verified in memory that does not grow with the number of files. Files are walked
//! and listed in one order, by stored path compared component by component, through an
//! external sort ([`antidote_data::external_sort`]), so that `verify` merges the list with a
//! fresh walk as two sorted streams. See `doc/lock-format.md`.
//!
//! Paths inside the lock are relative to the lock file's folder when they are below it, so a
//! locked repository can be moved or cloned; other paths are stored absolute.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use antidote_core::{Digest, Progress, ProgressUnit};
use antidote_data::external_sort::{bytes_path, path_bytes};
/// Atomic output moved to `antidote_data::output`; re-exported here for callers of the old path.
pub use antidote_data::output::AtomicFile;
use antidote_data::output::OutputError;
use antidote_data::{Dataset, Format, ReadError, ReadOptions, RoleNames, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::diff::RecordEntry;
use crate::hashing;
use crate::merkle::{MerkleBuilder, record_leaf};
use crate::set_hash::RecordSetHash;
use crate::table::TableReader;

/// The newest lock file format version this build writes and reads (it reads every older one).
///
/// Version 1 lists every file in the lock; version 2 keeps the list in the files sidecar
/// ([`files_path`]). A lock is written with the lowest version that describes it, so a lock
/// of at most [`INLINE_FILES`] files is still read by older antidote.
pub const LOCK_VERSION: u32 = 2;

/// Files a lock lists itself; a lock of more files keeps them in the files sidecar.
pub const INLINE_FILES: usize = 10_000;

/// Files hashed per parallel batch while streaming the file list.
const HASH_BATCH: usize = 1024;

/// Errors from creating or reading a lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A path given to lock does not exist.
    #[error("`{path}` does not exist")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("failed to access `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A dataset could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The lock file is not valid lock JSON.
    #[error("`{path}` is not a valid lock file")]
    Format {
        /// The lock file.
        path: PathBuf,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The lock file was written by an incompatible version.
    #[error(
        "`{path}` has lock format version {version}, this antidote reads versions 1 to {LOCK_VERSION}"
    )]
    Version {
        /// The lock file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// A signature could not be made.
    #[error("failed to sign")]
    Signing(#[from] crate::signing::SigningError),
    /// A folder of Parquet files cannot be read as one table.
    #[error("cannot read `{path}` as one table: {reason}")]
    Table {
        /// The folder, or the file at fault.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A line of the records or files sidecar is malformed.
    #[error("`{path}` line {line}: malformed entry")]
    Sidecar {
        /// The sidecar.
        path: PathBuf,
        /// One-based line.
        line: u64,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
}

impl LockError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// What the user can do about it, when there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Read(error) => error.hint(),
            Self::NotFound { .. } => Some("check the path, or run from the folder the lock file was made in".to_owned()),
            Self::Format { .. } | Self::Version { .. } => {
                Some("re-create the lock with `antidote lock`".to_owned())
            }
            Self::Sidecar { .. } => Some(
                "the sidecar was edited or truncated; `antidote verify` reports which, or re-create it with `antidote lock`"
                    .to_owned(),
            ),
            Self::Table { .. } => Some(
                "name the id column with `--id COLUMN`, give files of the same columns, or lock without `--engine` to pin each file as its own dataset"
                    .to_owned(),
            ),
            Self::Io { .. } | Self::Signing(_) => None,
        }
    }
}

/// One file pinned by a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// Path, relative to the lock file's folder when below it.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: Digest,
}

/// One dataset pinned by a lock, record by record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedDataset {
    /// Path of the dataset (a file, or a folder for image folders).
    pub path: String,
    /// The format it was read as.
    pub format: Format,
    /// The files it is read from besides its own path (an IDX labels file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<String>,
    /// The column names given for roles when it was locked, reused when it is verified.
    #[serde(default)]
    pub roles: RoleNames,
    /// Whether malformed records were skipped when it was locked.
    #[serde(default)]
    pub skip_bad: bool,
    /// Records read.
    pub record_count: u64,
    /// Malformed records skipped (with `skip_bad`).
    #[serde(default)]
    pub skipped: u64,
    /// Whether ids are positions because the dataset has no id column.
    pub ids_are_positions: bool,
    /// The columns.
    pub schema: Schema,
    /// A digest of the schema, independent of column order.
    pub schema_fingerprint: Digest,
    /// How many records carry each label.
    pub label_counts: BTreeMap<String, u64>,
    /// Merkle root over the records' ids and content hashes, in order.
    pub merkle_root: Digest,
    /// The order-independent hash of the same records ([`crate::set_hash`]), which engines that
    /// read partitions in any order compute too; absent from locks written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_set_hash: Option<Digest>,
}

impl LockedDataset {
    /// Whether the file stored as `file` is part of this dataset.
    #[must_use]
    pub fn contains(&self, file: &str) -> bool {
        file == self.path
            || file
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
            || self.companions.iter().any(|companion| companion == file)
    }

    /// The options to read the dataset again exactly as it was locked.
    #[must_use]
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            format: Some(self.format),
            roles: self.roles.clone(),
            skip_bad: self.skip_bad,
            ..ReadOptions::default()
        }
    }
}

/// A folder of Parquet files pinned as one table ([`crate::table`]): by its record set hash,
/// record count and label counts, which any partitioning of its files gives, and no Merkle root
/// or per-record sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedTable {
    /// Path of the folder.
    pub path: String,
    /// The format of its files (Parquet).
    pub format: Format,
    /// What read it ([`TableReader::engine`]).
    pub engine: String,
    /// Its files, listed in the lock's files.
    pub file_count: u64,
    /// The column names given for roles.
    #[serde(default)]
    pub roles: RoleNames,
    /// Records read.
    pub record_count: u64,
    /// The columns.
    pub schema: Schema,
    /// A digest of the schema, independent of column order.
    pub schema_fingerprint: Digest,
    /// How many records carry each label.
    pub label_counts: BTreeMap<String, u64>,
    /// The order-independent hash of its records.
    pub record_set_hash: Digest,
}

impl LockedTable {
    /// Whether the file stored as `file` is one of this table's files.
    #[must_use]
    pub fn contains(&self, file: &str) -> bool {
        // A table of the lock's own folder (`.`) holds every file stored relative to it.
        let below = if self.path == "." {
            !Path::new(file).is_absolute()
        } else {
            file.strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        };
        below
            && match self.format {
                Format::Csv => crate::table::is_table_csv(Path::new(file)),
                format => Format::detect(Path::new(file)) == Some(format),
            }
    }

    /// The options to read the table again as it was locked.
    #[must_use]
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            format: Some(self.format),
            roles: self.roles.clone(),
            ..ReadOptions::default()
        }
    }
}

/// The records sidecar, as the lock refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsFile {
    /// Path relative to the lock file's folder.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Digest,
}

/// The files sidecar, as a version 2 lock refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    /// Path relative to the lock file's folder.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Digest,
    /// Files listed in it.
    pub count: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The content of a lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    /// Format version: 1 when [`Lock::files`] lists every file, 2 when [`Lock::file_list`]
    /// holds them.
    pub version: u32,
    /// The antidote version that wrote it.
    pub tool: String,
    /// When it was written (RFC 3339, UTC).
    pub created: String,
    /// The paths that were locked, as given.
    pub roots: Vec<String>,
    /// Every file, in file order (see [`file_order`]), when there are at most
    /// [`INLINE_FILES`]; empty in version 2.
    #[serde(default)]
    pub files: Vec<LockedFile>,
    /// The files sidecar, in version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_list: Option<FileList>,
    /// Every dataset among them.
    pub datasets: Vec<LockedDataset>,
    /// Every folder of Parquet files locked as one table (`antidote lock --engine`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<LockedTable>,
    /// The per-record sidecar, when there are datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordsFile>,
}

/// One line of the records sidecar, as written.
#[derive(Debug, Serialize)]
struct SidecarLine {
    dataset: usize,
    #[serde(flatten)]
    entry: RecordEntry,
}

/// How to lock.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// The reader of tables: with one, the Parquet files below each folder given are locked as
    /// one table ([`LockedTable`]) instead of one dataset each.
    pub tables: Option<std::sync::Arc<dyn TableReader>>,
    /// How to read datasets.
    pub read: ReadOptions,
    /// Pin files only, without reading records.
    pub files_only: bool,
    /// Files the lock lists itself before it moves the list to the files sidecar
    /// ([`INLINE_FILES`] when `None`).
    pub inline_files: Option<usize>,
}

/// The sidecar path of a lock file: `antidote.lock` -> `antidote.lock.records.jsonl`.
#[must_use]
pub fn records_path(lock_path: &Path) -> PathBuf {
    let mut name = lock_path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".records.jsonl");
    lock_path.with_file_name(name)
}

/// The files sidecar path of a lock file: `antidote.lock` -> `antidote.lock.files.jsonl`.
#[must_use]
pub fn files_path(lock_path: &Path) -> PathBuf {
    let mut name = lock_path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".files.jsonl");
    lock_path.with_file_name(name)
}

/// The signature path of a lock file: `antidote.lock` -> `antidote.lock.intoto.jsonl`.
#[must_use]
pub fn signature_path(lock_path: &Path) -> PathBuf {
    let mut name = lock_path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".intoto.jsonl");
    lock_path.with_file_name(name)
}

/// `path` made absolute and cleaned of `.` and `..`, without touching the file system.
#[must_use]
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    clean
}

/// The folder paths in a lock are relative to.
#[must_use]
pub fn lock_base(lock_path: &Path) -> PathBuf {
    absolute(lock_path)
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// How a lock stores `path`: relative to `base` with `/` separators when below it.
#[must_use]
pub fn stored_path(base: &Path, path: &Path) -> String {
    let path = absolute(path);
    match path.strip_prefix(base) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => relative
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// Where a stored path is on disk.
#[must_use]
pub fn resolve(base: &Path, stored: &str) -> PathBuf {
    base.join(stored)
}

/// What reading a dataset's records gives.
#[derive(Debug, Clone)]
pub struct DatasetDigest {
    /// The dataset's path.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// Its files.
    pub files: Vec<PathBuf>,
    /// Its schema.
    pub schema: Schema,
    /// Records read.
    pub record_count: u64,
    /// Records skipped.
    pub skipped: u64,
    /// Whether ids are positions.
    pub ids_are_positions: bool,
    /// Records per label.
    pub label_counts: BTreeMap<String, u64>,
    /// The Merkle root.
    pub merkle_root: Digest,
    /// The record set hash.
    pub record_set_hash: Digest,
}

/// Records hashed per parallel batch: large enough to keep both cores busy, small enough to
/// keep memory flat.
const BATCH: usize = 2048;

/// Reads every record of the dataset at `path`, hashing records in parallel, and hands each
/// record's entry to `sink` in order.
pub fn digest_dataset(
    path: &Path,
    options: &ReadOptions,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(RecordEntry) -> std::io::Result<()>,
    sink_path: &Path,
) -> Result<DatasetDigest, LockError> {
    let mut dataset = Dataset::open(path, options)?;
    progress.start(
        &format!("reading `{}`", path.display()),
        None,
        ProgressUnit::Records,
    );
    let mut merkle = MerkleBuilder::default();
    let mut set = RecordSetHash::default();
    let mut label_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    while dataset.next_batch(BATCH, &mut batch)? > 0 {
        let hashed: Vec<(RecordEntry, [u8; 32])> = batch
            .par_iter()
            .map(|record| {
                let entry = RecordEntry::from_record(record);
                let leaf = record_leaf(&entry.id, &entry.hash);
                (entry, leaf)
            })
            .collect();
        set.merge(&RecordSetHash::of_leaves(
            hashed.par_iter().map(|(_, leaf)| leaf),
        ));
        for (entry, leaf) in hashed {
            merkle.push(leaf);
            if let Some(label) = &entry.label {
                *label_counts.entry(label.clone()).or_default() += 1;
            }
            sink(entry).map_err(LockError::io(sink_path))?;
        }
        progress.advance(batch.len() as u64);
    }
    progress.finish();
    Ok(DatasetDigest {
        path: path.to_owned(),
        format: dataset.format(),
        files: dataset.files().to_vec(),
        schema: dataset.schema().clone(),
        record_count: merkle.len(),
        skipped: dataset.skipped(),
        ids_are_positions: dataset.ids_are_positions(),
        label_counts,
        merkle_root: merkle.finish(),
        record_set_hash: set.digest(),
    })
}

/// The sort key that puts stored paths in file order: `/` becomes the lowest byte, so paths
/// compare component by component (`a/b` before `a-b`), as a walk of sorted folders lists them.
#[must_use]
pub fn file_order(stored: &str) -> Vec<u8> {
    stored
        .bytes()
        .map(|byte| if byte == b'/' { 0 } else { byte })
        .collect()
}

/// The stored path of a [`file_order`] key (stored paths are UTF-8: see [`stored_path`]).
fn stored_of_key(mut key: Vec<u8>) -> String {
    for byte in &mut key {
        if *byte == 0 {
            *byte = b'/';
        }
    }
    String::from_utf8_lossy(&key).into_owned()
}

/// A file found by [`expand`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// How the lock stores its path.
    pub stored: String,
    /// Where it is.
    pub path: PathBuf,
}

/// The files found by [`expand`], in file order (see [`file_order`]), without repeats,
/// streamed from an external sort.
#[derive(Debug)]
pub struct FoundFiles {
    sorted: antidote_data::external_sort::Sorted,
    last: Option<Vec<u8>>,
}

impl Iterator for FoundFiles {
    type Item = Result<FoundFile, LockError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (key, path) = match self.sorted.next()? {
                Ok(pair) => pair,
                Err(source) => {
                    return Some(Err(LockError::Io {
                        path: std::env::temp_dir(),
                        source,
                    }));
                }
            };
            if self.last.as_ref() == Some(&key) {
                continue;
            }
            self.last = Some(key.clone());
            return Some(Ok(FoundFile {
                stored: stored_of_key(key),
                path: bytes_path(path),
            }));
        }
    }
}

/// The files and datasets below the paths given to `lock`.
#[derive(Debug)]
pub struct Inputs {
    /// Every file, in file order, without repeats.
    pub files: FoundFiles,
    /// How many files were found (repeats included).
    pub found: u64,
    /// Their total size in bytes (repeats included).
    pub bytes: u64,
    /// Every dataset, absolute: each path's in sorted order, in the order the paths were given.
    pub datasets: Vec<PathBuf>,
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}

/// Expands the paths given to `lock`: files as they are, folders walked (hidden entries
/// skipped), datasets recognised by [`Format::detect`]. `exclude` lists files never to pin
/// (the lock file itself and its sidecars); `base` is the folder stored paths are relative to.
///
/// Folders are read as they come and the files sorted by an external sort, so that memory
/// does not grow with the number of files (a walk sorted folder by folder holds each folder's
/// entries: two million images in one folder are hundreds of MiB).
pub fn expand(paths: &[PathBuf], exclude: &[PathBuf], base: &Path) -> Result<Inputs, LockError> {
    let mut sort = antidote_data::external_sort::ExternalSort::default();
    let mut datasets = Vec::new();
    let mut bytes = 0u64;
    let mut add = |path: &Path, size: u64| {
        bytes += size;
        sort.push(file_order(&stored_path(base, path)), path_bytes(path))
            .map_err(LockError::io(path))
    };
    for given in paths {
        if !given.exists() {
            return Err(LockError::NotFound {
                path: given.clone(),
            });
        }
        let root = absolute(given);
        if root.is_file() {
            add(
                &root,
                fs_err::metadata(&root).map_or(0, |metadata| metadata.len()),
            )?;
            if Format::detect(&root).is_some() {
                datasets.push(root);
            }
            continue;
        }
        let mut image_folders: Vec<PathBuf> = Vec::new();
        let mut found: Vec<PathBuf> = Vec::new();
        let walker = walkdir::WalkDir::new(&root)
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.path()));
        for entry in walker {
            let entry = entry.map_err(|error| {
                let path = error.path().map_or_else(|| root.clone(), Path::to_owned);
                LockError::Io {
                    path,
                    source: error.into(),
                }
            })?;
            let path = entry.path();
            if entry.file_type().is_dir() {
                if Format::detect(path) == Some(Format::ImageFolder) {
                    image_folders.push(path.to_owned());
                    found.push(path.to_owned());
                }
            } else if entry.file_type().is_file() {
                if exclude.iter().any(|excluded| excluded == path) {
                    continue;
                }
                add(path, entry.metadata().map_or(0, |metadata| metadata.len()))?;
                // A folder is listed before what it holds, so the image folder is known.
                let inside_image_folder =
                    image_folders.iter().any(|folder| path.starts_with(folder));
                if !inside_image_folder && Format::detect(path).is_some() {
                    found.push(path.to_owned());
                }
            }
        }
        // Sorted by components, as a walk of sorted folders finds them.
        found.sort();
        datasets.extend(found);
    }
    let found = sort.len();
    let mut seen = std::collections::HashSet::new();
    datasets.retain(|dataset| seen.insert(dataset.clone()));
    Ok(Inputs {
        files: FoundFiles {
            sorted: sort
                .finish()
                .map_err(LockError::io(&std::env::temp_dir()))?,
            last: None,
        },
        found,
        bytes,
        datasets,
    })
}

/// The files a lock must never pin: itself and its sidecars.
#[must_use]
pub fn own_files(lock_path: &Path) -> Vec<PathBuf> {
    let lock_path = absolute(lock_path);
    vec![
        records_path(&lock_path),
        files_path(&lock_path),
        signature_path(&lock_path),
        lock_path,
    ]
}

/// Hashes `files` in parallel, in input order, reporting bytes to `progress` (already started).
pub fn hash_batch(
    files: &[FoundFile],
    progress: &dyn Progress,
) -> Result<Vec<hashing::FileHash>, LockError> {
    let paths: Vec<PathBuf> = files.iter().map(|file| file.path.clone()).collect();
    let results = hashing::sha256_files(&paths, &|size| progress.advance(size));
    paths
        .iter()
        .zip(results)
        .map(|(path, result)| result.map_err(LockError::io(path)))
        .collect()
}

/// Hashes every file of `files` in batches, in parallel, and hands each to `sink` in order.
pub fn hash_stream(
    files: impl Iterator<Item = Result<FoundFile, LockError>>,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(FoundFile, hashing::FileHash) -> Result<(), LockError>,
) -> Result<(), LockError> {
    let mut batch = Vec::with_capacity(HASH_BATCH);
    let mut files = files.peekable();
    while files.peek().is_some() {
        batch.clear();
        for file in files.by_ref().take(HASH_BATCH) {
            batch.push(file?);
        }
        let hashes = hash_batch(&batch, progress)?;
        for (file, hash) in batch.drain(..).zip(hashes) {
            sink(file, hash)?;
        }
    }
    Ok(())
}

/// The lock's `files` and `file_list`, and the files sidecar to commit, if any.
type ListedFiles = (Vec<LockedFile>, Option<FileList>, Option<AtomicFile>);

/// The file list as it is written: in memory up to [`INLINE_FILES`] files, then in the files
/// sidecar.
struct FileListWriter {
    limit: usize,
    sidecar: PathBuf,
    base: PathBuf,
    inline: Vec<LockedFile>,
    spilled: Option<AtomicFile>,
    count: u64,
    bytes: u64,
}

impl FileListWriter {
    fn new(lock_path: &Path, base: &Path, limit: usize) -> Self {
        Self {
            limit,
            sidecar: files_path(&absolute(lock_path)),
            base: base.to_owned(),
            inline: Vec::new(),
            spilled: None,
            count: 0,
            bytes: 0,
        }
    }

    fn push(&mut self, file: LockedFile) -> Result<(), LockError> {
        self.count += 1;
        self.bytes += file.size;
        if self.spilled.is_none() && self.inline.len() < self.limit {
            self.inline.push(file);
            return Ok(());
        }
        if self.spilled.is_none() {
            let mut writer = AtomicFile::create(&self.sidecar)?;
            for earlier in std::mem::take(&mut self.inline) {
                write_line(&mut writer, &earlier, &self.sidecar)?;
            }
            self.spilled = Some(writer);
        }
        let writer = self.spilled.as_mut().expect("spilled above");
        write_line(writer, &file, &self.sidecar)
    }

    /// The lock's `files` and `file_list`, and the sidecar to commit, if any.
    fn finish(self) -> Result<ListedFiles, LockError> {
        let Some(mut writer) = self.spilled else {
            return Ok((self.inline, None, None));
        };
        writer.sync()?;
        let staged = writer.writer.get_ref().path();
        let hash = hashing::sha256_file(staged).map_err(LockError::io(staged))?;
        let list = FileList {
            path: stored_path(&self.base, &self.sidecar),
            size: hash.size,
            sha256: hash.sha256,
            count: self.count,
            bytes: self.bytes,
        };
        Ok((Vec::new(), Some(list), Some(writer)))
    }
}

fn write_line(
    writer: &mut AtomicFile,
    value: &impl Serialize,
    path: &Path,
) -> Result<(), LockError> {
    serde_json::to_writer(&mut writer.writer, value)
        .map_err(|error| LockError::io(path)(std::io::Error::other(error)))?;
    writer.writer.write_all(b"\n").map_err(LockError::io(path))
}

/// Creates the lock of `paths` (not yet written): hashes every file, reads every dataset, and
/// writes the records sidecar next to `lock_path`.
///
/// Between this and [`Lock::write`], the sidecar on disk no longer matches an older lock at
/// `lock_path`; [`create_and_write`] writes both as a pair instead.
pub fn create(
    paths: &[PathBuf],
    lock_path: &Path,
    options: &LockOptions,
    progress: &dyn Progress,
) -> Result<Lock, LockError> {
    let (lock, sidecars) = prepare(paths, lock_path, options, progress)?;
    sidecars.commit(lock_path)?;
    Ok(lock)
}

/// Creates the lock of `paths` and writes it to `lock_path` with its records sidecar, as a
/// pair: both are written and synced under temporary names first and renamed into place one
/// right after the other, so that a crash leaves the old lock and sidecar or the new ones
/// (but for the instant between the two renames), never a lock whose sidecar does not match.
pub fn create_and_write(
    paths: &[PathBuf],
    lock_path: &Path,
    options: &LockOptions,
    progress: &dyn Progress,
) -> Result<Lock, LockError> {
    let (lock, sidecars) = prepare(paths, lock_path, options, progress)?;
    let file = lock.prepare_write(lock_path)?;
    sidecars.commit(lock_path)?;
    file.commit()?;
    Ok(lock)
}

/// The sidecars of a lock, written and synced but not yet in place.
struct Sidecars {
    records: Option<AtomicFile>,
    files: Option<AtomicFile>,
}

impl Sidecars {
    /// Renames the sidecars into place; a files sidecar left by an earlier, larger lock is
    /// removed when the new lock lists its files itself.
    fn commit(self, lock_path: &Path) -> Result<(), LockError> {
        if let Some(records) = self.records {
            records.commit()?;
        }
        if let Some(files) = self.files {
            files.commit()?;
        } else {
            let stale = files_path(lock_path);
            if let Err(error) = fs_err::remove_file(&stale)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                return Err(LockError::io(&stale)(error));
            }
        }
        Ok(())
    }
}

/// The datasets that stay datasets, and the tables: below each folder of `paths`, under the
/// first folder given that holds them, its Parquet files or, when it holds none, its CSV files
/// ([`crate::table::table_members`], in file order).
fn split_tables(
    paths: &[PathBuf],
    datasets: Vec<PathBuf>,
) -> (Vec<PathBuf>, Vec<(PathBuf, Vec<PathBuf>)>) {
    let folders: Vec<PathBuf> = paths
        .iter()
        .map(|path| absolute(path))
        .filter(|path| path.is_dir())
        .collect();
    let mut below: Vec<(PathBuf, Vec<PathBuf>)> = folders
        .iter()
        .map(|folder| (folder.clone(), Vec::new()))
        .collect();
    for dataset in &datasets {
        if let Some((_, files)) = below
            .iter_mut()
            .find(|(folder, _)| dataset.starts_with(folder))
        {
            files.push(dataset.clone());
        }
    }
    // `expand` lists each folder's datasets in file order already.
    let tables: Vec<(PathBuf, Vec<PathBuf>)> = below
        .into_iter()
        .map(|(folder, files)| (folder, crate::table::table_members(files)))
        .filter(|(_, members)| !members.is_empty())
        .collect();
    let rest = datasets
        .into_iter()
        .filter(|dataset| !tables.iter().any(|(_, members)| members.contains(dataset)))
        .collect();
    (rest, tables)
}

/// Reads each table of `tables` (a folder and its files) with `reader`.
fn lock_tables(
    reader: &dyn TableReader,
    tables: &[(PathBuf, Vec<PathBuf>)],
    base: &Path,
    read: &ReadOptions,
    progress: &dyn Progress,
) -> Result<Vec<LockedTable>, LockError> {
    tables
        .iter()
        .map(|(folder, files)| {
            let digest = reader.digest(folder, files, read, progress)?;
            Ok(LockedTable {
                path: stored_path(base, folder),
                format: crate::table::table_format(files),
                engine: reader.engine(),
                file_count: files.len() as u64,
                roles: read.roles.clone(),
                record_count: digest.record_count,
                schema_fingerprint: digest.schema.fingerprint(),
                schema: digest.schema,
                label_counts: digest.label_counts,
                record_set_hash: digest.record_set_hash,
            })
        })
        .collect()
}

/// The lock of `paths`, and its sidecars written and synced but not yet in place.
fn prepare(
    paths: &[PathBuf],
    lock_path: &Path,
    options: &LockOptions,
    progress: &dyn Progress,
) -> Result<(Lock, Sidecars), LockError> {
    let base = lock_base(lock_path);
    let inputs = expand(paths, &own_files(lock_path), &base)?;
    let mut list = FileListWriter::new(
        lock_path,
        &base,
        options.inline_files.unwrap_or(INLINE_FILES),
    );
    progress.start("hashing files", Some(inputs.bytes), ProgressUnit::Bytes);
    hash_stream(inputs.files, progress, &mut |file, hash| {
        list.push(LockedFile {
            path: file.stored,
            size: hash.size,
            sha256: hash.sha256,
        })
    })?;
    progress.finish();
    let (files, file_list, files_sidecar) = list.finish()?;

    let (dataset_paths, table_files) = match &options.tables {
        Some(_) => split_tables(paths, inputs.datasets),
        None => (inputs.datasets, Vec::new()),
    };
    let tables = match (&options.tables, options.files_only) {
        (Some(reader), false) => lock_tables(
            reader.as_ref(),
            &table_files,
            &base,
            &options.read,
            progress,
        )?,
        _ => Vec::new(),
    };

    let mut datasets = Vec::new();
    let mut records = None;
    let mut pending = None;
    if !options.files_only && !dataset_paths.is_empty() {
        let sidecar = records_path(&absolute(lock_path));
        let mut writer = AtomicFile::create(&sidecar)?;
        for (index, dataset_path) in dataset_paths.iter().enumerate() {
            let mut sink = |entry: RecordEntry| {
                serde_json::to_writer(
                    &mut writer.writer,
                    &SidecarLine {
                        dataset: index,
                        entry,
                    },
                )
                .map_err(std::io::Error::other)?;
                writer.writer.write_all(b"\n")
            };
            let digest =
                digest_dataset(dataset_path, &options.read, progress, &mut sink, &sidecar)?;
            datasets.push(LockedDataset {
                path: stored_path(&base, dataset_path),
                format: digest.format,
                companions: digest
                    .files
                    .iter()
                    .filter(|file| {
                        absolute(file) != *dataset_path && !file.starts_with(dataset_path)
                    })
                    .map(|file| stored_path(&base, file))
                    .collect(),
                roles: options.read.roles.clone(),
                skip_bad: options.read.skip_bad,
                record_count: digest.record_count,
                skipped: digest.skipped,
                ids_are_positions: digest.ids_are_positions,
                schema_fingerprint: digest.schema.fingerprint(),
                schema: digest.schema,
                label_counts: digest.label_counts,
                merkle_root: digest.merkle_root,
                record_set_hash: Some(digest.record_set_hash),
            });
        }
        writer.sync()?;
        let staged = writer.writer.get_ref().path();
        let hash = hashing::sha256_file(staged).map_err(LockError::io(staged))?;
        records = Some(RecordsFile {
            path: stored_path(&base, &sidecar),
            size: hash.size,
            sha256: hash.sha256,
        });
        pending = Some(writer);
    }
    let lock = Lock {
        version: if file_list.is_some() { 2 } else { 1 },
        tool: format!("antidote {}", env!("CARGO_PKG_VERSION")),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        roots: paths.iter().map(|path| stored_path(&base, path)).collect(),
        files,
        file_list,
        datasets,
        tables,
        records,
    };
    let sidecars = Sidecars {
        records: pending,
        files: files_sidecar,
    };
    Ok((lock, sidecars))
}

impl Lock {
    /// Reads a lock file.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let bytes = fs_err::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                LockError::NotFound {
                    path: path.to_owned(),
                }
            } else {
                LockError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let versioned: Versioned =
            serde_json::from_slice(&bytes).map_err(|source| LockError::Format {
                path: path.to_owned(),
                source,
            })?;
        if !(1..=LOCK_VERSION).contains(&versioned.version) {
            return Err(LockError::Version {
                path: path.to_owned(),
                version: versioned.version,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| LockError::Format {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the lock file atomically (a temporary file renamed into place).
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        Ok(self.prepare_write(path)?.commit()?)
    }

    /// The lock file written and synced under a temporary name next to `path`.
    fn prepare_write(&self, path: &Path) -> Result<AtomicFile, LockError> {
        let mut file = AtomicFile::create(path)?;
        serde_json::to_writer_pretty(&mut file.writer, self).map_err(|error| LockError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(error),
        })?;
        file.writer.write_all(b"\n").map_err(LockError::io(path))?;
        file.sync()?;
        Ok(file)
    }

    /// Reads the records sidecar: the entries of each dataset, in order. This holds every
    /// entry in memory; [`crate::sidecar::for_each_entry`] streams them, and
    /// [`crate::diff::StreamingDiff`] diffs them in bounded memory.
    pub fn read_records(&self, lock_path: &Path) -> Result<Vec<Vec<RecordEntry>>, LockError> {
        let mut entries: Vec<Vec<RecordEntry>> = vec![Vec::new(); self.datasets.len()];
        if let Some(path) = self.records_sidecar(lock_path) {
            crate::sidecar::for_each_entry(&path, None, &mut |dataset, entry| {
                if let Some(dataset) = entries.get_mut(dataset) {
                    dataset.push(entry);
                }
                Ok(())
            })?;
        }
        Ok(entries)
    }

    /// How many files the lock pins.
    #[must_use]
    pub fn file_count(&self) -> u64 {
        self.file_list
            .as_ref()
            .map_or(self.files.len() as u64, |list| list.count)
    }

    /// The total size of the files the lock pins.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.file_list.as_ref().map_or_else(
            || self.files.iter().map(|file| file.size).sum(),
            |list| list.bytes,
        )
    }

    /// Where the files sidecar is, in version 2.
    #[must_use]
    pub fn files_sidecar(&self, lock_path: &Path) -> Option<PathBuf> {
        self.file_list
            .as_ref()
            .map(|list| resolve(&lock_base(lock_path), &list.path))
    }

    /// The files the lock pins, in file order (see [`file_order`]): from the lock itself, or
    /// streamed from the files sidecar, whose order is checked as it is read.
    pub fn locked_files(
        &self,
        lock_path: &Path,
    ) -> Result<Box<dyn Iterator<Item = Result<LockedFile, LockError>> + '_>, LockError> {
        let Some(path) = self.files_sidecar(lock_path) else {
            // Locks of version 1 written before the file order was fixed sort by absolute
            // path; a list of at most a few thousand files is sorted here.
            let mut files: Vec<&LockedFile> = self.files.iter().collect();
            files.sort_by_cached_key(|file| file_order(&file.path));
            return Ok(Box::new(files.into_iter().cloned().map(Ok)));
        };
        Ok(Box::new(crate::sidecar::LockedFiles::open(&path)?))
    }

    /// Where the records sidecar is, when the lock has one.
    #[must_use]
    pub fn records_sidecar(&self, lock_path: &Path) -> Option<PathBuf> {
        self.records
            .as_ref()
            .map(|records| resolve(&lock_base(lock_path), &records.path))
    }
}

impl From<OutputError> for LockError {
    fn from(error: OutputError) -> Self {
        match error {
            OutputError::Io { path, source } => Self::Io { path, source },
            OutputError::Exists { path } => Self::Io {
                source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
                path,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_paths_are_relative_below_the_base() {
        let base = absolute(Path::new("/data/project"));
        assert_eq!(
            stored_path(&base, Path::new("/data/project/train/a.csv")),
            "train/a.csv"
        );
        assert_eq!(
            stored_path(&base, Path::new("/data/project/x/../b.csv")),
            "b.csv"
        );
        assert_eq!(
            stored_path(&base, Path::new("/elsewhere/c.csv")),
            "/elsewhere/c.csv"
        );
        assert_eq!(
            records_path(Path::new("a/antidote.lock")),
            Path::new("a/antidote.lock.records.jsonl")
        );
    }

    #[test]
    fn expand_walks_folders_and_skips_hidden_and_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("a.csv"), "x\n1\n").unwrap();
        std::fs::write(root.join("sub/model.bin"), [0u8; 4]).unwrap();
        std::fs::write(root.join(".git/HEAD"), "ref").unwrap();
        std::fs::write(root.join("antidote.lock"), "{}").unwrap();
        let inputs = expand(
            &[root.to_owned()],
            &own_files(&root.join("antidote.lock")),
            &absolute(root),
        )
        .unwrap();
        let names: Vec<String> = inputs.files.map(|file| file.unwrap().stored).collect();
        assert_eq!(names, vec!["a.csv", "sub/model.bin"]);
        assert_eq!(inputs.datasets, vec![absolute(&root.join("a.csv"))]);
    }
}

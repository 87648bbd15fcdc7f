//! Verification of data against a lock, and of a lock against its signature.
//!
//! Verification is cheap when nothing changed: files are re-hashed in parallel, in batches of a
//! fresh walk merged with the lock's file list (both in file order, so memory does not grow
//! with the number of files), and a dataset is re-read record by record only when one of its
//! files changed. Then its records are
//! compared with the lock's records sidecar to say exactly which were added, removed or
//! modified.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use antidote_core::{Digest, Progress, ProgressUnit};
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

use crate::diff::{RecordDiff, RecordEntry, StreamingDiff};
use crate::lock::{self, Lock, LockError, LockedFile};
use crate::table::{LocalTables, TableReader, table_files};

/// Files hashed per parallel batch while the file list is merged with the walk.
const HASH_BATCH: usize = 1024;
use crate::{attest, hashing, sidecar};

/// How one file differs from the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum FileChange {
    /// The content changed.
    Modified {
        /// Size in the lock.
        old_size: u64,
        /// Size now.
        new_size: u64,
        /// SHA-256 in the lock.
        old_sha256: Digest,
        /// SHA-256 now.
        new_sha256: Digest,
    },
    /// The file is gone.
    Missing,
    /// A file appeared inside a locked folder.
    Added {
        /// Its size.
        size: u64,
    },
}

/// A file that differs from the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The path as the lock stores it.
    pub path: String,
    /// How it differs.
    #[serde(flatten)]
    pub change: FileChange,
}

/// What became of a locked dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DatasetOutcome {
    /// Same records, same order.
    Unchanged,
    /// The records differ.
    Changed {
        /// Records in the lock.
        old_count: u64,
        /// Records now.
        new_count: u64,
        /// Whether the columns, their types or roles changed.
        schema_changed: bool,
        /// Which records.
        diff: RecordDiff,
    },
    /// The dataset can no longer be read.
    Unreadable {
        /// Why.
        error: String,
    },
}

/// The verdict on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetReport {
    /// The dataset's path as the lock stores it.
    pub path: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: DatasetOutcome,
}

/// What became of a locked table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum TableOutcome {
    /// The same records (in any order).
    Unchanged,
    /// The records differ. A table keeps no per-record sidecar, so which records is not known:
    /// the counts and labels say how much.
    Changed {
        /// Records in the lock.
        old_count: u64,
        /// Records now.
        new_count: u64,
        /// Whether the columns or their types changed.
        schema_changed: bool,
        /// Labels whose counts changed, as `(label, old, new)`.
        label_changes: Vec<(String, u64, u64)>,
    },
    /// The table can no longer be read.
    Unreadable {
        /// Why.
        error: String,
    },
}

/// The verdict on one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    /// The table's folder as the lock stores it.
    pub path: String,
    /// What read it again.
    pub engine: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: TableOutcome,
}

/// The state of the lock's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// No signature and none asked for.
    Unsigned,
    /// A signature exists but no public key was given to check it.
    NotChecked,
    /// Valid for the given key.
    Valid {
        /// The key's id.
        key_id: String,
    },
    /// A public key was given but the lock has no signature (absent or stripped).
    Missing,
    /// The signature does not verify: the lock or the envelope was tampered with.
    Invalid {
        /// Why.
        reason: String,
    },
    /// Signed, but by another key.
    WrongKey {
        /// The id of the key given.
        expected_key_id: String,
        /// The ids in the envelope.
        found_key_ids: Vec<String>,
    },
}

impl SignatureStatus {
    /// Whether the signature state lets verification pass.
    #[must_use]
    pub fn passed(&self) -> bool {
        matches!(self, Self::Unsigned | Self::NotChecked | Self::Valid { .. })
    }
}

/// Everything `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The lock file.
    pub lock: PathBuf,
    /// Files checked.
    pub files_checked: usize,
    /// Files that differ.
    pub files: Vec<FileReport>,
    /// The records sidecar, when it no longer matches the lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_file: Option<FileChange>,
    /// Every dataset's verdict.
    pub datasets: Vec<DatasetReport>,
    /// Every table's verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableReport>,
    /// The signature's state.
    pub signature: SignatureStatus,
}

impl VerifyReport {
    /// Whether everything matches and the signature is acceptable.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.files.is_empty()
            && self.records_file.is_none()
            && self
                .datasets
                .iter()
                .all(|dataset| dataset.outcome == DatasetOutcome::Unchanged)
            && self
                .tables
                .iter()
                .all(|table| table.outcome == TableOutcome::Unchanged)
            && self.signature.passed()
    }
}

/// Re-hashes everything `lock_path` pins and checks its signature with `key`, if given; tables
/// whose files changed are read again by antidote itself ([`LocalTables`]).
pub fn verify(
    lock_path: &Path,
    key: Option<&VerifyingKey>,
    progress: &dyn Progress,
) -> Result<VerifyReport, LockError> {
    verify_with(lock_path, key, &LocalTables, progress)
}

/// [`verify`], with tables whose files changed read again by `tables`.
pub fn verify_with(
    lock_path: &Path,
    key: Option<&VerifyingKey>,
    tables: &dyn TableReader,
    progress: &dyn Progress,
) -> Result<VerifyReport, LockError> {
    let lock = Lock::read(lock_path)?;
    let base = lock::lock_base(lock_path);
    let signature = attest::check_lock_signature(lock_path, key)?;

    let mut files = check_files(&lock, lock_path, &base, progress)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let records_file = match &lock.records {
        None => None,
        Some(records) => {
            let path = lock::resolve(&base, &records.path);
            match hashing::sha256_file(&path) {
                Ok(hash) if hash.sha256 == records.sha256 => None,
                Ok(hash) => Some(FileChange::Modified {
                    old_size: records.size,
                    new_size: hash.size,
                    old_sha256: records.sha256,
                    new_sha256: hash.sha256,
                }),
                Err(_) => Some(FileChange::Missing),
            }
        }
    };

    // The sidecar is trusted only when it still matches the lock.
    let sidecar = if records_file.is_none() {
        lock.records_sidecar(lock_path)
    } else {
        None
    };
    let mut datasets = Vec::with_capacity(lock.datasets.len());
    for (index, locked) in lock.datasets.iter().enumerate() {
        let touched = files.iter().any(|file| locked.contains(&file.path));
        let outcome = if touched {
            let old = sidecar.as_deref().map(|path| (path, index));
            recheck_dataset(&base, locked, old, progress)?
        } else {
            DatasetOutcome::Unchanged
        };
        datasets.push(DatasetReport {
            path: locked.path.clone(),
            outcome,
        });
    }

    let tables = lock
        .tables
        .iter()
        .map(|locked| {
            let touched = files.iter().any(|file| locked.contains(&file.path));
            Ok(TableReport {
                path: locked.path.clone(),
                engine: if touched {
                    tables.engine()
                } else {
                    locked.engine.clone()
                },
                outcome: if touched {
                    recheck_table(&base, lock_path, locked, tables, progress)?
                } else {
                    TableOutcome::Unchanged
                },
            })
        })
        .collect::<Result<Vec<_>, LockError>>()?;

    Ok(VerifyReport {
        lock: lock_path.to_owned(),
        files_checked: usize::try_from(lock.file_count()).unwrap_or(usize::MAX),
        files,
        records_file,
        datasets,
        tables,
        signature,
    })
}

/// Reads a table whose files changed with `reader` and compares it with the lock.
fn recheck_table(
    base: &Path,
    lock_path: &Path,
    locked: &lock::LockedTable,
    reader: &dyn TableReader,
    progress: &dyn Progress,
) -> Result<TableOutcome, LockError> {
    let folder = lock::resolve(base, &locked.path);
    if !folder.is_dir() {
        return Ok(TableOutcome::Unreadable {
            error: format!("`{}` is not a folder any more", locked.path),
        });
    }
    let files = table_files(&folder, &lock::own_files(lock_path), base)?;
    let digest = match reader.digest(&folder, &files, &locked.read_options(), progress) {
        Ok(digest) => digest,
        Err(error) => {
            return Ok(TableOutcome::Unreadable {
                error: antidote_core::error_chain(&error),
            });
        }
    };
    if digest.record_set_hash == locked.record_set_hash
        && digest.record_count == locked.record_count
    {
        return Ok(TableOutcome::Unchanged);
    }
    Ok(TableOutcome::Changed {
        old_count: locked.record_count,
        new_count: digest.record_count,
        schema_changed: digest.schema.fingerprint() != locked.schema_fingerprint,
        label_changes: label_count_changes(&locked.label_counts, &digest.label_counts),
    })
}

/// How the files sidecar of a version 2 lock differs from what the lock pins, if it does.
fn file_list_change(lock: &Lock, lock_path: &Path) -> Option<FileReport> {
    let (list, path) = (lock.file_list.as_ref()?, lock.files_sidecar(lock_path)?);
    let change = match hashing::sha256_file(&path) {
        Ok(hash) if hash.sha256 == list.sha256 && hash.size == list.size => return None,
        Ok(hash) => FileChange::Modified {
            old_size: list.size,
            new_size: hash.size,
            old_sha256: list.sha256,
            new_sha256: hash.sha256,
        },
        Err(_) => FileChange::Missing,
    };
    Some(FileReport {
        path: list.path.clone(),
        change,
    })
}

/// The files that differ from the lock: a fresh walk of the locked paths merged with the
/// lock's file list, both in file order, so that memory holds one batch of files being hashed
/// and the differences, however many files there are. A files sidecar that no longer matches
/// the lock is itself reported, and its list used as far as it reads.
fn check_files(
    lock: &Lock,
    lock_path: &Path,
    base: &Path,
    progress: &dyn Progress,
) -> Result<Vec<FileReport>, LockError> {
    let mut changes = Vec::new();
    if let Some(change) = file_list_change(lock, lock_path) {
        let missing = change.change == FileChange::Missing;
        changes.push(change);
        if missing {
            return Ok(changes);
        }
    }

    let roots: Vec<PathBuf> = lock
        .roots
        .iter()
        .map(|root| lock::resolve(base, root))
        .filter(|root| root.exists())
        .collect();
    let mut found = lock::expand(&roots, &lock::own_files(lock_path), base)?
        .files
        .peekable();
    let mut locked = lock.locked_files(lock_path)?.peekable();
    progress.start(
        "hashing files",
        Some(lock.total_bytes()),
        ProgressUnit::Bytes,
    );
    let mut batch: Vec<(lock::FoundFile, LockedFile)> = Vec::with_capacity(HASH_BATCH);
    let flush = |batch: &mut Vec<(lock::FoundFile, LockedFile)>,
                 changes: &mut Vec<FileReport>|
     -> Result<(), LockError> {
        let (found, locked): (Vec<lock::FoundFile>, Vec<LockedFile>) = batch.drain(..).unzip();
        let hashes = lock::hash_batch(&found, progress)?;
        for (locked, hash) in locked.into_iter().zip(hashes) {
            if hash.sha256 != locked.sha256 || hash.size != locked.size {
                changes.push(FileReport {
                    change: FileChange::Modified {
                        old_size: locked.size,
                        new_size: hash.size,
                        old_sha256: locked.sha256,
                        new_sha256: hash.sha256,
                    },
                    path: locked.path,
                });
            }
        }
        Ok(())
    };
    loop {
        let order = match (locked.peek(), found.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) => {
                locked.next().transpose()?;
                continue;
            }
            (_, Some(Err(_))) => {
                found.next().transpose()?;
                continue;
            }
            (Some(Ok(_)), None) => Ordering::Less,
            (None, Some(Ok(_))) => Ordering::Greater,
            (Some(Ok(old)), Some(Ok(new))) => {
                lock::file_order(&old.path).cmp(&lock::file_order(&new.stored))
            }
        };
        match order {
            Ordering::Less => {
                let old = locked.next().expect("peeked")?;
                changes.push(FileReport {
                    path: old.path,
                    change: FileChange::Missing,
                });
            }
            Ordering::Greater => {
                let new = found.next().expect("peeked")?;
                let size = fs_err::metadata(&new.path).map_or(0, |metadata| metadata.len());
                changes.push(FileReport {
                    path: new.stored,
                    change: FileChange::Added { size },
                });
            }
            Ordering::Equal => {
                let old = locked.next().expect("peeked")?;
                let new = found.next().expect("peeked")?;
                batch.push((new, old));
                if batch.len() == HASH_BATCH {
                    flush(&mut batch, &mut changes)?;
                }
            }
        }
    }
    flush(&mut batch, &mut changes)?;
    progress.finish();
    Ok(changes)
}

/// Reads a dataset whose files changed and diffs it against the lock's entries (`old`: the
/// sidecar and the dataset's index in it), in bounded memory: the new entries go straight
/// into a [`StreamingDiff`], and the old ones are streamed from the sidecar only when the
/// records did change.
fn recheck_dataset(
    base: &Path,
    locked: &lock::LockedDataset,
    old: Option<(&Path, usize)>,
    progress: &dyn Progress,
) -> Result<DatasetOutcome, LockError> {
    let path = lock::resolve(base, &locked.path);
    if !path.exists() {
        return Ok(DatasetOutcome::Unreadable {
            error: format!("`{}` does not exist", locked.path),
        });
    }
    let temporary = sidecar::temporary_folder();
    let mut diff = StreamingDiff::new(locked.ids_are_positions);
    let mut sink = |entry: RecordEntry| diff.push_new(entry);
    let digest = match lock::digest_dataset(
        &path,
        &locked.read_options(),
        progress,
        &mut sink,
        &temporary,
    ) {
        Ok(digest) => digest,
        Err(error) => {
            return Ok(DatasetOutcome::Unreadable {
                error: antidote_core::error_chain(&error),
            });
        }
    };
    let same_set = locked
        .record_set_hash
        .as_ref()
        .is_none_or(|locked| *locked == digest.record_set_hash);
    if digest.merkle_root == locked.merkle_root && same_set {
        return Ok(DatasetOutcome::Unchanged);
    }
    if let Some((sidecar_path, dataset)) = old {
        sidecar::for_each_entry(sidecar_path, Some(dataset), &mut |_, entry| {
            diff.push_old(entry).map_err(LockError::io(&temporary))
        })?;
    }
    Ok(DatasetOutcome::Changed {
        old_count: locked.record_count,
        new_count: digest.record_count,
        schema_changed: digest.schema.fingerprint() != locked.schema_fingerprint,
        diff: diff.finish().map_err(LockError::io(&temporary))?,
    })
}

/// Label counts that differ between two versions, as `label: old -> new`.
#[must_use]
pub fn label_count_changes(
    old: &BTreeMap<String, u64>,
    new: &BTreeMap<String, u64>,
) -> Vec<(String, u64, u64)> {
    let labels: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    labels
        .into_iter()
        .filter_map(|label| {
            let before = old.get(label).copied().unwrap_or(0);
            let after = new.get(label).copied().unwrap_or(0);
            (before != after).then(|| (label.clone(), before, after))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use antidote_core::NoProgress;

    use super::*;
    use crate::lock::{LockOptions, create_and_write};

    /// `root/data`: a CSV, a model file, nested notes, and a two-class image folder.
    fn data(root: &Path) {
        let data = root.join("data");
        for folder in ["pics/cat", "pics/dog", "notes/a", "notes/a-b"] {
            std::fs::create_dir_all(data.join(folder)).unwrap();
        }
        std::fs::write(data.join("rows.csv"), "id,label,x\na,cat,1\nb,dog,2\n").unwrap();
        std::fs::write(data.join("model.bin"), [7u8; 16]).unwrap();
        std::fs::write(data.join("notes/a/x.txt"), "x").unwrap();
        std::fs::write(data.join("notes/a-b/y.txt"), "y").unwrap();
        for (index, name) in ["pics/cat/1.png", "pics/cat/2.png", "pics/dog/3.png"]
            .into_iter()
            .enumerate()
        {
            let pixel = u8::try_from(index * 40).unwrap();
            image::GrayImage::from_pixel(2, 2, image::Luma([pixel]))
                .save(data.join(name))
                .unwrap();
        }
    }

    fn lock_with(root: &Path, inline_files: usize) -> (PathBuf, Lock) {
        let lock_path = root.join("antidote.lock");
        let options = LockOptions {
            inline_files: Some(inline_files),
            ..LockOptions::default()
        };
        let lock =
            create_and_write(&[root.join("data")], &lock_path, &options, &NoProgress).unwrap();
        (lock_path, lock)
    }

    fn changes(report: &VerifyReport) -> Vec<(String, &'static str)> {
        report
            .files
            .iter()
            .map(|file| {
                let kind = match file.change {
                    FileChange::Modified { .. } => "modified",
                    FileChange::Missing => "missing",
                    FileChange::Added { .. } => "added",
                };
                (file.path.clone(), kind)
            })
            .collect()
    }

    #[test]
    fn a_lock_of_many_files_keeps_them_in_the_files_sidecar_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        data(dir.path());
        let (lock_path, lock) = lock_with(dir.path(), 2);
        assert_eq!(lock.version, 2);
        assert!(lock.files.is_empty());
        let list = lock.file_list.as_ref().unwrap();
        assert_eq!(
            (list.count, list.path.as_str()),
            (7, "antidote.lock.files.jsonl")
        );
        let listed: Vec<String> = lock
            .locked_files(&lock_path)
            .unwrap()
            .map(|file| file.unwrap().path)
            .collect();
        // Component order: `notes/a/x.txt` before `notes/a-b/y.txt`.
        assert_eq!(
            listed,
            [
                "data/model.bin",
                "data/notes/a/x.txt",
                "data/notes/a-b/y.txt",
                "data/pics/cat/1.png",
                "data/pics/cat/2.png",
                "data/pics/dog/3.png",
                "data/rows.csv",
            ]
        );
        // The same files as the lock that lists them itself, and the same datasets and roots.
        let inline_dir = tempfile::tempdir().unwrap();
        data(inline_dir.path());
        let (_, inline) = lock_with(inline_dir.path(), 100);
        assert_eq!(inline.version, 1);
        assert!(inline.file_list.is_none());
        let inline_paths: Vec<&str> = inline.files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(inline_paths, listed);
        assert_eq!(inline.datasets, lock.datasets);
        assert_eq!(inline.total_bytes(), lock.total_bytes());

        let report = verify(&lock_path, None, &NoProgress).unwrap();
        assert!(report.passed(), "{report:?}");
        assert_eq!(report.files_checked, 7);
    }

    #[test]
    fn the_record_set_hash_of_a_lock_ignores_record_order_and_the_merkle_root_does_not() {
        let dir = tempfile::tempdir().unwrap();
        data(dir.path());
        let (_, lock) = lock_with(dir.path(), 100);
        let rows = |lock: &Lock| {
            lock.datasets
                .iter()
                .find(|dataset| dataset.path == "data/rows.csv")
                .cloned()
                .unwrap()
        };
        // What the set hash module gives for the records, read on their own.
        let mut expected = crate::set_hash::RecordSetHash::default();
        let path = dir.path().join("data/rows.csv");
        for record in
            antidote_data::Dataset::open(&path, &antidote_data::ReadOptions::default()).unwrap()
        {
            let record = record.unwrap();
            expected.insert(record.id.as_str(), &record.content_hash());
        }
        assert_eq!(rows(&lock).record_set_hash, Some(expected.digest()));
        // The same records in the other order: another Merkle root, the same set hash.
        let shuffled = tempfile::tempdir().unwrap();
        data(shuffled.path());
        std::fs::write(
            shuffled.path().join("data/rows.csv"),
            "id,label,x\nb,dog,2\na,cat,1\n",
        )
        .unwrap();
        let (_, reordered) = lock_with(shuffled.path(), 100);
        assert_ne!(rows(&reordered).merkle_root, rows(&lock).merkle_root);
        assert_eq!(
            rows(&reordered).record_set_hash,
            rows(&lock).record_set_hash
        );
    }

    #[test]
    fn verify_merges_the_files_sidecar_with_a_fresh_walk() {
        let dir = tempfile::tempdir().unwrap();
        data(dir.path());
        let (lock_path, _) = lock_with(dir.path(), 2);
        let data = dir.path().join("data");
        std::fs::write(data.join("model.bin"), [8u8; 16]).unwrap();
        std::fs::remove_file(data.join("notes/a/x.txt")).unwrap();
        std::fs::write(data.join("notes/a/z.txt"), "new").unwrap();
        image::GrayImage::from_pixel(2, 2, image::Luma([255]))
            .save(data.join("pics/cat/2.png"))
            .unwrap();
        let report = verify(&lock_path, None, &NoProgress).unwrap();
        assert!(!report.passed());
        assert_eq!(
            changes(&report),
            [
                ("data/model.bin".to_owned(), "modified"),
                ("data/notes/a/x.txt".to_owned(), "missing"),
                ("data/notes/a/z.txt".to_owned(), "added"),
                ("data/pics/cat/2.png".to_owned(), "modified"),
            ]
        );
        let pics = report
            .datasets
            .iter()
            .find(|dataset| dataset.path == "data/pics")
            .unwrap();
        let DatasetOutcome::Changed { diff, .. } = &pics.outcome else {
            panic!("the image folder changed: {pics:?}");
        };
        assert_eq!(diff.changed.len(), 1, "{diff:?}");
        assert_eq!(diff.changed[0].id, "cat/2.png");
    }

    #[test]
    fn an_edited_files_sidecar_is_reported_and_a_disordered_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        data(dir.path());
        let (lock_path, _) = lock_with(dir.path(), 2);
        let sidecar = crate::lock::files_path(&lock_path);
        let text = std::fs::read_to_string(&sidecar).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        // Dropping a line hides nothing: the list no longer matches the lock, and the file
        // it named shows up as added.
        let dropped = lines.remove(0).to_owned();
        std::fs::write(&sidecar, lines.join("\n") + "\n").unwrap();
        let report = verify(&lock_path, None, &NoProgress).unwrap();
        assert_eq!(
            changes(&report),
            [
                ("antidote.lock.files.jsonl".to_owned(), "modified"),
                ("data/model.bin".to_owned(), "added"),
            ]
        );
        lines.insert(2, &dropped);
        std::fs::write(&sidecar, lines.join("\n") + "\n").unwrap();
        let error = verify(&lock_path, None, &NoProgress).unwrap_err();
        assert!(
            matches!(error, LockError::Sidecar { line: 3, .. }),
            "{error:?}"
        );
        std::fs::remove_file(&sidecar).unwrap();
        let report = verify(&lock_path, None, &NoProgress).unwrap();
        assert_eq!(
            changes(&report),
            [("antidote.lock.files.jsonl".to_owned(), "missing")]
        );
        assert!(!report.passed());
    }

    #[test]
    fn a_smaller_lock_removes_the_files_sidecar_of_a_larger_one() {
        let dir = tempfile::tempdir().unwrap();
        data(dir.path());
        let (lock_path, _) = lock_with(dir.path(), 2);
        assert!(crate::lock::files_path(&lock_path).exists());
        let (_, lock) = lock_with(dir.path(), 100);
        assert_eq!(lock.version, 1);
        assert!(!crate::lock::files_path(&lock_path).exists());
        assert!(verify(&lock_path, None, &NoProgress).unwrap().passed());
    }
}

/// A lock written by antidote before version 2 (`resources/test/fixtures/lock_v1`, made with
/// `antidote lock data` of that build): it still verifies, with the same Merkle roots.
#[cfg(test)]
mod version_1 {
    use std::path::Path;

    use antidote_core::NoProgress;

    use super::*;

    fn copy(from: &Path, to: &Path) {
        for entry in walkdir::WalkDir::new(from) {
            let entry = entry.unwrap();
            let target = to.join(entry.path().strip_prefix(from).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("resources/test/fixtures/lock_v1"),
            dir.path(),
        );
        dir
    }

    #[test]
    fn an_old_lock_verifies_and_a_new_lock_of_the_same_data_has_its_roots() {
        let dir = fixture();
        let lock_path = dir.path().join("antidote.lock");
        let old = Lock::read(&lock_path).unwrap();
        assert_eq!(old.version, 1);
        assert!(old.file_list.is_none());
        let report = verify(&lock_path, None, &NoProgress).unwrap();
        assert!(report.passed(), "{report:?}");
        assert_eq!(report.files_checked, 8);

        let new_path = dir.path().join("new.lock");
        let new = crate::lock::create_and_write(
            &[dir.path().join("data")],
            &new_path,
            &crate::lock::LockOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(new.version, 1);
        // The same datasets, with the record set hash old locks do not have.
        let without_set_hash: Vec<_> = new
            .datasets
            .iter()
            .cloned()
            .map(|mut dataset| {
                assert!(dataset.record_set_hash.is_some());
                dataset.record_set_hash = None;
                dataset
            })
            .collect();
        assert_eq!(without_set_hash, old.datasets);
        let mut old_files = old.files.clone();
        old_files.sort_by_key(|file| crate::lock::file_order(&file.path));
        assert_eq!(new.files, old_files);
        assert_eq!(
            std::fs::read(crate::lock::records_path(&new_path)).unwrap(),
            std::fs::read(crate::lock::records_path(&lock_path)).unwrap()
        );
    }

    #[test]
    fn an_old_lock_names_what_changed() {
        let dir = fixture();
        let data = dir.path().join("data");
        let rows = std::fs::read_to_string(data.join("rows.csv")).unwrap();
        std::fs::write(data.join("rows.csv"), rows.replace("r2,dog", "r2,cat")).unwrap();
        std::fs::remove_file(data.join("notes/a/x.txt")).unwrap();
        std::fs::write(data.join("notes/new.txt"), "new").unwrap();
        let report = verify(&dir.path().join("antidote.lock"), None, &NoProgress).unwrap();
        let files: Vec<(&str, bool)> = report
            .files
            .iter()
            .map(|file| {
                (
                    file.path.as_str(),
                    matches!(file.change, FileChange::Added { .. }),
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                ("data/notes/a/x.txt", false),
                ("data/notes/new.txt", true),
                ("data/rows.csv", false)
            ]
        );
        let rows = report
            .datasets
            .iter()
            .find(|dataset| dataset.path == "data/rows.csv")
            .unwrap();
        let DatasetOutcome::Changed { diff, .. } = &rows.outcome else {
            panic!("the rows changed: {rows:?}");
        };
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(diff.changed[0].id, "r2");
    }
}

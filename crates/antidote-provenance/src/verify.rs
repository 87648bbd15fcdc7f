//! Verification of data against a lock, and of a lock against its signature.
//!
//! Verification is cheap when nothing changed: files are re-hashed in parallel, and a dataset
//! is re-read record by record only when one of its files changed. Then its records are
//! compared with the lock's records sidecar to say exactly which were added, removed or
//! modified.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use antidote_core::{Digest, Progress};
use p256::ecdsa::VerifyingKey;
use serde::Serialize;

use crate::diff::{RecordDiff, RecordEntry, StreamingDiff};
use crate::lock::{self, Lock, LockError};
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
            && self.signature.passed()
    }
}

/// Re-hashes everything `lock_path` pins and checks its signature with `key`, if given.
pub fn verify(
    lock_path: &Path,
    key: Option<&VerifyingKey>,
    progress: &dyn Progress,
) -> Result<VerifyReport, LockError> {
    let lock = Lock::read(lock_path)?;
    let base = lock::lock_base(lock_path);
    let signature = attest::check_lock_signature(lock_path, key)?;

    let paths: Vec<PathBuf> = lock
        .files
        .iter()
        .map(|file| lock::resolve(&base, &file.path))
        .collect();
    let (present, missing): (Vec<usize>, Vec<usize>) =
        (0..paths.len()).partition(|index| paths[*index].is_file());
    let present_paths: Vec<PathBuf> = present.iter().map(|index| paths[*index].clone()).collect();
    let hashes = lock::hash_files(&present_paths, progress)?;
    let mut files: Vec<FileReport> = Vec::new();
    for (index, hash) in present.iter().zip(hashes) {
        let locked = &lock.files[*index];
        if hash.sha256 != locked.sha256 || hash.size != locked.size {
            files.push(FileReport {
                path: locked.path.clone(),
                change: FileChange::Modified {
                    old_size: locked.size,
                    new_size: hash.size,
                    old_sha256: locked.sha256,
                    new_sha256: hash.sha256,
                },
            });
        }
    }
    for index in missing {
        files.push(FileReport {
            path: lock.files[index].path.clone(),
            change: FileChange::Missing,
        });
    }
    files.extend(added_files(&lock, lock_path, &base)?);
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

    Ok(VerifyReport {
        lock: lock_path.to_owned(),
        files_checked: lock.files.len(),
        files,
        records_file,
        datasets,
        signature,
    })
}

/// Files now inside a locked folder that the lock does not list.
fn added_files(lock: &Lock, lock_path: &Path, base: &Path) -> Result<Vec<FileReport>, LockError> {
    let roots: Vec<PathBuf> = lock
        .roots
        .iter()
        .map(|root| lock::resolve(base, root))
        .filter(|root| root.is_dir())
        .collect();
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let known: HashSet<&str> = lock.files.iter().map(|file| file.path.as_str()).collect();
    let inputs = lock::expand(&roots, &lock::own_files(lock_path))?;
    let mut added = Vec::new();
    for path in inputs.files {
        let stored = lock::stored_path(base, &path);
        if !known.contains(stored.as_str()) {
            let size = fs_err::metadata(&path).map_or(0, |metadata| metadata.len());
            added.push(FileReport {
                path: stored,
                change: FileChange::Added { size },
            });
        }
    }
    Ok(added)
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
    if digest.merkle_root == locked.merkle_root {
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

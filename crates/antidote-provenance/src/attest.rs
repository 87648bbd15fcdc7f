//! Signed locks: an in-toto Statement about the locked files, in a DSSE envelope.
//!
//! The Statement's subjects are the lock file itself, its records sidecar and every locked file
//! (the files sidecar instead, for a version 2 lock of more files than a lock lists), each by
//! SHA-256, so that an existing in-toto verifier can check any of them. Its predicate
//! (type [`LOCK_PREDICATE_TYPE`]) repeats each dataset's record count, Merkle root and schema
//! fingerprint. The envelope is written next to the lock as `<lock>.intoto.jsonl`.

use std::io::Write;
use std::path::{Path, PathBuf};

use p256::ecdsa::{SigningKey, VerifyingKey};

use crate::hashing;
use crate::lock::{self, AtomicFile, Lock, LockError};
use crate::signing::{self, Envelope, SignatureError, Statement, Subject};
use crate::verify::SignatureStatus;

/// The predicate type of a lock statement.
pub const LOCK_PREDICATE_TYPE: &str = "https://antidote.dev/lock/v1";

fn lock_name(lock_path: &Path) -> String {
    lock_path.file_name().map_or_else(
        || "antidote.lock".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The Statement a signature over `lock` signs.
pub fn lock_statement(lock_path: &Path, lock: &Lock) -> Result<Statement, LockError> {
    let bytes = fs_err::read(lock_path).map_err(|source| LockError::Io {
        path: lock_path.to_owned(),
        source,
    })?;
    let mut subjects = vec![Subject::new(
        lock_name(lock_path),
        &hashing::sha256_bytes(&bytes),
    )];
    if let Some(records) = &lock.records {
        subjects.push(Subject::new(records.path.clone(), &records.sha256));
    }
    // A version 2 lock's files are subjects through their list, which the lock pins.
    if let Some(list) = &lock.file_list {
        subjects.push(Subject::new(list.path.clone(), &list.sha256));
    }
    subjects.extend(
        lock.files
            .iter()
            .map(|file| Subject::new(file.path.clone(), &file.sha256)),
    );
    let datasets: Vec<serde_json::Value> = lock
        .datasets
        .iter()
        .map(|dataset| {
            serde_json::json!({
                "path": dataset.path,
                "format": dataset.format,
                "record_count": dataset.record_count,
                "merkle_root": dataset.merkle_root,
                "schema_fingerprint": dataset.schema_fingerprint,
            })
        })
        .collect();
    let mut predicate = serde_json::json!({
        "lock": lock_name(lock_path),
        "created": lock.created,
        "tool": lock.tool,
        "datasets": datasets,
    });
    if !lock.tables.is_empty() {
        predicate["tables"] = lock
            .tables
            .iter()
            .map(|table| {
                serde_json::json!({
                    "path": table.path,
                    "format": table.format,
                    "record_count": table.record_count,
                    "record_set_hash": table.record_set_hash,
                    "schema_fingerprint": table.schema_fingerprint,
                })
            })
            .collect();
    }
    Ok(Statement::new(subjects, LOCK_PREDICATE_TYPE, predicate))
}

/// Signs the lock at `lock_path` and writes the envelope next to it; returns its path.
pub fn sign_lock(lock_path: &Path, lock: &Lock, key: &SigningKey) -> Result<PathBuf, LockError> {
    let statement = lock_statement(lock_path, lock)?;
    let envelope = signing::sign(&statement, key)?;
    let path = lock::signature_path(lock_path);
    let mut file = AtomicFile::create(&path)?;
    let line = serde_json::to_string(&envelope).map_err(|error| LockError::Io {
        path: path.clone(),
        source: std::io::Error::other(error),
    })?;
    writeln!(file.writer, "{line}").map_err(|source| LockError::Io {
        path: path.clone(),
        source,
    })?;
    file.commit()?;
    Ok(path)
}

/// Checks the signature next to `lock_path` with `key`, if one is given.
pub fn check_lock_signature(
    lock_path: &Path,
    key: Option<&VerifyingKey>,
) -> Result<SignatureStatus, LockError> {
    let path = lock::signature_path(lock_path);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(LockError::Io { path, source }),
    };
    let Some(key) = key else {
        return Ok(if text.is_some() {
            SignatureStatus::NotChecked
        } else {
            SignatureStatus::Unsigned
        });
    };
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(SignatureStatus::Missing);
    };
    let first_line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    let envelope: Envelope = match serde_json::from_str(first_line) {
        Ok(envelope) => envelope,
        Err(error) => {
            return Ok(SignatureStatus::Invalid {
                reason: format!("`{}` is not a DSSE envelope: {error}", path.display()),
            });
        }
    };
    let statement = match signing::verify(&envelope, key) {
        Ok(statement) => statement,
        Err(SignatureError::Unsigned) => return Ok(SignatureStatus::Missing),
        Err(SignatureError::WrongKey {
            expected_key_id,
            found_key_ids,
        }) => {
            return Ok(SignatureStatus::WrongKey {
                expected_key_id,
                found_key_ids,
            });
        }
        Err(error) => {
            return Ok(SignatureStatus::Invalid {
                reason: antidote_core::error_chain(&error),
            });
        }
    };
    let bytes = fs_err::read(lock_path).map_err(|source| LockError::Io {
        path: lock_path.to_owned(),
        source,
    })?;
    let digest = hashing::sha256_bytes(&bytes).hex();
    let name = lock_name(lock_path);
    let covered = statement
        .subject
        .iter()
        .any(|subject| subject.name == name && subject.digest.get("sha256") == Some(&digest));
    if !covered {
        return Ok(SignatureStatus::Invalid {
            reason: format!(
                "`{name}` changed after it was signed (its SHA-256 is not the signed one)"
            ),
        });
    }
    Ok(SignatureStatus::Valid {
        key_id: signing::key_id(key),
    })
}

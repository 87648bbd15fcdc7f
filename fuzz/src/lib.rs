//! What every fuzz target shares: the input written to a real file under the name a user
//! would give it, so each target runs the same code path as `antidote lock`, `verify`,
//! `profile`, `scan` or `aggregate` on that file.

use std::path::{Path, PathBuf};

use antidote_data::{Dataset, ReadOptions};

/// One record may take at most this many bytes in a fuzz run: small enough that the limit
/// itself is exercised, large enough for every seed in `fixtures/`.
pub const MAX_RECORD_BYTES: u64 = 1 << 20;

/// A private folder for one fuzz process, in memory when `/dev/shm` exists.
pub fn scratch() -> &'static Path {
    static FOLDER: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    FOLDER
        .get_or_init(|| {
            let shm = Path::new("/dev/shm");
            let builder = tempfile::Builder::new()
                .prefix("antidote-fuzz-")
                .tempdir_in(shm);
            builder
                .or_else(|_| tempfile::tempdir())
                .expect("a scratch folder")
        })
        .path()
}

/// Writes `data` to `name` in the scratch folder and returns its path.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the scratch folder is writable");
    }
    std::fs::write(&path, data).expect("the scratch folder is writable");
    path
}

/// Reads every record of the dataset at `path` as `antidote` would, with and without
/// `--skip-bad`, hashing each record. Errors are the expected outcome for most inputs; only a
/// panic, an abort or an allocation beyond the limit is a finding.
pub fn read_dataset(path: &Path) {
    for skip_bad in [false, true] {
        let options = ReadOptions {
            skip_bad,
            max_record_bytes: Some(MAX_RECORD_BYTES),
            ..ReadOptions::default()
        };
        let Ok(dataset) = Dataset::open(path, &options) else {
            return;
        };
        for record in dataset {
            match record {
                Ok(record) => {
                    let _ = record.content_hash();
                }
                Err(_) => break,
            }
        }
    }
}

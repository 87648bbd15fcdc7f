//! File hashing at the speed of the hash.
//!
//! SHA-256 uses the CPU's SHA extensions where present (through `sha2`'s runtime detection).
//! Files stream through a reusable 1 MiB buffer: memory does not grow with file size. Many files
//! are hashed in parallel on the rayon pool.

use std::io::Read;
use std::path::{Path, PathBuf};

use antidote_core::Digest;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

/// Size of the read buffer: large enough to amortise system calls, small enough for the cache.
const BUFFER_BYTES: usize = 1 << 20;

/// A file's size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Bytes read.
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: Digest,
}

/// Hashes one file with SHA-256, streaming.
pub fn sha256_file(path: &Path) -> std::io::Result<FileHash> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; BUFFER_BYTES];
    let mut size = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok(FileHash {
        size,
        sha256: Digest::sha256(hasher.finalize().into()),
    })
}

/// Hashes many files in parallel; results come back in the input order.
///
/// `progress` is called with the size of each file when it is done (from worker threads).
pub fn sha256_files(
    paths: &[PathBuf],
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<std::io::Result<FileHash>> {
    paths
        .par_iter()
        .map(|path| {
            let result = sha256_file(path);
            if let Ok(hash) = &result {
                progress(hash.size);
            }
            result
        })
        .collect()
}

/// SHA-256 of bytes in memory.
#[must_use]
pub fn sha256_bytes(bytes: &[u8]) -> Digest {
    Digest::sha256(Sha256::digest(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            sha256_bytes(b"abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let hash = sha256_file(&path).unwrap();
        assert_eq!(hash.size, 3);
        assert_eq!(hash.sha256, sha256_bytes(b"abc"));
    }

    #[test]
    fn files_larger_than_the_buffer_hash_like_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..(BUFFER_BYTES * 2 + 17))
            .map(|index| (index % 251) as u8)
            .collect();
        let path = dir.path().join("big");
        std::fs::write(&path, &bytes).unwrap();
        let results = sha256_files(&[path.clone(), path], &|_| {});
        for result in results {
            assert_eq!(result.unwrap().sha256, sha256_bytes(&bytes));
        }
    }
}

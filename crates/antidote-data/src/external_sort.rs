//! Sorting more keys than memory holds: an external merge sort of `(key, value)` byte strings.
//!
//! A folder of two million images, or a lock of two million files, must be read in a sorted
//! order without holding every name. [`ExternalSort`] keeps at most a fixed number of bytes of
//! pairs in memory, writes sorted runs to anonymous temporary files (in `TMPDIR`, removed by the
//! operating system when closed) and merges them back; [`Sorted`] yields the pairs in key order
//! (ties in the order they were pushed).
//!
//! ```
//! use antidote_data::external_sort::ExternalSort;
//!
//! let mut sort = ExternalSort::with_limit(64);
//! for name in ["b", "c", "a"] {
//!     sort.push(name.as_bytes().to_vec(), Vec::new())?;
//! }
//! let keys: Vec<Vec<u8>> = sort.finish()?.map(|pair| pair.map(|(key, _)| key)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes of pairs an [`ExternalSort`] keeps in memory by default (estimated with the
/// allocations' overhead) before it writes a sorted run.
pub const DEFAULT_LIMIT: usize = 8 << 20;

/// Runs merged at once while pushing: this many runs of one level become one of the next.
const MAX_RUNS: usize = 64;

/// Buffer size of each run being read or written.
const RUN_BUFFER: usize = 32 << 10;

/// What one pair costs in memory besides its bytes: two vectors and the slot that holds them.
const PAIR_OVERHEAD: usize = 2 * std::mem::size_of::<Vec<u8>>() + 32;

/// One pair with the sequence number that keeps ties in push order.
type Pair = (Vec<u8>, u64, Vec<u8>);

/// The next pair of a run being merged, with the run's index.
type Head = (Vec<u8>, u64, Vec<u8>, usize);

/// Sorts `(key, value)` pairs by key in bounded memory.
#[derive(Debug)]
pub struct ExternalSort {
    limit: usize,
    buffer: Vec<Pair>,
    bytes: usize,
    pushed: u64,
    /// Sorted runs on disk with their merge level, levels non-increasing.
    runs: Vec<(u32, File)>,
}

impl Default for ExternalSort {
    fn default() -> Self {
        Self::with_limit(DEFAULT_LIMIT)
    }
}

impl ExternalSort {
    /// A sort that keeps about `limit` bytes of pairs in memory.
    #[must_use]
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            buffer: Vec::new(),
            bytes: 0,
            pushed: 0,
            runs: Vec::new(),
        }
    }

    /// Adds a pair.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) -> io::Result<()> {
        self.bytes += key.len() + value.len() + PAIR_OVERHEAD;
        self.buffer.push((key, self.pushed, value));
        self.pushed += 1;
        if self.bytes >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Pairs pushed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.pushed
    }

    /// Whether nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// Writes the buffer as one sorted run.
    fn spill(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.sort_unstable();
        let mut out = BufWriter::with_capacity(RUN_BUFFER, tempfile::tempfile()?);
        for pair in &buffer {
            write_pair(&mut out, pair)?;
        }
        let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        self.runs.push((0, file));
        self.bytes = 0;
        merge_levels(&mut self.runs, MAX_RUNS, merge_to_file)
    }

    /// The pairs in key order.
    pub fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.sort_unstable();
            return Ok(Sorted::Memory(buffer.into_iter()));
        }
        self.spill()?;
        let runs = self.runs.into_iter().map(|(_, run)| run).collect();
        Ok(Sorted::Merge(Merge::new(runs)?))
    }
}

/// The bytes of a path, to keep it in a sort run.
#[cfg(unix)]
#[must_use]
pub fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

/// The path of [`path_bytes`].
#[cfg(unix)]
#[must_use]
pub fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The bytes of a path, to keep it in a sort run.
#[cfg(not(unix))]
#[must_use]
pub fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

/// The path of [`path_bytes`].
#[cfg(not(unix))]
#[must_use]
pub fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

fn write_pair(out: &mut impl Write, (key, sequence, value): &Pair) -> io::Result<()> {
    write_bytes(out, key)?;
    out.write_all(&sequence.to_le_bytes())?;
    write_bytes(out, value)
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("sort key over 4 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

fn read_bytes(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    let mut bytes = Vec::new();
    // The run is our own file, but a short read must not become a huge allocation.
    input.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}

/// The next pair of a run, `None` at its end.
fn read_pair(input: &mut BufReader<File>) -> io::Result<Option<Pair>> {
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let key = read_bytes(input)?;
    let mut sequence = [0u8; 8];
    input.read_exact(&mut sequence)?;
    let value = read_bytes(input)?;
    Ok(Some((key, u64::from_le_bytes(sequence), value)))
}

/// Merges runs into one run.
fn merge_to_file(runs: Vec<File>) -> io::Result<File> {
    let mut merge = Merge::new(runs)?;
    let mut out = BufWriter::with_capacity(RUN_BUFFER, tempfile::tempfile()?);
    while let Some(pair) = merge.next_pair()? {
        write_pair(&mut out, &pair)?;
    }
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// A k-way merge of sorted runs.
#[derive(Debug)]
pub struct Merge {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<Head>>,
}

impl Merge {
    fn new(runs: Vec<File>) -> io::Result<Self> {
        let mut readers: Vec<BufReader<File>> = runs
            .into_iter()
            .map(|file| BufReader::with_capacity(RUN_BUFFER, file))
            .collect();
        let mut heap = BinaryHeap::with_capacity(readers.len());
        for (index, reader) in readers.iter_mut().enumerate() {
            if let Some((key, sequence, value)) = read_pair(reader)? {
                heap.push(Reverse((key, sequence, value, index)));
            }
        }
        Ok(Self { readers, heap })
    }

    fn next_pair(&mut self) -> io::Result<Option<Pair>> {
        let Some(Reverse((key, sequence, value, index))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some((next_key, next_sequence, next_value)) = read_pair(&mut self.readers[index])? {
            self.heap
                .push(Reverse((next_key, next_sequence, next_value, index)));
        }
        Ok(Some((key, sequence, value)))
    }
}

/// The pairs of an [`ExternalSort`], in key order.
#[derive(Debug)]
pub enum Sorted {
    /// Everything fitted in memory.
    Memory(std::vec::IntoIter<Pair>),
    /// Merged from runs on disk.
    Merge(Merge),
}

impl Iterator for Sorted {
    type Item = io::Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Memory(pairs) => pairs.next().map(|(key, _, value)| Ok((key, value))),
            Self::Merge(merge) => merge
                .next_pair()
                .transpose()
                .map(|pair| pair.map(|(key, _, value)| (key, value))),
        }
    }
}

/// Keeps sorted runs in levels, like the digits of a counter: once `max_runs` runs of the
/// newest level are on disk, `merge` makes them one run of the next level, and so on up. Each
/// item is then rewritten once per level, where merging every run into one each time would
/// rewrite everything merged so far (quadratic disk traffic, and twice the items on disk during
/// the merge). `runs` holds `(level, run)` in the order the runs were written; call after
/// pushing each new run at level 0. Shared by [`ExternalSort`] and the lock's record sorter.
///
/// # Errors
///
/// The first error of `merge`.
pub fn merge_levels<R>(
    runs: &mut Vec<(u32, R)>,
    max_runs: usize,
    mut merge: impl FnMut(Vec<R>) -> io::Result<R>,
) -> io::Result<()> {
    loop {
        let level = runs.last().map_or(0, |(level, _)| *level);
        let same = runs
            .iter()
            .rev()
            .take_while(|(other, _)| *other == level)
            .count();
        if same < max_runs {
            return Ok(());
        }
        let level_runs = runs
            .split_off(runs.len() - same)
            .into_iter()
            .map(|(_, run)| run)
            .collect();
        let merged = merge(level_runs)?;
        runs.push((level + 1, merged));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(limit: usize, keys: &[&str]) -> Vec<(String, String)> {
        let mut sort = ExternalSort::with_limit(limit);
        for (index, key) in keys.iter().enumerate() {
            sort.push(key.as_bytes().to_vec(), index.to_string().into_bytes())
                .unwrap();
        }
        sort.finish()
            .unwrap()
            .map(|pair| {
                let (key, value) = pair.unwrap();
                (
                    String::from_utf8(key).unwrap(),
                    String::from_utf8(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn sorts_in_memory_and_through_runs_alike_with_ties_in_push_order() {
        let keys: Vec<String> = (0..5000u64)
            .map(|n| format!("{:04}", (n * 7919) % 1000))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let in_memory = sorted(usize::MAX, &keys);
        // A limit this small writes hundreds of runs: more than MAX_RUNS, so runs are merged
        // early too.
        let on_disk = sorted(200, &keys);
        assert_eq!(in_memory, on_disk);
        assert_eq!(in_memory.len(), 5000);
        assert!(in_memory.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        let ties: Vec<usize> = in_memory
            .iter()
            .filter(|(key, _)| key == "0000")
            .map(|(_, value)| value.parse().unwrap())
            .collect();
        assert_eq!(ties, vec![0, 1000, 2000, 3000, 4000]);
    }

    #[test]
    fn an_empty_sort_yields_nothing() {
        assert!(sorted(10, &[]).is_empty());
    }
}

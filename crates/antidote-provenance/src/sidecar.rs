//! Record entries on disk, in bounded memory: the records and files sidecars read as streams, spools of
//! entries kept in temporary files, and an external merge sort over entries.
//!
//! A diff of two versions of a dataset of 50 million records cannot hold both versions'
//! entries. [`Sorter`] keeps at most [`RUN_BYTES`] of entries in memory, writes sorted runs to
//! anonymous temporary files (in `TMPDIR`, removed by the operating system when closed) and
//! merges them back in order; [`crate::diff::StreamingDiff`] merges two sorted streams.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use antidote_core::{Digest, DigestAlgorithm};
use rayon::slice::ParallelSliceMut;
use serde::Deserialize;

use crate::diff::RecordEntry;
use crate::lock::{LockError, LockedFile};

/// How much of its entries a [`Sorter`] keeps in memory before it writes a sorted run
/// (estimated: the encoded size plus the overhead of the allocations).
pub const RUN_BYTES: usize = 24 << 20;

/// At most this many runs are merged at once; more are first merged into one.
const MAX_RUNS: usize = 64;

/// Buffer size of each run being read or written.
const RUN_BUFFER: usize = 32 << 10;

/// The longest line a sidecar may hold. antidote writes one record entry (an id, a digest, a
/// label and the record's fields) or one file (a path and its digests) per line, far shorter;
/// a longer line is a file antidote did not write, refused before it is held in memory.
pub const MAX_LINE_BYTES: u64 = 1 << 20;

/// What [`read_line_within`] read.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The end of the file.
    End,
    /// A line, in the buffer.
    Read,
    /// A line longer than the limit; the buffer holds its first bytes.
    TooLong,
}

/// Reads the next line of `reader` into `line` (cleared first), never more than `limit` bytes
/// and its newline.
fn read_line_within(reader: &mut impl BufRead, line: &mut String, limit: u64) -> io::Result<Line> {
    line.clear();
    let read = reader.by_ref().take(limit + 1).read_line(line)?;
    Ok(if read == 0 {
        Line::End
    } else if read as u64 > limit && !line.ends_with('\n') {
        Line::TooLong
    } else {
        Line::Read
    })
}

/// The error for a sidecar line longer than [`MAX_LINE_BYTES`].
fn too_long(path: &Path, line: u64) -> LockError {
    LockError::Sidecar {
        path: path.to_owned(),
        line,
        source: serde::de::Error::custom(format!(
            "the line is longer than {MAX_LINE_BYTES} bytes, which no entry antidote writes is"
        )),
    }
}

/// One line of the records sidecar, as read.
#[derive(Deserialize)]
struct SidecarLine {
    dataset: usize,
    #[serde(flatten)]
    entry: RecordEntry,
}

/// Reads the records sidecar at `path` line by line and hands `sink` the entries of dataset
/// `dataset` (all datasets when `None`) with their dataset index, in file order.
pub fn for_each_entry(
    path: &Path,
    dataset: Option<usize>,
    sink: &mut dyn FnMut(usize, RecordEntry) -> Result<(), LockError>,
) -> Result<(), LockError> {
    let io_error = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    let file = fs_err::File::open(path).map_err(io_error)?;
    let mut reader = BufReader::with_capacity(1 << 18, file);
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        let read = read_line_within(&mut reader, &mut line, MAX_LINE_BYTES).map_err(io_error)?;
        if read == Line::End {
            return Ok(());
        }
        number += 1;
        if read == Line::TooLong {
            return Err(too_long(path, number));
        }
        let parsed: SidecarLine =
            serde_json::from_str(line.trim_end()).map_err(|source| LockError::Sidecar {
                path: path.to_owned(),
                line: number,
                source,
            })?;
        if dataset.is_none_or(|wanted| wanted == parsed.dataset) {
            sink(parsed.dataset, parsed.entry)?;
        }
    }
}

/// The files sidecar of a version 2 lock, read line by line: one [`LockedFile`] per line, in
/// file order ([`crate::lock::file_order`]); a line out of order is an error, since `verify`
/// merges the list with a sorted walk.
#[derive(Debug)]
pub struct LockedFiles {
    path: PathBuf,
    reader: BufReader<fs_err::File>,
    line: String,
    number: u64,
    last: Option<Vec<u8>>,
}

impl LockedFiles {
    /// Opens the files sidecar at `path`.
    pub fn open(path: &Path) -> Result<Self, LockError> {
        let file = fs_err::File::open(path).map_err(LockError::io(path))?;
        Ok(Self {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 18, file),
            line: String::new(),
            number: 0,
            last: None,
        })
    }

    fn next_file(&mut self) -> Result<Option<LockedFile>, LockError> {
        let read = read_line_within(&mut self.reader, &mut self.line, MAX_LINE_BYTES)
            .map_err(LockError::io(&self.path))?;
        if read == Line::End {
            return Ok(None);
        }
        self.number += 1;
        if read == Line::TooLong {
            return Err(too_long(&self.path, self.number));
        }
        let malformed = |source| LockError::Sidecar {
            path: self.path.clone(),
            line: self.number,
            source,
        };
        let file: LockedFile = serde_json::from_str(self.line.trim_end()).map_err(malformed)?;
        let key = crate::lock::file_order(&file.path);
        if self.last.as_ref().is_some_and(|last| *last >= key) {
            return Err(malformed(serde::de::Error::custom(
                "the files are not in order, or a file is listed twice",
            )));
        }
        self.last = Some(key);
        Ok(Some(file))
    }
}

impl Iterator for LockedFiles {
    type Item = Result<LockedFile, LockError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_file().transpose()
    }
}

/// A record entry with its position in its dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The record's zero-based position.
    pub index: u64,
    /// Its entry.
    pub entry: RecordEntry,
}

impl Item {
    /// An estimate of the memory the item holds.
    fn weight(&self) -> usize {
        let entry = &self.entry;
        let fields: usize = entry
            .fields
            .iter()
            .map(|(name, value)| name.len() + value.len() + 80)
            .sum();
        std::mem::size_of::<Self>()
            + entry.id.len()
            + entry.label.as_ref().map_or(0, String::len)
            + fields
            + 32
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let entry = &self.entry;
        out.write_all(&self.index.to_le_bytes())?;
        write_str(out, &entry.id)?;
        let algorithm = match entry.hash.algorithm() {
            DigestAlgorithm::Sha256 => 0u8,
            DigestAlgorithm::Blake3 => 1u8,
        };
        out.write_all(&[algorithm])?;
        out.write_all(entry.hash.as_bytes())?;
        match &entry.label {
            None => out.write_all(&[0])?,
            Some(label) => {
                out.write_all(&[1])?;
                write_str(out, label)?;
            }
        }
        write_len(out, entry.fields.len())?;
        for (name, value) in &entry.fields {
            write_str(out, name)?;
            write_str(out, value)?;
        }
        Ok(())
    }

    /// The next item of `input`, `None` at its end.
    fn read(input: &mut impl BufRead) -> io::Result<Option<Self>> {
        if input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut index = [0u8; 8];
        input.read_exact(&mut index)?;
        let id = read_str(input)?;
        let mut tag = [0u8; 1];
        input.read_exact(&mut tag)?;
        let algorithm = if tag[0] == 0 {
            DigestAlgorithm::Sha256
        } else {
            DigestAlgorithm::Blake3
        };
        let mut bytes = [0u8; 32];
        input.read_exact(&mut bytes)?;
        input.read_exact(&mut tag)?;
        let label = if tag[0] == 0 {
            None
        } else {
            Some(read_str(input)?)
        };
        let count = read_len(input)?;
        let mut fields = std::collections::BTreeMap::new();
        for _ in 0..count {
            let name = read_str(input)?;
            let value = read_str(input)?;
            fields.insert(name, value);
        }
        Ok(Some(Self {
            index: u64::from_le_bytes(index),
            entry: RecordEntry {
                id,
                hash: Digest::new(algorithm, bytes),
                label,
                fields,
            },
        }))
    }
}

fn write_len(out: &mut impl Write, len: usize) -> io::Result<()> {
    let len = u32::try_from(len).map_err(|_| io::Error::other("entry field over 4 GiB"))?;
    out.write_all(&len.to_le_bytes())
}

fn write_str(out: &mut impl Write, text: &str) -> io::Result<()> {
    write_len(out, text.len())?;
    out.write_all(text.as_bytes())
}

fn read_len(input: &mut impl Read) -> io::Result<usize> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    Ok(u32::from_le_bytes(len) as usize)
}

fn read_str(input: &mut impl Read) -> io::Result<String> {
    let len = read_len(input)?;
    let mut bytes = Vec::new();
    // The spool is our own file, but a short read must not become a huge allocation.
    input.take(len as u64).read_to_end(&mut bytes)?;
    if bytes.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// The order a [`Sorter`] sorts in. Ties are broken by position, so every order is total
/// and the output deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By record id.
    Id,
    /// By content hash.
    Hash,
    /// By position.
    Index,
}

impl SortKey {
    /// Compares two items in this order.
    #[must_use]
    pub fn compare(self, a: &Item, b: &Item) -> Ordering {
        match self {
            Self::Id => a.entry.id.cmp(&b.entry.id),
            Self::Hash => a.entry.hash.cmp(&b.entry.hash),
            Self::Index => Ordering::Equal,
        }
        .then(a.index.cmp(&b.index))
    }
}

/// An anonymous temporary file, in `TMPDIR`.
fn temporary() -> io::Result<File> {
    tempfile::tempfile()
}

/// Entries in the order they were pushed, kept in an anonymous temporary file: a dataset's
/// entries for a later diff, in constant memory. Written by [`SpoolWriter`].
#[derive(Debug)]
pub struct Spool {
    file: File,
    len: u64,
}

/// Writes a [`Spool`].
#[derive(Debug)]
pub struct SpoolWriter {
    file: BufWriter<File>,
    len: u64,
}

impl SpoolWriter {
    /// An empty spool.
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            file: BufWriter::with_capacity(RUN_BUFFER, temporary()?),
            len: 0,
        })
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: RecordEntry) -> io::Result<()> {
        let item = Item {
            index: self.len,
            entry,
        };
        item.write(&mut self.file)?;
        self.len += 1;
        Ok(())
    }

    /// The spool, ready to read.
    pub fn finish(self) -> io::Result<Spool> {
        Ok(Spool {
            file: self
                .file
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?,
            len: self.len,
        })
    }
}

impl Spool {
    /// How many entries it holds.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands every entry to `sink`, in order.
    pub fn for_each(&self, sink: &mut dyn FnMut(RecordEntry) -> io::Result<()>) -> io::Result<()> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(RUN_BUFFER, file);
        for _ in 0..self.len {
            let item = Item::read(&mut reader)?.ok_or(io::ErrorKind::UnexpectedEof)?;
            sink(item.entry)?;
        }
        Ok(())
    }
}

/// An external merge sort of [`Item`]s in bounded memory.
#[derive(Debug)]
pub struct Sorter {
    key: SortKey,
    buffer: Vec<Item>,
    weight: usize,
    limit: usize,
    /// Sorted runs on disk with their merge level, levels non-increasing.
    runs: Vec<(u32, File)>,
}

impl Sorter {
    /// A sorter in `key` order that keeps at most [`RUN_BYTES`] in memory.
    #[must_use]
    pub fn new(key: SortKey) -> Self {
        Self::with_limit(key, RUN_BYTES)
    }

    /// A sorter that keeps at most about `limit` bytes in memory (tests use tiny limits to
    /// exercise the runs).
    #[must_use]
    pub fn with_limit(key: SortKey, limit: usize) -> Self {
        Self {
            key,
            buffer: Vec::new(),
            weight: 0,
            limit,
            runs: Vec::new(),
        }
    }

    /// Adds an item.
    pub fn push(&mut self, item: Item) -> io::Result<()> {
        self.weight += item.weight();
        self.buffer.push(item);
        if self.weight >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffer as a sorted run.
    fn spill(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let key = self.key;
        self.buffer.par_sort_unstable_by(|a, b| key.compare(a, b));
        let mut out = BufWriter::with_capacity(RUN_BUFFER, temporary()?);
        for item in self.buffer.drain(..) {
            item.write(&mut out)?;
        }
        self.weight = 0;
        self.runs
            .push((0, out.into_inner().map_err(io::IntoInnerError::into_error)?));
        antidote_data::external_sort::merge_levels(&mut self.runs, MAX_RUNS, |runs| {
            let mut merged = Merge::new(key, runs)?;
            let mut out = BufWriter::with_capacity(RUN_BUFFER, temporary()?);
            while let Some(item) = merged.next_item()? {
                item.write(&mut out)?;
            }
            out.into_inner().map_err(io::IntoInnerError::into_error)
        })
    }

    /// Every item pushed, in order.
    pub fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            let key = self.key;
            self.buffer.par_sort_unstable_by(|a, b| key.compare(a, b));
            return Ok(Sorted::Memory(self.buffer.into_iter()));
        }
        self.spill()?;
        let runs = self.runs.into_iter().map(|(_, run)| run).collect();
        Ok(Sorted::Runs(Merge::new(self.key, runs)?))
    }
}

/// The output of a [`Sorter`], in order.
#[derive(Debug)]
pub enum Sorted {
    /// Everything fitted in memory.
    Memory(std::vec::IntoIter<Item>),
    /// Merged from sorted runs on disk.
    Runs(Merge),
}

impl Sorted {
    /// The next item, `None` at the end.
    pub fn next_item(&mut self) -> io::Result<Option<Item>> {
        match self {
            Self::Memory(items) => Ok(items.next()),
            Self::Runs(merge) => merge.next_item(),
        }
    }
}

/// A run's next item, ordered for the merge heap (smallest first).
#[derive(Debug)]
struct Head {
    key: SortKey,
    item: Item,
    run: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .compare(&other.item, &self.item)
            .then(other.run.cmp(&self.run))
    }
}

/// A k-way merge of sorted runs.
#[derive(Debug)]
pub struct Merge {
    key: SortKey,
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Head>,
}

impl Merge {
    fn new(key: SortKey, runs: Vec<File>) -> io::Result<Self> {
        let mut readers = Vec::with_capacity(runs.len());
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (run, mut file) in runs.into_iter().enumerate() {
            file.seek(SeekFrom::Start(0))?;
            let mut reader = BufReader::with_capacity(RUN_BUFFER, file);
            if let Some(item) = Item::read(&mut reader)? {
                heap.push(Head { key, item, run });
            }
            readers.push(reader);
        }
        Ok(Self { key, readers, heap })
    }

    /// The next item, `None` at the end.
    pub fn next_item(&mut self) -> io::Result<Option<Item>> {
        let Some(Head { item, run, .. }) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = Item::read(&mut self.readers[run])? {
            self.heap.push(Head {
                key: self.key,
                item: next,
                run,
            });
        }
        Ok(Some(item))
    }
}

/// Where temporary files go, to name in errors.
#[must_use]
pub fn temporary_folder() -> PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_line_is_read_up_to_the_limit_and_no_further() {
        let mut input = io::Cursor::new(b"abcd\nabcde\nabcdefgh".to_vec());
        let mut line = String::new();
        assert_eq!(
            read_line_within(&mut input, &mut line, 4).unwrap(),
            Line::Read
        );
        assert_eq!(line, "abcd\n");
        // Five bytes and no newline within them: too long, and only five bytes were taken.
        assert_eq!(
            read_line_within(&mut input, &mut line, 4).unwrap(),
            Line::TooLong
        );
        assert_eq!(line, "abcde");
        let mut input = io::Cursor::new(b"abc".to_vec());
        assert_eq!(
            read_line_within(&mut input, &mut line, 4).unwrap(),
            Line::Read
        );
        assert_eq!(
            read_line_within(&mut input, &mut line, 4).unwrap(),
            Line::End
        );
    }

    #[test]
    fn a_sidecar_line_beyond_the_limit_is_refused_with_its_line_number() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("antidote.lock.files.jsonl");
        // One line of 3 MiB: a file antidote did not write, refused after reading 1 MiB of it.
        std::fs::write(&path, "y".repeat(3 << 20)).unwrap();
        let error = for_each_entry(&path, None, &mut |_, _| Ok(())).unwrap_err();
        assert!(
            matches!(&error, LockError::Sidecar { line: 1, source, .. } if source.to_string().contains("longer than")),
            "{error:?}"
        );
        let error = LockedFiles::open(&path)
            .unwrap()
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&error, LockError::Sidecar { line: 1, source, .. } if source.to_string().contains("longer than")),
            "{error:?}"
        );
    }

    fn item(index: u64, id: &str) -> Item {
        let mut fields = BTreeMap::new();
        fields.insert("text".to_owned(), format!("{index:016x}"));
        Item {
            index,
            entry: RecordEntry {
                id: id.to_owned(),
                hash: Digest::blake3([u8::try_from(index % 251).unwrap(); 32]),
                label: index.is_multiple_of(3).then(|| format!("label-{index}")),
                fields,
            },
        }
    }

    #[test]
    fn runs_merge_back_in_order_and_round_trip() {
        let ids: Vec<u64> = (0..2_000u64).map(|n| (n * 7_919) % 2_003).collect();
        let mut sorter = Sorter::with_limit(SortKey::Id, 4_096);
        for (index, id) in ids.iter().enumerate() {
            sorter
                .push(item(index as u64, &format!("r{id:05}")))
                .unwrap();
        }
        assert!(sorter.runs.len() > 1, "the tiny limit spills runs");
        let mut merged = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some(next) = merged.next_item().unwrap() {
            out.push(next);
        }
        let mut expected: Vec<Item> = ids
            .iter()
            .enumerate()
            .map(|(index, id)| item(index as u64, &format!("r{id:05}")))
            .collect();
        expected.sort_by(|a, b| SortKey::Id.compare(a, b));
        assert_eq!(out, expected);
    }

    #[test]
    fn spool_gives_back_what_was_pushed() {
        let mut writer = SpoolWriter::new().unwrap();
        for index in 0..500 {
            writer.push(item(index, &format!("{index}")).entry).unwrap();
        }
        let spool = writer.finish().unwrap();
        for _ in 0..2 {
            let mut seen = Vec::new();
            spool
                .for_each(&mut |entry| {
                    seen.push(entry);
                    Ok(())
                })
                .unwrap();
            assert_eq!(seen.len(), 500);
            assert_eq!(seen[499], item(499, "499").entry);
        }
    }
}

//! Record-level differences between two versions of a dataset.
//!
//! Records are matched by id. When a dataset has no id column (ids are positions), records are
//! first matched by content, so that an inserted record does not make every later one look
//! changed, and what is left is paired by position.
//!
//! Label changes are summarised by direction, because a concentrated label change inside an
//! upstream "quality improvement" is the signature of a poisoning attempt.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use antidote_core::{Digest, Progress};
use antidote_data::ReadOptions;
use serde::{Deserialize, Serialize};

use crate::lock::{self, Lock, LockError};
use crate::sidecar::{self, Item, SortKey, Sorted, Sorter, Spool, SpoolWriter};

/// What the lock keeps of each record: enough to say which records and fields changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// The record id.
    pub id: String,
    /// The record's content hash.
    pub hash: Digest,
    /// The label, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A 64-bit fingerprint (16 hex characters) of the source and of every payload field.
    pub fields: BTreeMap<String, String>,
}

impl RecordEntry {
    /// The entry of a record.
    #[must_use]
    pub fn from_record(record: &antidote_data::Record) -> Self {
        Self {
            id: record.id.to_string(),
            hash: record.content_hash(),
            label: record.label.clone(),
            fields: record
                .field_fingerprints()
                .into_iter()
                .map(|(name, fingerprint)| (name, format!("{fingerprint:016x}")))
                .collect(),
        }
    }
}

/// A label before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelChange {
    /// The old label (`null` when there was none).
    pub old: Option<String>,
    /// The new label.
    pub new: Option<String>,
}

/// A record present in both versions with different content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedRecord {
    /// Its id (in the new version).
    pub id: String,
    /// The names of the fields that differ (`label` included when the label changed).
    pub fields: Vec<String>,
    /// The label change, when the label changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelChange>,
}

/// The record-level difference between an old and a new version of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDiff {
    /// Ids of records only in the new version.
    pub added: Vec<String>,
    /// Ids of records only in the old version.
    pub removed: Vec<String>,
    /// Records in both, changed.
    pub changed: Vec<ChangedRecord>,
    /// How many labels changed in each direction, keyed `old -> new`.
    pub label_changes: BTreeMap<String, u64>,
    /// Whether the same records appear in another order.
    #[serde(default)]
    pub reordered: bool,
}

fn label_text(label: Option<&str>) -> &str {
    label.unwrap_or("(none)")
}

/// Where a version's record entries are: never all in memory.
#[derive(Debug)]
pub enum Entries {
    /// Lines of a lock's records sidecar.
    Sidecar {
        /// The sidecar.
        path: PathBuf,
        /// The dataset's index in the lock.
        dataset: usize,
    },
    /// Read from the data, spooled to a temporary file.
    Spool(Spool),
}

impl Entries {
    /// Hands every entry to `sink`, in record order.
    pub fn for_each(
        &self,
        sink: &mut dyn FnMut(RecordEntry) -> io::Result<()>,
    ) -> Result<(), LockError> {
        match self {
            Self::Sidecar { path, dataset } => {
                sidecar::for_each_entry(path, Some(*dataset), &mut |_, entry| {
                    sink(entry).map_err(LockError::io(&sidecar::temporary_folder()))
                })
            }
            Self::Spool(spool) => spool
                .for_each(sink)
                .map_err(LockError::io(&sidecar::temporary_folder())),
        }
    }
}

/// One version of one dataset, as a diff sees it: where the entries of its records are.
#[derive(Debug)]
pub struct DatasetVersion {
    /// The dataset's path, as given or as the lock stores it.
    pub path: String,
    /// Its absolute path, to pair datasets across two sides.
    pub absolute: PathBuf,
    /// Its records' entries.
    pub entries: Entries,
    /// How many records it has.
    pub record_count: u64,
    /// Whether record ids are positions (no id column).
    pub ids_are_positions: bool,
    /// Records per label.
    pub label_counts: BTreeMap<String, u64>,
}

impl DatasetVersion {
    /// Every dataset the lock at `lock_path` pins record by record (none for a lock made with
    /// `--files-only`). The records sidecar is read when the versions are compared.
    pub fn from_lock(lock_path: &Path) -> Result<Vec<Self>, LockError> {
        let lock = Lock::read(lock_path)?;
        let base = lock::lock_base(lock_path);
        let Some(records) = &lock.records else {
            return Ok(Vec::new());
        };
        let sidecar = lock::resolve(&base, &records.path);
        if !sidecar.is_file() {
            return Err(LockError::Io {
                source: io::ErrorKind::NotFound.into(),
                path: sidecar,
            });
        }
        Ok(lock
            .datasets
            .iter()
            .enumerate()
            .map(|(index, locked)| Self {
                path: locked.path.clone(),
                absolute: lock::absolute(&lock::resolve(&base, &locked.path)),
                entries: Entries::Sidecar {
                    path: sidecar.clone(),
                    dataset: index,
                },
                record_count: locked.record_count,
                ids_are_positions: locked.ids_are_positions,
                label_counts: locked.label_counts.clone(),
            })
            .collect())
    }

    /// The dataset at `path` as it is now.
    pub fn read(
        path: &Path,
        options: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Self, LockError> {
        let temporary = sidecar::temporary_folder();
        let mut spool = SpoolWriter::new().map_err(LockError::io(&temporary))?;
        let mut sink = |entry: RecordEntry| spool.push(entry);
        let digest = lock::digest_dataset(path, options, progress, &mut sink, &temporary)?;
        Ok(Self {
            path: path.display().to_string(),
            absolute: lock::absolute(path),
            entries: Entries::Spool(spool.finish().map_err(LockError::io(&temporary))?),
            record_count: digest.record_count,
            ids_are_positions: digest.ids_are_positions,
            label_counts: digest.label_counts,
        })
    }
}

/// Pairs the datasets of two sides: the only one with the only one, else by path. Datasets
/// without a partner are left out.
#[must_use]
pub fn pair_versions(
    old: Vec<DatasetVersion>,
    mut new: Vec<DatasetVersion>,
) -> Vec<(DatasetVersion, DatasetVersion)> {
    if old.len() == 1 && new.len() == 1 {
        return old.into_iter().zip(new).collect();
    }
    let mut pairs = Vec::new();
    for version in old {
        if let Some(index) = new.iter().position(|candidate| {
            candidate.absolute == version.absolute || candidate.path == version.path
        }) {
            pairs.push((version, new.remove(index)));
        }
    }
    pairs
}

/// The difference between two versions of a dataset, with their names and sizes.
#[derive(Debug, Clone, Serialize)]
pub struct VersionDiff {
    /// The old version's path.
    pub old: String,
    /// The new version's path.
    pub new: String,
    /// Records in the old version.
    pub old_records: u64,
    /// Records in the new version.
    pub new_records: u64,
    /// What changed, record by record.
    #[serde(flatten)]
    pub diff: RecordDiff,
}

impl VersionDiff {
    /// Compares two versions record by record, in bounded memory ([`StreamingDiff`]).
    pub fn between(old: &DatasetVersion, new: &DatasetVersion) -> Result<Self, LockError> {
        let mut diff = StreamingDiff::new(old.ids_are_positions && new.ids_are_positions);
        let temporary = sidecar::temporary_folder();
        old.entries.for_each(&mut |entry| diff.push_old(entry))?;
        new.entries.for_each(&mut |entry| diff.push_new(entry))?;
        let (old_records, new_records) = diff.lens();
        Ok(Self {
            old: old.path.clone(),
            new: new.path.clone(),
            old_records,
            new_records,
            diff: diff.finish().map_err(LockError::io(&temporary))?,
        })
    }
}

impl RecordDiff {
    /// Whether the two versions hold the same records (possibly in another order).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// One sentence on the label changes, such as
    /// ``37 labels changed, 35 of them to `nsfw` ``; `None` when no label changed.
    #[must_use]
    pub fn label_summary(&self) -> Option<String> {
        let total: u64 = self.label_changes.values().sum();
        if total == 0 {
            return None;
        }
        let mut by_target: BTreeMap<&str, u64> = BTreeMap::new();
        for (direction, count) in &self.label_changes {
            let target = direction
                .rsplit_once(" -> ")
                .map_or(direction.as_str(), |(_, new)| new);
            *by_target.entry(target).or_default() += count;
        }
        // A non-zero total has a target, so `?` never returns here.
        let (target, most) = by_target
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(target, count)| (*target, *count))?;
        let noun = if total == 1 { "label" } else { "labels" };
        if by_target.len() == 1 {
            let all = if total == 1 { "" } else { "all " };
            Some(format!("{total} {noun} changed, {all}to `{target}`"))
        } else {
            Some(format!(
                "{total} {noun} changed, {most} of them to `{target}`"
            ))
        }
    }

    /// Compares two versions held in memory. `ids_are_positions` says the ids are record
    /// positions, not names (the dataset has no id column). [`StreamingDiff`] computes the same
    /// diff of versions too large to hold.
    ///
    /// # Panics
    ///
    /// Never: without a memory limit the streaming diff writes no temporary file, so it has no
    /// I/O to fail.
    #[must_use]
    pub fn between(old: &[RecordEntry], new: &[RecordEntry], ids_are_positions: bool) -> Self {
        let mut diff = StreamingDiff::with_limit(ids_are_positions, usize::MAX);
        for entry in old {
            diff.push_old(entry.clone())
                .expect("an unlimited streaming diff keeps everything in memory");
        }
        for entry in new {
            diff.push_new(entry.clone())
                .expect("an unlimited streaming diff keeps everything in memory");
        }
        diff.finish()
            .expect("an unlimited streaming diff keeps everything in memory")
    }
}

fn changed_record(before: &RecordEntry, after: &RecordEntry) -> ChangedRecord {
    let mut fields: Vec<String> = before
        .fields
        .iter()
        .filter(|(name, fingerprint)| after.fields.get(*name) != Some(fingerprint))
        .map(|(name, _)| name.clone())
        .chain(
            after
                .fields
                .keys()
                .filter(|name| !before.fields.contains_key(*name))
                .cloned(),
        )
        .collect();
    let label = (before.label != after.label).then(|| LabelChange {
        old: before.label.clone(),
        new: after.label.clone(),
    });
    if label.is_some() {
        fields.push("label".to_owned());
    }
    fields.sort();
    fields.dedup();
    ChangedRecord {
        id: after.id.clone(),
        fields,
        label,
    }
}

/// The record-level diff of two versions too large to hold, in bounded memory.
///
/// Push the old version's entries and the new version's, each in record order, then
/// [`finish`](Self::finish). Both sides go through an external sort ([`Sorter`]): by id, or,
/// when ids are positions, by content hash; the sorted streams are then merged. The result is
/// the same as [`RecordDiff::between`] on the same entries: a record matched by id (or by
/// content, then by position) is the same record, and the lists are in the same order.
/// Memory holds one sort run ([`crate::sidecar::RUN_BYTES`]) at a time, the records that
/// differ (the diff itself) and, with positional ids, the copies of one record's content.
#[derive(Debug)]
pub struct StreamingDiff {
    ids_are_positions: bool,
    limit: usize,
    old: Sorter,
    new: Sorter,
    old_len: u64,
    new_len: u64,
}

impl StreamingDiff {
    /// A diff that keeps at most about [`crate::sidecar::RUN_BYTES`] of entries in memory.
    #[must_use]
    pub fn new(ids_are_positions: bool) -> Self {
        Self::with_limit(ids_are_positions, crate::sidecar::RUN_BYTES)
    }

    /// A diff that keeps at most about `limit` bytes of entries in memory per sort.
    #[must_use]
    pub fn with_limit(ids_are_positions: bool, limit: usize) -> Self {
        let key = if ids_are_positions {
            SortKey::Hash
        } else {
            SortKey::Id
        };
        Self {
            ids_are_positions,
            limit,
            old: Sorter::with_limit(key, limit),
            new: Sorter::with_limit(key, limit),
            old_len: 0,
            new_len: 0,
        }
    }

    /// Adds the next record of the old version.
    pub fn push_old(&mut self, entry: RecordEntry) -> io::Result<()> {
        let index = self.old_len;
        self.old_len += 1;
        self.old.push(Item { index, entry })
    }

    /// Adds the next record of the new version.
    pub fn push_new(&mut self, entry: RecordEntry) -> io::Result<()> {
        let index = self.new_len;
        self.new_len += 1;
        self.new.push(Item { index, entry })
    }

    /// Records pushed so far: old, new.
    #[must_use]
    pub fn lens(&self) -> (u64, u64) {
        (self.old_len, self.new_len)
    }

    /// The diff.
    pub fn finish(self) -> io::Result<RecordDiff> {
        let mut outcome = Outcome::new(self.limit);
        let mut old = self.old.finish()?;
        let mut new = self.new.finish()?;
        if self.ids_are_positions {
            merge_by_content_then_position(&mut old, &mut new, self.limit, &mut outcome)?;
        } else {
            merge_by_id(&mut old, &mut new, &mut outcome)?;
        }
        outcome.into_diff()
    }
}

/// Pairs `(old, new)` of matched records, in memory up to a limit, then in a temporary file.
#[derive(Debug)]
struct Pairs {
    memory: Vec<(u64, u64)>,
    limit: usize,
    file: Option<BufWriter<File>>,
}

impl Pairs {
    fn push(&mut self, old: u64, new: u64) -> io::Result<()> {
        self.memory.push((old, new));
        if self.memory.len().saturating_mul(16) >= self.limit {
            let file = match &mut self.file {
                Some(file) => file,
                None => self
                    .file
                    .insert(BufWriter::with_capacity(1 << 16, tempfile::tempfile()?)),
            };
            for (old, new) in self.memory.drain(..) {
                file.write_all(&old.to_le_bytes())?;
                file.write_all(&new.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Whether `check` holds for every pair.
    fn all(self, check: &mut dyn FnMut(u64, u64) -> bool) -> io::Result<bool> {
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.seek(SeekFrom::Start(0))?;
            let mut reader = BufReader::with_capacity(1 << 16, file);
            let mut pair = [0u8; 16];
            loop {
                match reader.read_exact(&mut pair) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(error) => return Err(error),
                }
                let (old, new) = pair.split_at(8);
                let old = u64::from_le_bytes(old.try_into().expect("8 bytes"));
                let new = u64::from_le_bytes(new.try_into().expect("8 bytes"));
                if !check(old, new) {
                    return Ok(false);
                }
            }
        }
        Ok(self.memory.into_iter().all(|(old, new)| check(old, new)))
    }
}

/// What the merge finds, with positions to put each list in record order.
#[derive(Debug)]
struct Outcome {
    added: Vec<(u64, String)>,
    removed: Vec<(u64, String)>,
    changed: Vec<(u64, ChangedRecord)>,
    label_changes: BTreeMap<String, u64>,
    pairs: Pairs,
}

impl Outcome {
    fn new(limit: usize) -> Self {
        Self {
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            label_changes: BTreeMap::new(),
            pairs: Pairs {
                memory: Vec::new(),
                limit,
                file: None,
            },
        }
    }

    fn pair(&mut self, before: &Item, after: &Item) -> io::Result<()> {
        self.pairs.push(before.index, after.index)?;
        let (old, new) = (&before.entry, &after.entry);
        if old.hash != new.hash {
            self.changed.push((after.index, changed_record(old, new)));
            if old.label != new.label {
                let direction = format!(
                    "{} -> {}",
                    label_text(old.label.as_deref()),
                    label_text(new.label.as_deref())
                );
                *self.label_changes.entry(direction).or_default() += 1;
            }
        }
        Ok(())
    }

    fn into_diff(mut self) -> io::Result<RecordDiff> {
        self.added.sort_unstable_by_key(|(index, _)| *index);
        self.removed.sort_unstable_by_key(|(index, _)| *index);
        self.changed.sort_unstable_by_key(|(index, _)| *index);
        // The pairs keep the records' order exactly when each matched record has as many
        // matched records before it in both versions.
        let added: Vec<u64> = self.added.iter().map(|(index, _)| *index).collect();
        let removed: Vec<u64> = self.removed.iter().map(|(index, _)| *index).collect();
        let in_order = self.pairs.all(&mut |old, new| {
            old - removed.partition_point(|index| *index < old) as u64
                == new - added.partition_point(|index| *index < new) as u64
        })?;
        Ok(RecordDiff {
            added: self.added.into_iter().map(|(_, id)| id).collect(),
            removed: self.removed.into_iter().map(|(_, id)| id).collect(),
            changed: self.changed.into_iter().map(|(_, record)| record).collect(),
            label_changes: self.label_changes,
            reordered: !in_order,
        })
    }
}

/// Pairs records by id; a repeated id pairs its occurrences in order.
fn merge_by_id(old: &mut Sorted, new: &mut Sorted, outcome: &mut Outcome) -> io::Result<()> {
    let mut before = old.next_item()?;
    let mut after = new.next_item()?;
    loop {
        match (before.take(), after.take()) {
            (None, None) => return Ok(()),
            (Some(gone), None) => {
                outcome.removed.push((gone.index, gone.entry.id));
                before = old.next_item()?;
            }
            (None, Some(came)) => {
                outcome.added.push((came.index, came.entry.id));
                after = new.next_item()?;
            }
            (Some(left), Some(right)) => match left.entry.id.cmp(&right.entry.id) {
                std::cmp::Ordering::Less => {
                    outcome.removed.push((left.index, left.entry.id));
                    before = old.next_item()?;
                    after = Some(right);
                }
                std::cmp::Ordering::Greater => {
                    outcome.added.push((right.index, right.entry.id));
                    after = new.next_item()?;
                    before = Some(left);
                }
                std::cmp::Ordering::Equal => {
                    outcome.pair(&left, &right)?;
                    before = old.next_item()?;
                    after = new.next_item()?;
                }
            },
        }
    }
}

/// The items of `stream` with content hash `hash`, starting at `head`.
fn take_group(stream: &mut Sorted, head: &mut Option<Item>, hash: Digest) -> io::Result<Vec<Item>> {
    let mut group = Vec::new();
    while head.as_ref().is_some_and(|item| item.entry.hash == hash) {
        group.extend(head.take());
        *head = stream.next_item()?;
    }
    Ok(group)
}

/// Pairs records with identical content first (the same position preferred, else the first
/// unused copy), then what is left by position.
fn merge_by_content_then_position(
    old: &mut Sorted,
    new: &mut Sorted,
    limit: usize,
    outcome: &mut Outcome,
) -> io::Result<()> {
    let mut left_old = Sorter::with_limit(SortKey::Index, limit);
    let mut left_new = Sorter::with_limit(SortKey::Index, limit);
    let mut before = old.next_item()?;
    let mut after = new.next_item()?;
    loop {
        let hash = match (&before, &after) {
            (None, None) => break,
            (Some(item), None) | (None, Some(item)) => item.entry.hash,
            (Some(left), Some(right)) => left.entry.hash.min(right.entry.hash),
        };
        let old_group = take_group(old, &mut before, hash)?;
        let new_group = take_group(new, &mut after, hash)?;
        // Both groups are in record order. Matching depends on nothing outside the group.
        let mut used = vec![false; old_group.len()];
        let mut next_unused = 0;
        for item in new_group {
            let same = old_group.binary_search_by_key(&item.index, |old| old.index);
            if let Ok(position) = same
                && !used[position]
            {
                used[position] = true;
                outcome.pairs.push(item.index, item.index)?;
                continue;
            }
            while next_unused < old_group.len() && used[next_unused] {
                next_unused += 1;
            }
            if next_unused < old_group.len() {
                used[next_unused] = true;
                outcome
                    .pairs
                    .push(old_group[next_unused].index, item.index)?;
            } else {
                left_new.push(item)?;
            }
        }
        for (item, used) in old_group.into_iter().zip(used) {
            if !used {
                left_old.push(item)?;
            }
        }
    }
    let mut old = left_old.finish()?;
    let mut new = left_new.finish()?;
    let mut before = old.next_item()?;
    let mut after = new.next_item()?;
    loop {
        match (before.take(), after.take()) {
            (None, None) => return Ok(()),
            (Some(gone), None) => {
                outcome.removed.push((gone.index, gone.entry.id));
                before = old.next_item()?;
            }
            (None, Some(came)) => {
                outcome.added.push((came.index, came.entry.id));
                after = new.next_item()?;
            }
            (Some(left), Some(right)) => match left.index.cmp(&right.index) {
                std::cmp::Ordering::Less => {
                    outcome.removed.push((left.index, left.entry.id));
                    before = old.next_item()?;
                    after = Some(right);
                }
                std::cmp::Ordering::Greater => {
                    outcome.added.push((right.index, right.entry.id));
                    after = new.next_item()?;
                    before = Some(left);
                }
                std::cmp::Ordering::Equal => {
                    outcome.pair(&left, &right)?;
                    before = old.next_item()?;
                    after = new.next_item()?;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The in-memory diff that the streaming one replaced: the reference it is tested against.
    fn reference_between(
        old: &[RecordEntry],
        new: &[RecordEntry],
        ids_are_positions: bool,
    ) -> RecordDiff {
        let mut diff = RecordDiff::default();
        let pairs = if ids_are_positions {
            match_by_content_then_position(old, new, &mut diff)
        } else {
            match_by_id(old, new, &mut diff)
        };
        let mut last_old_index = None;
        for (old_index, new_index) in pairs {
            let (before, after) = (&old[old_index], &new[new_index]);
            if before.hash != after.hash {
                diff.changed.push(changed_record(before, after));
                if before.label != after.label {
                    let direction = format!(
                        "{} -> {}",
                        label_text(before.label.as_deref()),
                        label_text(after.label.as_deref())
                    );
                    *diff.label_changes.entry(direction).or_default() += 1;
                }
            }
            if last_old_index.is_some_and(|last| old_index < last) {
                diff.reordered = true;
            }
            last_old_index = Some(old_index);
        }
        diff
    }

    /// Pairs records by id, in new-version order. A repeated id pairs its occurrences in order.
    fn match_by_id(
        old: &[RecordEntry],
        new: &[RecordEntry],
        diff: &mut RecordDiff,
    ) -> Vec<(usize, usize)> {
        let mut by_id: HashMap<&str, Vec<usize>> = HashMap::with_capacity(old.len());
        for (index, entry) in old.iter().enumerate().rev() {
            by_id.entry(entry.id.as_str()).or_default().push(index);
        }
        let mut pairs = Vec::with_capacity(new.len());
        for (new_index, entry) in new.iter().enumerate() {
            match by_id.get_mut(entry.id.as_str()).and_then(Vec::pop) {
                Some(old_index) => pairs.push((old_index, new_index)),
                None => diff.added.push(entry.id.clone()),
            }
        }
        let mut removed: Vec<usize> = by_id.into_values().flatten().collect();
        removed.sort_unstable();
        diff.removed = removed
            .into_iter()
            .map(|index| old[index].id.clone())
            .collect();
        pairs
    }

    /// Pairs records with identical content first, then the rest by position.
    fn match_by_content_then_position(
        old: &[RecordEntry],
        new: &[RecordEntry],
        diff: &mut RecordDiff,
    ) -> Vec<(usize, usize)> {
        let mut by_hash: HashMap<Digest, Vec<usize>> = HashMap::with_capacity(old.len());
        for (index, entry) in old.iter().enumerate().rev() {
            by_hash.entry(entry.hash).or_default().push(index);
        }
        let mut old_used = vec![false; old.len()];
        let mut pairs = Vec::with_capacity(new.len());
        let mut unmatched_new = Vec::new();
        for (new_index, entry) in new.iter().enumerate() {
            // Prefer the same position when the content is there too, so duplicates stay put.
            if old
                .get(new_index)
                .is_some_and(|same| same.hash == entry.hash)
                && !old_used[new_index]
            {
                old_used[new_index] = true;
                pairs.push((new_index, new_index));
                continue;
            }
            let candidates = by_hash.get_mut(&entry.hash);
            let found = candidates.and_then(|indexes| {
                while let Some(index) = indexes.pop() {
                    if !old_used[index] {
                        return Some(index);
                    }
                }
                None
            });
            match found {
                Some(old_index) => {
                    old_used[old_index] = true;
                    pairs.push((old_index, new_index));
                }
                None => unmatched_new.push(new_index),
            }
        }
        for new_index in unmatched_new {
            if new_index < old.len() && !old_used[new_index] {
                old_used[new_index] = true;
                pairs.push((new_index, new_index));
            } else {
                diff.added.push(new[new_index].id.clone());
            }
        }
        diff.removed = old_used
            .iter()
            .enumerate()
            .filter(|(_, used)| !**used)
            .map(|(index, _)| old[index].id.clone())
            .collect();
        pairs.sort_by_key(|pair| pair.1);
        pairs
    }

    fn entry(id: &str, content: u8, label: &str) -> RecordEntry {
        let mut fields = BTreeMap::new();
        fields.insert("x".to_owned(), format!("{content:016x}"));
        let mut bytes = [content; 32];
        bytes[31] = label.bytes().next().unwrap_or(0);
        RecordEntry {
            id: id.into(),
            hash: Digest::blake3(bytes),
            label: Some(label.into()),
            fields,
        }
    }

    #[test]
    fn by_id_finds_added_removed_and_changed() {
        let old = vec![
            entry("a", 1, "cat"),
            entry("b", 2, "cat"),
            entry("c", 3, "dog"),
        ];
        let new = vec![
            entry("a", 1, "cat"),
            entry("b", 2, "dog"),
            entry("d", 4, "dog"),
            entry("c", 9, "dog"),
        ];
        let diff = RecordDiff::between(&old, &new, false);
        assert_eq!(diff.added, vec!["d"]);
        assert!(diff.removed.is_empty());
        assert_eq!(diff.changed.len(), 2);
        assert_eq!(diff.changed[0].id, "b");
        assert_eq!(diff.changed[0].fields, vec!["label"]);
        assert_eq!(diff.changed[1].fields, vec!["x"]);
        assert_eq!(diff.label_changes.get("cat -> dog"), Some(&1));
        assert!(!diff.reordered);
        assert_eq!(diff.label_summary().unwrap(), "1 label changed, to `dog`");
    }

    #[test]
    fn positional_ids_survive_an_insertion() {
        let old = vec![entry("0", 1, "a"), entry("1", 2, "a"), entry("2", 3, "a")];
        let new = vec![
            entry("0", 7, "b"),
            entry("1", 1, "a"),
            entry("2", 2, "a"),
            entry("3", 3, "a"),
        ];
        let diff = RecordDiff::between(&old, &new, true);
        assert_eq!(diff.added, vec!["0"]);
        assert!(diff.removed.is_empty());
        assert!(diff.changed.is_empty());
    }

    #[test]
    fn positional_label_flips_are_changes() {
        let old = vec![entry("0", 1, "a"), entry("1", 2, "a")];
        let new = vec![entry("0", 1, "a"), entry("1", 2, "z")];
        let diff = RecordDiff::between(&old, &new, true);
        assert_eq!(diff.changed.len(), 1);
        assert_eq!(
            diff.changed[0].label,
            Some(LabelChange {
                old: Some("a".into()),
                new: Some("z".into())
            })
        );
    }

    #[test]
    fn detects_reordering_without_changes() {
        let old = vec![entry("a", 1, "x"), entry("b", 2, "x")];
        let new = vec![entry("b", 2, "x"), entry("a", 1, "x")];
        let diff = RecordDiff::between(&old, &new, false);
        assert!(diff.is_empty());
        assert!(diff.reordered);
    }

    #[test]
    fn summary_names_the_dominant_target() {
        let mut diff = RecordDiff::default();
        diff.label_changes.insert("safe -> nsfw".into(), 35);
        diff.label_changes.insert("nsfw -> safe".into(), 2);
        assert_eq!(
            diff.label_summary().unwrap(),
            "37 labels changed, 35 of them to `nsfw`"
        );
    }

    #[test]
    fn serialises_in_the_documented_shape() {
        let old = vec![entry("a", 1, "cat")];
        let new = vec![entry("a", 1, "dog")];
        let json = serde_json::to_value(RecordDiff::between(&old, &new, false)).unwrap();
        assert_eq!(json["changed"][0]["label"]["new"], "dog");
        assert_eq!(json["label_changes"]["cat -> dog"], 1);
        assert!(json["added"].as_array().unwrap().is_empty());
    }

    /// Random versions: ids and contents from small pools (repeated ids, duplicate records),
    /// then deletions, insertions, edits and swaps.
    fn random_versions(
        random: &mut antidote_core::SplitMix64,
        unique_ids: bool,
    ) -> (Vec<RecordEntry>, Vec<RecordEntry>) {
        let mut pick = |bound: u64| random.next_u64() % bound;
        let size = pick(60) as usize;
        let mut old: Vec<RecordEntry> = (0..size)
            .map(|index| {
                let id = if unique_ids {
                    format!("{index}")
                } else {
                    format!("id{}", pick(40))
                };
                let label = ["a", "b", "c"][pick(3) as usize];
                entry(&id, u8::try_from(pick(12)).unwrap(), label)
            })
            .collect();
        let mut new = old.clone();
        for _ in 0..pick(8) {
            match pick(5) {
                0 if !new.is_empty() => {
                    let at = pick(new.len() as u64) as usize;
                    new.remove(at);
                }
                1 => {
                    let at = pick(new.len() as u64 + 1) as usize;
                    let content = u8::try_from(pick(14)).unwrap();
                    new.insert(at, entry(&format!("n{}", pick(50)), content, "a"));
                }
                2 if !new.is_empty() => {
                    let at = pick(new.len() as u64) as usize;
                    let id = new[at].id.clone();
                    new[at] = entry(
                        &id,
                        u8::try_from(pick(14)).unwrap(),
                        ["a", "z"][pick(2) as usize],
                    );
                }
                3 if new.len() > 1 => {
                    let (a, b) = (
                        pick(new.len() as u64) as usize,
                        pick(new.len() as u64) as usize,
                    );
                    new.swap(a, b);
                }
                _ if !old.is_empty() => {
                    let at = pick(old.len() as u64) as usize;
                    old.remove(at);
                }
                _ => {}
            }
        }
        if unique_ids {
            // Positional ids are positions in each version.
            for (index, record) in new.iter_mut().enumerate() {
                record.id = index.to_string();
            }
            for (index, record) in old.iter_mut().enumerate() {
                record.id = index.to_string();
            }
        }
        (old, new)
    }

    #[test]
    fn the_streaming_diff_spills_and_agrees_with_the_in_memory_one() {
        let mut random = antidote_core::SplitMix64::new(14);
        for case in 0..400 {
            let positional = case % 2 == 0;
            let (old, new) = random_versions(&mut random, positional);
            let expected = reference_between(&old, &new, positional);
            // A limit of a few entries forces sorted runs on disk, and pairs in a file.
            let mut streaming = StreamingDiff::with_limit(positional, 600);
            for record in &old {
                streaming.push_old(record.clone()).unwrap();
            }
            for record in &new {
                streaming.push_new(record.clone()).unwrap();
            }
            let spilled = streaming.finish().unwrap();
            assert_eq!(spilled, expected, "case {case}: {old:?} -> {new:?}");
            assert_eq!(RecordDiff::between(&old, &new, positional), expected);
        }
    }
}

//! Record-level differences between two versions of a dataset.
//!
//! Records are matched by id. When a dataset has no id column (ids are positions), records are
//! first matched by content, so that an inserted record does not make every later one look
//! changed, and what is left is paired by position.
//!
//! Label changes are summarised by direction, because a concentrated label change inside an
//! upstream "quality improvement" is the signature of a poisoning attempt.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use antidote_core::{Digest, Progress};
use antidote_data::ReadOptions;
use serde::{Deserialize, Serialize};

use crate::lock::{self, Lock, LockError};

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

/// One version of one dataset, as a diff sees it: the entries of its records, in order.
#[derive(Debug, Clone)]
pub struct DatasetVersion {
    /// The dataset's path, as given or as the lock stores it.
    pub path: String,
    /// Its absolute path, to pair datasets across two sides.
    pub absolute: PathBuf,
    /// Its records.
    pub entries: Vec<RecordEntry>,
    /// Whether record ids are positions (no id column).
    pub ids_are_positions: bool,
    /// Records per label.
    pub label_counts: BTreeMap<String, u64>,
}

impl DatasetVersion {
    /// Every dataset the lock at `lock_path` pins record by record (none for a lock made with
    /// `--files-only`).
    pub fn from_lock(lock_path: &Path) -> Result<Vec<Self>, LockError> {
        let lock = Lock::read(lock_path)?;
        let base = lock::lock_base(lock_path);
        let records = lock.read_records(lock_path)?;
        Ok(lock
            .datasets
            .iter()
            .zip(records)
            .map(|(locked, entries)| Self {
                path: locked.path.clone(),
                absolute: lock::absolute(&lock::resolve(&base, &locked.path)),
                entries,
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
        let mut entries = Vec::new();
        let mut sink = |entry: RecordEntry| {
            entries.push(entry);
            Ok(())
        };
        let digest = lock::digest_dataset(path, options, progress, &mut sink, path)?;
        Ok(Self {
            path: path.display().to_string(),
            absolute: lock::absolute(path),
            entries,
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
    pub old_records: usize,
    /// Records in the new version.
    pub new_records: usize,
    /// What changed, record by record.
    #[serde(flatten)]
    pub diff: RecordDiff,
}

impl VersionDiff {
    /// Compares two versions record by record.
    #[must_use]
    pub fn between(old: &DatasetVersion, new: &DatasetVersion) -> Self {
        Self {
            old: old.path.clone(),
            new: new.path.clone(),
            old_records: old.entries.len(),
            new_records: new.entries.len(),
            diff: RecordDiff::between(
                &old.entries,
                &new.entries,
                old.ids_are_positions && new.ids_are_positions,
            ),
        }
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

    /// Compares two versions. `ids_are_positions` says the ids are record positions, not
    /// names (the dataset has no id column).
    #[must_use]
    pub fn between(old: &[RecordEntry], new: &[RecordEntry], ids_are_positions: bool) -> Self {
        let mut diff = Self::default();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

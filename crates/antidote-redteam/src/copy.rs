//! The poisoned copy on disk: written in the input's format, read back and compared record by
//! record, so that the truth is exact for the files, not only for the records in memory.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use antidote_core::Digest;
use antidote_data::output::{AtomicFile, OutputError};
use antidote_data::writers::{DatasetWriter, WriteError, safe_name};
use antidote_data::{Dataset, Format, ReadError, ReadOptions, Role, Value};

use crate::{AttackKind, AttackOptions, InMemoryDataset, Poisoned, Truth};

/// Errors from writing a poisoned copy.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The copy could not be written.
    #[error("failed to write the poisoned copy `{path}`")]
    Write {
        /// The copy.
        path: PathBuf,
        /// The reason.
        #[source]
        source: WriteError,
    },
    /// The truth of the copy could not be written.
    #[error("failed to write the truth `{path}`")]
    Truth {
        /// The truth file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: OutputError,
    },
    /// The copy could not be read back.
    #[error("failed to read back the poisoned copy `{path}`")]
    ReadBack {
        /// The copy.
        path: PathBuf,
        /// The reason.
        #[source]
        source: ReadError,
    },
    /// The copy reads back with other records than were written: a writer bug.
    #[error(
        "the poisoned copy `{path}` does not read back as written ({written} records written, {read} read{}); this is a bug",
        first.as_ref().map(|id| format!(", first difference at `{id}`")).unwrap_or_default()
    )]
    Mismatch {
        /// The copy.
        path: PathBuf,
        /// Records written.
        written: usize,
        /// Records read back.
        read: usize,
        /// The first record read back that differs, if one does.
        first: Option<String>,
    },
}

impl AttackOptions {
    /// Adapts the options to data of `format` before `kind` runs: a duplicate flood into IDX
    /// files or an image folder, which have nowhere to store a source, keeps the originals'
    /// sources unless fake sources were asked for.
    pub fn fit_to_format(&mut self, kind: AttackKind, format: Format) {
        if kind == AttackKind::DuplicateFlood
            && !format.stores_sources()
            && self.fake_sources.is_none()
        {
            self.fake_sources = Some(0);
        }
    }
}

impl InMemoryDataset {
    /// The channels of the first image, for reading a blend pattern in the same shape.
    #[must_use]
    pub fn image_channels(&self) -> Option<u8> {
        self.records.iter().find_map(|record| {
            record.fields.iter().find_map(|(_, value)| match value {
                Value::Image(image) => Some(image.channels),
                _ => None,
            })
        })
    }
}

impl Poisoned {
    /// Gives every record the id an image folder reads it back under.
    ///
    /// Image folders name files after their class and write PNG: a record moved to another
    /// class, appended, kept in a sub-folder or stored as JPEG is read back as
    /// `class/file.png`. Every record gets that id now (unique, untouched records first so that
    /// they keep their names), and the truth records the renames.
    pub fn fit_ids_to_image_folder(&mut self) {
        let named: HashSet<String> = self.truth.poisoned.iter().cloned().collect();
        let mut taken: HashSet<String> = HashSet::new();
        let mut renames = Vec::new();
        for untouched_pass in [true, false] {
            for record in &mut self.dataset.records {
                if named.contains(record.id.as_str()) == untouched_pass {
                    continue;
                }
                let id = record.id.to_string();
                let class = safe_name(record.label.as_deref().unwrap_or("unlabelled"));
                let file = id.rsplit('/').next().unwrap_or(&id);
                let stem = safe_name(
                    file.strip_suffix(".png")
                        .or_else(|| file.strip_suffix(".jpg"))
                        .or_else(|| file.strip_suffix(".jpeg"))
                        .unwrap_or(file),
                );
                let mut candidate = format!("{class}/{stem}.png");
                let mut copy = 1;
                while taken.contains(&candidate) {
                    candidate = format!("{class}/{stem}-{copy}.png");
                    copy += 1;
                }
                taken.insert(candidate.clone());
                if candidate != id {
                    record.id = candidate.clone().into();
                    renames.push((id, candidate));
                }
            }
        }
        for (old, new) in renames {
            self.truth.rename(&old, &new);
        }
    }

    /// Writes the poisoned copy to `output` in `format` (nothing is overwritten), reads it back
    /// with `read_options` and checks that every record is the one the attack produced.
    /// Returns the files written.
    pub fn write(
        &self,
        output: &Path,
        format: Format,
        read_options: &ReadOptions,
    ) -> Result<Vec<PathBuf>, CopyError> {
        let files = self
            .write_records(output, format)
            .map_err(|source| CopyError::Write {
                path: output.to_owned(),
                source,
            })?;
        self.check_written(output, format, read_options)?;
        Ok(files)
    }

    /// Writes the poisoned copy to `output` like [`Poisoned::write`], and the truth to
    /// `truth_path` as a pair: the truth is written and synced first and renamed into place
    /// right after the copy, before the copy is read back, so that a crash leaves both or
    /// neither (but for the instant between the two renames).
    pub fn write_with_truth(
        &self,
        output: &Path,
        format: Format,
        read_options: &ReadOptions,
        truth_path: &Path,
    ) -> Result<Vec<PathBuf>, CopyError> {
        let truth_error = |source| CopyError::Truth {
            path: truth_path.to_owned(),
            source,
        };
        let write_error = |source| CopyError::Write {
            path: output.to_owned(),
            source,
        };
        let truth = self.truth.prepare(truth_path).map_err(truth_error)?;
        let mut writer =
            DatasetWriter::create(output, format, &self.dataset.schema).map_err(write_error)?;
        for record in &self.dataset.records {
            writer.write(record).map_err(write_error)?;
        }
        // The truth lands before the copy: the copy is the commit point, so a copy on disk
        // always has its truth beside it. A run killed between the two leaves only a truth,
        // which the next run replaces.
        truth.commit().map_err(truth_error)?;
        let files = writer.finish().map_err(write_error)?;
        self.check_written(output, format, read_options)?;
        Ok(files)
    }

    fn write_records(&self, output: &Path, format: Format) -> Result<Vec<PathBuf>, WriteError> {
        let mut writer = DatasetWriter::create(output, format, &self.dataset.schema)?;
        for record in &self.dataset.records {
            writer.write(record)?;
        }
        writer.finish()
    }

    /// Reads the copy back and compares content hashes with the records in memory.
    fn check_written(
        &self,
        output: &Path,
        format: Format,
        read_options: &ReadOptions,
    ) -> Result<(), CopyError> {
        let mut options = read_options.clone();
        options.format = Some(format);
        if let Some(column) = self.dataset.schema.column_with_role(Role::Source) {
            options.roles.source = Some(column.name.clone());
        }
        let written = Dataset::open(output, &options)
            .and_then(|mut dataset| InMemoryDataset::read(&mut dataset))
            .map_err(|source| CopyError::ReadBack {
                path: output.to_owned(),
                source,
            })?;
        let expected: HashMap<&str, Digest> = self
            .dataset
            .records
            .iter()
            .map(|record| (record.id.as_str(), record.content_hash()))
            .collect();
        let mismatch = written
            .records
            .iter()
            .find(|record| expected.get(record.id.as_str()) != Some(&record.content_hash()));
        if written.records.len() != expected.len() || mismatch.is_some() {
            return Err(CopyError::Mismatch {
                path: output.to_owned(),
                written: expected.len(),
                read: written.records.len(),
                first: mismatch.map(|record| record.id.to_string()),
            });
        }
        Ok(())
    }
}

impl Truth {
    /// Writes the truth as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<(), OutputError> {
        self.prepare(path)?.commit()
    }

    /// The truth written and synced under a temporary name next to `path`; nothing is at
    /// `path` until [`AtomicFile::commit`].
    pub fn prepare(&self, path: &Path) -> Result<AtomicFile, OutputError> {
        let mut file = AtomicFile::create(path)?;
        let io = |source| OutputError::Io {
            path: path.to_owned(),
            source,
        };
        serde_json::to_writer_pretty(&mut file, self).map_err(|error| io(error.into()))?;
        file.write_all(b"\n").map_err(io)?;
        file.sync()?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use antidote_data::{Image, Record, Schema};

    use super::*;

    fn image_record(id: &str, label: &str) -> Record {
        Record {
            position: 0,
            id: id.into(),
            label: Some(label.to_owned()),
            source: None,
            fields: vec![(
                "image".into(),
                Value::Image(Image {
                    width: 1,
                    height: 1,
                    channels: 3,
                    pixels: vec![0, 0, 0],
                }),
            )],
        }
    }

    #[test]
    fn image_folder_ids_keep_untouched_names_and_follow_moved_records() {
        let records = vec![
            image_record("cat/1.png", "cat"),
            image_record("cat/2.jpg", "dog"),
            image_record("dog/1.png", "dog"),
        ];
        let dataset = InMemoryDataset {
            schema: Schema::default(),
            records,
        };
        assert_eq!(dataset.image_channels(), Some(3));
        let truth: Truth = serde_json::from_value(serde_json::json!({
            "version": 1, "attack": "label-flip-uniform", "reference": "", "summary": "", "seed": 0,
            "parameters": null, "target": "dog", "column": null, "records_before": 3,
            "records_after": 3, "poisoned": ["cat/2.jpg"], "appended": [],
            "label_changes": {}, "sources": [], "trigger": null
        }))
        .expect("a valid truth");
        let mut poisoned = Poisoned { dataset, truth };
        poisoned.fit_ids_to_image_folder();
        let ids: Vec<&str> = poisoned
            .dataset
            .records
            .iter()
            .map(|record| record.id.as_str())
            .collect();
        assert_eq!(ids, ["cat/1.png", "dog/2.png", "dog/1.png"]);
        assert_eq!(poisoned.truth.poisoned, ["dog/2.png"]);
    }

    #[test]
    fn duplicate_floods_keep_sources_where_the_format_cannot_store_them() {
        let mut options = AttackOptions::default();
        options.fit_to_format(AttackKind::DuplicateFlood, Format::Csv);
        assert_eq!(options.fake_sources, None);
        options.fit_to_format(AttackKind::DuplicateFlood, Format::ImageFolder);
        assert_eq!(options.fake_sources, Some(0));
    }
}

//! The secret manifest: the key, and every canary, held-out canary and honeypot with its tags.
//!
//! Whoever holds the manifest can recognise the canaries, and strip them from a copy; it is
//! written with `0600` permissions, never printed, and must be kept like a private key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use antidote_data::output::{AtomicFile, OutputError};
use antidote_data::{Format, Schema};
use serde::{Deserialize, Serialize};

use crate::key::{CanaryKey, Tag};
use crate::stored::StoredRecord;

/// The manifest format's version.
pub const MANIFEST_VERSION: u32 = 1;
/// What the `kind` field of a manifest says.
const MANIFEST_KIND: &str = "antidote.canary.manifest";

/// Errors from reading or writing a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("failed to read the canary manifest `{path}`")]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a canary manifest.
    #[error("`{path}` is not a canary manifest: {reason}")]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A stored record does not have the tag stored with it: the manifest was edited, or its
    /// key replaced.
    #[error("`{path}` does not match its key: the tag of `{id}` differs; it was edited")]
    Tampered {
        /// The manifest.
        path: PathBuf,
        /// The record whose tag differs.
        id: String,
    },
    /// The file could not be written.
    #[error("failed to write the canary manifest")]
    Write(#[from] OutputError),
}

/// What a manifest's entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// A canary planted in the dataset.
    Planted,
    /// A canary generated the same way but never planted: the reference a model that never
    /// trained on the canaries is measured by.
    HeldOut,
    /// A honeypot: bait kept out of every legitimate training set.
    Honeypot,
}

impl Group {
    /// The group's name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Planted => "planted",
            Self::HeldOut => "held-out",
            Self::Honeypot => "honeypot",
        }
    }
}

/// One generated record and its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The record.
    #[serde(flatten)]
    pub record: StoredRecord,
    /// The keyed tag of its whole content ([`CanaryKey::record_tag`]).
    pub tag: Tag,
    /// The keyed tag of its payload value (text or image) alone, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_tag: Option<Tag>,
    /// The payload column the payload tag was taken from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_column: Option<String>,
}

/// Where the canaries were planted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlantedDataset {
    /// The input, as given.
    pub input: String,
    /// The planted copy, as given.
    pub output: String,
    /// The honeypot file, when honeypots were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honeypot_output: Option<String>,
    /// The format of all three.
    pub format: Format,
    /// The schema of the input.
    pub schema: Schema,
    /// Records of the input.
    pub input_records: usize,
    /// Whether the dataset's ids are record positions (no id column).
    pub ids_are_positions: bool,
}

/// The secret manifest of one plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `antidote.canary.manifest`.
    pub kind: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The secret key, hex.
    #[serde(with = "key_hex")]
    pub key: CanaryKey,
    /// Where and into what the canaries were planted.
    pub dataset: PlantedDataset,
    /// The classes assigned labels were drawn from.
    pub classes: Vec<String>,
    /// The canaries in the planted copy.
    pub planted: Vec<Entry>,
    /// Canaries generated the same way and kept out of every file.
    pub held_out: Vec<Entry>,
    /// The honeypots.
    pub honeypots: Vec<Entry>,
}

mod key_hex {
    use super::CanaryKey;

    pub(super) fn serialize<S: serde::Serializer>(
        key: &CanaryKey,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&key.to_hex())
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<CanaryKey, D::Error> {
        let text: String = serde::Deserialize::deserialize(deserializer)?;
        CanaryKey::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("the key is not 64 hex digits"))
    }
}

impl Manifest {
    /// A manifest of `kind` and `version` for the given parts.
    #[must_use]
    pub fn new(
        key: CanaryKey,
        dataset: PlantedDataset,
        classes: Vec<String>,
        planted: Vec<Entry>,
        held_out: Vec<Entry>,
        honeypots: Vec<Entry>,
    ) -> Self {
        Self {
            kind: MANIFEST_KIND.to_owned(),
            version: MANIFEST_VERSION,
            key,
            dataset,
            classes,
            planted,
            held_out,
            honeypots,
        }
    }

    /// The entries of `group`.
    #[must_use]
    pub fn entries(&self, group: Group) -> &[Entry] {
        match group {
            Group::Planted => &self.planted,
            Group::HeldOut => &self.held_out,
            Group::Honeypot => &self.honeypots,
        }
    }

    /// Every entry with its group.
    pub fn all(&self) -> impl Iterator<Item = (Group, usize, &Entry)> {
        [Group::Planted, Group::HeldOut, Group::Honeypot]
            .into_iter()
            .flat_map(move |group| {
                self.entries(group)
                    .iter()
                    .enumerate()
                    .map(move |(index, entry)| (group, index, entry))
            })
    }

    /// Writes the manifest as a new file (never over an existing one) readable by its owner
    /// only (`0600`), atomically.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        let file = self.prepare(path)?;
        file.commit()?;
        Ok(())
    }

    /// Writes and syncs the manifest under a temporary name, for the caller to commit when the
    /// rest of its output is ready.
    ///
    /// # Panics
    ///
    /// Never: a manifest is plain data that always serializes.
    pub fn prepare(&self, path: &Path) -> Result<AtomicFile, ManifestError> {
        let mut file = AtomicFile::create_new(path)?.with_mode(0o600);
        let text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .map_err(|source| OutputError::Io {
                path: path.to_owned(),
                source,
            })?;
        file.sync()?;
        Ok(file)
    }

    /// Reads a manifest and checks every stored record against its tag.
    pub fn read(path: &Path) -> Result<Self, ManifestError> {
        let text = fs_read(path)?;
        let invalid = |reason: String| ManifestError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let manifest: Self =
            serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        if manifest.kind != MANIFEST_KIND {
            return Err(invalid(format!("its kind is `{}`", manifest.kind)));
        }
        if manifest.version != MANIFEST_VERSION {
            return Err(invalid(format!(
                "version {} (this antidote reads version {MANIFEST_VERSION})",
                manifest.version
            )));
        }
        for (_, _, entry) in manifest.all() {
            let record = entry.record.to_record(0).ok_or_else(|| {
                invalid(format!(
                    "the image of `{}` does not decode",
                    entry.record.id
                ))
            })?;
            if manifest.key.record_tag(&record) != entry.tag {
                return Err(ManifestError::Tampered {
                    path: path.to_owned(),
                    id: entry.record.id.clone(),
                });
            }
        }
        Ok(manifest)
    }
}

fn fs_read(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })
}

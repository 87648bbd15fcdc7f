//! Image folders: one PNG per record in a sub-folder named after its label.
//!
//! The folder is written under a temporary name next to the output and renamed into place on
//! `finish`. A record whose id is a relative path (`cat/001.png`, as the image-folder reader
//! gives) keeps its file name; other records are named after their id.

use std::path::{Path, PathBuf};

use super::{RecordSink, WriteError};
use crate::output::AtomicFolder;
use crate::{Format, Record, Value};

pub(crate) struct ImageFolderSink {
    path: PathBuf,
    staging: Option<AtomicFolder>,
    files: Vec<PathBuf>,
}

impl ImageFolderSink {
    pub(crate) fn create(path: &Path) -> Result<Self, WriteError> {
        Ok(Self {
            path: path.to_owned(),
            staging: Some(AtomicFolder::create_new(path)?),
            files: Vec::new(),
        })
    }
}

/// A file or folder name made safe: path separators and control characters replaced, no
/// leading dots. Records are written under these names.
#[must_use]
pub fn safe_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|character| {
            if character == '/' || character == '\\' || character.is_control() {
                '_'
            } else {
                character
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "_".to_owned()
    } else {
        trimmed.to_owned()
    }
}

impl RecordSink for ImageFolderSink {
    fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        let unsupported = |reason: &str| WriteError::Unsupported {
            id: record.id.to_string(),
            format: Format::ImageFolder,
            reason: reason.to_owned(),
        };
        let Some(Value::Image(image)) = record
            .fields
            .iter()
            .map(|(_, value)| value)
            .find(|value| matches!(value, Value::Image(_)))
        else {
            return Err(unsupported(
                "an image folder holds images; this record has none",
            ));
        };
        let class = safe_name(record.label.as_deref().unwrap_or("unlabelled"));
        let stem = record
            .id
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or(record.id.as_str());
        let stem = stem
            .strip_suffix(".png")
            .or_else(|| stem.strip_suffix(".jpg"))
            .or_else(|| stem.strip_suffix(".jpeg"))
            .unwrap_or(stem);
        let staging = self.staging.as_ref().expect("staging lives until finish");
        let folder = staging.staging().join(&class);
        fs_err::create_dir_all(&folder).map_err(WriteError::io(&folder))?;
        let file = folder.join(format!("{}.png", safe_name(stem)));
        if file.exists() {
            return Err(unsupported("two records would share one file name"));
        }
        let color = match image.channels {
            1 => image::ExtendedColorType::L8,
            2 => image::ExtendedColorType::La8,
            3 => image::ExtendedColorType::Rgb8,
            4 => image::ExtendedColorType::Rgba8,
            _ => return Err(unsupported("images have 1 to 4 channels")),
        };
        image::save_buffer_with_format(
            &file,
            &image.pixels,
            image.width,
            image.height,
            color,
            image::ImageFormat::Png,
        )
        .map_err(|error| WriteError::Io {
            path: file.clone(),
            source: std::io::Error::other(error),
        })?;
        self.files.push(
            self.path
                .join(&class)
                .join(file.file_name().unwrap_or_default()),
        );
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<PathBuf>, WriteError> {
        let staging = self.staging.take().expect("finish runs once");
        staging.commit()?;
        Ok(std::mem::take(&mut self.files))
    }
}

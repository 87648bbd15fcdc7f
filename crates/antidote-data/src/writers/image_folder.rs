//! Image folders: one PNG per record in a sub-folder named after its label.
//!
//! The folder is written under a temporary name next to the output and renamed into place on
//! `finish`. A record whose id is a relative path (`cat/001.png`, as the image-folder reader
//! gives) keeps its file name; other records are named after their id.

use std::path::{Path, PathBuf};

use super::{RecordSink, WriteError};
use crate::{Format, Record, Value};

pub(crate) struct ImageFolderSink {
    path: PathBuf,
    staging: Option<::tempfile::TempDir>,
    files: Vec<PathBuf>,
}

impl ImageFolderSink {
    pub(crate) fn create(path: &Path) -> Result<Self, WriteError> {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&parent).map_err(WriteError::io(&parent))?;
        let staging = ::tempfile::Builder::new()
            .prefix(".antidote-")
            .tempdir_in(&parent)
            .map_err(WriteError::io(path))?;
        Ok(Self {
            path: path.to_owned(),
            staging: Some(staging),
            files: Vec::new(),
        })
    }
}

/// A file or folder name made safe: path separators and leading dots replaced.
fn safe_name(text: &str) -> String {
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
        let folder = staging.path().join(&class);
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
        let staged = staging.keep();
        fs_err::rename(&staged, &self.path).map_err(WriteError::io(&self.path))?;
        Ok(std::mem::take(&mut self.files))
    }
}

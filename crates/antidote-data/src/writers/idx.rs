//! IDX: an images file and its labels file, gzipped when the output name ends in `.gz`.
//!
//! IDX declares the record count in its header, so pixels are spooled to a temporary file and
//! the output is assembled on `finish`: memory holds one byte per label, not the images.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{RecordSink, WriteError};
use crate::output::AtomicFile;
use crate::{Format, Record, Value};

pub(crate) struct IdxSink {
    path: PathBuf,
    labels_path: PathBuf,
    spool: BufWriter<::tempfile::NamedTempFile>,
    labels: Vec<u8>,
    shape: Option<(u32, u32)>,
    count: u32,
}

/// `x-images-idx3-ubyte.gz` -> `x-labels-idx1-ubyte.gz`.
fn labels_path(images: &Path) -> PathBuf {
    let name = images
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let renamed = name.replace("images", "labels").replace("idx3", "idx1");
    let renamed = if renamed == name {
        format!("{name}.labels-idx1-ubyte")
    } else {
        renamed
    };
    images.with_file_name(renamed)
}

/// A scratch file next to `path` for the pixels, deleted when dropped.
fn spool_next_to(path: &Path) -> Result<::tempfile::NamedTempFile, WriteError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&folder).map_err(WriteError::io(&folder))?;
    ::tempfile::Builder::new()
        .prefix(".antidote-")
        .tempfile_in(&folder)
        .map_err(WriteError::io(path))
}

impl IdxSink {
    pub(crate) fn create(path: &Path) -> Result<Self, WriteError> {
        let labels_path = labels_path(path);
        if labels_path.exists() {
            return Err(WriteError::Exists { path: labels_path });
        }
        Ok(Self {
            path: path.to_owned(),
            labels_path,
            spool: BufWriter::with_capacity(1 << 20, spool_next_to(path)?),
            labels: Vec::new(),
            shape: None,
            count: 0,
        })
    }

    fn unsupported(record: &Record, reason: &str) -> WriteError {
        WriteError::Unsupported {
            id: record.id.to_string(),
            format: Format::Idx,
            reason: reason.to_owned(),
        }
    }

    fn write_file(path: &Path, header: &[u8], body: &mut dyn Read) -> Result<(), WriteError> {
        let mut file = AtomicFile::create_new(path)?;
        let gzipped = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("gz"));
        if gzipped {
            let mut output =
                flate2::write::GzEncoder::new(&mut file, flate2::Compression::default());
            output.write_all(header).map_err(WriteError::io(path))?;
            std::io::copy(body, &mut output).map_err(WriteError::io(path))?;
            output.finish().map_err(WriteError::io(path))?;
        } else {
            file.write_all(header).map_err(WriteError::io(path))?;
            std::io::copy(body, &mut file).map_err(WriteError::io(path))?;
        }
        file.commit()?;
        Ok(())
    }
}

impl RecordSink for IdxSink {
    fn write(&mut self, record: &Record) -> Result<(), WriteError> {
        let Some(Value::Image(image)) = record
            .fields
            .iter()
            .map(|(_, value)| value)
            .find(|value| matches!(value, Value::Image(_)))
        else {
            return Err(Self::unsupported(
                record,
                "IDX holds images; this record has none",
            ));
        };
        if image.channels != 1 {
            return Err(Self::unsupported(
                record,
                "IDX holds grey images; this one has colour channels",
            ));
        }
        match self.shape {
            None => self.shape = Some((image.height, image.width)),
            Some(shape) if shape != (image.height, image.width) => {
                return Err(Self::unsupported(record, "IDX holds images of one size"));
            }
            Some(_) => {}
        }
        let label = record
            .label
            .as_deref()
            .and_then(|label| label.parse::<u8>().ok())
            .ok_or_else(|| Self::unsupported(record, "IDX labels are numbers from 0 to 255"))?;
        self.spool
            .write_all(&image.pixels)
            .map_err(WriteError::io(&self.path))?;
        self.labels.push(label);
        self.count += 1;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<Vec<PathBuf>, WriteError> {
        let (rows, columns) = self.shape.unwrap_or((0, 0));
        let mut header = vec![0, 0, 0x08, 3];
        for size in [self.count, rows, columns] {
            header.extend_from_slice(&size.to_be_bytes());
        }
        let mut spool = self.spool.into_inner().map_err(|error| WriteError::Io {
            path: self.path.clone(),
            source: error.into_error(),
        })?;
        std::io::Seek::rewind(spool.as_file_mut()).map_err(WriteError::io(&self.path))?;
        Self::write_file(&self.path, &header, spool.as_file_mut())?;
        let mut labels_header = vec![0, 0, 0x08, 1];
        labels_header.extend_from_slice(&self.count.to_be_bytes());
        Self::write_file(
            &self.labels_path,
            &labels_header,
            &mut self.labels.as_slice(),
        )?;
        Ok(vec![self.path, self.labels_path])
    }
}

//! IDX, the format of MNIST and Fashion-MNIST, plain or gzipped.
//!
//! An IDX data file (`train-images-idx3-ubyte`) holds `n` records of equal shape; its labels
//! file (`train-labels-idx1-ubyte`) holds `n` labels. The reader pairs them by name, streams both
//! side by side, and checks that their counts agree. Three-dimensional unsigned-byte data is read
//! as grey images; anything else as numeric vectors.
//!
//! Format: <http://yann.lecun.com/exdb/mnist/> (magic `0x00 0x00 type dims`, big-endian sizes).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Row, RowSource};
use crate::limits::Limits;
use crate::{ColumnKind, Image, ReadError, Value};

/// Whether a (lowercased, `.gz`-stripped) file name is an IDX data file, not a labels file.
pub(crate) fn is_idx_images_name(name: &str) -> bool {
    let Some(at) = name.find("-ubyte").or_else(|| name.find(".ubyte")) else {
        return false;
    };
    let before = &name[..at];
    before
        .strip_suffix(|digit: char| digit.is_ascii_digit())
        .is_some_and(|rest| rest.ends_with("idx"))
        && !before.ends_with("idx1")
}

/// The labels file that belongs to an images file, if it exists next to it.
fn companion_labels(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let at = lower.find("idx")?;
    let digit_end = at + 4;
    if digit_end > name.len() {
        return None;
    }
    let renamed = format!("{}idx1{}", &name[..at], &name[digit_end..]).replace("images", "labels");
    let candidates = [
        renamed.clone(),
        format!("{renamed}.gz"),
        renamed.strip_suffix(".gz").unwrap_or(&renamed).to_owned(),
    ];
    candidates
        .into_iter()
        .map(|candidate| images.with_file_name(candidate))
        .find(|candidate| candidate.is_file())
}

/// The element types IDX defines.
#[derive(Debug, Clone, Copy)]
enum Element {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl Element {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn value(self, bytes: &[u8]) -> Value {
        match self {
            Self::U8 => Value::Int(i64::from(bytes[0])),
            Self::I8 => Value::Int(i64::from(i8::from_be_bytes([bytes[0]]))),
            Self::I16 => Value::Int(i64::from(i16::from_be_bytes([bytes[0], bytes[1]]))),
            Self::I32 => Value::Int(i64::from(i32::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            Self::F32 => Value::Float(crate::value::widen_f32(f32::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            Self::F64 => {
                let mut array = [0u8; 8];
                array.copy_from_slice(&bytes[..8]);
                Value::Float(f64::from_be_bytes(array))
            }
        }
    }
}

/// One open IDX file, positioned at its first record.
struct IdxFile {
    path: PathBuf,
    input: Box<dyn BufRead + Send>,
    element: Element,
    count: u64,
    shape: Vec<usize>,
    record_bytes: usize,
}

impl IdxFile {
    fn open(path: &Path, limits: Limits) -> Result<Self, ReadError> {
        let mut input = super::open_maybe_gz(path)?;
        let problem = |problem: String| ReadError::Idx {
            path: path.to_owned(),
            problem,
        };
        let mut magic = [0u8; 4];
        read_exact(&mut input, &mut magic, path, "the 4-byte header")?;
        if magic[0] != 0 || magic[1] != 0 {
            return Err(problem(format!(
                "not an IDX file (magic number `{:02x}{:02x}{:02x}{:02x}` does not start with `0000`)",
                magic[0], magic[1], magic[2], magic[3]
            )));
        }
        let element = Element::from_code(magic[2])
            .ok_or_else(|| problem(format!("unknown IDX element type `0x{:02x}`", magic[2])))?;
        let dimensions = usize::from(magic[3]);
        if dimensions == 0 {
            return Err(problem(
                "an IDX file needs at least one dimension".to_owned(),
            ));
        }
        // At most 255 dimensions of 4 bytes: the header itself is small whatever it says.
        let mut sizes = Vec::with_capacity(dimensions);
        for _ in 0..dimensions {
            let mut size = [0u8; 4];
            read_exact(&mut input, &mut size, path, "the dimension sizes")?;
            sizes.push(u64::from(u32::from_be_bytes(size)));
        }
        let count = sizes[0];
        let shape: Vec<u64> = sizes[1..].to_vec();
        let overflow = || {
            problem(format!(
                "the header's dimensions {} multiply past what any file can hold",
                sizes
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" × ")
            ))
        };
        // Every size below comes from the file: multiply with checks, and compare with the
        // limit before allocating anything.
        let elements = shape
            .iter()
            .try_fold(1u64, |product, size| product.checked_mul(*size))
            .ok_or_else(overflow)?;
        let record_bytes = elements
            .checked_mul(element.size() as u64)
            .ok_or_else(overflow)?;
        if record_bytes == 0 && count > 0 {
            return Err(problem(format!(
                "the header declares {count} records of zero bytes (a dimension of size 0)"
            )));
        }
        let as_image = matches!(element, Element::U8) && shape.len() == 2;
        // Vectors become one `Value` per element, far larger in memory than in the file.
        let in_memory = if as_image || shape.is_empty() {
            Some(record_bytes)
        } else {
            elements.checked_mul(std::mem::size_of::<Value>() as u64)
        };
        match in_memory {
            Some(size) if size <= limits.max_record_bytes => {}
            size => {
                return Err(ReadError::DeclaredTooLarge {
                    path: path.to_owned(),
                    size: size.unwrap_or(u64::MAX),
                    limit: limits.max_record_bytes,
                });
            }
        }
        if !super::is_gzipped(path) {
            // A plain file's size is known: a header that promises more data than the file holds
            // is refused before reading, with the record where the data would end.
            let file_bytes = fs_err::metadata(path)
                .map_err(|source| ReadError::Io {
                    path: path.to_owned(),
                    source,
                })?
                .len();
            let header_bytes = 4 + 4 * sizes.len() as u64;
            let available = file_bytes.saturating_sub(header_bytes);
            let declared = count.checked_mul(record_bytes);
            if declared.is_none_or(|declared| declared > available) {
                return Err(problem(format!(
                    "truncated: the header declares {count} records but the data ends inside record {}",
                    available / record_bytes.max(1)
                )));
            }
        }
        let shape = shape
            .into_iter()
            .map(|size| usize::try_from(size).map_err(|_| overflow()))
            .collect::<Result<Vec<usize>, ReadError>>()?;
        let record_bytes = usize::try_from(record_bytes).map_err(|_| overflow())?;
        Ok(Self {
            path: path.to_owned(),
            input,
            element,
            count,
            shape,
            record_bytes,
        })
    }

    fn read_record(&mut self, index: u64, buffer: &mut Vec<u8>) -> Result<(), ReadError> {
        buffer.resize(self.record_bytes, 0);
        let mut filled = 0;
        while filled < buffer.len() {
            match self.input.read(&mut buffer[filled..]) {
                Ok(0) => {
                    return Err(ReadError::Idx {
                        path: self.path.clone(),
                        problem: format!(
                            "truncated: the header declares {} records but the data ends inside record {index}",
                            self.count
                        ),
                    });
                }
                Ok(read) => filled += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }
}

fn read_exact(
    input: &mut dyn BufRead,
    buffer: &mut [u8],
    path: &Path,
    what: &str,
) -> Result<(), ReadError> {
    input.read_exact(buffer).map_err(|source| {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::Idx {
                path: path.to_owned(),
                problem: format!("truncated: the file ends inside {what}"),
            }
        } else {
            ReadError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Streams an IDX data file with its labels.
struct IdxSource {
    data: IdxFile,
    labels: Option<IdxFile>,
    columns: Vec<(Arc<str>, ColumnKind)>,
    as_image: bool,
    next: u64,
    buffer: Vec<u8>,
    label_buffer: Vec<u8>,
    failed: bool,
}

/// Opens an IDX data file and the labels file beside it, if there is one.
pub(crate) fn open(
    path: &Path,
    limits: Limits,
) -> Result<(Box<dyn RowSource>, Vec<PathBuf>), ReadError> {
    let data = IdxFile::open(path, limits)?;
    let mut files = vec![path.to_owned()];
    let labels = if let Some(labels_path) = companion_labels(path) {
        let labels = IdxFile::open(&labels_path, limits)?;
        if labels.count != data.count {
            return Err(ReadError::CountMismatch {
                images: path.to_owned(),
                image_count: data.count,
                labels: labels_path,
                label_count: labels.count,
            });
        }
        if !labels.shape.is_empty() {
            return Err(ReadError::Idx {
                path: labels_path,
                problem: "a labels file must be one-dimensional".to_owned(),
            });
        }
        files.push(labels_path);
        Some(labels)
    } else {
        tracing::debug!(
            "no labels file found next to `{}`: records have no label",
            path.display()
        );
        None
    };
    let as_image = matches!(data.element, Element::U8) && data.shape.len() == 2;
    let mut columns: Vec<(Arc<str>, ColumnKind)> = Vec::new();
    if labels.is_some() {
        columns.push((Arc::from("label"), ColumnKind::Integer));
    }
    columns.push(if as_image {
        (Arc::from("image"), ColumnKind::Image)
    } else {
        (Arc::from("values"), ColumnKind::Vector)
    });
    let source = IdxSource {
        data,
        labels,
        columns,
        as_image,
        next: 0,
        buffer: Vec::new(),
        label_buffer: Vec::new(),
        failed: false,
    };
    Ok((Box::new(source), files))
}

impl IdxSource {
    fn read(&mut self) -> Result<Row, ReadError> {
        let index = self.next;
        self.data.read_record(index, &mut self.buffer)?;
        let mut values = Vec::with_capacity(2);
        if let Some(labels) = &mut self.labels {
            labels.read_record(index, &mut self.label_buffer)?;
            values.push((
                Arc::clone(&self.columns[0].0),
                labels.element.value(&self.label_buffer),
            ));
        }
        let payload_name = Arc::clone(&self.columns[self.columns.len() - 1].0);
        let payload = if self.as_image {
            Value::Image(Image {
                width: self.data.shape[1] as u32,
                height: self.data.shape[0] as u32,
                channels: 1,
                pixels: self.buffer.clone(),
            })
        } else {
            let element = self.data.element;
            Value::List(
                self.buffer
                    .chunks_exact(element.size())
                    .map(|bytes| element.value(bytes))
                    .collect(),
            )
        };
        values.push((payload_name, payload));
        self.next += 1;
        Ok(Row {
            line: index,
            values,
        })
    }
}

impl RowSource for IdxSource {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        if self.failed || self.next >= self.data.count {
            return None;
        }
        let row = self.read();
        self.failed = row.is_err();
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{Dataset, Format, ReadOptions};

    fn idx_bytes(element: u8, sizes: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, element, sizes.len() as u8];
        for size in sizes {
            bytes.extend_from_slice(&size.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::File::create(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    #[test]
    fn names_data_files_not_labels() {
        assert!(is_idx_images_name("train-images-idx3-ubyte"));
        assert!(is_idx_images_name("t10k-images.idx3-ubyte"));
        assert!(!is_idx_images_name("train-labels-idx1-ubyte"));
        assert!(!is_idx_images_name("ubyte.txt"));
    }

    #[test]
    fn reads_images_with_labels_plain_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..12).collect();
        write(
            &dir.path().join("train-images-idx3-ubyte"),
            &idx_bytes(0x08, &[3, 2, 2], &pixels),
        );
        let labels = idx_bytes(0x08, &[3], &[7, 0, 9]);
        let gz = std::fs::File::create(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
        encoder.write_all(&labels).unwrap();
        encoder.finish().unwrap();

        let path = dir.path().join("train-images-idx3-ubyte");
        let dataset = Dataset::open(&path, &ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), Format::Idx);
        assert_eq!(dataset.files().len(), 2);
        let records: Vec<_> = dataset.map(Result::unwrap).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].id.as_str(), "2");
        assert_eq!(records[2].label.as_deref(), Some("9"));
        let Some(Value::Image(image)) = records[1].field("image") else {
            panic!("an image")
        };
        assert_eq!((image.width, image.height, image.channels), (2, 2, 1));
        assert_eq!(image.pixels, vec![4, 5, 6, 7]);
    }

    #[test]
    fn truncated_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // A plain file's size is known: the header is checked against it when it is opened.
        let path = dir.path().join("x-images-idx3-ubyte");
        write(&path, &idx_bytes(0x08, &[3, 2, 2], &[0; 9]));
        let error = Dataset::open(&path, &ReadOptions::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`{}`: truncated: the header declares 3 records but the data ends inside record 2",
                path.display()
            )
        );
        // A gzipped file's size is not: the records before the end are read, then the error.
        let gzipped = dir.path().join("y-images-idx3-ubyte.gz");
        let file = std::fs::File::create(&gzipped).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder
            .write_all(&idx_bytes(0x08, &[3, 2, 2], &[0; 9]))
            .unwrap();
        encoder.finish().unwrap();
        let results: Vec<_> = Dataset::open(&gzipped, &ReadOptions::default())
            .unwrap()
            .collect();
        assert_eq!(results.len(), 3, "two records then the error");
        let error = results[2].as_ref().unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`{}`: truncated: the header declares 3 records but the data ends inside record 2",
                gzipped.display()
            )
        );
    }

    #[test]
    fn count_mismatch_and_bad_magic_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("a-images-idx3-ubyte");
        write(&images, &idx_bytes(0x08, &[2, 1, 1], &[1, 2]));
        write(
            &dir.path().join("a-labels-idx1-ubyte"),
            &idx_bytes(0x08, &[3], &[1, 2, 3]),
        );
        let error = Dataset::open(&images, &ReadOptions::default()).unwrap_err();
        assert!(matches!(
            error,
            ReadError::CountMismatch {
                image_count: 2,
                label_count: 3,
                ..
            }
        ));

        let bogus = dir.path().join("b-images-idx3-ubyte");
        write(&bogus, b"PK\x03\x04 not idx");
        let error = Dataset::open(&bogus, &ReadOptions::default()).unwrap_err();
        assert!(error.to_string().contains("not an IDX file"), "{error}");
    }

    #[test]
    fn non_byte_data_reads_as_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f-images-idx2-ubyte");
        let mut data = Vec::new();
        for value in [1.5f32, -2.0, 0.25, 4.0] {
            data.extend_from_slice(&value.to_be_bytes());
        }
        write(&path, &idx_bytes(0x0D, &[2, 2], &data));
        let records: Vec<_> = Dataset::open(&path, &ReadOptions::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            records[1].field("values"),
            Some(&Value::List(vec![Value::Float(0.25), Value::Float(4.0)]))
        );
        assert_eq!(records[0].label, None);
    }

    fn open_error(path: &Path, options: &ReadOptions) -> ReadError {
        Dataset::open(path, options).unwrap_err()
    }

    #[test]
    fn dimensions_whose_product_overflows_are_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-images-idx4-ubyte");
        write(
            &path,
            &idx_bytes(0x0E, &[1, u32::MAX, u32::MAX, u32::MAX], &[]),
        );
        let error = open_error(&path, &ReadOptions::default());
        assert!(
            error
                .to_string()
                .contains("multiply past what any file can hold"),
            "{error}"
        );
    }

    #[test]
    fn a_header_that_claims_more_than_the_file_holds_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-images-idx3-ubyte");
        write(&path, &idx_bytes(0x08, &[u32::MAX, 28, 28], &[0; 100]));
        let error = open_error(&path, &ReadOptions::default());
        assert_eq!(
            error.to_string(),
            format!(
                "`{}`: truncated: the header declares 4294967295 records but the data ends inside record 0",
                path.display()
            )
        );
    }

    #[test]
    fn records_larger_than_the_limit_are_refused_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-images-idx3-ubyte");
        write(&path, &idx_bytes(0x08, &[1, 4, 4], &[0; 16]));
        let options = ReadOptions {
            max_record_bytes: Some(15),
            ..ReadOptions::default()
        };
        let error = open_error(&path, &options);
        assert!(
            matches!(
                error,
                ReadError::DeclaredTooLarge {
                    size: 16,
                    limit: 15,
                    ..
                }
            ),
            "{error:?}"
        );
        // Vectors count what they take in memory: one value per element.
        let vectors = dir.path().join("v-images-idx2-ubyte");
        write(&vectors, &idx_bytes(0x08, &[1, 16], &[0; 16]));
        let options = ReadOptions {
            max_record_bytes: Some(100),
            ..ReadOptions::default()
        };
        assert!(matches!(
            open_error(&vectors, &options),
            ReadError::DeclaredTooLarge { .. }
        ));
        let zero = dir.path().join("z-images-idx3-ubyte");
        write(&zero, &idx_bytes(0x08, &[u32::MAX, 0, 28], &[]));
        assert!(
            open_error(&zero, &ReadOptions::default())
                .to_string()
                .contains("records of zero bytes")
        );
    }
}

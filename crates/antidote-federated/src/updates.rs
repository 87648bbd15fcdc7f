//! Client updates on disk: one file per client per round, NumPy `.npy` or `.safetensors`.
//!
//! A round is a folder of update files, one per client, named after the client
//! (`client-07.npy`); a federation is a folder of rounds (`round-001/`, `round-002/`, ...),
//! taken in natural order. Every update of a round must have the same layout: the same array
//! shape (`.npy`), or the same tensor names and shapes (`.safetensors`). An update is read as one
//! flat vector of 32-bit floats in C order, tensors in name order, so every rule works on plain
//! vectors; the aggregate is written back in the layout it was read in.
//!
//! Update files come from clients that may be malicious: sizes claimed by a header are checked
//! against the file's real size before anything is allocated, and non-finite values are refused.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use antidote_data::output::{AtomicFile, OutputError};
use safetensors::{Dtype, SafeTensors};

/// Errors from reading or writing update files.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The file could not be read.
    #[error("failed to read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The aggregate could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The file is not an update antidote reads.
    #[error("`{path}` is not a readable update: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An update's layout differs from the round's first update.
    #[error(
        "`{path}` has layout {found}, but `{first}` has {expected}; every client of a round must send the same model"
    )]
    LayoutMismatch {
        /// The update that differs.
        path: PathBuf,
        /// The round's first update.
        first: PathBuf,
        /// The first update's layout.
        expected: String,
        /// This update's layout.
        found: String,
    },
    /// The folder holds no updates.
    #[error("`{path}` holds no update files (`.npy` or `.safetensors`)")]
    Empty {
        /// The folder.
        path: PathBuf,
    },
    /// The folder mixes round folders and update files.
    #[error(
        "`{path}` holds both update files and folders; use one folder per round, or one round of files"
    )]
    Mixed {
        /// The folder.
        path: PathBuf,
    },
}

/// How an update's numbers are arranged, so that the aggregate is written back the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A NumPy array of this shape.
    Npy {
        /// The array's shape.
        shape: Vec<u64>,
    },
    /// Named tensors, in name order, each with its shape.
    Safetensors {
        /// Tensor names and shapes, sorted by name.
        tensors: Vec<(String, Vec<usize>)>,
    },
}

impl Layout {
    /// How many numbers an update of this layout has.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Npy { shape } => shape.iter().map(|&d| d as usize).product(),
            Self::Safetensors { tensors } => tensors
                .iter()
                .map(|(_, shape)| shape.iter().product::<usize>())
                .sum(),
        }
    }

    /// Whether an update of this layout has no numbers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Npy { shape } => write!(f, "array {shape:?}"),
            Self::Safetensors { tensors } => {
                let parts: Vec<String> = tensors
                    .iter()
                    .map(|(name, shape)| format!("{name} {shape:?}"))
                    .collect();
                write!(f, "tensors [{}]", parts.join(", "))
            }
        }
    }
}

/// One client's update.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The client, from the file name without its extension.
    pub client: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Its layout.
    pub layout: Layout,
    /// Its numbers, flat.
    pub values: Vec<f32>,
}

/// One round: the clients' updates, all of one layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// The round's name (its folder's name, or `round` for a single folder of updates).
    pub name: String,
    /// The updates, in client-name order.
    pub updates: Vec<Update>,
}

impl Round {
    /// The layout shared by every update of the round.
    #[must_use]
    pub fn layout(&self) -> &Layout {
        &self.updates[0].layout
    }

    /// The updates' numbers, one slice per client.
    #[must_use]
    pub fn vectors(&self) -> Vec<&[f32]> {
        self.updates
            .iter()
            .map(|update| update.values.as_slice())
            .collect()
    }

    /// The clients, in the order of [`vectors`](Self::vectors).
    #[must_use]
    pub fn clients(&self) -> Vec<&str> {
        self.updates
            .iter()
            .map(|update| update.client.as_str())
            .collect()
    }
}

fn is_update_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|ext| ext.to_str()),
        Some("npy" | "safetensors")
    )
}

/// Sorts names the way people number them: `round-2` before `round-10`.
fn natural_key(name: &str) -> Vec<(bool, u64, String)> {
    let mut key = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(&c) = chars.peek() {
        let digit = c.is_ascii_digit();
        let mut run = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() != digit {
                break;
            }
            run.push(c);
            chars.next();
        }
        let number = if digit {
            run.parse().unwrap_or(u64::MAX)
        } else {
            0
        };
        key.push((digit, number, run));
    }
    key
}

fn entries(folder: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let io = |source| UpdateError::Io {
        path: folder.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs_err::read_dir(folder).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.'));
        if !hidden {
            paths.push(path);
        }
    }
    paths.sort_by_cached_key(|path| {
        natural_key(&path.file_name().unwrap_or_default().to_string_lossy())
    });
    Ok(paths)
}

/// Reads the rounds under `folder`: its sub-folders in natural order, each a round, or, when it
/// holds update files, one round.
pub fn read_rounds(folder: &Path) -> Result<Vec<Round>, UpdateError> {
    let paths = entries(folder)?;
    let folders: Vec<&PathBuf> = paths.iter().filter(|path| path.is_dir()).collect();
    let files = paths.iter().any(|path| is_update_file(path));
    match (folders.is_empty(), files) {
        (true, true) => Ok(vec![read_round(folder, "round")?]),
        (false, false) => folders
            .into_iter()
            .map(|path| {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                read_round(path, &name)
            })
            .collect(),
        (false, true) => Err(UpdateError::Mixed {
            path: folder.to_path_buf(),
        }),
        (true, false) => Err(UpdateError::Empty {
            path: folder.to_path_buf(),
        }),
    }
}

/// Reads one round: every `.npy` or `.safetensors` file in `folder`.
pub fn read_round(folder: &Path, name: &str) -> Result<Round, UpdateError> {
    let paths: Vec<PathBuf> = entries(folder)?
        .into_iter()
        .filter(|path| path.is_file() && is_update_file(path))
        .collect();
    if paths.is_empty() {
        return Err(UpdateError::Empty {
            path: folder.to_path_buf(),
        });
    }
    let mut updates: Vec<Update> = Vec::with_capacity(paths.len());
    for path in paths {
        let update = read_update(&path)?;
        if let Some(first) = updates.first()
            && first.layout != update.layout
        {
            return Err(UpdateError::LayoutMismatch {
                path,
                first: first.path.clone(),
                expected: first.layout.to_string(),
                found: update.layout.to_string(),
            });
        }
        updates.push(update);
    }
    Ok(Round {
        name: name.to_owned(),
        updates,
    })
}

/// Reads one update file (`.npy` or `.safetensors`).
pub fn read_update(path: &Path) -> Result<Update, UpdateError> {
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|source| UpdateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let malformed = |reason: String| UpdateError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let (layout, values) = match path.extension().and_then(|ext| ext.to_str()) {
        Some("npy") => parse_npy(&bytes).map_err(malformed)?,
        Some("safetensors") => parse_safetensors(&bytes).map_err(malformed)?,
        _ => {
            return Err(malformed(
                "the name must end in `.npy` or `.safetensors`".to_owned(),
            ));
        }
    };
    if let Some(position) = values.iter().position(|value| !value.is_finite()) {
        return Err(malformed(format!(
            "value {position} is {}; an update must be finite numbers",
            values[position]
        )));
    }
    let client = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Ok(Update {
        client,
        path: path.to_path_buf(),
        layout,
        values,
    })
}

/// Checks the shape in an `.npy` header before the header is interpreted: a client can claim any
/// shape, and a product of dimensions that overflows must be refused, not computed.
fn check_npy_shape(bytes: &[u8]) -> Result<(), String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let Some(start) = head.find("'shape':") else {
        return Ok(());
    };
    let rest = &head[start + "'shape':".len()..];
    let Some(open) = rest.find('(') else {
        return Ok(());
    };
    // The closing parenthesis after the opening one: a header may hold `)` before `(`
    // (found by fuzzing, `fuzz/fuzz_targets/client_update.rs`).
    let Some(close) = rest[open..].find(')').map(|at| open + at) else {
        return Ok(());
    };
    let mut count: u64 = 1;
    for dim in rest[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let dim: u64 = dim
            .trim_end_matches('L')
            .parse()
            .map_err(|_| format!("the header's shape has `{dim}`, not a size"))?;
        count = count
            .checked_mul(dim)
            .filter(|&count| count <= bytes.len() as u64)
            .ok_or("the header's shape asks for more numbers than the file holds")?;
    }
    Ok(())
}

/// Checks the header length an `.npy` file declares against the file itself before the header is
/// read: versions 2 and 3 give it in four bytes, and a reader that trusts them allocates up to
/// 4 GiB for a 200-byte file (found by fuzzing, `fuzz/fuzz_targets/client_update.rs`).
fn check_npy_header_len(bytes: &[u8]) -> Result<(), String> {
    let (declared, start) = match bytes.get(6) {
        Some(1) => match bytes.get(8..10) {
            Some(&[low, high]) => (u64::from(u16::from_le_bytes([low, high])), 10),
            _ => return Ok(()),
        },
        Some(2 | 3) => match bytes.get(8..12) {
            Some(&[a, b, c, d]) => (u64::from(u32::from_le_bytes([a, b, c, d])), 12),
            _ => return Ok(()),
        },
        // Unknown versions and truncated files are the parser's to refuse.
        _ => return Ok(()),
    };
    let held = (bytes.len() as u64).saturating_sub(start);
    if declared > held {
        return Err(format!(
            "the header claims {declared} bytes but the file holds {held} after the preamble"
        ));
    }
    Ok(())
}

fn parse_npy(bytes: &[u8]) -> Result<(Layout, Vec<f32>), String> {
    check_npy_header_len(bytes)?;
    check_npy_shape(bytes)?;
    let mut reader = bytes;
    let header = npyz::NpyHeader::from_reader(&mut reader).map_err(|err| err.to_string())?;
    if header.order() == npyz::Order::Fortran {
        return Err("the array is in Fortran order; save it in C order (numpy's default)".into());
    }
    let npyz::DType::Plain(type_str) = header.dtype() else {
        return Err("the array is a structured array; save a plain float array".into());
    };
    let size = type_str.size_field();
    let element = match (type_str.type_char(), size) {
        (npyz::TypeChar::Float, 4 | 8) => size,
        _ => {
            return Err(format!(
                "the array's type is `{type_str}`; save float32 or float64"
            ));
        }
    };
    let count = header
        .shape()
        .iter()
        .try_fold(1u64, |count, &dim| count.checked_mul(dim))
        .ok_or("the array's shape overflows")?;
    let expected = count
        .checked_mul(element as u64)
        .ok_or("the array's shape overflows")?;
    if expected != reader.len() as u64 {
        return Err(format!(
            "the header promises {expected} bytes of data, the file has {}",
            reader.len()
        ));
    }
    let shape = header.shape().to_vec();
    let npy = npyz::NpyFile::with_header(header, reader);
    let values = if element == 4 {
        npy.into_vec::<f32>().map_err(|err| err.to_string())?
    } else {
        npy.into_vec::<f64>()
            .map_err(|err| err.to_string())?
            .into_iter()
            .map(|value| value as f32)
            .collect()
    };
    Ok((Layout::Npy { shape }, values))
}

fn parse_safetensors(bytes: &[u8]) -> Result<(Layout, Vec<f32>), String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|err| err.to_string())?;
    let mut names = tensors.names();
    names.sort_unstable();
    let mut layout = Vec::with_capacity(names.len());
    let mut values = Vec::new();
    for name in names {
        let view = tensors.tensor(name).map_err(|err| err.to_string())?;
        let data = view.data();
        match view.dtype() {
            Dtype::F32 => values.extend(
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            Dtype::F64 => values.extend(data.chunks_exact(8).map(|b| {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            })),
            Dtype::F16 => values.extend(
                data.chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
            ),
            Dtype::BF16 => values.extend(
                data.chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
            ),
            other => {
                return Err(format!(
                    "tensor `{name}` has type {other:?}; updates must be floating point"
                ));
            }
        }
        layout.push((name.to_owned(), view.shape().to_vec()));
    }
    Ok((Layout::Safetensors { tensors: layout }, values))
}

/// Writes an aggregate in `layout` to `path` (32-bit floats), atomically.
///
/// # Panics
///
/// When `values` does not have the layout's length.
pub fn write_update(path: &Path, layout: &Layout, values: &[f32]) -> Result<(), UpdateError> {
    assert_eq!(
        layout.len(),
        values.len(),
        "an aggregate has the length of its layout"
    );
    let bytes = match layout {
        Layout::Npy { shape } => npy_bytes(shape, values),
        Layout::Safetensors { tensors } => {
            safetensors_bytes(tensors, values).map_err(|reason| UpdateError::Malformed {
                path: path.to_path_buf(),
                reason,
            })?
        }
    };
    let mut file = AtomicFile::create(path)?;
    file.write_all(&bytes).map_err(|source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    file.commit()?;
    Ok(())
}

fn npy_bytes(shape: &[u64], values: &[f32]) -> Vec<u8> {
    use npyz::WriterBuilder as _;
    let mut bytes = Vec::new();
    {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut bytes)
            .begin_nd()
            .expect("writing to memory cannot fail");
        writer
            .extend(values.iter().copied())
            .expect("writing to memory cannot fail");
        writer.finish().expect("writing to memory cannot fail");
    }
    bytes
}

fn safetensors_bytes(tensors: &[(String, Vec<usize>)], values: &[f32]) -> Result<Vec<u8>, String> {
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    let mut offset = 0;
    for (name, shape) in tensors {
        let len: usize = shape.iter().product();
        let bytes = values[offset..offset + len]
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        offset += len;
        data.push((name.clone(), shape.clone(), bytes));
    }
    let views = data
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|err| err.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::serialize(views, None).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_longer_than_the_file_is_refused_before_it_is_read() {
        // Found by `bench/fuzz.sh` (client_update): a version 3 header claiming 4 GiB.
        let mut file = b"\x93NUMPY\x03\x00\xff\xff\xff\xff".to_vec();
        file.extend_from_slice(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
        let error = parse_npy(&file).unwrap_err();
        assert!(error.contains("claims 4294967295 bytes"), "{error}");
        let mut file = b"\x93NUMPY\x01\x00\xff\x7f".to_vec();
        file.extend_from_slice(&[b' '; 64]);
        assert!(parse_npy(&file).unwrap_err().contains("claims 32767 bytes"));
        // A well-formed file still reads.
        let good = npy_bytes(&[2], &[1.0, 2.0]);
        assert_eq!(parse_npy(&good).unwrap().1, vec![1.0, 2.0]);
    }

    #[test]
    fn a_shape_closed_before_it_opens_is_not_a_panic() {
        // Found by `bench/fuzz.sh` (client_update): `)` before `(` in the shape.
        let header =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortraj_order': False, 'shape': ,)(0,1  }";
        assert!(check_npy_shape(header).is_ok());
        let header = b"{'descr': '<f4', 'shape': )(18446744073709551615, 2)}";
        assert!(check_npy_shape(header).is_err());
    }
    #[test]
    fn npy_round_trip_keeps_shape_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let layout = Layout::Npy { shape: vec![2, 3] };
        let values = [1.0, -2.5, 3.0, 0.0, 1e-3, 7.0];
        write_update(&path, &layout, &values).unwrap();
        let update = read_update(&path).unwrap();
        assert_eq!(update.client, "a");
        assert_eq!(update.layout, layout);
        assert_eq!(update.values, values);
    }

    #[test]
    fn safetensors_round_trip_flattens_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.safetensors");
        let layout = Layout::Safetensors {
            tensors: vec![("bias".into(), vec![2]), ("weight".into(), vec![2, 2])],
        };
        let values = [0.5, -0.5, 1.0, 2.0, 3.0, 4.0];
        write_update(&path, &layout, &values).unwrap();
        let update = read_update(&path).unwrap();
        assert_eq!(update.layout, layout);
        assert_eq!(update.values, values);
    }

    #[test]
    fn a_header_that_promises_more_data_than_the_file_has_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.npy");
        let mut bytes = npy_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]);
        bytes.truncate(bytes.len() - 4);
        fs_err::write(&path, &bytes).unwrap();
        let err = read_update(&path).unwrap_err().to_string();
        assert!(err.contains("promises 16 bytes"), "{err}");

        // A shape whose element count overflows is refused before anything is allocated.
        let huge = npy_bytes(&[1], &[1.0]);
        let text = String::from_utf8_lossy(&huge).replace("(1,)", "(4294967296, 4294967296, 4)");
        fs_err::write(&path, text.as_bytes()).unwrap();
        assert!(read_update(&path).is_err());
    }

    #[test]
    fn non_finite_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npy");
        fs_err::write(&path, npy_bytes(&[2], &[1.0, f32::NAN])).unwrap();
        let err = read_update(&path).unwrap_err().to_string();
        assert!(err.contains("value 1 is NaN"), "{err}");
    }

    #[test]
    fn rounds_are_read_in_natural_order_and_layouts_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        for round in ["round-2", "round-10"] {
            let folder = dir.path().join(round);
            fs_err::create_dir(&folder).unwrap();
            for client in ["c1", "c0"] {
                let path = folder.join(format!("{client}.npy"));
                write_update(&path, &Layout::Npy { shape: vec![2] }, &[1.0, 2.0]).unwrap();
            }
        }
        let rounds = read_rounds(dir.path()).unwrap();
        let names: Vec<&str> = rounds.iter().map(|round| round.name.as_str()).collect();
        assert_eq!(names, ["round-2", "round-10"]);
        assert_eq!(rounds[0].clients(), ["c0", "c1"]);

        let odd = dir.path().join("round-10").join("c2.npy");
        write_update(&odd, &Layout::Npy { shape: vec![3] }, &[1.0, 2.0, 3.0]).unwrap();
        let err = read_rounds(dir.path()).unwrap_err();
        assert!(matches!(err, UpdateError::LayoutMismatch { .. }), "{err}");
    }
}

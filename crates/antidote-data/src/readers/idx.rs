use std::path::{Path, PathBuf};
use super::RowSource;
use crate::ReadError;
pub(crate) fn is_idx_images_name(name: &str) -> bool { name.contains("idx3-ubyte") }
pub(crate) fn open(path: &Path) -> Result<(Box<dyn RowSource>, Vec<PathBuf>), ReadError> { Err(ReadError::Empty { path: path.to_owned() }) }

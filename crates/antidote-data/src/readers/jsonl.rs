use std::path::Path;
use std::sync::Arc;
use super::{Row, RowSource};
use crate::{ColumnKind, ReadError};
pub(crate) struct JsonlSource;
impl JsonlSource { pub(crate) fn open(path: &Path) -> Result<Self, ReadError> { Err(ReadError::Empty { path: path.to_owned() }) } pub(crate) fn is_instruction(&self) -> bool { false } }
impl RowSource for JsonlSource { fn columns(&self) -> &[(Arc<str>, ColumnKind)] { &[] } fn next_row(&mut self) -> Option<Result<Row, ReadError>> { None } }

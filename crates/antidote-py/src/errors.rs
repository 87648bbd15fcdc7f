//! Errors as Python exceptions: the classes, the command line's messages and hints.

use std::path::Path;

use antidote_redteam::{AttackError, AttackKind, ParamsError};
use antidote_validate::profile::{Profile, ReadProfileError};
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, cast::AsArray};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    AntidoteError,
    PyException,
    "Any error antidote reports. `str(error)` is the command line's `error:` line with its `Caused by:` lines; `error.hint` is its `hint:` line, or `None`."
);
create_exception!(
    _native,
    DataError,
    AntidoteError,
    "A dataset could not be read: a missing file, a malformed record, a missing column."
);
create_exception!(
    _native,
    LockError,
    AntidoteError,
    "A lock could not be created, read or verified."
);
create_exception!(
    _native,
    ProfileError,
    AntidoteError,
    "A profile could not be made, read or written."
);
create_exception!(
    _native,
    CheckError,
    AntidoteError,
    "A check against a baseline could not run."
);
create_exception!(_native, ScanError, AntidoteError, "A scan could not run.");
create_exception!(
    _native,
    LabelIssuesError,
    AntidoteError,
    "`find_label_issues` was given labels or probabilities it cannot use."
);
create_exception!(
    _native,
    PoisonError,
    AntidoteError,
    "A poisoned copy could not be made."
);

/// Which exception class an error becomes when no dataset read failed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ErrorKind {
    Lock,
    Profile,
    Check,
    Scan,
    LabelIssues,
    Poison,
}

/// An error found here, with what to do about it (the command line's `UserError`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct UserError {
    message: String,
    hint: Option<String>,
}

impl UserError {
    pub(crate) fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// The first hint any error in the chain offers, found as the command line finds it.
fn hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            return user.hint.clone();
        }
        if let Some(lock) = cause.downcast_ref::<antidote_provenance::lock::LockError>() {
            return lock.hint();
        }
        if let Some(antidote_validate::profile::ProfileError::Read(read)) =
            cause.downcast_ref::<antidote_validate::profile::ProfileError>()
        {
            return read.hint();
        }
        if let Some(read) = cause.downcast_ref::<antidote_data::ReadError>() {
            return read.hint();
        }
        None
    })
}

/// The Python exception for `error`: its class from what failed, its message the command
/// line's (`error:` line without the prefix, then `  Caused by:` lines), and `hint`.
pub(crate) fn to_python(error: &anyhow::Error, kind: ErrorKind) -> PyErr {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        message.push_str("\n  Caused by: ");
        message.push_str(&cause.to_string());
    }
    let read_failed = error.chain().any(|cause| {
        cause.is::<antidote_data::ReadError>()
            || matches!(
                cause.downcast_ref::<antidote_validate::profile::ProfileError>(),
                Some(antidote_validate::profile::ProfileError::Read(_))
            )
    });
    let exception = if read_failed {
        DataError::new_err(message)
    } else {
        match kind {
            ErrorKind::Lock => LockError::new_err(message),
            ErrorKind::Profile => ProfileError::new_err(message),
            ErrorKind::Check => CheckError::new_err(message),
            ErrorKind::Scan => ScanError::new_err(message),
            ErrorKind::LabelIssues => LabelIssuesError::new_err(message),
            ErrorKind::Poison => PoisonError::new_err(message),
        }
    };
    let hint = hint(error);
    Python::attach(|py| {
        // Setting an attribute on a fresh exception instance cannot fail but for memory.
        let _ = exception.value(py).setattr("hint", hint);
    });
    exception
}

/// Adds the exception classes to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("AntidoteError", py.get_type::<AntidoteError>())?;
    module.add("DataError", py.get_type::<DataError>())?;
    module.add("LockError", py.get_type::<LockError>())?;
    module.add("ProfileError", py.get_type::<ProfileError>())?;
    module.add("CheckError", py.get_type::<CheckError>())?;
    module.add("ScanError", py.get_type::<ScanError>())?;
    module.add("LabelIssuesError", py.get_type::<LabelIssuesError>())?;
    module.add("PoisonError", py.get_type::<PoisonError>())?;
    Ok(())
}

/// A baseline profile, with the command line's hints.
pub(crate) fn read_profile(path: &Path) -> anyhow::Result<Profile> {
    Profile::read(path).map_err(|error| {
        let hint = match &error {
            ReadProfileError::Missing { .. } => {
                "create one with `antidote profile DATA -o baseline.json`"
            }
            ReadProfileError::Invalid { .. } => {
                "profiles are written by `antidote profile`; re-create it"
            }
            ReadProfileError::Version { .. } => {
                "re-create the profile with this version of `antidote profile`"
            }
            ReadProfileError::Io(_) => return error.into(),
        };
        UserError::new(error.to_string(), hint).into()
    })
}

/// Attack options that do not fit the attack, as the command line words them.
pub(crate) fn params_error(error: &ParamsError, kind: AttackKind) -> anyhow::Error {
    let hint = match error {
        ParamsError::NotApplicable { attack, .. } => format!(
            "`{attack}` reads {}",
            attack
                .options()
                .iter()
                .map(|option| format!("`--{option}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("see `antidote poison --help` for the options of `{kind}`"),
    };
    UserError::new(error.to_string(), hint).into()
}

/// An attack that cannot run on the data.
pub(crate) fn attack_error(error: &AttackError) -> anyhow::Error {
    UserError {
        message: error.to_string(),
        hint: error.hint(),
    }
    .into()
}

/// The values of an Arrow array of `T` without nulls, in place.
pub(crate) fn dense<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    name: &str,
) -> anyhow::Result<&'a [T::Native]> {
    let Some(values) = array.as_primitive_opt::<T>() else {
        return Err(UserError::new(
            format!(
                "`{name}` holds `{}` values, not `{}`",
                array.data_type(),
                T::DATA_TYPE
            ),
            "pass a NumPy array or a list of numbers",
        )
        .into());
    };
    if values.null_count() > 0 {
        return Err(UserError::new(
            format!("`{name}` has {} missing values", values.null_count()),
            "fill or drop the missing values first",
        )
        .into());
    }
    Ok(values.values())
}

//! Atomic output: every file antidote writes (locks, sidecars, signatures, keys, profiles,
//! reports, truths, dataset copies) is written under a temporary name in the same folder and
//! renamed into place on [`AtomicFile::commit`], so that a reader never sees half of it and a
//! failed run leaves nothing half-written.
//!
//! A symbolic link at the output is followed: the file it names is replaced and the link stays.
//! Anything else that is not a regular file (a device such as `/dev/null`, a pipe, a folder) is
//! refused, never replaced.
//!
//! ```no_run
//! use std::io::Write as _;
//! use antidote_data::output::AtomicFile;
//!
//! let mut file = AtomicFile::create("summary.json".as_ref())?;
//! file.write_all(b"{}\n")?;
//! file.commit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Errors from writing an output file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output could not be written, or is not a regular file.
    #[error("failed to access `{path}`")]
    Io {
        /// The output.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The output already exists and was opened with [`AtomicFile::create_new`].
    #[error("`{path}` already exists; antidote never overwrites data")]
    Exists {
        /// The output.
        path: PathBuf,
    },
}

impl OutputError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// The output this error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } | Self::Exists { path } => path,
        }
    }
}

/// A file written under a temporary name in the same folder, renamed into place on commit, so
/// that readers never see half of it. Dropped without a commit, it leaves nothing behind.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    /// Whether an existing file is replaced ([`AtomicFile::create`]) or refused
    /// ([`AtomicFile::create_new`]).
    replace: bool,
    /// The permissions of the result; `None` keeps those of the file replaced, else `0o644`.
    mode: Option<u32>,
    /// The length of the temporary file when [`AtomicFile::sync`] last synced it (with its
    /// final permissions); commit then only renames, unless more was written since.
    synced: Option<u64>,
    /// Where to write (buffered; [`AtomicFile`] also implements [`Write`]).
    pub writer: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    /// Starts writing `path`, replacing the file there if any. A symbolic link is followed: the
    /// file it names is replaced and the link stays. Anything else that is not a regular file (a
    /// device, a pipe, a folder) is refused. Missing folders are created.
    pub fn create(path: &Path) -> Result<Self, OutputError> {
        let target = regular_target(path)?;
        Self::start(target, true)
    }

    /// Starts writing a new file at `path`: if anything exists there, now or at commit, the
    /// write fails with [`OutputError::Exists`] and nothing is replaced. Missing folders are
    /// created.
    pub fn create_new(path: &Path) -> Result<Self, OutputError> {
        if path.exists() {
            return Err(OutputError::Exists {
                path: path.to_owned(),
            });
        }
        Self::start(path.to_owned(), false)
    }

    fn start(path: PathBuf, replace: bool) -> Result<Self, OutputError> {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&folder).map_err(OutputError::io(&folder))?;
        let temporary = tempfile::Builder::new()
            .prefix(".antidote-")
            .tempfile_in(&folder)
            .map_err(OutputError::io(&path))?;
        Ok(Self {
            path,
            replace,
            mode: None,
            synced: None,
            writer: BufWriter::with_capacity(1 << 18, temporary),
        })
    }

    /// Gives the result the Unix permissions `mode` (such as `0o600` for a private key) instead
    /// of the usual ones of a new file. The temporary file is private (`0o600`) until commit.
    #[must_use]
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The file that commit writes: the path given, or the file a link there names.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and syncs what was written so far and gives the file its final permissions,
    /// so that [`AtomicFile::commit`] is left with only the rename. Outputs that belong
    /// together (a dataset copy and its truth, a lock and its sidecar) are all synced before
    /// the first is renamed, so that a crash between them is down to the instant between two
    /// renames.
    pub fn sync(&mut self) -> Result<(), OutputError> {
        self.writer.flush().map_err(OutputError::io(&self.path))?;
        let file = self.writer.get_ref().as_file();
        self.set_mode(file)?;
        file.sync_all().map_err(OutputError::io(&self.path))?;
        let length = file.metadata().map_err(OutputError::io(&self.path))?.len();
        self.synced = Some(length);
        Ok(())
    }

    /// Gives the temporary file the permissions of the result: the mode asked for, else that
    /// of the file it replaces, else the usual mode of a new file. (Temporary files are private,
    /// `0o600`, until then.)
    #[cfg_attr(not(unix), allow(clippy::unused_self))]
    fn set_mode(&self, file: &std::fs::File) -> Result<(), OutputError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = self.mode.unwrap_or_else(|| {
                if self.replace {
                    fs_err::metadata(&self.path)
                        .map_or(0o644, |metadata| metadata.permissions().mode())
                } else {
                    0o644
                }
            });
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(OutputError::io(&self.path))?;
        }
        #[cfg(not(unix))]
        let _ = file;
        Ok(())
    }

    /// Flushes, syncs and renames into place.
    pub fn commit(self) -> Result<(), OutputError> {
        let unchanged = self.writer.buffer().is_empty()
            && self.synced.is_some()
            && self
                .writer
                .get_ref()
                .as_file()
                .metadata()
                .is_ok_and(|metadata| Some(metadata.len()) == self.synced);
        if !unchanged {
            let file = self.writer.get_ref().as_file();
            self.set_mode(file)?;
        }
        let temporary = self.writer.into_inner().map_err(|error| OutputError::Io {
            path: self.path.clone(),
            source: error.into_error(),
        })?;
        if !unchanged {
            temporary
                .as_file()
                .sync_all()
                .map_err(OutputError::io(&self.path))?;
        }
        let persisted = if self.replace {
            temporary.persist(&self.path)
        } else {
            temporary.persist_noclobber(&self.path)
        };
        persisted.map_err(|error| {
            if !self.replace && error.error.kind() == std::io::ErrorKind::AlreadyExists {
                OutputError::Exists {
                    path: self.path.clone(),
                }
            } else {
                OutputError::Io {
                    path: self.path.clone(),
                    source: error.error,
                }
            }
        })?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buffer)
    }

    fn write_all(&mut self, buffer: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(buffer)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// A folder written under a temporary name next to its final path, renamed into place on
/// [`AtomicFolder::commit`]; dropped without a commit, it is deleted. It never replaces
/// anything.
#[derive(Debug)]
pub struct AtomicFolder {
    path: PathBuf,
    staging: tempfile::TempDir,
}

impl AtomicFolder {
    /// Starts writing a new folder at `path`; fails with [`OutputError::Exists`] if anything
    /// is there. Missing parent folders are created.
    pub fn create_new(path: &Path) -> Result<Self, OutputError> {
        if path.exists() {
            return Err(OutputError::Exists {
                path: path.to_owned(),
            });
        }
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&parent).map_err(OutputError::io(&parent))?;
        let staging = tempfile::Builder::new()
            .prefix(".antidote-")
            .tempdir_in(&parent)
            .map_err(OutputError::io(path))?;
        Ok(Self {
            path: path.to_owned(),
            staging,
        })
    }

    /// Where to write the folder's files until commit.
    #[must_use]
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }

    /// Renames the folder into place.
    pub fn commit(self) -> Result<(), OutputError> {
        if self.path.exists() {
            return Err(OutputError::Exists { path: self.path });
        }
        let staged = self.staging.keep();
        fs_err::rename(&staged, &self.path).map_err(|source| {
            // Best effort: the error below is the one to report.
            let _ = fs_err::remove_dir_all(&staged);
            OutputError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// Outputs that belong together (the three parts of a split), written under one hidden
/// staging folder and moved into place one after another on [`StagedOutputs::commit`], once
/// all of them are whole: a crash before the commit leaves none of them (only the hidden
/// staging folder, `.antidote-*`), and the commit itself is a few renames. Dropped without a
/// commit, the staging folder is deleted. Nothing is ever replaced.
#[derive(Debug)]
pub struct StagedOutputs {
    staging: tempfile::TempDir,
    /// Each output: where it is staged, and its final path.
    outputs: Vec<(PathBuf, PathBuf)>,
}

impl StagedOutputs {
    /// Starts staging outputs in a hidden folder inside `folder` (created if missing); the
    /// outputs should live in or below `folder`, on the same file system.
    pub fn create_in(folder: &Path) -> Result<Self, OutputError> {
        fs_err::create_dir_all(folder).map_err(OutputError::io(folder))?;
        let staging = tempfile::Builder::new()
            .prefix(".antidote-")
            .tempdir_in(folder)
            .map_err(OutputError::io(folder))?;
        Ok(Self {
            staging,
            outputs: Vec::new(),
        })
    }

    /// Where to write the output `path` (a file or a folder) until commit: a path of the same
    /// name inside the staging folder, whose parent exists and which is itself absent.
    pub fn stage(&mut self, path: &Path) -> Result<PathBuf, OutputError> {
        let holder = self.staging.path().join(self.outputs.len().to_string());
        fs_err::create_dir(&holder).map_err(OutputError::io(&holder))?;
        let staged = holder.join(path.file_name().unwrap_or_else(|| "output".as_ref()));
        self.outputs.push((staged.clone(), path.to_owned()));
        Ok(staged)
    }

    /// Moves every staged output into place, in the order staged; fails with
    /// [`OutputError::Exists`] before moving anything if one of them exists already.
    pub fn commit(self) -> Result<(), OutputError> {
        for (_, path) in &self.outputs {
            if path.exists() {
                return Err(OutputError::Exists { path: path.clone() });
            }
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                fs_err::create_dir_all(parent).map_err(OutputError::io(parent))?;
            }
        }
        for (staged, path) in &self.outputs {
            fs_err::rename(staged, path).map_err(OutputError::io(path))?;
        }
        Ok(())
    }
}

/// The regular file that writing `path` should replace: `path` itself, or the file a symbolic
/// link at `path` names (followed to the end of a chain).
fn regular_target(path: &Path) -> Result<PathBuf, OutputError> {
    let mut target = path.to_owned();
    for _ in 0..32 {
        match std::fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&target).map_err(OutputError::io(&target))?;
                target = match target.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(metadata) if !metadata.is_file() => {
                return Err(OutputError::Io {
                    path: path.to_owned(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "not a regular file: antidote replaces its outputs whole and never writes over a device, a pipe or a folder",
                    ),
                });
            }
            _ => return Ok(target),
        }
    }
    Err(OutputError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "too many levels of symbolic links",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_follow_links_and_refuse_special_files() {
        let folder = tempfile::tempdir().unwrap();
        let real = folder.path().join("real.json");
        std::fs::write(&real, "old").unwrap();
        let link = folder.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let mut file = AtomicFile::create(&link).unwrap();
        file.writer.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");

        let fifo = folder.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let Err(error) = AtomicFile::create(&fifo) else {
            panic!("a pipe was accepted as an output");
        };
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(cause.is_some_and(|cause| cause.contains("pipe")), "{error}");
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(
            &std::fs::symlink_metadata(&fifo).unwrap().file_type()
        ));
        assert!(AtomicFile::create(folder.path()).is_err());
        assert!(AtomicFile::create(Path::new("/dev/null")).is_err());
    }

    #[test]
    fn nothing_is_written_before_commit_and_nothing_is_left_without_one() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("sub/out.txt");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"half").unwrap();
        assert!(!path.exists());
        drop(file);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(folder.path().join("sub"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn folders_appear_whole_on_commit_and_never_replace() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("out/images");
        let folder = AtomicFolder::create_new(&path).unwrap();
        std::fs::write(folder.staging().join("a.png"), "png").unwrap();
        assert!(!path.exists());
        folder.commit().unwrap();
        assert_eq!(std::fs::read_to_string(path.join("a.png")).unwrap(), "png");
        assert!(matches!(
            AtomicFolder::create_new(&path),
            Err(OutputError::Exists { .. })
        ));
        let other = root.path().join("out/other");
        drop(AtomicFolder::create_new(&other).unwrap());
        assert_eq!(
            std::fs::read_dir(root.path().join("out")).unwrap().count(),
            1
        );
    }

    #[test]
    fn new_files_never_replace_and_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("key");
        let mut file = AtomicFile::create_new(&path).unwrap().with_mode(0o600);
        file.write_all(b"secret").unwrap();
        // Something appears at the path while writing: commit refuses to replace it.
        std::fs::write(&path, "theirs").unwrap();
        let error = file.commit().unwrap_err();
        assert!(matches!(error, OutputError::Exists { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
        assert!(matches!(
            AtomicFile::create_new(&path),
            Err(OutputError::Exists { .. })
        ));

        let other = folder.path().join("other");
        let mut file = AtomicFile::create_new(&other).unwrap().with_mode(0o600);
        file.write_all(b"secret").unwrap();
        file.commit().unwrap();
        let mode = std::fs::metadata(&other).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        // A replaced file keeps its mode.
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o640)).unwrap();
        let mut file = AtomicFile::create(&other).unwrap();
        file.write_all(b"again").unwrap();
        file.commit().unwrap();
        let mode = std::fs::metadata(&other).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "again");
    }

    #[test]
    fn a_synced_file_commits_with_what_was_written_after_the_sync_too() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("pair.json");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"first").unwrap();
        file.sync().unwrap();
        assert!(!path.exists(), "nothing is in place before the commit");
        file.write_all(b" and more").unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first and more");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"synced").unwrap();
        file.sync().unwrap();
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "synced");
        let names: Vec<_> = std::fs::read_dir(folder.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary is left");
    }

    #[test]
    fn staged_outputs_appear_together_on_commit_and_never_replace() {
        let folder = tempfile::tempdir().unwrap();
        let out = folder.path().join("scan");
        let parts = [out.join("clean/data.csv"), out.join("review/data.csv")];
        let mut staged = StagedOutputs::create_in(&out).unwrap();
        for part in &parts {
            let path = staged.stage(part).unwrap();
            assert!(!path.exists());
            std::fs::write(&path, "id\n").unwrap();
        }
        assert!(
            parts.iter().all(|part| !part.exists()),
            "none before commit"
        );
        staged.commit().unwrap();
        assert!(parts.iter().all(|part| part.is_file()), "all after commit");
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            2,
            "the staging folder is gone"
        );

        // Dropped without a commit: nothing appears and the staging folder is removed.
        let other = folder.path().join("other");
        let mut staged = StagedOutputs::create_in(&other).unwrap();
        std::fs::write(staged.stage(&other.join("a.csv")).unwrap(), "x").unwrap();
        drop(staged);
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);

        // An output that exists already: refused before anything moves.
        let mut staged = StagedOutputs::create_in(&out).unwrap();
        let fresh = out.join("quarantine/data.csv");
        std::fs::write(staged.stage(&fresh).unwrap(), "x").unwrap();
        std::fs::write(staged.stage(&parts[0]).unwrap(), "new").unwrap();
        assert!(matches!(staged.commit(), Err(OutputError::Exists { .. })));
        assert!(!fresh.exists());
        assert_eq!(std::fs::read_to_string(&parts[0]).unwrap(), "id\n");
    }
}

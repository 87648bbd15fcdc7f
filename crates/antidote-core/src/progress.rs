/// What a progress stage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressUnit {
    /// Bytes read.
    Bytes,
    /// Records processed.
    Records,
    /// Files processed.
    Files,
}

/// Reports progress of long work. Libraries call it; the binary draws bars on a terminal and
/// stays silent elsewhere. Every method has a default that does nothing.
pub trait Progress: Sync {
    /// A new stage begins, with its total when known.
    fn start(&self, _stage: &str, _total: Option<u64>, _unit: ProgressUnit) {}
    /// The current stage advanced by `amount`.
    fn advance(&self, _amount: u64) {}
    /// The current stage is done.
    fn finish(&self) {}
}

/// Progress that is not shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

//! A lock file and its record sidecar, as `antidote verify` reads them. The input is split at
//! the first NUL: the lock JSON before it, the sidecar after.
#![no_main]
use antidote_provenance::lock::Lock;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (lock, sidecar) = match data.iter().position(|&byte| byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let path = antidote_fuzz::write("antidote.lock", lock);
    antidote_fuzz::write("antidote.lock.records.jsonl", sidecar);
    if let Ok(lock) = Lock::read(&path) {
        let _ = lock.read_records(&path);
    }
});

//! `antidote.toml`: every section the binary reads.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = toml::from_str::<antidote::settings::Config>(text);
    }
});

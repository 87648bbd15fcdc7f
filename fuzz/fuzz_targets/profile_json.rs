//! A profile (`antidote profile` output, the baseline `antidote check` compares against).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = antidote_fuzz::write("profile.json", data);
    let _ = antidote_validate::profile::Profile::read(&path);
});

//! Gzipped JSON Lines: the decompressor and the line limit on decompressed data (zip bombs).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    antidote_fuzz::read_dataset(&antidote_fuzz::write("input.jsonl.gz", data));
});

//! JSON Lines and instruction-tuning JSONL (the reader decides which from the first record).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    antidote_fuzz::read_dataset(&antidote_fuzz::write("input.jsonl", data));
});

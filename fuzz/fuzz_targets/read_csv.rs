//! CSV and TSV: delimiter sniffing, quoting, type inference, record limits.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    antidote_fuzz::read_dataset(&antidote_fuzz::write("input.csv", data));
    antidote_fuzz::read_dataset(&antidote_fuzz::write("input.tsv", data));
});

//! Parquet: footer, schema, row groups and pages as the Arrow reader decodes them.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    antidote_fuzz::read_dataset(&antidote_fuzz::write("input.parquet", data));
});

//! IDX (the MNIST family): the header's dimensions against the file's real size. The input is
//! split at its first byte into an images file and a labels file beside it.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let split = data
        .first()
        .map_or(0, |&byte| usize::from(byte).min(data.len() - 1) + 1);
    let (labels, images) = data.split_at(split.min(data.len()));
    let _ = std::fs::remove_file(antidote_fuzz::scratch().join("t10k-labels-idx1-ubyte"));
    let lone = antidote_fuzz::write("train-images-idx3-ubyte", images);
    antidote_fuzz::read_dataset(&lone);
    antidote_fuzz::write("t10k-labels-idx1-ubyte", labels);
    antidote_fuzz::read_dataset(&antidote_fuzz::write("t10k-images-idx3-ubyte", images));
});

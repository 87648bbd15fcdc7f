//! A federated client update (`antidote aggregate`): NumPy `.npy` or safetensors, chosen by
//! the input's first byte.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&choice, update)) = data.split_first() else {
        return;
    };
    let name = if choice % 2 == 0 {
        "client.npy"
    } else {
        "client.safetensors"
    };
    let _ = antidote_federated::updates::read_update(&antidote_fuzz::write(name, update));
});

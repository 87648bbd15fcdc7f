//! A model signature bundle (OpenSSF model_signing format), as `antidote verify-model` reads it.
#![no_main]
use antidote_provenance::{model, signing};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static KEY: std::sync::OnceLock<p256::ecdsa::VerifyingKey> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| *signing::generate_key().verifying_key());
    let path = antidote_fuzz::write("model.sig", data);
    if let Ok(bundle) = model::Bundle::read(&path) {
        let _ = model::open(&bundle, key);
    }
});

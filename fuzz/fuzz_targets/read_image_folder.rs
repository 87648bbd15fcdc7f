//! Image folders: PNG and JPEG decoding with the decoded size bounded before allocation. The
//! input is one image; its first byte chooses the extension the reader sees.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&choice, image)) = data.split_first() else {
        return;
    };
    let folder = antidote_fuzz::scratch().join("images");
    let _ = std::fs::remove_dir_all(&folder);
    let name = if choice % 2 == 0 {
        "images/cat/a.png"
    } else {
        "images/cat/a.jpg"
    };
    antidote_fuzz::write(name, image);
    antidote_fuzz::write("images/dog/b.png", image);
    antidote_fuzz::read_dataset(&folder);
});

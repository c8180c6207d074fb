//! Uploaded photos (U1): the first-bytes check and the whole server pipeline (decode within
//! the size limits, orientation, crop, resize, re-encode) never panic and never take more than
//! the limits allow, whatever the bytes; what comes out is a 256 px and a 64 px WebP.
#![no_main]
use gatehouse_core::mechanisms::picture;
use gatehouse_core::values::photo::sniff;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if sniff(bytes).is_err() {
        return;
    }
    if let Ok(a) = picture::make_avatar(bytes) {
        assert!(a.large.starts_with(b"RIFF") && a.small.starts_with(b"RIFF"));
    }
});

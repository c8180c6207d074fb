//! U3 against what the codecs really allocate: making an avatar never takes more memory than
//! its plan (read from the header alone) reserves in the decode pool, and the decoded bitmap
//! is never copied or turned whole (the square is cut through a view, turned upright small).
//!
//! A counting allocator of its own (this file is its own test binary) follows the bytes each
//! thread holds; the pipeline runs on one thread, so its peak is what one decode takes.

use gatehouse_core::mechanisms::picture::{self, LARGE};
use image::{DynamicImage, ImageEncoder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: nothing to count once the thread's locals are gone.
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to `System` unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        note(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, size) };
        if !q.is_null() {
            note(size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most bytes held at once by this thread while `f` runs, beyond what it held before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = HELD.with(Cell::get);
    PEAK.with(|p| p.set(before));
    let out = f();
    (out, (PEAK.with(Cell::get) - before).max(0) as u64)
}

fn encode(img: &DynamicImage, format: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (w, h, color) = (img.width(), img.height(), img.color().into());
    match format {
        "png" => {
            image::codecs::png::PngEncoder::new(&mut out).write_image(img.as_bytes(), w, h, color)
        }
        "jpeg" => {
            image::codecs::jpeg::JpegEncoder::new(&mut out).write_image(img.as_bytes(), w, h, color)
        }
        _ => image::codecs::webp::WebPEncoder::new_lossless(&mut out).write_image(
            img.as_bytes(),
            w,
            h,
            color,
        ),
    }
    .expect("encode");
    out
}

/// A JPEG whose EXIF says "rotate 90° clockwise to view" (a portrait from a phone).
fn rotated(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&6u16.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn u3_making_an_avatar_stays_within_its_plan_and_never_copies_the_bitmap() {
    let (w, h) = (1600u32, 1200u32);
    let rgb = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x + y) / 11) as u8])
    });
    let rgb = DynamicImage::ImageRgb8(rgb);
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("PNG RGB", encode(&rgb, "png"), true),
        (
            "PNG RGBA",
            encode(&DynamicImage::ImageRgba8(rgb.to_rgba8()), "png"),
            true,
        ),
        (
            "PNG RGBA 16-bit",
            encode(&DynamicImage::ImageRgba16(rgb.to_rgba16()), "png"),
            true,
        ),
        (
            "PNG grey",
            encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), "png"),
            true,
        ),
        ("JPEG RGB", encode(&rgb, "jpeg"), true),
        (
            "JPEG RGB turned by EXIF",
            rotated(&encode(&rgb, "jpeg")),
            true,
        ),
        (
            "JPEG grey",
            encode(&DynamicImage::ImageLuma8(rgb.to_luma8()), "jpeg"),
            true,
        ),
        // The lossless WebP decoder keeps a 4-byte frame beside 3-byte pixels: its peak is
        // within the plan, but not "the bitmap and the resize" alone.
        ("WebP RGB", encode(&rgb, "webp"), false),
        (
            "WebP RGBA",
            encode(&DynamicImage::ImageRgba8(rgb.to_rgba8()), "webp"),
            true,
        ),
    ];
    for (name, bytes, lean) in cases {
        let plan = picture::plan(&bytes).expect("within the limits");
        let (made, peak) = peak_of(|| picture::make_avatar(&bytes));
        assert!(made.is_ok(), "{name}: {made:?}");
        assert!(
            peak <= plan.memory,
            "{name}: took {peak} bytes, planned {}",
            plan.memory
        );
        if lean {
            // The decoded pixels, one resize pass of the square (side × 256 × RGBA f32) and
            // the upload: a whole copy of the picture or of its square would be over.
            let bpp = match name {
                n if n.contains("16-bit") => 8,
                n if n.contains("RGBA") => 4,
                n if n.contains("grey") => 1,
                _ => 3,
            };
            let decoded = u64::from(w * h) * bpp;
            let square = u64::from(w.min(h));
            let pass = (square + u64::from(LARGE)) * u64::from(LARGE) * 16;
            let copy = square * square * bpp;
            assert!(
                peak < decoded + pass + bytes.len() as u64 + copy / 2,
                "{name}: took {peak} bytes for {decoded} bytes of pixels"
            );
        }
    }
}

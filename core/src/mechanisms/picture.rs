//! The avatar image pipeline: never trust an upload (U1, U2), budget every decode (U3).
//!
//! - The type comes from the bytes, never from a name or a header: PNG, JPEG and WebP only;
//!   SVG, HTML and everything else are refused with their own message (`values::photo::sniff`,
//!   which the browser's cropper runs too).
//! - U3, decoding is budgeted by pixels and memory, not by bytes: a 258 KiB PNG can claim
//!   8000 × 8000 pixels. From the header alone ([`plan`]) a picture must fit
//!   [`MAX_SIDE`] × [`MAX_SIDE`] and [`MAX_PIXELS`] (`values::photo::fits`), and the memory
//!   making its avatar will take is estimated as an upper bound ([`Plan::memory`]: the decoded
//!   pixels, the codec's own working buffers, the resize) and kept under [`MEMORY_CAP`];
//!   anything bigger is [`PictureError::TooManyPixels`] before a single pixel is allocated.
//! - Downscaling while decoding is not possible with the codecs we have: `image` 0.25 decodes
//!   JPEG with `zune-jpeg` (0.5), which has no DCT scaling (the old `jpeg-decoder`'s
//!   `scale` went with it), and its PNG and WebP decoders only give whole frames. So the
//!   budget above is what bounds a decode; nothing else of the picture is ever copied whole.
//! - EXIF orientation is honoured (a portrait photo comes out upright) without turning the
//!   whole bitmap: the centre square of the upright picture (the browser cropper's starting
//!   frame, `values::crop::Frame`) is found in the stored pixels, resized through a view (no
//!   copy), and only the [`LARGE`] square is turned upright; [`SMALL`] is made from it. Both are
//!   re-encoded from pixels (lossless WebP): nothing of the upload survives but its pixels —
//!   EXIF/GPS, comments and trailing bytes (a polyglot's HTML) are gone.
//! - Decoding runs off the async runtime ([`Pictures`]) on a bounded number of threads with a
//!   bounded queue, and within a memory budget shared by every decode in flight: each job
//!   reserves its [`Plan::memory`] before it is queued; when the budget (or the queue) is full,
//!   [`PictureError::Busy`] at once (P6 pattern, Y4), so a burst of uploads can never take the
//!   memory of the machine, whatever its number of cores.

use crate::values::crop::Frame;
use image::codecs::webp::WebPEncoder;
use image::error::{ImageError, LimitErrorKind};
use image::imageops::{self, FilterType};
use image::metadata::Orientation;
use image::{
    DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits, RgbaImage,
};
use std::io::Cursor;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub use crate::values::photo::{
    fits, sniff, AvatarSize, Kind, PictureError, MAX_BYTES, MAX_PIXELS, MAX_SIDE,
};

/// U3: the most memory making one avatar may take (estimated from the header, see
/// [`Plan::memory`]). Every picture within [`MAX_PIXELS`] fits, the worst being an animated
/// WebP (~360 MiB); a baseline 16-megapixel JPEG is estimated at ~210 MiB.
pub const MEMORY_CAP: u64 = 384 * 1024 * 1024;
/// U3: the memory all the decodes in flight may take together, by default ([`Pictures::new`]):
/// whatever the number of cores, uploads never hold more than this while being decoded.
pub const MEMORY_BUDGET: u64 = 512 * 1024 * 1024;
// By default every picture within the limits can be made.
const _: () = assert!(MEMORY_CAP <= MEMORY_BUDGET);
/// The sizes stored: the Dashboard's picture and the top bar's.
pub const LARGE: u32 = AvatarSize::Large.pixels();
pub const SMALL: u32 = AvatarSize::Small.pixels();
/// What the stored pictures are.
pub const CONTENT_TYPE: &str = "image/webp";

fn format(kind: Kind) -> ImageFormat {
    match kind {
        Kind::Png => ImageFormat::Png,
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Webp => ImageFormat::WebP,
    }
}

/// An avatar made from an upload: the two squares, lossless WebP.
#[derive(Clone, PartialEq, Eq)]
pub struct Avatar {
    pub large: Vec<u8>,
    pub small: Vec<u8>,
}

impl std::fmt::Debug for Avatar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Avatar({} + {} bytes)",
            self.large.len(),
            self.small.len()
        )
    }
}

/// The decoders' own limits, a second line behind [`plan`]'s.
fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MEMORY_CAP);
    l
}

fn decode_error(e: ImageError) -> PictureError {
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError | LimitErrorKind::InsufficientMemory => {
                PictureError::TooManyPixels
            }
            _ => PictureError::Damaged,
        },
        ImageError::Unsupported(_) => PictureError::NotAnImage,
        _ => PictureError::Damaged,
    }
}

/// U3: what making an avatar of an upload will take, read from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub kind: Kind,
    pub width: u32,
    pub height: u32,
    /// An upper bound of the memory making the avatar takes, in bytes: the decoded pixels, the
    /// codec's working buffers, the upload's copy and the resize (see [`memory`]).
    pub memory: u64,
}

/// An animated WebP (VP8X with the animation flag): its decoder keeps a canvas and a frame.
fn animated_webp(bytes: &[u8]) -> bool {
    bytes.len() > 20 && &bytes[12..16] == b"VP8X" && bytes[20] & 0x02 != 0
}

/// U3: the upper bound of [`Plan::memory`], from the header. Each term follows what the
/// codecs of `image` 0.25 allocate, read in their sources; `tests/picture_memory.rs` checks it
/// with a counting allocator for what our encoders can make (PNG of every depth, baseline JPEG,
/// lossless WebP; a progressive JPEG took 6.2 bytes a pixel against 14 planned):
/// - the decoded pixels, `decoded` bytes (`ImageDecoder::total_bytes`: 1 to 8 per pixel);
/// - the codec's working buffers, per pixel padded to its blocks (up to 32): PNG decodes row by
///   row (nothing); JPEG (`zune-jpeg`) keeps every coefficient of a progressive or
///   non-interleaved picture, up to 4 components × 2 bytes; WebP has up to a 4-byte frame
///   beside the pixels, a 1.5-byte YUV frame and up to 5 bytes of alpha, and an animated one
///   a canvas and a frame more;
/// - the upload, which the JPEG decoder copies;
/// - the resize: one pass of the square's side × [`LARGE`] in RGBA `f32`, and the result;
/// - rows and tables: a few hundred bytes a column, 2 MiB besides.
pub fn memory(kind: Kind, bytes: &[u8], width: u32, height: u32, decoded: u64) -> u64 {
    let (w, h) = (u64::from(width), u64::from(height));
    let padded = (w + 32) * (h + 32);
    let working = match kind {
        Kind::Png => 0,
        Kind::Jpeg => 8 * padded,
        Kind::Webp if animated_webp(bytes) => 16 * padded,
        Kind::Webp => 7 * padded,
    };
    let large = u64::from(LARGE);
    let resize = (w.min(h) + large) * large * 16;
    decoded + working + bytes.len() as u64 + resize + 256 * (w + 32) + 2 * 1024 * 1024
}

/// Sniffs an upload and reads its header: the decoder, ready for the pixels, and the [`Plan`]
/// of what they cost, refused (U1, U3) before any pixel is allocated when over the budget.
fn open(bytes: &[u8]) -> Result<(impl ImageDecoder + '_, Plan), PictureError> {
    if bytes.len() > MAX_BYTES {
        return Err(PictureError::TooLarge);
    }
    let kind = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format(kind));
    reader.limits(limits());
    let decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if !fits(width, height) {
        return Err(PictureError::TooManyPixels);
    }
    let memory = memory(kind, bytes, width, height, decoder.total_bytes());
    if memory > MEMORY_CAP {
        return Err(PictureError::TooManyPixels);
    }
    let plan = Plan {
        kind,
        width,
        height,
        memory,
    };
    Ok((decoder, plan))
}

/// U3: the [`Plan`] of an upload, from its header alone (nothing is decoded), or why it is
/// refused.
pub fn plan(bytes: &[u8]) -> Result<Plan, PictureError> {
    open(bytes).map(|(_, plan)| plan)
}

/// Whether an orientation swaps width and height.
fn turns(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The centre square of the upright picture (the cropper's starting frame), as `(x, y, side)`
/// in the stored pixels of a `w` × `h` picture shown with orientation `o`.
fn stored_square(w: u32, h: u32, o: Orientation, side: u32) -> (u32, u32, u32) {
    let (uw, uh) = if turns(o) { (h, w) } else { (w, h) };
    let sq = Frame::new(uw, uh, f64::from(side)).source_square();
    let s = (sq.side.round() as u32).clamp(1, uw.min(uh));
    let x = (sq.x.round().max(0.0) as u32).min(uw - s);
    let y = (sq.y.round().max(0.0) as u32).min(uh - s);
    // Where the upright square's pixels are stored (`DynamicImage::apply_orientation`, undone).
    match o {
        Orientation::NoTransforms => (x, y, s),
        Orientation::FlipHorizontal => (w - x - s, y, s),
        Orientation::FlipVertical => (x, h - y - s, s),
        Orientation::Rotate180 => (w - x - s, h - y - s, s),
        Orientation::Rotate90 => (y, h - x - s, s),
        Orientation::Rotate270 => (w - y - s, x, s),
        Orientation::Rotate90FlipH => (y, x, s),
        Orientation::Rotate270FlipH => (w - y - s, h - x - s, s),
    }
}

/// The centre square of the upright picture, resized to `side`: cut through a view of the
/// stored pixels (the bitmap is never copied or turned whole), then turned upright, small.
fn upright_square(img: &DynamicImage, o: Orientation, side: u32) -> RgbaImage {
    let (x, y, s) = stored_square(img.width(), img.height(), o, side);
    macro_rules! resized {
        ($pixels:expr) => {
            DynamicImage::from(imageops::resize(
                &*$pixels.view(x, y, s, s),
                side,
                side,
                FilterType::Lanczos3,
            ))
        };
    }
    let mut square = match img {
        DynamicImage::ImageLuma8(p) => resized!(p),
        DynamicImage::ImageLumaA8(p) => resized!(p),
        DynamicImage::ImageRgb8(p) => resized!(p),
        DynamicImage::ImageRgba8(p) => resized!(p),
        DynamicImage::ImageLuma16(p) => resized!(p),
        DynamicImage::ImageLumaA16(p) => resized!(p),
        DynamicImage::ImageRgb16(p) => resized!(p),
        DynamicImage::ImageRgba16(p) => resized!(p),
        // Any other layout, through 8-bit RGBA pixel by pixel (still no copy).
        other => resized!(other),
    };
    square.apply_orientation(o);
    square.into_rgba8()
}

fn webp(pixels: &RgbaImage) -> Result<Vec<u8>, PictureError> {
    let mut out = Vec::new();
    pixels
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .map_err(|_| PictureError::Internal)?;
    Ok(out)
}

/// U1/U3: the whole pipeline, synchronously (call it through [`Pictures::make`]): the header
/// checked against the budget, the pixels decoded, the upright centre square re-encoded.
pub fn make_avatar(bytes: &[u8]) -> Result<Avatar, PictureError> {
    let (mut decoder, _) = open(bytes)?;
    // A broken EXIF block only loses the orientation, never the photo.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let large = upright_square(&img, orientation, LARGE);
    drop(img);
    let small = imageops::resize(&large, SMALL, SMALL, FilterType::Lanczos3);
    Ok(Avatar {
        large: webp(&large)?,
        small: webp(&small)?,
    })
}

/// The memory semaphore counts KiB (a permit count is a `u32`).
const KIB: u64 = 1024;

/// P6/Y4/U3: the bounded pool avatars are made on. Cheap to clone.
#[derive(Clone)]
pub struct Pictures {
    /// Jobs admitted (running or waiting); past it, Busy at once.
    admitted: Arc<Semaphore>,
    /// Jobs running at once, each on a blocking thread.
    running: Arc<Semaphore>,
    /// U3: KiB of memory the admitted jobs may take together; each reserves its
    /// [`Plan::memory`] before it waits for a thread, and Busy at once when it does not fit.
    memory: Arc<Semaphore>,
    /// The whole of `memory`, in KiB.
    budget: u64,
}

impl Pictures {
    /// `workers` threads (the CPU), `queue` waiting at most, within [`MEMORY_BUDGET`].
    pub fn new(workers: usize, queue: usize) -> Self {
        Self::with_memory(workers, queue, MEMORY_BUDGET)
    }

    /// As [`Pictures::new`], with `budget` bytes for all the decodes in flight. Below
    /// [`MEMORY_CAP`], the budget lowers the limits too: a picture whose [`Plan::memory`] could
    /// never fit in it is [`PictureError::TooManyPixels`].
    pub fn with_memory(workers: usize, queue: usize, budget: u64) -> Self {
        let workers = workers.max(1);
        let budget = budget.div_ceil(KIB).clamp(1, Semaphore::MAX_PERMITS as u64);
        Self {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(Semaphore::new(workers)),
            memory: Arc::new(Semaphore::new(budget as usize)),
            budget,
        }
    }

    /// Makes an avatar off the async runtime, or answers Busy when the pool or its memory
    /// budget is full. A picture over the limits is refused from its header, without waiting.
    pub async fn make(&self, bytes: Vec<u8>) -> Result<Avatar, PictureError> {
        let _admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PictureError::Busy)?;
        // The header only (no pixels): cheap enough for the async runtime.
        let kib = plan(&bytes)?.memory.div_ceil(KIB);
        if kib > self.budget {
            return Err(PictureError::TooManyPixels);
        }
        let kib = u32::try_from(kib).map_err(|_| PictureError::TooManyPixels)?;
        let reserved = self
            .memory
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| PictureError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PictureError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let _held = (running, reserved);
            make_avatar(&bytes)
        })
        .await
        .map_err(|_| PictureError::Internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage};

    fn jpeg(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
        DynamicImage::ImageRgb8(img.clone())
            .write_with_encoder(encoder)
            .expect("encode");
        out
    }

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        DynamicImage::ImageRgb8(img.clone())
            .write_with_encoder(encoder)
            .expect("encode");
        out
    }

    /// A TIFF-in-EXIF block (big-endian) with an Orientation tag and a GPS IFD holding a
    /// latitude reference, spliced into a JPEG right after its SOI marker.
    fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
        // IFD0: two entries (Orientation, GPS IFD pointer), then no next IFD.
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&0x0112u16.to_be_bytes());
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        let gps_at = 8 + 2 + 2 * 12 + 4;
        tiff.extend_from_slice(&0x8825u16.to_be_bytes());
        tiff.extend_from_slice(&4u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&(gps_at as u32).to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        // GPS IFD: GPSLatitudeRef = "N", then a marker text nobody could mistake for pixels.
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&2u32.to_be_bytes());
        tiff.extend_from_slice(b"N\0\0\0");
        tiff.extend_from_slice(&0u32.to_be_bytes());
        tiff.extend_from_slice(GPS_MARKER);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }
    const GPS_MARKER: &[u8] = b"GPS-52.5200N-13.4050E";

    /// CRC-32 (IEEE), as PNG chunks carry it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn decoded(webp: &[u8]) -> image::RgbaImage {
        image::load_from_memory_with_format(webp, ImageFormat::WebP)
            .expect("our output decodes")
            .to_rgba8()
    }

    /// Left half red, right half blue.
    fn halves(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, _| {
            if x < w / 2 {
                Rgb([220, 20, 20])
            } else {
                Rgb([20, 20, 220])
            }
        })
    }

    fn is_red(p: &image::Rgba<u8>) -> bool {
        p[0] > 150 && p[2] < 100
    }
    fn is_blue(p: &image::Rgba<u8>) -> bool {
        p[2] > 150 && p[0] < 100
    }

    #[test]
    fn u1_a_jpeg_with_gps_exif_comes_out_without_it() {
        let input = with_exif(&jpeg(&halves(64, 48)), 1);
        assert!(contains(&input, GPS_MARKER) && contains(&input, b"Exif"));
        let a = make_avatar(&input).expect("a good photo");
        for out in [&a.large, &a.small] {
            assert!(out.starts_with(b"RIFF") && &out[8..12] == b"WEBP");
            assert!(!contains(out, GPS_MARKER), "GPS data survived");
            assert!(!contains(out, b"EXIF") && !contains(out, b"Exif"));
        }
        assert_eq!(decoded(&a.large).dimensions(), (LARGE, LARGE));
        assert_eq!(decoded(&a.small).dimensions(), (SMALL, SMALL));
    }

    #[test]
    fn u1_a_portrait_with_exif_orientation_6_comes_out_upright() {
        // Stored landscape (left red, right blue) with "rotate 90° clockwise to view": upright,
        // the red half is on top, so the centre square is red above, blue below.
        let input = with_exif(&jpeg(&halves(80, 40)), 6);
        let out = decoded(&make_avatar(&input).expect("photo").large);
        assert!(
            is_red(out.get_pixel(LARGE - 20, 20)),
            "top right should be red"
        );
        assert!(
            is_blue(out.get_pixel(20, LARGE - 20)),
            "bottom left should be blue"
        );
        // Without the tag the same pixels are left/right.
        let plain = decoded(&make_avatar(&jpeg(&halves(80, 40))).expect("photo").large);
        assert!(is_blue(plain.get_pixel(LARGE - 20, 20)));
    }

    #[test]
    fn u1_a_decompression_bomb_is_refused_from_its_header() {
        // A 50 000 × 50 000 PNG header: refused before 10 GB of pixels are allocated.
        let mut bomb = png(&RgbImage::new(1, 1));
        bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        // A real bomb has a valid header: mend the IHDR checksum (over type and data).
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(make_avatar(&bomb), Err(PictureError::TooManyPixels));
    }

    #[test]
    fn u1_a_truncated_file_is_refused_as_damaged() {
        let whole = jpeg(&halves(64, 64));
        assert_eq!(
            make_avatar(&whole[..whole.len() / 3]),
            Err(PictureError::Damaged)
        );
        let whole = png(&halves(64, 64));
        assert_eq!(
            make_avatar(&whole[..whole.len() / 2]),
            Err(PictureError::Damaged)
        );
    }

    #[test]
    fn u1_a_polyglot_png_header_with_html_is_refused() {
        let mut poly = b"\x89PNG\r\n\x1a\n".to_vec();
        poly.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert_eq!(make_avatar(&poly), Err(PictureError::Damaged));
    }

    #[test]
    fn u1_html_after_a_whole_png_is_dropped_by_the_re_encoding() {
        let mut poly = png(&halves(32, 32));
        poly.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let a = make_avatar(&poly).expect("the picture part is fine");
        assert!(!contains(&a.large, b"<script>") && !contains(&a.small, b"<script>"));
        assert_eq!(decoded(&a.large).dimensions(), (LARGE, LARGE));
    }

    #[test]
    fn u1_svg_html_and_other_files_are_refused_with_their_messages() {
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert_eq!(make_avatar(svg), Err(PictureError::Markup));
        assert_eq!(
            make_avatar(b"\xEF\xBB\xBF  <!doctype html><p>hi"),
            Err(PictureError::Markup)
        );
        assert_eq!(make_avatar(b"GIF89a...."), Err(PictureError::NotAnImage));
        assert_eq!(make_avatar(b"%PDF-1.7"), Err(PictureError::NotAnImage));
        assert_eq!(make_avatar(b""), Err(PictureError::Empty));
        assert_eq!(
            PictureError::Markup.to_string(),
            "SVG and HTML files can't be used. Choose a PNG, JPEG or WebP image."
        );
    }

    #[test]
    fn u1_more_than_5_mib_is_refused_before_decoding() {
        let mut big = png(&halves(8, 8));
        big.resize(MAX_BYTES + 1, 0);
        assert_eq!(make_avatar(&big), Err(PictureError::TooLarge));
    }

    #[test]
    fn u1_webp_and_png_are_accepted_and_centre_cropped() {
        // 90 × 30, left red, right blue: the centre square (30..60) is half and half.
        let img = halves(90, 30);
        let mut webp = Vec::new();
        DynamicImage::ImageRgb8(img.clone())
            .write_with_encoder(WebPEncoder::new_lossless(&mut webp))
            .expect("encode");
        for input in [webp, png(&img)] {
            let out = decoded(&make_avatar(&input).expect("accepted").large);
            assert!(is_red(out.get_pixel(10, LARGE / 2)));
            assert!(is_blue(out.get_pixel(LARGE - 10, LARGE / 2)));
        }
    }

    /// One colour: a huge picture in a tiny file.
    fn flat_png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(
                &vec![200u8; (w * h) as usize],
                w,
                h,
                image::ExtendedColorType::L8,
            )
            .expect("encode");
        out
    }

    #[test]
    fn u3_a_small_file_that_decodes_huge_is_refused_before_decoding() {
        // 5000 × 5000 is well within the old 8000 × 8000 and 256 MiB, and the file is tiny.
        let png = flat_png(5000, 5000);
        assert!(png.len() < 256 * 1024, "{} bytes", png.len());
        assert_eq!(plan(&png), Err(PictureError::TooManyPixels));
        assert_eq!(make_avatar(&png), Err(PictureError::TooManyPixels));
        // Before decoding: the same file without most of its pixel data is refused for its
        // size, not as damaged (which it would be, had the pixels been read).
        let cut = &png[..png.len() / 2];
        assert_eq!(make_avatar(cut), Err(PictureError::TooManyPixels));
        let within = flat_png(400, 400);
        assert_eq!(
            make_avatar(&within[..within.len() / 2]),
            Err(PictureError::Damaged)
        );
        // Per side too, whatever the total: a 4097-pixel-wide strip.
        let strip = jpeg(&halves(MAX_SIDE + 1, 8));
        assert_eq!(make_avatar(&strip), Err(PictureError::TooManyPixels));
        // The words shown next to the field.
        assert_eq!(
            PictureError::TooManyPixels.to_string(),
            "That photo is too large: at most 4096 × 4096 pixels (16 megapixels). Choose a smaller one."
        );
        // At the limit, the plan fits the per-decode cap, and a 4096-wide strip is made.
        let edge = plan(&flat_png(MAX_SIDE, MAX_SIDE)).expect("at the limit");
        assert_eq!((edge.width, edge.height), (MAX_SIDE, MAX_SIDE));
        assert!(edge.memory <= MEMORY_CAP && edge.memory >= MAX_PIXELS);
        assert!(make_avatar(&jpeg(&halves(MAX_SIDE, 8))).is_ok());
    }

    #[test]
    fn u3_the_planned_memory_covers_the_decoded_pixels_and_the_codecs() {
        let (w, h) = (300u32, 200u32);
        let rgb = png(&halves(w, h));
        let p = plan(&rgb).expect("fits");
        assert_eq!((p.kind, p.width, p.height), (Kind::Png, w, h));
        assert!(p.memory >= u64::from(w * h) * 3);
        // JPEG keeps its coefficients (progressive): more than a PNG of the same pixels.
        let j = plan(&jpeg(&halves(w, h))).expect("fits");
        assert!(j.memory >= p.memory + u64::from(w * h) * 8);
        // The worst picture within the pixel limits fits the per-decode cap.
        let worst = memory(Kind::Webp, &[0; 32], MAX_SIDE, MAX_SIDE, MAX_PIXELS * 4);
        let mut animated = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0".to_vec();
        animated.extend_from_slice(&[0x02, 0, 0, 0]);
        let worst_animated = memory(Kind::Webp, &animated, MAX_SIDE, MAX_SIDE, MAX_PIXELS * 4);
        assert!(worst < worst_animated && worst_animated <= MEMORY_CAP);
    }

    #[test]
    fn u3_every_orientation_is_cropped_upright_without_turning_the_whole_picture() {
        // A picture with a different colour everywhere, not square, in a 16-bit layout too.
        let img = RgbImage::from_fn(90, 60, |x, y| Rgb([(x * 2) as u8, (y * 4) as u8, 128]));
        for o in [
            Orientation::NoTransforms,
            Orientation::FlipHorizontal,
            Orientation::FlipVertical,
            Orientation::Rotate180,
            Orientation::Rotate90,
            Orientation::Rotate270,
            Orientation::Rotate90FlipH,
            Orientation::Rotate270FlipH,
        ] {
            // What turning the whole picture first gives.
            let mut upright = DynamicImage::ImageRgb8(img.clone());
            upright.apply_orientation(o);
            let sq =
                Frame::new(upright.width(), upright.height(), f64::from(LARGE)).source_square();
            let s = sq.side.round() as u32;
            let expected = upright
                .crop_imm(sq.x.round() as u32, sq.y.round() as u32, s, s)
                .resize_exact(LARGE, LARGE, FilterType::Lanczos3)
                .to_rgba8();
            for stored in [
                DynamicImage::ImageRgb8(img.clone()),
                DynamicImage::ImageRgba16(DynamicImage::ImageRgb8(img.clone()).to_rgba16()),
            ] {
                let got = upright_square(&stored, o, LARGE);
                assert_eq!(got.dimensions(), (LARGE, LARGE));
                for (a, b) in got.pixels().zip(expected.pixels()) {
                    assert!(
                        a.0.iter().zip(b.0).all(|(p, q)| p.abs_diff(q) <= 2),
                        "{o:?}: {a:?} != {b:?}"
                    );
                }
            }
        }
    }

    /// Lets the spawned tasks run until `done`, or fails.
    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn u3_the_decode_pool_is_bounded_by_memory() {
        let big = png(&halves(1000, 800));
        let small = png(&halves(8, 8));
        let (b, s) = (
            plan(&big).expect("fits").memory.div_ceil(KIB),
            plan(&small).expect("fits").memory.div_ceil(KIB),
        );
        // Plenty of threads and queue, memory for one big picture and one small one.
        let pool = Pictures::with_memory(4, 4, (b + s) * KIB);
        // Every thread busy, as long decodes would be: the jobs wait with their memory held.
        let cpu = pool
            .running
            .clone()
            .acquire_many_owned(4)
            .await
            .expect("free");
        let first = tokio::spawn({
            let (pool, big) = (pool.clone(), big.clone());
            async move { pool.make(big).await }
        });
        let all = (b + s) as usize;
        until("the first job holds its memory", || {
            pool.memory.available_permits() != all
        })
        .await;
        assert_eq!(pool.memory.available_permits(), s as usize);
        // A second big picture does not fit the memory left, though a thread would come:
        // Busy at once, not queued.
        assert_eq!(pool.make(big.clone()).await, Err(PictureError::Busy));
        // A small one still fits beside the first.
        let beside = tokio::spawn({
            let pool = pool.clone();
            async move { pool.make(small).await }
        });
        until("the small job holds its memory", || {
            pool.memory.available_permits() == 0
        })
        .await;
        drop(cpu);
        assert!(first.await.expect("joined").is_ok());
        assert!(beside.await.expect("joined").is_ok());
        // All given back: the big picture is made now.
        assert_eq!(pool.memory.available_permits(), all);
        assert!(pool.make(big.clone()).await.is_ok());
        // A picture that could never fit the budget is too large, not busy.
        let tiny = Pictures::with_memory(4, 4, s * KIB);
        assert_eq!(tiny.make(big).await, Err(PictureError::TooManyPixels));
    }

    #[tokio::test]
    async fn p6_the_picture_pool_answers_busy_when_full() {
        let pool = Pictures::new(1, 0);
        // Hold the only admission, as a long decode would.
        let held = pool.admitted.clone().try_acquire_owned().expect("free");
        assert_eq!(pool.make(png(&halves(8, 8))).await, Err(PictureError::Busy));
        drop(held);
        assert!(pool
            .make(png(&halves(8, 8)))
            .await
            .is_ok_and(|a| !a.large.is_empty()));
    }
}

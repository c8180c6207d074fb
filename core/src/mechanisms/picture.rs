//! The avatar image pipeline: never trust an upload (U1, U2).
//!
//! - The type comes from the bytes, never from a name or a header: PNG, JPEG and WebP only;
//!   SVG, HTML and everything else are refused with their own message (`values::photo::sniff`,
//!   which the browser's cropper runs too).
//! - Decode limits against decompression bombs: at most [`MAX_SIDE`] × [`MAX_SIDE`] pixels and
//!   [`MEMORY_CAP`] bytes, checked from the header before the pixels are allocated.
//! - EXIF orientation is honoured (a portrait photo comes out upright), then the picture is
//!   centre-cropped to a square with the same geometry as the browser's cropper
//!   (`values::crop::Frame`) and re-encoded from pixels to [`LARGE`] and [`SMALL`] squares
//!   (lossless WebP). Nothing of the upload survives but its pixels: EXIF/GPS, comments and
//!   trailing bytes (a polyglot's HTML) are gone.
//! - Decoding runs off the async runtime on a bounded number of threads with a bounded queue
//!   ([`Pictures`]): past it, [`PictureError::Busy`] at once (P6 pattern, Y4), so a burst of
//!   uploads can never take the memory of the machine.

use crate::values::crop::Frame;
use image::codecs::webp::WebPEncoder;
use image::error::{ImageError, LimitErrorKind};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub use crate::values::photo::{sniff, AvatarSize, Kind, PictureError, MAX_BYTES, MAX_SIDE};

/// U1: the most memory one decode may allocate (an 8000 × 8000 RGBA picture fits).
pub const MEMORY_CAP: u64 = 256 * 1024 * 1024;
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

/// Decodes an upload (limits first, then the pixels) and turns it upright.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, PictureError> {
    if bytes.len() > MAX_BYTES {
        return Err(PictureError::TooLarge);
    }
    let kind = sniff(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format(kind));
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(PictureError::TooManyPixels);
    }
    if decoder.total_bytes() > MEMORY_CAP {
        return Err(PictureError::TooManyPixels);
    }
    // A broken EXIF block only loses the orientation, never the photo.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// The centre square (the cropper's starting frame), resized to `side` and encoded.
fn square(img: &DynamicImage, side: u32) -> Result<Vec<u8>, PictureError> {
    let sq = Frame::new(img.width(), img.height(), f64::from(side)).source_square();
    let (x, y, s) = (
        sq.x.round().max(0.0) as u32,
        sq.y.round().max(0.0) as u32,
        (sq.side.round() as u32).clamp(1, img.width().min(img.height())),
    );
    let cut = img.crop_imm(x, y, s, s);
    let pixels = DynamicImage::from(
        cut.resize_exact(side, side, FilterType::Lanczos3)
            .to_rgba8(),
    );
    let mut out = Vec::new();
    pixels
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .map_err(|_| PictureError::Internal)?;
    Ok(out)
}

/// U1: the whole pipeline, synchronously (call it through [`Pictures::make`]).
pub fn make_avatar(bytes: &[u8]) -> Result<Avatar, PictureError> {
    let img = decode(bytes)?;
    Ok(Avatar {
        large: square(&img, LARGE)?,
        small: square(&img, SMALL)?,
    })
}

/// P6/Y4: the bounded pool avatars are made on. Cheap to clone.
#[derive(Clone)]
pub struct Pictures {
    /// Jobs admitted (running or waiting); past it, Busy at once.
    admitted: Arc<Semaphore>,
    /// Jobs running at once, each on a blocking thread.
    running: Arc<Semaphore>,
}

impl Pictures {
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(Semaphore::new(workers)),
        }
    }

    /// Makes an avatar off the async runtime, or answers Busy when the pool is full.
    pub async fn make(&self, bytes: Vec<u8>) -> Result<Avatar, PictureError> {
        let _admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| PictureError::Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PictureError::Internal)?;
        tokio::task::spawn_blocking(move || {
            let _running = running;
            make_avatar(&bytes)
        })
        .await
        .map_err(|_| PictureError::Internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

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

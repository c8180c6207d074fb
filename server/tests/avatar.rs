//! The avatar over HTTP against the real binary (U1, U2): the no-JS upload is centre-cropped,
//! re-encoded and served as WebP with `nosniff`, a sandboxing CSP and cache headers; a bad file
//! is refused with its message and changes nothing (a picture over the pixel budget too, U3);
//! the upload route alone takes 5 MiB, and only as a multipart form with a declared length.

mod support;

use image::ImageEncoder;
use support::flows::*;
use support::{Client, Server};

const MARKER: &[u8] = b"GPS-48.8584N-2.2945E-secret-place";

/// A 400 × 300 JPEG carrying an EXIF block and a comment with `MARKER`.
fn photo_with_metadata() -> Vec<u8> {
    let img = image::RgbImage::from_fn(400, 300, |x, _| {
        if x < 200 {
            image::Rgb([200, 30, 30])
        } else {
            image::Rgb([30, 30, 200])
        }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
        .write_image(img.as_raw(), 400, 300, image::ExtendedColorType::Rgb8)
        .expect("encode");
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0".to_vec();
    exif.extend_from_slice(MARKER);
    let mut out = jpeg[..2].to_vec();
    for (marker, data) in [(0xE1u8, exif), (0xFE, MARKER.to_vec())] {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The avatar id the Dashboard shows, if any.
fn avatar_on_dashboard(c: &mut Client) -> Option<String> {
    let page = c.get("/profile").body;
    let at = page.find("/avatars/")?;
    Some(page[at + 9..at + 9 + 32].to_string())
}

#[test]
fn u1_u2_a_no_js_upload_is_re_encoded_and_served_safely() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    assert_eq!(avatar_on_dashboard(&mut c), None, "initials before");
    let input = photo_with_metadata();
    assert!(contains(&input, MARKER));

    let r = c.upload("/api/upload_avatar", "photo", "me.jpg", &input);
    assert_eq!((r.status, r.header("location")), (303, Some("/profile")));
    let page = c.get("/profile").body;
    assert!(page.contains("Your new picture is saved."), "{page}");
    let id = avatar_on_dashboard(&mut c).expect("the new avatar");
    assert!(
        page.contains(&format!("src=\"/avatars/{id}/64\"")),
        "the top bar shows it"
    );

    for (size, side) in [("256", 256), ("64", 64)] {
        let r = c.get(&format!("/avatars/{id}/{size}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/webp"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; sandbox")
        );
        assert_eq!(
            r.header("cache-control"),
            Some("private, max-age=31536000, immutable")
        );
        assert!(!contains(&r.raw, MARKER), "U1: metadata survived");
        let img = image::load_from_memory(&r.raw).expect("a picture");
        assert_eq!((img.width(), img.height()), (side, side));
        // Centre-cropped: the middle square of a red|blue photo is half red, half blue.
        let rgb = img.to_rgb8();
        assert!(rgb.get_pixel(2, side / 2)[0] > 150, "left is red");
        assert!(rgb.get_pixel(side - 3, side / 2)[2] > 150, "right is blue");
        // Revalidation by ETag.
        let etag = r.header("etag").expect("etag").to_string();
        let again = c.request(
            "GET",
            &format!("/avatars/{id}/{size}"),
            &[("If-None-Match", &etag)],
            "",
        );
        assert_eq!(again.status, 304);
    }
    // Public by its unguessable URL (another application may show it); unknown ids are 404.
    let mut stranger = Client::new(&s);
    assert_eq!(stranger.get(&format!("/avatars/{id}/64")).status, 200);
    assert_eq!(
        stranger
            .get(&format!("/avatars/{}/64", "0".repeat(32)))
            .status,
        404
    );
    assert_eq!(stranger.get(&format!("/avatars/{id}/512")).status, 404);

    // Removal: the initials come back and the URL dies.
    let r = c.form("/api/remove_avatar", "/profile", &[]);
    assert_eq!(r.header("location"), Some("/profile"));
    assert!(c.get("/profile").body.contains("Your picture is removed."));
    assert_eq!(avatar_on_dashboard(&mut c), None);
    assert_eq!(stranger.get(&format!("/avatars/{id}/64")).status, 404);
}

#[test]
fn u1_a_file_that_is_not_an_image_is_refused_with_its_message_and_changes_nothing() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    for (name, bytes, message) in [
        (
            "notes.pdf",
            b"%PDF-1.7 not a photo".as_slice(),
            "That file is not a PNG, JPEG or WebP image.",
        ),
        (
            "me.svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#
                .as_slice(),
            "SVG and HTML files can't be used. Choose a PNG, JPEG or WebP image.",
        ),
        (
            "empty.png",
            b"".as_slice(),
            "That file is empty. Choose a photo.",
        ),
    ] {
        let r = c.upload("/api/upload_avatar", "photo", name, bytes);
        assert_eq!(r.header("location"), Some("/profile"), "{name}");
        let page = c.get("/profile").body;
        assert!(page.contains(message), "{name}: {page}");
        assert!(
            page.contains("aria-invalid=\"true\""),
            "next to the Photo field"
        );
        assert_eq!(avatar_on_dashboard(&mut c), None, "{name} changed nothing");
    }
}

#[test]
fn u3_a_small_file_of_too_many_pixels_is_refused_next_to_the_field_and_changes_nothing() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    // 5000 × 5000 of one colour: a file of some KiB that would decode to 25 megapixels.
    let (w, h) = (5000, 5000);
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            &vec![90u8; w * h],
            w as u32,
            h as u32,
            image::ExtendedColorType::L8,
        )
        .expect("encode");
    assert!(png.len() < 256 * 1024, "{} bytes", png.len());
    let r = c.upload("/api/upload_avatar", "photo", "huge.png", &png);
    // The refusal path of every other refused file: back to the Dashboard, the words next to
    // the Photo field.
    assert_eq!((r.status, r.header("location")), (303, Some("/profile")));
    let page = c.get("/profile").body;
    assert!(
        page.contains("That photo is too large: at most 4096 × 4096 pixels (16 megapixels)."),
        "{page}"
    );
    assert!(
        page.contains("aria-invalid=\"true\""),
        "next to the Photo field"
    );
    assert_eq!(avatar_on_dashboard(&mut c), None, "changed nothing");
}

#[test]
fn u1_only_the_upload_route_takes_5_mib_and_only_as_a_declared_multipart_form() {
    let s = Server::start(&[]);
    let (mut c, _) = sign_up_and_in(&s, "ada@example.com");
    // Over 5 MiB (plus the form around it): 413 with the photo's own message, read from the
    // declared length before the body.
    let big = vec![0u8; 5 * 1024 * 1024 + 70 * 1024];
    let r = c.upload("/api/upload_avatar", "photo", "big.jpg", &big);
    assert_eq!(r.status, 413);
    assert!(
        r.body.contains("That photo is larger than 5 MiB."),
        "{}",
        r.body
    );
    // Under 5 MiB but over 64 KiB is fine here (refused as not an image, not as too large)…
    let mut medium = vec![0u8; 200 * 1024];
    medium[..4].copy_from_slice(b"%PDF");
    assert_eq!(
        c.upload("/api/upload_avatar", "photo", "m.pdf", &medium)
            .status,
        303
    );
    // …and still 413 on every other route.
    let other = c.send(
        "POST",
        "/api/save_profile",
        &[
            ("Accept", "text/html"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &medium,
    );
    assert_eq!(other.status, 413);
    // Not multipart: 400, never a crash.
    let r = c.form("/api/upload_avatar", "/profile", &[("photo", "x")]);
    assert_eq!(r.status, 400);
    assert!(!s.log().contains("panicked"), "{}", s.log());
}

#[test]
fn m5_a_signed_out_upload_goes_to_sign_in_and_stores_nothing() {
    let s = Server::start(&[]);
    let mut c = Client::new(&s);
    let r = c.upload(
        "/api/upload_avatar",
        "photo",
        "me.jpg",
        &photo_with_metadata(),
    );
    assert_eq!(r.header("location"), Some("/login"));
}

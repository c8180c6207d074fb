//! What a photo upload may be (U1, U3), as pure rules the server and the browser's cropper
//! share: the type from the first bytes (PNG, JPEG, WebP; SVG and HTML get their own refusal),
//! the limits, and the words each refusal is shown with.

/// U1: the largest upload, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// U1/U3: the largest width or height accepted, read from the header before decoding.
pub const MAX_SIDE: u32 = 4096;
/// U3: the most pixels accepted (16 megapixels), read from the header before decoding. A file of
/// a few hundred KiB can claim far more: what a decode costs is its pixels, not its bytes.
pub const MAX_PIXELS: u64 = 4096 * 4096;

/// U1/U3: whether a picture of `width` × `height` pixels is within the pixel budget.
pub fn fits(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= MAX_SIDE
        && height <= MAX_SIDE
        && u64::from(width) * u64::from(height) <= MAX_PIXELS
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    #[error("That file is empty. Choose a photo.")]
    Empty,
    #[error("That photo is larger than 5 MiB. Choose a smaller one.")]
    TooLarge,
    #[error("SVG and HTML files can't be used. Choose a PNG, JPEG or WebP image.")]
    Markup,
    #[error("That file is not a PNG, JPEG or WebP image.")]
    NotAnImage,
    /// U3: over [`MAX_SIDE`] × [`MAX_SIDE`] or [`MAX_PIXELS`] (or the memory that follows).
    #[error("That photo is too large: at most 4096 × 4096 pixels (16 megapixels). Choose a smaller one.")]
    TooManyPixels,
    #[error("That image is damaged or incomplete, so it can't be read.")]
    Damaged,
    #[error("The server is busy. Try again in a moment.")]
    Busy,
    #[error("The photo could not be processed.")]
    Internal,
}

/// The two sizes an avatar is stored and served at (U2: `/avatars/{id}/{pixels}`); one rule for
/// the server's route, the pages and the browser's cropper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvatarSize {
    /// The Dashboard's picture.
    Large,
    /// The top bar's picture.
    Small,
}

impl AvatarSize {
    /// The stored square's side, in pixels.
    pub const fn pixels(self) -> u32 {
        match self {
            AvatarSize::Large => 256,
            AvatarSize::Small => 64,
        }
    }

    /// The side it is shown at, in CSS pixels (smaller than `pixels`: sharp on dense screens).
    pub const fn shown(self) -> u32 {
        match self {
            AvatarSize::Large => 160,
            AvatarSize::Small => 32,
        }
    }

    /// From the URL's last segment (`256` or `64`).
    pub fn parse(segment: &str) -> Option<Self> {
        [AvatarSize::Large, AvatarSize::Small]
            .into_iter()
            .find(|s| s.pixels().to_string() == segment)
    }

    /// U2: the URL path of the avatar with public id `id` at this size.
    pub fn path(self, id: &str) -> String {
        format!("/avatars/{id}/{}", self.pixels())
    }
}

/// The three formats accepted, told apart by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Webp,
}

/// U1: the type of an upload from its bytes (the first 16 are enough).
pub fn sniff(bytes: &[u8]) -> Result<Kind, PictureError> {
    if bytes.is_empty() {
        return Err(PictureError::Empty);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Kind::Webp);
    }
    // Markup (SVG, HTML, XML) starts with `<` after an optional BOM and white space.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
    {
        return Err(PictureError::Markup);
    }
    Err(PictureError::NotAnImage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u1_the_type_comes_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Ok(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(Kind::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Ok(Kind::Webp));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WAVEfmt "),
            Err(PictureError::NotAnImage)
        );
        assert_eq!(sniff(b"  <svg>"), Err(PictureError::Markup));
        assert_eq!(sniff(b"GIF89a"), Err(PictureError::NotAnImage));
        assert_eq!(sniff(b""), Err(PictureError::Empty));
    }

    #[test]
    fn u3_the_pixel_budget_is_per_side_and_in_total() {
        assert!(fits(MAX_SIDE, MAX_SIDE) && fits(1, 1) && fits(MAX_SIDE, 1));
        assert!(!fits(MAX_SIDE + 1, 1) && !fits(1, MAX_SIDE + 1));
        assert!(!fits(0, 10) && !fits(10, 0));
        assert!(!fits(8000, 8000) && !fits(5000, 5000));
        assert_eq!(MAX_PIXELS, u64::from(MAX_SIDE) * u64::from(MAX_SIDE));
        // The message says the same numbers.
        let said = PictureError::TooManyPixels.to_string();
        assert!(said.contains(&format!("{MAX_SIDE} × {MAX_SIDE}")), "{said}");
        assert!(
            said.contains(&format!("({} megapixels)", MAX_PIXELS >> 20)),
            "{said}"
        );
    }

    #[test]
    fn u2_avatar_sizes_round_trip_through_their_url() {
        for size in [AvatarSize::Large, AvatarSize::Small] {
            let path = size.path("ab12");
            assert_eq!(
                AvatarSize::parse(path.rsplit('/').next().unwrap_or_default()),
                Some(size)
            );
        }
        assert_eq!(AvatarSize::Small.path("ab12"), "/avatars/ab12/64");
        assert_eq!(AvatarSize::parse("512"), None);
        assert_eq!(AvatarSize::parse(""), None);
    }
}

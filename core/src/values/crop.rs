//! The avatar frame: where the photo sits under the circular mask, and which part of it becomes
//! the avatar. Pure geometry, shared by the cropper in the browser (WASM) and the server's
//! centre-crop for uploads without JavaScript, so both cut the same square.
//!
//! - The photo always covers the frame: zoom never goes below "cover" (the shorter side fills the
//!   frame) and panning stops at the photo's edges, so no corner of the output is ever empty.
//! - Zoom is bounded ([`MIN_ZOOM`]..=[`MAX_ZOOM`], relative to cover) and keeps the point under
//!   the cursor (or the centre) where it is.
//! - Rotation is in quarter turns, clockwise; pan limits follow the rotated size.
//! - The output is one square in the photo's own (unrotated) pixels plus the quarter turns to
//!   apply ([`Frame::source_square`]); the canvas code only draws it.
//!
//! Lengths are in frame pixels (CSS px of the on-screen circle) unless named `src_*`.

/// Zoom relative to "cover": 1 is the smallest (the photo just covers the frame).
pub const MIN_ZOOM: f64 = 1.0;
/// The largest zoom, eight times cover.
pub const MAX_ZOOM: f64 = 8.0;
/// One keyboard zoom step (+ / −), as a factor.
pub const ZOOM_STEP: f64 = 1.1;
/// One keyboard pan step (arrow keys), in frame pixels.
pub const PAN_STEP: f64 = 10.0;
/// Photos are decoded for editing with their long side at most this many pixels (downscaled
/// once when loaded), which keeps dragging smooth on a 12-megapixel photo and is still more than
/// the 512-pixel output needs at full zoom-in of a typical crop.
pub const EDIT_MAX_SIDE: u32 = 2048;
/// The avatar made in the browser is a square of this many pixels.
pub const OUTPUT_SIDE: u32 = 512;

/// A square in source pixels: left, top and side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Square {
    pub x: f64,
    pub y: f64,
    pub side: f64,
}

/// The photo under the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    src_w: f64,
    src_h: f64,
    /// The frame's side (the circle's diameter), in frame pixels.
    view: f64,
    /// Clockwise quarter turns, 0..=3.
    turns: u8,
    zoom: f64,
    /// The photo's centre relative to the frame's centre, in frame pixels.
    pan_x: f64,
    pan_y: f64,
}

impl Frame {
    /// A photo of `src_w` × `src_h` pixels, centred and at cover zoom, under a frame of side
    /// `view`. Degenerate sizes are treated as one pixel, so the maths never divides by zero.
    pub fn new(src_w: u32, src_h: u32, view: f64) -> Self {
        Self {
            src_w: f64::from(src_w.max(1)),
            src_h: f64::from(src_h.max(1)),
            view: if view.is_finite() && view > 0.0 {
                view
            } else {
                1.0
            },
            turns: 0,
            zoom: MIN_ZOOM,
            pan_x: 0.0,
            pan_y: 0.0,
        }
    }

    pub fn zoom(&self) -> f64 {
        self.zoom
    }
    pub fn turns(&self) -> u8 {
        self.turns
    }
    pub fn pan(&self) -> (f64, f64) {
        (self.pan_x, self.pan_y)
    }

    /// The photo's size after rotation, in source pixels.
    fn rotated(&self) -> (f64, f64) {
        if self.turns % 2 == 1 {
            (self.src_h, self.src_w)
        } else {
            (self.src_w, self.src_h)
        }
    }

    /// Frame pixels per source pixel.
    pub fn scale(&self) -> f64 {
        let (w, h) = self.rotated();
        self.view / w.min(h) * self.zoom
    }

    /// How far the photo's centre may move from the frame's centre, per axis.
    fn pan_limits(&self) -> (f64, f64) {
        let (w, h) = self.rotated();
        let s = self.scale();
        (
            ((w * s - self.view) / 2.0).max(0.0),
            ((h * s - self.view) / 2.0).max(0.0),
        )
    }

    fn clamp_pan(&mut self) {
        let (mx, my) = self.pan_limits();
        self.pan_x = self.pan_x.clamp(-mx, mx);
        self.pan_y = self.pan_y.clamp(-my, my);
    }

    /// Drags the photo by (`dx`, `dy`) frame pixels; it stops at its edges.
    pub fn pan_by(&mut self, dx: f64, dy: f64) {
        if dx.is_finite() && dy.is_finite() {
            self.pan_x += dx;
            self.pan_y += dy;
            self.clamp_pan();
        }
    }

    /// Sets the zoom (clamped to its bounds), keeping the photo point under `anchor` (a point
    /// relative to the frame's centre, in frame pixels) where it is; `None` anchors the centre.
    pub fn zoom_to(&mut self, zoom: f64, anchor: Option<(f64, f64)>) {
        if !zoom.is_finite() {
            return;
        }
        let (ax, ay) = anchor.unwrap_or((0.0, 0.0));
        let new = zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        let ratio = new / self.zoom;
        // The anchor's offset from the photo's centre grows with the zoom.
        self.pan_x = ax - (ax - self.pan_x) * ratio;
        self.pan_y = ay - (ay - self.pan_y) * ratio;
        self.zoom = new;
        self.clamp_pan();
    }

    /// One keyboard step in (`+`) or out (`−`) about the centre.
    pub fn zoom_step(&mut self, zoom_in: bool) {
        let z = if zoom_in {
            self.zoom * ZOOM_STEP
        } else {
            self.zoom / ZOOM_STEP
        };
        self.zoom_to(z, None);
    }

    /// A quarter turn clockwise; the part of the photo at the frame's centre stays there.
    pub fn rotate(&mut self) {
        self.turns = (self.turns + 1) % 4;
        // The photo turns about the frame's centre, so its centre's offset turns with it.
        (self.pan_x, self.pan_y) = (-self.pan_y, self.pan_x);
        self.clamp_pan();
    }

    /// Back to centred, cover zoom, unrotated.
    pub fn reset(&mut self) {
        *self = Self::new(self.src_w as u32, self.src_h as u32, self.view);
    }

    /// The part of the photo inside the frame, as a square in the photo's own (unrotated)
    /// pixels; the output is that square turned by [`Frame::turns`] quarter turns clockwise.
    pub fn source_square(&self) -> Square {
        let s = self.scale();
        let side = self.view / s;
        // The frame's centre in rotated-photo pixels, relative to the photo's centre.
        let (u, v) = (-self.pan_x / s, -self.pan_y / s);
        // Undo the clockwise turns: one turn back maps (u, v) to (v, -u).
        let (mut x, mut y) = (u, v);
        for _ in 0..self.turns {
            (x, y) = (y, -x);
        }
        Square {
            x: self.src_w / 2.0 + x - side / 2.0,
            y: self.src_h / 2.0 + y - side / 2.0,
            side,
        }
    }

    /// What a screen reader hears after a change.
    pub fn describe(&self) -> String {
        format!(
            "Zoom {} percent, rotated {} degrees",
            (self.zoom * 100.0).round(),
            u16::from(self.turns) * 90
        )
    }
}

/// The size a photo is decoded at for editing: the long side at most `max_side`, the aspect
/// kept, never enlarged.
pub fn edit_size(src_w: u32, src_h: u32, max_side: u32) -> (u32, u32) {
    let long = src_w.max(src_h).max(1);
    if long <= max_side {
        return (src_w.max(1), src_h.max(1));
    }
    let f = f64::from(max_side) / f64::from(long);
    let scaled = |n: u32| ((f64::from(n) * f).round() as u32).max(1);
    (scaled(src_w), scaled(src_h))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-6;

    fn inside(f: &Frame) -> bool {
        let q = f.source_square();
        q.x >= -EPS && q.y >= -EPS && q.x + q.side <= f.src_w + EPS && q.y + q.side <= f.src_h + EPS
    }

    #[test]
    fn a_new_frame_is_the_centred_cover_square() {
        let f = Frame::new(4000, 3000, 300.0);
        let q = f.source_square();
        assert!((q.side - 3000.0).abs() < EPS, "{q:?}");
        assert!((q.x - 500.0).abs() < EPS && q.y.abs() < EPS, "{q:?}");
    }

    #[test]
    fn the_photo_always_covers_the_frame() {
        for (w, h) in [(4000, 3000), (3000, 4000), (512, 512), (1, 900), (7, 3)] {
            let mut f = Frame::new(w, h, 280.0);
            for step in 0..200 {
                match step % 5 {
                    0 => f.pan_by(97.0, -55.0),
                    1 => f.zoom_step(step % 3 != 0),
                    2 => f.rotate(),
                    3 => f.zoom_to(f64::from(step) / 10.0, Some((120.0, -80.0))),
                    _ => f.pan_by(-1e6, 1e6),
                }
                assert!(inside(&f), "{w}x{h} step {step}: {:?}", f.source_square());
                assert!((MIN_ZOOM..=MAX_ZOOM).contains(&f.zoom()));
            }
        }
    }

    #[test]
    fn zoom_stays_within_its_bounds() {
        let mut f = Frame::new(800, 600, 200.0);
        f.zoom_to(0.1, None);
        assert_eq!(f.zoom(), MIN_ZOOM);
        f.zoom_to(100.0, None);
        assert_eq!(f.zoom(), MAX_ZOOM);
        f.zoom_to(f64::NAN, None);
        assert_eq!(f.zoom(), MAX_ZOOM, "a NaN changes nothing");
        let q = f.source_square();
        assert!((q.side - 600.0 / MAX_ZOOM).abs() < EPS, "{q:?}");
    }

    #[test]
    fn zooming_keeps_the_point_under_the_cursor() {
        let mut f = Frame::new(1000, 1000, 200.0);
        f.zoom_to(2.0, None);
        let anchor = (40.0, -30.0);
        // The source point under the anchor before and after.
        let at = |f: &Frame| {
            let q = f.source_square();
            let s = f.scale();
            (
                q.x + (anchor.0 + f.view / 2.0) / s,
                q.y + (anchor.1 + f.view / 2.0) / s,
            )
        };
        let before = at(&f);
        f.zoom_to(3.0, Some(anchor));
        let after = at(&f);
        assert!((before.0 - after.0).abs() < EPS && (before.1 - after.1).abs() < EPS);
    }

    #[test]
    fn panning_stops_at_the_edges() {
        let mut f = Frame::new(4000, 3000, 300.0);
        f.pan_by(1e9, 0.0);
        let q = f.source_square();
        assert!(q.x.abs() < EPS, "the left edge reaches the frame: {q:?}");
        f.pan_by(0.0, 50.0);
        assert_eq!(f.pan().1, 0.0, "no room vertically at cover zoom");
    }

    #[test]
    fn a_quarter_turn_swaps_the_sides_and_keeps_the_centre() {
        let mut f = Frame::new(4000, 3000, 300.0);
        f.zoom_to(2.0, None);
        f.pan_by(60.0, 20.0);
        let before = f.source_square();
        f.rotate();
        assert_eq!(f.turns(), 1);
        let after = f.source_square();
        let centre = |q: Square| (q.x + q.side / 2.0, q.y + q.side / 2.0);
        let (b, a) = (centre(before), centre(after));
        assert!(
            (b.0 - a.0).abs() < EPS && (b.1 - a.1).abs() < EPS,
            "{b:?} {a:?}"
        );
        for _ in 0..3 {
            f.rotate();
        }
        assert_eq!(f.turns(), 0, "four turns are a full circle");
    }

    #[test]
    fn reset_returns_to_the_start() {
        let mut f = Frame::new(640, 480, 256.0);
        f.zoom_step(true);
        f.rotate();
        f.pan_by(5.0, 5.0);
        f.reset();
        assert_eq!(f, Frame::new(640, 480, 256.0));
        assert_eq!(f.describe(), "Zoom 100 percent, rotated 0 degrees");
    }

    #[test]
    fn large_photos_are_decoded_smaller_for_editing() {
        assert_eq!(edit_size(4000, 3000, EDIT_MAX_SIDE), (2048, 1536));
        assert_eq!(edit_size(3000, 4000, EDIT_MAX_SIDE), (1536, 2048));
        assert_eq!(edit_size(800, 600, EDIT_MAX_SIDE), (800, 600));
        assert_eq!(edit_size(0, 0, EDIT_MAX_SIDE), (1, 1));
        assert_eq!(edit_size(100_000, 1, 2048), (2048, 1));
    }
}

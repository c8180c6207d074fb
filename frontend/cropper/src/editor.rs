//! The cropper's state and its drawing: the photo (downscaled once when loaded), the frame
//! (`values::crop::Frame`, the same geometry the server's centre-crop uses), and the elements of
//! the server-rendered dialog. Everything the frame does is said in the live region, so the tools
//! are usable without seeing them.

use crate::dom::{by_id, window};
use gatehouse_core::values::crop::{Frame, OUTPUT_SIDE};
use std::cell::RefCell;
use std::f64::consts::FRAC_PI_2;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    CanvasRenderingContext2d, Document, HtmlButtonElement, HtmlCanvasElement, HtmlDialogElement,
    HtmlElement, HtmlInputElement, HtmlVideoElement, ImageBitmap, MediaStream,
};

/// The on-screen frame's side, in CSS pixels (the canvas is drawn at the screen's density).
pub const VIEW: f64 = 320.0;

/// The dialog's elements, found once by id.
pub struct Elements {
    pub edit: HtmlButtonElement,
    pub dialog: HtmlDialogElement,
    pub error: HtmlElement,
    pub notice: HtmlElement,
    pub upload: HtmlButtonElement,
    pub file: HtmlInputElement,
    pub camera: HtmlButtonElement,
    pub camera_box: HtmlElement,
    pub video: HtmlVideoElement,
    pub capture: HtmlButtonElement,
    pub choose: HtmlButtonElement,
    pub builtins: HtmlElement,
    pub stage: HtmlElement,
    pub canvas: HtmlCanvasElement,
    pub ctx: CanvasRenderingContext2d,
    pub tools: HtmlElement,
    pub zoom: HtmlInputElement,
    pub rotate: HtmlButtonElement,
    pub reset: HtmlButtonElement,
    pub status: HtmlElement,
    pub update: HtmlButtonElement,
    pub remove: HtmlButtonElement,
    pub close: HtmlButtonElement,
}

impl Elements {
    pub fn find(doc: &Document) -> Result<Self, JsValue> {
        let canvas: HtmlCanvasElement = by_id(doc, "avatar-canvas")?;
        let ctx = canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d context"))?
            .dyn_into::<CanvasRenderingContext2d>()?;
        Ok(Self {
            edit: by_id(doc, "avatar-edit")?,
            dialog: by_id(doc, "avatar-dialog")?,
            error: by_id(doc, "avatar-error")?,
            notice: by_id(doc, "avatar-notice")?,
            upload: by_id(doc, "avatar-upload")?,
            file: by_id(doc, "avatar-file")?,
            camera: by_id(doc, "avatar-camera")?,
            camera_box: by_id(doc, "avatar-camera-box")?,
            video: by_id(doc, "avatar-video")?,
            capture: by_id(doc, "avatar-capture")?,
            choose: by_id(doc, "avatar-choose")?,
            builtins: by_id(doc, "avatar-builtins")?,
            stage: by_id(doc, "avatar-stage")?,
            canvas,
            ctx,
            tools: by_id(doc, "avatar-tools")?,
            zoom: by_id(doc, "avatar-zoom")?,
            rotate: by_id(doc, "avatar-rotate")?,
            reset: by_id(doc, "avatar-reset")?,
            status: by_id(doc, "avatar-status")?,
            update: by_id(doc, "avatar-update")?,
            remove: by_id(doc, "avatar-remove")?,
            close: by_id(doc, "avatar-close")?,
        })
    }
}

pub struct Editor {
    pub el: Elements,
    /// The photo being framed, at most `EDIT_MAX_SIDE` on its long side.
    pub image: Option<ImageBitmap>,
    pub frame: Option<Frame>,
    /// Pointers down on the frame: (id, x, y), for dragging and pinching.
    pub pointers: Vec<(i32, f64, f64)>,
    /// The camera, while its preview shows.
    pub stream: Option<MediaStream>,
    /// An upload or removal is under way (no second one meanwhile).
    pub busy: bool,
}

pub type Shared = Rc<RefCell<Editor>>;

impl Editor {
    pub fn new(el: Elements) -> Shared {
        let dpr = window().map(|w| w.device_pixel_ratio()).unwrap_or(1.0);
        let side = (VIEW * dpr.clamp(1.0, 3.0)).round() as u32;
        el.canvas.set_width(side);
        el.canvas.set_height(side);
        Rc::new(RefCell::new(Self {
            el,
            image: None,
            frame: None,
            pointers: Vec::new(),
            stream: None,
            busy: false,
        }))
    }

    /// A message inside the dialog (`role="alert"`), or none.
    pub fn say_error(&self, text: Option<&str>) {
        self.el.error.set_text_content(text);
        self.el.error.set_hidden(text.is_none());
    }

    /// Said by screen readers (the polite live region).
    pub fn announce(&self, text: &str) {
        self.el.status.set_text_content(Some(text));
    }

    /// A new photo to frame: centred, covering the circle, unrotated.
    pub fn set_image(&mut self, image: ImageBitmap) {
        if let Some(old) = self.image.take() {
            old.close();
        }
        self.frame = Some(Frame::new(image.width(), image.height(), VIEW));
        self.image = Some(image);
        self.el.stage.set_hidden(false);
        self.el.tools.set_hidden(false);
        // The choice is made: the built-in pictures fold away so the frame is in view.
        self.el.builtins.set_hidden(true);
        let _ = self.el.choose.set_attribute("aria-expanded", "false");
        self.el.update.set_disabled(false);
        self.sync_zoom();
        self.redraw();
        let said = self.frame.map(|f| f.describe()).unwrap_or_default();
        self.announce(&format!("Photo ready. {said}."));
        let _ = self.el.canvas.focus();
    }

    /// Applies `change` to the frame, then redraws and tells the zoom slider and screen readers.
    pub fn change(&mut self, change: impl FnOnce(&mut Frame), said: Option<&str>) {
        let Some(f) = self.frame.as_mut() else {
            return;
        };
        change(f);
        let f = *f;
        self.sync_zoom();
        self.redraw();
        match said {
            Some(s) => self.announce(s),
            None => self.announce(&f.describe()),
        }
    }

    /// The Zoom slider shows the frame's zoom (in words too, for screen readers).
    fn sync_zoom(&self) {
        let Some(f) = self.frame else { return };
        self.el.zoom.set_value(&format!("{:.2}", f.zoom()));
        let percent = format!("{} percent", (f.zoom() * 100.0).round());
        let _ = self.el.zoom.set_attribute("aria-valuetext", &percent);
    }

    /// Draws the photo where the frame says (the circle is a CSS mask over the canvas).
    pub fn redraw(&self) {
        let (Some(img), Some(f)) = (&self.image, &self.frame) else {
            return;
        };
        let ctx = &self.el.ctx;
        let k = f64::from(self.el.canvas.width()) / VIEW;
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, VIEW * k, VIEW * k);
        let _ = ctx.set_transform(k, 0.0, 0.0, k, 0.0, 0.0);
        let (px, py) = f.pan();
        let _ = ctx.translate(VIEW / 2.0 + px, VIEW / 2.0 + py);
        let _ = ctx.rotate(f64::from(f.turns()) * FRAC_PI_2);
        let s = f.scale();
        let _ = ctx.scale(s, s);
        let (w, h) = (f64::from(img.width()), f64::from(img.height()));
        let _ = ctx.draw_image_with_image_bitmap(img, -w / 2.0, -h / 2.0);
    }

    /// The avatar: the frame's square of the photo, turned, on a new 512-pixel canvas (white
    /// behind a transparent picture, since it is sent as JPEG).
    pub fn output(&self, doc: &Document) -> Result<HtmlCanvasElement, JsValue> {
        let (Some(img), Some(f)) = (&self.image, &self.frame) else {
            return Err(JsValue::from_str("no photo"));
        };
        let out: HtmlCanvasElement = doc.create_element("canvas")?.dyn_into()?;
        out.set_width(OUTPUT_SIDE);
        out.set_height(OUTPUT_SIDE);
        let ctx = out
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d context"))?
            .dyn_into::<CanvasRenderingContext2d>()?;
        let half = f64::from(OUTPUT_SIDE) / 2.0;
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, half * 2.0, half * 2.0);
        ctx.translate(half, half)?;
        ctx.rotate(f64::from(f.turns()) * FRAC_PI_2)?;
        let sq = f.source_square();
        ctx.draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            img,
            sq.x,
            sq.y,
            sq.side,
            sq.side,
            -half,
            -half,
            half * 2.0,
            half * 2.0,
        )?;
        Ok(out)
    }

    /// Stops the camera (the preview goes, and the browser's camera light with it).
    pub fn stop_camera(&mut self) {
        if let Some(stream) = self.stream.take() {
            for t in stream.get_tracks().iter() {
                if let Ok(t) = t.dyn_into::<web_sys::MediaStreamTrack>() {
                    t.stop();
                }
            }
        }
        self.el.video.set_src_object(None);
        self.el.camera_box.set_hidden(true);
    }
}

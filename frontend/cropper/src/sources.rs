//! The three ways a picture comes in: a file (picked or dropped), the camera, a built-in avatar.
//!
//! - A file is checked by its first bytes with the server's own rule (`values::photo::sniff`),
//!   so an SVG or a PDF gets the same words here as there, before anything is decoded.
//! - The browser decodes it (`createImageBitmap`, which honours the EXIF orientation) and, when
//!   it is large, downscales it once (`values::crop::edit_size`), so dragging a 12-megapixel
//!   photo redraws a 2048-pixel one.
//! - H1: the camera is asked for only on **Take a photo**; a refusal or no camera is said in
//!   words and the other two ways stay.

use crate::dom::{error_name, resolve, window};
use crate::editor::Shared;
use gatehouse_core::values::crop::{edit_size, EDIT_MAX_SIDE};
use gatehouse_core::values::photo::{sniff, PictureError};
use wasm_bindgen::prelude::*;
use web_sys::{
    Blob, HtmlImageElement, ImageBitmap, ImageBitmapOptions, MediaStream, MediaStreamConstraints,
    ResizeQuality,
};

/// A picked or dropped file.
pub async fn load_blob(ed: Shared, blob: Blob) {
    ed.borrow().say_error(None);
    match decode_blob(&blob).await {
        Ok(bmp) => finish(&ed, bmp).await,
        Err(msg) => ed.borrow().say_error(Some(&msg)),
    }
}

async fn decode_blob(blob: &Blob) -> Result<ImageBitmap, String> {
    let head = blob
        .slice_with_i32_and_i32(0, 16)
        .map_err(|_| PictureError::Damaged.to_string())?;
    let bytes: js_sys::ArrayBuffer = resolve(Ok(head.array_buffer()))
        .await
        .map_err(|_| PictureError::Damaged.to_string())?;
    sniff(&js_sys::Uint8Array::new(&bytes).to_vec()).map_err(|e| e.to_string())?;
    let w = window().map_err(|_| PictureError::Internal.to_string())?;
    resolve(w.create_image_bitmap_with_blob(blob))
        .await
        .map_err(|_| PictureError::Damaged.to_string())
}

/// Downscales a large picture once, then hands it to the frame.
async fn finish(ed: &Shared, bmp: ImageBitmap) {
    let (w, h) = (bmp.width(), bmp.height());
    let (ew, eh) = edit_size(w, h, EDIT_MAX_SIDE);
    let bmp = if (ew, eh) == (w, h) {
        bmp
    } else {
        let opts = ImageBitmapOptions::new();
        opts.set_resize_width(ew);
        opts.set_resize_height(eh);
        opts.set_resize_quality(ResizeQuality::High);
        let smaller = match window() {
            Ok(win) => {
                resolve::<ImageBitmap>(
                    win.create_image_bitmap_with_image_bitmap_and_image_bitmap_options(&bmp, &opts),
                )
                .await
            }
            Err(e) => Err(e),
        };
        match smaller {
            Ok(s) => {
                bmp.close();
                s
            }
            Err(_) => bmp,
        }
    };
    ed.borrow_mut().set_image(bmp);
}

/// **Take a photo**: the live preview, then **Capture**.
pub async fn start_camera(ed: Shared) {
    ed.borrow().say_error(None);
    match open_camera(&ed).await {
        Ok(stream) => {
            let (video, capture) = {
                let mut e = ed.borrow_mut();
                e.el.video.set_src_object(Some(&stream));
                e.stream = Some(stream);
                e.el.camera_box.set_hidden(false);
                // Capture waits for the first frame: before it there is nothing to take.
                e.el.capture.set_disabled(true);
                (e.el.video.clone(), e.el.capture.clone())
            };
            let playing = match video.play() {
                Ok(p) => wasm_bindgen_futures::JsFuture::from(p).await.is_ok(),
                Err(_) => false,
            };
            let e = ed.borrow();
            if playing {
                capture.set_disabled(false);
                let _ = capture.focus();
                e.announce("Camera on. Press Capture to take the photo.");
            } else {
                e.say_error(Some(
                    "The camera could not be started. You can still upload a photo or choose an avatar.",
                ));
            }
        }
        Err(e) => {
            let msg = match error_name(&e).as_str() {
                "NotAllowedError" | "SecurityError" => {
                    "The camera is not allowed here. You can still upload a photo or choose an avatar."
                }
                "NotFoundError" | "OverconstrainedError" | "" => {
                    "No camera was found. You can still upload a photo or choose an avatar."
                }
                _ => "The camera could not be started. You can still upload a photo or choose an avatar.",
            };
            ed.borrow().say_error(Some(msg));
        }
    }
}

async fn open_camera(ed: &Shared) -> Result<MediaStream, JsValue> {
    ed.borrow_mut().stop_camera();
    let devices = window()?.navigator().media_devices()?;
    let c = MediaStreamConstraints::new();
    c.set_video_bool(true);
    c.set_audio_bool(false);
    resolve(devices.get_user_media_with_constraints(&c)).await
}

/// **Capture**: the preview's current picture becomes the photo; the camera stops.
pub async fn capture(ed: Shared) {
    let video = ed.borrow().el.video.clone();
    let shot = match window() {
        Ok(w) => {
            resolve::<ImageBitmap>(w.create_image_bitmap_with_html_video_element(&video)).await
        }
        Err(e) => Err(e),
    };
    ed.borrow_mut().stop_camera();
    match shot {
        Ok(bmp) => finish(&ed, bmp).await,
        Err(_) => ed.borrow().say_error(Some(
            "The camera gave no picture. Try again, or upload a photo.",
        )),
    }
}

/// A built-in avatar (our own SVG art, same origin): drawn at the output size.
pub async fn load_builtin(ed: Shared, src: String) {
    ed.borrow().say_error(None);
    let loaded = async {
        let img = HtmlImageElement::new()?;
        img.set_src(&src);
        wasm_bindgen_futures::JsFuture::from(img.decode()).await?;
        let opts = ImageBitmapOptions::new();
        opts.set_resize_width(gatehouse_core::values::crop::OUTPUT_SIDE);
        opts.set_resize_height(gatehouse_core::values::crop::OUTPUT_SIDE);
        resolve::<ImageBitmap>(
            window()?
                .create_image_bitmap_with_html_image_element_and_image_bitmap_options(&img, &opts),
        )
        .await
    };
    match loaded.await {
        Ok(bmp) => finish(&ed, bmp).await,
        Err(_) => ed
            .borrow()
            .say_error(Some("That avatar could not be loaded. Try another.")),
    }
}

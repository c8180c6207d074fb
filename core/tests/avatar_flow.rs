//! The avatar on SQLite and PostgreSQL (U1, U2, G1, M5): an upload becomes two re-encoded
//! squares under a new unguessable id, replacing the old picture (whose URL dies); a refused
//! file changes nothing; removal brings the initials back; every change is in the activity log;
//! the Dashboard reads the sign-in before this one.

mod common;

use common::*;
use gatehouse_core::flows::profile::{self, ProfileError};
use gatehouse_core::mechanisms::events::EventKind;
use gatehouse_core::mechanisms::picture::PictureError;
use gatehouse_core::mechanisms::service::Deps;
use gatehouse_core::mechanisms::sessions::Session;
use gatehouse_core::mechanisms::users;
use gatehouse_core::store::testing;
use gatehouse_core::values::clock::FixedClock;
use gatehouse_core::values::photo::AvatarSize;
use image::ImageEncoder;

fn photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("encode");
    out
}

async fn avatar_id(d: &Deps, s: &Session) -> Option<String> {
    let mut c = d.store.read().await.expect("conn");
    users::by_id(&mut c, s.authenticated_user().expect("uid"))
        .await
        .expect("user")
        .expect("exists")
        .avatar_id
}

async fn kinds(d: &Deps, s: &Session) -> Vec<EventKind> {
    event_kinds(d, s.authenticated_user().expect("uid")).await
}

async fn signed_in_ada(d: &Deps) -> Session {
    verified_user(d, "ada@example.com").await;
    session(d, &signed_in(d, "ada@example.com").await).await
}

#[tokio::test]
async fn u1_an_upload_is_stored_as_two_webp_squares_under_a_new_id() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        let s = signed_in_ada(&d).await;
        assert_eq!(avatar_id(&d, &s).await, None, "initials before any upload");

        let first = profile::set_avatar(&d, &s, photo(400, 300), &client())
            .await
            .expect("stored");
        assert_eq!(first.len(), 32, "128-bit hex id");
        assert_eq!(avatar_id(&d, &s).await.as_deref(), Some(first.as_str()));
        for (size, side) in [(AvatarSize::Large, 256), (AvatarSize::Small, 64)] {
            let bytes = profile::avatar_image(&d, &first, size)
                .await
                .expect("read")
                .expect("stored");
            assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
            let img = image::load_from_memory(&bytes).expect("decodes");
            assert_eq!((img.width(), img.height()), (side, side));
        }

        // A new picture gets a new id; the old URL dies (cache busting, U2).
        let second = profile::set_avatar(&d, &s, photo(64, 64), &client())
            .await
            .expect("stored");
        assert_ne!(first, second);
        assert_eq!(
            profile::avatar_image(&d, &first, AvatarSize::Small)
                .await
                .expect("read"),
            None
        );
        let ks = kinds(&d, &s).await;
        assert_eq!(
            ks.iter()
                .filter(|k| **k == EventKind::AvatarChanged)
                .count(),
            2,
            "G1: {ks:?}"
        );
    }
}

#[tokio::test]
async fn u1_a_refused_file_changes_nothing() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        let s = signed_in_ada(&d).await;
        let kept = profile::set_avatar(&d, &s, photo(100, 100), &client())
            .await
            .expect("stored");
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        match profile::set_avatar(&d, &s, svg.to_vec(), &client()).await {
            Err(ProfileError::Picture(PictureError::Markup)) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(avatar_id(&d, &s).await.as_deref(), Some(kept.as_str()));
        let ks = kinds(&d, &s).await;
        assert_eq!(
            ks.iter()
                .filter(|k| **k == EventKind::AvatarChanged)
                .count(),
            1,
            "a refusal is not a change: {ks:?}"
        );
    }
}

#[tokio::test]
async fn removal_brings_the_initials_back_and_is_recorded() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        let s = signed_in_ada(&d).await;
        let id = profile::set_avatar(&d, &s, photo(50, 80), &client())
            .await
            .expect("stored");
        assert!(profile::remove_avatar(&d, &s, &client())
            .await
            .expect("removed"));
        assert_eq!(avatar_id(&d, &s).await, None);
        assert_eq!(
            profile::avatar_image(&d, &id, AvatarSize::Large)
                .await
                .expect("read"),
            None,
            "U2: a removed picture is gone from its URL"
        );
        assert!(!profile::remove_avatar(&d, &s, &client())
            .await
            .expect("nothing"));
        assert_eq!(kinds(&d, &s).await.first(), Some(&EventKind::AvatarRemoved));
    }
}

#[tokio::test]
async fn m5_only_a_signed_in_session_changes_the_avatar() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let partial = to_code_step(&d, "ada@example.com").await;
        match profile::set_avatar(&d, &partial, photo(10, 10), &client()).await {
            Err(ProfileError::SignedOut) => {}
            other => panic!("{other:?}"),
        }
        match profile::remove_avatar(&d, &partial, &client()).await {
            Err(ProfileError::SignedOut) => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn u2_only_well_formed_ids_are_looked_up() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        let s = signed_in_ada(&d).await;
        let id = profile::set_avatar(&d, &s, photo(10, 10), &client())
            .await
            .expect("stored");
        assert!(profile::avatar_image(&d, &id, AvatarSize::Small)
            .await
            .expect("read")
            .is_some());
        for bad in [
            "",
            "x",
            "' OR 1=1 --",
            &id.to_uppercase(),
            &format!("{id}0"),
        ] {
            assert_eq!(
                profile::avatar_image(&d, bad, AvatarSize::Small)
                    .await
                    .expect("read"),
                None,
                "{bad}"
            );
        }
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_sign_in_before_this_one() {
    for store in testing::all().await {
        let clock = FixedClock::at(1_000_000);
        let d = deps(store, &clock);
        verified_user(&d, "ada@example.com").await;
        let first = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let dash = profile::dashboard(&d, &first).await.expect("dashboard");
        assert!(
            dash.previous_sign_in.is_none(),
            "no sign-in before the first"
        );
        clock.advance(3600);
        let second = session(&d, &signed_in(&d, "ada@example.com").await).await;
        let dash = profile::dashboard(&d, &second).await.expect("dashboard");
        let prev = dash.previous_sign_in.expect("the first sign-in");
        assert_eq!(prev.kind, EventKind::LoginSucceeded);
        assert_eq!(prev.at, 1_000_000);
        assert_eq!(prev.ip, client().ip);
        assert_eq!(dash.user.email.as_str(), "ada@example.com");
    }
}

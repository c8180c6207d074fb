//! The HTTP surface: Leptos pages (the email-verification page among them, E4), server
//! functions, `/healthz`, the reset link, dev helpers, and the static site (precompressed brotli/gzip where present).

use crate::middleware::{self, HttpPolicy, BODY_LIMIT};
use app::server_ctx::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::collections::HashMap;
use tower_http::services::ServeDir;

pub fn build(
    state: AppState,
    options: LeptosOptions,
    policy: HttpPolicy,
    mailbox: crate::mailbox::DevMailbox,
) -> Router {
    let routes = generate_route_list(App);
    let ctx_state = state.clone();
    let context = move || {
        provide_context(ctx_state.clone());
        leptos::nonce::provide_nonce();
    };
    let fn_state = state.clone();
    let server_fns = move |req: Request<Body>| {
        let s = fn_state.clone();
        async move {
            leptos_axum::handle_server_fns_with_context(move || provide_context(s.clone()), req)
                .await
        }
    };
    let not_found = {
        let opts = options.clone();
        let s = state.clone();
        leptos_axum::render_app_to_stream_with_context(
            move || {
                provide_context(s.clone());
                leptos::nonce::provide_nonce();
            },
            move || shell(opts.clone()),
        )
    };
    let site = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .not_found_service(axum::routing::any(not_found));
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", {
            let (deps, metrics) = (state.deps.clone(), std::sync::Arc::clone(&policy.metrics));
            get(move || ready(deps.clone(), std::sync::Arc::clone(&metrics)))
        })
        .route("/reset-password/open", {
            let st = state.clone();
            get(move |q: Query<HashMap<String, String>>| open_reset_link(st.clone(), q))
        })
        .route("/avatars/{id}/{size}", {
            let st = state.clone();
            get(move |p: Path<(String, String)>, h: HeaderMap| serve_avatar(st.clone(), p, h))
        })
        .merge(oidc_routes(&state))
        .route(
            "/api/{*fn_name}",
            axum::routing::post(server_fns.clone()).get(server_fns),
        );
    if policy.dev {
        router = router
            .route("/dev/mailbox", {
                let m = mailbox.clone();
                get(move || std::future::ready(m.page()))
            })
            .route("/dev/mailbox.json", {
                let m = mailbox.clone();
                get(move |q: Query<HashMap<String, String>>| {
                    std::future::ready(m.json(q.get("to").map(String::as_str)))
                })
            })
            .route("/dev/clock", {
                let st = state.clone();
                let now = state.deps.clone();
                axum::routing::post(move |q: Query<HashMap<String, String>>| {
                    advance_clock(st.clone(), q)
                })
                .get(move || {
                    let d = now.clone();
                    async move { axum::Json(serde_json::json!({ "now": d.now() })) }
                })
            });
    }
    let deps = state.deps.clone();
    router
        .with_state(deps)
        .leptos_routes_with_context(&options, routes, context, {
            let opts = options.clone();
            move || shell(opts.clone())
        })
        .fallback_service(site)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            policy,
            middleware::policy,
        ))
        .with_state(options)
}

/// The OpenID Connect provider's endpoints (issue 13).
fn oidc_routes(state: &AppState) -> Router<gatehouse_core::mechanisms::service::Deps> {
    use crate::oidc::{self, ClientEndpoint};
    use axum::routing::post;
    let st = state.clone();
    let with = move || st.clone();
    Router::new()
        .route("/.well-known/openid-configuration", {
            let s = with();
            get(move || oidc::discovery(s.clone()))
        })
        .route("/oauth2/authorize", {
            let (a, b) = (with(), with());
            get(move |r: Request| oidc::authorize(a.clone(), r))
                .post(move |r: Request| oidc::authorize(b.clone(), r))
        })
        .route("/oauth2/continue", {
            let s = with();
            get(move |r: Request| oidc::resume(s.clone(), r))
        })
        .route("/oauth2/consent", {
            let s = with();
            post(move |h: HeaderMap, e: axum::http::Extensions, f| {
                oidc::consent(s.clone(), h, e, f)
            })
        })
        .route("/oauth2/token", {
            let s = with();
            post(move |r: Request| oidc::client_endpoint(s.clone(), ClientEndpoint::Token, r))
        })
        .route("/oauth2/revoke", {
            let s = with();
            post(move |r: Request| oidc::client_endpoint(s.clone(), ClientEndpoint::Revoke, r))
        })
        .route("/oauth2/introspect", {
            let s = with();
            post(move |r: Request| oidc::client_endpoint(s.clone(), ClientEndpoint::Introspect, r))
        })
        .route("/oauth2/userinfo", {
            let (a, b) = (with(), with());
            get(move |h: HeaderMap| oidc::userinfo(a.clone(), h))
                .post(move |h: HeaderMap| oidc::userinfo(b.clone(), h))
                .options(oidc::userinfo_preflight)
        })
        .route("/oauth2/logout", {
            let (a, b) = (with(), with());
            get(move |r: Request| oidc::logout(a.clone(), r))
                .post(move |r: Request| oidc::logout(b.clone(), r))
        })
        .route("/oauth2/jwks", {
            let s = with();
            get(move || oidc::jwks(s.clone()))
        })
}

/// Readiness (for a load balancer): 200 "ready" when the database answers, every migration this
/// build knows is applied, and the outbox worker runs; otherwise 503 naming what is not.
async fn ready(
    deps: gatehouse_core::mechanisms::service::Deps,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) -> Response {
    let mut problems = Vec::new();
    match deps.store.migrations_missing().await {
        Ok(0) => {}
        Ok(n) => problems.push(format!("{n} database migration(s) not applied")),
        Err(e) => {
            tracing::error!(error = %e, "readiness: database unreachable");
            problems.push("database unreachable".to_string());
        }
    }
    if !metrics
        .worker_running
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        problems.push("outbox worker not running".to_string());
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("; ")).into_response()
    }
}

/// F4: trades the token in the emailed link for a short-lived HttpOnly cookie and sends the
/// browser on to the clean `/reset-password`, so the token never stays in the address bar,
/// history or a Referer. Whether the token is any good is the reset page's question.
async fn open_reset_link(st: AppState, Query(q): Query<HashMap<String, String>>) -> Response {
    let token = q.get("token").map(String::as_str).unwrap_or_default();
    let safe =
        !token.is_empty() && token.len() <= 128 && token.chars().all(|c| c.is_ascii_alphanumeric());
    let mut res = Redirect::to("/reset-password").into_response();
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if safe {
        let max_age = gatehouse_core::mechanisms::email_links::RESET_TTL_SECS;
        if let Ok(v) = HeaderValue::from_str(&st.reset_cookie_value(token, max_age)) {
            h.insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// U2: an avatar by its unguessable public id. Only pixels the server encoded itself are ever
/// stored, and they go out as `image/webp` with `nosniff` and a CSP that forbids everything, so
/// nothing served here can run as a page. The URL changes with every new picture, so it can be
/// cached for good (`ETag` for revalidation); a removed picture answers 404.
async fn serve_avatar(
    st: AppState,
    Path((id, size)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    use gatehouse_core::mechanisms::picture::{AvatarSize, CONTENT_TYPE};
    let Some(size) = AvatarSize::parse(&size) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pixels = match gatehouse_core::flows::profile::avatar_image(&st.deps, &id, size).await {
        Ok(Some(p)) => p,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "avatar read failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let etag = format!("\"{id}-{}\"", size.pixels());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        pixels.into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Dev mode only: `POST /dev/clock?advance=SECONDS` moves the server's clock forward (at most 31
/// days a call) and answers the new time as JSON; `GET /dev/clock` tells the time. Authenticator
/// apps keep the real time, so their codes stop matching once the clock was moved.
async fn advance_clock(st: AppState, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(clock) = st.dev_clock else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match q.get("advance").and_then(|v| v.parse::<i64>().ok()) {
        Some(secs) if (1..=31 * 86_400).contains(&secs) => {
            let now = clock.advance(secs);
            tracing::warn!(advanced = secs, "dev clock moved forward");
            axum::Json(serde_json::json!({ "now": now })).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            "advance=SECONDS, from 1 to 2678400",
        )
            .into_response(),
    }
}

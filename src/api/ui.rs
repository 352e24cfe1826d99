//! The browser dashboard: `GET /` redirects to `/ui/`, and `/ui/…` serves
//! the page's files, which are compiled into the binary so that the server
//! needs nothing beside itself and the page needs no network beyond it.
//!
//! Caching: `index.html` names every other file with `?v=<content hash>`
//! (rewritten here, so the files in `ui/` stay plain and need no build
//! step); a request carrying the current hash may be cached for a year
//! (`immutable`), anything else is `no-cache` with a strong `ETag`, so a new
//! binary's page is never mixed with an old one's scripts.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles and
//! requests only from this origin, no inline script or `eval`, never framed.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The page's policy: scripts, styles, images and requests from this origin
/// only; no inline script, no `eval`, no plugin, never framed.
/// A CSV download is a `blob:` URL followed by an `<a download>` link, a
/// navigation that fetch directives do not govern, so `blob:` is not needed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file under `ui/` that the page loads (a unit test checks that none
/// is missing from this list).
const ASSETS: &[Asset] = &[
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("charts.js", JS),
    asset!("dom.js", JS),
    asset!("overview.js", JS),
    asset!("explorer.js", JS),
    asset!("call.js", JS),
    asset!("explain.js", JS),
    asset!("app.css", CSS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
    asset!("vendor/README.md", "text/markdown; charset=utf-8"),
];

const INDEX_SOURCE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/index.html"));

/// An asset with its content hash, ready to serve.
struct Served {
    asset: &'static Asset,
    /// First 16 hex digits of SHA-256: the `v` query value and the ETag.
    hash: String,
}

struct Bundle {
    files: Vec<Served>,
    index: Vec<u8>,
    index_etag: String,
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// Hashes every asset once and writes the hashes into `index.html`'s
/// `src="…"` and `href="…"` references.
static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let files: Vec<Served> = ASSETS
        .iter()
        .map(|asset| Served {
            asset,
            hash: short_hash(asset.bytes),
        })
        .collect();
    let mut index = INDEX_SOURCE.to_owned();
    for file in &files {
        for attr in ["src", "href"] {
            index = index.replace(
                &format!("{attr}=\"{}\"", file.asset.name),
                &format!("{attr}=\"{}?v={}\"", file.asset.name, file.hash),
            );
        }
    }
    let index_etag = short_hash(index.as_bytes());
    Bundle {
        files,
        index: index.into_bytes(),
        index_etag,
    }
});

/// `GET /`, `/ui` and `/ui/…`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    let bundle = &*BUNDLE;
    respond(
        &headers,
        "text/html; charset=utf-8",
        &bundle.index,
        &bundle.index_etag,
        false,
    )
}

async fn file(Path(path): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    // `?v=<hash>` as index.html writes it; anything else is simply not it.
    let version = query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("v=")));
    if path == "index.html" {
        return index(headers).await;
    }
    match BUNDLE.files.iter().find(|f| f.asset.name == path) {
        Some(served) => respond(
            &headers,
            served.asset.content_type,
            served.asset.bytes,
            &served.hash,
            version == Some(served.hash.as_str()),
        ),
        None => with_security_headers(
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain")],
                "Not found.\n",
            )
                .into_response(),
        ),
    }
}

/// 200 with the body, or 304 when the client's `If-None-Match` names the
/// current ETag. `immutable`: the URL carried the content hash.
fn respond(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &'static [u8],
    hash: &str,
    immutable: bool,
) -> Response {
    let etag = format!("\"{hash}\"");
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    with_security_headers(response)
}

fn with_security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `ui/` is served, so a new script cannot be forgotten.
    #[test]
    fn every_file_under_ui_is_embedded() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    let rel = path.strip_prefix(base).unwrap();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut found = Vec::new();
        walk(&base, &base, &mut found);
        for name in found {
            assert!(
                name == "index.html" || ASSETS.iter().any(|a| a.name == name),
                "ui/{name} is not in ASSETS"
            );
        }
    }

    #[test]
    fn the_index_names_every_script_and_style_by_its_hash() {
        let index = String::from_utf8(BUNDLE.index.clone()).unwrap();
        for served in &BUNDLE.files {
            let name = served.asset.name;
            if name.ends_with(".js") || name.ends_with(".css") {
                assert!(
                    index.contains(&format!("{name}?v={}", served.hash)),
                    "index.html does not load {name}"
                );
            }
        }
        assert!(!index.contains("<script>"), "no inline script");
    }
}

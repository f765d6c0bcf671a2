//! Static files: the demo (`--www`, served at `/`) and the built package
//! (`--pkg`, served at `/pkg/`), so one process serves the whole demo.

use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::StaticDirs;
use crate::error::ApiError;
use crate::state::SharedState;

/// The fallback handler: anything no API route matched.
pub async fn serve(State(state): State<SharedState>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return not_found();
    }
    let path = req.uri().path();
    let target = match (path.strip_prefix("/pkg/"), &state.static_dirs) {
        (Some(rest), StaticDirs { pkg: Some(pkg), .. }) => resolve(pkg, rest),
        (_, StaticDirs { www: Some(www), .. }) => resolve(www, path),
        _ => None,
    };
    let Some(mut file) = target else {
        return not_found();
    };
    if tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_dir()) {
        if !path.ends_with('/') {
            // Relative links in the index need the trailing slash.
            let location = format!("{path}/");
            return (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
        file.push("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&file)),
                // A development server: never serve a stale build.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

fn not_found() -> Response {
    ApiError::not_found("not_found", "not found").into_response()
}

/// Maps a URL path onto a file under `root`, refusing anything that could
/// leave it.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return None,
            s if s.contains('\\') || s.contains('\0') || s.starts_with('.') => return None,
            s => path.push(s),
        }
    }
    Some(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "ts" => "text/plain; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_root_only() {
        let root = Path::new("/srv/www");
        assert_eq!(resolve(root, "/"), Some(PathBuf::from("/srv/www")));
        assert_eq!(
            resolve(root, "/a/b%20c.js"),
            Some(PathBuf::from("/srv/www/a/b c.js"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/a/%2e%2e/%2e%2e/x"), None);
        assert_eq!(resolve(root, "/.git/config"), None);
        assert_eq!(resolve(root, "/a%5c..%5cb"), None);
        assert_eq!(resolve(root, "/bad%zz"), None);
    }

    #[test]
    fn knows_the_types_a_wasm_demo_needs() {
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
        assert!(content_type(Path::new("x.js")).starts_with("text/javascript"));
        assert!(content_type(Path::new("index.html")).starts_with("text/html"));
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }
}

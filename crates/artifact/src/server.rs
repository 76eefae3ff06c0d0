//! The HTTP file server for a storage root, mounted by source-controller at `/`.
//!
//! It serves files only: GET streams the file, HEAD answers with the same headers and no body,
//! both with `Content-Length` and a `Content-Type` from the extension. Directories, missing
//! files, and any path with `..`, a backslash, a NUL or an encoded slash are a plain 404 (no
//! listing, no hint of what exists), and a file reached through a symlink that leaves the root is
//! a 404 too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, Uri, header};

/// A router serving the files below `root`.
pub fn router(root: impl Into<PathBuf>) -> Router {
    Router::new()
        .fallback(serve)
        .with_state(Arc::new(root.into()))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    Some(decoded)
}

/// The relative file path a request names, or `None` when it must not be served.
fn requested_path(uri: &Uri) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in uri.path().split('/').filter(|segment| !segment.is_empty()) {
        let decoded = String::from_utf8(percent_decode(segment)?).ok()?;
        if decoded == "." || decoded == ".." || decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        path.push(decoded);
    }
    (!path.as_os_str().is_empty()).then_some(path)
}

/// The Content-Type Go's file server would send for these files.
fn content_type(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension)
        .unwrap_or_default();
    match extension {
        "gz" | "tgz" => "application/x-gzip",
        "json" => "application/json",
        "yaml" | "yml" => "application/yaml",
        "txt" => "text/plain; charset=utf-8",
        "tar" => "application/x-tar",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

async fn serve(State(root): State<Arc<PathBuf>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let Some(relative) = requested_path(&uri) else {
        return not_found();
    };
    let candidate = root.join(&relative);
    let (Ok(resolved), Ok(canonical_root)) = (
        tokio::fs::canonicalize(&candidate).await,
        tokio::fs::canonicalize(root.as_path()).await,
    ) else {
        return not_found();
    };
    if !resolved.starts_with(&canonical_root) {
        return not_found();
    }
    let Ok(file) = tokio::fs::File::open(&resolved).await else {
        return not_found();
    };
    let Ok(metadata) = file.metadata().await else {
        return not_found();
    };
    if !metadata.is_file() {
        return not_found();
    }
    let length = metadata.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(file_chunks(file))
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&relative)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

fn file_chunks(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send {
    futures::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0_u8; 64 * 1024];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.truncate(read);
        Ok(Some((axum::body::Bytes::from(buffer), file)))
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn storage() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("gitrepository/ns/name")).unwrap();
        std::fs::write(
            root.path().join("gitrepository/ns/name/abc.tar.gz"),
            vec![7_u8; 100_000],
        )
        .unwrap();
        root
    }

    async fn request(root: &Path, method: Method, path: &str) -> Response {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        router(root.to_owned()).oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn get_streams_the_file_with_length_and_type() {
        let root = storage();
        let response = request(
            root.path(),
            Method::GET,
            "/gitrepository/ns/name/abc.tar.gz",
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "100000");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/x-gzip"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 100_000);
    }

    #[tokio::test]
    async fn head_has_the_headers_and_no_body() {
        let root = storage();
        let response = request(
            root.path(),
            Method::HEAD,
            "/gitrepository/ns/name/abc.tar.gz",
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "100000");
        assert!(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn unknown_files_and_directories_are_404() {
        let root = storage();
        for path in [
            "/gitrepository/ns/name/nope.tar.gz",
            "/gitrepository/ns/name",
            "/gitrepository/",
            "/",
        ] {
            assert_eq!(
                request(root.path(), Method::GET, path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn paths_escaping_the_root_are_404() {
        let parent = tempfile::tempdir().unwrap();
        std::fs::write(parent.path().join("secret"), "s").unwrap();
        let root = parent.path().join("storage");
        std::fs::create_dir_all(&root).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(parent.path().join("secret"), root.join("link")).unwrap();
        for path in [
            "/../secret",
            "/%2e%2e/secret",
            "/a%2f..%2f..%2fsecret",
            "/link",
            "/..%5csecret",
        ] {
            assert_eq!(
                request(&root, Method::GET, path).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn other_methods_are_refused() {
        let root = storage();
        let response = request(
            root.path(),
            Method::POST,
            "/gitrepository/ns/name/abc.tar.gz",
        )
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

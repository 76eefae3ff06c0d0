//! Git smart HTTP for the demo repository: `git http-backend` run as a CGI program behind an
//! axum server, so `git clone`, `git push` and source-controller work with nothing installed
//! beyond git itself.
//!
//! Every request runs one `git http-backend` process with the CGI environment (RFC 3875) git
//! documents for it. The request body streams into its stdin (bounded), its CGI headers become
//! the response status and headers, and the rest of its stdout streams back. Pushing is allowed
//! because `REMOTE_USER` is set (git enables `receive-pack` for authenticated users only): the
//! server listens on loopback and serves a throwaway demo repository.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::io::ReaderStream;

/// The largest request body accepted (a push of the demo repository is a few KiB).
const MAX_REQUEST_BYTES: usize = 256 * 1024 * 1024;
/// The largest CGI header block read from `git http-backend`.
const MAX_CGI_HEADER_BYTES: usize = 64 * 1024;
/// The user git http-backend is told authenticated, which enables pushes.
const REMOTE_USER: &str = "eddy-dev";

#[derive(Debug)]
struct Backend {
    project_root: PathBuf,
}

/// The router serving every repository under `project_root` at `/<name>.git`.
pub(crate) fn router(project_root: PathBuf) -> Router {
    Router::new()
        .fallback(serve)
        .with_state(Arc::new(Backend { project_root }))
}

async fn serve(State(backend): State<Arc<Backend>>, request: Request) -> Response {
    match run_backend(&backend, request).await {
        Ok(response) => response,
        Err(message) => {
            tracing::warn!(error = %message, "git http-backend failed");
            (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
        }
    }
}

async fn run_backend(backend: &Backend, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    if path.split('/').any(|segment| segment == "..") {
        return Ok((StatusCode::BAD_REQUEST, "invalid path").into_response());
    }
    let mut command = Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &backend.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", REMOTE_USER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (header, variable) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-length", "CONTENT_LENGTH"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "HTTP_GIT_PROTOCOL"),
    ] {
        if let Some(value) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
            command.env(variable, value);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|error| format!("starting git http-backend: {error}"))?;
    let mut stdin = child.stdin.take().ok_or("git http-backend has no stdin")?;
    let stdout = child
        .stdout
        .take()
        .ok_or("git http-backend has no stdout")?;
    let stderr = child
        .stderr
        .take()
        .ok_or("git http-backend has no stderr")?;

    // Feed the body while the response is read: a large push would otherwise fill both pipes.
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut written = 0usize;
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            written += chunk.len();
            if written > MAX_REQUEST_BYTES || stdin.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = stdin.shutdown().await;
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "git_http_backend", "{line}");
        }
    });

    let mut reader = BufReader::new(stdout);
    let (status, headers) = read_cgi_headers(&mut reader).await?;
    // Reap the process once its output is consumed; dropping the body kills it.
    let body = Body::from_stream(ReaderStream::new(reader).chain(futures::stream::once(
        async move {
            let _ = child.wait().await;
            Ok::<_, std::io::Error>(bytes::Bytes::new())
        },
    )));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Reads the CGI response headers (`Status:` and ordinary headers, ended by an empty line).
async fn read_cgi_headers<R>(reader: &mut BufReader<R>) -> Result<(StatusCode, HeaderMap), String>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    let mut consumed = 0usize;
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .await
            .map_err(|error| format!("reading git http-backend output: {error}"))?;
        consumed += read;
        if read == 0 {
            return Err("git http-backend ended before its headers".to_string());
        }
        if consumed > MAX_CGI_HEADER_BYTES {
            return Err("git http-backend sent too many header bytes".to_string());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok((status, headers));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed CGI header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|code| StatusCode::from_u16(code).ok())
                .ok_or_else(|| format!("malformed CGI status {value:?}"))?;
        } else if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cgi_headers_set_the_status_and_headers_and_stop_at_the_blank_line() {
        let output = b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody";
        let mut reader = BufReader::new(&output[..]);
        let (status, headers) = read_cgi_headers(&mut reader).await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "text/plain");
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest, "body");
    }

    #[tokio::test]
    async fn output_without_a_header_block_is_an_error() {
        let mut reader = BufReader::new(&b"Content-Type: text/plain\n"[..]);
        assert!(read_cgi_headers(&mut reader).await.is_err());
    }
}

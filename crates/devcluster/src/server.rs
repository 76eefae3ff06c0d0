//! The HTTP front: bearer-token authentication, body limits, path routing and the response
//! shapes shared by every handler. Routing is done by hand over path segments because
//! Kubernetes paths are ambiguous to a pattern router (`/api/v1/namespaces/x/status` is a
//! namespace's status, `/api/v1/namespaces/x/pods` is a collection).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::Value;

use crate::discovery;
use crate::handlers;
use crate::openapi;
use crate::rbac;
use crate::status::ApiError;
use crate::store::Store;
use crate::table::IncludeObject;

/// Shared server state.
pub(crate) struct App {
    /// Objects, history and the registry.
    pub(crate) store: Store,
    /// The bearer token every request must carry; `None` disables authentication.
    pub(crate) token: Option<String>,
    /// `host:port` advertised in `/api`.
    pub(crate) server_address: String,
    /// The largest request body accepted.
    pub(crate) max_body_bytes: usize,
    /// How often watches that asked for bookmarks get one.
    pub(crate) bookmark_interval: std::time::Duration,
    /// Generated OpenAPI documents.
    pub(crate) openapi: openapi::DocumentCache,
    /// Cancelled at shutdown so open watches end instead of holding the server up.
    pub(crate) stopping: tokio_util::sync::CancellationToken,
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status code.
    pub(crate) code: u16,
    /// JSON body.
    pub(crate) body: Value,
    /// Content-Type.
    pub(crate) content_type: String,
    /// `Warning` headers (text only; the `299 -` prefix is added).
    pub(crate) warnings: Vec<String>,
}

impl Reply {
    /// A plain JSON reply.
    pub(crate) fn json(code: u16, body: Value) -> Self {
        Reply {
            code,
            body,
            content_type: "application/json".into(),
            warnings: Vec::new(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::OK);
        let mut response = (code, self.body.to_string()).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        for warning in self.warnings {
            let escaped = warning.replace('\\', "\\\\").replace('"', "\\\"");
            if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
                headers.append(header::WARNING, value);
            }
        }
        response
    }
}

/// How a read should be rendered, from the Accept header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The objects themselves.
    Object,
    /// A meta.k8s.io Table.
    Table(IncludeObject),
    /// PartialObjectMetadata(List).
    Metadata,
}

impl Format {
    /// Picks the first rendering the Accept header asks for that the server supports.
    pub(crate) fn from_request(headers: &HeaderMap, query: &Query) -> Self {
        let accept = header_text(headers, header::ACCEPT);
        for offer in accept.split(',') {
            let offer: String = offer.chars().filter(|c| !c.is_whitespace()).collect();
            if offer.contains("as=Table") {
                return Format::Table(IncludeObject::parse(query.get("includeObject")));
            }
            if offer.contains("as=PartialObjectMetadata") {
                return Format::Metadata;
            }
            if offer.starts_with("application/json") || offer.starts_with("*/*") {
                return Format::Object;
            }
        }
        Format::Object
    }
}

/// Parsed query parameters (the last value wins, as in client-go's encoding there is one).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    values: HashMap<String, String>,
}

impl Query {
    /// Parses a raw query string.
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let mut values = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            values.insert(percent_decode(key), percent_decode(value));
        }
        Query { values }
    }

    /// One parameter.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether a boolean parameter is set to true.
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// Decodes `%XX` escapes and `+`.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let high = (bytes[index + 1] as char).to_digit(16);
                let low = (bytes[index + 2] as char).to_digit(16);
                match (high, low) {
                    (Some(high), Some(low)) => {
                        decoded.push((high * 16 + low) as u8);
                        index += 2;
                    }
                    _ => decoded.push(b'%'),
                }
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A header as text, empty when absent or not UTF-8.
pub(crate) fn header_text(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A request for a resource, after routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    /// API group.
    pub(crate) group: String,
    /// API version.
    pub(crate) version: String,
    /// Namespace from the path.
    pub(crate) namespace: Option<String>,
    /// Plural resource name.
    pub(crate) plural: String,
    /// Object name.
    pub(crate) name: Option<String>,
    /// Subresource.
    pub(crate) subresource: Option<String>,
    /// Whether the legacy `/watch/` prefix was used.
    pub(crate) legacy_watch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Health,
    Version,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    OpenApiIndex,
    OpenApiDocument(String, String),
    Resource(ResourcePath),
    Unknown,
}

fn resource_route(group: &str, version: &str, rest: &[String]) -> Route {
    let (legacy_watch, rest) = match rest.first().map(String::as_str) {
        Some("watch") => (true, &rest[1..]),
        _ => (false, rest),
    };
    let path = |namespace: Option<&String>,
                plural: &String,
                name: Option<&String>,
                sub: Option<&String>| {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: version.into(),
            namespace: namespace.cloned(),
            plural: plural.clone(),
            name: name.cloned(),
            subresource: sub.cloned(),
            legacy_watch,
        })
    };
    let namespace_subresource =
        |segment: &str| group.is_empty() && matches!(segment, "status" | "finalize");
    match rest {
        [plural] => path(None, plural, None, None),
        [plural, name] => path(None, plural, Some(name), None),
        [first, namespace, plural] if first == "namespaces" && !namespace_subresource(plural) => {
            path(Some(namespace), plural, None, None)
        }
        [plural, name, sub] => path(None, plural, Some(name), Some(sub)),
        [first, namespace, plural, name] if first == "namespaces" => {
            path(Some(namespace), plural, Some(name), None)
        }
        [first, namespace, plural, name, sub] if first == "namespaces" => {
            path(Some(namespace), plural, Some(name), Some(sub))
        }
        _ => Route::Unknown,
    }
}

fn route(path: &str) -> Route {
    let segments: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
        .collect();
    let text: Vec<&str> = segments.iter().map(String::as_str).collect();
    match text.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["version"] => Route::Version,
        ["api"] => Route::CoreVersions,
        ["api", version] => Route::ResourceList(String::new(), (*version).into()),
        ["api", version, ..] => resource_route("", version, &segments[2..]),
        ["apis"] => Route::GroupList,
        ["apis", group] => Route::Group((*group).into()),
        ["apis", group, version] => Route::ResourceList((*group).into(), (*version).into()),
        ["apis", group, version, ..] => resource_route(group, version, &segments[3..]),
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", "api", version] => {
            Route::OpenApiDocument(String::new(), (*version).into())
        }
        ["openapi", "v3", "apis", group, version] => {
            Route::OpenApiDocument((*group).into(), (*version).into())
        }
        _ => Route::Unknown,
    }
}

fn is_public(route: &Route) -> bool {
    matches!(route, Route::Health | Route::Version)
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(expected) = &app.token else {
        return true;
    };
    let presented = header_text(headers, header::AUTHORIZATION);
    let Some(token) = presented
        .strip_prefix("Bearer ")
        .or_else(|| presented.strip_prefix("bearer "))
    else {
        return false;
    };
    // Compare without an early exit so response timing does not reveal a prefix match.
    let (token, expected) = (token.trim().as_bytes(), expected.as_bytes());
    token.len() == expected.len()
        && token
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// What the authorizer sees of a routed request.
fn request_attributes(
    route: &Route,
    method: &Method,
    path: &str,
    query: &Query,
) -> rbac::Attributes {
    match route {
        Route::Resource(resource) => rbac::Attributes::resource(
            method,
            resource.legacy_watch || query.flag("watch"),
            path,
            &resource.group,
            &resource.plural,
            resource.subresource.as_deref(),
            resource.namespace.as_deref(),
            resource.name.as_deref(),
        ),
        _ => rbac::Attributes::non_resource(method, path),
    }
}

/// The single entry point: every request comes through here.
pub(crate) async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let route = route(parts.uri.path());
    if !is_public(&route) && !authorized(&app, &parts.headers) {
        return ApiError::unauthorized().into_response();
    }
    let user = match rbac::UserInfo::from_headers(&parts.headers) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    if !is_public(&route) && !user.admin {
        let query = Query::parse(parts.uri.query());
        let attributes = request_attributes(&route, &parts.method, parts.uri.path(), &query);
        if !rbac::allows(&app.store.lock(), &user, &attributes) {
            return rbac::forbidden(&user, &attributes).into_response();
        }
    }
    let declared_length = header_text(&parts.headers, header::CONTENT_LENGTH)
        .parse::<usize>()
        .unwrap_or(0);
    if declared_length > app.max_body_bytes {
        return ApiError::too_large(app.max_body_bytes).into_response();
    }
    let body = match axum::body::to_bytes(body, app.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => return ApiError::too_large(app.max_body_bytes).into_response(),
    };
    let query = Query::parse(parts.uri.query());
    let result = answer(
        &app,
        route,
        &parts.method,
        &parts.headers,
        query,
        body,
        &user,
    )
    .await;
    let response = match result {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    tracing::debug!(method = %parts.method, uri = %parts.uri, status = response.status().as_u16(), "request");
    response
}

async fn answer(
    app: &Arc<App>,
    route: Route,
    method: &Method,
    headers: &HeaderMap,
    query: Query,
    body: Bytes,
    user: &rbac::UserInfo,
) -> Result<Response, ApiError> {
    let reading = *method == Method::GET || *method == Method::HEAD;
    let discovery_only = |value: Value| -> Result<Response, ApiError> {
        if !reading {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ));
        }
        Ok(Reply::json(200, value).into_response())
    };
    match route {
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::Version => discovery_only(discovery::version()),
        Route::CoreVersions | Route::GroupList => {
            let core = route == Route::CoreVersions;
            let accept = header_text(headers, header::ACCEPT);
            let inner = app.store.lock();
            if let Some(media_type) = discovery::wants_aggregated(&accept) {
                let mut reply = Reply::json(
                    200,
                    discovery::aggregated(&inner.registry, core, media_type),
                );
                reply.content_type = media_type.to_string();
                drop(inner);
                if !reading {
                    return discovery_only(Value::Null);
                }
                return Ok(reply.into_response());
            }
            let document = if core {
                discovery::core_versions(&app.server_address)
            } else {
                discovery::group_list(&inner.registry)
            };
            drop(inner);
            discovery_only(document)
        }
        Route::Group(group) => {
            let document = discovery::group(&app.store.lock().registry, &group);
            discovery_only(document.ok_or_else(ApiError::unknown_resource)?)
        }
        Route::ResourceList(group, version) => {
            let document = discovery::resource_list(&app.store.lock().registry, &group, &version);
            discovery_only(document.ok_or_else(ApiError::unknown_resource)?)
        }
        Route::OpenApiIndex => {
            let registry = app.store.lock().registry.clone();
            discovery_only(openapi::index(&registry, &app.openapi))
        }
        Route::OpenApiDocument(group, version) => {
            let registry = app.store.lock().registry.clone();
            let (document, _) = app
                .openapi
                .get(&registry, &group, &version)
                .ok_or_else(ApiError::unknown_resource)?;
            discovery_only(document.as_ref().clone())
        }
        Route::Resource(path) => {
            handlers::handle(app.clone(), path, method, headers, query, body, user).await
        }
        Route::Unknown => Err(ApiError::unknown_resource()),
    }
}

/// The router: everything goes to [`dispatch`].
pub(crate) fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .fallback(dispatch)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
}

/// A streaming JSON response (watches).
pub(crate) fn stream_response(content_type: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> Option<ResourcePath> {
        match route(path) {
            Route::Resource(resource) => Some(resource),
            _ => None,
        }
    }

    #[test]
    fn namespace_status_is_a_subresource_not_a_collection() {
        let status = resource("/api/v1/namespaces/dev/status");
        assert_eq!(
            status.as_ref().and_then(|r| r.subresource.as_deref()),
            Some("status")
        );
        assert_eq!(status.as_ref().and_then(|r| r.name.as_deref()), Some("dev"));
        let pods = resource("/api/v1/namespaces/dev/pods");
        assert_eq!(
            pods.as_ref().and_then(|r| r.namespace.as_deref()),
            Some("dev")
        );
        assert_eq!(pods.as_ref().map(|r| r.plural.as_str()), Some("pods"));
    }

    #[test]
    fn group_paths_route_to_namespaced_items_and_subresources() {
        let scale = resource("/apis/apps/v1/namespaces/dev/deployments/web/scale");
        assert_eq!(
            scale,
            Some(ResourcePath {
                group: "apps".into(),
                version: "v1".into(),
                namespace: Some("dev".into()),
                plural: "deployments".into(),
                name: Some("web".into()),
                subresource: Some("scale".into()),
                legacy_watch: false,
            })
        );
        let watch = resource("/api/v1/watch/namespaces/dev/configmaps");
        assert!(watch.is_some_and(|r| r.legacy_watch && r.name.is_none()));
    }

    #[test]
    fn queries_are_percent_decoded() {
        let query = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1"));
        assert_eq!(query.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(query.flag("watch"));
    }
}

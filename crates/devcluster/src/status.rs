//! Failures as kube-apiserver reports them: an HTTP code plus a `Status` object whose `reason`
//! clients branch on (kube-rs matches `code`, kubectl prints `message`, client-go checks
//! `reason` to tell "already exists" from "conflict").

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// One field-level problem inside an `Invalid` (422) failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    /// Machine-readable cause, e.g. `FieldValueRequired`.
    pub(crate) reason: String,
    /// Human-readable message, without the field path (clients prefix it themselves).
    pub(crate) message: String,
    /// The field path, e.g. `spec.replicas`.
    pub(crate) field: String,
}

/// The optional `details` of a `Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Details {
    /// `details.name`, when the failure is about one object.
    pub(crate) name: Option<String>,
    /// `details.group`.
    pub(crate) group: Option<String>,
    /// `details.kind` (kube-apiserver puts the resource plural or the kind here).
    pub(crate) kind: Option<String>,
    /// `details.causes`.
    pub(crate) causes: Vec<Cause>,
}

/// A request failure carrying everything needed to render a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub(crate) struct ApiError {
    /// HTTP status code.
    pub(crate) code: u16,
    /// The `reason` field (`NotFound`, `Conflict`, ...).
    pub(crate) reason: String,
    /// The `message` field.
    pub(crate) message: String,
    /// The `details` field; boxed because most failures have none and errors travel in `Result`s.
    pub(crate) details: Box<Details>,
}

impl ApiError {
    /// A failure with no details.
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details.group = Some(group.to_string()).filter(|group| !group.is_empty());
        self.details.kind = Some(kind.to_string());
        self.details.name = Some(name.to_string());
        self
    }

    /// `resource.group "name" not found`.
    pub(crate) fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .about(group, resource, name)
    }

    /// The path names no resource this server knows.
    pub(crate) fn unknown_resource() -> Self {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// `resource.group "name" already exists`.
    pub(crate) fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .about(group, resource, name)
    }

    /// A write based on a stale resourceVersion or a failed precondition.
    pub(crate) fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
        .about(group, resource, name)
    }

    /// The stale-resourceVersion conflict, worded as kube-apiserver words it.
    pub(crate) fn stale(group: &str, resource: &str, name: &str) -> Self {
        ApiError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A malformed request.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// An object failing validation: `Kind "name" is invalid: causes`.
    pub(crate) fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let listed: Vec<String> = causes.iter().map(Cause::text).collect();
        let joined = if listed.len() == 1 {
            listed[0].clone()
        } else {
            format!("[{}]", listed.join(", "))
        };
        let mut error = ApiError::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {joined}"),
        )
        .about(group, kind, name);
        error.details.causes = causes;
        error
    }

    /// The request body is larger than the server accepts.
    pub(crate) fn too_large(limit: usize) -> Self {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// A verb the resource does not support.
    pub(crate) fn method_not_supported(group: &str, resource: &str, verb: &str) -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{verb} is not supported on resources of kind \"{}\"",
                qualified(group, resource)
            ),
        )
        .about(group, resource, "")
    }

    /// The bearer token is missing or wrong.
    pub(crate) fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// A watch or list asked for a resourceVersion older than the retained history.
    pub(crate) fn gone(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    /// Something the server refuses on principle (e.g. writing into a terminating namespace).
    pub(crate) fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: {why}",
                qualified(group, resource)
            ),
        )
        .about(group, resource, name)
    }

    /// A patch or body content type the resource does not accept.
    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml; got {content_type}"
            ),
        )
    }

    /// The `Status` object.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        let mut details = serde_json::Map::new();
        let Details {
            name,
            group,
            kind,
            causes,
        } = self.details.as_ref();
        if let Some(name) = name {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = kind {
            details.insert("kind".into(), json!(kind));
        }
        if !causes.is_empty() {
            let causes: Vec<Value> = causes
                .iter()
                .map(|cause| {
                    json!({"reason": cause.reason, "message": cause.message, "field": cause.field})
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        // Field order as Go's encoder writes metav1.Status: details before code.
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status["code"] = json!(self.code);
        status
    }
}

/// `resource.group`, or just `resource` for the core group, as kube-apiserver writes it.
pub(crate) fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, self.to_status().to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.code == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"eddy-devcluster\""),
            );
        }
        response
    }
}

/// A `Cause` for a field.
pub(crate) fn cause(reason: &str, field: &str, detail: impl AsRef<str>) -> Cause {
    Cause {
        reason: reason.to_string(),
        message: detail.as_ref().to_string(),
        field: field.to_string(),
    }
}

impl Cause {
    /// `field: message`, as the summary message of an Invalid status lists causes.
    pub(crate) fn text(&self) -> String {
        if self.field.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.field, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_names_the_resource_and_object() {
        let status = ApiError::not_found("apps", "deployments", "web").to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_lists_several_causes_in_brackets() {
        let error = ApiError::invalid(
            "",
            "ConfigMap",
            "x",
            vec![
                cause("FieldValueRequired", "spec.a", "Required value"),
                cause("FieldValueInvalid", "spec.b", "Invalid value"),
            ],
        );
        assert_eq!(
            error.message,
            "ConfigMap \"x\" is invalid: [spec.a: Required value, spec.b: Invalid value]"
        );
        assert_eq!(error.to_status()["details"]["causes"][1]["field"], "spec.b");
    }
}

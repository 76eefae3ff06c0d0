//! Resource requests: picking the verb, decoding bodies, and the read side (get and list, in
//! the full, Table and PartialObjectMetadata renderings). Writes live in `writes` and
//! watches in `watch`; both share the rendering helpers here.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use crate::kinds::ResourceType;
use crate::patch::PatchType;
use crate::rbac::{self, UserInfo};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::{App, Format, Query, Reply, ResourcePath, header_text};
use crate::status::ApiError;
use crate::store::{Inner, ObjectKey};
use crate::table::table;
use crate::watch;
use crate::writes::{self, DeleteOptions, WriteContext};

/// Handles one request for a resource path.
pub(crate) async fn handle(
    app: Arc<App>,
    path: ResourcePath,
    method: &Method,
    headers: &HeaderMap,
    query: Query,
    body: Bytes,
    user: &UserInfo,
) -> Result<Response, ApiError> {
    let resource = app
        .store
        .lock()
        .registry
        .find(&path.group, &path.version, &path.plural)
        .ok_or_else(ApiError::unknown_resource)?;
    if path.namespace.is_some() && !resource.namespaced {
        return Err(ApiError::unknown_resource());
    }
    if resource.namespaced && path.name.is_some() && path.namespace.is_none() {
        return Err(ApiError::unknown_resource());
    }
    match path.subresource.as_deref() {
        None => {}
        Some("status") if resource.has_status => {}
        Some("scale") if resource.scale.is_some() => {}
        Some("finalize") if resource.plural == "namespaces" && !resource.custom => {}
        Some(_) => return Err(ApiError::unknown_resource()),
    }
    if resource.review {
        if *method != Method::POST || path.name.is_some() {
            return Err(ApiError::method_not_supported(
                &resource.group,
                &resource.plural,
                method.as_str(),
            ));
        }
        let mut review = decode_body(headers, &body)?;
        review["apiVersion"] = json!(resource.api_version());
        review["kind"] = json!(resource.kind);
        review["status"] = review_status(&app.store.lock(), user, &review, &resource.kind);
        return Ok(Reply::json(201, review).into_response());
    }
    let format = Format::from_request(headers, &query);
    let namespace = path.namespace.clone().unwrap_or_default();
    let watching = path.legacy_watch || query.flag("watch");
    match (method.clone(), path.name.as_deref()) {
        (Method::GET, None) if watching => {
            watch::serve(app, resource, path.namespace, None, &query, format)
        }
        (Method::GET, Some(name)) if watching && path.subresource.is_none() => watch::serve(
            app,
            resource,
            path.namespace,
            Some(name.to_string()),
            &query,
            format,
        ),
        (Method::GET, None) => {
            Ok(list(&app, &resource, path.namespace.as_deref(), &query, format)?.into_response())
        }
        (Method::GET, Some(name)) => Ok(get(
            &app,
            &resource,
            &namespace,
            name,
            path.subresource.as_deref(),
            format,
        )?
        .into_response()),
        (Method::POST, None) => {
            if resource.namespaced && path.namespace.is_none() {
                return Err(ApiError::new(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                ));
            }
            let object = decode_body(headers, &body)?;
            let mut context = WriteContext::new(&resource, &namespace, &query)?
                .with_user_agent(&header_text(headers, header::USER_AGENT));
            let mut inner = app.store.lock();
            let created = writes::create(&mut inner, &mut context, object)?;
            drop(inner);
            app.store.collector_wakeup.notify_one();
            Ok(context.reply(201, created).into_response())
        }
        (Method::PUT, Some(name)) => {
            let object = decode_body(headers, &body)?;
            let mut context = WriteContext::new(&resource, &namespace, &query)?
                .with_user_agent(&header_text(headers, header::USER_AGENT));
            let mut inner = app.store.lock();
            let (code, updated) = writes::update(
                &mut inner,
                &mut context,
                name,
                path.subresource.as_deref(),
                object,
            )?;
            drop(inner);
            app.store.collector_wakeup.notify_one();
            Ok(context.reply(code, updated).into_response())
        }
        (Method::PATCH, Some(name)) => {
            let content_type = header_text(headers, header::CONTENT_TYPE);
            let patch_type = PatchType::from_content_type(&content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(&content_type))?;
            let mut context = WriteContext::new(&resource, &namespace, &query)?
                .with_user_agent(&header_text(headers, header::USER_AGENT));
            let mut inner = app.store.lock();
            // An apply that creates needs `create` as well as `patch`, as in kube-apiserver.
            if !user.admin {
                let creating = rbac::Attributes::resource(
                    &Method::POST,
                    false,
                    "",
                    &path.group,
                    &path.plural,
                    None,
                    path.namespace.as_deref(),
                    Some(name),
                );
                if !rbac::allows(&inner, user, &creating) {
                    context.create_denied = Some(rbac::forbidden(user, &creating));
                }
            }
            let (code, patched) = writes::patch(
                &mut inner,
                &mut context,
                name,
                path.subresource.as_deref(),
                patch_type,
                &body,
            )?;
            drop(inner);
            app.store.collector_wakeup.notify_one();
            Ok(context.reply(code, patched).into_response())
        }
        (Method::DELETE, Some(name)) => {
            if path.subresource.is_some() {
                return Err(ApiError::method_not_supported(
                    &resource.group,
                    &resource.plural,
                    "delete",
                ));
            }
            let options = DeleteOptions::from_request(&query, &body)?;
            let mut context = WriteContext::new(&resource, &namespace, &query)?
                .with_user_agent(&header_text(headers, header::USER_AGENT));
            let mut inner = app.store.lock();
            let (code, deleted) = writes::delete(&mut inner, &mut context, name, &options)?;
            drop(inner);
            app.store.collector_wakeup.notify_one();
            Ok(context.reply(code, deleted).into_response())
        }
        (Method::DELETE, None) => {
            let options = DeleteOptions::from_request(&query, &body)?;
            let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
            let fields = FieldSelector::parse(
                query.get("fieldSelector").unwrap_or(""),
                &resource.field_selectors,
            )?;
            let mut context = WriteContext::new(&resource, &namespace, &query)?
                .with_user_agent(&header_text(headers, header::USER_AGENT));
            let mut inner = app.store.lock();
            let names: Vec<(String, String)> = inner
                .list(
                    &resource.storage_group,
                    &resource.plural,
                    path.namespace.as_deref(),
                )
                .filter(|(_, object)| labels.matches(object) && fields.matches(object))
                .map(|(key, _)| (key.namespace.clone(), key.name.clone()))
                .collect();
            let mut items = Vec::new();
            for (object_namespace, name) in names {
                context.namespace = object_namespace;
                let (_, deleted) = writes::delete(&mut inner, &mut context, &name, &options)?;
                items.push(deleted);
            }
            let resource_version = inner.resource_version();
            drop(inner);
            app.store.collector_wakeup.notify_one();
            Ok(context
                .reply(
                    200,
                    json!({
                        "kind": resource.list_kind,
                        "apiVersion": resource.api_version(),
                        "metadata": {"resourceVersion": resource_version.to_string()},
                        "items": items,
                    }),
                )
                .into_response())
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// The answer to a review, from RBAC for the requesting (or, for SubjectAccessReview, the
/// named) user. Self-rules reviews list the rules as stored, without expanding them.
fn review_status(inner: &Inner, user: &UserInfo, review: &Value, kind: &str) -> Value {
    let text = |pointer: &str| {
        review
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    match kind {
        "SelfSubjectReview" => json!({"userInfo": {
            "username": user.name,
            "groups": user.groups,
        }}),
        "SelfSubjectRulesReview" => {
            let rules = rbac::rules_for(inner, user, text("/spec/namespace"));
            let resource_rules: Vec<&Value> = rules
                .iter()
                .filter(|rule| rule.get("nonResourceURLs").is_none())
                .collect();
            let non_resource_rules: Vec<&Value> = rules
                .iter()
                .filter(|rule| rule.get("nonResourceURLs").is_some())
                .collect();
            if user.admin {
                return json!({
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": false,
                });
            }
            json!({
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": false,
            })
        }
        _ => {
            let subject = if kind == "SubjectAccessReview" {
                let groups: Vec<String> = review
                    .pointer("/spec/groups")
                    .and_then(Value::as_array)
                    .map(|groups| {
                        groups
                            .iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                UserInfo {
                    name: text("/spec/user").to_string(),
                    groups,
                    admin: false,
                }
            } else {
                user.clone()
            };
            let attributes = match review.pointer("/spec/nonResourceAttributes") {
                Some(_) => rbac::Attributes::non_resource(
                    &http::Method::GET,
                    text("/spec/nonResourceAttributes/path"),
                )
                .with_verb(text("/spec/nonResourceAttributes/verb")),
                None => rbac::Attributes {
                    verb: text("/spec/resourceAttributes/verb").to_string(),
                    resource_request: true,
                    path: String::new(),
                    group: text("/spec/resourceAttributes/group").to_string(),
                    resource: text("/spec/resourceAttributes/resource").to_string(),
                    subresource: text("/spec/resourceAttributes/subresource").to_string(),
                    namespace: text("/spec/resourceAttributes/namespace").to_string(),
                    name: text("/spec/resourceAttributes/name").to_string(),
                },
            };
            if rbac::allows(inner, &subject, &attributes) {
                json!({"allowed": true, "reason": "allowed by RBAC"})
            } else {
                json!({"allowed": false})
            }
        }
    }
}

/// Parses a JSON or YAML request body into an object.
pub(crate) fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = header_text(headers, header::CONTENT_TYPE);
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let value: Value = match media_type {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: {error}"
            ))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|error| ApiError::bad_request(format!("yaml: invalid UTF-8: {error}")))?;
            serde_saphyr::from_str(text).map_err(|error| {
                ApiError::bad_request(format!(
                    "couldn't get version/kind; yaml parse error: {error}"
                ))
            })?
        }
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: the body is not a JSON object",
        ));
    }
    Ok(value)
}

/// The object as served in the requested version, converted when it was stored in another.
pub(crate) fn served_view(resource: &ResourceType, object: &Value) -> Value {
    let converted = crate::conversion::convert(object, &resource.api_version());
    let Value::Object(fields) = converted else {
        return converted;
    };
    // apiVersion and kind first, as Go's serializer writes them.
    let mut view = serde_json::Map::with_capacity(fields.len() + 1);
    view.insert("apiVersion".into(), Value::String(resource.api_version()));
    view.insert("kind".into(), Value::String(resource.kind.clone()));
    for (key, value) in fields {
        if key != "apiVersion" && key != "kind" {
            view.insert(key, value);
        }
    }
    Value::Object(view)
}

fn metadata_view(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// Renders one object in the requested format.
pub(crate) fn render_one(
    resource: &ResourceType,
    object: &Value,
    format: Format,
    resource_version: u64,
) -> Reply {
    let view = served_view(resource, object);
    match format {
        Format::Object => Reply::json(200, view),
        Format::Metadata => {
            let mut reply = Reply::json(200, metadata_view(&view));
            reply.content_type =
                "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io".into();
            reply
        }
        Format::Table(include) => {
            let mut reply = Reply::json(
                200,
                table(
                    &resource.columns,
                    &[view],
                    include,
                    json!({"resourceVersion": resource_version.to_string()}),
                    jiff::Timestamp::now(),
                ),
            );
            reply.content_type = "application/json;as=Table;v=v1;g=meta.k8s.io".into();
            reply
        }
    }
}

fn get(
    app: &App,
    resource: &ResourceType,
    namespace: &str,
    name: &str,
    subresource: Option<&str>,
    format: Format,
) -> Result<Reply, ApiError> {
    let inner = app.store.lock();
    let key = ObjectKey::new(&resource.storage_group, &resource.plural, namespace, name);
    let object = inner
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&resource.group, &resource.plural, name))?;
    if subresource == Some("scale") {
        return Ok(Reply::json(200, writes::scale_view(resource, object)?));
    }
    Ok(render_one(
        resource,
        object,
        format,
        inner.resource_version(),
    ))
}

fn continue_token(key: &ObjectKey) -> String {
    hex::encode(format!("{}/{}", key.namespace, key.name))
}

fn parse_continue(token: &str) -> Result<(String, String), ApiError> {
    let invalid = || {
        ApiError::bad_request(format!(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1): {token}"
        ))
    };
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (namespace, name) = text.split_once('/').ok_or_else(invalid)?;
    Ok((namespace.to_string(), name.to_string()))
}

fn list(
    app: &App,
    resource: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    format: Format,
) -> Result<Reply, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(
        query.get("fieldSelector").unwrap_or(""),
        &resource.field_selectors,
    )?;
    let limit = match query.get("limit") {
        None | Some("") => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {text}")))?,
    };
    let after = match query.get("continue") {
        None | Some("") => None,
        Some(token) => Some(parse_continue(token)?),
    };
    let inner = app.store.lock();
    let resource_version = inner.resource_version();
    let after = after
        .as_ref()
        .map(|(namespace, name)| (namespace.as_str(), name.as_str()));
    let matching = inner
        .list_after(&resource.storage_group, &resource.plural, namespace, after)
        .filter(|(_, object)| labels.matches(object) && fields.matches(object));
    let mut items = Vec::new();
    let mut last_key = None;
    let mut more = false;
    for (key, object) in matching {
        if limit > 0 && items.len() == limit {
            more = true;
            break;
        }
        items.push(served_view(resource, object));
        last_key = Some(key.clone());
    }
    drop(inner);
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if more && let Some(key) = &last_key {
        metadata["continue"] = json!(continue_token(key));
    }
    Ok(match format {
        Format::Object => Reply::json(
            200,
            json!({
                "kind": resource.list_kind,
                "apiVersion": resource.api_version(),
                "metadata": metadata,
                "items": items,
            }),
        ),
        Format::Metadata => {
            let items: Vec<Value> = items.iter().map(metadata_view).collect();
            let mut reply = Reply::json(
                200,
                json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                    "items": items,
                }),
            );
            reply.content_type =
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into();
            reply
        }
        Format::Table(include) => {
            let mut reply = Reply::json(
                200,
                table(
                    &resource.columns,
                    &items,
                    include,
                    metadata,
                    jiff::Timestamp::now(),
                ),
            );
            reply.content_type = "application/json;as=Table;v=v1;g=meta.k8s.io".into();
            reply
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let key = ObjectKey::new("", "configmaps", "team-a", "settings");
        assert_eq!(
            parse_continue(&continue_token(&key)),
            Ok(("team-a".to_string(), "settings".to_string()))
        );
        assert_eq!(parse_continue("zz").map_err(|error| error.code), Err(400));
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        let headers = HeaderMap::new();
        assert_eq!(
            decode_body(&headers, b"{nope").map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(decode_body(&headers, b"[1]").map_err(|e| e.code), Err(400));
        let mut yaml = HeaderMap::new();
        yaml.insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/yaml"),
        );
        assert_eq!(
            decode_body(&yaml, b"kind: ConfigMap\nmetadata:\n  name: a\n")
                .map(|v| v["kind"].clone()),
            Ok(json!("ConfigMap"))
        );
        assert_eq!(
            decode_body(&yaml, b"kind: [unclosed").map_err(|e| e.code),
            Err(400)
        );
    }
}

//! Writes with kube-apiserver semantics: create, update, patch and delete, including the
//! status and scale subresources, system metadata (uid, creationTimestamp, generation,
//! resourceVersion), optimistic concurrency, dry runs, field validation for custom resources,
//! finalizers and the deletion propagation policies. All of it runs under the store lock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::crd;
use crate::kinds::ResourceType;
use crate::lifecycle;
use crate::object::{
    finalizers, is_deleting, meta_str, metadata_mut, name_problem, new_uid, normalize,
    random_suffix, set_finalizers, timestamp,
};
use crate::patch::{self, PatchType};
use crate::schema;
use crate::server::{Query, Reply};
use crate::ssa;
use crate::status::{ApiError, cause};
use crate::store::{EventType, Inner, ObjectKey};
use crate::table::json_path;
use crate::validation;

/// How unknown fields in custom resources are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Reject the request.
    Strict,
    /// Drop the fields and return a warning (the server default).
    Warn,
    /// Drop the fields silently.
    Ignore,
}

/// Per-request settings and accumulated warnings for a write.
pub(crate) struct WriteContext<'a> {
    /// The resource written.
    pub(crate) resource: &'a ResourceType,
    /// The namespace from the path, empty for cluster-scoped resources.
    pub(crate) namespace: String,
    /// `dryRun=All`.
    pub(crate) dry_run: bool,
    /// `fieldValidation`.
    pub(crate) field_validation: FieldValidation,
    /// `fieldManager`.
    pub(crate) field_manager: Option<String>,
    /// The manager recorded for non-apply writes without `fieldManager`: the User-Agent's
    /// product name, as kube-apiserver derives it.
    pub(crate) default_manager: String,
    /// `force=true` (applies take over conflicting fields).
    pub(crate) force: bool,
    /// managedFields an apply already computed for the object being written.
    pub(crate) applied_managed_fields: Option<Value>,
    /// The subresource written, for ownership records.
    pub(crate) subresource: Option<String>,
    /// Why the requester may not create, when an apply would create the object.
    pub(crate) create_denied: Option<ApiError>,
    /// The time of the request.
    pub(crate) now: jiff::Timestamp,
    /// Warnings for the response.
    pub(crate) warnings: Vec<String>,
}

impl<'a> WriteContext<'a> {
    /// Reads the write-related query parameters.
    pub(crate) fn new(
        resource: &'a ResourceType,
        namespace: &str,
        query: &Query,
    ) -> Result<Self, ApiError> {
        let dry_run = match query.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: \"{other}\": supported values: \"All\""
                )));
            }
        };
        let field_validation = match query.get("fieldValidation") {
            None | Some("") | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation parameter unsupported: {other}"
                )));
            }
        };
        Ok(WriteContext {
            resource,
            namespace: namespace.to_string(),
            dry_run,
            field_validation,
            field_manager: query.get("fieldManager").map(str::to_string),
            default_manager: "unknown".to_string(),
            force: query.flag("force"),
            applied_managed_fields: None,
            subresource: None,
            create_denied: None,
            now: jiff::Timestamp::now(),
            warnings: Vec::new(),
        })
    }

    /// The response for a written object, served in the requested version.
    pub(crate) fn reply(self, code: u16, object: Value) -> Reply {
        let body = if object.get("kind").and_then(Value::as_str) == Some("Scale")
            || object.get("items").is_some()
        {
            object
        } else {
            crate::handlers::served_view(self.resource, &object)
        };
        let mut reply = Reply::json(code, body);
        reply.warnings = self.warnings;
        reply
    }

    /// Takes the default manager name from a User-Agent header (`kubectl/v1.32 ...` → `kubectl`).
    pub(crate) fn with_user_agent(mut self, user_agent: &str) -> Self {
        let product = user_agent.split('/').next().unwrap_or("").trim();
        if !product.is_empty() {
            self.default_manager = product.chars().take(128).collect();
        }
        self
    }

    fn manager(&self) -> String {
        self.field_manager
            .clone()
            .unwrap_or_else(|| self.default_manager.clone())
    }

    /// Sets the object's managedFields: the ones an apply computed, or this write recorded as
    /// an `Update` by its manager.
    fn track_ownership(
        &mut self,
        existing: Option<&Value>,
        object: &mut Value,
        subresource: Option<&str>,
    ) {
        if let Some(managed) = self.applied_managed_fields.take() {
            if let Some(metadata) = metadata_mut(object) {
                if managed.as_array().is_some_and(Vec::is_empty) {
                    metadata.remove("managedFields");
                } else {
                    metadata.insert("managedFields".into(), managed);
                }
            }
            return;
        }
        let manager = self.manager();
        let now = timestamp(self.now);
        let write = ssa::managed::Write {
            resource: self.resource,
            manager: &manager,
            subresource,
            force: false,
            now: &now,
        };
        ssa::managed::record_update(&write, existing, object);
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(
            &self.resource.storage_group,
            &self.resource.plural,
            &self.namespace,
            name,
        )
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.resource.group, &self.resource.plural, name)
    }
}

/// Fills in or checks apiVersion and kind.
fn check_type(resource: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    let expected_version = resource.api_version();
    let Some(map) = object.as_object_mut() else {
        return Err(ApiError::bad_request("the body is not an object"));
    };
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(expected_version));
        }
        Some(version) if version == expected_version => {}
        Some(version) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({version}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(resource.kind));
        }
        Some(kind) if kind == resource.kind => {}
        Some(kind) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                resource.kind
            )));
        }
    }
    Ok(())
}

fn check_namespace(context: &WriteContext<'_>, object: &mut Value) -> Result<(), ApiError> {
    let given = meta_str(object, "namespace").to_string();
    let Some(metadata) = metadata_mut(object) else {
        return Err(ApiError::bad_request("the body is not an object"));
    };
    if context.resource.namespaced {
        if given.is_empty() {
            metadata.insert("namespace".into(), json!(context.namespace));
        } else if given != context.namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    } else {
        metadata.remove("namespace");
    }
    Ok(())
}

fn invalid(context: &WriteContext<'_>, name: &str, causes: Vec<crate::status::Cause>) -> ApiError {
    ApiError::invalid(
        &context.resource.group,
        &context.resource.kind,
        name,
        causes,
    )
}

/// Prunes, defaults and validates a custom resource against its schema.
fn apply_schema(
    context: &mut WriteContext<'_>,
    object: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(schema_document) = context.resource.schema.clone() else {
        return Ok(());
    };
    let unknown = schema::prune(&schema_document, object);
    if !unknown.is_empty() {
        match context.field_validation {
            FieldValidation::Strict => {
                let listed: Vec<String> = unknown
                    .iter()
                    .map(|field| format!("unknown field \"{}\"", field.trim_start_matches('.')))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    listed.join(", ")
                )));
            }
            FieldValidation::Warn => context.warnings.extend(
                unknown
                    .iter()
                    .map(|field| format!("unknown field \"{}\"", field.trim_start_matches('.'))),
            ),
            FieldValidation::Ignore => {}
        }
    }
    schema::apply_defaults(&schema_document, object);
    let mut causes = schema::validate(&schema_document, object);
    if causes.is_empty() {
        causes = crate::cel_rules::validate(&schema_document, object, old);
    }
    if !causes.is_empty() {
        return Err(invalid(context, meta_str(object, "name"), causes));
    }
    Ok(())
}

/// A Secret's write-only `stringData` merged into `data` (base64, `stringData` winning), as
/// kube-apiserver does when it decodes a v1 Secret: `stringData` is never stored or returned.
fn fold_string_data(resource: &ResourceType, object: &mut Value) {
    if resource.custom || !resource.group.is_empty() || resource.kind != "Secret" {
        return;
    }
    let Some(fields) = object.as_object_mut() else {
        return;
    };
    let Some(string_data) = fields.remove("stringData") else {
        return;
    };
    let Value::Object(string_data) = string_data else {
        return;
    };
    if string_data.is_empty() {
        return;
    }
    let data = fields
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let plain = value.as_str().unwrap_or_default();
            data.insert(key, Value::String(STANDARD.encode(plain)));
        }
    }
}

/// Defaults kube-apiserver fills in for built-in kinds that clients rely on seeing.
fn builtin_defaults(inner: &Inner, resource: &ResourceType, object: &mut Value) {
    if resource.custom {
        return;
    }
    crate::simulator::workload_defaults(resource, object);
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Secret")
            if object
                .get("type")
                .is_none_or(|kind| kind.as_str().is_some_and(str::is_empty)) =>
        {
            object["type"] = json!("Opaque");
        }
        ("", "Service") => {
            let spec = object
                .as_object_mut()
                .map(|map| map.entry("spec").or_insert_with(|| json!({})));
            if let Some(Value::Object(spec)) = spec {
                spec.entry("type").or_insert(json!("ClusterIP"));
                spec.entry("sessionAffinity").or_insert(json!("None"));
                if spec.get("type") != Some(&json!("ExternalName")) {
                    let ip = match spec.get("clusterIP") {
                        Some(Value::String(ip)) if !ip.is_empty() => json!(ip),
                        _ => json!(crate::simulator::allocate_cluster_ip(inner)),
                    };
                    spec.insert("clusterIP".into(), ip.clone());
                    if spec
                        .get("clusterIPs")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty)
                    {
                        spec.insert("clusterIPs".into(), json!([ip]));
                    }
                }
                if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        port.entry("protocol").or_insert(json!("TCP"));
                        if let Some(number) = port.get("port").cloned() {
                            port.entry("targetPort").or_insert(number);
                        }
                    }
                }
            }
        }
        ("apps", "Deployment" | "StatefulSet" | "ReplicaSet") => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("replicas").or_insert(json!(1));
            }
        }
        _ => {}
    }
}

/// The status a kind starts with, since create ignores any status given.
fn initial_status(resource: &ResourceType) -> Option<Value> {
    if resource.custom {
        return None;
    }
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("", "Namespace") => Some(json!({"phase": "Active"})),
        ("", "Pod" | "PersistentVolumeClaim") => Some(json!({"phase": "Pending"})),
        ("", "Service") => Some(json!({"loadBalancer": {}})),
        _ => None,
    }
}

fn check_namespace_exists(
    inner: &Inner,
    context: &WriteContext<'_>,
    creating: bool,
) -> Result<(), ApiError> {
    if !context.resource.namespaced {
        return Ok(());
    }
    let key = ObjectKey::new("", "namespaces", "", &context.namespace);
    match inner.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", &context.namespace)),
        Some(namespace) if creating && is_deleting(namespace) => Err(ApiError::forbidden(
            &context.resource.group,
            &context.resource.plural,
            "",
            &format!(
                "unable to create new content in namespace {} because it is being terminated",
                context.namespace
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Creates an object; returns it as stored (or as it would be, for dry runs).
pub(crate) fn create(
    inner: &mut Inner,
    context: &mut WriteContext<'_>,
    mut object: Value,
) -> Result<Value, ApiError> {
    let resource = context.resource;
    check_type(resource, &mut object)?;
    check_namespace(context, &mut object)?;
    let mut name = meta_str(&object, "name").to_string();
    if name.is_empty() {
        let prefix = meta_str(&object, "generateName").to_string();
        if prefix.is_empty() {
            return Err(invalid(
                context,
                "",
                vec![cause(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )],
            ));
        }
        name = format!("{prefix}{}", random_suffix());
        if let Some(metadata) = metadata_mut(&mut object) {
            metadata.insert("name".into(), json!(name));
        }
    }
    if let Some(problem) = name_problem(&name, resource.name_rule) {
        return Err(invalid(
            context,
            &name,
            vec![cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {problem}"),
            )],
        ));
    }
    fold_string_data(resource, &mut object);
    let causes = validation::metadata_causes(&object)?;
    if !causes.is_empty() {
        return Err(invalid(context, &name, causes));
    }
    if resource.has_status {
        if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
        if let Some(status) = initial_status(resource) {
            object["status"] = status;
        }
    }
    apply_schema(context, &mut object, None)?;
    builtin_defaults(inner, resource, &mut object);
    if is_definition(resource) {
        let causes = crd::validate_definition(&object, &inner.registry);
        if !causes.is_empty() {
            return Err(invalid(context, &name, causes));
        }
        crd::establish(&mut object, context.now);
    }
    if resource.kind == "Namespace" && !resource.custom {
        object["spec"] = json!({"finalizers": ["kubernetes"]});
        label_namespace(&mut object, &name);
    }
    if let Some(metadata) = metadata_mut(&mut object) {
        metadata.insert("uid".into(), json!(new_uid()));
        metadata.insert("creationTimestamp".into(), json!(timestamp(context.now)));
        for system_field in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
            "managedFields",
        ] {
            metadata.remove(system_field);
        }
        if resource.tracks_generation {
            metadata.insert("generation".into(), json!(1));
        } else {
            metadata.remove("generation");
        }
    }
    normalize(&mut object, !resource.custom);
    context.track_ownership(None, &mut object, None);
    check_namespace_exists(inner, context, true)?;
    let key = context.key(&name);
    if inner.get(&key).is_some() {
        return Err(ApiError::already_exists(
            &resource.group,
            &resource.plural,
            &name,
        ));
    }
    if context.dry_run {
        return Ok(object);
    }
    if is_definition(resource) {
        register_definition(inner, &object);
    }
    Ok(inner.write(key, object, EventType::Added))
}

/// kube-apiserver keeps `kubernetes.io/metadata.name` on every namespace, so selectors can
/// name namespaces.
fn label_namespace(namespace: &mut Value, name: &str) {
    if let Some(metadata) = metadata_mut(namespace) {
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Value::Object(Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(Map::new());
        }
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
}

fn is_definition(resource: &ResourceType) -> bool {
    !resource.custom && resource.kind == "CustomResourceDefinition"
}

fn register_definition(inner: &mut Inner, crd: &Value) {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    inner
        .registry
        .replace(group, plural, crd::resource_types(crd));
}

fn resource_version_of(object: &Value) -> &str {
    meta_str(object, "resourceVersion")
}

/// The content that drives generation: everything except metadata and status.
fn spec_content(object: &Value) -> Value {
    let mut content = object.clone();
    if let Some(map) = content.as_object_mut() {
        for field in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(field);
        }
    }
    content
}

fn without_resource_version(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    copy
}

/// The final step of every update: system metadata, schema, generation, no-op detection,
/// storage and finalization. `candidate` is the full new object.
fn commit_update(
    inner: &mut Inner,
    context: &mut WriteContext<'_>,
    existing: &Value,
    mut candidate: Value,
) -> Result<(u16, Value), ApiError> {
    let resource = context.resource;
    let name = meta_str(existing, "name").to_string();
    check_type(resource, &mut candidate)?;
    let Some(metadata) = metadata_mut(&mut candidate) else {
        return Err(ApiError::bad_request("the body is not an object"));
    };
    for preserved in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match existing.pointer(&format!("/metadata/{preserved}")) {
            Some(value) => {
                metadata.insert(preserved.into(), value.clone());
            }
            None => {
                metadata.remove(preserved);
            }
        }
    }
    metadata.remove("selfLink");
    if is_deleting(existing) {
        let before = finalizers(existing);
        if finalizers(&candidate)
            .iter()
            .any(|finalizer| !before.contains(finalizer))
        {
            return Err(ApiError::forbidden(
                &resource.group,
                &resource.plural,
                &name,
                "no new finalizers can be added if the object is being deleted",
            ));
        }
    }
    fold_string_data(resource, &mut candidate);
    validation::carry_over(resource, existing, &mut candidate);
    let mut causes = validation::metadata_causes(&candidate)?;
    causes.extend(validation::immutable_causes(resource, existing, &candidate));
    if !causes.is_empty() {
        return Err(invalid(context, &name, causes));
    }
    apply_schema(context, &mut candidate, Some(existing))?;
    if is_definition(resource) {
        let causes = crd::validate_definition(&candidate, &inner.registry);
        if !causes.is_empty() {
            return Err(invalid(context, &name, causes));
        }
        crd::establish(&mut candidate, context.now);
    }
    if resource.kind == "Namespace" && !resource.custom {
        candidate["spec"] = existing.get("spec").cloned().unwrap_or(json!({}));
        label_namespace(&mut candidate, &name);
    }
    normalize(&mut candidate, !resource.custom);
    if resource.tracks_generation && spec_content(&candidate) != spec_content(existing) {
        let generation = existing
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(metadata) = metadata_mut(&mut candidate) {
            metadata.insert("generation".into(), json!(generation + 1));
        }
    }
    let subresource = context.subresource.clone();
    context.track_ownership(Some(existing), &mut candidate, subresource.as_deref());
    if without_resource_version(&candidate) == without_resource_version(existing) {
        return Ok((200, existing.clone()));
    }
    if context.dry_run {
        return Ok((200, candidate));
    }
    let key = context.key(&name);
    let finalized = is_deleting(&candidate) && finalizers(&candidate).is_empty();
    if is_definition(resource) {
        register_definition(inner, &candidate);
    }
    let stored = inner.write(key.clone(), candidate, EventType::Modified);
    if finalized {
        lifecycle::remove_object(inner, &key);
    }
    Ok((200, stored))
}

fn check_precondition(
    context: &WriteContext<'_>,
    existing: &Value,
    given: &str,
) -> Result<(), ApiError> {
    if !given.is_empty() && given != resource_version_of(existing) {
        return Err(ApiError::stale(
            &context.resource.group,
            &context.resource.plural,
            meta_str(existing, "name"),
        ));
    }
    Ok(())
}

/// Merges a submitted object into the existing one according to the subresource written.
fn merge_for_subresource(
    context: &WriteContext<'_>,
    existing: &Value,
    submitted: Value,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    match subresource {
        Some("status") => {
            let mut merged = existing.clone();
            match submitted.get("status") {
                Some(status) => merged["status"] = status.clone(),
                None => {
                    if let Some(map) = merged.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
            if let Some(version) = submitted.pointer("/metadata/resourceVersion") {
                merged["metadata"]["resourceVersion"] = version.clone();
            }
            Ok(merged)
        }
        Some("finalize") => {
            let mut merged = existing.clone();
            merged["spec"] = submitted.get("spec").cloned().unwrap_or(json!({}));
            Ok(merged)
        }
        Some("scale") => {
            let replicas = submitted
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    "autoscaling",
                    "Scale",
                    meta_str(existing, "name"),
                    vec![cause(
                        "FieldValueInvalid",
                        "spec.replicas",
                        format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                    )],
                ));
            }
            let mut merged = existing.clone();
            if let Some(paths) = &context.resource.scale {
                set_path(&mut merged, &paths.spec_replicas, json!(replicas));
            }
            if let Some(version) = submitted.pointer("/metadata/resourceVersion") {
                merged["metadata"]["resourceVersion"] = version.clone();
            }
            Ok(merged)
        }
        _ => {
            let mut merged = submitted;
            if context.resource.has_status {
                match existing.get("status") {
                    Some(status) => merged["status"] = status.clone(),
                    None => {
                        if let Some(map) = merged.as_object_mut() {
                            map.remove("status");
                        }
                    }
                }
            }
            Ok(merged)
        }
    }
}

fn finish_subresource(
    context: &WriteContext<'_>,
    subresource: Option<&str>,
    result: (u16, Value),
) -> Result<(u16, Value), ApiError> {
    if subresource == Some("scale") {
        return Ok((result.0, scale_view(context.resource, &result.1)?));
    }
    Ok(result)
}

/// Replaces an object (PUT).
pub(crate) fn update(
    inner: &mut Inner,
    context: &mut WriteContext<'_>,
    name: &str,
    subresource: Option<&str>,
    mut submitted: Value,
) -> Result<(u16, Value), ApiError> {
    if subresource != Some("scale") {
        check_type(context.resource, &mut submitted)?;
        check_namespace(context, &mut submitted)?;
    }
    let body_name = meta_str(&submitted, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    check_namespace_exists(inner, context, false)?;
    context.subresource = subresource.map(str::to_string);
    let key = context.key(name);
    let existing = inner
        .get(&key)
        .map(|existing| crate::handlers::served_view(context.resource, existing))
        .ok_or_else(|| context.not_found(name))?;
    check_precondition(context, &existing, resource_version_of(&submitted))?;
    let candidate = merge_for_subresource(context, &existing, submitted, subresource)?;
    let result = commit_update(inner, context, &existing, candidate)?;
    finish_subresource(context, subresource, result)
}

/// Patches an object.
pub(crate) fn patch(
    inner: &mut Inner,
    context: &mut WriteContext<'_>,
    name: &str,
    subresource: Option<&str>,
    patch_type: PatchType,
    body: &[u8],
) -> Result<(u16, Value), ApiError> {
    check_namespace_exists(inner, context, false)?;
    let key = context.key(name);
    if patch_type == PatchType::Apply && context.field_manager.is_none() {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![cause(
                "FieldValueRequired",
                "fieldManager",
                "Required value: is required for apply patch",
            )],
        ));
    }
    if patch_type == PatchType::Strategic && context.resource.custom {
        return Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
        ));
    }
    let existing = inner
        .get(&key)
        .map(|existing| crate::handlers::served_view(context.resource, existing));
    context.subresource = subresource.map(str::to_string);
    let Some(existing) = existing else {
        if patch_type == PatchType::Apply && subresource.is_none() {
            if let Some(denied) = context.create_denied.take() {
                return Err(denied);
            }
            let mut object = parse_apply(body)?;
            check_type(context.resource, &mut object)?;
            let applied = server_side_apply(context, None, &object)?;
            let created = create(inner, context, applied)?;
            return Ok((201, created));
        }
        return Err(context.not_found(name));
    };
    let mut view = match subresource {
        Some("scale") => scale_view(context.resource, &existing)?,
        _ => existing.clone(),
    };
    match patch_type {
        PatchType::Json => patch::apply_json_patch(&mut view, body)?,
        PatchType::Merge => patch::apply_merge_patch(&mut view, &patch::parse_object_patch(body)?),
        PatchType::Strategic => {
            patch::apply_strategic_patch(&mut view, &patch::parse_object_patch(body)?)?
        }
        PatchType::Apply => {
            let applied = parse_apply(body)?;
            let applied_name = meta_str(&applied, "name");
            if !applied_name.is_empty() && applied_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({applied_name}) does not match the name on the URL ({name})"
                )));
            }
            if matches!(subresource, None | Some("status")) {
                let mut applied = applied;
                check_type(context.resource, &mut applied)?;
                view = server_side_apply(context, Some(&existing), &applied)?;
            } else {
                patch::apply_merge_patch(&mut view, &applied);
            }
        }
    }
    if !view.is_object() {
        return Err(ApiError::bad_request(
            "the patch produced something that is not an object",
        ));
    }
    check_precondition(context, &existing, resource_version_of(&view))?;
    if meta_str(&view, "name") != name {
        return Err(ApiError::bad_request(
            "the patch changed metadata.name, which is immutable",
        ));
    }
    let candidate = merge_for_subresource(context, &existing, view, subresource)?;
    let result = commit_update(inner, context, &existing, candidate)?;
    finish_subresource(context, subresource, result)
}

/// Runs a server-side apply; the managedFields it computes are kept for the commit.
fn server_side_apply(
    context: &mut WriteContext<'_>,
    live: Option<&Value>,
    config: &Value,
) -> Result<Value, ApiError> {
    let manager = context.manager();
    let now = timestamp(context.now);
    let write = ssa::managed::Write {
        resource: context.resource,
        manager: &manager,
        subresource: context.subresource.as_deref(),
        force: context.force,
        now: &now,
    };
    let mut applied = ssa::managed::apply(&write, live, config)?;
    context.applied_managed_fields = applied
        .pointer("/metadata/managedFields")
        .cloned()
        .or(Some(Value::Array(Vec::new())));
    if let Some(metadata) = metadata_mut(&mut applied) {
        metadata.remove("managedFields");
    }
    Ok(applied)
}

fn parse_apply(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|error| ApiError::bad_request(format!("error decoding YAML: {error}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the body is not an object",
        ));
    }
    Ok(value)
}

/// The deletion propagation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// Delete now; dependents are collected afterwards.
    Background,
    /// Delete dependents first.
    Foreground,
    /// Keep dependents, dropping their owner references.
    Orphan,
}

/// DeleteOptions from the query and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeleteOptions {
    /// propagationPolicy.
    pub(crate) propagation: Propagation,
    /// preconditions.uid.
    pub(crate) uid: Option<String>,
    /// preconditions.resourceVersion.
    pub(crate) resource_version: Option<String>,
}

impl DeleteOptions {
    /// Reads options from the query string and an optional JSON or protobuf body.
    pub(crate) fn from_request(query: &Query, body: &[u8]) -> Result<Self, ApiError> {
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else if body.starts_with(b"k8s\0") {
            // client-go's typed clients (Helm's release storage, for one) send protobuf; no JSON
            // body starts with these bytes, so sniffing is as good as reading Content-Type.
            crate::protobuf::decode(body)?
        } else {
            serde_json::from_slice(body).map_err(|error| {
                ApiError::bad_request(format!("error decoding DeleteOptions: {error}"))
            })?
        };
        let policy = query
            .get("propagationPolicy")
            .map(str::to_string)
            .or_else(|| {
                body.get("propagationPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        let orphan_dependents = query
            .get("orphanDependents")
            .map(|value| value == "true")
            .or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
        let propagation = match (policy.as_deref(), orphan_dependents) {
            (Some("Background") | None, Some(false) | None) => Propagation::Background,
            (Some("Foreground"), _) => Propagation::Foreground,
            (Some("Orphan"), _) | (None, Some(true)) => Propagation::Orphan,
            (Some("Background"), Some(true)) => Propagation::Orphan,
            (Some(other), _) => {
                return Err(ApiError::invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    vec![cause(
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        format!(
                            "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                        ),
                    )],
                ));
            }
        };
        let precondition = |field: &str| {
            body.pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(DeleteOptions {
            propagation,
            uid: precondition("uid"),
            resource_version: precondition("resourceVersion"),
        })
    }
}

/// Deletes an object: marks it when finalizers (or the propagation policy) hold it, removes it otherwise.
pub(crate) fn delete(
    inner: &mut Inner,
    context: &mut WriteContext<'_>,
    name: &str,
    options: &DeleteOptions,
) -> Result<(u16, Value), ApiError> {
    let resource = context.resource;
    let key = context.key(name);
    let existing = inner
        .get(&key)
        .cloned()
        .ok_or_else(|| context.not_found(name))?;
    if let Some(uid) = &options.uid
        && uid != meta_str(&existing, "uid")
    {
        return Err(ApiError::conflict(
            &resource.group,
            &resource.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(&existing, "uid")
            ),
        ));
    }
    if let Some(version) = &options.resource_version
        && version != resource_version_of(&existing)
    {
        return Err(ApiError::conflict(
            &resource.group,
            &resource.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {version}, ResourceVersion in object meta: {}",
                resource_version_of(&existing)
            ),
        ));
    }
    let is_namespace = !resource.custom && resource.kind == "Namespace";
    if is_namespace && matches!(name, "default" | "kube-system" | "kube-public") {
        return Err(ApiError::forbidden(
            "",
            "namespaces",
            name,
            "this namespace may not be deleted",
        ));
    }
    let mut held = finalizers(&existing);
    let policy_finalizer = match options.propagation {
        Propagation::Background => None,
        Propagation::Foreground => Some("foregroundDeletion"),
        Propagation::Orphan => Some("orphan"),
    };
    if let Some(finalizer) = policy_finalizer
        && !held.iter().any(|held| held == finalizer)
    {
        held.push(finalizer.to_string());
    }
    if is_definition(resource)
        && lifecycle::definition_has_objects(inner, &existing)
        && !held
            .iter()
            .any(|held| held == lifecycle::DEFINITION_CLEANUP)
    {
        // Like kube-apiserver, the CRD stays until its objects (and their finalizers) are gone.
        held.push(lifecycle::DEFINITION_CLEANUP.to_string());
    }
    if held.is_empty() && !is_namespace {
        if context.dry_run {
            return Ok((200, existing));
        }
        if is_definition(resource) {
            lifecycle::remove_definition(inner, &existing);
        }
        let removed = lifecycle::remove_object(inner, &key).unwrap_or(existing);
        return Ok((200, removed));
    }
    let mut marked = existing.clone();
    set_finalizers(&mut marked, &held);
    if !is_deleting(&existing) {
        if let Some(metadata) = metadata_mut(&mut marked) {
            metadata.insert("deletionTimestamp".into(), json!(timestamp(context.now)));
            metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
            if let Some(generation) = existing
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
            {
                metadata.insert("generation".into(), json!(generation + 1));
            }
        }
        if is_namespace {
            marked["status"] = json!({"phase": "Terminating"});
        }
    }
    if marked == existing || context.dry_run {
        return Ok((202, marked));
    }
    let stored = inner.write(key, marked, EventType::Modified);
    Ok((202, stored))
}

/// Writes `value` at a dotted path such as `.spec.replicas`, creating objects on the way.
pub(crate) fn set_path(object: &mut Value, path: &str, value: Value) {
    let fields: Vec<&str> = path
        .trim_start_matches('.')
        .split('.')
        .filter(|f| !f.is_empty())
        .collect();
    let Some((last, parents)) = fields.split_last() else {
        return;
    };
    let mut current = object;
    for field in parents {
        if !current.get(*field).is_some_and(Value::is_object) {
            current[*field] = Value::Object(Map::new());
        }
        current = &mut current[*field];
    }
    current[*last] = value;
}

fn selector_text(selector: &Value) -> String {
    if let Value::String(text) = selector {
        return text.clone();
    }
    let mut parts = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            parts.push(format!("{key}={}", value.as_str().unwrap_or("")));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expression in expressions {
            let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match expression.get("operator").and_then(Value::as_str) {
                Some("In") => parts.push(format!("{key} in ({})", values.join(","))),
                Some("NotIn") => parts.push(format!("{key} notin ({})", values.join(","))),
                Some("Exists") => parts.push(key.to_string()),
                Some("DoesNotExist") => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

/// The autoscaling/v1 Scale view of an object with a scale subresource.
pub(crate) fn scale_view(resource: &ResourceType, object: &Value) -> Result<Value, ApiError> {
    let Some(paths) = &resource.scale else {
        return Err(ApiError::unknown_resource());
    };
    let read = |path: &str| json_path(object, path).into_iter().next();
    let spec_replicas = read(&paths.spec_replicas).unwrap_or(json!(0));
    let status_replicas = read(&paths.status_replicas).unwrap_or(json!(0));
    let mut status = json!({"replicas": status_replicas});
    if let Some(selector) = paths.label_selector.as_deref().and_then(read) {
        status["selector"] = json!(selector_text(&selector));
    }
    let metadata = object.get("metadata").cloned().unwrap_or(json!({}));
    let mut scale_metadata = Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(field) {
            scale_metadata.insert(field.into(), value.clone());
        }
    }
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_metadata,
        "spec": {"replicas": spec_replicas},
        "status": status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_creates_missing_parents() {
        let mut object = json!({});
        set_path(&mut object, ".spec.replicas", json!(3));
        assert_eq!(object, json!({"spec": {"replicas": 3}}));
    }

    #[test]
    fn label_selectors_are_rendered_for_scale_status() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        assert_eq!(selector_text(&selector), "app=web,tier in (a,b)");
    }

    #[test]
    fn delete_options_read_policy_from_body_or_query() {
        let options = DeleteOptions::from_request(
            &Query::default(),
            br#"{"propagationPolicy":"Foreground"}"#,
        );
        assert_eq!(options.map(|o| o.propagation), Ok(Propagation::Foreground));
        let query = Query::parse(Some("propagationPolicy=Orphan"));
        assert_eq!(
            DeleteOptions::from_request(&query, b"").map(|o| o.propagation),
            Ok(Propagation::Orphan)
        );
        let bad = DeleteOptions::from_request(&Query::parse(Some("propagationPolicy=Later")), b"");
        assert_eq!(bad.map_err(|error| error.code), Err(422));
    }

    #[test]
    fn delete_options_are_read_from_the_protobuf_body_client_go_sends() {
        // Byte for byte what Helm v4's Secret storage sends to delete a release revision.
        let helm = b"k8s\0\n\x13\n\x02v1\x12\rDeleteOptions\x12\x00\x1a\x00\"\x00";
        let options = DeleteOptions::from_request(&Query::default(), helm);
        assert_eq!(options.map(|o| o.propagation), Ok(Propagation::Background));
        // apps/v1 DeleteOptions{propagationPolicy: Foreground, preconditions: {uid: "u1"}}.
        let raw = b"\x12\x04\x0a\x02u1\x22\x0aForeground";
        let mut body = b"k8s\0\n\x18\n\x07apps/v1\x12\rDeleteOptions\x12".to_vec();
        body.push(raw.len() as u8);
        body.extend_from_slice(raw);
        let options = DeleteOptions::from_request(&Query::default(), &body);
        assert_eq!(
            options.map(|o| (o.propagation, o.uid)),
            Ok((Propagation::Foreground, Some("u1".to_string())))
        );
    }
}

//! Reading, applying and deleting the objects a FluxConfig generates, through the API server.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eddy_api::kustomize::v1::Kustomization;
use eddy_api::meta::field_managers::FLUX_CONFIG_AGENT;
use eddy_api::source::v1::{Bucket, GitRepository, OCIRepository};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::Value;

/// A failed request, with what was being done (never secret values).
#[derive(Debug, thiserror::Error)]
#[error("{action} {kind} {namespace}/{name}: {source}")]
pub struct ObjectError {
    /// What was being done.
    pub action: &'static str,
    /// Kind of the object.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// The client error.
    #[source]
    pub source: kube::Error,
}

/// The API resources of the source kinds the agent can generate.
pub fn source_resources() -> [ApiResource; 3] {
    [
        ApiResource::erase::<GitRepository>(&()),
        ApiResource::erase::<Bucket>(&()),
        ApiResource::erase::<OCIRepository>(&()),
    ]
}

/// The API resource of a source kind by name.
pub fn source_resource(kind: &str) -> Option<ApiResource> {
    source_resources()
        .into_iter()
        .find(|resource| resource.kind == kind)
}

/// The API resource of Kustomizations.
pub fn kustomization_resource() -> ApiResource {
    ApiResource::erase::<Kustomization>(&())
}

/// Talks to the API server for the reconciler.
#[derive(Clone)]
pub struct Objects {
    client: kube::Client,
}

impl Objects {
    /// Objects read and written with `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn dynamic(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }

    fn error(
        action: &'static str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        source: kube::Error,
    ) -> ObjectError {
        ObjectError {
            action,
            kind: kind.to_string(),
            namespace: namespace.unwrap_or_default().to_string(),
            name: name.to_string(),
            source,
        }
    }

    /// Server-side applies `body` (field manager `flux-config-agent`, forced: the agent owns
    /// these objects).
    pub async fn apply(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        name: &str,
        body: &Value,
    ) -> Result<(), ObjectError> {
        let params = PatchParams::apply(FLUX_CONFIG_AGENT).force();
        self.dynamic(resource, namespace)
            .patch(name, &params, &Patch::Apply(body))
            .await
            .map(|_| ())
            .map_err(|source| Self::error("applying", &resource.kind, namespace, name, source))
    }

    /// Reads an object, `None` when it does not exist.
    pub async fn get(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ObjectError> {
        self.dynamic(resource, namespace)
            .get_opt(name)
            .await
            .map(|object| object.and_then(|object| serde_json::to_value(object).ok()))
            .map_err(|source| Self::error("reading", &resource.kind, namespace, name, source))
    }

    /// Names of the objects of `resource` matching `selector`.
    pub async fn list_names(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        selector: &str,
    ) -> Result<Vec<String>, ObjectError> {
        let params = ListParams::default().labels(selector);
        self.dynamic(resource, namespace)
            .list_metadata(&params)
            .await
            .map(|list| {
                list.items
                    .into_iter()
                    .filter_map(|object| object.metadata.name)
                    .collect()
            })
            .map_err(|source| Self::error("listing", &resource.kind, namespace, selector, source))
    }

    /// Deletes an object (background propagation); gone already is fine.
    pub async fn delete(
        &self,
        resource: &ApiResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ObjectError> {
        match self
            .dynamic(resource, namespace)
            .delete(name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Self::error(
                "deleting",
                &resource.kind,
                namespace,
                name,
                source,
            )),
        }
    }

    /// The data of a Secret, `None` when it does not exist.
    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, ObjectError> {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.client.clone(), namespace);
        let secret = secrets
            .get_opt(name)
            .await
            .map_err(|source| Self::error("reading", "Secret", Some(namespace), name, source))?;
        Ok(secret.map(|secret| {
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| (key, value.0))
                .collect()
        }))
    }
}

/// The JSON `data` of a Secret.
pub fn secret_data_json(data: &BTreeMap<String, Vec<u8>>) -> Value {
    Value::Object(
        data.iter()
            .map(|(key, value)| (key.clone(), Value::String(STANDARD.encode(value))))
            .collect(),
    )
}

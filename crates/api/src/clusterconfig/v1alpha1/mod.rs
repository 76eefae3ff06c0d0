//! `clusterconfig.azure.com/v1alpha1`: `FluxConfig`, one GitOps configuration (a source plus
//! Kustomizations) as Azure's `microsoft.flux` extension models it.
//!
//! # Which shape, and why
//!
//! Azure publishes exactly one contract for Flux configurations: the ARM resource
//! `Microsoft.KubernetesConfiguration/fluxConfigurations` (TypeSpec in
//! `Azure/azure-rest-api-specs`). The CRD Azure installs on clusters is not published; what is
//! known of it from `kubectl describe` dumps differs from ARM (a `ref` instead of
//! `repositoryRef`, Go duration strings instead of `*InSeconds` integers, a list of
//! kustomizations instead of a map keyed by name, bookkeeping such as `operationId` and
//! `managedStatuses`). We do not copy that undocumented shape. Our `FluxConfig` spec is the ARM
//! `properties` object minus its read-only fields, with the same names, types and defaults, so
//! an ARM payload (or a Bicep/Terraform definition) translates field for field; the status is
//! ARM's read-only fields.
//!
//! # Deliberate differences from ARM
//!
//! * Secret values never live in the custom resource, where anyone allowed to read
//!   FluxConfigs could see them. ARM's write-only `configurationProtectedSettings` map becomes
//!   `protectedParametersSecretRef`, a reference to the `<config>-protected-parameters` Secret
//!   holding the same keys (this is also what Azure's own agent does). The other
//!   secret-valued ARM fields (Azure Blob `accountKey`, `sasToken`, service principal
//!   `clientSecret`, `clientCertificate`, `clientCertificatePassword`; OCI `tlsConfig`) are
//!   left out of the spec for the same reason and are read from that Secret under the keys in
//!   [`protected_keys`].
//! * The status adds three Kubernetes-side fields ARM does not have: `observedGeneration`,
//!   `conditions` and `lastHandledReconcileAt`, so that the shared controller harness,
//!   `kubectl wait --for=condition=Ready` and `reconcile.fluxcd.io/requestedAt` work as they
//!   do for Flux kinds.
//! * `namespace` has no schema default: ARM defaults it to `default`, the namespace the agent
//!   then creates the FluxConfig in; on the cluster an unset value means the FluxConfig's own
//!   namespace.

mod flux_config;
mod generation;
mod sources;
mod status;

pub use flux_config::*;
pub use generation::*;
pub use sources::*;
pub use status::*;

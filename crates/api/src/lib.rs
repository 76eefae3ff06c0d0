//! Eddy's API: every custom resource type Eddy serves and every contract string it shares with
//! Flux v2 (condition types, reasons, annotations, labels, finalizer, field managers).
//!
//! The types are field-for-field Flux v2.9's (`source.toolkit.fluxcd.io/v1`,
//! `kustomize.toolkit.fluxcd.io/v1`, `helm.toolkit.fluxcd.io/v2`,
//! `notification.toolkit.fluxcd.io/v1beta3` and `v1`, `image.toolkit.fluxcd.io/v1`) plus Azure's
//! `clusterconfig.azure.com/v1alpha1` FluxConfig in the shape of the ARM `fluxConfigurations`
//! resource. This crate does no I/O: it is shared by every controller, the CLI and the dev cluster.
//!
//! ```text
//!   meta          shared reference types, Artifact, constants (conditions, reasons, annotations…)
//!   source        GitRepository, HelmRepository, HelmChart, Bucket, OCIRepository, ExternalArtifact
//!   kustomize     Kustomization
//!   helm          HelmRelease
//!   notification  Alert, Provider (v1beta3), Receiver (v1)
//!   image         ImageRepository, ImagePolicy, ImageUpdateAutomation
//!   clusterconfig FluxConfig
//!   crds          the CustomResourceDefinitions of all of the above, as Flux declares them
//!   event         the event JSON controllers POST to notification-controller
//! ```

pub mod clusterconfig;
pub mod crds;
pub mod event;
pub mod helm;
pub mod image;
pub mod kustomize;
pub mod meta;
pub mod notification;
pub mod source;

//! `kustomize-controller`: makes a cluster match what a source says, the way Flux's
//! kustomize-controller does.
//!
//! A Kustomization (`kustomize.toolkit.fluxcd.io/v1`) names a source (GitRepository,
//! OCIRepository, Bucket, ExternalArtifact) and a path in its artifact. On every interval, on
//! every new artifact revision and on every spec change, the controller downloads the
//! artifact (size and digest verified, unpacked safely), writes the kustomization file the
//! build runs on (generated for plain YAML directories, with the Kustomization's overrides),
//! builds it with Eddy's kustomize engine, substitutes postBuild variables, stamps owner
//! labels and applies the objects with server-side apply in Flux's stages, each stage dry-run
//! first so a bad object leaves its whole stage untouched. The objects applied become
//! `status.inventory`; objects of the previous inventory no longer built are pruned; health
//! checks wait for what was applied. Every condition reason, message, event, annotation and
//! label a Flux user or tool can observe is Flux's.
//!
//! ```text
//!   flags          Flux's flags and feature gates
//!   kustomization  the reconciler: source, dependencies, fetch, generate, build, apply,
//!                  prune, health, finalizer (deletionPolicy), watches
//!   run            the process: start-up, controller with its watches, shutdown
//! ```
//!
//! The machinery is shared: eddy-runtime's harness (finalizer, suspend, summary conditions,
//! requeues, events, metrics), eddy-artifact (download), eddy-kustomize (build), eddy-apply
//! (substitution, staged apply, inventory, prune, kstatus), eddy-sops (SOPS decryption with
//! age keys), the `cel` crate (`readyExpr`, `healthCheckExprs`).
//!
//! Not in this build, and refused rather than half done: SOPS keys other than age (OpenPGP,
//! Vault, cloud KMS: "not supported") and `spec.kubeConfig.configMapRef` (workload identity:
//! the reconcile fails instead of applying to the local cluster). `spec.kubeConfig.secretRef`
//! applies to the remote cluster its kubeconfig names (`kustomization::remote`).

pub mod flags;
pub mod kustomization;
pub mod run;

pub use kustomization::{KustomizationReconciler, Settings};

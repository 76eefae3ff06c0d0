//! # eddy-apply: making a cluster match a set of manifests, the way Flux does
//!
//! kustomize-controller's contract with its users is mostly in the details of how it applies:
//! which objects go first, what counts as a change, what gets pruned, when a workload is
//! healthy, and what the messages say when something goes wrong. This crate holds that
//! machinery, ported from fluxcd/pkg (`ssa`, `envsubst`, `kustomize`) and
//! sigs.k8s.io/cli-utils (`kstatus`), and knows nothing about which controller calls it.
//!
//! ```text
//!  kustomize build ─► substitute (postBuild) ─► manifests::read_objects ─► normalize
//!    ─► owner labels (inventory::Owner) ─► manager::apply_all_staged
//!                                            │ stages, dry-run, drift, cleanup, SSA
//!    inventory::inventory_of(change set) ◄───┘
//!    inventory::stale_objects(old, new) ─► manager::delete_all (prune)
//!    manager::wait_for ─► kstatus::compute (health checks)
//! ```
//!
//! Most of it is pure data transformation and tested as such:
//!
//! - [`substitute`]: Flux's envsubst (`${var}`, `${var:=default}`, `$${var}`, strict mode,
//!   the `substitute: disabled` opt-out) over built objects.
//! - [`kstatus`]: the health of any object (Current, InProgress, Failed, Terminating, …).
//! - [`stages`]: apply stages and kind order.
//! - [`inventory`]: `status.inventory` entries, the stale-object diff and prune eligibility.
//! - [`policy`]: the `ssa`, `reconcile` and `force` annotations, immutable-error detection and
//!   the managed-fields cleanup patch that takes fields over from kubectl.
//! - [`drift`] and [`ignore`]: whether a dry-run result differs from the live object, and
//!   the `spec.ignore` rules (with [`selector`] expressions) that leave fields out of it.
//! - [`changeset`]: what happened to each object (`Deployment/dev/app configured`).
//! - [`manifests`]: the objects of a built YAML stream, as JSON; [`normalize`] puts them in
//!   the form the API server would (port protocols, Secret `stringData`, no `status`).
//!
//! [`manager`] performs the I/O on kube's `Api<DynamicObject>`: per stage it reads and
//! dry-runs every object before applying any, so one invalid object leaves its stage
//! untouched and the error names it.

pub mod changeset;
pub mod drift;
pub mod ignore;
pub mod inventory;
pub mod kstatus;
pub mod manager;
pub mod manifests;
pub mod normalize;
pub mod object;
pub mod policy;
pub mod selector;
pub mod stages;
pub mod substitute;

pub use changeset::{Action, ChangeSet, ChangeSetEntry};
pub use manager::{
    ApplyError, ApplyOptions, DeleteOptions, KindCache, ResourceManager, WaitOptions,
};
pub use object::ObjectRef;

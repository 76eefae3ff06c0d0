//! notification-controller: tells people what the cluster did, and lets Git hosts and
//! registries wake the controllers up.
//!
//! Two HTTP servers and one reconciler, as in Flux:
//!
//! ```text
//!  controllers ──POST / (Flux event JSON)──► event server (--events-addr, :9090)
//!                                             400 malformed · 429 duplicate · 202 accepted
//!                                             │ metadata cleanup, dedup (--rate-limit-interval)
//!                                             │ Alerts matching the involved object
//!                                             ▼ per Alert: merge metadata, Provider + Secrets
//!                                            notifier ──► Slack, Teams, Discord, Google Chat,
//!                                                         generic(-hmac), Alertmanager,
//!                                                         GitHub/GitLab commit statuses
//!  Git hosts ──POST /hook/<sha256>──► receiver server (--receiverAddr, :9292)
//!                                     404 unknown · 503 suspended/not ready · 400 invalid
//!                                     └► annotate spec.resources with
//!                                        reconcile.fluxcd.io/requestedAt
//!  Receiver reconciler: status.webhookPath = /hook/ + sha256(token + name + namespace)
//! ```
//!
//! Alerts and Providers have no status and no reconciler: the event server reads them when an
//! event arrives (from watch caches in a running controller). Everything that talks to the
//! Kubernetes API goes through [`cluster::Cluster`], so the servers are tested against
//! [`memory::MemoryCluster`] and real HTTP sinks.
//!
//! ```text
//!   event          the Flux event JSON, decoded and encoded as Go does
//!   go_json        Go's encoding/json string escaping (payload bytes and HMACs match Flux)
//!   go_time        Go's time and duration text
//!   http_metrics   gotk_event_http_* metrics of both servers
//!   notifier       payloads and delivery per provider type, retrying HTTP client
//!   provider       Provider + Secrets → notifier settings
//!   events         event server: dedup, alert matching, metadata, dispatch
//!   receiver       receiver server, payload validation, Receiver reconciler
//!   cluster        the Kubernetes operations the servers need, over kube
//!   memory         an in-memory cluster for tests
//!   serve          serving a router, reading bodies with the 3 MiB cap
//! ```

pub mod cluster;
pub mod event;
pub mod events;
pub mod go_json;
pub mod go_time;
pub mod http_metrics;
pub mod memory;
pub mod notifier;
pub mod provider;
pub mod receiver;
pub mod serve;

//! Watches: a chunked stream of newline-delimited `{"type": ..., "object": ...}` events.
//! A watch starts from a resourceVersion (replaying the change log, or failing with a 410
//! `Expired` event when that version is older than the log), or from "now" with synthetic
//! ADDED events for the current state (`resourceVersion` unset or `0`, or
//! `sendInitialEvents=true`, which ends the initial state with an `initial-events-end`
//! bookmark). Selectors turn objects moving in or out of the selection into ADDED or DELETED,
//! as kube-apiserver does. The watcher subscribes to the live broadcast under the same lock
//! it reads the log with, so nothing falls between the two; a watcher too slow for the
//! broadcast buffer has its stream ended and resumes from its last resourceVersion.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::handlers::served_view;
use crate::kinds::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::{App, Format, Query, stream_response};
use crate::status::ApiError;
use crate::store::{Change, EventType};
use crate::table::table;

/// What a watcher is interested in.
struct Filter {
    resource: Arc<ResourceType>,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    format: Format,
}

impl Filter {
    fn selects(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    fn covers(&self, change: &Change) -> bool {
        change.key.group == self.resource.storage_group
            && change.key.resource == self.resource.plural
            && self
                .namespace
                .as_ref()
                .is_none_or(|namespace| *namespace == change.key.namespace)
    }

    fn render(&self, event_type: &str, object: &Value) -> Bytes {
        let view = served_view(&self.resource, object);
        let rendered = match self.format {
            Format::Object => view,
            Format::Metadata => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": view.get("metadata").cloned().unwrap_or(json!({})),
            }),
            Format::Table(include) => {
                let resource_version = view
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(json!(""));
                table(
                    &self.resource.columns,
                    &[view],
                    include,
                    json!({"resourceVersion": resource_version}),
                    jiff::Timestamp::now(),
                )
            }
        };
        line(&json!({"type": event_type, "object": rendered}))
    }

    /// The event a change produces for this watcher, if any.
    fn event(&self, change: &Change) -> Option<Bytes> {
        if !self.covers(change) {
            return None;
        }
        let now = self.selects(&change.object);
        let before = change
            .previous
            .as_ref()
            .map(|previous| self.selects(previous));
        let event_type = match (change.event_type, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Modified, Some(true) | None, true) => "MODIFIED",
            (EventType::Modified, Some(false), true) => "ADDED",
            (EventType::Modified, Some(true), false) => "DELETED",
            _ => return None,
        };
        Some(self.render(event_type, &change.object))
    }

    fn bookmark(&self, resource_version: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(&json!({
            "type": "BOOKMARK",
            "object": {
                "kind": self.resource.kind,
                "apiVersion": self.resource.api_version(),
                "metadata": metadata,
            }
        }))
    }
}

/// The longest watch a client can ask for: a week.
const MAXIMUM_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

fn line(value: &Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

struct WatchState {
    pending: VecDeque<Bytes>,
    receiver: broadcast::Receiver<Arc<Change>>,
    filter: Filter,
    last_resource_version: u64,
    deadline: Instant,
    bookmarks: Option<Duration>,
    next_bookmark: Instant,
    done: bool,
    stopping: tokio_util::sync::CancellationToken,
}

async fn next_chunk(mut state: WatchState) -> Option<(Result<Bytes, Infallible>, WatchState)> {
    loop {
        if let Some(chunk) = state.pending.pop_front() {
            return Some((Ok(chunk), state));
        }
        if state.done {
            return None;
        }
        let wake = match state.bookmarks {
            Some(_) => state.deadline.min(state.next_bookmark),
            None => state.deadline,
        };
        tokio::select! {
            () = state.stopping.cancelled() => {
                state.done = true;
            }
            received = state.receiver.recv() => match received {
                Ok(change) => {
                    if change.resource_version > state.last_resource_version {
                        state.last_resource_version = change.resource_version;
                        if let Some(event) = state.filter.event(&change) {
                            state.pending.push_back(event);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => {
                    state.done = true;
                }
            },
            () = tokio::time::sleep_until(wake) => {
                if Instant::now() >= state.deadline {
                    state.done = true;
                } else if let Some(interval) = state.bookmarks {
                    let bookmark = state.filter.bookmark(state.last_resource_version, false);
                    state.pending.push_back(bookmark);
                    state.next_bookmark = Instant::now() + interval;
                }
            }
        }
    }
}

fn expired(requested: u64, oldest: u64) -> Bytes {
    let status =
        ApiError::gone(format!("too old resource version: {requested} ({oldest})")).to_status();
    line(&json!({"type": "ERROR", "object": status}))
}

/// Starts a watch.
pub(crate) fn serve(
    app: Arc<App>,
    resource: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    query: &Query,
    format: Format,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?;
    let mut field_text = query.get("fieldSelector").unwrap_or("").to_string();
    if let Some(name) = &name {
        if !field_text.is_empty() {
            field_text.push(',');
        }
        field_text.push_str(&format!("metadata.name={name}"));
    }
    let fields = FieldSelector::parse(&field_text, &resource.field_selectors)?;
    let requested = match query.get("resourceVersion") {
        None | Some("") | Some("0") => None,
        Some(text) => Some(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {text}")))?,
        ),
    };
    let send_initial = query.flag("sendInitialEvents");
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = match query.get("timeoutSeconds") {
        None | Some("") => Duration::from_secs(1800),
        // Capped so the deadline stays a representable Instant.
        Some(text) => Duration::from_secs(
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {text}")))?
                .min(MAXIMUM_TIMEOUT_SECONDS),
        ),
    };
    let filter = Filter {
        resource: resource.clone(),
        namespace: namespace.clone(),
        labels,
        fields,
        format,
    };
    let mut pending = VecDeque::new();
    let inner = app.store.lock();
    let current = inner.resource_version();
    let receiver = inner.subscribe();
    let mut last_resource_version = current;
    let mut done = false;
    if send_initial || requested.is_none() {
        for (_, object) in inner.list(
            &resource.storage_group,
            &resource.plural,
            namespace.as_deref(),
        ) {
            if filter.selects(object) {
                pending.push_back(filter.render("ADDED", object));
            }
        }
        if send_initial && bookmarks {
            pending.push_back(filter.bookmark(current, true));
        }
    } else if let Some(requested) = requested {
        if requested < inner.log_floor() {
            pending.push_back(expired(requested, inner.log_floor()));
            done = true;
        } else {
            for change in inner.changes_since(requested) {
                if let Some(event) = filter.event(&change) {
                    pending.push_back(event);
                }
            }
        }
        last_resource_version = current.max(requested);
    }
    drop(inner);
    let interval = app.bookmark_interval;
    let state = WatchState {
        pending,
        receiver,
        filter,
        last_resource_version,
        deadline: Instant::now() + timeout,
        bookmarks: bookmarks.then_some(interval),
        next_bookmark: Instant::now() + interval,
        done,
        stopping: app.stopping.clone(),
    };
    let stream = futures::stream::unfold(state, next_chunk);
    Ok(stream_response(
        "application/json",
        Body::from_stream(stream),
    ))
}

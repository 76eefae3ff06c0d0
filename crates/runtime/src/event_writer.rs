//! Writes the recorder's Kubernetes Events (events.k8s.io/v1), a repeated event as a series
//! (one Event whose `series.count` grows), as client-go's and kube's recorders do.
//!
//! kube's `Recorder` keeps every Event it wrote, whole, for six minutes, in a map it sweeps on
//! every publish: with a thousand objects reconciling that is megabytes and quadratic time.
//! This writer keeps only what a series needs (the Event's name, count and last time) for at
//! most [`SERIES_CACHE_ENTRIES`] series, client-go's `maxLruCacheEntries`. As in client-go's
//! correlator, the note is part of what makes two events the same: a new message is a new
//! Event, never a repeat of an older one showing the older text.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};

/// How long a repeat still counts towards an existing series (kube's `CACHE_TTL`).
const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);
/// The most series remembered at once (client-go's `maxLruCacheEntries`).
pub(crate) const SERIES_CACHE_ENTRIES: usize = 4096;

/// Writes Events for one controller.
pub(crate) struct EventWriter {
    client: kube::Client,
    controller: String,
    instance: String,
    series: Mutex<SeriesCache>,
}

/// One event to write.
pub(crate) struct KubernetesEvent<'a> {
    /// `Normal` or `Warning`.
    pub(crate) type_: &'static str,
    pub(crate) reason: &'a str,
    pub(crate) note: &'a str,
    pub(crate) regarding: &'a ObjectReference,
}

impl EventWriter {
    pub(crate) fn new(client: kube::Client, controller: &str, instance: Option<&str>) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or(controller).to_string(),
            series: Mutex::new(SeriesCache::default()),
        }
    }

    /// Creates the Event, or counts it in the series of the same event written before.
    pub(crate) async fn write(&self, event: &KubernetesEvent<'_>) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = series_key(event);
        let namespace = event
            .regarding
            .namespace
            .clone()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let repeat = self.cache().repeat(key, now);
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "series": {"count": count, "lastObservedTime": MicroTime(now)}
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // The API server let the Event expire: start a new series.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        let name = format!(
            "{}.{:x}",
            event.regarding.name.as_deref().unwrap_or(&self.controller),
            now.as_nanosecond()
        );
        let body = Event {
            action: Some(event.reason.to_string()),
            reason: Some(event.reason.to_string()),
            event_time: Some(MicroTime(now)),
            regarding: Some(event.regarding.clone()),
            note: Some(event.note.to_string()),
            metadata: ObjectMeta {
                namespace: Some(namespace),
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(event.type_.to_string()),
            ..Event::default()
        };
        api.create(&PostParams::default(), &body).await?;
        self.cache().start(key, name, now);
        Ok(())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, SeriesCache> {
        // A panic while holding the lock leaves at worst a stale count.
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What identifies "the same event": type, reason, note and the object it regards.
fn series_key(event: &KubernetesEvent<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    event.type_.hash(&mut hasher);
    event.reason.hash(&mut hasher);
    event.note.hash(&mut hasher);
    let regarding = event.regarding;
    regarding.api_version.hash(&mut hasher);
    regarding.kind.hash(&mut hasher);
    regarding.namespace.hash(&mut hasher);
    regarding.name.hash(&mut hasher);
    regarding.uid.hash(&mut hasher);
    hasher.finish()
}

#[derive(Debug)]
struct Series {
    name: String,
    count: i32,
    last: Timestamp,
}

/// The series written recently, bounded to [`SERIES_CACHE_ENTRIES`].
#[derive(Debug, Default)]
struct SeriesCache {
    entries: HashMap<u64, Series>,
}

impl SeriesCache {
    /// Counts a repeat of `key` at `now`: the Event to patch and its new count, or `None` when
    /// there is no live series (never written, or longer ago than the TTL).
    fn repeat(&mut self, key: u64, now: Timestamp) -> Option<(String, i32)> {
        let series = self.entries.get_mut(&key)?;
        if series.last + SERIES_TTL <= now {
            self.entries.remove(&key);
            return None;
        }
        series.count = series.count.saturating_add(1);
        series.last = now;
        Some((series.name.clone(), series.count))
    }

    /// Remembers a new Event as the start of its series, making room first: expired series
    /// go, then the least recently seen.
    fn start(&mut self, key: u64, name: String, now: Timestamp) {
        if self.entries.len() >= SERIES_CACHE_ENTRIES && !self.entries.contains_key(&key) {
            self.entries
                .retain(|_, series| series.last + SERIES_TTL > now);
            if self.entries.len() >= SERIES_CACHE_ENTRIES
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, series)| series.last)
                    .map(|(key, _)| *key)
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(
            key,
            Series {
                name,
                count: 1,
                last: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_repeat_within_the_ttl_counts_in_the_series_of_the_first_event() {
        let mut cache = SeriesCache::default();
        assert_eq!(cache.repeat(7, at(0)), None, "nothing written yet");
        cache.start(7, "apps.1".into(), at(0));
        assert_eq!(cache.repeat(7, at(10)), Some(("apps.1".into(), 2)));
        assert_eq!(cache.repeat(7, at(20)), Some(("apps.1".into(), 3)));
        // Six minutes after the last repeat the series is over.
        assert_eq!(cache.repeat(7, at(20 + 360)), None);
        assert!(cache.entries.is_empty());
    }

    #[test]
    fn the_cache_never_grows_past_its_bound_and_drops_the_oldest() {
        let mut cache = SeriesCache::default();
        let count = SERIES_CACHE_ENTRIES as u64 + 10;
        for key in 0..count {
            let millisecond = i64::try_from(key).unwrap_or_else(|error| panic!("{error}"));
            let time = at(0) + SignedDuration::from_millis(millisecond);
            cache.start(key, format!("event.{key}"), time);
        }
        assert_eq!(cache.entries.len(), SERIES_CACHE_ENTRIES);
        for dropped in 0..10 {
            assert_eq!(
                cache.repeat(dropped, at(60)),
                None,
                "the oldest series were dropped"
            );
        }
        assert!(
            cache.repeat(count - 1, at(60)).is_some(),
            "the newest is kept"
        );
    }

    fn regarding(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("kustomize.toolkit.fluxcd.io/v1".into()),
            kind: Some("Kustomization".into()),
            namespace: Some("flux-system".into()),
            name: Some(name.into()),
            uid: Some("0f2c".into()),
            ..ObjectReference::default()
        }
    }

    #[test]
    fn a_different_note_or_object_is_a_different_series() {
        let object = regarding("apps");
        let event = |note| KubernetesEvent {
            type_: "Normal",
            reason: "ReconciliationSucceeded",
            note,
            regarding: &object,
        };
        assert_eq!(series_key(&event("a")), series_key(&event("a")));
        assert_ne!(series_key(&event("a")), series_key(&event("b")));
        let other = regarding("infra");
        let elsewhere = KubernetesEvent {
            regarding: &other,
            ..event("a")
        };
        assert_ne!(series_key(&event("a")), series_key(&elsewhere));
    }
}

//! Prometheus metrics with Flux's names (fluxcd/pkg `runtime/metrics`) and the
//! controller-runtime counters Flux dashboards also read.

use eddy_api::meta::metrics as names;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::time::Duration;

/// Condition types whose status `gotk_reconcile_condition` reports.
const REPORTED_CONDITIONS: [&str; 3] = ["Ready", "Reconciling", "Stalled"];
const CONDITION_STATUSES: [&str; 3] = ["True", "False", "Unknown"];

/// Every metric a controller exports, in one registry.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    reconcile_duration: HistogramVec,
    reconcile_condition: GaugeVec,
    suspend_status: GaugeVec,
    reconcile_total: CounterVec,
    reconcile_errors: CounterVec,
    reconcile_time: HistogramVec,
    workqueue_adds: CounterVec,
    workqueue_retries: CounterVec,
    workqueue_depth: IntGaugeVec,
}

/// Error registering metrics (a programming error: duplicate names).
#[derive(Debug, thiserror::Error)]
#[error("registering metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    /// Creates and registers all metrics.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let object_labels = ["kind", "name", "namespace"];
        // ExponentialBucketsRange(0.01, 1800, 10), as Flux.
        let buckets = exponential_buckets_range(0.01, 1800.0, 10);
        let reconcile_duration = HistogramVec::new(
            HistogramOpts::new(
                names::RECONCILE_DURATION_SECONDS,
                "The duration in seconds of a GitOps Toolkit resource reconciliation.",
            )
            .buckets(buckets.clone()),
            &object_labels,
        )?;
        let reconcile_condition = GaugeVec::new(
            Opts::new(
                names::RECONCILE_CONDITION,
                "The current condition status of a GitOps Toolkit resource reconciliation.",
            ),
            &["kind", "name", "namespace", "type", "status"],
        )?;
        let suspend_status = GaugeVec::new(
            Opts::new(
                names::SUSPEND_STATUS,
                "The current suspend status of a GitOps Toolkit resource.",
            ),
            &object_labels,
        )?;
        let reconcile_total = CounterVec::new(
            Opts::new(
                names::CONTROLLER_RECONCILE_TOTAL,
                "Total number of reconciliations per controller",
            ),
            &["controller", "result"],
        )?;
        let reconcile_errors = CounterVec::new(
            Opts::new(
                names::CONTROLLER_RECONCILE_ERRORS_TOTAL,
                "Total number of reconciliation errors per controller",
            ),
            &["controller"],
        )?;
        let reconcile_time = HistogramVec::new(
            HistogramOpts::new(
                names::CONTROLLER_RECONCILE_TIME_SECONDS,
                "Length of time per reconciliation per controller",
            )
            .buckets(buckets),
            &["controller"],
        )?;
        let workqueue_adds = CounterVec::new(
            Opts::new(
                names::WORKQUEUE_ADDS_TOTAL,
                "Total number of adds handled by workqueue",
            ),
            &["name"],
        )?;
        let workqueue_retries = CounterVec::new(
            Opts::new(
                names::WORKQUEUE_RETRIES_TOTAL,
                "Total number of retries handled by workqueue",
            ),
            &["name"],
        )?;
        let workqueue_depth = IntGaugeVec::new(
            Opts::new(names::WORKQUEUE_DEPTH, "Current depth of workqueue"),
            &["name"],
        )?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        registry.register(Box::new(reconcile_condition.clone()))?;
        registry.register(Box::new(suspend_status.clone()))?;
        registry.register(Box::new(reconcile_total.clone()))?;
        registry.register(Box::new(reconcile_errors.clone()))?;
        registry.register(Box::new(reconcile_time.clone()))?;
        registry.register(Box::new(workqueue_adds.clone()))?;
        registry.register(Box::new(workqueue_retries.clone()))?;
        registry.register(Box::new(workqueue_depth.clone()))?;
        Ok(Self {
            registry,
            reconcile_duration,
            reconcile_condition,
            suspend_status,
            reconcile_total,
            reconcile_errors,
            reconcile_time,
            workqueue_adds,
            workqueue_retries,
            workqueue_depth,
        })
    }

    /// The registry, for controllers that add metrics of their own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records one reconcile of an object.
    pub fn record_reconcile(
        &self,
        controller: &str,
        object: &ObjectLabels<'_>,
        duration: Duration,
        result: ReconcileResult,
    ) {
        let seconds = duration.as_secs_f64();
        self.reconcile_duration
            .with_label_values(&[object.kind, object.name, object.namespace])
            .observe(seconds);
        self.reconcile_time
            .with_label_values(&[controller])
            .observe(seconds);
        self.reconcile_total
            .with_label_values(&[controller, result.as_str()])
            .inc();
        if result == ReconcileResult::Error {
            self.reconcile_errors.with_label_values(&[controller]).inc();
        }
    }

    /// Sets `gotk_reconcile_condition` from the object's conditions: 1 for the current status of
    /// each reported type, 0 for the others.
    pub fn record_conditions(&self, object: &ObjectLabels<'_>, conditions: &[Condition]) {
        for type_ in REPORTED_CONDITIONS {
            let current = conditions.iter().find(|condition| condition.type_ == type_);
            for status in CONDITION_STATUSES {
                let value = match current {
                    Some(condition) if condition.status == status => 1.0,
                    _ => 0.0,
                };
                self.reconcile_condition
                    .with_label_values(&[object.kind, object.name, object.namespace, type_, status])
                    .set(value);
            }
        }
    }

    /// Sets `gotk_suspend_status`.
    pub fn record_suspend(&self, object: &ObjectLabels<'_>, suspended: bool) {
        self.suspend_status
            .with_label_values(&[object.kind, object.name, object.namespace])
            .set(if suspended { 1.0 } else { 0.0 });
    }

    /// Removes an object's series once it is deleted, so dashboards do not show ghosts.
    pub fn forget(&self, object: &ObjectLabels<'_>) {
        let labels = [object.kind, object.name, object.namespace];
        let _ = self.reconcile_duration.remove_label_values(&labels);
        let _ = self.suspend_status.remove_label_values(&labels);
        for type_ in REPORTED_CONDITIONS {
            for status in CONDITION_STATUSES {
                let _ = self.reconcile_condition.remove_label_values(&[
                    object.kind,
                    object.name,
                    object.namespace,
                    type_,
                    status,
                ]);
            }
        }
    }

    /// Counts an item added to the controller's queue.
    pub fn record_queue_add(&self, controller: &str) {
        self.workqueue_adds.with_label_values(&[controller]).inc();
    }

    /// Counts a retry scheduled by the controller.
    pub fn record_queue_retry(&self, controller: &str) {
        self.workqueue_retries
            .with_label_values(&[controller])
            .inc();
    }

    /// Sets the number of objects being reconciled right now.
    pub fn set_queue_depth(&self, controller: &str, depth: i64) {
        self.workqueue_depth
            .with_label_values(&[controller])
            .set(depth);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Metrics {
    /// The OpenMetrics 1.0 text exposition (what Prometheus asks for first): the Prometheus text
    /// with counter families named without their `_total` suffix and a closing `# EOF`.
    pub fn encode_openmetrics(&self) -> String {
        to_openmetrics(&self.encode())
    }
}

fn to_openmetrics(prometheus_text: &str) -> String {
    let counters: std::collections::HashSet<&str> = prometheus_text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(prometheus_text.len() + 8);
    for line in prometheus_text.lines() {
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            let family = name
                .strip_suffix("_total")
                .filter(|_| counters.contains(name))?;
            Some(format!("{prefix}{family} {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out
}

/// The kind/name/namespace labels of an object's metrics.
#[derive(Clone, Copy, Debug)]
pub struct ObjectLabels<'a> {
    /// Kind, e.g. `GitRepository`.
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
    /// Object namespace.
    pub namespace: &'a str,
}

/// The `result` label of `controller_runtime_reconcile_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    /// Reconciled, requeued at its interval.
    Success,
    /// Failed.
    Error,
    /// Asked for an early requeue.
    Requeue,
    /// Requeued after a set delay.
    RequeueAfter,
}

impl ReconcileResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Requeue => "requeue",
            Self::RequeueAfter => "requeue_after",
        }
    }
}

/// `count` buckets spaced exponentially from `min` to `max` (Prometheus Go client's
/// `ExponentialBucketsRange`).
fn exponential_buckets_range(min: f64, max: f64, count: usize) -> Vec<f64> {
    let steps = count.saturating_sub(1).max(1) as f64;
    let growth = (max / min).powf(1.0 / steps);
    (0..count)
        .map(|index| min * growth.powi(index as i32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> ObjectLabels<'static> {
        ObjectLabels {
            kind: "GitRepository",
            name: "podinfo",
            namespace: "flux-system",
        }
    }

    #[test]
    fn flux_metric_names_are_exported() {
        let metrics = Metrics::new().expect("metrics");
        metrics.record_reconcile(
            "source-controller",
            &labels(),
            Duration::from_millis(120),
            ReconcileResult::Success,
        );
        metrics.record_suspend(&labels(), false);
        let conditions = vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Succeeded".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
        }];
        metrics.record_conditions(&labels(), &conditions);
        let text = metrics.encode();
        assert!(text.contains(r#"gotk_reconcile_duration_seconds_count{kind="GitRepository",name="podinfo",namespace="flux-system"} 1"#), "{text}");
        assert!(text.contains(r#"gotk_reconcile_condition{kind="GitRepository",name="podinfo",namespace="flux-system",status="True",type="Ready"} 1"#), "{text}");
        assert!(text.contains(r#"gotk_reconcile_condition{kind="GitRepository",name="podinfo",namespace="flux-system",status="False",type="Ready"} 0"#), "{text}");
        assert!(text.contains(r#"gotk_suspend_status{kind="GitRepository",name="podinfo",namespace="flux-system"} 0"#), "{text}");
        assert!(text.contains(r#"controller_runtime_reconcile_total{controller="source-controller",result="success"} 1"#), "{text}");
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let metrics = Metrics::new().expect("metrics");
        metrics.record_reconcile(
            "source-controller",
            &labels(),
            Duration::from_millis(5),
            ReconcileResult::Error,
        );
        let text = metrics.encode_openmetrics();
        assert!(
            text.contains("# TYPE controller_runtime_reconcile counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE controller_runtime_reconcile_errors counter\n"),
            "{text}"
        );
        assert!(text.contains(r#"controller_runtime_reconcile_total{controller="source-controller",result="error"} 1"#), "{text}");
        assert!(
            text.contains("# TYPE gotk_reconcile_duration_seconds histogram\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn buckets_span_fluxs_range() {
        let buckets = exponential_buckets_range(0.01, 1800.0, 10);
        assert_eq!(buckets.len(), 10);
        assert!((buckets[0] - 0.01).abs() < 1e-12);
        assert!((buckets[9] - 1800.0).abs() < 1e-6);
    }

    #[test]
    fn forgotten_objects_leave_no_series() {
        let metrics = Metrics::new().expect("metrics");
        metrics.record_suspend(&labels(), true);
        metrics.forget(&labels());
        assert!(!metrics.encode().contains("podinfo"));
    }
}

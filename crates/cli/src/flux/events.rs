//! `eddy events`: the Kubernetes Events of Flux objects, as `flux events` prints them.

use anyhow::{Result, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use super::get::ListScope;
use super::kinds::{self, EVENT_KINDS, Kind};
use crate::cluster::{self, ClusterArgs};
use crate::output::{self, Format, log};

/// `eddy events`
#[derive(Args, Debug)]
pub(crate) struct EventsArgs {
    #[command(flatten)]
    scope: ListScope,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only events of this object, `Kind/name` (or every object of a `Kind`); a
    /// Kustomization's or HelmRelease's source events are included.
    #[arg(long = "for", value_name = "KIND[/NAME]")]
    for_object: Option<String>,
    /// Only events of these types (Normal, Warning).
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Print the events as YAML or JSON instead of a table.
    #[arg(short = 'o', long, value_enum)]
    output: Option<Format>,
}

/// An object whose events are shown.
struct Selector {
    kind: String,
    name: Option<String>,
    namespace: Option<String>,
}

pub(crate) async fn run(args: EventsArgs) -> Result<()> {
    for event_type in &args.types {
        if !event_type.eq_ignore_ascii_case("Normal") && !event_type.eq_ignore_ascii_case("Warning")
        {
            bail!("type '{event_type}' not supported. Supported types are Normal, Warning");
        }
    }
    let cluster = cluster::connect(&args.cluster).await?;
    let namespace =
        (!args.scope.all_namespaces).then(|| cluster.namespace(args.scope.namespace.as_deref()));
    let mut selectors = Vec::new();
    if let Some(text) = &args.for_object {
        let (kind, name) = match text.split_once('/') {
            Some((kind, name)) => (kind, Some(name.to_string())),
            None => (text.as_str(), None),
        };
        let Some(kind) = EVENT_KINDS
            .iter()
            .find(|candidate| candidate.eq_ignore_ascii_case(kind))
        else {
            bail!("'{kind}' is not a recognized Flux kind");
        };
        selectors.push(Selector {
            kind: kind.to_string(),
            name: name.clone(),
            namespace: namespace.clone(),
        });
        // The source's events tell why a Kustomization or HelmRelease waits, so flux shows
        // them too.
        if let (Some(name), Some(namespace)) = (&name, &namespace)
            && let Some(source) = source_selector(&cluster.client, kind, name, namespace).await?
        {
            selectors.push(source);
        }
    }
    let api: Api<Event> = match &namespace {
        Some(namespace) => Api::namespaced(cluster.client.clone(), namespace),
        None => Api::all(cluster.client.clone()),
    };
    let mut events: Vec<Event> = Vec::new();
    if selectors.is_empty() {
        events = api.list(&ListParams::default()).await?.items;
    } else {
        for selector in &selectors {
            let api: Api<Event> = match &selector.namespace {
                Some(namespace) => Api::namespaced(cluster.client.clone(), namespace),
                None => Api::all(cluster.client.clone()),
            };
            let mut fields = format!("involvedObject.kind={}", selector.kind);
            if let Some(name) = &selector.name {
                fields.push_str(&format!(",involvedObject.name={name}"));
            }
            events.extend(
                api.list(&ListParams::default().fields(&fields))
                    .await?
                    .items,
            );
        }
    }
    events.retain(|event| {
        let kind = event.involved_object.kind.as_deref().unwrap_or_default();
        let type_ = event.type_.as_deref().unwrap_or_default();
        EVENT_KINDS.contains(&kind)
            && (args.types.is_empty()
                || args
                    .types
                    .iter()
                    .any(|wanted| wanted.eq_ignore_ascii_case(type_)))
    });
    events.sort_by_key(event_time);
    if let Some(format) = args.output {
        let items = events
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?;
        return output::print_value(format, &output::list_value(items));
    }
    if events.is_empty() {
        match &namespace {
            Some(namespace) => log::failure(&format!("No events found in {namespace} namespace.")),
            None => log::failure("No events found."),
        }
        return Ok(());
    }
    let show_namespace = namespace.is_none()
        || selectors
            .iter()
            .any(|selector| selector.namespace != namespace);
    let mut headers = Vec::new();
    if show_namespace {
        headers.push("Namespace");
    }
    headers.extend(["Last seen", "Type", "Reason", "Object", "Message"]);
    let now = jiff::Timestamp::now();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|event| {
            let mut row = Vec::new();
            if show_namespace {
                row.push(event.metadata.namespace.clone().unwrap_or_default());
            }
            row.push(last_seen(event, now));
            row.push(event.type_.clone().unwrap_or_default());
            row.push(event.reason.clone().unwrap_or_default());
            row.push(format!(
                "{}/{}",
                event.involved_object.kind.as_deref().unwrap_or_default(),
                event.involved_object.name.as_deref().unwrap_or_default()
            ));
            row.push(event.message.clone().unwrap_or_default());
            row
        })
        .collect();
    output::print_stdout(&output::flux_table(&headers, &rows))
}

/// The source of a Kustomization or HelmRelease (its HelmChart for a chart template).
async fn source_selector(
    client: &kube::Client,
    kind: &str,
    name: &str,
    namespace: &str,
) -> Result<Option<Selector>> {
    let Some(kind) = Kind::from_name(kind)
        .filter(|kind| matches!(kind, Kind::Kustomization | Kind::HelmRelease))
    else {
        return Ok(None);
    };
    let Some(object) = kinds::api(client, kind, Some(namespace))
        .get_opt(name)
        .await?
    else {
        return Ok(None);
    };
    let spec = &object.data["spec"];
    let (source_kind, source_name, source_namespace) = match kind {
        Kind::Kustomization => (
            spec["sourceRef"]["kind"].as_str().map(str::to_string),
            spec["sourceRef"]["name"].as_str().map(str::to_string),
            spec["sourceRef"]["namespace"].as_str(),
        ),
        _ if spec["chartRef"].is_object() => (
            spec["chartRef"]["kind"].as_str().map(str::to_string),
            spec["chartRef"]["name"].as_str().map(str::to_string),
            spec["chartRef"]["namespace"].as_str(),
        ),
        _ => (
            Some("HelmChart".to_string()),
            Some(format!("{namespace}-{name}")),
            spec["chart"]["spec"]["sourceRef"]["namespace"].as_str(),
        ),
    };
    Ok(match (source_kind, source_name) {
        (Some(kind), Some(name)) => Some(Selector {
            kind,
            name: Some(name),
            namespace: Some(source_namespace.unwrap_or(namespace).to_string()),
        }),
        _ => None,
    })
}

/// When the event last happened: the series' last observation, else lastTimestamp, else
/// eventTime (kubectl's order).
fn event_time(event: &Event) -> Option<jiff::Timestamp> {
    event
        .series
        .as_ref()
        .and_then(|series| series.last_observed_time.as_ref().map(|time| time.0))
        .or_else(|| event.last_timestamp.as_ref().map(|time| time.0))
        .or_else(|| event.event_time.as_ref().map(|time| time.0))
}

/// `flux events`'s LAST SEEN: `45s`, `3m (x4 over 10m)`.
fn last_seen(event: &Event, now: jiff::Timestamp) -> String {
    let since = |time: Option<jiff::Timestamp>| match time {
        Some(time) => output::human_duration(now.duration_since(time).as_secs()),
        None => "<unknown>".to_string(),
    };
    let first = match event.event_time.as_ref() {
        Some(time) => since(Some(time.0)),
        None => since(event.first_timestamp.as_ref().map(|time| time.0)),
    };
    if let Some(series) = &event.series {
        return format!(
            "{} (x{} over {first})",
            since(series.last_observed_time.as_ref().map(|time| time.0)),
            series.count.unwrap_or(0)
        );
    }
    match event.count {
        Some(count) if count > 1 => format!(
            "{} (x{count} over {first})",
            since(event.last_timestamp.as_ref().map(|time| time.0))
        ),
        _ => first,
    }
}

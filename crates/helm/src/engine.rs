//! Helm's rendering engine: one template set for the chart and all enabled subcharts,
//! parsed deepest-first so parent `define`s win, each template executed with its own
//! chart's scope (`.Values`, `.Chart`, `.Files`, `.Template`), `<no value>` removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_gotemplate::{Map, SharedMap, Template, Value};

use crate::Error;
use crate::chart::Chart;
use crate::objects::{ApiVersions, Files, KubeVersion};

/// What the engine needs besides the chart and values.
#[derive(Clone, Debug)]
pub struct RenderContext {
    /// `.Release.Name`.
    pub release_name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: i64,
    /// `.Release.IsInstall`.
    pub is_install: bool,
    /// `.Release.IsUpgrade`.
    pub is_upgrade: bool,
    /// `.Capabilities.KubeVersion`, e.g. `v1.36.0`.
    pub kube_version: String,
    /// `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// What `lookup` asks; without it `lookup` returns an empty map, as in
    /// `helm template`.
    pub lookup: Option<LookupHook>,
}

/// Answers Helm's `lookup apiVersion kind namespace name` (the only Kubernetes access a
/// template has). Return an empty map for "not found", a `List`-shaped map when `name`
/// is empty, or an error message to fail the render.
#[derive(Clone)]
pub struct LookupHook(pub Arc<LookupFunction>);

/// The function behind a [`LookupHook`]: `(apiVersion, kind, namespace, name)`.
pub type LookupFunction = dyn Fn(&str, &str, &str, &str) -> Result<Value, String> + Send + Sync;

impl std::fmt::Debug for LookupHook {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("LookupHook")
    }
}

struct Renderable {
    source: Arc<str>,
    data: SharedMap,
    base_path: String,
}

fn release(context: &RenderContext) -> Value {
    let mut map = Map::new();
    map.insert("Name".into(), Value::from(context.release_name.as_str()));
    map.insert("Namespace".into(), Value::from(context.namespace.as_str()));
    map.insert("Revision".into(), Value::Int(context.revision));
    map.insert("IsInstall".into(), Value::Bool(context.is_install));
    map.insert("IsUpgrade".into(), Value::Bool(context.is_upgrade));
    map.insert("Service".into(), Value::from("Helm"));
    Value::from(map)
}

fn capabilities(context: &RenderContext) -> Value {
    let mut map = Map::new();
    map.insert(
        "KubeVersion".into(),
        Value::Object(Arc::new(KubeVersion::parse(&context.kube_version))),
    );
    map.insert(
        "APIVersions".into(),
        Value::Object(Arc::new(ApiVersions {
            versions: context.api_versions.clone(),
        })),
    );
    let mut helm = Map::new();
    helm.insert("Version".into(), Value::from("v4.2"));
    helm.insert("GitCommit".into(), Value::from(""));
    helm.insert("GitTreeState".into(), Value::from(""));
    helm.insert("GoVersion".into(), Value::from("go1.26.6"));
    helm.insert("KubeClientVersion".into(), Value::from("v1.36"));
    map.insert("HelmVersion".into(), Value::from(helm));
    Value::from(map)
}

fn files_object(chart: &Chart) -> Value {
    let files = chart
        .files
        .iter()
        .map(|file| (file.name.clone(), file.data.clone()))
        .collect();
    Value::Object(Arc::new(Files::new(files)))
}

/// Builds the per-chart data (`Chart`, `Files`, `Release`, `Capabilities`, `Values`,
/// `Subcharts`) and collects templates under their render keys.
fn collect(
    chart: &Chart,
    full_path: &str,
    values: Value,
    release: &Value,
    capabilities: &Value,
    templates: &mut BTreeMap<String, Renderable>,
) -> SharedMap {
    let data = SharedMap::default();
    let mut metadata = chart.metadata.clone();
    metadata.insert("IsRoot".into(), Value::Bool(!full_path.contains('/')));
    data.insert("Chart", Value::from(metadata));
    data.insert("Files", files_object(chart));
    data.insert("Release", release.clone());
    data.insert("Capabilities", capabilities.clone());
    let values = match values {
        Value::Map(map) => Value::Map(map.with_type_name("common.Values")),
        other => other,
    };
    data.insert("Values", values.clone());
    let subcharts = SharedMap::default();
    for sub in &chart.dependencies {
        let sub_values = match &values {
            Value::Map(map) => match map.get(&sub.name) {
                Some(Value::Map(inner)) => Value::Map(inner),
                _ => Value::from(Map::new()),
            },
            _ => Value::from(Map::new()),
        };
        let sub_path = format!("{full_path}/charts/{}", sub.name);
        let sub_data = collect(sub, &sub_path, sub_values, release, capabilities, templates);
        subcharts.insert(sub.name.clone(), Value::Map(sub_data));
    }
    data.insert("Subcharts", Value::Map(subcharts));
    let library = chart.is_library();
    for file in &chart.templates {
        let base = file.name.rsplit('/').next().unwrap_or(&file.name);
        if library && !base.starts_with('_') {
            continue;
        }
        templates.insert(
            format!("{full_path}/{}", file.name),
            Renderable {
                source: file
                    .text
                    .clone()
                    .unwrap_or_else(|| String::from_utf8_lossy(&file.data).into()),
                data: data.clone(),
                base_path: format!("{full_path}/templates"),
            },
        );
    }
    data
}

/// Helm's `sortTemplates`: deepest paths first, then reverse lexical order.
fn sort_templates(keys: &mut [String]) {
    keys.sort_by(|left, right| {
        let left_depth = left.matches('/').count();
        let right_depth = right.matches('/').count();
        right_depth.cmp(&left_depth).then_with(|| right.cmp(left))
    });
}

/// Stack for the rendering thread: Go's goroutine stacks grow on demand, so charts may
/// nest `include` a thousand deep (Helm's limit); this reserves room for that. Only the
/// pages actually used are committed.
const RENDER_STACK_BYTES: usize = 1 << 30;

/// Renders every template of `chart` (whose enabled dependencies are already resolved)
/// with the coalesced top-level `values`; returns Helm's render map. Runs on a thread
/// with a large stack so deep template recursion reports Helm's error, not a crash.
pub fn render(
    chart: &Chart,
    values: &SharedMap,
    context: &RenderContext,
) -> Result<BTreeMap<String, String>, Error> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("helm-render".to_string())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(scope, || render_here(chart, values, context));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Error::Render(
                    "rendering template failed: panic".to_string(),
                ))
            }),
            Err(_) => render_here(chart, values, context),
        }
    })
}

fn render_here(
    chart: &Chart,
    values: &SharedMap,
    context: &RenderContext,
) -> Result<BTreeMap<String, String>, Error> {
    let release = release(context);
    let capabilities = capabilities(context);
    let mut templates = BTreeMap::new();
    collect(
        chart,
        &chart.name,
        Value::Map(values.clone()),
        &release,
        &capabilities,
        &mut templates,
    );
    let mut keys: Vec<String> = templates.keys().cloned().collect();
    sort_templates(&mut keys);
    let mut functions = crate::functions::function_map();
    if let Some(hook) = &context.lookup {
        let hook = hook.clone();
        let function: eddy_gotemplate::Function = Arc::new(move |_, args: &[Value]| {
            if args.len() != 4 {
                return Err(format!(
                    "wrong number of args for lookup: want 4 got {}",
                    args.len()
                ));
            }
            let text: Vec<String> = args.iter().map(crate::functions::strval).collect();
            (hook.0)(&text[0], &text[1], &text[2], &text[3])
        });
        functions.insert("lookup".to_string(), function);
    }
    let mut set = Template::new(functions);
    for key in &keys {
        let source = &templates[key].source;
        set.parse(key, source)
            .map_err(|error| Error::Render(parse_error_message(key, &error.to_string())))?;
    }
    let mut state = set.state();
    let mut rendered = BTreeMap::new();
    for key in &keys {
        let base = key.rsplit('/').next().unwrap_or(key);
        if base.starts_with('_') {
            continue;
        }
        let renderable = &templates[key];
        let mut template_info = Map::new();
        template_info.insert("Name".into(), Value::from(key.as_str()));
        template_info.insert(
            "BasePath".into(),
            Value::from(renderable.base_path.as_str()),
        );
        renderable
            .data
            .insert("Template", Value::from(template_info));
        let text = state
            .execute_template(key, Value::Map(renderable.data.clone()))
            .map_err(|error| Error::Render(exec_error_message(key, &error.to_string())))?;
        rendered.insert(key.clone(), strip_no_value(text));
    }
    Ok(rendered)
}

/// Helm removes every `<no value>` from rendered text; most outputs have none, so they
/// are kept without copying.
pub(crate) fn strip_no_value(text: String) -> String {
    const MARKER: &[u8] = b"<no value>";
    let found = text
        .as_bytes()
        .iter()
        .enumerate()
        .any(|(index, &byte)| byte == b'<' && text.as_bytes()[index..].starts_with(MARKER));
    if found {
        text.replace("<no value>", "")
    } else {
        text
    }
}

/// Helm's `cleanupParseError`.
fn parse_error_message(key: &str, message: &str) -> String {
    let tokens: Vec<&str> = message.split(": ").collect();
    if tokens.len() < 2 {
        return format!("parse error in ({key}): {message}");
    }
    format!(
        "parse error at ({}): {}",
        tokens[1],
        tokens[tokens.len() - 1]
    )
}

/// Helm's execution-error clean-up: `required` and `fail` become
/// `execution error at (template:line:column): message`.
fn exec_error_message(key: &str, message: &str) -> String {
    let tokens: Vec<&str> = message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({key}): {message}");
    }
    for marker in ["error calling required: ", "error calling fail: "] {
        if let Some(index) = message.rfind(marker) {
            let inner = &message[index + marker.len()..];
            return format!("execution error at ({}): {}", tokens[1], inner);
        }
    }
    if message.contains("error calling ") {
        return message.to_string();
    }
    // Helm v4 prints other execution errors as a trace: location, then what was being
    // executed, then the message.
    let rest = tokens[2];
    if let Some(after) = rest.strip_prefix("executing ")
        && let Some(split) = after.find(">: ")
    {
        return format!(
            "{}\n  executing {}>:\n    {}",
            tokens[1],
            &after[..split],
            &after[split + 3..]
        );
    }
    message.to_string()
}

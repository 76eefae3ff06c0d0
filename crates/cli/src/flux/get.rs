//! `eddy get`: the statuses of Flux objects, as `flux get` prints them.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use kube::api::{DynamicObject, ListParams, TypeMeta};

use super::kinds::{self, Kind};
use crate::cluster::{self, ClusterArgs};
use crate::output::{self, Format};

/// `eddy get …`
#[derive(Args, Debug)]
pub(crate) struct GetArgs {
    #[command(subcommand)]
    what: GetWhat,
    #[command(flatten)]
    scope: ListScope,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Print the objects as YAML or JSON instead of a table.
    #[arg(short = 'o', long, global = true, value_enum)]
    output: Option<Format>,
}

/// Namespace selection of the listing commands.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ListScope {
    /// The namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    pub(crate) namespace: Option<String>,
    /// List the objects of every namespace.
    #[arg(short = 'A', long, global = true)]
    pub(crate) all_namespaces: bool,
}

#[derive(Subcommand, Debug)]
enum GetWhat {
    /// Source statuses.
    #[command(subcommand, alias = "source")]
    Sources(GetSources),
    /// Kustomization statuses.
    #[command(aliases = ["ks", "kustomization"])]
    Kustomizations {
        /// Only this object.
        name: Option<String>,
    },
    /// HelmRelease statuses.
    #[command(aliases = ["hr", "helmrelease"])]
    Helmreleases {
        /// Only this object.
        name: Option<String>,
    },
    /// Sources, HelmReleases and Kustomizations together.
    All,
}

#[derive(Subcommand, Debug)]
enum GetSources {
    /// GitRepository statuses.
    Git {
        /// Only this object.
        name: Option<String>,
    },
    /// OCIRepository statuses.
    Oci {
        /// Only this object.
        name: Option<String>,
    },
    /// Bucket statuses.
    Bucket {
        /// Only this object.
        name: Option<String>,
    },
    /// HelmRepository statuses.
    Helm {
        /// Only this object.
        name: Option<String>,
    },
    /// HelmChart statuses.
    Chart {
        /// Only this object.
        name: Option<String>,
    },
    /// Every source kind.
    All,
}

/// Source kinds in the order `flux get sources all` prints them.
const SOURCE_KINDS: [Kind; 5] = [
    Kind::GitRepository,
    Kind::OciRepository,
    Kind::Bucket,
    Kind::HelmRepository,
    Kind::HelmChart,
];

pub(crate) async fn run(args: GetArgs) -> Result<()> {
    let cluster = cluster::connect(&args.cluster).await?;
    let namespace =
        (!args.scope.all_namespaces).then(|| cluster.namespace(args.scope.namespace.as_deref()));
    let (kinds, name, all): (Vec<Kind>, Option<String>, bool) = match args.what {
        GetWhat::Sources(sources) => match sources {
            GetSources::Git { name } => (vec![Kind::GitRepository], name, false),
            GetSources::Oci { name } => (vec![Kind::OciRepository], name, false),
            GetSources::Bucket { name } => (vec![Kind::Bucket], name, false),
            GetSources::Helm { name } => (vec![Kind::HelmRepository], name, false),
            GetSources::Chart { name } => (vec![Kind::HelmChart], name, false),
            GetSources::All => (SOURCE_KINDS.to_vec(), None, true),
        },
        GetWhat::Kustomizations { name } => (vec![Kind::Kustomization], name, false),
        GetWhat::Helmreleases { name } => (vec![Kind::HelmRelease], name, false),
        GetWhat::All => {
            let mut kinds = SOURCE_KINDS.to_vec();
            kinds.extend([Kind::HelmRelease, Kind::Kustomization]);
            (kinds, None, true)
        }
    };
    let mut found: Vec<(Kind, Vec<DynamicObject>)> = Vec::new();
    for kind in kinds {
        let objects = match list(&cluster.client, kind, namespace.as_deref(), name.as_deref()).await
        {
            Ok(objects) => objects,
            // `get all` skips kinds whose CRD is not installed, as flux does.
            Err(error) if all && cluster::is_not_found(&error) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        found.push((kind, objects));
    }
    if !all && found.iter().all(|(_, objects)| objects.is_empty()) {
        let kind = found
            .first()
            .map(|(kind, _)| kind.name())
            .unwrap_or_default();
        let place = match &namespace {
            Some(namespace) => format!("{namespace:?} namespace"),
            None => "any namespace".to_string(),
        };
        match name {
            Some(name) => bail!("{kind} object '{name}' not found in {place}"),
            None => bail!("no {kind} objects found in {place}"),
        }
    }
    if let Some(format) = args.output {
        let mut items: Vec<serde_json::Value> = Vec::new();
        for (_, objects) in &found {
            for object in objects {
                items.push(serde_json::to_value(object)?);
            }
        }
        if name.is_some() && items.len() == 1 {
            return output::print_value(format, &items[0]);
        }
        return output::print_value(format, &output::list_value(items));
    }
    let mut text = String::new();
    for (kind, objects) in &found {
        if objects.is_empty() {
            continue;
        }
        text.push_str(&table(*kind, objects, namespace.is_none(), all));
        if all {
            text.push('\n');
        }
    }
    output::print_stdout(&text)
}

/// Objects of `kind`, sorted by namespace and name, with managed fields left out (as kubectl
/// does) and their type filled in (list items may come without it).
pub(crate) async fn list(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let api = kinds::api(client, kind, namespace);
    let mut objects = match name {
        Some(name) if namespace.is_some() => api.get_opt(name).await?.into_iter().collect(),
        Some(name) => {
            api.list(&ListParams::default().fields(&format!("metadata.name={name}")))
                .await?
                .items
        }
        None => api.list(&ListParams::default()).await?.items,
    };
    let resource = kind.resource();
    for object in &mut objects {
        object.types = Some(TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
        object.metadata.managed_fields = None;
    }
    objects.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    Ok(objects)
}

/// NAME REVISION SUSPENDED READY MESSAGE (NAMESPACE first with `-A`; `kind/name` in `get
/// all`).
fn table(kind: Kind, objects: &[DynamicObject], with_namespace: bool, with_kind: bool) -> String {
    let mut headers = Vec::new();
    if with_namespace {
        headers.push("Namespace");
    }
    headers.extend(["Name", "Revision", "Suspended", "Ready", "Message"]);
    let rows: Vec<Vec<String>> = objects
        .iter()
        .map(|object| {
            let name = object.metadata.name.clone().unwrap_or_default();
            let mut row = Vec::new();
            if with_namespace {
                row.push(object.metadata.namespace.clone().unwrap_or_default());
            }
            row.push(if with_kind {
                format!("{}/{name}", kind.name().to_lowercase())
            } else {
                name
            });
            let (ready, message) = kinds::ready_and_message(object);
            row.push(output::truncate_hex(&kind.revision(object)));
            row.push(
                if kinds::suspended(object) {
                    "True"
                } else {
                    "False"
                }
                .to_string(),
            );
            row.push(ready);
            row.push(output::truncate_hex(&message));
            row
        })
        .collect();
    output::flux_table(&headers, &rows)
}

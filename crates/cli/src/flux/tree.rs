//! `eddy tree kustomization NAME`: what a Kustomization applied, from `status.inventory`,
//! descending into the Kustomizations and HelmReleases it applied, drawn as `flux tree` draws
//! it.

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use eddy_api::kustomize::v1::ObjectId;
use kube::api::DynamicObject;
use serde::Serialize;

use super::kinds::{self, Kind};
use crate::cluster::{self, ClusterArgs};
use crate::output::{self, Format};

/// Deepest nesting followed; inventories that refer back to an ancestor stop here.
const MAX_DEPTH: usize = 32;

/// `eddy tree …`
#[derive(Args, Debug)]
pub(crate) struct TreeArgs {
    #[command(subcommand)]
    what: TreeWhat,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The namespace (default: the kubeconfig context's, else `default`).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// Only Flux objects.
    #[arg(long, global = true)]
    compact: bool,
    /// Print the tree as YAML or JSON.
    #[arg(short = 'o', long, global = true, value_enum)]
    output: Option<Format>,
}

#[derive(Subcommand, Debug)]
enum TreeWhat {
    /// The objects a Kustomization applied.
    #[command(alias = "ks")]
    Kustomization {
        /// The Kustomization.
        name: String,
    },
}

/// One object and what it applied; field names as flux's JSON tree (cli-utils ObjMetadata).
#[derive(Serialize, Debug, PartialEq)]
pub(crate) struct Node {
    resource: Resource,
    #[serde(rename = "resources", skip_serializing_if = "Vec::is_empty")]
    children: Vec<Node>,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    namespace: String,
    name: String,
    group_kind: GroupKind,
}

#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct GroupKind {
    group: String,
    kind: String,
}

impl Node {
    fn new(id: &ObjectId) -> Self {
        Node {
            resource: Resource {
                namespace: id.namespace.clone(),
                name: id.name.clone(),
                group_kind: GroupKind {
                    group: id.group.clone(),
                    kind: id.kind.clone(),
                },
            },
            children: Vec::new(),
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` for a cluster-scoped object.
    fn text(&self) -> String {
        let resource = &self.resource;
        if resource.namespace.is_empty() {
            format!("{}/{}", resource.group_kind.kind, resource.name)
        } else {
            format!(
                "{}/{}/{}",
                resource.group_kind.kind, resource.namespace, resource.name
            )
        }
    }

    /// The tree as flux prints it: the root, then `├── `, `│   `, `└── ` indented children.
    pub(crate) fn render(&self) -> String {
        let mut out = self.text();
        out.push('\n');
        render_children(&self.children, "", &mut out);
        out
    }
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    for (index, child) in children.iter().enumerate() {
        let last = index + 1 == children.len();
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.text());
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        render_children(&child.children, &deeper, out);
    }
}

pub(crate) async fn run(args: TreeArgs) -> Result<()> {
    let cluster = cluster::connect(&args.cluster).await?;
    let namespace = cluster.namespace(args.namespace.as_deref());
    let TreeWhat::Kustomization { name } = args.what;
    let api = kinds::api(&cluster.client, Kind::Kustomization, Some(&namespace));
    let root = api
        .get_opt(&name)
        .await?
        .ok_or_else(|| anyhow!("Kustomization {name} not found in {namespace} namespace"))?;
    let resource = Kind::Kustomization.resource();
    let mut tree = Node::new(&ObjectId::new(
        namespace.clone(),
        name.clone(),
        resource.group.clone(),
        resource.kind.clone(),
    ));
    grow(&cluster.client, &mut tree, &root, args.compact, 0).await?;
    match args.output {
        Some(format) => output::print_value(format, &tree),
        None => output::print_stdout(&format!("{}\n", tree.render())),
    }
}

/// Adds the inventory of `object` (a Kustomization or HelmRelease) under `node`, descending
/// into the Kustomizations and HelmReleases it lists.
fn grow<'a>(
    client: &'a kube::Client,
    node: &'a mut Node,
    object: &'a DynamicObject,
    compact: bool,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>> {
    Box::pin(async move {
        if depth >= MAX_DEPTH {
            return Ok(());
        }
        let Some(entries) = object.data["status"]["inventory"]["entries"].as_array() else {
            return Ok(());
        };
        let own = (
            object.metadata.namespace.as_deref().unwrap_or_default(),
            object.metadata.name.as_deref().unwrap_or_default(),
        );
        for entry in entries {
            let id = entry["id"].as_str().unwrap_or_default();
            let id = ObjectId::parse(id).with_context(|| format!("inventory of {}", own.1))?;
            if compact && !id.group.contains("toolkit.fluxcd.io") {
                continue;
            }
            let kind = [Kind::Kustomization, Kind::HelmRelease]
                .into_iter()
                .find(|kind| {
                    let resource = kind.resource();
                    resource.group == id.group && resource.kind == id.kind
                });
            // A Kustomization that lists itself is not its own child.
            if kind == Some(Kind::Kustomization) && (id.namespace.as_str(), id.name.as_str()) == own
            {
                continue;
            }
            let mut child = Node::new(&id);
            if let Some(kind) = kind {
                let remote = object.data["spec"]["kubeConfig"].is_object();
                let found = if remote {
                    None
                } else {
                    kinds::api(client, kind, Some(&id.namespace))
                        .get_opt(&id.name)
                        .await?
                };
                if let Some(applied) = found {
                    grow(client, &mut child, &applied, compact, depth + 1).await?;
                }
            }
            node.children.push(child);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(namespace: &str, name: &str, kind: &str, children: Vec<Node>) -> Node {
        let mut node = Node::new(&ObjectId::new(namespace, name, "", kind));
        node.children = children;
        node
    }

    #[test]
    fn trees_are_drawn_with_flux_branches() {
        let tree = node(
            "flux-system",
            "flux-system",
            "Kustomization",
            vec![
                node("", "cert-manager", "Namespace", vec![]),
                node(
                    "flux-system",
                    "infrastructure",
                    "Kustomization",
                    vec![
                        node("", "cert-manager", "Namespace", vec![]),
                        node("cert-manager", "cert-manager", "HelmRepository", vec![]),
                    ],
                ),
                node("flux-system", "flux-system", "GitRepository", vec![]),
            ],
        );
        assert_eq!(
            tree.render(),
            "Kustomization/flux-system/flux-system\n\
             ├── Namespace/cert-manager\n\
             ├── Kustomization/flux-system/infrastructure\n\
             │   ├── Namespace/cert-manager\n\
             │   └── HelmRepository/cert-manager/cert-manager\n\
             └── GitRepository/flux-system/flux-system\n"
        );
    }
}

//! Name-reference fix-ups: after prefixes, suffixes, hashes and namespaces changed names,
//! every field that refers to a renamed object (a volume's ConfigMap, a RoleBinding's
//! subject, an HPA's target…) is updated to the object's final name.

use crate::Error;
use crate::fieldspec::{apply_path, split_path};
use crate::resource::{Gvk, Resource};
use crate::target::Accumulator;
use crate::value::Value;

/// Rewrites references in every resource, following kustomize's `nameref` filter.
pub(crate) fn fix_back_references(accumulator: &mut Accumulator) -> Result<(), Error> {
    let references = accumulator.config.name_reference.clone();
    let snapshot: Vec<Resource> = accumulator.resources.clone();
    for reference in &references {
        let candidates: Vec<&Resource> = snapshot
            .iter()
            .filter(|resource| {
                resource
                    .previous_ids
                    .iter()
                    .any(|id| id.gvk.is_selected_by(&reference.gvk))
                    || resource.gvk().is_selected_by(&reference.gvk)
            })
            .collect();
        if candidates.is_empty() {
            continue;
        }
        for (referrer_index, referrer_snapshot) in snapshot.iter().enumerate() {
            let referrer_gvk = referrer_snapshot.gvk();
            if !reference
                .field_specs
                .iter()
                .any(|spec| referrer_gvk.is_selected_by(&spec.gvk))
            {
                continue;
            }
            let candidates = could_be_referenced_by(referrer_snapshot, &candidates)?;
            for spec in &reference.field_specs {
                if !referrer_gvk.is_selected_by(&spec.gvk) {
                    continue;
                }
                let path = split_path(&spec.path);
                let is_role_ref = spec.path.ends_with("roleRef/name");
                let role_ref_gvk = if is_role_ref {
                    role_ref_gvk(referrer_snapshot)
                } else {
                    None
                };
                let value = &mut accumulator.resources[referrer_index].value;
                apply_path(value, &path, false, &mut |field| {
                    update_field(
                        field,
                        referrer_snapshot,
                        &reference.gvk,
                        &candidates,
                        role_ref_gvk.as_ref(),
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// kustomize's `SubsetThatCouldBeReferencedByResource`: a namespaced referrer sees
/// cluster-scoped objects, objects of its own namespace, and (for a RoleBinding) objects in the
/// namespaces of its ServiceAccount subjects.
fn could_be_referenced_by<'resource>(
    referrer: &Resource,
    candidates: &[&'resource Resource],
) -> Result<Vec<&'resource Resource>, Error> {
    let referrer_id = referrer.current_id();
    if referrer_id.gvk.is_cluster_scoped() {
        return Ok(candidates.to_vec());
    }
    let mut subject_namespaces = Vec::new();
    if referrer_id.gvk.kind == "RoleBinding"
        && let Some(Value::Seq(subjects)) = referrer.value.get("subjects")
    {
        for subject in subjects {
            let Some(namespace) = subject.get("namespace") else {
                continue;
            };
            if subject.get("kind").and_then(Value::as_str) != Some("ServiceAccount") {
                continue;
            }
            match namespace {
                Value::String(namespace) => subject_namespaces.push(namespace.clone()),
                _ => {
                    return Err(Error::Build(format!(
                        "Invalid Input: namespace is blank for resource \"{}\"",
                        referrer_id.display()
                    )));
                }
            }
        }
    }
    Ok(candidates
        .iter()
        .copied()
        .filter(|candidate| {
            let id = candidate.current_id();
            id.gvk.is_cluster_scoped()
                || id.namespace_equals(&referrer_id)
                || subject_namespaces.contains(&id.namespace)
        })
        .collect())
}

fn role_ref_gvk(referrer: &Resource) -> Option<Gvk> {
    let role_ref = referrer.value.get("roleRef")?;
    Some(Gvk {
        group: role_ref.get("apiGroup")?.as_str()?.to_string(),
        version: String::new(),
        kind: role_ref.get("kind")?.as_str()?.to_string(),
    })
}

fn update_field(
    field: &mut Value,
    referrer: &Resource,
    target: &Gvk,
    candidates: &[&Resource],
    role_ref: Option<&Gvk>,
) -> Result<(), Error> {
    match field {
        Value::Null => Ok(()),
        Value::String(name) => {
            if let Some(referral) =
                select_referral(name, candidates, referrer, target, role_ref, None, false)?
            {
                *name = referral.name();
            }
            Ok(())
        }
        Value::Map(map) => {
            let Some(old_name) = map.get("name").and_then(Value::as_str).map(str::to_string) else {
                return Ok(());
            };
            let namespace = map
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_string);
            let referral = select_referral(
                &old_name,
                candidates,
                referrer,
                target,
                role_ref,
                namespace.as_deref(),
                true,
            )?;
            if let Some(referral) = referral {
                let referral_namespace = referral.namespace();
                if referral.name() == old_name && referral_namespace.is_empty() {
                    return Ok(());
                }
                map.insert("name".into(), Value::String(referral.name()));
                if !referral_namespace.is_empty() {
                    map.insert("namespace".into(), Value::String(referral_namespace));
                }
            }
            Ok(())
        }
        Value::Seq(items) => {
            for item in items {
                update_field(item, referrer, target, candidates, role_ref)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
fn select_referral<'resource>(
    old_name: &str,
    candidates: &[&'resource Resource],
    referrer: &Resource,
    target: &Gvk,
    role_ref: Option<&Gvk>,
    namespace: Option<&str>,
    compare_namespaces: bool,
) -> Result<Option<&'resource Resource>, Error> {
    let mut pool: Vec<&Resource> = candidates.to_vec();
    if let Some(namespace) = namespace {
        let by_original: Vec<&Resource> = pool
            .iter()
            .copied()
            .filter(|resource| resource.original_id().namespace == namespace)
            .collect();
        pool = if by_original.is_empty() {
            pool.into_iter()
                .filter(|resource| resource.namespace() == namespace)
                .collect()
        } else {
            by_original
        };
    }
    pool.retain(|resource| resource.previous_ids.iter().any(|id| id.name == old_name));
    pool.retain(|resource| {
        resource
            .previous_ids
            .iter()
            .any(|id| id.gvk.is_selected_by(target))
    });
    if let Some(role_ref) = role_ref {
        pool.retain(|resource| {
            resource
                .previous_ids
                .iter()
                .any(|id| id.gvk.is_selected_by(role_ref))
        });
    }
    let referrer_id = referrer.current_id();
    if !referrer_id.gvk.is_cluster_scoped() {
        pool.retain(|resource| {
            let id = resource.current_id();
            id.gvk.is_cluster_scoped()
                || id.gvk.kind == "ServiceAccount"
                || referrer_id.namespace_equals(&id)
        });
    }
    if pool.len() == 1 {
        return Ok(pool.first().copied());
    }
    pool.retain(|resource| resource.prefixes_suffixes_equal(referrer, true));
    if pool.len() > 1 {
        pool.retain(|resource| resource.prefixes_suffixes_equal(referrer, false));
    }
    match pool.len() {
        0 => Ok(None),
        1 => Ok(pool.first().copied()),
        _ => {
            let first = pool[0];
            let identical = pool.iter().all(|resource| {
                resource.name() == first.name()
                    && (!compare_namespaces || resource.namespace() == first.namespace())
            });
            if identical {
                Ok(Some(first))
            } else {
                let ids: Vec<String> = pool
                    .iter()
                    .map(|resource| resource.current_id().display())
                    .collect();
                Err(Error::Build(format!(
                    "found multiple possible referrals: {}",
                    ids.join(", ")
                )))
            }
        }
    }
}

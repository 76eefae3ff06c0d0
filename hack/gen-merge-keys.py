#!/usr/bin/env python3
"""Generate crates/kustomize/src/smp/builtin_schema.rs: the strategic-merge schema of the
built-in Kubernetes kinds (which lists merge, by which key), trimmed to what a merge needs.

Input: the `_definitions.json` of a kubernetes-validate release (PyPI `kubernetes-validate`,
directory `kubernetes_validate/kubernetes-json-schema/<version>-local/`). kustomize v5.5 embeds
the v1.21.2 OpenAPI document; kubernetes-validate's oldest schema is v1.25.0, whose merge keys
are the same for every type that exists in both. Kinds that were removed between v1.21 and
v1.25 (extensions/v1beta1 Deployment, batch/v1beta1 CronJob, ...) are added back below as
aliases of their successors, so that kustomize's notion of "a kind with a schema" holds.

Usage:
    pip download kubernetes-validate==1.37.0 --no-deps -d /tmp/kv
    unzip -q /tmp/kv/kubernetes_validate-*.whl -d /tmp/kv/x
    python3 hack/gen-merge-keys.py \\
        /tmp/kv/x/kubernetes_validate/kubernetes-json-schema/v1.25.0-local/_definitions.json \\
        > crates/kustomize/src/smp/builtin_schema.rs
"""

import json
import sys

# (group, version, kind) that kyaml's v1.21.2 schema has but v1.25 no longer does, mapped to
# the type of their successor (or None for a kind without any merge list).
REMOVED_KINDS = {
    ("batch", "v1beta1", "CronJob"): "io.k8s.api.batch.v1.CronJob",
    ("autoscaling", "v2beta1", "HorizontalPodAutoscaler"): "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    ("autoscaling", "v2beta2", "HorizontalPodAutoscaler"): "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    ("policy", "v1beta1", "PodDisruptionBudget"): "io.k8s.api.policy.v1.PodDisruptionBudget",
    ("policy", "v1beta1", "PodSecurityPolicy"): None,
    ("extensions", "v1beta1", "Ingress"): "io.k8s.api.networking.v1.Ingress",
    ("networking.k8s.io", "v1beta1", "Ingress"): "io.k8s.api.networking.v1.Ingress",
    ("networking.k8s.io", "v1beta1", "IngressClass"): "io.k8s.api.networking.v1.IngressClass",
    ("discovery.k8s.io", "v1beta1", "EndpointSlice"): "io.k8s.api.discovery.v1.EndpointSlice",
    ("events.k8s.io", "v1beta1", "Event"): "io.k8s.api.events.v1.Event",
    ("rbac.authorization.k8s.io", "v1beta1", "Role"): "io.k8s.api.rbac.v1.Role",
    ("rbac.authorization.k8s.io", "v1beta1", "ClusterRole"): "io.k8s.api.rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io", "v1beta1", "RoleBinding"): "io.k8s.api.rbac.v1.RoleBinding",
    ("rbac.authorization.k8s.io", "v1beta1", "ClusterRoleBinding"): "io.k8s.api.rbac.v1.ClusterRoleBinding",
    ("admissionregistration.k8s.io", "v1beta1", "MutatingWebhookConfiguration"): "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
    ("admissionregistration.k8s.io", "v1beta1", "ValidatingWebhookConfiguration"): "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
    ("apiextensions.k8s.io", "v1beta1", "CustomResourceDefinition"): "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    ("apiregistration.k8s.io", "v1beta1", "APIService"): "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService",
    ("storage.k8s.io", "v1beta1", "StorageClass"): "io.k8s.api.storage.v1.StorageClass",
    ("storage.k8s.io", "v1beta1", "VolumeAttachment"): "io.k8s.api.storage.v1.VolumeAttachment",
    ("storage.k8s.io", "v1beta1", "CSIDriver"): "io.k8s.api.storage.v1.CSIDriver",
    ("storage.k8s.io", "v1beta1", "CSINode"): "io.k8s.api.storage.v1.CSINode",
    ("scheduling.k8s.io", "v1beta1", "PriorityClass"): "io.k8s.api.scheduling.v1.PriorityClass",
    ("certificates.k8s.io", "v1beta1", "CertificateSigningRequest"): "io.k8s.api.certificates.v1.CertificateSigningRequest",
    ("coordination.k8s.io", "v1beta1", "Lease"): "io.k8s.api.coordination.v1.Lease",
    ("node.k8s.io", "v1beta1", "RuntimeClass"): "io.k8s.api.node.v1.RuntimeClass",
}

STRATEGY_NONE, STRATEGY_MERGE_KEY, STRATEGY_MERGE_PRIMITIVE, STRATEGY_REPLACE = 0, 1, 2, 3


def ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def main():
    definitions = json.load(open(sys.argv[1]))["$defs"]

    def child_of(prop):
        if "$ref" in prop:
            return ref_name(prop["$ref"])
        items = prop.get("items") or {}
        if "$ref" in items:
            return ref_name(items["$ref"])
        return None

    def strategy_of(prop):
        strategy = prop.get("x-kubernetes-patch-strategy", "")
        parts = [part.strip() for part in strategy.split(",") if part.strip()]
        if "merge" in parts:
            if prop.get("x-kubernetes-patch-merge-key"):
                return STRATEGY_MERGE_KEY, prop["x-kubernetes-patch-merge-key"]
            return STRATEGY_MERGE_PRIMITIVE, ""
        if "replace" in parts:
            return STRATEGY_REPLACE, ""
        return STRATEGY_NONE, ""

    # Which types lead to a strategy somewhere below them (fixed point over the type graph).
    relevant = set()
    changed = True
    while changed:
        changed = False
        for name, definition in definitions.items():
            if name in relevant:
                continue
            for prop in (definition.get("properties") or {}).values():
                strategy, _ = strategy_of(prop)
                child = child_of(prop)
                if strategy != STRATEGY_NONE or (child is not None and child in relevant):
                    relevant.add(name)
                    changed = True
                    break

    roots = {}
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            roots[(gvk.get("group", ""), gvk["version"], gvk["kind"])] = name
    for key, successor in REMOVED_KINDS.items():
        roots.setdefault(key, successor)

    names = sorted(relevant)
    index = {name: position for position, name in enumerate(names)}
    out = []
    out.append("// Generated by hack/gen-merge-keys.py from kubernetes-validate's v1.25.0 schema.")
    out.append("// Do not edit by hand; rerun the generator instead.")
    out.append("")
    out.append("/// Types on a path to a list or map with a patch strategy, by name.")
    out.append("pub(super) const TYPE_NAMES: &[&str] = &[")
    for name in names:
        out.append(f'    "{name}",')
    out.append("];")
    out.append("")
    out.append("/// Per type (same order as `TYPE_NAMES`): `(field, child type or NO_TYPE, strategy, merge key)`.")
    out.append("/// Strategies: 0 none, 1 merge by key, 2 merge primitives, 3 replace.")
    out.append("pub(super) const TYPE_FIELDS: &[&[(&str, u16, u8, &str)]] = &[")
    for name in names:
        entries = []
        for field, prop in sorted((definitions[name].get("properties") or {}).items()):
            strategy, key = strategy_of(prop)
            child = child_of(prop)
            child_index = index.get(child, 0xFFFF) if child else 0xFFFF
            if strategy == STRATEGY_NONE and child_index == 0xFFFF:
                continue
            entries.append(f'("{field}", {child_index}, {strategy}, "{key}")')
        out.append("    &[" + ", ".join(entries) + "],")
    out.append("];")
    out.append("")
    out.append("/// `(group, version, kind, root type or NO_TYPE)` of every built-in kind with a schema.")
    out.append("pub(super) const ROOTS: &[(&str, &str, &str, u16)] = &[")
    for (group, version, kind), name in sorted(roots.items()):
        root = index.get(name, 0xFFFF) if name else 0xFFFF
        out.append(f'    ("{group}", "{version}", "{kind}", {root}),')
    out.append("];")
    print("\n".join(out))


if __name__ == "__main__":
    main()

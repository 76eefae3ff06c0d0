#!/usr/bin/env python3
"""Writes the synthetic kustomize overlay used by `make bench`: a base of N resources
(Deployments, Services, ConfigMaps in turn, 100 per file) and an overlay with namespace,
namePrefix, labels, images, a configMapGenerator and P strategic-merge patches.

Usage: hack/gen-kustomize-overlay.py DIR [RESOURCES=2000] [PATCHES=50]
Build DIR/overlay with `eddy kustomize build` or `kubectl kustomize`.
"""
import os
import sys

root = sys.argv[1]
resources = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
patches = int(sys.argv[3]) if len(sys.argv) > 3 else 50
base = os.path.join(root, "base")
overlay = os.path.join(root, "overlay")
os.makedirs(base, exist_ok=True)
os.makedirs(overlay, exist_ok=True)


def resource(index):
    name = f"app{index // 3}"
    kind = index % 3
    if kind == 0:
        return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        envFrom:
        - configMapRef:
            name: {name}-config
        ports:
        - containerPort: 80
"""
    if kind == 1:
        return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: 80
"""
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  INDEX: "{index}"
"""


files = []
for start in range(0, resources, 100):
    file_name = f"resources-{start // 100:03d}.yaml"
    files.append(file_name)
    with open(os.path.join(base, file_name), "w") as out:
        out.write("---\n".join(resource(i) for i in range(start, min(start + 100, resources))))
with open(os.path.join(base, "kustomization.yaml"), "w") as out:
    out.write("resources:\n" + "".join(f"- {name}\n" for name in files))

patch_names = []
for number in range(patches):
    name = f"patch-{number:03d}.yaml"
    patch_names.append(name)
    with open(os.path.join(overlay, name), "w") as out:
        out.write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{number}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: main
        env:
        - name: PATCHED
          value: "{number}"
""")
with open(os.path.join(overlay, "app.env"), "w") as out:
    out.write("MODE=bench\nREGION=local\n")
with open(os.path.join(overlay, "kustomization.yaml"), "w") as out:
    out.write("namespace: bench\nnamePrefix: prod-\n")
    out.write("labels:\n- pairs:\n    env: prod\n  includeSelectors: true\n")
    out.write("images:\n- name: nginx\n  newTag: \"1.27\"\n")
    out.write("configMapGenerator:\n- name: settings\n  envs:\n  - app.env\n")
    out.write("resources:\n- ../base\n")
    out.write("patches:\n" + "".join(f"- path: {name}\n" for name in patch_names))

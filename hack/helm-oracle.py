#!/usr/bin/env python3
"""Renders eddy-helm's own test cases with real Helm (helm-python-sdk, Helm v4) and
stores the results as the expected outputs the Rust tests compare against.

Layout: crates/helm/tests/cases/<case>/chart/     a chart (subcharts under chart/charts/)
        crates/helm/tests/cases/<case>/values.yaml user values (optional, default {})
        crates/helm/tests/cases/<case>/expected/   written here: one file per render key,
                                                   or ERROR with Helm's message.

Usage: pip install helm-python-sdk==0.2.2; python3 hack/helm-oracle.py [case-substring]
Nondeterministic functions (random, keys, certificates) must not appear in these cases.
"""
import os
import shutil
import sys

import helm_python as helm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "helm", "tests", "cases")


def render(case_dir):
    values_path = os.path.join(case_dir, "values.yaml")
    text = open(values_path).read() if os.path.exists(values_path) else "{}"
    expected = os.path.join(case_dir, "expected")
    shutil.rmtree(expected, ignore_errors=True)
    os.makedirs(expected)
    try:
        values = helm.values_from_yaml(text)
        with helm.Chart.load(os.path.join(case_dir, "chart")) as chart:
            rendered = chart.render(values, name="demo", namespace="demo-ns")
    except Exception as error:  # Helm's refusal is the expected result.
        message = str(error)
        open(os.path.join(expected, "ERROR"), "w").write(message)
        return "error: " + message.splitlines()[0][:100]
    for key, output in rendered.items():
        path = os.path.join(expected, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(output)
    return f"{len(rendered)} templates"


def main():
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    for case in sorted(os.listdir(ROOT)):
        if wanted in case:
            print(f"{case}: {render(os.path.join(ROOT, case))}")


if __name__ == "__main__":
    main()

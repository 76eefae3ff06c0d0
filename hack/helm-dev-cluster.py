#!/usr/bin/env python3
"""Drives real Helm v4 (helm-python-sdk, Helm's Go SDK in process) against a cluster, one
release action per run, and prints the action's result as one JSON object on stdout.

The dev cluster's Helm test (crates/devcluster/tests/helm_v4.rs) runs this script step by step
and checks the cluster with kubectl between steps; it is also handy by hand:

    pip install helm-python-sdk==0.2.2
    eddy-devcluster --kubeconfig /tmp/kc &
    chart=crates/devcluster/tests/charts/greeter
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc install demo $chart --wait
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc upgrade demo $chart --set greeting=bonjour
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc list
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc history demo
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc rollback demo 1
    hack/helm-dev-cluster.py --kubeconfig /tmp/kc uninstall demo

On success the exit status is 0 and stdout holds {"ok": true, ...}; when Helm refuses, the exit
status is 1 and stdout holds {"ok": false, "error": <Helm's exception class>, "message": ...},
so a caller can tell Helm's answer from a crash of this script (any other status).
Set HELM_DEV_CLUSTER_DEBUG=1 to see Helm's own log (which requests it sends) on stderr.
"""
import argparse
import json
import logging
import os
import sys

import helm_python as helm


def summary(release):
    """A release summary without the rendered manifest (which can be large)."""
    return {key: value for key, value in release.items() if key != "manifest"}


def user_values(arguments):
    """Values from --set expressions, parsed by Helm's own strvals parser (several --set are
    one comma-separated expression, as for the helm CLI)."""
    return helm.parse_set_string(",".join(arguments.set)) if arguments.set else {}


def wait_mode(arguments):
    # "watcher" is Helm v4's default strategy for --wait: kstatus over watches.
    return "watcher" if arguments.wait else None


def run(config, arguments):
    action = arguments.action
    if action == "install":
        release = config.install(
            arguments.chart,
            arguments.release,
            user_values(arguments),
            wait=wait_mode(arguments),
            timeout=arguments.timeout,
        )
        return {"release": summary(release), "manifest": release.get("manifest", "")}
    if action == "upgrade":
        release = config.upgrade(
            arguments.chart,
            arguments.release,
            user_values(arguments),
            wait=wait_mode(arguments),
            timeout=arguments.timeout,
        )
        return {"release": summary(release), "manifest": release.get("manifest", "")}
    if action == "list":
        return {"releases": [summary(release) for release in config.list(all_states=True)]}
    if action == "history":
        return {"history": [summary(release) for release in config.history(arguments.release)]}
    if action == "status":
        return {"release": summary(config.status(arguments.release))}
    if action == "values":
        return {"values": config.get_values(arguments.release)}
    if action == "rollback":
        config.rollback(
            arguments.release,
            version=arguments.revision,
            wait=wait_mode(arguments),
            timeout=arguments.timeout,
        )
        return {"release": summary(config.status(arguments.release))}
    if action == "uninstall":
        result = config.uninstall(
            arguments.release, wait=wait_mode(arguments), timeout=arguments.timeout
        )
        release = result.get("release") or {}
        return {"info": result.get("info", ""), "release": summary(release)}
    raise ValueError(f"unknown action {action}")


def parser():
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    top.add_argument("--kubeconfig", required=True)
    top.add_argument("--namespace", default="default")
    actions = top.add_subparsers(dest="action", required=True)

    def with_wait(command):
        command.add_argument("--wait", action="store_true", help="wait until the objects are ready")
        command.add_argument("--timeout", type=int, default=None, help="seconds")

    for name in ("install", "upgrade"):
        command = actions.add_parser(name)
        command.add_argument("release")
        command.add_argument("chart")
        command.add_argument("--set", action="append", help="Helm --set expression")
        with_wait(command)
    actions.add_parser("list")
    for name in ("history", "status", "values"):
        actions.add_parser(name).add_argument("release")
    rollback = actions.add_parser("rollback")
    rollback.add_argument("release")
    rollback.add_argument("revision", type=int, nargs="?", default=None)
    with_wait(rollback)
    uninstall = actions.add_parser("uninstall")
    uninstall.add_argument("release")
    with_wait(uninstall)
    return top


def main():
    arguments = parser().parse_args()
    if os.environ.get("HELM_DEV_CLUSTER_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        helm.enable_logging(logging.DEBUG)
    try:
        config = helm.Config(kubeconfig_path=arguments.kubeconfig, namespace=arguments.namespace)
        with config:
            result = run(config, arguments)
    except helm.HelmError as error:
        print(json.dumps({"ok": False, "error": type(error).__name__, "message": str(error)}))
        return 1
    result["ok"] = True
    result["helm_version"] = helm.helm_sdk_version()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

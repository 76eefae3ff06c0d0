//! Every controller binary starts like a Flux controller: Flux's common flags, one clear line
//! and a non-zero exit when there is no API server, metrics and health endpoints when there is
//! one, and a clean exit on SIGTERM.

use eddy_e2e::{
    CONTROLLERS, LogLines, binary, http_get, start_dev_cluster, wait_for_exit, write_kubeconfig,
};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COMMON_FLAGS: [&str; 24] = [
    "--concurrent",
    "--watch-all-namespaces",
    "--watch-label-selector",
    "--watch-configs-label-selector",
    "--metrics-addr",
    "--health-addr",
    "--events-addr",
    "--log-level",
    "--log-encoding",
    "--kube-api-qps",
    "--kube-api-burst",
    "--requeue-dependency",
    "--min-retry-delay",
    "--max-retry-delay",
    "--interval-jitter-percentage",
    "--no-cross-namespace-refs",
    "--default-service-account",
    "--feature-gates",
    "--enable-leader-election",
    "--leader-election-lease-duration",
    "--leader-election-renew-deadline",
    "--leader-election-retry-period",
    "--graceful-shutdown-timeout",
    "--kubeconfig",
];

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|error| panic!("creating {}: {error}", dir.display()));
    dir
}

#[test]
fn every_controller_lists_the_common_flags_in_help() {
    for controller in CONTROLLERS {
        let output = Command::new(binary(controller))
            .arg("--help")
            .output()
            .expect("runs");
        assert!(output.status.success(), "{controller} --help failed");
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in COMMON_FLAGS {
            assert!(help.contains(flag), "{controller} --help lacks {flag}");
        }
    }
}

/// Runs `controller` with `args` and an environment without any kubeconfig; returns exit code,
/// stderr and how long it took.
fn run_to_exit(
    controller: &str,
    args: &[&str],
    home: &std::path::Path,
) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let output = Command::new(binary(controller))
        .args(args)
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", home)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed(),
    )
}

fn assert_one_clear_line(
    controller: &str,
    code: Option<i32>,
    stderr: &str,
    took: Duration,
    expected: &str,
) {
    assert_ne!(code, Some(0), "{controller} must fail");
    assert!(code.is_some(), "{controller} must exit, not be killed");
    assert!(took < Duration::from_secs(60), "{controller} took {took:?}");
    let lines: Vec<_> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{controller} printed more than one line:\n{stderr}"
    );
    assert!(
        lines[0].starts_with(&format!("{controller}: ")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(expected),
        "{controller}: {:?} lacks {expected:?}",
        lines[0]
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn without_a_kubeconfig_each_controller_exits_with_one_clear_line() {
    let home = temp_dir("nohome");
    for controller in CONTROLLERS {
        let (code, stderr, took) = run_to_exit(controller, &[], &home);
        assert_one_clear_line(
            controller,
            code,
            &stderr,
            took,
            "no Kubernetes configuration found",
        );
    }
}

#[test]
fn with_an_unreachable_api_server_each_controller_exits_with_one_clear_line() {
    let dir = temp_dir("unreachable");
    // Bind and drop a listener: nothing accepts on this port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let kubeconfig = write_kubeconfig(&dir, &format!("http://127.0.0.1:{port}"));
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    for controller in CONTROLLERS {
        let (code, stderr, took) = run_to_exit(controller, &["--kubeconfig", &kubeconfig], &dir);
        assert_one_clear_line(
            controller,
            code,
            &stderr,
            took,
            "cannot reach the Kubernetes API server",
        );
    }
}

#[test]
fn every_controller_serves_health_and_metrics_on_a_cluster_and_stops_on_sigterm() {
    let dir = temp_dir("started");
    let (kubeconfig, _cluster) = start_dev_cluster();
    for controller in CONTROLLERS {
        let storage = dir.join(format!("{controller}-storage"));
        let mut command = Command::new(binary(controller));
        command
            .args(["--kubeconfig", &kubeconfig.to_string_lossy()])
            .args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--health-addr",
                "127.0.0.1:0",
                "--log-encoding",
                "json",
                "--graceful-shutdown-timeout",
                "20s",
            ])
            .env("STORAGE_PATH", &storage)
            .env("STORAGE_ADDRESS", "127.0.0.1:0")
            .stderr(Stdio::piped());
        if controller == "notification-controller" {
            command.args([
                "--events-addr",
                "127.0.0.1:0",
                "--receiverAddr",
                "127.0.0.1:0",
            ]);
        }
        let mut child = command.spawn().expect("starts");
        let logs = LogLines::drain(child.stderr.take().expect("stderr"));
        let Some(started) = logs.wait_for_started(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "{controller} logged no `started` line within 60s:\n{}",
                logs.rest()
            );
        };
        let health = started["health"]
            .as_str()
            .expect("health address")
            .to_string();
        let metrics = started["metrics"]
            .as_str()
            .expect("metrics address")
            .to_string();

        assert_eq!(
            http_get(&health, "/healthz", "*/*").expect("healthz").0,
            200,
            "{controller}"
        );
        assert_eq!(
            http_get(&health, "/readyz", "*/*").expect("readyz").0,
            200,
            "{controller}"
        );
        let (status, body) = http_get(
            &metrics,
            "/metrics",
            "application/openmetrics-text;version=1.0.0",
        )
        .expect("metrics");
        assert_eq!(status, 200, "{controller}");
        assert!(body.trim_end().ends_with("# EOF"), "{controller}: {body}");

        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(terminated.success());
        let status = wait_for_exit(&mut child, Duration::from_secs(30)).unwrap_or_else(|| {
            panic!(
                "{controller} did not stop within 30s of SIGTERM:\n{}",
                logs.rest()
            )
        });
        assert!(
            status.success(),
            "{controller}: SIGTERM must end it cleanly, got {status}"
        );
        let shutdown_logs = logs.finish();
        assert!(
            !shutdown_logs.contains("did not wind down"),
            "{controller} hung in shutdown until the grace period ran out:\n{shutdown_logs}"
        );
    }
}

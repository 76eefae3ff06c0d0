//! With `--enable-leader-election`, only the replica holding the Lease
//! `<controller>-leader-election` runs; when it stops, a waiting replica takes over.

use eddy_e2e::{LogLines, binary, start_dev_cluster, wait_for_exit};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn replica(kubeconfig: &std::path::Path) -> (Child, LogLines) {
    let mut child = Command::new(binary("helm-controller"))
        .args(["--kubeconfig", &kubeconfig.to_string_lossy()])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .args(["--enable-leader-election", "--log-encoding", "json"])
        .args([
            "--leader-election-lease-duration",
            "4s",
            "--leader-election-renew-deadline",
            "3s",
        ])
        .env("RUNTIME_NAMESPACE", "default")
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let logs = LogLines::drain(child.stderr.take().expect("stderr"));
    (child, logs)
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(
        wait_for_exit(child, Duration::from_secs(30)).is_some(),
        "replica did not stop"
    );
}

#[test]
fn only_the_lease_holder_runs_and_a_waiting_replica_takes_over() {
    let dir = std::env::temp_dir().join(format!("eddy-e2e-leader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (kubeconfig, _cluster) = start_dev_cluster();

    let (mut leader, leader_logs) = replica(&kubeconfig);
    assert!(
        leader_logs
            .wait_for_started(Duration::from_secs(60))
            .is_some(),
        "the first replica must take the Lease and start:\n{}",
        leader_logs.rest()
    );

    let (mut follower, follower_logs) = replica(&kubeconfig);
    // While the leader renews its Lease, the follower keeps waiting: give it longer than a
    // lease duration to (wrongly) start.
    assert!(
        follower_logs
            .wait_for_started(Duration::from_secs(8))
            .is_none(),
        "a second replica must not run while the Lease is held"
    );

    terminate(&mut leader);
    assert!(
        follower_logs
            .wait_for_started(Duration::from_secs(60))
            .is_some(),
        "the waiting replica must take over once the leader stops:\n{}",
        follower_logs.rest()
    );
    terminate(&mut follower);
}

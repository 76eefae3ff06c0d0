//! `eddy dev up` and `eddy dev down`: the whole suite on one machine.
//!
//! `up` starts, each as its own process with its log in `<data-dir>/logs/`: the dev cluster
//! (persistent, in `<data-dir>/cluster`), a Git smart HTTP server for the demo repository
//! (`<data-dir>/git/demo.git`, seeded once from `examples/`) and every controller binary found
//! next to `eddy`, wired as in a real installation (source-controller's artifact address
//! advertised, every `--events-addr` pointing at notification-controller). It installs the
//! CRDs, creates the FluxConfig `cluster-config`, waits with a progress display until the
//! configuration is Compliant and records what it started in `<data-dir>/dev.json`. Run again,
//! it reuses that state: running processes are kept, stopped ones restarted on the same ports.
//! `down` stops what `up` started.

mod bootstrap;
mod demo;
mod git_http;
mod processes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use processes::{Spec, Started, free_port};

/// The state file scripts read: `kubeconfig` and `gitUrl` at least.
const STATE_FILE: &str = "dev.json";
/// Controllers `eddy dev up` runs, in start order (notification-controller first so the
/// others' first events have somewhere to go).
const CONTROLLERS: [&str; 6] = [
    "notification-controller",
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "image-automation",
    "flux-config-agent",
];
/// How long a stopping process gets before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// `eddy dev up` flags.
#[derive(Args, Debug)]
pub(crate) struct UpArgs {
    /// Where the dev environment keeps its state (default: $XDG_DATA_HOME/eddy/dev, else
    /// ~/.local/share/eddy/dev).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the controller binaries are (default: next to this eddy binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// How long to wait for the configuration to become Compliant.
    #[arg(long, default_value = "5m", value_parser = eddy_runtime::flags::parse_flag_duration)]
    timeout: Duration,
}

/// `eddy dev down` flags.
#[derive(Args, Debug)]
pub(crate) struct DownArgs {
    /// The data directory `eddy dev up` used.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// `eddy dev git-server` flags (started by `eddy dev up`).
#[derive(Args, Debug)]
pub(crate) struct GitServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Directory holding the served repositories (`<root>/<name>.git`).
    #[arg(long)]
    root: PathBuf,
}

/// What `eddy dev up` started, in `<data-dir>/dev.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DevState {
    /// The kubeconfig of the dev cluster.
    kubeconfig: PathBuf,
    /// The demo repository's URL (`git clone` and `git push` accept it).
    git_url: String,
    /// The dev cluster's API server URL.
    api_server: String,
    /// The data directory.
    data_dir: PathBuf,
    /// Ports by use, kept so a restart serves at the same addresses.
    ports: BTreeMap<String, u16>,
    /// The running processes.
    processes: Vec<Started>,
}

fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir,
        None => {
            let base = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
                })
                .context("neither --data-dir, XDG_DATA_HOME nor HOME is set")?;
            base.join("eddy/dev")
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

fn read_state(dir: &Path) -> Result<Option<DevState>> {
    let path = dir.join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not a dev.json this eddy wrote", path.display()))
}

fn write_state(dir: &Path, state: &DevState) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let temporary = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&temporary, serde_json::to_vec_pretty(state)?)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))
}

fn stop_all(started: &[Started]) {
    // The controllers first, in parallel, while the cluster still answers their shutdown
    // (lease release, last status writes); then the Git server and the cluster.
    let (controllers, servers): (Vec<&Started>, Vec<&Started>) = started
        .iter()
        .partition(|process| CONTROLLERS.contains(&process.name.as_str()));
    for group in [controllers, servers] {
        std::thread::scope(|scope| {
            for process in group {
                scope.spawn(move || process.stop(STOP_GRACE));
            }
        });
    }
}

/// `eddy dev down`.
pub(crate) fn down(args: DownArgs) -> Result<()> {
    let dir = data_dir(args.data_dir)?;
    let Some(mut state) = read_state(&dir)? else {
        eprintln!("nothing to stop: no {STATE_FILE} in {}", dir.display());
        return Ok(());
    };
    let running: Vec<Started> = state
        .processes
        .iter()
        .filter(|process| process.is_running())
        .cloned()
        .collect();
    stop_all(&running);
    state.processes.clear();
    write_state(&dir, &state)?;
    eprintln!(
        "✔ stopped {} processes; state kept in {} (eddy dev up starts them again)",
        running.len(),
        dir.display()
    );
    Ok(())
}

/// `eddy dev git-server`.
pub(crate) fn git_server(args: GitServerArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "serving Git repositories in {} at http://{}",
            args.root.display(),
            listener.local_addr()?
        );
        let shutdown = eddy_runtime::process::shutdown_on_signal();
        axum::serve(listener, git_http::router(args.root))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .context("serving Git")
    })
}

/// The port of `purpose`: the one it had, or a free one no other purpose has. Ports are found
/// before the processes that bind them start, and the system may hand a port it just
/// released out again; two of our processes must never be given the same one.
fn port(state: &mut DevState, purpose: &str) -> Result<u16> {
    port_from(state, purpose, free_port)
}

fn port_from(
    state: &mut DevState,
    purpose: &str,
    mut next_free: impl FnMut() -> Result<u16>,
) -> Result<u16> {
    if let Some(port) = state.ports.get(purpose) {
        return Ok(*port);
    }
    for _ in 0..PORT_ATTEMPTS {
        let port = next_free()?;
        if !state.ports.values().any(|taken| *taken == port) {
            state.ports.insert(purpose.to_string(), port);
            return Ok(port);
        }
    }
    bail!("no free loopback port for {purpose} after {PORT_ATTEMPTS} attempts")
}

/// How often [`port`] asks the system for a port not given to another purpose yet.
const PORT_ATTEMPTS: usize = 100;

fn bin_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir),
        None => std::env::current_exe()
            .context("finding the eddy binary")?
            .parent()
            .map(Path::to_path_buf)
            .context("the eddy binary has no directory"),
    }
}

/// The command lines of every process, in start order.
fn specs(state: &mut DevState, bins: &Path, eddy: &Path) -> Result<Vec<Spec>> {
    let dir = state.data_dir.clone();
    let logs = dir.join("logs");
    let kubeconfig = state.kubeconfig.display().to_string();
    let api_port = port(state, "apiserver")?;
    let git_port = port(state, "git")?;
    let events_port = port(state, "events")?;
    let mut specs = vec![
        Spec {
            name: "apiserver".to_string(),
            program: eddy.to_path_buf(),
            args: vec![
                "dev".into(),
                "apiserver".into(),
                format!("--listen=127.0.0.1:{api_port}"),
                format!("--kubeconfig={kubeconfig}"),
                format!("--data-dir={}", dir.join("cluster").display()),
            ],
            log: logs.join("apiserver.log"),
        },
        Spec {
            name: "git".to_string(),
            program: eddy.to_path_buf(),
            args: vec![
                "dev".into(),
                "git-server".into(),
                format!("--listen=127.0.0.1:{git_port}"),
                format!("--root={}", dir.join("git").display()),
            ],
            log: logs.join("git.log"),
        },
    ];
    for controller in CONTROLLERS {
        let metrics = port(state, &format!("{controller}-metrics"))?;
        let health = port(state, &format!("{controller}-health"))?;
        let mut args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--metrics-addr=127.0.0.1:{metrics}"),
            format!("--health-addr=127.0.0.1:{health}"),
            "--log-encoding=console".to_string(),
        ];
        match controller {
            "notification-controller" => {
                let receiver = port(state, "receiver")?;
                args.push(format!("--events-addr=127.0.0.1:{events_port}"));
                args.push(format!("--receiverAddr=127.0.0.1:{receiver}"));
            }
            _ => args.push(format!("--events-addr=http://127.0.0.1:{events_port}/")),
        }
        match controller {
            "source-controller" => {
                let storage = port(state, "storage")?;
                args.push(format!(
                    "--storage-path={}",
                    dir.join("artifacts").display()
                ));
                args.push(format!("--storage-addr=127.0.0.1:{storage}"));
                args.push(format!("--storage-adv-addr=127.0.0.1:{storage}"));
            }
            // apps depends on infra: check the dependency often, not every 30 s.
            "kustomize-controller" => args.push("--requeue-dependency=5s".to_string()),
            _ => {}
        }
        specs.push(Spec {
            name: controller.to_string(),
            program: bins.join(controller),
            args,
            log: logs.join(format!("{controller}.log")),
        });
    }
    state.api_server = format!("https://127.0.0.1:{api_port}");
    state.git_url = format!("http://127.0.0.1:{git_port}/{}", demo::REPOSITORY);
    Ok(specs)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Fails with the log tail of the first supervised process that stopped.
fn check_running(started: &[Started]) -> Result<()> {
    for process in started {
        if !process.is_running() {
            bail!(
                "{} (pid {}, {}) stopped; the end of {}:\n{}",
                process.name,
                process.pid,
                process.describe(),
                process.log.display(),
                log_tail(&process.log)
            );
        }
    }
    Ok(())
}

/// `eddy dev up`.
pub(crate) fn up(args: UpArgs) -> Result<()> {
    let dir = data_dir(args.data_dir)?;
    let bins = bin_dir(args.bin_dir)?;
    let eddy = std::env::current_exe().context("finding the eddy binary")?;
    for controller in CONTROLLERS {
        if !bins.join(controller).exists() {
            bail!(
                "{} not found in {}: build the workspace first (`cargo build --workspace --bins`, \
                 which `make run` does) or pass --bin-dir",
                controller,
                bins.display()
            );
        }
    }
    let mut state = read_state(&dir)?.unwrap_or_default();
    state.data_dir = dir.clone();
    state.kubeconfig = dir.join("kubeconfig");
    let all_running =
        !state.processes.is_empty() && state.processes.iter().all(|process| process.is_running());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    eddy_runtime::process::install_crypto_provider();
    if all_running {
        eprintln!("✔ already running (data in {})", dir.display());
    } else {
        // Whatever survived of an earlier run is stopped and everything starts afresh on the
        // same ports, from the same data.
        stop_all(&state.processes);
        state.processes.clear();
        if demo::seed(&dir.join("git"))? {
            eprintln!("✔ demo repository created from examples/");
        }
        let specs = specs(&mut state, &bins, &eddy)?;
        write_state(&dir, &state)?;
        let started = runtime.block_on(start_all(&specs, &state));
        match started {
            Ok(started) => {
                state.processes = started;
                write_state(&dir, &state)?;
            }
            Err((started, error)) => {
                stop_all(&started);
                return Err(error);
            }
        }
    }
    let client = runtime.block_on(bootstrap::client(&state.kubeconfig))?;
    runtime.block_on(async {
        if bootstrap::ensure_demo_config(&client, &state.git_url).await? {
            eprintln!("✔ FluxConfig cluster-config created");
        }
        bootstrap::wait_until_compliant(&client, args.timeout, || check_running(&state.processes))
            .await
    })?;
    eprintln!("✔ cluster-config is Compliant");
    print_next_steps(&state);
    Ok(())
}

/// Starts the processes in order, waiting for the cluster before the controllers; on failure
/// returns what was started so the caller can stop it.
async fn start_all(
    specs: &[Spec],
    state: &DevState,
) -> std::result::Result<Vec<Started>, (Vec<Started>, anyhow::Error)> {
    let mut started = Vec::new();
    // A kubeconfig left by an earlier run must not be mistaken for the new server's.
    let _ = std::fs::remove_file(&state.kubeconfig);
    for spec in specs {
        let process = match spec.start() {
            Ok(process) => process,
            Err(error) => return Err((started, error)),
        };
        started.push(process.clone());
        if spec.name == "apiserver" {
            let result =
                bootstrap::wait_for_api(&state.kubeconfig, Duration::from_secs(60), || {
                    if process.is_running() {
                        Ok(())
                    } else {
                        Err(format!("pid {}, {}", process.pid, process.describe()))
                    }
                })
                .await
                .map_err(|error| {
                    anyhow::anyhow!(
                        "{error:#}\nthe end of {}:\n{}",
                        process.log.display(),
                        log_tail(&process.log)
                    )
                });
            let client = match result {
                Ok(client) => client,
                Err(error) => return Err((started, error)),
            };
            eprintln!("✔ dev cluster serving at {}", state.api_server);
            match bootstrap::install_crds(&client).await {
                Ok(count) => eprintln!("✔ {count} CRDs installed"),
                Err(error) => return Err((started, error)),
            }
        }
    }
    eprintln!("✔ demo repository served at {}", state.git_url);
    eprintln!(
        "✔ {} controllers started (logs in {})",
        CONTROLLERS.len(),
        state.data_dir.join("logs").display()
    );
    Ok(started)
}

fn print_next_steps(state: &DevState) {
    let kubeconfig = state.kubeconfig.display();
    println!(
        "\nEddy is running. Try:\n\
         \n  export KUBECONFIG={kubeconfig}\
         \n  kubectl get ns\
         \n  kubectl get deploy -n dev\
         \n  kubectl get fluxconfigs cluster-config -n cluster-config -o yaml\
         \n  kubectl get gitrepositories,kustomizations -n cluster-config\
         \n\nChange the cluster through Git:\
         \n  git clone {git} demo && cd demo\
         \n  sed -i 's/replicas: 1/replicas: 3/' apps/deployment.yaml\
         \n  git commit -am 'Scale podinfo to 3' && git push\
         \n  kubectl get deploy podinfo -n dev -w\
         \n\nState: {dir}/dev.json; logs: {dir}/logs/\
         \nStop everything: eddy dev down --data-dir {dir}  (or make down)",
        git = state.git_url,
        dir = state.data_dir.display(),
    );
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn a_port_handed_out_again_by_the_system_is_not_given_to_a_second_purpose() {
        let mut state = DevState::default();
        let mut offered = [40_001, 40_001, 40_002].into_iter();
        let mut next = || Ok(offered.next().unwrap());
        assert_eq!(
            port_from(&mut state, "apiserver", &mut next).unwrap(),
            40_001
        );
        assert_eq!(
            port_from(&mut state, "flux-config-agent-health", &mut next).unwrap(),
            40_002
        );
        // A purpose keeps its port.
        assert_eq!(
            port_from(&mut state, "apiserver", || Ok(1)).unwrap(),
            40_001
        );
        assert!(port_from(&mut state, "git", || Ok(40_002)).is_err());
    }
}

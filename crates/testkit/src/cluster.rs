//! An in-process dev cluster for one test, set up the way every cluster test needs it.

use std::path::{Path, PathBuf};

use eddy_devcluster::{DevCluster, RunningCluster};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::poll::{DEADLINE, eventually};

/// A running dev cluster with every Eddy CRD installed and Established, a client for it, and
/// its kubeconfig written to a file (for binaries and CLIs run against it). Dropping it stops
/// the cluster and removes the file.
pub struct TestCluster {
    /// The API server; dropping it stops serving.
    pub cluster: RunningCluster,
    /// The client configuration the kubeconfig describes (controllers that build their own
    /// clients take it).
    pub config: kube::Config,
    pub client: kube::Client,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

/// Options of [`TestCluster`]; the defaults are what most tests want.
#[derive(Debug, Clone)]
pub struct TestClusterBuilder {
    simulate_workloads: bool,
    install_crds: bool,
}

impl TestCluster {
    /// A cluster with the defaults: workload simulator on, Eddy's CRDs installed.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder {
            simulate_workloads: true,
            install_crds: true,
        }
    }

    /// The kubeconfig file for this cluster.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }
}

impl TestClusterBuilder {
    /// Whether the dev cluster plays kube-controller-manager for workloads (on by default);
    /// off, Deployments and the like never report progress.
    pub fn simulate_workloads(mut self, enabled: bool) -> Self {
        self.simulate_workloads = enabled;
        self
    }

    /// Whether Eddy's CRDs are installed (on by default).
    pub fn install_crds(mut self, enabled: bool) -> Self {
        self.install_crds = enabled;
        self
    }

    /// Starts the cluster on the current Tokio runtime, which must outlive it.
    ///
    /// # Panics
    /// When the cluster cannot start or the CRDs cannot be installed.
    pub async fn start(self) -> TestCluster {
        eddy_runtime::process::install_crypto_provider();
        crate::init_logging();
        let cluster = DevCluster::builder()
            .simulate_workloads(self.simulate_workloads)
            .build()
            .serve()
            .await
            .expect("dev cluster serves");
        let dir = tempfile::tempdir().expect("temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        cluster
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        let parsed = Kubeconfig::from_yaml(&cluster.kubeconfig()).expect("kubeconfig parses");
        let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .expect("client configuration");
        let client = kube::Client::try_from(config.clone()).expect("client");
        if self.install_crds {
            install_crds(&client).await;
        }
        TestCluster {
            cluster,
            config,
            client,
            kubeconfig,
            _dir: dir,
        }
    }
}

/// Creates every Eddy CRD and waits until all are Established (served).
///
/// # Panics
/// When a definition is refused or not Established within [`DEADLINE`].
pub async fn install_crds(client: &kube::Client) {
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    let all = eddy_api::crds::all();
    for definition in &all {
        definitions
            .create(&PostParams::default(), definition)
            .await
            .expect("CRD created");
    }
    for definition in &all {
        let name = definition.metadata.name.clone().unwrap_or_default();
        eventually(&format!("{name} to be Established"), DEADLINE, async || {
            let established = definitions
                .get(&name)
                .await
                .ok()?
                .status?
                .conditions?
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True");
            established.then_some(())
        })
        .await;
    }
}

/// A client for the cluster a kubeconfig file describes.
///
/// # Panics
/// When the file cannot be read or describes no usable cluster.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let parsed = Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .expect("client configuration");
    kube::Client::try_from(config).expect("client")
}

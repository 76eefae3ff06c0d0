//! Producer to consumer over real HTTP: archive into storage, serve it, download, verify, unpack.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]

use std::net::SocketAddr;

use eddy_artifact::{
    ClientError, Limits, Matcher, Storage, artifact_path, artifact_url, fetch_artifact, router,
};

struct Served {
    storage: Storage,
    address: SocketAddr,
    _root: tempfile::TempDir,
}

async fn serve() -> Served {
    let root = tempfile::tempdir().unwrap();
    let storage = Storage::new(root.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = router(root.path().to_owned());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        storage,
        address,
        _root: root,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("deploy/app.yaml"), "kind: ConfigMap\n").unwrap();
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    dir
}

#[tokio::test]
async fn served_artifact_downloads_with_the_advertised_size_and_digest() {
    let served = serve().await;
    let source = source();
    let path = artifact_path("GitRepository", "default", "demo", "abc.tar.gz");
    let matcher = Matcher::for_source(Vec::new(), None);
    let summary = served
        .storage
        .archive(&path, source.path(), Some(&matcher))
        .unwrap();
    let url = artifact_url(&served.address.to_string(), &path);

    let unpacked = fetch_artifact(
        &client(),
        &url,
        &summary.digest,
        Some(summary.size),
        Limits::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(unpacked.path().join("deploy/app.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );
    assert!(!unpacked.path().join(".git").exists());
    assert_eq!(unpacked.files, 1);
}

#[tokio::test]
async fn wrong_digest_is_refused_before_unpacking() {
    let served = serve().await;
    let source = source();
    let path = artifact_path("GitRepository", "default", "demo", "abc.tar.gz");
    let summary = served.storage.archive(&path, source.path(), None).unwrap();
    let url = artifact_url(&served.address.to_string(), &path);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let error = fetch_artifact(
        &client(),
        &url,
        &wrong,
        Some(summary.size),
        Limits::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ClientError::DigestMismatch { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_size_is_refused() {
    let served = serve().await;
    let source = source();
    let path = artifact_path("GitRepository", "default", "demo", "abc.tar.gz");
    let summary = served.storage.archive(&path, source.path(), None).unwrap();
    let url = artifact_url(&served.address.to_string(), &path);
    for advertised in [summary.size - 1, summary.size + 1] {
        let error = fetch_artifact(
            &client(),
            &url,
            &summary.digest,
            Some(advertised),
            Limits::default(),
        )
        .await
        .unwrap_err();
        assert!(matches!(error, ClientError::SizeMismatch { .. }), "{error}");
    }
}

#[tokio::test]
async fn download_limit_is_enforced() {
    let served = serve().await;
    let source = source();
    let path = artifact_path("GitRepository", "default", "demo", "abc.tar.gz");
    let summary = served.storage.archive(&path, source.path(), None).unwrap();
    let url = artifact_url(&served.address.to_string(), &path);
    let limits = Limits {
        max_download_bytes: 10,
        ..Limits::default()
    };
    let error = fetch_artifact(&client(), &url, &summary.digest, None, limits)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::DownloadTooLarge { limit: 10, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn missing_artifact_is_an_http_404() {
    let served = serve().await;
    let url = artifact_url(
        &served.address.to_string(),
        "gitrepository/default/demo/none.tar.gz",
    );
    let digest = format!("sha256:{}", "0".repeat(64));
    let error = fetch_artifact(&client(), &url, &digest, None, Limits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::HttpStatus { status: 404, .. }),
        "{error}"
    );
}

//! Fetch + package of a 5,000-file repository, measured against the Git CLI in the same run.
//!
//! Eddy's side is what the GitRepository reconciler does for a new revision: a shallow,
//! single-commit fetch with eddy-git (gix) over HTTPS with basic auth and the test CA, then the
//! deterministic archive with Flux's ignore rules into storage. The baseline is
//! `git clone --depth 1 --single-branch` of the same URL followed by `tar czf` of the work tree
//! without `.git`. Both run against the lighttpd + `git http-backend` server of
//! `hack/git-servers.sh`, alternating, and the medians are compared.
//!
//! Run with `cargo bench -p source-controller --bench fetch_and_package`
//! (`BENCH_ITERATIONS`, default 5; `BENCH_FILES`, default 5000).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type Failure = Box<dyn std::error::Error>;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../hack/git-servers.sh")
}

fn run(command: &mut Command) -> Result<String, Failure> {
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(["-c", "commit.gpgsign=false"])
        .env("GIT_AUTHOR_NAME", "Eddy Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@eddy.invalid")
        .env("GIT_COMMITTER_NAME", "Eddy Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@eddy.invalid");
    command
}

/// Writes `files` small manifests spread over directories of 100 and commits them.
fn make_repository(work: &Path, bare: &Path, files: usize) -> Result<(), Failure> {
    run(git(work).args(["init", "-q", "-b", "main"]))?;
    for index in 0..files {
        let dir = work.join(format!("apps/team-{:03}", index / 100));
        std::fs::create_dir_all(&dir)?;
        let body = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{index}\n  namespace: team-{:03}\ndata:\n  index: \"{index}\"\n  payload: \"{}\"\n",
            index / 100,
            "x".repeat(200 + index % 300)
        );
        std::fs::write(dir.join(format!("config-{index:05}.yaml")), body)?;
    }
    run(git(work).args(["add", "-A"]))?;
    run(git(work).args(["commit", "-q", "-m", "bench"]))?;
    run(Command::new("git").args([
        "clone",
        "-q",
        "--bare",
        &work.to_string_lossy(),
        &bare.to_string_lossy(),
    ]))?;
    Ok(())
}

fn eddy_fetch_and_package(
    url: &str,
    auth: &eddy_git::AuthOptions,
    scratch: &Path,
) -> Result<(Duration, Duration, u64), Failure> {
    let started = Instant::now();
    let checkout = scratch.join("checkout");
    let options = eddy_git::CloneOptions {
        reference: eddy_git::Reference::branch("main"),
        auth: auth.clone(),
        timeout: Duration::from_secs(300),
        ..eddy_git::CloneOptions::default()
    };
    let outcome = eddy_git::clone(url, &checkout, &options)?;
    let fetched = started.elapsed();
    let storage = eddy_artifact::Storage::new(scratch.join("storage"))?;
    let filter =
        eddy_artifact::Matcher::for_source(eddy_artifact::load_ignore_patterns(&checkout)?, None);
    let path = eddy_artifact::artifact_path(
        "GitRepository",
        "bench",
        "repo",
        &format!("{}.tar.gz", outcome.commit().id),
    );
    let summary = storage.archive(&path, &checkout, Some(&filter))?;
    Ok((started.elapsed(), fetched, summary.size))
}

fn cli_fetch_and_package(
    url_with_credentials: &str,
    ca_file: &str,
    scratch: &Path,
) -> Result<(Duration, u64), Failure> {
    let started = Instant::now();
    let checkout = scratch.join("checkout");
    let archive = scratch.join("archive.tar.gz");
    // GIT_SSL_CAINFO wins over any http.sslCAInfo of the machine's configuration.
    run(Command::new("git").env("GIT_SSL_CAINFO", ca_file).args([
        "clone",
        "-q",
        "--depth",
        "1",
        "--single-branch",
        "--branch",
        "main",
        url_with_credentials,
        &checkout.to_string_lossy(),
    ]))?;
    run(Command::new("tar").args([
        "czf",
        &archive.to_string_lossy(),
        "--exclude=.git",
        "-C",
        &checkout.to_string_lossy(),
        ".",
    ]))?;
    Ok((started.elapsed(), std::fs::metadata(&archive)?.len()))
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Failure> {
    let start = Command::new("bash").arg(script()).arg("start").output()?;
    if start.status.code() == Some(3) {
        println!(
            "skipped: Git test servers unavailable: {}",
            String::from_utf8_lossy(&start.stderr).trim()
        );
        return Ok(());
    }
    let environment: BTreeMap<String, String> = run(Command::new("bash").arg(script()).arg("env"))?
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    let setting = |key: &str| {
        environment
            .get(key)
            .cloned()
            .ok_or_else(|| format!("{key} missing from hack/git-servers.sh env"))
    };
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5)
        .max(1);
    let files: usize = std::env::var("BENCH_FILES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5000);

    let name = format!("bench-{files}-{}.git", std::process::id());
    let bare = PathBuf::from(setting("GIT_REPOS_DIR")?).join(&name);
    let work = tempfile::tempdir()?;
    make_repository(work.path(), &bare, files)?;

    eddy_git::ensure_crypto_provider();
    let https = setting("GIT_HTTPS_URL")?;
    let url = format!("{https}/{name}");
    let username = setting("GIT_USERNAME")?;
    let password = setting("GIT_PASSWORD")?;
    let ca_file = setting("GIT_CA_FILE")?;
    let auth = eddy_git::AuthOptions {
        username: Some(username.clone()),
        password: Some(password.clone()),
        ca_certificate: Some(std::fs::read(&ca_file)?),
        ..eddy_git::AuthOptions::default()
    };
    let url_with_credentials =
        url.replacen("https://", &format!("https://{username}:{password}@"), 1);

    let mut eddy = Vec::new();
    let mut eddy_fetch = Vec::new();
    let mut cli = Vec::new();
    let mut sizes = (0, 0);
    let result = (|| -> Result<(), Failure> {
        for iteration in 0..iterations {
            // Alternate the order so neither side always runs on a warm server.
            let order = if iteration % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for eddy_first in order {
                let scratch = tempfile::tempdir()?;
                if eddy_first {
                    let (elapsed, fetched, size) =
                        eddy_fetch_and_package(&url, &auth, scratch.path())?;
                    eddy.push(elapsed);
                    eddy_fetch.push(fetched);
                    sizes.0 = size;
                } else {
                    let (elapsed, size) =
                        cli_fetch_and_package(&url_with_credentials, &ca_file, scratch.path())?;
                    cli.push(elapsed);
                    sizes.1 = size;
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&bare);
    result?;

    let eddy_median = median(&mut eddy);
    let eddy_fetch_median = median(&mut eddy_fetch);
    let cli_median = median(&mut cli);
    println!("fetch + package of {files} files over HTTPS, {iterations} runs each (median):");
    println!(
        "  eddy (gix depth-1 fetch + deterministic tar.gz): {:>8.1} ms, archive {} bytes",
        eddy_median.as_secs_f64() * 1000.0,
        sizes.0
    );
    println!(
        "    of which the fetch and checkout:              {:>8.1} ms",
        eddy_fetch_median.as_secs_f64() * 1000.0
    );
    println!(
        "  git clone --depth 1 + tar czf:                   {:>8.1} ms, archive {} bytes",
        cli_median.as_secs_f64() * 1000.0,
        sizes.1
    );
    println!(
        "  ratio eddy / git+tar: {:.2}",
        eddy_median.as_secs_f64() / cli_median.as_secs_f64()
    );
    Ok(())
}

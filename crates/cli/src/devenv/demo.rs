//! The demo repository: the project's `examples/` directory, built into the binary so
//! `eddy dev up` works from anywhere, committed once into a bare repository under the data
//! directory. After that the repository belongs to the user: it is never re-seeded.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The name of the served repository (`<git-url>/demo.git`).
pub(crate) const REPOSITORY: &str = "demo.git";
/// The branch the FluxConfig follows.
pub(crate) const BRANCH: &str = "main";

/// The files of `examples/`, by path in the repository.
const FILES: [(&str, &str); 6] = [
    ("README.md", include_str!("../../../../examples/README.md")),
    (
        "infra/kustomization.yaml",
        include_str!("../../../../examples/infra/kustomization.yaml"),
    ),
    (
        "infra/namespaces.yaml",
        include_str!("../../../../examples/infra/namespaces.yaml"),
    ),
    (
        "apps/kustomization.yaml",
        include_str!("../../../../examples/apps/kustomization.yaml"),
    ),
    (
        "apps/deployment.yaml",
        include_str!("../../../../examples/apps/deployment.yaml"),
    ),
    (
        "apps/service.yaml",
        include_str!("../../../../examples/apps/service.yaml"),
    ),
];

/// Creates `<git_root>/demo.git` with one commit of the demo files on `main`, unless it exists.
/// Returns whether it was created.
pub(crate) fn seed(git_root: &Path) -> Result<bool> {
    let bare = git_root.join(REPOSITORY);
    if bare.join("HEAD").exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(git_root)
        .with_context(|| format!("creating {}", git_root.display()))?;
    // Build the commit in a scratch work tree beside the repository, then push it in.
    let work = git_root.join(".seed");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    for (path, text) in FILES {
        let file = work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    let scratch = bare.with_extension("git.tmp");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    git(
        git_root,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            BRANCH,
            path_str(&scratch)?,
        ],
    )?;
    git(&work, &["init", "--quiet", "-b", BRANCH])?;
    git(&work, &["add", "--all"])?;
    git(
        &work,
        &[
            "-c",
            "user.name=Eddy Dev",
            "-c",
            "user.email=dev@eddy.invalid",
            "commit",
            "--quiet",
            "-m",
            "Demo: namespaces in infra/, podinfo in apps/",
        ],
    )?;
    git(&work, &["push", "--quiet", path_str(&scratch)?, BRANCH])?;
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    // Renamed into place last, so an interrupted seed is redone rather than half kept.
    std::fs::rename(&scratch, &bare)
        .with_context(|| format!("moving the demo repository to {}", bare.display()))?;
    Ok(true)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))
}

fn git(dir: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is how these tests report failure"
)]
mod tests {
    use super::*;

    #[test]
    fn seeding_creates_a_bare_repository_once_with_the_demo_files_on_main() {
        let dir = tempfile::tempdir().unwrap();
        assert!(seed(dir.path()).unwrap());
        assert!(
            !seed(dir.path()).unwrap(),
            "a second seed must keep the repository"
        );
        let listing = Command::new("git")
            .args(["ls-tree", "-r", "--name-only", BRANCH])
            .current_dir(dir.path().join(REPOSITORY))
            .output()
            .unwrap();
        let files = String::from_utf8(listing.stdout).unwrap();
        for expected in [
            "apps/deployment.yaml",
            "apps/service.yaml",
            "infra/namespaces.yaml",
        ] {
            assert!(files.lines().any(|line| line == expected), "{files}");
        }
    }
}

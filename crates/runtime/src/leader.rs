//! Leader election on a `coordination.k8s.io/v1` Lease named as Flux names it, so that only one
//! replica of a controller reconciles at a time.

use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::sync::watch;

/// Error taking part in leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease durations do not fit together.
    #[error(
        "--leader-election-renew-deadline ({renew:?}) must be shorter than --leader-election-lease-duration ({lease:?}), by at least a second"
    )]
    InvalidDurations {
        /// Lease duration.
        lease: Duration,
        /// Renew deadline.
        renew: Duration,
    },
    /// The Lease could not be read or created.
    #[error("leader election on Lease {namespace}/{name}: {message}")]
    Lease {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// The Lease name: `<controller>-leader-election`, suffixed with the first 8 hex digits of the
/// SHA-256 of the watch label selector when sharding, so each shard elects its own leader.
pub fn lease_name(controller: &str, watch_label_selector: &str) -> String {
    let base = format!("{controller}-leader-election");
    if watch_label_selector.is_empty() {
        return base;
    }
    let digest = hex::encode(Sha256::digest(watch_label_selector.as_bytes()));
    format!("{base}-{}", &digest[..8])
}

/// Joins the election and returns a channel that is `true` while this process leads.
pub async fn elect(
    client: kube::Client,
    namespace: &str,
    name: &str,
    identity: &str,
    lease_duration: Duration,
    renew_deadline: Duration,
) -> Result<watch::Receiver<bool>, LeaderError> {
    let duration = lease_duration.as_secs();
    let grace = duration.saturating_sub(renew_deadline.as_secs());
    if grace == 0 || grace >= duration {
        return Err(LeaderError::InvalidDurations {
            lease: lease_duration,
            renew: renew_deadline,
        });
    }
    let manager = LeaseManagerBuilder::new(client, name)
        .with_namespace(namespace)
        .with_parameters(LeaseParams::new(identity, duration, grace))
        .build()
        .await
        .map_err(|error| LeaderError::Lease {
            namespace: namespace.to_string(),
            name: name.to_string(),
            message: error.to_string(),
        })?;
    let (leading, _task) = manager.watch().await;
    Ok(leading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_follow_flux() {
        assert_eq!(
            lease_name("source-controller", ""),
            "source-controller-leader-election"
        );
        let sharded = lease_name("source-controller", "sharding.fluxcd.io/key in (shard1)");
        assert!(sharded.starts_with("source-controller-leader-election-"));
        assert_eq!(
            sharded.len(),
            "source-controller-leader-election-".len() + 8
        );
        assert_ne!(
            sharded,
            lease_name("source-controller", "sharding.fluxcd.io/key in (shard2)")
        );
    }
}

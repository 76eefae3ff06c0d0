//! Errors of the resource manager, worded as fluxcd/pkg `ssa` words them: they end up in
//! Kustomization conditions and events, where users and alerts match on them.

use crate::changeset::ChangeSet;

/// An API error reduced to what the messages need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status code (0 when the request did not get a response).
    pub code: u16,
    /// The `reason` of the Status (`Invalid`, `Conflict`, …), or empty.
    pub reason: String,
    /// The message.
    pub message: String,
    /// Whether a cause of the Status is a field-manager conflict.
    pub field_manager_conflict: bool,
}

impl ApiFailure {
    /// Classifies a client error.
    pub fn from_kube(error: &kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => Self {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
                field_manager_conflict: status.details.as_ref().is_some_and(|details| {
                    details
                        .causes
                        .iter()
                        .any(|cause| cause.reason == "FieldManagerConflict")
                }),
            },
            other => Self {
                code: 0,
                reason: String::new(),
                message: other.to_string(),
                field_manager_conflict: false,
            },
        }
    }

    /// Whether the object (or its kind) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

/// Why applying, waiting or deleting failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The object is not a Kubernetes object (no apiVersion, kind or name).
    #[error(
        "{subject} is not a valid Kubernetes object: apiVersion, kind and metadata.name are required"
    )]
    InvalidObject {
        /// The object.
        subject: String,
    },
    /// The API server does not serve the object's kind.
    #[error(
        "{subject} dry-run failed: no matches for kind \"{kind}\" in version \"{api_version}\""
    )]
    UnknownKind {
        /// The object.
        subject: String,
        /// Its kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
    },
    /// A namespaced object has no namespace.
    #[error("{subject} namespace not specified: the server could not find the requested resource")]
    NamespaceNotSpecified {
        /// The object.
        subject: String,
    },
    /// Reading the object failed.
    #[error("{subject} query failed: {failure}")]
    Query {
        /// The object.
        subject: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// The server-side dry run refused the object; nothing of its stage was applied.
    #[error("{subject} {}", dry_run_text(failure))]
    DryRun {
        /// The object.
        subject: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// Deleting an object with an immutable-field change failed.
    #[error("{subject} immutable field detected, failed to delete object: {failure}")]
    Recreate {
        /// The object.
        subject: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// An object deleted for recreation did not go away in time.
    #[error(
        "{subject} immutable field detected, failed to wait for object to be deleted: {message}"
    )]
    RecreateWait {
        /// The object.
        subject: String,
        /// What happened.
        message: String,
    },
    /// Migrating the managed fields to the applied API version failed.
    #[error(
        "{subject} failed to migrate API version: failed to migrate managed fields API version to {api_version}: {failure}"
    )]
    Migrate {
        /// The object.
        subject: String,
        /// The version migrated to.
        api_version: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// The managed-fields cleanup patch failed.
    #[error("{subject} metadata.managedFields cleanup failed: {failure}")]
    Cleanup {
        /// The object.
        subject: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// The apply failed after a successful dry run.
    #[error("{subject} apply failed: {failure}")]
    Apply {
        /// The object.
        subject: String,
        /// The API error.
        failure: ApiFailure,
    },
    /// Health checks timed out or an object failed
    /// (`timeout waiting for: [Deployment/dev/app status: 'InProgress']`).
    #[error("{message}")]
    Wait {
        /// The message, listing the objects that were not healthy.
        message: String,
    },
    /// Some deletes failed (`delete failed, errors: …;`).
    #[error("delete failed, errors: {errors}")]
    Delete {
        /// The failures, each ending with `;`.
        errors: String,
    },
}

/// `dry-run failed (Reason): message`, or `not found: …` for a missing namespace or parent.
fn dry_run_text(failure: &ApiFailure) -> String {
    if failure.is_not_found() {
        return format!("not found: {}", failure.message);
    }
    let reason = if failure.field_manager_conflict {
        "FieldManagerConflict"
    } else {
        failure.reason.as_str()
    };
    if reason.is_empty() {
        format!("dry-run failed: {}", failure.message)
    } else {
        format!("dry-run failed ({reason}): {}", failure.message)
    }
}

/// A staged apply that stopped at a stage: the entries of the stages applied before it,
/// and the error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct StagedApplyError {
    /// What the earlier stages did.
    pub change_set: ChangeSet,
    /// Why the stage failed.
    pub error: ApplyError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: u16, reason: &str, message: &str) -> ApiFailure {
        ApiFailure {
            code,
            reason: reason.into(),
            message: message.into(),
            field_manager_conflict: false,
        }
    }

    #[test]
    fn api_errors_keep_code_reason_message_and_conflict_cause() {
        let status: Result<kube::core::Status, _> = serde_json::from_value(serde_json::json!({
            "code": 409, "reason": "Conflict", "message": "Apply failed with 1 conflict",
            "details": {"causes": [{"reason": "FieldManagerConflict", "message": "m",
                "field": ".data.a"}]}}));
        let status = status.unwrap_or_default();
        let failure = ApiFailure::from_kube(&kube::Error::Api(Box::new(status)));
        assert_eq!(failure.code, 409);
        assert_eq!(failure.reason, "Conflict");
        assert_eq!(failure.message, "Apply failed with 1 conflict");
        assert!(failure.field_manager_conflict);
        assert!(!failure.is_not_found());
    }

    #[test]
    fn dry_run_error_names_the_object_and_the_reason() {
        let error = ApplyError::DryRun {
            subject: "Deployment/dev/app".into(),
            failure: failure(422, "Invalid", "spec.replicas: Invalid value: -1"),
        };
        assert_eq!(
            error.to_string(),
            "Deployment/dev/app dry-run failed (Invalid): spec.replicas: Invalid value: -1"
        );
    }

    #[test]
    fn dry_run_not_found_says_so() {
        let error = ApplyError::DryRun {
            subject: "ConfigMap/missing/cfg".into(),
            failure: failure(404, "NotFound", "namespaces \"missing\" not found"),
        };
        assert_eq!(
            error.to_string(),
            "ConfigMap/missing/cfg not found: namespaces \"missing\" not found"
        );
    }

    #[test]
    fn field_manager_conflict_is_named_as_the_reason() {
        let mut conflict = failure(409, "Conflict", "Apply failed with 1 conflict");
        conflict.field_manager_conflict = true;
        let error = ApplyError::DryRun {
            subject: "ConfigMap/dev/cfg".into(),
            failure: conflict,
        };
        assert_eq!(
            error.to_string(),
            "ConfigMap/dev/cfg dry-run failed (FieldManagerConflict): Apply failed with 1 conflict"
        );
    }
}

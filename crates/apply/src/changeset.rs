//! What an apply or prune did to each object (fluxcd/pkg `ssa/changeset.go`).

use crate::object::ObjectRef;

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and differed; it was applied.
    Configured,
    /// The object existed and matched; nothing was sent.
    Unchanged,
    /// The object was deleted.
    Deleted,
    /// The object was excluded by an annotation or label.
    Skipped,
    /// The outcome is not known (a failed delete).
    Unknown,
}

impl Action {
    /// Flux's lowercase word for the action, used in events (`ConfigMap/dev/cfg created`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
            Action::Unknown => "unknown",
        }
    }

    /// Whether the action changed the cluster and belongs in the change event
    /// (kustomize-controller `HasChanged`: everything but skipped and unchanged).
    pub fn has_changed(self) -> bool {
        !matches!(self, Action::Skipped | Action::Unchanged)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The outcome for one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// The object, with the API version it was applied in.
    pub object: ObjectRef,
    /// What happened.
    pub action: Action,
}

impl ChangeSetEntry {
    /// Builds an entry.
    pub fn new(object: ObjectRef, action: Action) -> Self {
        Self { object, action }
    }

    /// `Kind/namespace/name`.
    pub fn subject(&self) -> String {
        self.object.subject()
    }
}

impl std::fmt::Display for ChangeSetEntry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", self.object.subject(), self.action)
    }
}

/// The outcomes of an apply or prune, in the order the objects were processed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// One entry per object.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// An empty change set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry.
    pub fn push(&mut self, entry: ChangeSetEntry) {
        self.entries.push(entry);
    }

    /// Appends the entries of another change set.
    pub fn extend(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that changed the cluster, one `Subject action` per line: the text of
    /// kustomize-controller's apply event.
    pub fn changes_log(&self) -> String {
        self.entries
            .iter()
            .filter(|entry| entry.action.has_changed())
            .map(ChangeSetEntry::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl std::fmt::Display for ChangeSet {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.entries.iter().map(ChangeSetEntry::to_string).collect();
        formatter.write_str(&lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(kind: &str, name: &str, action: Action) -> ChangeSetEntry {
        ChangeSetEntry::new(
            ObjectRef::of(&json!({"apiVersion": "v1", "kind": kind,
                "metadata": {"name": name, "namespace": "dev"}})),
            action,
        )
    }

    #[test]
    fn entries_print_as_subject_and_action() {
        assert_eq!(
            entry("ConfigMap", "cfg", Action::Created).to_string(),
            "ConfigMap/dev/cfg created"
        );
    }

    #[test]
    fn change_log_lists_only_changes() {
        let change_set = ChangeSet {
            entries: vec![
                entry("ConfigMap", "a", Action::Created),
                entry("ConfigMap", "b", Action::Unchanged),
                entry("ConfigMap", "c", Action::Skipped),
                entry("Service", "d", Action::Configured),
                entry("Service", "e", Action::Deleted),
            ],
        };
        assert_eq!(
            change_set.changes_log(),
            "ConfigMap/dev/a created\nService/dev/d configured\nService/dev/e deleted"
        );
        assert_eq!(change_set.to_string().lines().count(), 5);
    }
}

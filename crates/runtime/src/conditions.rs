//! Reading and writing `status.conditions` the way fluxcd/pkg `runtime/conditions` does:
//! `lastTransitionTime` moves only when the status changes, and conditions are kept in the order
//! kubectl users expect (Stalled, Reconciling, Ready, then the rest by observedGeneration and type).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::cmp::Ordering;

/// `True`, `False` or `Unknown`, as Kubernetes spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known yet.
    Unknown,
}

impl ConditionStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

/// Sets (adds or updates) a condition. The transition time changes only when the status does.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: &Time,
) {
    let updated = Condition {
        type_: type_.to_string(),
        status: status.as_str().to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation,
        last_transition_time: now.clone(),
    };
    match conditions
        .iter_mut()
        .find(|condition| condition.type_ == type_)
    {
        Some(existing) => {
            let transition_time = if existing.status == updated.status {
                existing.last_transition_time.clone()
            } else {
                now.clone()
            };
            *existing = Condition {
                last_transition_time: transition_time,
                ..updated
            };
        }
        None => conditions.push(updated),
    }
    conditions.sort_by(order);
}

/// Removes a condition of the given type, if present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|condition| condition.type_ != type_);
}

/// The condition of the given type, if present.
pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|condition| condition.type_ == type_)
}

/// Whether the condition of the given type is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|condition| condition.status == "True")
}

/// Whether the condition of the given type is present with status False.
pub fn is_false(conditions: &[Condition], type_: &str) -> bool {
    get(conditions, type_).is_some_and(|condition| condition.status == "False")
}

fn weight(type_: &str) -> Option<u8> {
    use eddy_api::meta::conditions::{READY, RECONCILING, STALLED};
    match type_ {
        STALLED => Some(0),
        RECONCILING => Some(1),
        READY => Some(2),
        _ => None,
    }
}

fn order(left: &Condition, right: &Condition) -> Ordering {
    match (weight(&left.type_), weight(&right.type_)) {
        (Some(left), Some(right)) => left.cmp(&right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => right
            .observed_generation
            .cmp(&left.observed_generation)
            .then_with(|| left.type_.cmp(&right.type_)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).expect("valid timestamp"))
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "A",
            "first",
            Some(1),
            &at(10),
        );
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "B",
            "second",
            Some(2),
            &at(20),
        );
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].reason, "B");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "C",
            "third",
            Some(2),
            &at(30),
        );
        assert_eq!(conditions[0].last_transition_time, at(30));
    }

    #[test]
    fn kstatus_conditions_sort_first() {
        let mut conditions = Vec::new();
        let now = at(1);
        set(
            &mut conditions,
            "FetchFailed",
            ConditionStatus::True,
            "X",
            "",
            Some(1),
            &now,
        );
        set(
            &mut conditions,
            "ArtifactInStorage",
            ConditionStatus::True,
            "X",
            "",
            Some(1),
            &now,
        );
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "X",
            "",
            Some(1),
            &now,
        );
        set(
            &mut conditions,
            "Stalled",
            ConditionStatus::True,
            "X",
            "",
            Some(1),
            &now,
        );
        set(
            &mut conditions,
            "Reconciling",
            ConditionStatus::True,
            "X",
            "",
            Some(1),
            &now,
        );
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "Stalled",
                "Reconciling",
                "Ready",
                "ArtifactInStorage",
                "FetchFailed"
            ]
        );
    }

    #[test]
    fn removal_and_queries() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "R",
            "",
            None,
            &at(1),
        );
        assert!(is_true(&conditions, "Ready"));
        assert!(!is_false(&conditions, "Ready"));
        remove(&mut conditions, "Ready");
        assert!(get(&conditions, "Ready").is_none());
    }
}

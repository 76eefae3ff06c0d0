//! `provisioningState` of a generation whose objects were written (pure).
//!
//! Without `waitForReconciliation` a configuration is `Succeeded` as soon as its objects reached
//! the cluster, whatever their compliance. With it, as ARM's PUT then waits for a terminal
//! compliance: `Creating` (first generation) or `Updating` while Pending, `Succeeded` once
//! Compliant (or Suspended), `Failed` when Non-Compliant or when `reconciliationWaitDuration`
//! (ISO-8601, [`DEFAULT_WAIT`] when unset) passes first. The wait is counted from
//! `status.lastConfigUpdateTime`, when the agent first saw the generation.

use std::time::Duration;

use eddy_api::clusterconfig::v1alpha1::{ComplianceState, FluxConfig, ProvisioningState};

/// How long `waitForReconciliation` waits when `reconciliationWaitDuration` is unset.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10 * 60);

/// The provisioning outcome of a written generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provisioning {
    /// `provisioningState`.
    pub state: ProvisioningState,
    /// `errorMessage`, when `Failed`.
    pub error_message: Option<String>,
}

impl Provisioning {
    fn succeeded() -> Self {
        Self {
            state: ProvisioningState::Succeeded,
            error_message: None,
        }
    }

    fn failed(message: String) -> Self {
        Self {
            state: ProvisioningState::Failed,
            error_message: Some(message),
        }
    }
}

/// The provisioning state of `config`'s current generation, `waited` after it was first seen,
/// with the configuration at `compliance` (`summary` says why).
pub fn of_written_generation(
    config: &FluxConfig,
    compliance: ComplianceState,
    summary: &str,
    waited: Duration,
) -> Provisioning {
    if config.spec.wait_for_reconciliation != Some(true) {
        return Provisioning::succeeded();
    }
    let limit = match config.spec.reconciliation_wait_duration.as_deref() {
        None | Some("") => DEFAULT_WAIT,
        Some(text) => match parse_iso8601_duration(text) {
            Ok(limit) => limit,
            Err(problem) => {
                return Provisioning::failed(format!(
                    "invalid reconciliationWaitDuration '{text}': {problem}"
                ));
            }
        },
    };
    match compliance {
        ComplianceState::Compliant | ComplianceState::Suspended => Provisioning::succeeded(),
        ComplianceState::NonCompliant => {
            Provisioning::failed(format!("reconciliation failed: {summary}"))
        }
        ComplianceState::Pending | ComplianceState::Unknown if waited >= limit => {
            Provisioning::failed(format!(
                "the configuration did not reconcile within {}: {summary}",
                config
                    .spec
                    .reconciliation_wait_duration
                    .as_deref()
                    .filter(|text| !text.is_empty())
                    .unwrap_or("PT10M")
            ))
        }
        ComplianceState::Pending | ComplianceState::Unknown => Provisioning {
            state: if config.metadata.generation.unwrap_or(1) <= 1 {
                ProvisioningState::Creating
            } else {
                ProvisioningState::Updating
            },
            error_message: None,
        },
    }
}

/// An ISO-8601 duration as ARM takes it (`PT5M`, `PT1H30M`, `P1D`, `PT0.5S`): days, weeks,
/// hours, minutes and seconds; a year counts 365 days and a month 30.
pub fn parse_iso8601_duration(text: &str) -> Result<Duration, String> {
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| "an ISO-8601 duration starts with 'P'".to_string())?;
    let (date, time) = match body.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return Err("'T' must be followed by hours, minutes or seconds".into()),
        None => (body, None),
    };
    if date.is_empty() && time.is_none() {
        return Err("the duration has no parts".into());
    }
    const DAY: f64 = 86_400.0;
    let mut seconds = sum_parts(
        date,
        &[
            ('Y', 365.0 * DAY),
            ('M', 30.0 * DAY),
            ('W', 7.0 * DAY),
            ('D', DAY),
        ],
    )?;
    if let Some(time) = time {
        seconds += sum_parts(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Duration::try_from_secs_f64(seconds).map_err(|error| error.to_string())
}

/// Adds up `<number><unit>` parts, units in the order given, each at most once.
fn sum_parts(text: &str, units: &[(char, f64)]) -> Result<f64, String> {
    let mut total = 0.0;
    let mut next_unit = 0;
    let mut number = String::new();
    for character in text.chars() {
        if character.is_ascii_digit() || character == '.' {
            number.push(character);
            continue;
        }
        let position = units[next_unit..]
            .iter()
            .position(|(unit, _)| *unit == character)
            .ok_or_else(|| format!("unexpected '{character}'"))?;
        let value: f64 = number
            .parse()
            .map_err(|_| format!("'{character}' needs a number before it"))?;
        total += value * units[next_unit + position].1;
        next_unit += position + 1;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("'{number}' has no unit"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_8601_durations_parse_as_arm_writes_them() {
        let cases = [
            ("PT5M", 300.0),
            ("PT1H", 3_600.0),
            ("P1D", 86_400.0),
            ("PT1H30M", 5_400.0),
            ("P1DT2H", 93_600.0),
            ("PT0.5S", 0.5),
            ("P1W", 604_800.0),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_iso8601_duration(text),
                Ok(Duration::from_secs_f64(seconds)),
                "{text}"
            );
        }
        for bad in ["5M", "P", "PT", "PT5", "PT5X", "PT5M1H", "P1H"] {
            assert!(parse_iso8601_duration(bad).is_err(), "{bad}");
        }
    }

    fn config(wait: Option<bool>, duration: Option<&str>, generation: i64) -> FluxConfig {
        let mut spec = json!({"scope": "cluster", "namespace": "cluster-config",
            "sourceKind": "GitRepository",
            "gitRepository": {"url": "https://example.invalid/repo", "repositoryRef": {"branch": "main"}}});
        if let Some(wait) = wait {
            spec["waitForReconciliation"] = json!(wait);
        }
        if let Some(duration) = duration {
            spec["reconciliationWaitDuration"] = json!(duration);
        }
        serde_json::from_value(json!({
            "apiVersion": "clusterconfig.azure.com/v1alpha1", "kind": "FluxConfig",
            "metadata": {"name": "cc", "namespace": "cluster-config", "generation": generation},
            "spec": spec}))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn without_waiting_a_written_generation_has_succeeded_whatever_its_compliance() {
        for compliance in [ComplianceState::Pending, ComplianceState::NonCompliant] {
            let outcome =
                of_written_generation(&config(None, None, 1), compliance, "x", Duration::ZERO);
            assert_eq!(outcome, Provisioning::succeeded());
        }
    }

    #[test]
    fn waiting_holds_the_state_until_the_compliance_is_terminal_or_the_time_is_up() {
        let first = config(Some(true), Some("PT5M"), 1);
        let pending = |config: &FluxConfig, waited| {
            of_written_generation(config, ComplianceState::Pending, "1 pending", waited).state
        };
        assert_eq!(
            pending(&first, Duration::from_secs(10)),
            ProvisioningState::Creating
        );
        assert_eq!(
            pending(
                &config(Some(true), Some("PT5M"), 3),
                Duration::from_secs(10)
            ),
            ProvisioningState::Updating
        );
        assert_eq!(
            of_written_generation(
                &first,
                ComplianceState::Pending,
                "1 pending",
                Duration::from_secs(300)
            ),
            Provisioning::failed(
                "the configuration did not reconcile within PT5M: 1 pending".into()
            )
        );
        assert_eq!(
            of_written_generation(&first, ComplianceState::Compliant, "", Duration::ZERO),
            Provisioning::succeeded()
        );
        assert_eq!(
            of_written_generation(
                &first,
                ComplianceState::NonCompliant,
                "apps failed",
                Duration::ZERO
            ),
            Provisioning::failed("reconciliation failed: apps failed".into())
        );
        // Unset, the wait is ten minutes.
        let unset = config(Some(true), None, 1);
        assert_eq!(
            pending(&unset, Duration::from_secs(599)),
            ProvisioningState::Creating
        );
        assert_eq!(pending(&unset, DEFAULT_WAIT), ProvisioningState::Failed);
    }
}

//! Decoding Kubernetes protobuf request bodies into JSON. kubectl's typed commands
//! (`kubectl create namespace|configmap|secret|serviceaccount|deployment|service|role|...`)
//! send `application/vnd.kubernetes.protobuf` and have no JSON fallback, so the server must read
//! it. Only the kinds those commands create are described here, each as a table of field
//! numbers (the wire-format facts of k8s.io/api's messages); a field the table does not know is
//! refused with 415 rather than silently dropped.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::status::ApiError;

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Field descriptions: `number name type`, `;`-separated. Types: `s` string, `i` int32,
/// `l` int64, `b` bool, `y` bytes, `ms`/`my`/`mq` maps of string/bytes/Quantity, `t` Time,
/// `io` IntOrString, `q` Quantity, `@Name` a message, `^@Name` a message inlined into its parent
/// (Go's embedded structs); a leading `*` makes it repeated. Go's protobuf encoder writes every
/// non-pointer scalar, so zero values (`""`, `0`, `false`) mean "unset" and are dropped, as
/// Go's `omitempty` JSON would; a trailing `?` marks pointer fields, whose zero values are real.
fn message_fields(name: &str) -> Option<&'static str> {
    Some(match name {
        "Unknown" => "1 typeMeta @TypeMeta; 2 raw y; 3 contentEncoding s; 4 contentType s",
        "TypeMeta" => "1 apiVersion s; 2 kind s",
        "ObjectMeta" => {
            "1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; 6 resourceVersion s; 7 generation l; 8 creationTimestamp t; 9 deletionTimestamp t; 10 deletionGracePeriodSeconds l?; 11 labels ms; 12 annotations ms; 13 ownerReferences *@OwnerReference; 14 finalizers *s"
        }
        "OwnerReference" => {
            "5 apiVersion s; 1 kind s; 3 name s; 4 uid s; 6 controller b?; 7 blockOwnerDeletion b?"
        }
        "LabelSelector" => "1 matchLabels ms; 2 matchExpressions *@LabelSelectorRequirement",
        "LabelSelectorRequirement" => "1 key s; 2 operator s; 3 values *s",
        "Namespace" => "1 metadata @ObjectMeta; 2 spec @NamespaceSpec; 3 status @NamespaceStatus",
        "NamespaceSpec" => "1 finalizers *s",
        "NamespaceStatus" => "1 phase s",
        "ConfigMap" => "1 metadata @ObjectMeta; 4 immutable b?; 2 data ms; 3 binaryData my",
        "Secret" => "1 metadata @ObjectMeta; 5 immutable b?; 2 data my; 4 stringData ms; 3 type s",
        "ServiceAccount" => {
            "1 metadata @ObjectMeta; 2 secrets *@ObjectReference; 3 imagePullSecrets *@LocalObjectReference; 4 automountServiceAccountToken b?"
        }
        "ObjectReference" => {
            "1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; 6 resourceVersion s; 7 fieldPath s"
        }
        "LocalObjectReference" => "1 name s",
        "Service" => "1 metadata @ObjectMeta; 2 spec @ServiceSpec; 3 status @ServiceStatus",
        "ServiceSpec" => {
            "1 ports *@ServicePort; 2 selector ms; 3 clusterIP s; 18 clusterIPs *s; 4 type s; 5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; 9 loadBalancerSourceRanges *s; 10 externalName s; 11 externalTrafficPolicy s; 12 healthCheckNodePort i; 13 publishNotReadyAddresses b; 19 ipFamilies *s; 17 ipFamilyPolicy s?; 20 allocateLoadBalancerNodePorts b?; 21 loadBalancerClass s?; 22 internalTrafficPolicy s?; 23 trafficDistribution s?"
        }
        "ServicePort" => {
            "1 name s; 2 protocol s; 6 appProtocol s?; 3 port i; 4 targetPort io; 5 nodePort i"
        }
        "ServiceStatus" => "1 loadBalancer @LoadBalancerStatus",
        "LoadBalancerStatus" => "",
        "Deployment" => {
            "1 metadata @ObjectMeta; 2 spec @DeploymentSpec; 3 status @DeploymentStatus"
        }
        "DeploymentSpec" => {
            "1 replicas i?; 2 selector @LabelSelector; 3 template @PodTemplateSpec; 4 strategy @DeploymentStrategy; 5 minReadySeconds i; 6 revisionHistoryLimit i?; 7 paused b; 9 progressDeadlineSeconds i?"
        }
        "DeploymentStrategy" => "1 type s",
        "DeploymentStatus" => {
            "1 observedGeneration l; 2 replicas i; 3 updatedReplicas i; 7 readyReplicas i; 4 availableReplicas i; 5 unavailableReplicas i"
        }
        "PodTemplateSpec" => "1 metadata @ObjectMeta; 2 spec @PodSpec",
        "PodSpec" => {
            "2 containers *@Container; 20 initContainers *@Container; 3 restartPolicy s; 4 terminationGracePeriodSeconds l?; 5 activeDeadlineSeconds l?; 6 dnsPolicy s; 7 nodeSelector ms; 8 serviceAccountName s; 9 serviceAccount s; 21 automountServiceAccountToken b?; 10 nodeName s; 11 hostNetwork b; 12 hostPID b; 13 hostIPC b; 27 shareProcessNamespace b?; 14 securityContext @PodSecurityContext; 15 imagePullSecrets *@LocalObjectReference; 16 hostname s; 17 subdomain s; 19 schedulerName s; 24 priorityClassName s; 25 priority i?; 29 runtimeClassName s?; 30 enableServiceLinks b?; 31 preemptionPolicy s?; 35 setHostnameAsFQDN b?; 37 hostUsers b?"
        }
        "PodSecurityContext" => "2 runAsUser l?; 6 runAsGroup l?; 3 runAsNonRoot b?; 5 fsGroup l?",
        "Container" => {
            "24 restartPolicy s?; 1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; 6 ports *@ContainerPort; 7 env *@EnvVar; 8 resources @ResourceRequirements; 13 terminationMessagePath s; 20 terminationMessagePolicy s; 14 imagePullPolicy s; 16 stdin b; 17 stdinOnce b; 18 tty b"
        }
        "ContainerPort" => "1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s",
        "EnvVar" => "1 name s; 2 value s",
        "ResourceRequirements" => "1 limits mq; 2 requests mq",
        "Job" => "1 metadata @ObjectMeta; 2 spec @JobSpec; 3 status @JobStatus",
        "JobSpec" => {
            "1 parallelism i?; 2 completions i?; 3 activeDeadlineSeconds l?; 7 backoffLimit i?; 12 backoffLimitPerIndex i?; 13 maxFailedIndexes i?; 4 selector @LabelSelector; 5 manualSelector b?; 6 template @PodTemplateSpec; 8 ttlSecondsAfterFinished i?; 9 completionMode s?; 10 suspend b?; 14 podReplacementPolicy s?; 15 managedBy s?"
        }
        "JobStatus" => "4 active i; 5 succeeded i; 6 failed i; 11 terminating i?; 9 ready i?",
        "JobTemplateSpec" => "1 metadata @ObjectMeta; 2 spec @JobSpec",
        "CronJob" => "1 metadata @ObjectMeta; 2 spec @CronJobSpec; 3 status @CronJobStatus",
        "CronJobSpec" => {
            "1 schedule s; 8 timeZone s?; 2 startingDeadlineSeconds l?; 3 concurrencyPolicy s; 4 suspend b?; 5 jobTemplate @JobTemplateSpec; 6 successfulJobsHistoryLimit i?; 7 failedJobsHistoryLimit i?"
        }
        "CronJobStatus" => "",
        "Ingress" => "1 metadata @ObjectMeta; 2 spec @IngressSpec; 3 status @IngressStatus",
        "IngressSpec" => {
            "4 ingressClassName s?; 1 defaultBackend @IngressBackend; 2 tls *@IngressTLS; 3 rules *@IngressRule"
        }
        "IngressRule" => "1 host s; 2 ingressRuleValue ^@IngressRuleValue",
        "IngressRuleValue" => "1 http @HTTPIngressRuleValue",
        "HTTPIngressRuleValue" => "1 paths *@HTTPIngressPath",
        "HTTPIngressPath" => "1 path s; 3 pathType s?; 2 backend @IngressBackend",
        "IngressBackend" => "4 service @IngressServiceBackend",
        "IngressServiceBackend" => "1 name s; 2 port @ServiceBackendPort",
        "ServiceBackendPort" => "1 name s; 2 number i",
        "IngressTLS" => "1 hosts *s; 2 secretName s",
        "IngressStatus" => "1 loadBalancer @IngressLoadBalancerStatus",
        "IngressLoadBalancerStatus" => "",
        "PodDisruptionBudget" => {
            "1 metadata @ObjectMeta; 2 spec @PodDisruptionBudgetSpec; 3 status @PodDisruptionBudgetStatus"
        }
        "PodDisruptionBudgetSpec" => {
            "1 minAvailable io; 2 selector @LabelSelector; 3 maxUnavailable io; 4 unhealthyPodEvictionPolicy s?"
        }
        "PodDisruptionBudgetStatus" => {
            "1 observedGeneration l; 3 disruptionsAllowed i; 4 currentHealthy i; 5 desiredHealthy i; 6 expectedPods i"
        }
        "PriorityClass" => {
            "1 metadata @ObjectMeta; 2 value i?; 3 globalDefault b; 4 description s; 5 preemptionPolicy s?"
        }
        "ResourceQuota" => {
            "1 metadata @ObjectMeta; 2 spec @ResourceQuotaSpec; 3 status @ResourceQuotaStatus"
        }
        "ResourceQuotaSpec" => "1 hard mq; 2 scopes *s",
        "ResourceQuotaStatus" => "1 hard mq; 2 used mq",
        "HorizontalPodAutoscaler" => {
            "1 metadata @ObjectMeta; 2 spec @HorizontalPodAutoscalerSpec; 3 status @HorizontalPodAutoscalerStatus"
        }
        "HorizontalPodAutoscalerSpec" => {
            "1 scaleTargetRef @CrossVersionObjectReference; 2 minReplicas i?; 3 maxReplicas i; 4 targetCPUUtilizationPercentage i?"
        }
        "HorizontalPodAutoscalerStatus" => {
            "1 observedGeneration l?; 2 lastScaleTime t; 3 currentReplicas i; 4 desiredReplicas i; 5 currentCPUUtilizationPercentage i?"
        }
        "CrossVersionObjectReference" => "1 kind s; 2 name s; 3 apiVersion s",
        "SelfSubjectAccessReview" => {
            "1 metadata @ObjectMeta; 2 spec @SelfSubjectAccessReviewSpec; 3 status @Empty"
        }
        "SelfSubjectAccessReviewSpec" => {
            "1 resourceAttributes @ResourceAttributes; 2 nonResourceAttributes @NonResourceAttributes"
        }
        "ResourceAttributes" => {
            "1 namespace s; 2 verb s; 3 group s; 4 version s; 5 resource s; 6 subresource s; 7 name s"
        }
        "NonResourceAttributes" => "1 path s; 2 verb s",
        "SelfSubjectRulesReview" => {
            "1 metadata @ObjectMeta; 2 spec @SelfSubjectRulesReviewSpec; 3 status @Empty"
        }
        "SelfSubjectRulesReviewSpec" => "1 namespace s",
        "SelfSubjectReview" => "1 metadata @ObjectMeta; 2 status @SelfSubjectReviewStatus",
        "SelfSubjectReviewStatus" => "1 userInfo @UserInfo",
        "UserInfo" => "1 username s; 2 uid s; 3 groups *s",
        "Empty" => "",
        "Role" => "1 metadata @ObjectMeta; 2 rules *@PolicyRule",
        "ClusterRole" => {
            "1 metadata @ObjectMeta; 2 rules *@PolicyRule; 3 aggregationRule @AggregationRule"
        }
        "PolicyRule" => {
            "1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s; 5 nonResourceURLs *s"
        }
        "AggregationRule" => "1 clusterRoleSelectors *@LabelSelector",
        "RoleBinding" | "ClusterRoleBinding" => {
            "1 metadata @ObjectMeta; 2 subjects *@Subject; 3 roleRef @RoleRef"
        }
        "Subject" => "1 kind s; 2 apiGroup s; 3 name s; 4 namespace s",
        "RoleRef" => "1 apiGroup s; 2 kind s; 3 name s",
        "DeleteOptions" => {
            "1 gracePeriodSeconds l?; 2 preconditions @Preconditions; 3 orphanDependents b?; 4 propagationPolicy s?; 5 dryRun *s; 6 ignoreStoreReadErrorWithClusterBreakingPotential b?"
        }
        "Preconditions" => "1 uid s?; 2 resourceVersion s?",
        _ => return None,
    })
}

/// The root message for an apiVersion and kind kubectl sends as protobuf.
fn root_message(api_version: &str, kind: &str) -> Option<&'static str> {
    Some(match (api_version, kind) {
        ("v1", "Namespace") => "Namespace",
        ("v1", "ConfigMap") => "ConfigMap",
        ("v1", "Secret") => "Secret",
        ("v1", "ServiceAccount") => "ServiceAccount",
        ("v1", "Service") => "Service",
        ("apps/v1", "Deployment") => "Deployment",
        ("batch/v1", "Job") => "Job",
        ("batch/v1", "CronJob") => "CronJob",
        ("networking.k8s.io/v1", "Ingress") => "Ingress",
        ("policy/v1", "PodDisruptionBudget") => "PodDisruptionBudget",
        ("scheduling.k8s.io/v1", "PriorityClass") => "PriorityClass",
        ("v1", "ResourceQuota") => "ResourceQuota",
        ("autoscaling/v1", "HorizontalPodAutoscaler") => "HorizontalPodAutoscaler",
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => "SelfSubjectAccessReview",
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => "SelfSubjectRulesReview",
        ("authentication.k8s.io/v1", "SelfSubjectReview") => "SelfSubjectReview",
        ("rbac.authorization.k8s.io/v1", "Role") => "Role",
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => "ClusterRole",
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => "RoleBinding",
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => "ClusterRoleBinding",
        // client-go's typed clients (Helm's release storage among them) send the body of every
        // DELETE as protobuf, in the group version of the resource being deleted.
        (_, "DeleteOptions") => "DeleteOptions",
        _ => return None,
    })
}

fn unsupported(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - this server decodes protobuf only for the kinds kubectl create sends; {}",
            detail.into()
        ),
    )
}

fn malformed() -> ApiError {
    ApiError::bad_request("failed to decode protobuf body: malformed message")
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.position).ok_or_else(malformed)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], ApiError> {
        let end = self.position.checked_add(length).ok_or_else(malformed)?;
        let slice = self.bytes.get(self.position..end).ok_or_else(malformed)?;
        self.position = end;
        Ok(slice)
    }
}

/// The raw value of one field occurrence.
enum Raw<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn fields(bytes: &[u8]) -> Result<Vec<(u32, Raw<'_>)>, ApiError> {
    let mut reader = Reader { bytes, position: 0 };
    let mut found = Vec::new();
    while reader.position < bytes.len() {
        let tag = reader.varint()?;
        let number = u32::try_from(tag >> 3).map_err(|_| malformed())?;
        let raw = match tag & 7 {
            0 => Raw::Varint(reader.varint()?),
            2 => {
                let length = usize::try_from(reader.varint()?).map_err(|_| malformed())?;
                Raw::Bytes(reader.take(length)?)
            }
            1 => Raw::Bytes(reader.take(8)?),
            5 => Raw::Bytes(reader.take(4)?),
            _ => return Err(malformed()),
        };
        found.push((number, raw));
    }
    Ok(found)
}

fn text(raw: &Raw<'_>) -> Result<String, ApiError> {
    match raw {
        Raw::Bytes(bytes) => String::from_utf8(bytes.to_vec()).map_err(|_| malformed()),
        Raw::Varint(_) => Err(malformed()),
    }
}

fn varint(raw: &Raw<'_>) -> Result<u64, ApiError> {
    match raw {
        Raw::Varint(value) => Ok(*value),
        Raw::Bytes(_) => Err(malformed()),
    }
}

fn nested<'a>(raw: &Raw<'a>) -> Result<&'a [u8], ApiError> {
    match raw {
        Raw::Bytes(bytes) => Ok(bytes),
        Raw::Varint(_) => Err(malformed()),
    }
}

fn map_entry(raw: &Raw<'_>, value_type: &str) -> Result<(String, Value), ApiError> {
    let mut key = String::new();
    let mut value = json!("");
    for (number, field) in fields(nested(raw)?)? {
        match number {
            1 => key = text(&field)?,
            2 => {
                value = match value_type {
                    "ms" => json!(text(&field)?),
                    "my" => {
                        json!(base64::engine::general_purpose::STANDARD.encode(nested(&field)?))
                    }
                    _ => decode_scalar("q", &field)?,
                }
            }
            _ => {}
        }
    }
    Ok((key, value))
}

fn decode_scalar(kind: &str, raw: &Raw<'_>) -> Result<Value, ApiError> {
    Ok(match kind {
        "s" => json!(text(raw)?),
        // Two's-complement truncation is how protobuf carries negative int32/int64 values.
        "i" => json!(varint(raw)? as u32 as i32),
        "l" => json!(varint(raw)? as i64),
        "b" => json!(varint(raw)? != 0),
        "y" => json!(base64::engine::general_purpose::STANDARD.encode(nested(raw)?)),
        "q" => {
            let mut quantity = String::new();
            for (number, field) in fields(nested(raw)?)? {
                if number == 1 {
                    quantity = text(&field)?;
                }
            }
            json!(quantity)
        }
        "t" => {
            let mut seconds = 0i64;
            for (number, field) in fields(nested(raw)?)? {
                if number == 1 {
                    seconds = varint(&field)? as i64;
                }
            }
            if seconds == 0 {
                return Ok(Value::Null);
            }
            let stamp = jiff::Timestamp::from_second(seconds).map_err(|_| malformed())?;
            json!(crate::object::timestamp(stamp))
        }
        "io" => {
            let (mut is_string, mut number_value, mut string_value) = (false, 0i64, String::new());
            for (number, field) in fields(nested(raw)?)? {
                match number {
                    1 => is_string = varint(&field)? == 1,
                    2 => number_value = i64::from(varint(&field)? as u32 as i32),
                    3 => string_value = text(&field)?,
                    _ => {}
                }
            }
            if is_string {
                json!(string_value)
            } else {
                json!(number_value)
            }
        }
        _ => return Err(malformed()),
    })
}

fn decode_message(name: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let description =
        message_fields(name).ok_or_else(|| unsupported(format!("message {name} is not known")))?;
    let schema: Vec<(u32, &str, &str)> = description
        .split(';')
        .filter_map(|entry| {
            let mut parts = entry.split_whitespace();
            let number = parts.next()?.parse().ok()?;
            Some((number, parts.next()?, parts.next()?))
        })
        .collect();
    let mut object = Map::new();
    for (number, raw) in fields(bytes)? {
        let Some((_, field_name, field_type)) = schema.iter().find(|(n, _, _)| *n == number) else {
            // An unknown field holding a zero value says nothing (Go writes every scalar).
            if matches!(raw, Raw::Varint(0)) || matches!(raw, Raw::Bytes(bytes) if bytes.is_empty())
            {
                continue;
            }
            return Err(unsupported(format!(
                "field {number} of {name} is not understood; send JSON instead"
            )));
        };
        let (repeated, element_type) = match field_type.strip_prefix('*') {
            Some(element) => (true, element),
            None => (false, *field_type),
        };
        let (pointer, element_type) = match element_type.strip_suffix('?') {
            Some(element) => (true, element),
            None => (false, element_type),
        };
        if let Some(inlined) = element_type.strip_prefix("^@") {
            if let Value::Object(fields) = decode_message(inlined, nested(&raw)?)? {
                object.extend(fields);
            }
            continue;
        }
        let value = if let Some(message) = element_type.strip_prefix('@') {
            decode_message(message, nested(&raw)?)?
        } else if matches!(element_type, "ms" | "my" | "mq") {
            let (key, value) = map_entry(&raw, element_type)?;
            let entry = object
                .entry(field_name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key, value);
            }
            continue;
        } else {
            decode_scalar(element_type, &raw)?
        };
        let zero =
            value.is_null() || value == json!("") || value == json!(0) || value == json!(false);
        if zero && !pointer && !repeated {
            continue;
        }
        if repeated {
            let entry = object
                .entry(field_name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(value);
            }
        } else {
            object.insert(field_name.to_string(), value);
        }
    }
    Ok(Value::Object(object))
}

/// Decodes a `application/vnd.kubernetes.protobuf` body into the equivalent JSON object.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(|| {
        ApiError::bad_request("failed to decode protobuf body: missing k8s prefix")
    })?;
    let unknown = decode_message("Unknown", envelope)?;
    let api_version = unknown
        .pointer("/typeMeta/apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = unknown
        .pointer("/typeMeta/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let root = root_message(api_version, kind)
        .ok_or_else(|| unsupported(format!("{api_version} {kind} is not supported as protobuf")))?;
    let raw = unknown
        .get("raw")
        .and_then(Value::as_str)
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .unwrap_or_default();
    let mut object = decode_message(root, &raw)?;
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![((number << 3) | 2) as u8, payload.len() as u8];
        bytes.extend_from_slice(payload);
        bytes
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = field(1, api_version.as_bytes());
        type_meta.extend(field(2, kind.as_bytes()));
        let mut unknown = field(1, &type_meta);
        unknown.extend(field(2, raw));
        let mut body = MAGIC.to_vec();
        body.extend(unknown);
        body
    }

    #[test]
    fn decodes_a_namespace_like_kubectl_create_sends() {
        let metadata = field(1, b"demo");
        let mut raw = field(1, &metadata);
        raw.extend(field(2, b""));
        raw.extend(field(3, b""));
        let object = decode(&envelope("v1", "Namespace", &raw));
        assert_eq!(
            object.ok(),
            Some(
                json!({"metadata": {"name": "demo"}, "spec": {}, "status": {}, "apiVersion": "v1", "kind": "Namespace"})
            )
        );
    }

    #[test]
    fn zero_scalars_are_unset_unless_the_field_is_a_pointer() {
        let mut metadata = field(1, b"cm");
        metadata.extend(field(2, b""));
        metadata.extend([7 << 3, 0]);
        let mut raw = field(1, &metadata);
        raw.extend([4 << 3, 0]);
        let object = decode(&envelope("v1", "ConfigMap", &raw)).unwrap_or_default();
        assert_eq!(object["metadata"], json!({"name": "cm"}));
        assert_eq!(object["immutable"], json!(false));
    }

    #[test]
    fn decodes_config_map_data_maps() {
        let metadata = field(1, b"settings");
        let mut entry = field(1, b"greeting");
        entry.extend(field(2, b"hello"));
        let mut raw = field(1, &metadata);
        raw.extend(field(2, &entry));
        let object = decode(&envelope("v1", "ConfigMap", &raw)).unwrap_or_default();
        assert_eq!(object["data"], json!({"greeting": "hello"}));
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused_not_dropped() {
        let unsupported_kind = decode(&envelope("storage.k8s.io/v1", "StorageClass", b""));
        assert_eq!(unsupported_kind.map_err(|error| error.code), Err(415));
        let unknown_field = decode(&envelope("v1", "Namespace", &field(9, b"x")));
        assert_eq!(unknown_field.map_err(|error| error.code), Err(415));
        let empty_unknown_field = decode(&envelope("v1", "Namespace", &field(9, b"")));
        assert!(empty_unknown_field.is_ok());
        assert_eq!(decode(b"junk").map_err(|error| error.code), Err(400));
    }
}

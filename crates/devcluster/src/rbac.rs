//! Who is asking and whether they may: impersonation and RBAC authorization.
//!
//! The kubeconfig's bearer token is the cluster administrator and is never checked against
//! RBAC (kube-apiserver's `system:masters` group short-circuits the same way). A request that
//! carries `Impersonate-User` (and optionally `Impersonate-Group`) is evaluated as that user
//! with kube-apiserver's RBAC rules: ClusterRoleBindings grant their ClusterRole everywhere,
//! RoleBindings grant their Role or ClusterRole in their own namespace. Controllers send these
//! headers for `serviceAccountName`, which is what multi-tenancy lock-down tests exercise.
//! Role aggregation (`aggregationRule`) is not implemented.

use http::HeaderMap;
use serde_json::{Value, json};

use crate::object::{new_uid, timestamp};
use crate::status::{ApiError, qualified};
use crate::store::{EventType, Inner, ObjectKey};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// The group every authenticated user is in.
pub(crate) const ALL_AUTHENTICATED: &str = "system:authenticated";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// The user a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserInfo {
    /// `system:serviceaccount:ns:sa`, a user name, or the administrator's name.
    pub(crate) name: String,
    /// Groups, including `system:authenticated`.
    pub(crate) groups: Vec<String>,
    /// The bearer-token administrator, who bypasses RBAC.
    pub(crate) admin: bool,
}

impl UserInfo {
    /// The holder of the kubeconfig's token.
    pub(crate) fn admin() -> Self {
        UserInfo {
            name: "eddy-dev".into(),
            groups: vec!["system:masters".into(), ALL_AUTHENTICATED.into()],
            admin: true,
        }
    }

    /// The user the request acts as: the administrator, or whoever it impersonates. Like
    /// kube-apiserver, a service account impersonated without groups gets its fixed groups,
    /// and every impersonated user but `system:anonymous` is in `system:authenticated`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let text = |value: &http::HeaderValue| value.to_str().ok().map(str::trim).map(String::from);
        let user = headers.get("impersonate-user").and_then(text);
        let mut groups: Vec<String> = headers
            .get_all("impersonate-group")
            .iter()
            .filter_map(text)
            .filter(|group| !group.is_empty())
            .collect();
        let Some(name) = user.filter(|name| !name.is_empty()) else {
            if !groups.is_empty() {
                return Err(ApiError::new(
                    500,
                    "InternalError",
                    "Internal error occurred: requested [Impersonate-Group] without impersonating a user",
                ));
            }
            return Ok(UserInfo::admin());
        };
        if groups.is_empty()
            && let Some((namespace, _)) = service_account_of(&name)
        {
            groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
            ];
        }
        if name != "system:anonymous" && !groups.iter().any(|group| group == ALL_AUTHENTICATED) {
            groups.push(ALL_AUTHENTICATED.into());
        }
        Ok(UserInfo {
            name,
            groups,
            admin: false,
        })
    }
}

/// `(namespace, name)` of a `system:serviceaccount:<ns>:<name>` user.
fn service_account_of(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// What a request does, as the authorizer sees it (kube-apiserver's `RequestInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or
    /// the lower-case HTTP method for non-resource requests.
    pub(crate) verb: String,
    /// Whether this is a request for an API resource (otherwise a non-resource URL).
    pub(crate) resource_request: bool,
    /// The URL path.
    pub(crate) path: String,
    /// API group.
    pub(crate) group: String,
    /// Plural resource.
    pub(crate) resource: String,
    /// Subresource, empty when none.
    pub(crate) subresource: String,
    /// Namespace, empty at the cluster scope.
    pub(crate) namespace: String,
    /// Object name, empty for collections and creates.
    pub(crate) name: String,
}

impl Attributes {
    /// A request for a non-resource URL such as `/version`.
    pub(crate) fn non_resource(method: &http::Method, path: &str) -> Self {
        Attributes {
            verb: method.as_str().to_ascii_lowercase(),
            resource_request: false,
            path: path.to_string(),
            group: String::new(),
            resource: String::new(),
            subresource: String::new(),
            namespace: String::new(),
            name: String::new(),
        }
    }

    /// A request for a resource, with the verb derived as kube-apiserver derives it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn resource(
        method: &http::Method,
        watching: bool,
        path: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Self {
        let named = name.is_some_and(|name| !name.is_empty());
        let verb = match (method.as_str(), named) {
            ("GET" | "HEAD", _) if watching => "watch",
            ("GET" | "HEAD", true) => "get",
            ("GET" | "HEAD", false) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            (other, _) => {
                return Attributes::non_resource(&http::Method::GET, path).with_verb(other);
            }
        };
        let mut namespace = namespace.unwrap_or("").to_string();
        // kube-apiserver treats `/api/v1/namespaces/<name>` as a request in that namespace,
        // so a RoleBinding there can grant reading the Namespace object itself.
        if group.is_empty() && resource == "namespaces" && namespace.is_empty() {
            namespace = name.unwrap_or("").to_string();
        }
        Attributes {
            verb: verb.to_string(),
            resource_request: true,
            path: path.to_string(),
            group: group.to_string(),
            resource: resource.to_string(),
            subresource: subresource.unwrap_or("").to_string(),
            namespace,
            name: name.unwrap_or("").to_string(),
        }
    }

    /// The same request with another verb.
    pub(crate) fn with_verb(mut self, verb: &str) -> Self {
        self.verb = verb.to_ascii_lowercase();
        self
    }
}

fn strings<'a>(value: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    value
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether one PolicyRule allows the request (kube's `RuleAllows`).
pub(crate) fn rule_allows(rule: &Value, request: &Attributes) -> bool {
    let verb_matches = strings(rule, "verbs").any(|verb| verb == "*" || verb == request.verb);
    if !verb_matches {
        return false;
    }
    if !request.resource_request {
        return strings(rule, "nonResourceURLs").any(|url| {
            url == "*"
                || url == request.path
                || url
                    .strip_suffix('*')
                    .is_some_and(|prefix| request.path.starts_with(prefix))
        });
    }
    let group_matches =
        strings(rule, "apiGroups").any(|group| group == "*" || group == request.group);
    let combined = if request.subresource.is_empty() {
        request.resource.clone()
    } else {
        format!("{}/{}", request.resource, request.subresource)
    };
    let resource_matches = strings(rule, "resources").any(|resource| {
        resource == "*"
            || resource == combined
            || (!request.subresource.is_empty()
                && resource
                    .strip_prefix("*/")
                    .is_some_and(|sub| sub == request.subresource))
    });
    let mut names = strings(rule, "resourceNames").peekable();
    let name_matches = names.peek().is_none() || names.any(|name| name == request.name);
    group_matches && resource_matches && name_matches
}

/// Whether a binding subject is this user (kube's `appliesToUser`). `binding_namespace` is the
/// namespace a ServiceAccount subject without one defaults to.
fn subject_matches(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let field = |name: &str| subject.get(name).and_then(Value::as_str).unwrap_or("");
    match field("kind") {
        "User" => field("name") == user.name,
        "Group" => user.groups.iter().any(|group| group == field("name")),
        "ServiceAccount" => {
            let namespace = match field("namespace") {
                "" => binding_namespace,
                namespace => namespace,
            };
            service_account_of(&user.name) == Some((namespace, field("name")))
        }
        _ => false,
    }
}

fn binds(binding: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .is_some_and(|subjects| {
            subjects
                .iter()
                .any(|subject| subject_matches(subject, user, binding_namespace))
        })
}

fn rules_of(inner: &Inner, role_ref: &Value, binding_namespace: &str) -> Vec<Value> {
    let field = |name: &str| role_ref.get(name).and_then(Value::as_str).unwrap_or("");
    let key = match field("kind") {
        "ClusterRole" => ObjectKey::new(RBAC_GROUP, "clusterroles", "", field("name")),
        "Role" if !binding_namespace.is_empty() => {
            ObjectKey::new(RBAC_GROUP, "roles", binding_namespace, field("name"))
        }
        _ => return Vec::new(),
    };
    inner
        .get(&key)
        .and_then(|role| role.get("rules"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Every rule granted to the user in a namespace ("" for the cluster scope only).
pub(crate) fn rules_for(inner: &Inner, user: &UserInfo, namespace: &str) -> Vec<Value> {
    let mut rules = Vec::new();
    for (_, binding) in inner.list(RBAC_GROUP, "clusterrolebindings", Some("")) {
        if binds(binding, user, "") {
            rules.extend(rules_of(
                inner,
                binding.get("roleRef").unwrap_or(&Value::Null),
                "",
            ));
        }
    }
    if !namespace.is_empty() {
        for (_, binding) in inner.list(RBAC_GROUP, "rolebindings", Some(namespace)) {
            if binds(binding, user, namespace) {
                rules.extend(rules_of(
                    inner,
                    binding.get("roleRef").unwrap_or(&Value::Null),
                    namespace,
                ));
            }
        }
    }
    rules
}

/// Whether the user may do what the request asks.
pub(crate) fn allows(inner: &Inner, user: &UserInfo, request: &Attributes) -> bool {
    if user.admin || user.groups.iter().any(|group| group == "system:masters") {
        return true;
    }
    rules_for(inner, user, &request.namespace)
        .iter()
        .any(|rule| rule_allows(rule, request))
}

/// kube-apiserver's 403 for a denied request (`responsewriters.Forbidden`).
pub(crate) fn forbidden(user: &UserInfo, request: &Attributes) -> ApiError {
    let reason = if !request.resource_request {
        format!(
            "User \"{}\" cannot {} path \"{}\"",
            user.name, request.verb, request.path
        )
    } else {
        let resource = if request.subresource.is_empty() {
            request.resource.clone()
        } else {
            format!("{}/{}", request.resource, request.subresource)
        };
        let scope = if request.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", request.namespace)
        };
        format!(
            "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            user.name, request.verb, request.group
        )
    };
    let message = if !request.resource_request {
        format!("forbidden: {reason}")
    } else if request.name.is_empty() {
        format!(
            "{} is forbidden: {reason}",
            qualified(&request.group, &request.resource)
        )
    } else {
        format!(
            "{} \"{}\" is forbidden: {reason}",
            qualified(&request.group, &request.resource),
            request.name
        )
    };
    let mut error = ApiError::new(403, "Forbidden", message);
    if request.resource_request {
        error.details.name = Some(request.name.clone()).filter(|name| !name.is_empty());
        error.details.group = Some(request.group.clone()).filter(|group| !group.is_empty());
        error.details.kind = Some(request.resource.clone());
    }
    error
}

const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 5] = ["create", "delete", "deletecollection", "patch", "update"];

/// The namespaced resources the simplified `view`, `edit` and `admin` roles cover, by group.
const WORKLOAD_RESOURCES: [(&str, &[&str]); 10] = [
    (
        "",
        &[
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
        ],
    ),
    (
        "apps",
        &[
            "controllerrevisions",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
    ),
    ("batch", &["cronjobs", "jobs"]),
    ("autoscaling", &["horizontalpodautoscalers"]),
    ("networking.k8s.io", &["ingresses", "networkpolicies"]),
    ("policy", &["poddisruptionbudgets"]),
    ("coordination.k8s.io", &["leases"]),
    ("discovery.k8s.io", &["endpointslices"]),
    ("events.k8s.io", &["events"]),
    ("source.toolkit.fluxcd.io", &["*"]),
];

fn workload_rules(verbs: &[&str], with_secrets: bool) -> Vec<Value> {
    let mut rules: Vec<Value> = WORKLOAD_RESOURCES
        .iter()
        .map(|(group, resources)| json!({"apiGroups": [group], "resources": resources, "verbs": verbs}))
        .collect();
    if with_secrets {
        rules.push(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": verbs}));
    }
    rules
}

/// The bootstrap ClusterRoles, simplified from kube-apiserver's:
/// - `cluster-admin`: everything, as upstream.
/// - `view`: read the common namespaced workload, config and networking resources (not
///   Secrets), plus their `status` subresources, Events, Namespaces, quotas and limit ranges.
///   Upstream aggregates from labelled roles; here the list is fixed.
/// - `edit`: `view` plus writing those resources and Secrets.
/// - `admin`: `edit` plus Roles and RoleBindings in the namespace. Upstream also grants
///   `localsubjectaccessreviews` and aggregated rules, which are left out.
/// - `system:discovery`, `system:public-info-viewer`, `system:basic-user`: discovery, version
///   and health for everyone authenticated, and the self-reviews kubectl `auth` uses.
fn bootstrap_roles() -> Vec<(&'static str, Vec<Value>)> {
    let read_extra = vec![
        json!({"apiGroups": [""], "resources": ["events", "namespaces", "resourcequotas", "limitranges", "pods/log", "pods/status", "services/status"], "verbs": READ}),
        json!({"apiGroups": ["apps", "batch", "autoscaling", "networking.k8s.io", "policy"], "resources": ["*/status"], "verbs": READ}),
    ];
    let view = [workload_rules(&READ, false), read_extra.clone()].concat();
    let mut all_verbs: Vec<&str> = READ.to_vec();
    all_verbs.extend(WRITE);
    let mut edit = [workload_rules(&all_verbs, true), read_extra].concat();
    edit.push(json!({"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "services/proxy", "pods/eviction"], "verbs": all_verbs}));
    let mut admin = edit.clone();
    admin.push(json!({"apiGroups": [RBAC_GROUP], "resources": ["roles", "rolebindings"], "verbs": all_verbs}));
    vec![
        (
            "cluster-admin",
            vec![
                json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}),
                json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
            ],
        ),
        ("admin", admin),
        ("edit", edit),
        ("view", view),
        (
            "system:discovery",
            vec![json!({"nonResourceURLs": [
                "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                "/openapi/*", "/readyz", "/version", "/version/"
            ], "verbs": ["get"]})],
        ),
        (
            "system:public-info-viewer",
            vec![
                json!({"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}),
            ],
        ),
        (
            "system:basic-user",
            vec![
                json!({"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}),
                json!({"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}),
            ],
        ),
    ]
}

fn bootstrap_bindings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("cluster-admin", "system:masters"),
        ("system:discovery", ALL_AUTHENTICATED),
        ("system:public-info-viewer", ALL_AUTHENTICATED),
        ("system:basic-user", ALL_AUTHENTICATED),
    ]
}

fn bootstrap_metadata(name: &str, now: &str) -> Value {
    json!({
        "name": name,
        "uid": new_uid(),
        "creationTimestamp": now,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    })
}

/// Seeds the bootstrap ClusterRoles and ClusterRoleBindings that are missing, as
/// kube-apiserver's RBAC post-start hook does (existing ones are left as they are).
pub(crate) fn bootstrap(inner: &mut Inner) {
    let now = timestamp(jiff::Timestamp::now());
    for (name, rules) in bootstrap_roles() {
        let key = ObjectKey::new(RBAC_GROUP, "clusterroles", "", name);
        if inner.get(&key).is_none() {
            let role = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": bootstrap_metadata(name, &now),
                "rules": rules,
            });
            inner.write(key, role, EventType::Added);
        }
    }
    for (name, group) in bootstrap_bindings() {
        let key = ObjectKey::new(RBAC_GROUP, "clusterrolebindings", "", name);
        if inner.get(&key).is_none() {
            let binding = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": bootstrap_metadata(name, &now),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
                "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group}],
            });
            inner.write(key, binding, EventType::Added);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Method};

    fn service_account(namespace: &str, name: &str) -> UserInfo {
        let mut headers = HeaderMap::new();
        let user = format!("system:serviceaccount:{namespace}:{name}");
        headers.insert(
            "impersonate-user",
            HeaderValue::from_str(&user).expect("header"),
        );
        UserInfo::from_headers(&headers).expect("user")
    }

    #[test]
    fn an_impersonated_service_account_gets_its_fixed_groups() {
        let user = service_account("team-a", "deployer");
        assert_eq!(
            user.groups,
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:team-a",
                "system:authenticated"
            ]
        );
        assert!(!user.admin);
        assert!(
            UserInfo::from_headers(&HeaderMap::new())
                .expect("admin")
                .admin
        );
    }

    #[test]
    fn explicit_impersonated_groups_replace_the_service_account_groups() {
        let mut headers = HeaderMap::new();
        headers.insert("impersonate-user", HeaderValue::from_static("alice"));
        headers.append("impersonate-group", HeaderValue::from_static("devs"));
        headers.append("impersonate-group", HeaderValue::from_static("ops"));
        let user = UserInfo::from_headers(&headers).expect("user");
        assert_eq!(user.groups, vec!["devs", "ops", "system:authenticated"]);
    }

    #[test]
    fn rules_match_wildcards_subresources_and_resource_names() {
        let request = Attributes::resource(
            &Method::PATCH,
            false,
            "/apis/apps/v1/namespaces/a/deployments/web/status",
            "apps",
            "deployments",
            Some("status"),
            Some("a"),
            Some("web"),
        );
        assert_eq!(request.verb, "patch");
        let allows = |rule: Value| rule_allows(&rule, &request);
        assert!(allows(
            json!({"apiGroups": ["apps"], "resources": ["deployments/status"], "verbs": ["patch"]})
        ));
        assert!(allows(
            json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]})
        ));
        assert!(!allows(
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]})
        ));
        assert!(allows(
            json!({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["patch"], "resourceNames": ["web"]})
        ));
        assert!(!allows(
            json!({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["patch"], "resourceNames": ["api"]})
        ));
        assert!(!allows(
            json!({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]})
        ));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_prefix() {
        let request = Attributes::non_resource(&Method::GET, "/apis/apps/v1");
        assert!(rule_allows(
            &json!({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}),
            &request
        ));
        assert!(!rule_allows(
            &json!({"nonResourceURLs": ["/apis"], "verbs": ["get"]}),
            &request
        ));
    }

    #[test]
    fn the_forbidden_message_names_user_verb_resource_and_scope() {
        let user = service_account("ns", "sa");
        let request = Attributes::resource(
            &Method::GET,
            false,
            "/api/v1/namespaces/ns/configmaps/settings",
            "",
            "configmaps",
            None,
            Some("ns"),
            Some("settings"),
        );
        let status = forbidden(&user, &request).to_status();
        assert_eq!(
            status.to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"settings\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"ns\"","reason":"Forbidden","details":{"name":"settings","kind":"configmaps"},"code":403}"#
        );
        let create = Attributes::resource(
            &Method::POST,
            false,
            "/api/v1/namespaces",
            "",
            "namespaces",
            None,
            None,
            None,
        );
        assert_eq!(
            forbidden(&user, &create).message,
            "namespaces is forbidden: User \"system:serviceaccount:ns:sa\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
        );
    }
}

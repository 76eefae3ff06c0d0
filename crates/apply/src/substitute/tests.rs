use super::*;

fn variables(pairs: &[(&str, &str)]) -> Variables {
    let mut variables = Variables::new();
    variables.extend(pairs.iter().copied());
    variables
}

fn expand_lenient(text: &str, pairs: &[(&str, &str)]) -> String {
    match expand(text, &variables(pairs), false) {
        Ok(output) => output,
        Err(error) => panic!("expanding {text:?} failed: {error}"),
    }
}

/// Variables, input and expected output of one expansion case.
type ExpansionCase<'case> = (&'case [(&'case str, &'case str)], &'case str, &'case str);

/// fluxcd/pkg `envsubst/eval_test.go` `TestExpand`, case for case.
#[test]
fn expansion_matches_the_flux_envsubst_test_table() {
    let cases: &[ExpansionCase<'_>] = &[
        (&[], "abcdEFGH28ij", "abcdEFGH28ij"),
        (&[("var01", "abcdEFGH28ij")], "${#var01}", "12"),
        (&[("var01", "abcdEFGH28ij")], "${var01^}", "AbcdEFGH28ij"),
        (&[("var01", "abcdEFGH28ij")], "${var01^^}", "ABCDEFGH28IJ"),
        (&[("var01", "ABCDEFGH28IJ")], "${var01,}", "aBCDEFGH28IJ"),
        (&[("var01", "ABCDEFGH28IJ")], "${var01,,}", "abcdefgh28ij"),
        (
            &[("path_name", "/home/bozo/ideas/thoughts.for.today")],
            "${path_name:11}",
            "ideas/thoughts.for.today",
        ),
        (
            &[("path_name", "/home/bozo/ideas/thoughts.for.today")],
            "${path_name:11:5}",
            "ideas",
        ),
        (&[("var", "abc")], "${var=xyz}", "abc"),
        (&[], "${var=xyz}", "xyz"),
        (
            &[("default_var", "foo")],
            "something ${var=${default_var}}",
            "something foo",
        ),
        (
            &[("default_var", "foo1")],
            "foo: ${var=${default_var}-suffix}",
            "foo: foo1-suffix",
        ),
        (
            &[("default_var", "foo1")],
            "foo: ${var=prefix${default_var}-suffix}",
            "foo: prefixfoo1-suffix",
        ),
        (&[], "${var:=xyz}", "xyz"),
        (
            &[("stringZ", "abcABC123ABCabc")],
            "${stringZ/%abc/XYZ}",
            "abcABC123ABCXYZ",
        ),
        (
            &[("stringZ", "abcABC123ABCabc")],
            "${stringZ/#abc/XYZ}",
            "XYZABC123ABCabc",
        ),
        (
            &[("stringZ", "abcABC123ABCabc")],
            "${stringZ//abc/xyz}",
            "xyzABC123ABCxyz",
        ),
        (
            &[("stringZ", "abcABC123ABCabc")],
            "${stringZ/abc/xyz}",
            "xyzABC123ABCabc",
        ),
        (
            &[("filename", "bash.string.txt")],
            "${filename#*.}",
            "string.txt",
        ),
        (&[("filename", "path/to/file")], "${filename#*/}", "to/file"),
        (
            &[("filename", "/path/to/file")],
            "${filename#*/}",
            "path/to/file",
        ),
        (&[("filename", "bash.string.txt")], "${filename##*.}", "txt"),
        (&[("filename", "path/to/file")], "${filename##*/}", "file"),
        (&[("filename", "/path/to/file")], "${filename##*/}", "file"),
        (
            &[("filename", "bash.string.txt")],
            "${filename%.*}",
            "bash.string",
        ),
        (
            &[("filename", "bash.string.txt")],
            "${filename%%.*}",
            "bash",
        ),
        (
            &[("var01", "abcdEFGH28ij")],
            "${var=${var01^^}}",
            "ABCDEFGH28IJ",
        ),
        (&[("var01", "abcdEFGH28ij")], "$${var01}", "${var01}"),
        (
            &[("var01", "abcdEFGH28ij")],
            "some text ${var01}$${var$${var01}$var01${var01}",
            "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij",
        ),
        (
            &[("default_var", "foo")],
            "something $${var=${default_var}}",
            "something ${var=foo}",
        ),
        (&[("stringZ", "foo/bar")], r"${stringZ/\//-}", "foo-bar"),
        (
            &[("stringZ", "foo/bar/baz")],
            r"${stringZ//\//-}",
            "foo-bar-baz",
        ),
        (
            &[("default_var", "foo")],
            "\\\\something ${var=${default_var}}",
            "\\\\something foo",
        ),
        (&[("stringZ", "foo.bar")], "${stringZ/./}", "foobar"),
    ];
    for (pairs, input, expected) in cases {
        assert_eq!(expand_lenient(input, pairs), *expected, "input {input:?}");
    }
}

/// fluxcd/pkg `envsubst/eval_test.go` `TestExpandStrict`.
#[test]
fn strict_expansion_matches_the_flux_envsubst_test_table() {
    let strict = |text: &str, pairs: &[(&str, &str)]| expand(text, &variables(pairs), true);
    assert_eq!(strict("abcdEFGH28ij", &[]), Ok("abcdEFGH28ij".into()));
    assert_eq!(strict("${foo}", &[("foo", "bar")]), Ok("bar".into()));
    assert_eq!(strict("${foo}", &[("foo", "")]), Ok(String::new()));
    assert_eq!(
        strict("${missing}", &[]),
        Err(SubstituteError::VariableNotSet("missing".into()))
    );
    assert_eq!(
        strict("${missing:=default}", &[("foo", "bar")]),
        Ok("default".into())
    );
    for input in [
        "${#missing}",
        "${missing^}",
        "${missing^^}",
        "${missing,}",
        "${missing,,}",
        "${missing:0}",
        "${missing:0:10}",
        "${missing/pattern/replacement}",
        "${missing//pattern/replacement}",
        "${missing/#pattern/replacement}",
        "${missing/%pattern/replacement}",
        "${missing#pattern}",
        "${missing##pattern}",
        "${missing%pattern}",
        "${missing%%pattern}",
    ] {
        assert_eq!(
            strict(input, &[]),
            Err(SubstituteError::VariableNotSet("missing".into())),
            "input {input:?}"
        );
    }
    assert_eq!(strict("${missing:-fallback}", &[]), Ok("fallback".into()));
    assert_eq!(strict("${missing:=assigned}", &[]), Ok("assigned".into()));
    assert_eq!(strict("${missing=assigned}", &[]), Ok("assigned".into()));
}

#[test]
fn undefined_variable_expands_to_nothing_when_not_strict() {
    assert_eq!(expand_lenient("a${missing}b", &[]), "ab");
}

#[test]
fn variable_without_braces_is_not_substituted() {
    assert_eq!(expand_lenient("$var ${var}", &[("var", "x")]), "$var x");
}

#[test]
fn strict_error_message_names_the_variable() {
    let error = expand("${missing}", &Variables::new(), true)
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some("variable not set (strict mode): \"missing\"")
    );
}

#[test]
fn malformed_expression_is_an_error() {
    assert_eq!(
        expand("${var", &Variables::new(), false),
        Err(SubstituteError::MissingClosingBrace)
    );
}

#[test]
fn negative_substring_length_is_an_error_instead_of_a_panic() {
    assert_eq!(
        expand("${v:1:-1}", &variables(&[("v", "abc")]), false),
        Err(SubstituteError::SubstringOutOfRange("v".into()))
    );
}

#[test]
fn newlines_are_removed_from_values() {
    let variables = variables(&[("multi", "a\nb\n")]);
    assert_eq!(variables.get("multi"), Some("ab"));
}

#[test]
fn later_sources_override_earlier_ones() {
    let mut variables = Variables::new();
    variables.extend([("a", "from-configmap"), ("b", "only-configmap")]);
    variables.extend([("a", "from-secret")]);
    variables.insert("a", "inline");
    assert_eq!(variables.get("a"), Some("inline"));
    assert_eq!(variables.get("b"), Some("only-configmap"));
    assert_eq!(variables.len(), 2);
}

#[test]
fn variable_names_must_match_flux_pattern() {
    for valid in ["a", "_a", "A_1", "cluster_env"] {
        assert_eq!(variables(&[(valid, "x")]).validate(), Ok(()), "{valid}");
    }
    for invalid in ["1a", "a-b", "a.b", "", "é"] {
        assert_eq!(
            variables(&[(invalid, "x")]).validate(),
            Err(SubstituteError::InvalidVariableName(invalid.into())),
            "{invalid:?}"
        );
    }
}

#[test]
fn invalid_variable_name_message_is_flux_message() {
    assert_eq!(
        SubstituteError::InvalidVariableName("a-b".into()).to_string(),
        "'a-b' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
    );
}

fn document(yaml: &str) -> Value {
    match parse_documents(yaml) {
        Ok(mut documents) if !documents.is_empty() => documents.remove(0),
        other => panic!("bad fixture: {other:?}"),
    }
}

#[test]
fn substituted_number_becomes_a_number() {
    let object = document(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: ${REPLICAS}\n",
    );
    let substituted = substitute_object(
        &object,
        &variables(&[("REPLICAS", "3")]),
        SubstituteOptions::default(),
    );
    let replicas = substituted
        .ok()
        .flatten()
        .and_then(|object| object.get_path(&["spec", "replicas"]).cloned());
    assert_eq!(replicas, Some(Value::Int(3)));
}

#[test]
fn object_with_disabled_annotation_is_left_alone() {
    let object = document(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  a: ${A}\n",
    );
    assert!(is_substitution_disabled(&object));
    assert_eq!(
        substitute_object(
            &object,
            &variables(&[("A", "x")]),
            SubstituteOptions::default()
        ),
        Ok(None)
    );
}

#[test]
fn nothing_runs_without_variables_unless_strategy_is_always() {
    let object = document(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-vars-always\n  labels:\n    environment: ${cluster_env:=dev}\ndata:\n  region: ${cluster_region:=eu-central-1}\n",
    );
    assert_eq!(
        substitute_object(&object, &Variables::new(), SubstituteOptions::default()),
        Ok(None)
    );
    let always = SubstituteOptions {
        always: true,
        ..SubstituteOptions::default()
    };
    let substituted = substitute_object(&object, &Variables::new(), always)
        .ok()
        .flatten()
        .map(|object| to_yaml(&object))
        .unwrap_or_default();
    assert!(!substituted.contains("${"), "{substituted}");
    assert!(substituted.contains("environment: dev"), "{substituted}");
    assert!(
        substituted.contains("region: eu-central-1"),
        "{substituted}"
    );
}

#[test]
fn strict_mode_fails_on_a_missing_variable_in_an_object() {
    let object = document(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-vars-strict\n  labels:\n    environment: ${cluster_env:=dev}\n    region: ${cluster_region}\ndata:\n  missing: ${missing}\n",
    );
    let variables = variables(&[("cluster_region", "eu-central-1")]);
    let strict = SubstituteOptions {
        strict: true,
        ..SubstituteOptions::default()
    };
    assert_eq!(
        substitute_object(&object, &variables, strict),
        Err(SubstituteError::VariableNotSet("missing".into()))
    );
    assert!(substitute_object(&object, &variables, SubstituteOptions::default()).is_ok());
}

#[test]
fn empty_values_render_as_null_in_strict_mode() {
    let object = document(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  from-inline: ${inline}\n",
    );
    let strict = SubstituteOptions {
        strict: true,
        ..SubstituteOptions::default()
    };
    let substituted = substitute_object(&object, &variables(&[("inline", "")]), strict)
        .ok()
        .flatten()
        .map(|object| to_yaml(&object))
        .unwrap_or_default();
    assert!(substituted.contains("from-inline: null"), "{substituted}");
}

#[test]
fn invalid_variable_name_fails_only_when_substitution_runs() {
    let object = document("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
    assert_eq!(
        substitute_object(
            &object,
            &variables(&[("bad-name", "x")]),
            SubstituteOptions::default()
        ),
        Err(SubstituteError::InvalidVariableName("bad-name".into()))
    );
}

/// fluxcd/pkg `kustomize/kustomize_varsub_test.go` `TestKustomization_Varsub`: the resources
/// of `testdata/resources`, the variables of `kustomization_varsub.yaml` and
/// `configmap.yaml`, and `kustomization_varsub_expected.yaml` as the expected output.
#[test]
fn manifests_substitute_like_the_flux_varsub_test() {
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
  labels:
    environment: ${cluster_env:=dev}
    region: ${cluster_region}
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      annotations:
        prometheus.io/scrape: ${prometheus_scrape:=false}
        prometheus.io/port: ${prometheus_port}
      labels:
        app: app
    spec:
      containers:
      - name: nginx
        image: ${image}
        imagePullPolicy: IfNotPresent
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
";
    let config = "apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    kustomize.toolkit.fluxcd.io/substitute: disabled
    environment: ${cluster_env:=dev}
    region: ${cluster_region}
  name: app-vars
  namespace: apps
data:
  prometheus_scrape: ${prometheus_scrape:=false}
  prometheus_port: ${prometheus_port}
  image: ${image}
";
    let expected = "apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    environment: prod
    region: eu-central-1
  name: app
  namespace: apps
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      annotations:
        prometheus.io/port: \"9797\"
        prometheus.io/scrape: \"true\"
      labels:
        app: app
    spec:
      containers:
      - image: nginx:1.21.4
        imagePullPolicy: IfNotPresent
        name: nginx
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
---
apiVersion: v1
data:
  image: ${image}
  prometheus_port: ${prometheus_port}
  prometheus_scrape: ${prometheus_scrape:=false}
kind: ConfigMap
metadata:
  labels:
    environment: ${cluster_env:=dev}
    kustomize.toolkit.fluxcd.io/substitute: disabled
    region: ${cluster_region}
  name: app-vars
  namespace: apps
";
    let built = format!(
        "{}---\n{}",
        to_yaml(&document(deployment)),
        to_yaml(&document(config))
    );
    let mut variables = Variables::new();
    variables.extend([
        ("prometheus_scrape", "\"true\""),
        ("prometheus_port", "\"9797\""),
        ("image", "nginx:1.21.4"),
    ]);
    variables.insert("cluster_env", "prod");
    variables.insert("cluster_region", "eu-central-1");
    let output = substitute_manifests(&built, &variables, SubstituteOptions::default());
    assert_eq!(output.as_deref(), Ok(expected));
}

#[test]
fn manifest_error_names_the_object_like_flux() {
    let built = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: ${missing}\n";
    let strict = SubstituteOptions {
        strict: true,
        ..SubstituteOptions::default()
    };
    let error = substitute_manifests(built, &variables(&[("x", "y")]), strict)
        .err()
        .map(|error| error.to_string());
    assert_eq!(
        error.as_deref(),
        Some(
            "post build failed for '~G_v1_ConfigMap/cfg': envsubst error: variable substitution failed: variable not set (strict mode): \"missing\""
        )
    );
}

//! End-to-end tests: documents in every format, data keys wrapped by the real `age` binary (the
//! oracle; skipped with a message when it is not installed) and by this crate's test helper.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::testing::{self, Settings};
use crate::{Error, Format, Identities, Options, decrypt, decrypt_value};

/// `age-keygen` output (identity text) and the recipient, from the real binary.
fn real_keygen() -> Option<(String, String)> {
    let output = Command::new("age-keygen").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let recipient = text
        .lines()
        .find_map(|line| line.strip_prefix("# public key: "))?
        .to_string();
    Some((text, recipient))
}

/// Wraps `data` for `recipients` with the real `age -a`.
fn real_age_encrypt(recipients: &[&str], data: &[u8]) -> Option<String> {
    let mut command = Command::new("age");
    command.arg("-a");
    for recipient in recipients {
        command.args(["-r", recipient]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(data).ok()?;
    let output = child.wait_with_output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).ok())
        .flatten()
}

fn age_binaries_present() -> bool {
    let present = Command::new("age").arg("--version").output().is_ok()
        && Command::new("age-keygen").arg("--version").output().is_ok();
    if !present {
        eprintln!(
            "skipping: the `age` and `age-keygen` binaries are not installed (apt-get install age)"
        );
    }
    present
}

fn identities(text: &str) -> Identities {
    let mut identities = Identities::new();
    if let Err(error) = identities.import(text) {
        panic!("identities: {error}");
    }
    identities
}

/// A data key wrapped by the real age binary for a fresh real identity.
struct RealKey {
    identity_text: String,
    data_key: [u8; 32],
    age_keys: Vec<(String, String)>,
}

fn real_key() -> Option<RealKey> {
    if !age_binaries_present() {
        return None;
    }
    let (identity_text, recipient) = real_keygen()?;
    let data_key = testing::random_data_key();
    let enc = real_age_encrypt(&[&recipient], &data_key)?;
    Some(RealKey {
        identity_text,
        data_key,
        age_keys: vec![(recipient, enc)],
    })
}

const YAML_PLAIN: &str = "\
apiVersion: v1
kind: Secret
metadata:
    name: app
stringData:
    password: s3cr3t-value
    port: 5432
    ratio: 0.25
    enabled: true
    list:
        - first-item
        - second-item
";

#[test]
fn a_yaml_document_wrapped_by_the_real_age_binary_decrypts_with_types_restored() {
    let Some(key) = real_key() else { return };
    let encrypted = testing::encrypt_bytes(
        YAML_PLAIN.as_bytes(),
        Format::Yaml,
        &key.data_key,
        &key.age_keys,
        &Settings::default(),
    );
    assert!(!String::from_utf8_lossy(&encrypted).contains("s3cr3t-value"));
    assert!(crate::has_marker(&encrypted, Format::Yaml));
    let ids = identities(&key.identity_text);
    let out = decrypt(
        &encrypted,
        Format::Yaml,
        Format::Yaml,
        &ids,
        Options::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(String::from_utf8_lossy(&out), YAML_PLAIN);
}

#[test]
fn json_dotenv_and_binary_documents_wrapped_by_the_real_age_binary_decrypt() {
    let Some(key) = real_key() else { return };
    let ids = identities(&key.identity_text);
    let cases: [(Format, &str, &str); 3] = [
        (
            Format::Json,
            "{\"user\": \"admin\", \"nested\": {\"token\": \"t0k3n\", \"n\": 3}}",
            "{\n\t\"user\": \"admin\",\n\t\"nested\": {\n\t\t\"token\": \"t0k3n\",\n\t\t\"n\": 3\n\t}\n}\n",
        ),
        (
            Format::Dotenv,
            "USER=admin\nTOKEN=multi\\nline\n",
            "USER=admin\nTOKEN=multi\\nline\n",
        ),
        (
            Format::Binary,
            "-----BEGIN KEY-----\nbinary payload\n",
            "-----BEGIN KEY-----\nbinary payload\n",
        ),
    ];
    for (format, plain, expected) in cases {
        let encrypted = testing::encrypt_bytes(
            plain.as_bytes(),
            format,
            &key.data_key,
            &key.age_keys,
            &Settings::default(),
        );
        assert_eq!(
            Format::detect(&encrypted).map(|f| f == Format::Json || f == format),
            Some(true),
            "{format:?} marker"
        );
        let out = decrypt(&encrypted, format, format, &ids, Options::default())
            .unwrap_or_else(|error| panic!("{format:?}: {error}"));
        assert_eq!(String::from_utf8_lossy(&out), expected, "{format:?}");
    }
}

#[test]
fn the_real_age_binary_decrypts_what_the_test_helper_encrypts() {
    if !age_binaries_present() {
        return;
    }
    let Some((identity_text, recipient)) = real_keygen() else {
        panic!("age-keygen failed")
    };
    let armored = testing::age_encrypt(&recipient, b"helper-wrapped");
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, &identity_text).unwrap_or_else(|error| panic!("{error}"));
    let mut child = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(armored.as_bytes())
            .unwrap_or_else(|error| panic!("{error}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(output.status.success(), "age -d failed");
    assert_eq!(output.stdout, b"helper-wrapped");
}

#[test]
fn the_second_recipient_of_a_real_age_file_is_found_among_several_identities() {
    if !age_binaries_present() {
        return;
    }
    let (Some((_, other)), Some((mine_text, mine))) = (real_keygen(), real_keygen()) else {
        panic!("age-keygen failed")
    };
    let Some(armored) = real_age_encrypt(&[&other, &mine], b"0123456789abcdef0123456789abcdef")
    else {
        panic!("age failed")
    };
    let (unrelated, _) = testing::generate_identity();
    let ids = identities(&format!("# unrelated\n{unrelated}\n\n{mine_text}"));
    assert_eq!(ids.len(), 2);
    let plain = crate::age::decrypt_armored(&armored, &ids).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plain, b"0123456789abcdef0123456789abcdef");
}

fn secret_document() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "type": "Opaque",
        "stringData": {"password": "hunter2-secret", "retries": 3}
    })
}

fn data_regex() -> Settings {
    Settings {
        encrypted_regex: Some("^(data|stringData)$".to_string()),
        mac_only_encrypted: false,
    }
}

#[test]
fn a_resource_decrypts_in_place_with_key_order_kept_and_metadata_removed() {
    let (identity, recipient) = testing::generate_identity();
    let mut document = testing::encrypt_value_for(&secret_document(), &recipient, &data_regex());
    assert!(crate::is_encrypted_document(&document));
    assert!(crate::is_encrypted_secret(&document));
    assert_eq!(document["metadata"]["name"], "db");
    decrypt_value(&mut document, &identities(&identity), Options::default())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(document, secret_document());
    let keys: Vec<&String> = document
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["apiVersion", "kind", "metadata", "type", "stringData"]
    );
    assert!(!crate::is_encrypted_document(&document));
}

#[test]
fn a_wrong_key_fails_clearly_and_leaves_the_document_untouched() {
    let (_, recipient) = testing::generate_identity();
    let (other_identity, _) = testing::generate_identity();
    let encrypted = testing::encrypt_value_for(&secret_document(), &recipient, &data_regex());
    let mut document = encrypted.clone();
    let error = decrypt_value(
        &mut document,
        &identities(&other_identity),
        Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot get sops data key: failed to decrypt the sops data key with age: no identity matched any of the recipients"
    );
    assert_eq!(document, encrypted);
    let error = decrypt_value(&mut document, &Identities::new(), Options::default()).unwrap_err();
    assert!(error.to_string().contains("no age identities"), "{error}");
}

#[test]
fn a_tampered_value_fails_authentication_without_leaking_plaintext() {
    let (identity, recipient) = testing::generate_identity();
    let mut document = testing::encrypt_value_for(&secret_document(), &recipient, &data_regex());
    // Moving a ciphertext to another path breaks its additional data.
    let password = document["stringData"]["password"].clone();
    document["stringData"]["retries"] = password;
    let error =
        decrypt_value(&mut document, &identities(&identity), Options::default()).unwrap_err();
    assert_eq!(
        error,
        Error::ValueAuthentication {
            path: "stringData:retries".to_string()
        }
    );
    assert!(!error.to_string().contains("hunter2"));
}

#[test]
fn a_changed_unencrypted_value_is_a_mac_mismatch_unless_the_check_is_off() {
    let (identity, recipient) = testing::generate_identity();
    let ids = identities(&identity);
    let mut document = testing::encrypt_value_for(&secret_document(), &recipient, &data_regex());
    document["metadata"]["name"] = json!("renamed");
    let mut checked = document.clone();
    assert_eq!(
        decrypt_value(&mut checked, &ids, Options::default()),
        Err(Error::MacMismatch)
    );
    decrypt_value(&mut document, &ids, Options { verify_mac: false })
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(document["stringData"]["password"], "hunter2-secret");
}

#[test]
fn with_mac_only_encrypted_unencrypted_values_may_change() {
    let (identity, recipient) = testing::generate_identity();
    let settings = Settings {
        mac_only_encrypted: true,
        ..data_regex()
    };
    let mut document = testing::encrypt_value_for(&secret_document(), &recipient, &settings);
    document["metadata"]["labels"] = json!({"added": "by-kustomize"});
    decrypt_value(&mut document, &identities(&identity), Options::default())
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(document["stringData"]["retries"], 3);
    // Removing an encrypted value still breaks the MAC.
    let mut document = testing::encrypt_value_for(&secret_document(), &recipient, &settings);
    if let Some(data) = document["stringData"].as_object_mut() {
        data.shift_remove("retries");
    }
    assert_eq!(
        decrypt_value(&mut document, &identities(&identity), Options::default()),
        Err(Error::MacMismatch)
    );
}

#[test]
fn the_default_rule_leaves_unencrypted_suffix_values_in_clear_and_in_the_mac() {
    let (identity, recipient) = testing::generate_identity();
    let plain = json!({"token": "abc", "note_unencrypted": "visible", "n": 1.5});
    let mut document = testing::encrypt_value_for(&plain, &recipient, &Settings::default());
    assert_eq!(document["note_unencrypted"], "visible");
    assert!(
        document["n"]
            .as_str()
            .is_some_and(|n| n.starts_with("ENC["))
    );
    let mut tampered = document.clone();
    tampered["note_unencrypted"] = json!("changed");
    let ids = identities(&identity);
    assert_eq!(
        decrypt_value(&mut tampered, &ids, Options::default()),
        Err(Error::MacMismatch)
    );
    decrypt_value(&mut document, &ids, Options::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(document, plain);
}

#[test]
fn multi_document_yaml_decrypts_every_document() {
    let (identity, recipient) = testing::generate_identity();
    let key = testing::random_data_key();
    let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
    let plain = "a: one\n---\nb: two\n";
    let encrypted = testing::encrypt_bytes(
        plain.as_bytes(),
        Format::Yaml,
        &key,
        &age_keys,
        &Settings::default(),
    );
    let out = decrypt(
        &encrypted,
        Format::Yaml,
        Format::Yaml,
        &identities(&identity),
        Options::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(String::from_utf8_lossy(&out), plain);
}

#[test]
fn a_json_document_can_be_written_out_as_yaml_or_binary() {
    let (identity, recipient) = testing::generate_identity();
    let key = testing::random_data_key();
    let age_keys = [(recipient.clone(), testing::age_encrypt(&recipient, &key))];
    let ids = identities(&identity);
    let encrypted = testing::encrypt_bytes(
        b"{\"data\": \"raw\"}",
        Format::Json,
        &key,
        &age_keys,
        &Settings::default(),
    );
    let yaml = decrypt(
        &encrypted,
        Format::Json,
        Format::Yaml,
        &ids,
        Options::default(),
    );
    assert_eq!(
        yaml.as_deref().map(String::from_utf8_lossy),
        Ok("data: raw\n".into())
    );
    let binary = decrypt(
        &encrypted,
        Format::Json,
        Format::Binary,
        &ids,
        Options::default(),
    );
    assert_eq!(binary, Ok(b"raw".to_vec()));
}

#[test]
fn documents_without_metadata_or_over_the_size_bound_are_refused() {
    let ids = Identities::new();
    assert_eq!(
        decrypt(
            b"a: b\n",
            Format::Yaml,
            Format::Yaml,
            &ids,
            Options::default()
        ),
        Err(Error::MetadataNotFound)
    );
    assert_eq!(
        decrypt(
            b"A=b\n",
            Format::Dotenv,
            Format::Dotenv,
            &ids,
            Options::default()
        ),
        Err(Error::MetadataNotFound)
    );
    let huge = vec![b' '; crate::MAX_DOCUMENT_SIZE + 1];
    assert!(matches!(
        decrypt(&huge, Format::Json, Format::Json, &ids, Options::default()),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        decrypt(
            b"[sops]\n",
            Format::Ini,
            Format::Ini,
            &ids,
            Options::default()
        ),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn shamir_key_groups_decrypt_with_enough_identities_and_fail_clearly_without() {
    let (first, first_recipient) = testing::generate_identity();
    let (second, second_recipient) = testing::generate_identity();
    let (_, third_recipient) = testing::generate_identity();
    let recipients = [first_recipient, second_recipient, third_recipient];
    let encrypted =
        testing::encrypt_value_with_key_groups(&secret_document(), &recipients, 2, &data_regex());
    let mut document = encrypted.clone();
    decrypt_value(
        &mut document,
        &identities(&format!("{first}\n{second}")),
        Options::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(document, secret_document());
    let mut document = encrypted;
    let error = decrypt_value(&mut document, &identities(&first), Options::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot get sops data key: decrypted 1 of the 2 key groups needed"),
        "{error}"
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let ids = Identities::new();
    // A dotenv metadata key nesting four hundred thousand levels deep, within the size bound.
    let mut dotenv = String::from("sops_mac=ENC[AES256_GCM,data:x,iv:x,tag:x,type:str]\nsops_a");
    dotenv.push_str(&"__map_a".repeat(400_000));
    dotenv.push_str("=x\n");
    assert!(dotenv.len() < crate::MAX_DOCUMENT_SIZE);
    let error = decrypt(
        dotenv.as_bytes(),
        Format::Dotenv,
        Format::Dotenv,
        &ids,
        Options::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("nests deeper"), "{error}");
    // Deeply nested YAML and JSON sequences are refused by their parsers' depth limits.
    let depth = 100_000;
    let yaml = format!(
        "sops:\n  mac: ENC[AES256_GCM,data:x,iv:x,tag:x,type:str]\na: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(
        decrypt(
            yaml.as_bytes(),
            Format::Yaml,
            Format::Yaml,
            &ids,
            Options::default()
        )
        .is_err()
    );
    let json = format!(
        "{{\"sops\": {{\"mac\": \"x\"}}, \"a\": {}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    assert!(
        decrypt(
            json.as_bytes(),
            Format::Json,
            Format::Json,
            &ids,
            Options::default()
        )
        .is_err()
    );
}

//! Sprig's crypto: `genPrivateKey`, `genCA`, `genSelfSignedCert`, `genSignedCert`,
//! `htpasswd`, `derivePassword`. Keys are RSA like Sprig's (2048 bits for certificates,
//! 4096 for `genPrivateKey "rsa"`), certificates carry the same usages and lifetimes.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use eddy_gotemplate::{FunctionMap, Map, Value};
use rand::Rng as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};

use super::convert::{strval, to_int};
use super::{Result, expect_count, register};

/// A certificate and its key, as Sprig returns them (`.Cert`, `.Key`).
struct Certificate {
    cert: String,
    key: String,
    /// For CAs made by `genCA`: what `genSignedCert` needs to sign with it.
    issuer: Option<rcgen::CertificateParams>,
}

impl eddy_gotemplate::Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::from(self.cert.as_str())),
            "Key" => Some(Value::from(self.key.as_str())),
            _ => None,
        }
    }

    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    /// Sprig returns `certificate` values, not pointers.
    fn kind_name(&self) -> &'static str {
        "struct"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_data(&self) -> Value {
        let mut map = Map::new();
        map.insert("Cert".into(), Value::from(self.cert.as_str()));
        map.insert("Key".into(), Value::from(self.key.as_str()));
        Value::from(map)
    }
}

struct Generated {
    pkcs1_pem: String,
    key_pair: rcgen::KeyPair,
}

fn rsa_key(bits: usize) -> Result<Generated> {
    let key = super::rsa_keygen::generate(bits)?;
    let pkcs1_pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|error| error.to_string())?
        .to_string();
    let pkcs8_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| error.to_string())?;
    let key_pair = rcgen::KeyPair::from_pem_and_sign_algo(&pkcs8_pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(|error| error.to_string())?;
    Ok(Generated {
        pkcs1_pem,
        key_pair,
    })
}

fn params(
    common_name: &str,
    ips: &[Value],
    dns_names: &[Value],
    days: i64,
    is_ca: bool,
) -> Result<rcgen::CertificateParams> {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let now = crate::time::Time::now();
    let now = crate::time::Time::utc(now.seconds, 0);
    let later = crate::time::Time::utc(now.seconds + days.clamp(0, 3_000_000) * 86_400, 0);
    let (year, month, day) = civil_date(now);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let (year, month, day) = civil_date(later);
    params.not_after = rcgen::date_time_ymd(year, month, day);
    let serial: [u8; 16] = rand::rng().random();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    if is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
    }
    for ip in ips {
        let text = strval(ip);
        let address: IpAddr = text
            .parse()
            .map_err(|_| format!("error parsing ip: {text}"))?;
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(address));
    }
    for name in dns_names {
        let text = strval(name);
        let name =
            rcgen::string::Ia5String::try_from(text.as_str()).map_err(|error| error.to_string())?;
        params.subject_alt_names.push(rcgen::SanType::DnsName(name));
    }
    Ok(params)
}

fn civil_date(time: crate::time::Time) -> (i32, u8, u8) {
    let text = time.format("2006 1 2");
    let mut parts = text.split(' ').map(|part| part.parse::<i64>().unwrap_or(1));
    let year = parts.next().unwrap_or(1970).clamp(1970, 9999) as i32;
    let month = parts.next().unwrap_or(1).clamp(1, 12) as u8;
    let day = parts.next().unwrap_or(1).clamp(1, 31) as u8;
    (year, month, day)
}

fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::List(items)) => items.to_vec(),
        _ => Vec::new(),
    }
}

fn certificate(cert: String, key: String, issuer: Option<rcgen::CertificateParams>) -> Value {
    Value::Object(Arc::new(Certificate { cert, key, issuer }))
}

fn field(value: &Value, name: &str) -> String {
    match value {
        Value::Object(object) => object
            .field(name)
            .map(|value| strval(&value))
            .unwrap_or_default(),
        Value::Map(map) => map
            .get(name)
            .map(|value| strval(&value))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

pub(crate) fn register_all(map: &mut FunctionMap) {
    register(map, "genPrivateKey", |_, args| {
        expect_count(args, "genPrivateKey", 1)?;
        match strval(&args[0]).as_str() {
            "rsa" => Ok(Value::from(rsa_key(4096)?.pkcs1_pem)),
            "ecdsa" => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|error| error.to_string())?;
                // Sprig writes ECDSA keys as SEC1 `EC PRIVATE KEY` blocks.
                let sec1 = p256_pkcs8_to_sec1(&pair.serialize_der())
                    .ok_or_else(|| "error generating ecdsa key".to_string())?;
                Ok(Value::from(pem_text("EC PRIVATE KEY", &sec1)))
            }
            "ed25519" => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .map_err(|error| error.to_string())?;
                Ok(Value::from(pair.serialize_pem()))
            }
            other => Ok(Value::from(format!("Unknown type {other}"))),
        }
    });
    register(map, "genCA", |_, args| {
        expect_count(args, "genCA", 2)?;
        make_ca(args, rsa_key(2048)?.into())
    });
    register(map, "genCAWithKey", |_, args| {
        expect_count(args, "genCAWithKey", 3)?;
        make_ca(args, supplied_key(&args[2])?)
    });
    register(map, "genSelfSignedCert", |_, args| {
        expect_count(args, "genSelfSignedCert", 4)?;
        make_self_signed(args, rsa_key(2048)?.into())
    });
    register(map, "genSelfSignedCertWithKey", |_, args| {
        expect_count(args, "genSelfSignedCertWithKey", 5)?;
        make_self_signed(args, supplied_key(&args[4])?)
    });
    register(map, "genSignedCert", |_, args| {
        expect_count(args, "genSignedCert", 5)?;
        make_signed(args, || Ok(rsa_key(2048)?.into()))
    });
    register(map, "genSignedCertWithKey", |_, args| {
        expect_count(args, "genSignedCertWithKey", 6)?;
        make_signed(args, || supplied_key(&args[5]))
    });
    register(map, "buildCustomCert", |_, args| {
        expect_count(args, "buildCustomCert", 2)?;
        let decode = |value: &Value, what: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(strval(value))
                .map_err(|_| format!("unable to decode base64 {what}"))
        };
        let cert = decode(&args[0], "certificate")?;
        let key = decode(&args[1], "private key")?;
        let cert = String::from_utf8_lossy(&cert).to_string();
        let key = String::from_utf8_lossy(&key).to_string();
        let Some(block) = pem_block(&cert) else {
            return Err("unable to decode certificate".to_string());
        };
        if block.0 != "CERTIFICATE" && !block.0.ends_with("CERTIFICATE") {
            return Err(
                "error parsing certificate: decodedCert.Bytes: x509: malformed certificate"
                    .to_string(),
            );
        }
        parse_private_key(&key).map_err(|error| format!("error parsing private key: {error}"))?;
        Ok(certificate(cert, key, None))
    });
    register(map, "htpasswd", |_, args| {
        if args.len() < 2 {
            return Err(format!(
                "wrong number of args for htpasswd: want 2 got {}",
                args.len()
            ));
        }
        let (user, password) = (strval(&args[0]), strval(&args[1]));
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        let hash = bcrypt::hash(password, super::cipher::GO_BCRYPT_COST)
            .map_err(|error| error.to_string())?;
        // Go's bcrypt writes the `$2a$` variant.
        let hash = hash.replacen("$2b$", "$2a$", 1);
        Ok(Value::from(format!("{user}:{hash}")))
    });
}

/// The CA parameters kept by `genCA` (a CA rebuilt from PEM text cannot sign here).
fn issuer_params(value: &Value) -> Option<rcgen::CertificateParams> {
    let Value::Object(object) = value else {
        return None;
    };
    let certificate = object.as_any()?.downcast_ref::<Certificate>()?;
    certificate.issuer.clone()
}

/// A key to certify with: the signing key pair and the PEM text Sprig returns as `.Key`.
struct SigningKey {
    key_pair: rcgen::KeyPair,
    pem: String,
}

impl From<Generated> for SigningKey {
    fn from(generated: Generated) -> Self {
        SigningKey {
            key_pair: generated.key_pair,
            pem: generated.pkcs1_pem,
        }
    }
}

fn supplied_key(value: &Value) -> Result<SigningKey> {
    parse_private_key(&strval(value)).map_err(|error| format!("parsing private key: {error}"))
}

fn make_ca(args: &[Value], key: SigningKey) -> Result<Value> {
    let params = params(&strval(&args[0]), &[], &[], to_int(&args[1]), true)?;
    let cert = params
        .self_signed(&key.key_pair)
        .map_err(|error| format!("error generating certificate: {error}"))?;
    Ok(certificate(cert.pem(), key.pem, Some(params)))
}

fn make_self_signed(args: &[Value], key: SigningKey) -> Result<Value> {
    let params = params(
        &strval(&args[0]),
        &list(args.get(1)),
        &list(args.get(2)),
        to_int(&args[3]),
        false,
    )?;
    let cert = params
        .self_signed(&key.key_pair)
        .map_err(|error| format!("error generating certificate: {error}"))?;
    Ok(certificate(cert.pem(), key.pem, None))
}

fn make_signed(args: &[Value], key: impl FnOnce() -> Result<SigningKey>) -> Result<Value> {
    let ca_key = parse_private_key(&field(&args[4], "Key"))
        .map_err(|error| format!("error parsing private key: {error}"))?;
    let Some(ca_params) = issuer_params(&args[4]) else {
        return Err(
            "error parsing CA: only certificates made by genCA or genCAWithKey can sign"
                .to_string(),
        );
    };
    let issuer = rcgen::Issuer::new(ca_params, ca_key.key_pair);
    let key = key()?;
    let params = params(
        &strval(&args[0]),
        &list(args.get(1)),
        &list(args.get(2)),
        to_int(&args[3]),
        false,
    )?;
    let cert = params
        .signed_by(&key.key_pair, &issuer)
        .map_err(|error| format!("error generating certificate: {error}"))?;
    Ok(certificate(cert.pem(), key.pem, None))
}

/// The first PEM block of `text`: its type and decoded bytes (Go's `pem.Decode`).
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let type_end = rest.find("-----")?;
    let kind = rest[..type_end].to_string();
    let body_start = &rest[type_end + 5..];
    let end_marker = format!("-----END {kind}-----");
    let body_end = body_start.find(&end_marker)?;
    let body: String = body_start[..body_end]
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((kind, bytes))
}

fn pem_text(kind: &str, bytes: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// Sprig's `parsePrivateKeyPEM`: PKCS#1 RSA, or PKCS#8 (RSA, ECDSA, Ed25519). `.Key` is
/// re-encoded as Sprig's `pemBlockForKey` does (RSA as PKCS#1). SEC1 `EC PRIVATE KEY`
/// blocks are not supported (ring signs only with PKCS#8 keys).
fn parse_private_key(text: &str) -> Result<SigningKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let Some((kind, bytes)) = pem_block(text) else {
        return Err("no PEM data in input".to_string());
    };
    let rsa_key = match kind.as_str() {
        "PRIVATE KEY" => match rsa::RsaPrivateKey::from_pkcs8_der(&bytes) {
            Ok(key) => Some(key),
            Err(_) => {
                let key_pair = rcgen::KeyPair::try_from(bytes.as_slice())
                    .map_err(|error| format!("decoding PEM as PKCS#8: {error}"))?;
                // ECDSA keys come back as SEC1, like Go's `pemBlockForKey`.
                let pem = match p256_pkcs8_to_sec1(&bytes) {
                    Some(sec1) => pem_text("EC PRIVATE KEY", &sec1),
                    None => pem_text("PRIVATE KEY", &bytes),
                };
                return Ok(SigningKey { key_pair, pem });
            }
        },
        "RSA PRIVATE KEY" => Some(
            rsa::RsaPrivateKey::from_pkcs1_der(&bytes)
                .map_err(|error| format!("parsing RSA private key from PEM: {error}"))?,
        ),
        "EC PRIVATE KEY" => {
            let pkcs8 = p256_sec1_to_pkcs8(&bytes).ok_or_else(|| {
                "parsing EC private key from PEM: only P-256 keys are supported".to_string()
            })?;
            let key_pair = rcgen::KeyPair::try_from(pkcs8.as_slice())
                .map_err(|error| format!("parsing EC private key from PEM: {error}"))?;
            let sec1 = p256_pkcs8_to_sec1(&pkcs8).unwrap_or(bytes);
            return Ok(SigningKey {
                key_pair,
                pem: pem_text("EC PRIVATE KEY", &sec1),
            });
        }
        other if !other.ends_with(" PRIVATE KEY") => {
            return Err(format!("no private key data in PEM block of type {other}"));
        }
        other => {
            return Err(format!(
                "invalid private key type {}",
                other.trim_end_matches(" PRIVATE KEY")
            ));
        }
    };
    let Some(key) = rsa_key else {
        return Err("no PEM data in input".to_string());
    };
    let pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|error| error.to_string())?
        .to_string();
    let pkcs8 = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| error.to_string())?;
    let key_pair = rcgen::KeyPair::from_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|error| error.to_string())?;
    Ok(SigningKey { key_pair, pem })
}

/// DER of the P-256 curve's object identifier (1.2.840.10045.3.1.7).
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of id-ecPublicKey (1.2.840.10045.2.1).
const EC_PUBLIC_KEY_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|index| index + needle.len())
}

/// The private scalar and uncompressed public point of a P-256 key in SEC1 or PKCS#8 DER.
fn p256_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let private_start = find(der, &[0x02, 0x01, 0x01, 0x04, 0x20])?;
    let private = der.get(private_start..private_start + 32)?;
    let public_start = find(der, &[0x03, 0x42, 0x00, 0x04])? - 1;
    let public = der.get(public_start..public_start + 65)?;
    Some((private, public))
}

/// Go's `x509.MarshalECPrivateKey` layout: version, key, `[0]` curve, `[1]` public key.
fn p256_pkcs8_to_sec1(pkcs8: &[u8]) -> Option<Vec<u8>> {
    find(pkcs8, &P256_OID)?;
    let (private, public) = p256_parts(pkcs8)?;
    let mut out = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    out.extend_from_slice(private);
    out.extend_from_slice(&[0xa0, 0x0a]);
    out.extend_from_slice(&P256_OID);
    out.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    out.extend_from_slice(public);
    Some(out)
}

/// The PKCS#8 document ring reads for a SEC1 P-256 key.
fn p256_sec1_to_pkcs8(sec1: &[u8]) -> Option<Vec<u8>> {
    let (private, public) = p256_parts(sec1)?;
    let mut out = vec![0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13];
    out.extend_from_slice(&EC_PUBLIC_KEY_OID);
    out.extend_from_slice(&P256_OID);
    out.extend_from_slice(&[0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20]);
    out.extend_from_slice(private);
    out.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
    out.extend_from_slice(public);
    Some(out)
}

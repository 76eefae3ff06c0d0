//! Sprig's crypto: `genPrivateKey`, `genCA`, `genSelfSignedCert`, `genSignedCert`,
//! `htpasswd`, `derivePassword`. Keys are RSA like Sprig's (2048 bits for certificates,
//! 4096 for `genPrivateKey "rsa"`), certificates carry the same usages and lifetimes.

use std::net::IpAddr;
use std::sync::Arc;

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
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, bits)
        .map_err(|error| format!("error generating RSA key: {error}"))?;
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
    let later = crate::time::Time {
        seconds: now.seconds + days.max(0) * 86_400,
        nanos: 0,
    };
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
    let day = parts.next().unwrap_or(1).clamp(1, 28) as u8;
    (year, month, day.min(28))
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
                Ok(Value::from(pair.serialize_pem()))
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
        let key = rsa_key(2048)?;
        let params = params(&strval(&args[0]), &[], &[], to_int(&args[1]), true)?;
        let cert = params
            .self_signed(&key.key_pair)
            .map_err(|error| format!("error generating certificate: {error}"))?;
        Ok(certificate(cert.pem(), key.pkcs1_pem, Some(params)))
    });
    register(map, "genSelfSignedCert", |_, args| {
        expect_count(args, "genSelfSignedCert", 4)?;
        let key = rsa_key(2048)?;
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
        Ok(certificate(cert.pem(), key.pkcs1_pem, None))
    });
    register(map, "genSignedCert", |_, args| {
        expect_count(args, "genSignedCert", 5)?;
        let ca_key_pem = field(&args[4], "Key");
        let ca_key = rsa_pkcs1_to_key_pair(&ca_key_pem)?;
        let Some(ca_params) = issuer_params(&args[4]) else {
            return Err("error parsing CA: only certificates made by genCA can sign".to_string());
        };
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rsa_key(2048)?;
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
        Ok(certificate(cert.pem(), key.pkcs1_pem, None))
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
            return Ok(Value::from("invalid user name"));
        }
        let hash =
            bcrypt::hash(password, bcrypt::DEFAULT_COST).map_err(|error| error.to_string())?;
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

fn rsa_pkcs1_to_key_pair(pem: &str) -> Result<rcgen::KeyPair> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
        .map_err(|error| format!("error parsing CA key: {error}"))?;
    let pkcs8 = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| error.to_string())?;
    rcgen::KeyPair::from_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
        .map_err(|error| error.to_string())
}

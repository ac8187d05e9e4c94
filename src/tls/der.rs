//! Just enough DER to read a certificate's `notAfter` (RFC 5280 §4.1): the expiry `check`
//! warns about. rustls checks keys but exposes no validity dates, and a whole X.509 parser
//! would be a dependency for one field.

/// One DER element: its tag, its contents and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// The DER of the OID 2.5.4.3, an X.500 `commonName`.
const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The fields of a certificate's `tbsCertificate` from `serialNumber` on (the optional
/// version skipped); `None` when the DER is not a certificate.
fn tbs_fields(cert: &[u8]) -> Option<&[u8]> {
    let (SEQUENCE, certificate, _) = element(cert)? else { return None };
    let (SEQUENCE, tbs, _) = element(certificate)? else { return None };
    let (tag, _, after) = element(tbs)?;
    Some(if tag == VERSION { after } else { tbs })
}

/// The certificate's `notAfter` as Unix seconds; `None` when the DER is not a certificate.
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let mut rest = tbs_fields(cert)?;
    // serialNumber, signature, issuer, then validity.
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else { return None };
    let (_, after) = element(validity).map(|(_, _, r)| ((), r))?;
    let (tag, time, _) = element(after)?;
    time_of(tag, std::str::from_utf8(time).ok()?)
}

/// The issuer's common name (or `None` when the issuer has none or the DER is not a
/// certificate): what the admin endpoint shows as the certificate's issuer.
pub fn issuer(cert: &[u8]) -> Option<String> {
    let mut rest = tbs_fields(cert)?;
    // serialNumber, signature, then issuer: a SEQUENCE of SETs of (OID, value).
    for _ in 0..2 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, mut names, _) = element(rest)? else { return None };
    while !names.is_empty() {
        let (SET, set, next) = element(names)? else { return None };
        names = next;
        let (SEQUENCE, pair, _) = element(set)? else { continue };
        let (_, oid, value) = element(pair)?;
        if oid == COMMON_NAME {
            let (_, text, _) = element(value)?;
            return std::str::from_utf8(text).ok().map(str::to_string);
        }
    }
    None
}

/// `YYMMDDHHMMSSZ` (UTCTime, 1950–2049) or `YYYYMMDDHHMMSSZ` (GeneralizedTime).
fn time_of(tag: u8, text: &str) -> Option<i64> {
    let digits = text.strip_suffix('Z')?;
    let full = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            format!("{}{digits}", if yy < 50 { "20" } else { "19" })
        }
        (GENERALIZED_TIME, 14) => digits.to_string(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time_of(UTC_TIME, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(time_of(UTC_TIME, "500101000000Z"), Some(-631_152_000));
        assert_eq!(time_of(GENERALIZED_TIME, "20300101000000Z"), Some(1_893_456_000));
        for bad in ["2030010100000Z", "491231235959", "4912312359xxZ"] {
            assert_eq!(time_of(UTC_TIME, bad), None, "{bad}");
        }
    }

    #[test]
    fn not_a_certificate() {
        assert_eq!(issuer(b""), None);
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None);
        assert_eq!(not_after(&[0x30, 0x00]), None);
    }
}

//! Signed unsubscribe tokens (customer and channel, HMAC-SHA256 with the engine's secret) and
//! the secret itself; the restraint rules build their links from these.

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn signature(secret: &str, customer_id: &str, channel: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(customer_id.as_bytes());
    mac.update(b"\n");
    mac.update(channel.as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A token naming a customer and a channel, signed with the engine's secret.
pub fn unsubscribe_token(secret: &str, customer_id: &str, channel: &str) -> String {
    format!(
        "{}.{}.{}",
        hex(customer_id.as_bytes()),
        hex(channel.as_bytes()),
        signature(secret, customer_id, channel)
    )
}

/// The customer and channel of a token, if its signature is right.
pub fn verify_token(secret: &str, token: &str) -> Option<(String, String)> {
    let mut parts = token.split('.');
    let (customer, channel, sig) = (unhex(parts.next()?)?, unhex(parts.next()?)?, parts.next()?);
    let expected = signature(secret, &customer, &channel);
    (parts.next().is_none() && constant_time_eq(&expected, sig)).then_some((customer, channel))
}

/// Whether two secrets or signatures are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A fresh random secret for signing links.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

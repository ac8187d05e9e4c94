//! Sending a letter (`letter::Letter`) over SMTP: one connection per attempt, with the target's
//! TLS mode, credentials and timeout, on the target's own delivery thread.
//!
//! Owns the transport's settings and what an SMTP failure means: a 4xx reply, a timeout, a
//! connection or TLS failure is tried again with the outbox's backoff; a 5xx reply ends the
//! delivery (the server said no for good). The password goes to the server only, never into a
//! log line (`MailSettings`'s `Debug` withholds it, and lettre's errors do not carry it).

use super::deliver::Verdict;
use super::letter::Letter;
use crate::config::mail::{MailSettings, MailTls};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, SmtpTransport, Transport};
use std::time::Duration;

/// One attempt at `body` (a `Letter` as JSON); its verdict and, for the log, what happened.
pub fn send(mail: &MailSettings, timeout: Duration, body: &str) -> (Verdict, String) {
    let letter: Letter = match serde_json::from_str(body) {
        Ok(l) => l,
        Err(e) => return (Verdict::Refused, format!("the outbox holds no letter: {e}")),
    };
    let envelope = match envelope(&letter) {
        Ok(e) => e,
        Err(e) => return (Verdict::Refused, e),
    };
    let transport = match transport(mail, timeout) {
        Ok(t) => t,
        Err(e) => return (classify(&e), e.to_string()),
    };
    match transport.send_raw(&envelope, letter.message.as_bytes()) {
        Ok(response) => (Verdict::Done, format!("SMTP {}", response.code())),
        Err(e) => (classify(&e), e.to_string()),
    }
}

fn envelope(letter: &Letter) -> Result<Envelope, String> {
    let from: Address = letter.from.parse().map_err(|e| format!("from {:?}: {e}", letter.from))?;
    let to: Vec<Address> = letter.to.iter().filter_map(|a| a.parse().ok()).collect();
    Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

fn transport(mail: &MailSettings, timeout: Duration) -> Result<SmtpTransport, lettre::transport::smtp::Error> {
    // The public roots (webpki-roots), and the target's own `ca` when it has one.
    let tls = |host: &str| {
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(pem) = &mail.ca {
            params = params.add_root_certificate(Certificate::from_pem(pem)?);
        }
        params.build_rustls()
    };
    let builder = match mail.tls {
        MailTls::StartTls => SmtpTransport::builder_dangerous(&mail.host).tls(Tls::Required(tls(&mail.host)?)),
        MailTls::Implicit => SmtpTransport::builder_dangerous(&mail.host).tls(Tls::Wrapper(tls(&mail.host)?)),
        MailTls::None => SmtpTransport::builder_dangerous(&mail.host),
    };
    let mut builder = builder.port(mail.port).timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&mail.user, &mail.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// A permanent (5xx) reply refuses the letter for good; anything else may pass later.
fn classify(e: &lettre::transport::smtp::Error) -> Verdict {
    if e.is_permanent() {
        Verdict::Refused
    } else {
        Verdict::Retry(None)
    }
}

//! The words of notification mails (`pages/mail.txt`, `pages/mail.html`), per language.
//!
//! Owns the labels and the footer sentence; the templates only arrange them, and operators
//! override the templates like pages. The sentence a mail tells and its headline are the
//! notification's (`notify::payload`), shared with the chat targets.

use crate::config::Language;
use serde::Serialize;

/// Labels of one language.
#[derive(Debug, Serialize)]
pub struct MailWords {
    pub title: &'static str,
    pub reason: &'static str,
    pub start: &'static str,
    pub end: &'static str,
    pub unsubscribe: &'static str,
    /// Why a subscriber gets the mail; `{tenant}` is the tenant's name.
    pub why: &'static str,
}

const DE: MailWords = MailWords {
    title: "Wartung",
    reason: "Grund",
    start: "Beginn",
    end: "Ende",
    unsubscribe: "Abmelden",
    why: "Sie erhalten diese E-Mail, weil Sie Benachrichtigungen zu {tenant} abonniert haben.",
};

const EN: MailWords = MailWords {
    title: "Maintenance",
    reason: "Reason",
    start: "Start",
    end: "End",
    unsubscribe: "Unsubscribe",
    why: "You receive this e-mail because you subscribed to notifications about {tenant}.",
};

const NB: MailWords = MailWords {
    title: "Vedlikehold",
    reason: "Årsak",
    start: "Start",
    end: "Slutt",
    unsubscribe: "Meld av",
    why: "Du mottar denne e-posten fordi du abonnerer på varsler om {tenant}.",
};

pub fn mail_words(lang: Language) -> &'static MailWords {
    match lang {
        Language::De => &DE,
        Language::En => &EN,
        Language::Nb => &NB,
    }
}

//! The ACME exchanges of one order, through instant-acme: the account (read from storage, or
//! created once and stored), then for one name: order → HTTP-01 token published in
//! [`Challenges`] → ready → finalize with a new P-256 key → the chain. Every wait is bounded.

use super::challenge::Challenges;
use super::storage::Storage;
use crate::config::acme::AcmeSettings;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use std::time::Duration;

/// The longest a whole order may take; the CA is asked again later (with back-off).
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an order failed, said for the log and the admin endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderError {
    pub message: String,
    /// `Some`: the CA's rate limit was hit (with the time it ends, when it said one).
    pub rate_limited: Option<Option<i64>>,
}

impl OrderError {
    fn new(message: impl Into<String>) -> OrderError {
        OrderError { message: message.into(), rate_limited: None }
    }
}

/// What instant-acme's error means to an operator.
fn explain(context: &str, e: instant_acme::Error) -> OrderError {
    match e {
        instant_acme::Error::Api(p) => {
            let kind = p.r#type.as_deref().unwrap_or("");
            let detail = p.detail.as_deref().unwrap_or("");
            let limited = kind.ends_with(":rateLimited") || p.status == Some(429);
            let kind = kind.rsplit(':').next().unwrap_or(kind);
            OrderError {
                message: format!("{context}: the CA refused ({kind}): {detail}"),
                rate_limited: limited.then(|| super::renew::retry_after_in(detail)),
            }
        }
        instant_acme::Error::Timeout(_) => OrderError::new(format!("{context}: the CA did not finish in time")),
        other => OrderError::new(format!("{context}: {other}")),
    }
}

/// The account for `settings`' directory: the stored one, or a new one (then stored).
pub async fn account(settings: &AcmeSettings, storage: &Storage) -> Result<Account, OrderError> {
    let builder = || match &settings.ca_roots {
        Some(roots) => Account::builder_with_root(roots).map_err(|e| explain("ca_roots", e)),
        None => Account::builder().map_err(|e| explain("the system's roots", e)),
    };
    if let Some(stored) = storage.account(&settings.directory).map_err(OrderError::new)? {
        let credentials: AccountCredentials =
            serde_json::from_value(stored).map_err(|e| OrderError::new(format!("the stored account: {e}")))?;
        return builder()?.from_credentials(credentials).await.map_err(|e| explain("the stored account", e));
    }
    let contact = settings.email.as_ref().map(|e| format!("mailto:{e}"));
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
    let (account, credentials) = builder()?
        .create(&new, settings.directory.clone(), None)
        .await
        .map_err(|e| explain(&format!("new account at {}", settings.directory), e))?;
    let value = serde_json::to_value(&credentials).map_err(|e| OrderError::new(format!("account: {e}")))?;
    storage.save_account(&settings.directory, value).map_err(OrderError::new)?;
    log::info!("acme: account created at {} ({})", settings.directory, account.id());
    Ok(account)
}

/// Orders a certificate for `name`: (chain PEM, key PEM). The tokens it publishes are removed
/// again whatever the outcome.
pub async fn order(account: &Account, name: &str, challenges: &Challenges) -> Result<(String, String), OrderError> {
    let mut published = Vec::new();
    let result = tokio::time::timeout(ORDER_TIMEOUT, order_inner(account, name, challenges, &mut published)).await;
    for token in &published {
        challenges.remove(token);
    }
    result.unwrap_or_else(|_| Err(OrderError::new(format!("order for {name}: not done within {ORDER_TIMEOUT:?}"))))
}

async fn order_inner(
    account: &Account,
    name: &str,
    challenges: &Challenges,
    published: &mut Vec<String>,
) -> Result<(String, String), OrderError> {
    let context = format!("order for {name}");
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await.map_err(|e| explain(&context, e))?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| explain(&context, e))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(OrderError::new(format!("{context}: authorization is {other:?}"))),
        }
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .ok_or_else(|| OrderError::new(format!("{context}: the CA offers no http-01 challenge")))?;
        let key_authorization = challenge.key_authorization();
        challenges.insert(&challenge.token, key_authorization.as_str());
        published.push(challenge.token.clone());
        challenge.set_ready().await.map_err(|e| explain(&context, e))?;
    }
    let retries = RetryPolicy::new().initial_delay(Duration::from_millis(250)).timeout(Duration::from_secs(60));
    let status = order.poll_ready(&retries).await.map_err(|e| explain(&context, e))?;
    if status != OrderStatus::Ready {
        // The order's problem says why (e.g. the CA could not reach the challenge).
        let why = order
            .state()
            .error
            .as_ref()
            .map(|p| p.detail.as_deref().unwrap_or("no detail").to_string())
            .unwrap_or_else(|| format!("order is {status:?}"));
        return Err(OrderError::new(format!("{context}: validation failed: {why}")));
    }
    let key_pem = order.finalize().await.map_err(|e| explain(&context, e))?;
    let chain_pem = order.poll_certificate(&retries).await.map_err(|e| explain(&context, e))?;
    Ok((chain_pem, key_pem))
}

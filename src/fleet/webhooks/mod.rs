//! Webhooks (issue 25): telling someone when a runner changes state, as
//! Standard Webhooks requests. So far: how a request is signed
//! (`signature`) and which targets may be called (`target`); the outbox,
//! the delivery engine and `paddock.v1.WebhookService` build on them.

pub mod signature;
pub mod target;

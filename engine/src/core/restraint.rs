//! Restraint before every customer-facing action: the suppression list, the customer's consent
//! for the channel, the send window ([`crate::core::send_window`]) and the frequency caps
//! ([`crate::core::caps`]) across all workflows. Messages are `marketing`
//! (every check), `transactional` (suppression only) or `internal` (to staff: no check), chosen by
//! the step's `kind` argument. Also the signed one-click unsubscribe links.

use crate::clock::Millis;
use crate::core::caps::{Caps, Outgoing};
use crate::core::send_window::WindowRules;
pub use crate::core::unsubscribe::{constant_time_eq, new_secret, unsubscribe_token, verify_token};
use crate::store::{
    consents_to, CapCheck, CapRefusal, Claim, PastMessage, RestraintStore, SentMessage, StoreResult,
};
use mikawaya_dsl::ir::{OverCap, Priority, WindowSetting};
use serde_json::Value;
use std::sync::Arc;

/// Why a message was not sent: a small fixed set, so it can label a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The step's `kind` is none of marketing, transactional, internal.
    UnknownKind,
    /// The address is on the suppression list.
    Suppressed,
    /// A marketing message with no customer to check consent for.
    NoCustomer,
    /// The customer has not consented to the channel.
    NoConsent,
    /// A frequency cap allows no more now.
    Capped,
    /// Outside the send window, whose policy is to skip.
    OutsideWindow,
    /// The customer is in the global control group.
    GlobalControl,
}

impl SkipReason {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnknownKind => "unknown_kind",
            SkipReason::Suppressed => "suppressed",
            SkipReason::NoCustomer => "no_customer",
            SkipReason::NoConsent => "no_consent",
            SkipReason::Capped => "capped",
            SkipReason::OutsideWindow => "outside_window",
            SkipReason::GlobalControl => "global_control",
        }
    }
}

impl Decision {
    /// The outcome as the `mikawaya_messages_total` label: `sent`, `deferred` or the reason.
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Send { .. } => "sent",
            Decision::Skip(why, _) => why.as_str(),
            Decision::Defer { .. } => "deferred",
        }
    }
}

/// What the rules say about one customer-facing call.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Go ahead; the message is of this kind, to this address.
    Send {
        /// `marketing`, `transactional` or `internal`.
        kind: String,
        /// Recipient address, when the input names one.
        address: Option<String>,
    },
    /// Do not send; go on with the next step (why, and the sentence the timeline shows).
    Skip(SkipReason, String),
    /// Try again at `until`.
    Defer {
        /// When the cap or the window allows the next message.
        until: Millis,
        /// Why.
        reason: String,
    },
}

/// The bare, lower-cased address of `to` (`"Ada <ADA@x.com>"` → `ada@x.com`).
pub fn recipient(input: &Value) -> Option<String> {
    let to = input.get("to")?.as_str()?;
    let bare = match (to.find('<'), to.rfind('>')) {
        (Some(a), Some(b)) if a < b => &to[a + 1..b],
        _ => to,
    };
    Some(bare.trim().to_lowercase())
}

/// The restraint rules and what they consult: the restraint store, the frequency caps, and the
/// secret and address of unsubscribe links.
pub struct Restraint {
    store: Arc<dyn RestraintStore>,
    caps: Caps,
    windows: WindowRules,
    global_control: Option<f64>,
    public_url: String,
    secret: String,
}

/// One customer-facing call to decide on.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The action's channel (`email`).
    pub channel: &'a str,
    /// The evaluated input (`to`, `kind`, …).
    pub input: &'a Value,
    /// The run's customer.
    pub customer_id: Option<&'a str>,
    /// The customer's attributes (with `consent`).
    pub customer: &'a Value,
    /// What the workflow does over the cap.
    pub over_cap: OverCap,
    /// The sending step's idempotency key.
    pub key: &'a str,
    /// The sending run and its workflow.
    pub run_id: &'a str,
    /// The workflow of the run.
    pub workflow: &'a str,
    /// The workflow's own send window setting (`None`: the server's default).
    pub window: Option<&'a WindowSetting>,
    /// The workflow's priority.
    pub priority: Priority,
    /// Whether a workflow of a higher priority is loaded (this one leaves it the last slot of
    /// every cap).
    pub yields_last_slot: bool,
}

impl Restraint {
    /// The rules over `store`, with the frequency `caps`, the send windows `windows`, for
    /// links at `public_url` signed with `secret`.
    pub fn new(
        store: Arc<dyn RestraintStore>,
        caps: Caps,
        windows: WindowRules,
        public_url: String,
        secret: String,
    ) -> Self {
        Restraint {
            store,
            caps,
            windows,
            global_control: None,
            public_url,
            secret,
        }
    }

    /// Applies suppression, consent, the send window and the frequency caps to `m` at `now`. A marketing message
    /// allowed to go is claimed in the store before it is sent (once per step), so concurrent
    /// runs and a crash between sending and committing never pass the cap.
    pub async fn decide(&self, m: Message<'_>, now: Millis) -> StoreResult<Decision> {
        let Message {
            channel,
            input,
            customer_id,
            customer,
            over_cap,
            key,
            run_id,
            workflow,
            window,
            priority,
            yields_last_slot,
        } = m;
        let kind = input
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("marketing")
            .to_string();
        let address = recipient(input);
        if kind == "internal" {
            return Ok(Decision::Send { kind, address });
        }
        if !matches!(kind.as_str(), "marketing" | "transactional") {
            return Ok(Decision::Skip(
                SkipReason::UnknownKind,
                format!("unknown message kind `{kind}`; use marketing, transactional or internal"),
            ));
        }
        if let Some(a) = &address {
            if let Some(reason) = self.store.suppressed(a).await? {
                return Ok(suppressed(a, &reason));
            }
        }
        if kind == "transactional" {
            return Ok(Decision::Send { kind, address });
        }
        let Some(cid) = customer_id else {
            return Ok(Decision::Skip(SkipReason::NoCustomer, "no customer to check consent for; mark the step `kind: transactional` or `internal` if it is one".into()));
        };
        if !consents_to(customer.get("consent"), channel) {
            return Ok(Decision::Skip(
                SkipReason::NoConsent,
                format!("customer {cid} has not consented to {channel}"),
            ));
        }
        if let Some(pct) = self.global_control {
            if mikawaya_dsl::experiment::in_share(GLOBAL_CONTROL, cid, pct) {
                return Ok(Decision::Skip(
                    SkipReason::GlobalControl,
                    format!("customer {cid} is in the global control group ({pct}% of customers get no marketing)"),
                ));
            }
        }
        if let Some(outside) = self.windows.check(window, customer, now) {
            return Ok(outside);
        }
        let tags = message_tags(input);
        let outgoing = Outgoing {
            channel,
            tags: &tags,
            zone: self.windows.zone(window, customer),
            priority,
            yields_last_slot,
            now,
        };
        let judge = |past: &[PastMessage]| self.caps.judge(&outgoing, past);
        let check = self.caps.since(&outgoing).map(|since| CapCheck {
            since,
            judge: &judge,
        });
        let message = SentMessage {
            customer_id: Some(cid.to_string()),
            channel: channel.to_string(),
            kind: kind.clone(),
            address: address.clone(),
            workflow: workflow.to_string(),
            key: key.to_string(),
            tags: tags.clone(),
        };
        // The claim checks suppression and consent again, as stored now: the run's snapshot of
        // the customer may predate a withdrawal recorded on this node or another.
        let refusal = match self
            .store
            .claim_message(&message, run_id, now, check.as_ref())
            .await?
        {
            Claim::Granted => return Ok(Decision::Send { kind, address }),
            Claim::Suppressed(reason) => {
                return Ok(suppressed(address.as_deref().unwrap_or_default(), &reason))
            }
            Claim::NoConsent => {
                return Ok(Decision::Skip(
                    SkipReason::NoConsent,
                    format!("customer {cid} withdrew consent to {channel} before the send"),
                ))
            }
            Claim::Over(refusal) => refusal,
        };
        Ok(over_cap_decision(refusal, over_cap))
    }

    /// Keeps a stable `percent` of customers out of all marketing (the global control group,
    /// against which the effect of all marketing is measured).
    pub fn with_global_control(mut self, percent: Option<f64>) -> Self {
        self.global_control = percent.filter(|p| *p > 0.0);
        self
    }

    /// The send windows and holiday calendars.
    pub fn windows(&self) -> &WindowRules {
        &self.windows
    }

    /// The one-click unsubscribe link of a customer for a channel.
    pub fn unsubscribe_url(&self, customer_id: &str, channel: &str) -> String {
        format!(
            "{}/unsubscribe/{}",
            self.public_url.trim_end_matches('/'),
            unsubscribe_token(&self.secret, customer_id, channel)
        )
    }

    /// The customer and channel an unsubscribe token names, if its signature holds.
    pub fn unsubscribe_target(&self, token: &str) -> Option<(String, String)> {
        verify_token(&self.secret, token)
    }
}

/// The name the global control group's stable hash is salted with.
pub const GLOBAL_CONTROL: &str = "global-control";

/// What a step over a cap does: skip, or wait until the rule that refused opens (a rule that
/// never opens skips).
fn over_cap_decision(refusal: CapRefusal, over_cap: OverCap) -> Decision {
    match (over_cap, refusal.opens_at) {
        (OverCap::Defer, Some(until)) => Decision::Defer {
            until,
            reason: refusal.reason,
        },
        _ => Decision::Skip(SkipReason::Capped, refusal.reason),
    }
}

/// A step's tags: its `tag` input, one string or a list.
pub fn message_tags(input: &Value) -> Vec<String> {
    match input.get("tag") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The decision for a message to a suppressed address.
fn suppressed(address: &str, reason: &str) -> Decision {
    Decision::Skip(
        SkipReason::Suppressed,
        format!("{address} is suppressed ({reason})"),
    )
}

#[cfg(test)]
mod tests;

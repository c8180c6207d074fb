//! Process-wide counters for the operator's metrics (`/metrics`): security events by kind (G1),
//! one-time codes sent per channel and accepted per challenge kind.
//!
//! - Counted where they happen, in the process that did them: with several instances, each
//!   reports its own and the monitoring system adds them up.
//! - Counted when the row is written, inside its transaction: a transaction that rolls back
//!   afterwards (rare: a database fault) leaves the count one too high. Metrics are for trends
//!   and alerts; the security log in the database is the record.
//! - Nothing personal: labels are kinds and channels, never an address, a user or a code.

use crate::mechanisms::events::EventKind;
use crate::mechanisms::outbox::Channel;
use crate::values::factors::ChallengeKind;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const KINDS: usize = EventKind::ALL.len();

static EVENTS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];
static CODES_SENT: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];
static CODES_ACCEPTED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// G1: one security event of `kind` was recorded.
pub fn event(kind: EventKind) {
    if let Some(i) = EventKind::ALL.iter().position(|k| *k == kind) {
        EVENTS[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// A one-time code went into the outbox on `channel`.
pub fn code_sent(channel: Channel) {
    let i = match channel {
        Channel::Email => 0,
        Channel::Sms => 1,
        Channel::Logout => return,
    };
    CODES_SENT[i].fetch_add(1, Ordering::Relaxed);
}

/// A code of `kind` was accepted (its challenge consumed).
pub fn code_accepted(kind: ChallengeKind) {
    if let Ok(mut m) = CODES_ACCEPTED.lock() {
        *m.entry(kind.as_str()).or_default() += 1;
    }
}

/// Everything counted so far, as (label value, count) pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Stored event names ("login_succeeded", …) — every kind, zeros included.
    pub events: Vec<(&'static str, u64)>,
    pub codes_sent: Vec<(&'static str, u64)>,
    /// Stored challenge kinds ("login_email", "reauth_totp", …) seen so far.
    pub codes_accepted: Vec<(&'static str, u64)>,
}

impl Snapshot {
    pub fn event(&self, kind: EventKind) -> u64 {
        self.events
            .iter()
            .find(|(k, _)| *k == kind.as_str())
            .map_or(0, |(_, n)| *n)
    }
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        events: EventKind::ALL
            .iter()
            .zip(EVENTS.iter())
            .map(|(k, n)| (k.as_str(), n.load(Ordering::Relaxed)))
            .collect(),
        codes_sent: [Channel::Email, Channel::Sms]
            .iter()
            .zip(CODES_SENT.iter())
            .map(|(c, n)| (c.as_str(), n.load(Ordering::Relaxed)))
            .collect(),
        codes_accepted: CODES_ACCEPTED
            .lock()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::factors::{Factor, Purpose};

    #[test]
    fn counts_go_up_by_what_happened() {
        let before = snapshot();
        event(EventKind::AccountLocked);
        event(EventKind::AccountLocked);
        code_sent(Channel::Sms);
        code_accepted(ChallengeKind::new(Purpose::Reauth, Factor::Authenticator));
        let after = snapshot();
        assert_eq!(
            after.event(EventKind::AccountLocked) - before.event(EventKind::AccountLocked),
            2
        );
        let sms = |s: &Snapshot| {
            s.codes_sent
                .iter()
                .find(|(c, _)| *c == "sms")
                .map_or(0, |(_, n)| *n)
        };
        assert_eq!(sms(&after) - sms(&before), 1);
        let kind = ChallengeKind::new(Purpose::Reauth, Factor::Authenticator).as_str();
        let accepted = |s: &Snapshot| {
            s.codes_accepted
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, n)| *n)
        };
        assert_eq!(accepted(&after) - accepted(&before), 1);
        assert_eq!(
            after.events.len(),
            EventKind::ALL.len(),
            "every kind, zeros too"
        );
    }
}

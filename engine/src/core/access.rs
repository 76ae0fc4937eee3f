//! Who may use the API: scoped tokens. A token is `mkw_` and 64 random hex digits, shown once
//! when it is created; the store keeps only its SHA-256 (a random 256-bit token needs no slow
//! password hash: nothing can be guessed from the hash). The bootstrap tokens of `serve --token`
//! (every scope) and `--read-token` (the read scopes) keep working beside the stored ones.
//! Pure apart from the in-memory table of active tokens, which the API updates when a token is
//! created or revoked, so a revoked token is refused at once.

use crate::store::TokenRow;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Send events (`POST /events`).
    EventsWrite,
    /// Read workflows, their graphs and sources; validate drafts.
    WorkflowsRead,
    /// Save and reload workflows.
    WorkflowsWrite,
    /// Read runs, timelines, tasks, dead letters, explanations and metrics.
    RunsRead,
    /// Retry dead letters (and, later, cancel runs).
    RunsWrite,
    /// Read customers' personal data (attributes, consent, the suppression list).
    CustomersRead,
    /// Change consent and the suppression list.
    ConsentWrite,
    /// Everything, including managing tokens.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 8] = [
        Scope::EventsWrite,
        Scope::WorkflowsRead,
        Scope::WorkflowsWrite,
        Scope::RunsRead,
        Scope::RunsWrite,
        Scope::CustomersRead,
        Scope::ConsentWrite,
        Scope::Admin,
    ];

    /// What `--read-token` may do.
    pub const READ: [Scope; 3] = [Scope::WorkflowsRead, Scope::RunsRead, Scope::CustomersRead];

    /// The scope's name, e.g. `events:write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::WorkflowsRead => "workflows:read",
            Scope::WorkflowsWrite => "workflows:write",
            Scope::RunsRead => "runs:read",
            Scope::RunsWrite => "runs:write",
            Scope::CustomersRead => "customers:read",
            Scope::ConsentWrite => "consent:write",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `name`.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Parses scope names, refusing an unknown one with the list of known ones.
    pub fn parse_all(names: &[String]) -> Result<BTreeSet<Scope>, String> {
        if names.is_empty() {
            return Err(format!("give at least one scope: {}", Self::names()));
        }
        names
            .iter()
            .map(|n| {
                Scope::parse(n).ok_or_else(|| {
                    format!("`{n}` is not a scope; the scopes are {}", Self::names())
                })
            })
            .collect()
    }

    fn names() -> String {
        Scope::ALL.map(Scope::as_str).join(", ")
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling: the token's name and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's name (`bootstrap` for `--token`, `bootstrap-read` for `--read-token`,
    /// `anonymous` when the API is open).
    pub name: String,
    /// Its scopes.
    pub scopes: BTreeSet<Scope>,
}

impl Identity {
    /// Whether it may do what `scope` allows (`admin` may do everything).
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// The caller of an open API (no token of any kind configured): may do everything.
    pub fn anonymous() -> Self {
        Identity::new("anonymous", [Scope::Admin])
    }

    /// Its scopes, comma-separated.
    pub fn scope_list(&self) -> String {
        let names: Vec<&str> = self.scopes.iter().map(|s| s.as_str()).collect();
        names.join(", ")
    }

    fn new(name: &str, scopes: impl IntoIterator<Item = Scope>) -> Self {
        Identity {
            name: name.into(),
            scopes: scopes.into_iter().collect(),
        }
    }
}

/// A new random token.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("mkw_{}", hex::encode(bytes))
}

/// What the store keeps of `token`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `name` may name a token: 1 to 64 of `a-z 0-9 - _ .`.
pub fn valid_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// The tokens the API accepts.
pub struct Access {
    bootstrap_write: Option<String>,
    bootstrap_read: Option<String>,
    /// Active stored tokens by hash.
    stored: RwLock<HashMap<String, Identity>>,
}

impl Access {
    /// The bootstrap tokens and the stored ones (revoked ones are left out).
    pub fn new(write: Option<String>, read: Option<String>, stored: &[TokenRow]) -> Self {
        let access = Access {
            bootstrap_write: write,
            bootstrap_read: read,
            stored: RwLock::new(HashMap::new()),
        };
        for t in stored {
            access.add(t);
        }
        access
    }

    /// Whether the API is open to anyone: no bootstrap token and no active stored token.
    pub fn is_open(&self) -> bool {
        self.bootstrap_write.is_none()
            && self.bootstrap_read.is_none()
            && self.stored.read().expect("tokens").is_empty()
    }

    /// Who `bearer` is, if it is an active token.
    pub fn identify(&self, bearer: &str) -> Option<Identity> {
        use crate::core::restraint::constant_time_eq;
        // The bootstrap tokens are compared in constant time, so response times do not reveal
        // how much of a guess was right; stored tokens are found by their hash.
        let is = |token: &Option<String>| {
            token
                .as_deref()
                .is_some_and(|t| constant_time_eq(t, bearer))
        };
        if is(&self.bootstrap_write) {
            return Some(Identity::new("bootstrap", [Scope::Admin]));
        }
        if is(&self.bootstrap_read) {
            return Some(Identity::new("bootstrap-read", Scope::READ));
        }
        let stored = self.stored.read().expect("tokens");
        stored.get(&hash_token(bearer)).cloned()
    }

    /// Accepts a stored token from now on (unless it is revoked).
    pub fn add(&self, t: &TokenRow) {
        if t.revoked_at.is_some() {
            return;
        }
        let scopes = t.scopes.iter().filter_map(|s| Scope::parse(s));
        let identity = Identity::new(&t.name, scopes);
        self.stored
            .write()
            .expect("tokens")
            .insert(t.hash.clone(), identity);
    }

    /// Refuses the stored token `name` from now on.
    pub fn remove(&self, name: &str) {
        self.stored
            .write()
            .expect("tokens")
            .retain(|_, identity| identity.name != name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, token: &str, scopes: &[&str]) -> TokenRow {
        TokenRow {
            name: name.into(),
            hash: hash_token(token),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            created_at: 1,
            revoked_at: None,
        }
    }

    #[test]
    fn tokens_are_known_by_their_hash_with_their_scopes_until_removed() {
        let shop = new_token();
        assert!(shop.starts_with("mkw_") && shop.len() == 68);
        assert_ne!(shop, new_token());
        let access = Access::new(None, None, &[row("shop", &shop, &["events:write"])]);
        assert!(!access.is_open(), "a stored token closes the API");
        let who = access.identify(&shop).unwrap();
        assert_eq!(who.name, "shop");
        assert!(who.may(Scope::EventsWrite));
        assert!(!who.may(Scope::RunsRead));
        assert_eq!(access.identify("mkw_guess"), None);
        access.remove("shop");
        assert_eq!(access.identify(&shop), None);
        assert!(access.is_open());
        let mut revoked = row("old", "t", &["admin"]);
        revoked.revoked_at = Some(2);
        access.add(&revoked);
        assert_eq!(
            access.identify("t"),
            None,
            "a revoked token is never accepted"
        );
    }

    #[test]
    fn bootstrap_tokens_are_admin_and_reader() {
        let access = Access::new(Some("w".into()), Some("r".into()), &[]);
        let admin = access.identify("w").unwrap();
        assert!(Scope::ALL.iter().all(|s| admin.may(*s)));
        let reader = access.identify("r").unwrap();
        assert!(reader.may(Scope::RunsRead) && reader.may(Scope::CustomersRead));
        assert!(!reader.may(Scope::EventsWrite) && !reader.may(Scope::Admin));
        assert_eq!(access.identify("x"), None);
    }

    #[test]
    fn scopes_and_names_are_checked() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let scopes = Scope::parse_all(&names(&["runs:read", "events:write"])).unwrap();
        assert_eq!(scopes.len(), 2);
        let e = Scope::parse_all(&names(&["runs:delete"])).unwrap_err();
        assert!(
            e.contains("`runs:delete` is not a scope") && e.contains("customers:read"),
            "{e}"
        );
        assert!(Scope::parse_all(&[]).is_err());
        assert!(valid_token_name("shop-1.prod"));
        assert!(!valid_token_name("") && !valid_token_name("Shop") && !valid_token_name("a b"));
    }
}

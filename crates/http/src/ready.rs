//! `/readyz`: ready when every published zone is served at the store's published generation,
//! or has trailed it for at most the documented lag; otherwise a list of what is behind and
//! why.

use serde::Serialize;

use crate::facts::Facts;

/// Why a zone is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// The store cannot be read: this server answers from what it holds (I7) but cannot know
    /// whether that is current.
    StoreDown,
    /// The follower could not install the published generation (unreadable, undecodable or
    /// invalid); the previous one is still served.
    InstallFailed,
    /// The served generation has trailed the published one for longer than the lag allows.
    Lagging,
}

/// One zone that is not ready.
#[derive(Debug, Clone, Serialize)]
pub struct Behind {
    pub zone: String,
    pub reason: Why,
    pub published: Option<u64>,
    pub served: Option<u64>,
    pub detail: String,
}

/// Ready: nothing is behind and the store can be read.
pub fn is_ready(facts: &Facts, behind: &[Behind]) -> bool {
    behind.is_empty() && facts.store.up
}

/// Every zone that is not ready.
pub fn behind(facts: &Facts) -> Vec<Behind> {
    let mut out = Vec::new();
    for z in &facts.zones {
        let (published, served) = (z.published, z.served);
        let entry = |reason, detail: String| Behind {
            zone: z.origin.clone(),
            reason,
            published,
            served,
            detail,
        };
        if !facts.store.up {
            let why = facts.store.error.clone().unwrap_or_default();
            out.push(entry(
                Why::StoreDown,
                format!("the store cannot be read: {why}; serving the last good generation"),
            ));
            continue;
        }
        let Some(p) = published else { continue };
        if served.is_some_and(|s| s >= p) {
            continue;
        }
        if served.is_none() {
            // Not one generation of a published zone is served (a server starting).
            out.push(entry(
                Why::Lagging,
                format!("generation {p} is published and nothing of the zone is served yet"),
            ));
            continue;
        }
        if let Some(why) = &z.install_failure {
            out.push(entry(
                Why::InstallFailed,
                format!("cannot install generation {p}: {why}"),
            ));
            continue;
        }
        let since = facts.now.saturating_sub(z.published_at.unwrap_or(0));
        if since > facts.ready_lag_seconds {
            out.push(entry(
                Why::Lagging,
                format!("generation {p} was published {since} s ago and is not served yet (lag allowed: {} s)", facts.ready_lag_seconds),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{StoreFacts, ZoneFacts};

    fn zone(published: Option<u64>, served: Option<u64>, at: u64) -> ZoneFacts {
        ZoneFacts {
            origin: "example.com.".into(),
            published,
            served,
            published_at: Some(at),
            ..ZoneFacts::default()
        }
    }

    #[test]
    fn lag_store_and_failures() {
        let mut f = Facts {
            now: 100,
            store: StoreFacts {
                up: true,
                ..StoreFacts::default()
            },
            zones: vec![zone(Some(2), Some(2), 10)],
            ready_lag_seconds: 10,
            ..Facts::default()
        };
        assert!(behind(&f).is_empty());
        f.zones = vec![zone(Some(3), None, 95)];
        assert_eq!(behind(&f)[0].reason, Why::Lagging, "nothing served yet");
        f.zones = vec![zone(Some(3), Some(2), 95)];
        assert!(behind(&f).is_empty(), "within the lag");
        f.zones = vec![zone(Some(3), Some(2), 80)];
        assert_eq!(behind(&f)[0].reason, Why::Lagging);
        f.zones[0].install_failure = Some("bad body".into());
        assert_eq!(behind(&f)[0].reason, Why::InstallFailed);
        f.store.up = false;
        assert_eq!(behind(&f)[0].reason, Why::StoreDown);
        assert_eq!(behind(&f)[0].zone, "example.com.");
        f.zones.clear();
        assert!(
            !is_ready(&f, &behind(&f)),
            "a store that cannot be read is not ready"
        );
    }
}

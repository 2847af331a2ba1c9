//! The zone-file parser and the gate: any text is parsed, validated and, when valid, planned
//! and published on the in-memory store over a base zone. Nothing may panic; a valid zone's
//! records print and parse back to themselves, its body decodes to the same zone, and a plan
//! the gate passes publishes.
//!
//! Input: `BASE \n%%\n CANDIDATE` (the base is optional).
#![no_main]

use libfuzzer_sys::fuzz_target;
use zonegate_core::gate::{self, Actor, PlanOutcome, PublishOutcome, Verdict};
use zonegate_core::model::MemStore;
use zonegate_core::zone::validate::validate;
use zonegate_core::zonefile::{parse, record_to_text};
use zonegate_core::{GateConfig, Limits, Zone};

fn check_round_trip(zone: &Zone) {
    for r in zone.records() {
        let text = record_to_text(r);
        let back = parse(&format!("{text}\n"), Some(zone.origin()), "round-trip")
            .unwrap_or_else(|e| panic!("{text:?} does not parse back: {e}"));
        assert_eq!(back.records.len(), 1, "{text:?}");
        assert_eq!(back.records[0], *r, "{text:?} reads back as another record");
    }
    let body = zone.body();
    let decoded = Zone::decode(zone.origin(), &body, &zone.hash(), &Limits::default())
        .expect("a valid zone's body decodes");
    assert_eq!(decoded.hash(), zone.hash());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (base, candidate) = text.split_once("\n%%\n").unwrap_or(("", text));
    let Ok(parsed) = parse(candidate, None, "fuzz") else {
        return;
    };
    if let Ok(zone) = validate(parsed.clone(), &Limits::default()) {
        check_round_trip(&zone);
    }
    let cfg = GateConfig::default();
    let store = MemStore::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        if let Ok(base) = parse(base, Some(&parsed.origin), "base") {
            if gate::plan(&store, base, &cfg, 1, &Actor::PLAN).await.is_ok() {
                let _ = gate::publish(&store, &parsed.origin, None, &cfg, 1, &Actor::PUBLISH).await;
            }
        }
        let origin = parsed.origin.clone();
        let Ok(outcome) = gate::plan(&store, parsed, &cfg, 2, &Actor::PLAN).await else {
            return;
        };
        if let PlanOutcome::Staged { generation, verdict: Verdict::Pass, .. } = outcome {
            let published = gate::publish(&store, &origin, Some(generation), &cfg, 2, &Actor::PUBLISH)
                .await
                .expect("a plan the gate passed publishes");
            assert!(
                matches!(published, PublishOutcome::Published { generation: g, .. } if g == generation),
                "{published:?}"
            );
        }
    });
});

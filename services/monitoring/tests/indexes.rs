//! The monitoring projection's case index: the indicators of a province
//! scope or filter, computed on the cases the index names, are those
//! computed on every case; an export's cases read from the index (period
//! and provinces) are those a scan of every case selects; the index moves
//! with the cases and a rebuild writes the same one.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::envelope::timestamp;
use contracts::log::v1 as wire;
use contracts::referral::v1 as referral;
use contracts::screening::v1 as screening;
use monitoring::compute::{self, Query};
use monitoring::pathway::CasePathway;
use monitoring::projection::{self, MonitoringProjection};
use projection_sled::ProjectionStore;
use std::collections::BTreeMap;
use time::OffsetDateTime;

const PROVINCES: [&str; 4] = ["AG", "RM", "TO", "PA"];
const DAY: i64 = 86_400;
const START: i64 = 1_780_000_000;

struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

fn time(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(START + seconds).expect("time")
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(time(seconds)))
}

fn event<M: prost::Name>(message: &M, id: String) -> wire::Event {
    wire::Event {
        event_id: id,
        event_type: M::full_name(),
        schema_version: 1,
        payload: message.encode_to_vec(),
    }
}

/// Cases opened over 120 days in four provinces, some placed in another,
/// some referred to a service in another province.
fn commits(cases: usize) -> Vec<(RecordedCommit, telemetry::TraceContext)> {
    let mut draw = Draw(0x0123_4567_89ab_cdef);
    let mut per_case: Vec<Vec<(&str, wire::Event)>> = Vec::new();
    for n in 0..cases {
        let id = |k: usize| format!("e-{n}-{k}");
        let province = draw.pick(&PROVINCES);
        let opened = draw.below(120) as i64 * DAY + draw.below(DAY as u64) as i64;
        let mut events = vec![(
            "screening",
            event(
                &screening::CaseOpened {
                    case_id: format!("case-{n:05}"),
                    province: province.to_owned(),
                    facility_id: format!("facility-{}", province.to_lowercase()),
                    facility_kind: "hotspot".to_owned(),
                    age_band: "18+".to_owned(),
                    opened_at: at(opened),
                    arrival: Some(screening::Arrival {
                        place: "LAMPEDUSA".to_owned(),
                        arrived_at: at(opened - 3600),
                    }),
                    ..Default::default()
                },
                id(0),
            ),
        )];
        if draw.below(2) == 0 {
            events.push((
                "screening",
                event(
                    &screening::PreliminaryCheckRecorded {
                        suspected: vec![screening::SuspectedCategory {
                            category: "GBV".to_owned(),
                            ..Default::default()
                        }],
                        urgency: "high".to_owned(),
                        checked_at: at(opened + 3600),
                        ..Default::default()
                    },
                    id(1),
                ),
            ));
        }
        if draw.below(3) == 0 {
            let referral_id = format!("ref-{n}");
            events.push((
                "referral",
                event(
                    &referral::ReferralDrafted {
                        referral_id: referral_id.clone(),
                        receiver_organisation_id: "org-a".to_owned(),
                        service_type: "shelter".to_owned(),
                        province: draw.pick(&PROVINCES).to_owned(),
                        ..Default::default()
                    },
                    id(2),
                ),
            ));
            events.push((
                "referral",
                event(
                    &referral::ReferralSent {
                        referral_id,
                        sent_at: at(opened + 2 * DAY),
                        urgency: "high".to_owned(),
                        ..Default::default()
                    },
                    id(3),
                ),
            ));
        }
        if draw.below(4) == 0 {
            let to = draw.pick(&PROVINCES);
            events.push((
                "screening",
                event(
                    &screening::CasePlaced {
                        facility_id: format!("facility-{}", to.to_lowercase()),
                        province: to.to_owned(),
                        facility_kind: "cas".to_owned(),
                        placed_at: at(opened + 3 * DAY),
                        ..Default::default()
                    },
                    id(4),
                ),
            ));
        }
        per_case.push(events);
    }
    let mut commits = Vec::new();
    let mut round = 0;
    loop {
        let mut any = false;
        for (n, events) in per_case.iter().enumerate() {
            if let Some((producer, event)) = events.get(round) {
                any = true;
                let sequence = commits.len() as u64 + 1;
                commits.push((
                    RecordedCommit {
                        sequence,
                        subject: format!("approdo.case.case-{n:05}.{producer}"),
                        recorded_at: time(0),
                        commit: wire::Commit {
                            commit_id: format!("commit-{sequence}"),
                            occurred_at: at(0),
                            events: vec![event.clone()],
                            ..Default::default()
                        },
                    },
                    telemetry::TraceContext::default(),
                ));
            }
        }
        if !any {
            return commits;
        }
        round += 1;
    }
}

fn filled(cases: usize, batch: usize) -> (tempfile::TempDir, ProjectionStore) {
    let dir = tempfile::tempdir().expect("dir");
    let store = ProjectionStore::open(dir.path()).expect("store");
    for batch in commits(cases).chunks(batch) {
        store
            .apply_batch(&MonitoringProjection, batch)
            .expect("applied");
    }
    (dir, store)
}

fn filters() -> Vec<Vec<String>> {
    [
        vec![],
        vec!["AG"],
        vec!["RM", "TO"],
        vec!["TO", "TO"],
        vec!["CT"],
    ]
    .into_iter()
    .map(|list| list.into_iter().map(str::to_owned).collect())
    .collect()
}

fn periods() -> Vec<(Option<OffsetDateTime>, OffsetDateTime)> {
    vec![
        (None, time(200 * DAY)),
        (Some(time(30 * DAY)), time(60 * DAY)),
        (Some(time(59 * DAY + 1234)), time(59 * DAY + 40_000)),
        (Some(time(500 * DAY)), time(600 * DAY)),
    ]
}

#[test]
fn indicators_of_provinces_computed_on_the_indexed_cases_are_those_of_every_case() {
    let (_dir, store) = filled(1_500, 256);
    let all = projection::cases(&store).expect("cases");
    assert_eq!(all.len(), 1_500);
    let spaces = projection::spaces(&store).expect("spaces");
    let training = projection::training(&store).expect("training");
    let population = BTreeMap::from([("AG".to_owned(), 400_000), ("RM".to_owned(), 4_000_000)]);
    for provinces in filters() {
        let (indexed, cost) = projection::cases_in(&store, &provinces).expect("indexed");
        if !provinces.is_empty() {
            assert!(
                indexed.len() < all.len(),
                "{provinces:?}: a part of the cases"
            );
            assert_eq!(cost.rows, indexed.len() as u64);
        }
        for (from, to) in periods() {
            for group_by in [
                vec![],
                vec![compute::Dimension::Province, compute::Dimension::Month],
            ] {
                let query = Query {
                    from,
                    to,
                    group_by,
                    provinces: provinces.clone(),
                    ..Query::default()
                };
                let want = compute::compute(&query, &all, &spaces, &training, &population);
                let got = compute::compute(&query, &indexed, &spaces, &training, &population);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "{provinces:?} {from:?} {to:?}"
                );
            }
        }
    }
    // The cases in the province now would not do: referrals and placements
    // record observations in other provinces.
    let rome = vec!["RM".to_owned()];
    let now_in_rome: Vec<(String, CasePathway)> = all
        .iter()
        .filter(|(_, p)| p.facts.as_ref().is_some_and(|f| f.province == "RM"))
        .cloned()
        .collect();
    let query = Query {
        to: time(200 * DAY),
        provinces: rome.clone(),
        ..Query::default()
    };
    let (indexed, _) = projection::cases_in(&store, &rome).expect("indexed");
    assert!(indexed.len() > now_in_rome.len());
    let want = compute::compute(&query, &all, &spaces, &training, &population);
    let narrow = compute::compute(&query, &now_in_rome, &spaces, &training, &population);
    assert_ne!(format!("{narrow:?}"), format!("{want:?}"));
}

/// What the export selects by period and province, as it did on every case.
fn selected<'a>(
    cases: &'a [(String, CasePathway)],
    provinces: &[String],
    from: Option<OffsetDateTime>,
    to: OffsetDateTime,
) -> Vec<&'a str> {
    cases
        .iter()
        .filter(|(_, p)| {
            let Some(facts) = &p.facts else { return false };
            let opened = p.opened.as_ref().and_then(|o| o.opened_at.or(o.arrived_at));
            opened.is_some_and(|at| from.is_none_or(|f| at >= f) && at < to)
                && (provinces.is_empty() || provinces.contains(&facts.province))
        })
        .map(|(id, _)| id.as_str())
        .collect()
}

#[test]
fn an_export_reads_the_cases_of_its_period_and_provinces_and_no_other() {
    let (_dir, store) = filled(1_500, 256);
    let all = projection::cases(&store).expect("cases");
    let mut non_empty = 0;
    for provinces in filters() {
        for (from, to) in periods() {
            let want = selected(&all, &provinces, from, to);
            let (read, cost) =
                projection::cases_opened(&store, &provinces, from, to).expect("read");
            let got = selected(&read, &provinces, from, to);
            assert_eq!(got, want, "{provinces:?} {from:?} {to:?}");
            // Exactly what it returns is read: no case outside the period or the provinces.
            assert_eq!(read.len(), want.len(), "{provinces:?} {from:?} {to:?}");
            assert_eq!(cost.rows, want.len() as u64);
            assert!(cost.entries <= want.len() as u64 + 2, "{cost:?}");
            non_empty += usize::from(!want.is_empty());
        }
    }
    assert!(non_empty >= 10, "{non_empty}");
}

#[test]
fn a_rebuild_writes_the_same_index() {
    let (_dir, store) = filled(500, 256);
    let digest = store.content_digest().expect("digest");
    store.reset().expect("reset");
    for batch in commits(500).chunks(33) {
        store
            .apply_batch(&MonitoringProjection, batch)
            .expect("applied");
    }
    assert_eq!(store.content_digest().expect("digest"), digest);
}

//! The referral lists read from the index answer what a scan of every
//! referral answered (same referrals, same order, same pages and tokens) for
//! every jurisdiction and filter, on a few thousand generated referrals whose
//! cases move and whose referrals change state; a page reads a bounded
//! number of entries and rows; a rebuild writes the same index.

use case_log_jetstream::RecordedCommit;
use case_log_jetstream::envelope::timestamp;
use case_referral::ReferralState;
use contracts::log::v1 as log;
use contracts::referral::v1 as api;
use contracts::screening::v1 as screening;
use projection_sled::ProjectionStore;
use service_runtime::paging::Page;
use service_runtime::{Jurisdiction, Violations};
use time::OffsetDateTime;

use super::inbox::list_inbox;
use super::referrals::{ReferralFilter, list_referrals, referral_key};
use crate::case_facts::ReferralFacts as _;
use crate::projection::{self, ListCost, ReferralProjection};

const PROVINCES: [&str; 3] = ["AG", "RM", "TO"];
const RECEIVERS: [&str; 4] = ["org-a", "org-b", "org-c", "org-d"];
const SERVICES: [&str; 3] = ["health_service", "shelter", "sai"];

/// A small deterministic generator (xorshift): the same log every run.
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

fn event<M: prost::Name>(message: &M) -> log::Event {
    log::Event {
        event_type: M::full_name(),
        schema_version: 1,
        payload: prost::Message::encode_to_vec(message),
        ..Default::default()
    }
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(
        OffsetDateTime::from_unix_timestamp(1_780_000_000 + seconds).expect("time"),
    ))
}

fn facility(province: &str, n: u64) -> String {
    format!("facility-{}-{n}", province.to_lowercase())
}

/// `cases` cases (most with screening's facts, some placed elsewhere later),
/// each with up to three referrals that go through the lifecycle; each event
/// a commit, the cases interleaved.
fn commits(cases: usize) -> Vec<(RecordedCommit, telemetry::TraceContext)> {
    let mut draw = Draw(0x00c0_ffee_1234_5678);
    let mut per_case: Vec<Vec<(&str, log::Event)>> = Vec::new();
    for n in 0..cases {
        let mut events = Vec::new();
        let province = draw.pick(&PROVINCES);
        if draw.below(10) > 0 {
            events.push((
                "screening",
                event(&screening::CaseOpened {
                    case_id: format!("case-{n:05}"),
                    province: province.to_owned(),
                    facility_id: facility(province, draw.below(2)),
                    ..Default::default()
                }),
            ));
        }
        for k in 0..draw.below(4) {
            let referral_id = format!("ref-{n:05}-{k}");
            events.push((
                "referral",
                event(&api::ReferralDrafted {
                    referral_id: referral_id.clone(),
                    referrer_organisation_id: "facility-ag-0".to_owned(),
                    receiver_organisation_id: draw.pick(&RECEIVERS).to_owned(),
                    service_type: draw.pick(&SERVICES).to_owned(),
                    province: if draw.below(5) == 0 {
                        draw.pick(&PROVINCES).to_owned()
                    } else {
                        province.to_owned()
                    },
                    ..Default::default()
                }),
            ));
            let id = || referral_id.clone();
            let steps = draw.below(6);
            if steps >= 1 {
                events.push((
                    "referral",
                    event(&api::ReferralSent {
                        referral_id: id(),
                        sent_at: at(10),
                        urgency: "standard".to_owned(),
                        ..Default::default()
                    }),
                ));
            }
            if steps >= 2 {
                events.push((
                    "referral",
                    event(&api::ReferralReceived {
                        referral_id: id(),
                        at: at(20),
                    }),
                ));
            }
            if steps >= 2 && draw.below(3) == 0 {
                events.push((
                    "referral",
                    event(&api::ReferralDeadlineMissed {
                        referral_id: id(),
                        deadline: "answer".to_owned(),
                        detected_at: at(25),
                        ..Default::default()
                    }),
                ));
            }
            match steps {
                3 => events.push((
                    "referral",
                    event(&api::ReferralAccepted {
                        referral_id: id(),
                        at: at(30),
                        ..Default::default()
                    }),
                )),
                4 => events.push((
                    "referral",
                    event(&api::ReferralDeclined {
                        referral_id: id(),
                        at: at(30),
                        reason: "no_capacity".to_owned(),
                        ..Default::default()
                    }),
                )),
                5 => events.push((
                    "referral",
                    event(&api::ReferralCancelled {
                        referral_id: id(),
                        at: at(30),
                        ..Default::default()
                    }),
                )),
                _ => {}
            }
        }
        // The case moves: its referrals' jurisdiction entries follow.
        if draw.below(5) == 0 {
            let to = draw.pick(&PROVINCES);
            events.push((
                "screening",
                event(&screening::CasePlaced {
                    facility_id: facility(to, draw.below(2)),
                    province: to.to_owned(),
                    ..Default::default()
                }),
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
                        recorded_at: OffsetDateTime::UNIX_EPOCH,
                        commit: log::Commit {
                            commit_id: format!("commit-{sequence}"),
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
            .apply_batch(&ReferralProjection, batch)
            .expect("applied");
    }
    (dir, store)
}

fn page(size: u32, token: &str) -> Page {
    let mut v = Violations::default();
    let page = Page::parse(&mut v, size, token);
    assert!(v.is_empty());
    page
}

fn filter(r: &api::ListReferralsRequest) -> ReferralFilter {
    ReferralFilter::parse(Violations::default(), r).expect("a valid filter")
}

/// Every referral and where its case is, read once.
struct Everything {
    referrals: Vec<api::ReferralView>,
    whereabouts: std::collections::BTreeMap<String, Option<service_runtime::Whereabouts>>,
}

impl Everything {
    fn read(store: &ProjectionStore) -> Everything {
        let referrals = projection::all_referrals(store).expect("referrals");
        let whereabouts = referrals
            .iter()
            .map(|referral| {
                let at = projection::case_facts(store, &referral.case_id)
                    .expect("facts")
                    .map(|f| f.whereabouts());
                (referral.case_id.clone(), at)
            })
            .collect();
        Everything {
            referrals,
            whereabouts,
        }
    }
}

/// The list as it was computed before the index: every referral scanned.
fn scanned(
    everything: &Everything,
    jurisdiction: &Jurisdiction,
    r: &api::ListReferralsRequest,
    page: &Page,
) -> (Vec<api::ReferralView>, String) {
    let filter = filter(r);
    let mut referrals = Vec::new();
    for referral in everything.referrals.iter().cloned() {
        let sees = match jurisdiction {
            Jurisdiction::Receiver(own) => {
                referral.receiver_organisation_id == *own
                    && referral.state != ReferralState::Draft.code()
            }
            _ => true,
        };
        if !sees || !filter.admits(r, &referral) {
            continue;
        }
        if matches!(
            jurisdiction,
            Jurisdiction::Facility { .. } | Jurisdiction::Province(_)
        ) {
            let at = &everything.whereabouts[&referral.case_id];
            if !at.as_ref().is_some_and(|at| jurisdiction.covers(at)) {
                continue;
            }
        }
        referrals.push(referral);
    }
    page.take(referrals, referral_key)
}

fn jurisdictions() -> Vec<Jurisdiction> {
    vec![
        Jurisdiction::Unplaced,
        Jurisdiction::Receiver("org-b".to_owned()),
        Jurisdiction::Facility {
            facility: "facility-rm-1".to_owned(),
            province: None,
        },
        Jurisdiction::Facility {
            facility: "facility-ag-0".to_owned(),
            province: Some("AG".to_owned()),
        },
        Jurisdiction::Facility {
            facility: "facility-ag-0".to_owned(),
            province: Some("TO".to_owned()),
        },
        Jurisdiction::Province("TO".to_owned()),
        Jurisdiction::Province(String::new()),
    ]
}

fn requests() -> Vec<api::ListReferralsRequest> {
    let mut requests = Vec::new();
    for province in ["", "RM"] {
        for service_type in ["", "health_service"] {
            for state in ["", "draft", "sent", "received", "declined"] {
                for open_only in [false, true] {
                    for overdue_only in [false, true] {
                        requests.push(api::ListReferralsRequest {
                            province: province.to_owned(),
                            service_type: service_type.to_owned(),
                            state: state.to_owned(),
                            open_only,
                            overdue_only,
                            ..Default::default()
                        });
                    }
                }
            }
        }
    }
    requests
}

#[test]
fn every_jurisdiction_and_filter_pages_from_the_index_as_the_scan_did() {
    let (_dir, store) = filled(1_500, 512);
    let scan = Everything::read(&store);
    let total = scan.referrals.len();
    assert!(total > 1_500, "{total} referrals");
    let mut non_empty = 0;
    for jurisdiction in jurisdictions() {
        for r in requests() {
            let filter = filter(&r);
            // The scan's answer, everything in one page, then cut in pages.
            let everything = Page {
                size: usize::MAX,
                after: None,
            };
            let (all, _) = scanned(&scan, &jurisdiction, &r, &everything);
            for size in [1_u32, 29] {
                let mut expected = all.chunks(size as usize).peekable();
                let mut token = String::new();
                for number in 0.. {
                    let asked = page(size, &token);
                    let want = expected.next().unwrap_or_default();
                    let want_token = match (want.last(), expected.peek()) {
                        (Some(last), Some(_)) => hex::encode(referral_key(last)),
                        _ => String::new(),
                    };
                    let (got, next, _) =
                        list_referrals(&store, &jurisdiction, &filter, &r, &asked).expect("page");
                    assert_eq!(
                        (got.as_slice(), &next),
                        (want, &want_token),
                        "{jurisdiction:?} {r:?} page {number}"
                    );
                    // The scan given the same token answers the same page.
                    if number == 1 {
                        assert_eq!(
                            (got.clone(), next.clone()),
                            scanned(&scan, &jurisdiction, &r, &asked)
                        );
                    }
                    non_empty += usize::from(number == 0 && !got.is_empty());
                    // Pages of one: the first few are enough.
                    if next.is_empty() || (size == 1 && number == 3) {
                        break;
                    }
                    token = next;
                }
            }
        }
    }
    assert!(non_empty > 200, "most lists hold referrals: {non_empty}");
}

#[test]
fn every_inbox_pages_from_the_index_as_the_scan_did() {
    let (_dir, store) = filled(1_500, 512);
    let all = projection::all_referrals(&store).expect("all");
    for organisation in RECEIVERS.iter().chain(&["org-none"]) {
        for state in ["", "draft", "sent", "accepted", "bogus"] {
            let mut token = String::new();
            let mut walked = 0;
            loop {
                let asked = page(23, &token);
                let mine: Vec<api::ReferralView> = all
                    .iter()
                    .filter(|x| x.receiver_organisation_id == *organisation)
                    .filter(|x| x.state != ReferralState::Draft.code())
                    .filter(|x| state.is_empty() || x.state == state)
                    .cloned()
                    .collect();
                let want = asked.take(mine, referral_key);
                let (got, next, _) =
                    list_inbox(&store, organisation, state, &asked).expect("inbox");
                assert_eq!(
                    (&got, &next),
                    (&want.0, &want.1),
                    "{organisation} {state:?}"
                );
                walked += got.len();
                if next.is_empty() {
                    break;
                }
                token = next;
            }
            if *organisation != "org-none" && state.is_empty() {
                assert!(walked > 100, "{organisation}: {walked}");
            }
        }
    }
}

#[test]
fn a_page_reads_a_bounded_number_of_entries_and_rows_whatever_the_number_of_referrals() {
    let everyone = api::ListReferralsRequest::default();
    let open = api::ListReferralsRequest {
        open_only: true,
        ..Default::default()
    };
    let sent = api::ListReferralsRequest {
        state: "sent".to_owned(),
        ..Default::default()
    };
    let mut costs = Vec::new();
    for cases in [500, 2_000] {
        let (_dir, store) = filled(cases, 512);
        let mut these: Vec<ListCost> = Vec::new();
        for jurisdiction in [
            Jurisdiction::Unplaced,
            Jurisdiction::Province("RM".to_owned()),
            Jurisdiction::Facility {
                facility: "facility-ag-0".to_owned(),
                province: Some("AG".to_owned()),
            },
        ] {
            for r in [&everyone, &open, &sent] {
                let first = page(10, "");
                let (got, next, cost) =
                    list_referrals(&store, &jurisdiction, &filter(r), r, &first).expect("page");
                assert_eq!(got.len(), 10, "{jurisdiction:?} {r:?}");
                let (_, _, second) =
                    list_referrals(&store, &jurisdiction, &filter(r), r, &page(10, &next))
                        .expect("page");
                // The page's entries, and one entry ahead in each state's range.
                let states = if r.state.is_empty() { 13 } else { 1 };
                for cost in [cost, second] {
                    assert!(
                        (11..=10 + states).contains(&cost.entries),
                        "{jurisdiction:?} {r:?}: {cost:?}"
                    );
                    assert!(cost.rows <= 10, "{jurisdiction:?} {r:?}: {cost:?}");
                }
                these.push(ListCost {
                    entries: cost.entries + second.entries,
                    rows: 0,
                });
            }
        }
        let (_, _, inbox) = list_inbox(&store, "org-c", "", &page(10, "")).expect("inbox");
        assert!((11..=10 + 12).contains(&inbox.entries), "{inbox:?}");
        these.push(ListCost {
            entries: inbox.entries,
            rows: 0,
        });
        costs.push(these);
    }
    assert_eq!(
        costs[0], costs[1],
        "the same entries read at 500 and 2,000 cases"
    );
}

#[test]
fn a_rebuild_writes_the_same_index_as_the_referrals_and_facts_give_now() {
    let (_dir, store) = filled(600, 512);
    let digest = store.content_digest().expect("digest");
    store.reset().expect("reset");
    for batch in commits(600).chunks(61) {
        store
            .apply_batch(&ReferralProjection, batch)
            .expect("applied");
    }
    assert_eq!(store.content_digest().expect("digest"), digest);
    // No entry left where a referral or its case was.
    let mut expected = Vec::new();
    for (case_id, _) in store.scan(projection::CASES, b"").expect("cases") {
        let case_id = String::from_utf8(case_id).expect("utf8");
        let case = projection::case_referrals(&store, &case_id)
            .expect("case")
            .expect("row");
        let facts = projection::case_facts(&store, &case_id).expect("facts");
        expected.extend(projection::list_entries(&case_id, facts.as_ref(), &case));
    }
    expected.sort();
    assert_eq!(
        store.scan(projection::LIST_INDEX, b"").expect("index"),
        expected
    );
}

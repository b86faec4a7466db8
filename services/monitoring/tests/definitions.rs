//! The indicators' definitions on pathways folded from events: assessment
//! completed only when nothing suspected before the first assessment is still
//! to assess; a late-opened case's check is on time when its screening
//! deadline (from the opening) was met; safe-space places, occupancy, waiting
//! and places per 10,000 inhabitants at the period's end; unaccompanied
//! minors' days in first reception; and suppression of every small cell.

use std::collections::BTreeMap;

use case_facts::Recorded;
use case_log_jetstream::contract::event_type;
use contracts::safe_space::v1 as safe_space;
use contracts::screening::v1 as screening;
use monitoring::compute::{Computed, Dimension, Query, compute};
use monitoring::pathway::{CasePathway, SpaceRecord};
use prost::{Message, Name};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-06-01 08:00 UTC);

fn at(sequence: u64, when: OffsetDateTime) -> Recorded {
    Recorded {
        sequence,
        occurred_at: Some(when),
    }
}

fn ts(when: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(case_log_jetstream::envelope::timestamp(when))
}

fn screen<M: Message + Name>(pathway: &mut CasePathway, when: OffsetDateTime, message: M) {
    pathway
        .apply_screening(at(1, when), &event_type::<M>(), &message.encode_to_vec())
        .expect("decodes");
}

fn opened(
    province: &str,
    kind: &str,
    arrived: OffsetDateTime,
    opened: OffsetDateTime,
) -> CasePathway {
    let mut pathway = CasePathway::default();
    screen(
        &mut pathway,
        opened,
        screening::CaseOpened {
            province: province.to_owned(),
            facility_id: format!("{kind}-1"),
            facility_kind: kind.to_owned(),
            application_date: "2026-06-01".to_owned(),
            arrival: Some(screening::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(arrived),
            }),
            opened_at: ts(opened),
            ..Default::default()
        },
    );
    pathway
}

fn suspect(pathway: &mut CasePathway, when: OffsetDateTime, categories: &[&str]) {
    screen(
        pathway,
        when,
        screening::PreliminaryCheckRecorded {
            suspected: categories
                .iter()
                .map(|c| screening::SuspectedCategory {
                    category: (*c).to_owned(),
                    ..Default::default()
                })
                .collect(),
            checked_at: ts(when),
            ..Default::default()
        },
    );
}

fn assess(pathway: &mut CasePathway, when: OffsetDateTime, confirmed: &[&str], still: &[&str]) {
    screen(
        pathway,
        when,
        screening::AssessmentRecorded {
            outcomes: confirmed
                .iter()
                .map(|c| screening::CategoryOutcome {
                    category: (*c).to_owned(),
                    status: "confirmed".to_owned(),
                    ..Default::default()
                })
                .collect(),
            still_to_assess: still.iter().map(|c| (*c).to_owned()).collect(),
            assessed_at: ts(when),
            ..Default::default()
        },
    );
}

fn query(indicators: &[&str], group_by: &[Dimension], to: OffsetDateTime) -> Query {
    Query {
        to,
        group_by: group_by.to_vec(),
        indicators: indicators.iter().map(|i| (*i).to_owned()).collect(),
        ..Query::default()
    }
}

fn only(tables: Vec<Computed>) -> Computed {
    assert_eq!(tables.len(), 1);
    tables.into_iter().next().expect("one")
}

#[test]
fn an_assessment_is_completed_when_nothing_suspected_before_it_is_still_to_assess() {
    let mut cases = Vec::new();
    for i in 0..6 {
        let mut p = opened("AG", "hotspot", T0, T0);
        suspect(&mut p, T0 + Duration::hours(2), &["GBV", "TRAFFICKING"]);
        // A first assessment confirms GBV; TRAFFICKING is still to assess.
        assess(&mut p, T0 + Duration::days(3), &["GBV"], &["TRAFFICKING"]);
        assert_eq!(
            p.assessment_completed_at, None,
            "not completed by a first assessment"
        );
        assess(&mut p, T0 + Duration::days(10 + i), &["TRAFFICKING"], &[]);
        cases.push((format!("case-{i}"), p));
    }
    let table = only(compute(
        &query(
            &["2.application_to_assessment_completed"],
            &[],
            T0 + Duration::days(40),
        ),
        &cases,
        &[],
        &[],
        &BTreeMap::new(),
    ))
    .table;
    let total = table.total.expect("total");
    assert_eq!(total.cells, vec![Some(6)]);
    // From the start of 2026-06-01 in Rome (22:00 UTC the day before) to day 10..15 at 08:00.
    let hours = |days: i64| (Duration::days(days) + Duration::hours(10)).whole_hours() as f64;
    assert_eq!(total.median, Some((hours(12) + hours(13)) / 2.0));
    assert_eq!(total.p90, Some(hours(15)));
}

#[test]
fn a_case_opened_weeks_after_landing_is_checked_on_time_against_its_opening() {
    let mut cases = Vec::new();
    for i in 0..5 {
        // Landed in May, opened in a CAS on 1 June, checked the next day.
        let mut p = opened(
            "RM",
            "cas",
            T0 - Duration::weeks(4),
            T0 + Duration::hours(i),
        );
        suspect(&mut p, T0 + Duration::days(1), &["MENTAL_HEALTH"]);
        cases.push((format!("late-{i}"), p));
    }
    let table = only(compute(
        &query(
            &["1.preliminary_check"],
            &[Dimension::Month],
            T0 + Duration::days(30),
        ),
        &cases,
        &[],
        &[],
        &BTreeMap::new(),
    ))
    .table;
    assert_eq!(table.rows.len(), 1);
    assert_eq!(
        table.rows[0].group,
        vec!["2026-06".to_owned()],
        "the month of the opening"
    );
    assert_eq!(table.rows[0].cells[0], Some(5), "checked on time");
}

fn space(province: &str, places: u32) -> SpaceRecord {
    let mut record = None;
    SpaceRecord::apply(
        &mut record,
        at(1, T0),
        &event_type::<safe_space::SafeSpaceRegistered>(),
        &safe_space::SafeSpaceRegistered {
            space_id: "s".to_owned(),
            profile: Some(safe_space::SpaceProfile {
                kind: "gbv_shelter".to_owned(),
                province: province.to_owned(),
                capacity: Some(safe_space::Capacity {
                    beds: places,
                    family_rooms: 0,
                }),
                ..Default::default()
            }),
            registered_at: ts(T0),
            ..Default::default()
        }
        .encode_to_vec(),
    )
    .expect("decodes");
    record.expect("registered")
}

fn request(pathway: &mut CasePathway, requested: OffsetDateTime, reserved: Option<OffsetDateTime>) {
    let alloc = |p: &mut CasePathway, when: OffsetDateTime, t: String, payload: Vec<u8>| {
        p.apply_allocator(at(1, when), "AG", "gbv_shelter", &t, &payload)
            .expect("decodes");
    };
    alloc(
        pathway,
        requested,
        event_type::<safe_space::PlaceRequested>(),
        safe_space::PlaceRequested {
            case_id: "c".to_owned(),
            urgency: "high".to_owned(),
            requested_at: ts(requested),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    if let Some(reserved) = reserved {
        alloc(
            pathway,
            reserved,
            event_type::<safe_space::PlaceReserved>(),
            safe_space::PlaceReserved {
                case_id: "c".to_owned(),
                reserved_at: ts(reserved),
                ..Default::default()
            }
            .encode_to_vec(),
        );
    }
}

#[test]
fn safe_space_places_occupancy_waiting_and_places_per_10000_inhabitants_at_the_periods_end() {
    let spaces = vec![
        space("AG", 12),
        space("AG", 8),
        space("PA", 6),
        space("RM", 3),
    ];
    let mut cases = Vec::new();
    for i in 0..9 {
        let mut p = opened("AG", "hotspot", T0, T0);
        let reserved = (i < 6).then(|| T0 + Duration::hours(2 * (i + 1)));
        request(&mut p, T0 + Duration::hours(1), reserved);
        cases.push((format!("c{i}"), p));
    }
    let population = BTreeMap::from([("AG".to_owned(), 400_000), ("RM".to_owned(), 4_000_000)]);
    let end = T0 + Duration::days(1);
    let places = only(compute(
        &query(&["9.safe_space_places"], &[Dimension::Province], end),
        &cases,
        &spaces,
        &[],
        &population,
    ));
    let ag = &places.table.rows[0];
    assert_eq!(ag.group, vec!["AG".to_owned()]);
    assert_eq!(ag.cells[0], Some(20), "places");
    assert_eq!(ag.cells[1], Some(6), "occupied");
    assert_eq!(ag.cells[2], None, "3 waiting: suppressed");
    assert_eq!(places.per_10000.get(&ag.group), Some(&0.5));
    let pa = &places.table.rows[1];
    assert_eq!(
        pa.cells[0], None,
        "6 places, hidden: the column total less AG's would reveal RM's 3"
    );
    let rm = &places.table.rows[2];
    assert_eq!(rm.cells[0], None, "3 places: suppressed");
    assert!(places.table.protected.recoverable().is_empty());
    assert!(
        !places.per_10000.contains_key(&rm.group),
        "no rate from a suppressed count"
    );

    let waiting = only(compute(
        &query(&["9.safe_space_waiting_time"], &[], end),
        &cases,
        &spaces,
        &[],
        &population,
    ));
    let total = waiting.table.total.expect("total");
    assert_eq!(total.cells, vec![Some(6)]);
    assert_eq!(
        total.median,
        Some(6.0),
        "1, 3, 5, 7, 9, 11 hours: (5 + 7) / 2"
    );
}

#[test]
fn unaccompanied_minors_days_in_first_reception_run_to_the_stay_end_or_the_periods_end() {
    let mut cases = Vec::new();
    for i in 0..5 {
        let mut p = opened("AG", "hotspot", T0, T0);
        suspect(&mut p, T0, &["UNACCOMPANIED_MINOR"]);
        if i < 2 {
            screen(
                &mut p,
                T0 + Duration::days(20),
                screening::CasePlaced {
                    facility_id: "sai-1".to_owned(),
                    province: "AG".to_owned(),
                    facility_kind: "sai".to_owned(),
                    placed_at: ts(T0 + Duration::days(20)),
                    ..Default::default()
                },
            );
        }
        cases.push((format!("m{i}"), p));
    }
    // An adult's stay is not counted.
    cases.push(("adult".to_owned(), opened("AG", "hotspot", T0, T0)));
    let end = T0 + Duration::days(50);
    let days = only(compute(
        &query(&["10.days_in_first_reception"], &[], end),
        &cases,
        &[],
        &[],
        &BTreeMap::new(),
    ));
    let total = days.table.total.expect("total");
    assert_eq!(total.cells, vec![Some(5)]);
    assert_eq!(total.median, Some(50.0), "20, 20, 50, 50, 50");
    assert_eq!(total.p90, Some(50.0));
}

#[test]
fn transfers_follow_ups_detentions_and_late_needs_are_counted_from_their_events() {
    let mut cases = Vec::new();
    for i in 0..11 {
        let mut p = opened("AG", "hotspot", T0, T0);
        suspect(&mut p, T0, &["TORTURE", "LGBTIQ"]);
        screen(
            &mut p,
            T0 + Duration::days(2),
            screening::CasePlaced {
                facility_id: "cas-roma-1".to_owned(),
                province: "RM".to_owned(),
                facility_kind: "cas".to_owned(),
                placed_at: ts(T0 + Duration::days(2)),
                arrival_due_at: ts(T0 + Duration::days(5)),
                ..Default::default()
            },
        );
        if i < 6 {
            screen(
                &mut p,
                T0 + Duration::days(3),
                screening::FollowUpRecorded {
                    outcome: "found".to_owned(),
                    at: ts(T0 + Duration::days(3)),
                    ..Default::default()
                },
            );
        } else {
            screen(
                &mut p,
                T0 + Duration::days(6),
                screening::LostToFollowUp::default(),
            );
        }
        // Needs raised after the first assessment: 35 and 10 days after the application (1 June).
        for days in [35, 10] {
            screen(
                &mut p,
                T0 + Duration::days(days),
                screening::NeedIdentifiedAfterAssessment {
                    category: "MENTAL_HEALTH".to_owned(),
                    raised_at: ts(T0 + Duration::days(days)),
                    ..Default::default()
                },
            );
        }
        screen(
            &mut p,
            T0 + Duration::days(4),
            screening::VulnerablePersonDetained {
                categories: vec!["TORTURE".to_owned(), "LGBTIQ".to_owned()],
                age_band: "18+".to_owned(),
                detained_at: ts(T0 + Duration::days(4)),
                ..Default::default()
            },
        );
        cases.push((format!("t{i}"), p));
    }
    let end = T0 + Duration::days(60);
    let run = |id: &str, group_by: &[Dimension]| {
        only(compute(
            &query(&[id], group_by, end),
            &cases,
            &[],
            &[],
            &BTreeMap::new(),
        ))
        .table
    };
    let transfers = run("6.lost_after_transfer", &[Dimension::Province]);
    assert_eq!(
        transfers.rows[0].group,
        vec!["RM".to_owned()],
        "the new province"
    );
    assert_eq!(transfers.rows[0].cells, vec![Some(6), Some(5)]);
    let late = run("7.late_identification", &[]);
    let total = late.total.expect("total");
    assert_eq!(
        total.cells[0],
        Some(11),
        "within 30 days of the application"
    );
    assert_eq!(total.cells[1], Some(11), "after 30 days");
    let detained = run("8.vulnerable_people_detained", &[Dimension::Category]);
    let groups: Vec<Vec<String>> = detained.rows.iter().map(|r| r.group.clone()).collect();
    assert_eq!(groups, vec![vec!["TORTURE".to_owned()]], "never LGBTIQ");
    assert_eq!(detained.rows[0].cells, vec![Some(11)]);
}

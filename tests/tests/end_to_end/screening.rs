//! The screening service end to end, in process, over gRPC against a real
//! nats-server: a case's journey, idempotent retries, deadlines driven by an
//! injected clock across restarts, projection rebuild, and a flood of invalid input.

use contracts::admin::v1 as admin;
use contracts::person::v1 as person;
use contracts::screening::v1 as api;
use rand::{Rng, SeedableRng};
use service_runtime::caller::OrganisationType;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;

use crate::support::{
    Caller, ScreeningClient as Client, Service, System, eventually, token, ts, until_some,
    with_token,
};

const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);

/// The reception operator of the hotspot where the cases arrive.
fn operator() -> Caller {
    Caller::operator("hotspot-lampedusa", "AG")
}

fn as_operator<T>(message: T) -> tonic::Request<T> {
    operator().request(message)
}

fn open_request(
    request_id: &str,
    arrived_at: OffsetDateTime,
    application_date: &str,
) -> api::OpenCaseRequest {
    api::OpenCaseRequest {
        request_id: request_id.to_owned(),
        arrival: Some(api::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: ts(arrived_at),
        }),
        province: "AG".to_owned(),
        facility_id: "hotspot-lampedusa".to_owned(),
        family_links: vec![],
        application_date: application_date.to_owned(),
        personal_data: Some(person::PersonalData {
            given_names: "Amina Zephyrine".to_owned(),
            family_names: "Quellbrook".to_owned(),
            date_of_birth: "1999-02-03".to_owned(),
            nationalities: vec!["NGA".to_owned()],
            languages: vec!["en".to_owned()],
            sex: "female".to_owned(),
            ..Default::default()
        }),
        special_category_details: None,
        ..Default::default()
    }
}

async fn history_types(client: &mut Client, case_id: &str, min: u64) -> Vec<String> {
    client
        .get_case_history(as_operator(api::GetCaseHistoryRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await
        .expect("history")
        .into_inner()
        .entries
        .into_iter()
        .flat_map(|e| e.event_types)
        .map(|t| t.trim_start_matches("approdo.screening.v1.").to_owned())
        .collect()
}

async fn get_case(client: &mut Client, case_id: &str, min: u64) -> api::CaseView {
    client
        .get_case(as_operator(api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await
        .expect("get case")
        .into_inner()
        .case
        .expect("case")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_is_opened_checked_signalled_assessed_and_read_back_in_order() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let log = system.log().await;

    let opened = client
        .open_case(as_operator(open_request(
            "open-1",
            NOW - time::Duration::days(2),
            "",
        )))
        .await
        .expect("open")
        .into_inner();
    let case_id = opened.case_id.clone();

    // A retry with the same request id: same case, same sequence, nothing appended.
    let retried = client
        .open_case(as_operator(open_request(
            "open-1",
            NOW - time::Duration::days(2),
            "",
        )))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.case_id, case_id);
    assert_eq!(retried.log_sequence, opened.log_sequence);
    assert_eq!(
        log.last_sequence().await.expect("last"),
        opened.log_sequence
    );

    client
        .record_preliminary_check(as_operator(api::RecordPreliminaryCheckRequest {
            request_id: "check-1".to_owned(),
            case_id: case_id.clone(),
            suspected: vec![api::SuspectedCategory {
                category: "GBV".to_owned(),
                indicators: vec!["disclosure_to_staff".to_owned()],
                ..Default::default()
            }],
            urgent_care_needed: false,
            health_flags: vec![],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(NOW - time::Duration::days(2) + time::Duration::hours(5)),
        }))
        .await
        .expect("check");
    client
        .raise_vulnerability_signal(as_operator(api::RaiseVulnerabilitySignalRequest {
            request_id: "signal-1".to_owned(),
            case_id: case_id.clone(),
            suspected: Some(api::SuspectedCategory {
                category: "TRAFFICKING".to_owned(),
                indicators: vec!["debt_bondage".to_owned()],
                ..Default::default()
            }),
            urgency: "immediate".to_owned(),
            raised_by_role: "cultural_mediator".to_owned(),
            raised_at: ts(NOW - time::Duration::days(1)),
            gbv_disclosure: false,
        }))
        .await
        .expect("signal");
    client
        .record_application(as_operator(api::RecordApplicationRequest {
            request_id: "application-1".to_owned(),
            case_id: case_id.clone(),
            application_date: "2026-06-19".to_owned(),
        }))
        .await
        .expect("application");
    let assessed = client
        .record_assessment(as_operator(api::RecordAssessmentRequest {
            request_id: "assessment-1".to_owned(),
            case_id: case_id.clone(),
            outcomes: vec![
                api::CategoryOutcome {
                    category: "GBV".to_owned(),
                    status: "confirmed".to_owned(),
                    ..Default::default()
                },
                api::CategoryOutcome {
                    category: "TRAFFICKING".to_owned(),
                    status: "ruled_out".to_owned(),
                    ..Default::default()
                },
            ],
            special_reception_needs: true,
            special_procedural_guarantees: true,
            assessed_at: ts(NOW),
            assessor_role: "psychologist".to_owned(),
            // Says nothing of the urgency: it stays as the signals raised it.
            urgency: String::new(),
        }))
        .await
        .expect("assessment")
        .into_inner();

    // Confirming a category twice is refused, and nothing is appended.
    let twice = client
        .record_assessment(as_operator(api::RecordAssessmentRequest {
            request_id: "assessment-2".to_owned(),
            case_id: case_id.clone(),
            outcomes: vec![api::CategoryOutcome {
                category: "GBV".to_owned(),
                status: "confirmed".to_owned(),
                ..Default::default()
            }],
            assessed_at: ts(NOW),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        }))
        .await
        .expect_err("confirmed twice");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(
        log.last_sequence().await.expect("last"),
        assessed.log_sequence
    );

    let view = get_case(&mut client, &case_id, assessed.log_sequence).await;
    assert_eq!(view.current_urgency, "immediate");
    // The sex the sealed personal data records is on the case in clear (for
    // sex-separated places); the name is not.
    assert_eq!(view.sex, "female");
    assert!(view.special_reception_needs && view.special_procedural_guarantees);
    let status = |code: &str| {
        view.categories
            .iter()
            .find(|c| c.category == code)
            .map(|c| {
                (
                    c.status.clone(),
                    c.history
                        .iter()
                        .map(|h| h.status.clone())
                        .collect::<Vec<_>>(),
                )
            })
    };
    assert_eq!(
        status("GBV"),
        Some((
            "confirmed".to_owned(),
            vec!["suspected".to_owned(), "confirmed".to_owned()]
        ))
    );
    assert_eq!(
        status("TRAFFICKING"),
        Some((
            "ruled_out".to_owned(),
            vec!["suspected".to_owned(), "ruled_out".to_owned()]
        ))
    );
    let screening = view.screening_deadline.expect("screening deadline");
    assert!(screening.met_at.is_some() && !screening.missed);
    assert_eq!(view.application_date, "2026-06-19");
    assert!(
        view.assessment_deadline
            .expect("assessment deadline")
            .met_at
            .is_some()
    );

    assert_eq!(
        history_types(&mut client, &case_id, 0).await,
        [
            "CaseOpened",
            "PreliminaryCheckRecorded",
            "VulnerabilitySignalRaised",
            "ApplicationRecorded",
            "AssessmentRecorded"
        ]
    );

    // The list finds it by province, category and status, and not by another province.
    let listed = client
        .list_cases(as_operator(api::ListCasesRequest {
            province: "AG".to_owned(),
            category: "GBV".to_owned(),
            category_status: "confirmed".to_owned(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.cases.len(), 1);
    // A reception operator reads the cases of its own facility only.
    let elsewhere = client
        .list_cases(as_operator(api::ListCasesRequest {
            facility_id: "cas-elsewhere".to_owned(),
            ..Default::default()
        }))
        .await
        .expect_err("another facility");
    assert_eq!(elsewhere.code(), Code::PermissionDenied);
    let neighbour = token(
        OrganisationType::ReceptionOperator,
        "cas-agrigento-2",
        Some("AG"),
    );
    let theirs = client
        .list_cases(with_token(api::ListCasesRequest::default(), &neighbour))
        .await
        .expect("their own list")
        .into_inner();
    assert!(
        theirs.cases.is_empty(),
        "same province, another facility: {theirs:?}"
    );
    let refused = client
        .get_case(with_token(
            api::GetCaseRequest {
                case_id: case_id.clone(),
                min_log_sequence: 0,
            },
            &neighbour,
        ))
        .await
        .expect_err("another facility's case");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = client
        .record_application(with_token(
            api::RecordApplicationRequest {
                request_id: "neighbour-writes".to_owned(),
                case_id: case_id.clone(),
                application_date: "2026-01-01".to_owned(),
            },
            &neighbour,
        ))
        .await
        .expect_err("another facility's case is not theirs to write");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let rome = token(OrganisationType::Prefecture, "prefettura-rm", Some("RM"));
    let not_theirs = client
        .get_case(with_token(
            api::GetCaseRequest {
                case_id: case_id.clone(),
                min_log_sequence: 0,
            },
            &rome,
        ))
        .await
        .expect_err("a case of Agrigento");
    assert_eq!(not_theirs.code(), Code::PermissionDenied);
    let rome_list = client
        .list_cases(with_token(api::ListCasesRequest::default(), &rome))
        .await
        .expect("list")
        .into_inner();
    assert!(
        rome_list.cases.is_empty(),
        "Rome's prefecture sees none of Agrigento's cases"
    );
    let rome_identity = client
        .get_case_identity(with_token(
            api::GetCaseIdentityRequest {
                case_id: case_id.clone(),
                purpose: "transfer".to_owned(),
            },
            &rome,
        ))
        .await
        .expect_err("identity of another province");
    assert_eq!(rome_identity.code(), Code::PermissionDenied);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_in_priority_order_pages_most_urgent_and_minors_first() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;

    // (request, hours since arrival, signal category, urgency)
    let people = [
        ("p-standard-old", 40, Some(("SERIOUS_ILLNESS", "standard"))),
        ("p-none", 50, None),
        ("p-immediate", 5, Some(("GBV", "immediate"))),
        ("p-high-minor", 10, Some(("UNACCOMPANIED_MINOR", "high"))),
        ("p-high-adult-old", 30, Some(("DISABILITY", "high"))),
        ("p-standard-new", 20, Some(("ELDERLY", "standard"))),
    ];
    let mut ids = std::collections::HashMap::new();
    let mut last = 0;
    for (request, hours, signal) in people {
        let arrived = NOW - time::Duration::hours(hours);
        let opened = client
            .open_case(as_operator(open_request(request, arrived, "")))
            .await
            .expect("open")
            .into_inner();
        last = opened.log_sequence;
        if let Some((category, urgency)) = signal {
            last = client
                .raise_vulnerability_signal(as_operator(api::RaiseVulnerabilitySignalRequest {
                    request_id: format!("{request}-signal"),
                    case_id: opened.case_id.clone(),
                    suspected: Some(api::SuspectedCategory {
                        category: category.to_owned(),
                        indicators: vec![],
                        ..Default::default()
                    }),
                    urgency: urgency.to_owned(),
                    raised_by_role: "operator".to_owned(),
                    raised_at: ts(arrived + time::Duration::hours(1)),
                    gbv_disclosure: false,
                }))
                .await
                .expect("signal")
                .into_inner()
                .log_sequence;
        }
        ids.insert(opened.case_id, request);
    }
    let mut order = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_cases(as_operator(api::ListCasesRequest {
                order: api::ListOrder::Priority as i32,
                page_size: 4,
                page_token: token.clone(),
                min_log_sequence: last,
                ..Default::default()
            }))
            .await
            .expect("page")
            .into_inner();
        assert!(page.cases.len() <= 4);
        order.extend(page.cases.iter().map(|c| ids[&c.case_id]));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        order,
        [
            "p-immediate",
            "p-high-adult-old",
            "p-high-minor",
            "p-standard-old",
            "p-standard-new",
            "p-none"
        ]
    );
    system.stop().await;
}

fn count(types: &[String], wanted: &str) -> usize {
    types.iter().filter(|t| *t == wanted).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_deadline_produces_exactly_one_missed_event_across_restarts() {
    // Arrived on 13 June: screening is due at the end of 20 June in Rome
    // (22:00 UTC). Application on 2026-05-22: the assessment is due at the
    // end of 21 June in Rome (2026-06-21 22:00 UTC).
    let arrived = NOW - time::Duration::days(6) - time::Duration::hours(23);
    let mut system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let opened = client
        .open_case(as_operator(open_request(
            "deadline-case",
            arrived,
            "2026-05-22",
        )))
        .await
        .expect("open")
        .into_inner();
    let case_id = opened.case_id;
    let view = get_case(&mut client, &case_id, opened.log_sequence).await;
    assert!(!view.screening_deadline.expect("deadline").missed);

    // A whole pass of the deadline watcher before the deadline: nothing.
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    let last = system.log().await.last_sequence().await.expect("last");
    let types = history_types(&mut client, &case_id, last).await;
    assert_eq!(types, ["CaseOpened"]);

    // Stop before, move past the screening deadline while down, start again.
    system.stop_service(Service::Screening).await;
    system.advance(time::Duration::hours(13));
    system.start_service(Service::Screening).await;
    let client = system.screening(&operator()).await;
    eventually("screening deadline missed", || {
        let mut client = client.clone();
        let case_id = case_id.clone();
        async move {
            count(
                &history_types(&mut client, &case_id, 0).await,
                "ScreeningDeadlineMissed",
            ) == 1
        }
    })
    .await;
    // Restart right after: still one once the new instance has checked them all.
    system.restart(Service::Screening).await;
    let mut client = system.screening(&operator()).await;
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    let last = system.log().await.last_sequence().await.expect("last");
    let types = history_types(&mut client, &case_id, last).await;
    assert_eq!(count(&types, "ScreeningDeadlineMissed"), 1);
    assert_eq!(
        count(&types, "AssessmentDeadlineMissed"),
        0,
        "the assessment is due tomorrow"
    );

    // Past the assessment deadline: one event, also with two services racing.
    system.advance(time::Duration::days(1));
    let second = system.start_replica(Service::Screening).await;
    eventually("assessment deadline missed", || {
        let mut client = client.clone();
        let case_id = case_id.clone();
        async move {
            count(
                &history_types(&mut client, &case_id, 0).await,
                "AssessmentDeadlineMissed",
            ) == 1
        }
    })
    .await;
    // Both watchers pass again, after the one event was seen: still one each.
    system.advance(time::Duration::seconds(1));
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    second.deadlines_checked(system.now()).await;
    let last = system.log().await.last_sequence().await.expect("last");
    let types = history_types(&mut client, &case_id, last).await;
    assert_eq!(count(&types, "ScreeningDeadlineMissed"), 1);
    assert_eq!(count(&types, "AssessmentDeadlineMissed"), 1);

    let view = get_case(&mut client, &case_id, last).await;
    let screening = view.screening_deadline.expect("screening");
    assert!(screening.missed && screening.overdue);
    let overdue = client
        .list_cases(as_operator(api::ListCasesRequest {
            overdue_only: true,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(overdue.cases.len(), 1);
    second.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_the_projection_from_zero_gives_the_same_content() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let mut last = 0;
    for i in 0..12 {
        let opened = client
            .open_case(as_operator(open_request(
                &format!("r-{i}"),
                NOW - time::Duration::hours(i + 1),
                "",
            )))
            .await
            .expect("open")
            .into_inner();
        last = client
            .raise_vulnerability_signal(as_operator(api::RaiseVulnerabilitySignalRequest {
                request_id: format!("r-{i}-signal"),
                case_id: opened.case_id,
                suspected: Some(api::SuspectedCategory {
                    category: "MENTAL_HEALTH".to_owned(),
                    indicators: vec![],
                    ..Default::default()
                }),
                urgency: "standard".to_owned(),
                raised_by_role: "nurse".to_owned(),
                raised_at: ts(NOW - time::Duration::minutes(30)),
                gbv_disclosure: false,
            }))
            .await
            .expect("signal")
            .into_inner()
            .log_sequence;
    }
    let first = client_first_case(&mut client).await;
    get_case(&mut client, &first, last).await;
    let mut admin = system
        .admin(Service::Screening, &Caller::administrator())
        .await;
    let before = system.projection_status(Service::Screening).await;
    assert_eq!(before.position, last);

    admin
        .rebuild_projection(admin::RebuildProjectionRequest {})
        .await
        .expect("rebuild");
    // Queries wait for the rebuild to reach the sequence they ask for.
    let first = client_first_case(&mut client).await;
    get_case(&mut client, &first, last).await;
    let after = system.projection_status(Service::Screening).await;
    assert_eq!(after.position, last);
    assert_eq!(after.content_digest, before.content_digest);

    // Last, as the refusal is itself recorded in the log.
    let refused = admin
        .rebuild_projection(as_operator(admin::RebuildProjectionRequest {}))
        .await
        .expect_err("operators may not rebuild");
    assert_eq!(refused.code(), Code::PermissionDenied);
    system.stop().await;
}

async fn client_first_case(client: &mut Client) -> String {
    until_some("a case is listed", || {
        let mut client = client.clone();
        async move {
            let listed = client
                .list_cases(as_operator(api::ListCasesRequest {
                    page_size: 1,
                    ..Default::default()
                }))
                .await
                .expect("list")
                .into_inner();
            listed.cases.first().map(|case| case.case_id.clone())
        }
    })
    .await
}

/// A random string that is never a valid id, code or date: it always holds a
/// character no id, code or date allows, among other plausible pieces.
fn garbage(rng: &mut impl Rng) -> String {
    const NEVER_VALID: &[&str] = &["Ω", " ", "*", ">", "\u{0}", "..", "é"];
    const PIECES: &[&str] = &[
        "",
        "gbv",
        "GBV",
        "2026-13-45",
        "DROP TABLE",
        "case-1",
        "LONG",
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(0..3) {
        match PIECES[rng.random_range(0..PIECES.len())] {
            "LONG" => s.push_str(&"x".repeat(300)),
            piece => s.push_str(piece),
        }
    }
    let at = rng.random_range(0..=s.len());
    let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
    s.insert_str(at, NEVER_VALID[rng.random_range(0..NEVER_VALID.len())]);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_invalid_requests_is_refused_appends_nothing_and_the_service_keeps_serving() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let log = system.log().await;
    let opened = client
        .open_case(as_operator(open_request(
            "valid",
            NOW - time::Duration::days(1),
            "",
        )))
        .await
        .expect("open")
        .into_inner();
    let before = log.last_sequence().await.expect("last");

    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for round in 0..400 {
        let bad = garbage(&mut rng);
        let maybe = |rng: &mut rand::rngs::StdRng, good: &str| {
            if rng.random_bool(0.5) {
                good.to_owned()
            } else {
                garbage(rng)
            }
        };
        let future = ts(NOW + time::Duration::days(rng.random_range(1..400)));
        let result = match round % 6 {
            0 => client
                .open_case(as_operator(api::OpenCaseRequest {
                    request_id: format!("flood-{round}"),
                    arrival: Some(api::Arrival {
                        place: bad.clone(),
                        arrived_at: future,
                    }),
                    province: maybe(&mut rng, "AG"),
                    facility_id: maybe(&mut rng, "cas-1"),
                    application_date: maybe(&mut rng, "2026-01-01"),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            1 => client
                .record_preliminary_check(as_operator(api::RecordPreliminaryCheckRequest {
                    request_id: maybe(&mut rng, "req"),
                    case_id: opened.case_id.clone(),
                    suspected: vec![api::SuspectedCategory {
                        category: bad.clone(),
                        indicators: vec![garbage(&mut rng)],
                        ..Default::default()
                    }],
                    urgency: maybe(&mut rng, "high"),
                    place: maybe(&mut rng, "LAMPEDUSA"),
                    checked_at: ts(NOW),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            2 => client
                .raise_vulnerability_signal(as_operator(api::RaiseVulnerabilitySignalRequest {
                    request_id: format!("flood-{round}"),
                    case_id: maybe(&mut rng, &opened.case_id),
                    suspected: Some(api::SuspectedCategory {
                        category: "GBV".to_owned(),
                        indicators: vec![],
                        ..Default::default()
                    }),
                    urgency: bad.clone(),
                    raised_by_role: maybe(&mut rng, "operator"),
                    raised_at: if rng.random_bool(0.5) { future } else { None },
                    gbv_disclosure: rng.random_bool(0.5),
                }))
                .await
                .map(|_| ()),
            3 => client
                .record_assessment(as_operator(api::RecordAssessmentRequest {
                    request_id: format!("flood-{round}"),
                    case_id: opened.case_id.clone(),
                    outcomes: vec![api::CategoryOutcome {
                        category: maybe(&mut rng, "GBV"),
                        status: bad.clone(),
                        ..Default::default()
                    }],
                    assessed_at: ts(NOW),
                    assessor_role: maybe(&mut rng, "physician"),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            4 => client
                .place_case(as_operator(api::PlaceCaseRequest {
                    request_id: format!("flood-{round}"),
                    case_id: bad.clone(),
                    facility_id: maybe(&mut rng, "sai-1"),
                    province: maybe(&mut rng, "RM"),
                    facility_kind: maybe(&mut rng, "sai"),
                    placed_at: ts(NOW),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            _ => client
                .close_case(as_operator(api::CloseCaseRequest {
                    request_id: format!("flood-{round}"),
                    case_id: opened.case_id.clone(),
                    reason: bad.clone(),
                    closed_at: if rng.random_bool(0.5) {
                        future
                    } else {
                        ts(NOW)
                    },
                }))
                .await
                .map(|_| ()),
        };
        let status = result.expect_err("invalid input must be refused");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "round {round} (seed {seed}): {status:?}"
        );
        assert!(
            !status.message().contains("Amina"),
            "no personal data in errors"
        );
    }
    assert_eq!(
        log.last_sequence().await.expect("last"),
        before,
        "nothing appended"
    );
    // Still serving.
    let view = get_case(&mut client, &opened.case_id, before).await;
    assert_eq!(view.status, "open");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_token_signed_by_a_trusted_issuer_are_unauthenticated() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let head = system.log().await.last_sequence().await.expect("last");
    // A client that attaches no token of its own.
    let mut client = api::screening_service_client::ScreeningServiceClient::new(
        system.channel(Service::Screening).await,
    );
    // Another key under the trusted issuer's name and key id.
    let stranger = service_runtime::TokenIssuer::generate("approdo-tests")
        .expect("issuer")
        .with_kid(crate::support::auth::issuer().kid());
    let forged = stranger
        .token(
            "x",
            "cas-1",
            OrganisationType::Administrator,
            &[],
            None,
            service_runtime::caller::Validity::from_now(600),
        )
        .expect("token");
    let unsigned = {
        let real = token(OrganisationType::ReceptionOperator, "cas-1", Some("AG"));
        let payload = real.split('.').nth(1).expect("payload").to_owned();
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    for bad in [forged, unsigned, "garbage".to_owned()] {
        let refused = client
            .open_case(with_token(
                open_request("unauthenticated", NOW - time::Duration::hours(1), ""),
                &bad,
            ))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    let missing = client
        .open_case(tonic::Request::new(open_request(
            "no-token",
            NOW - time::Duration::hours(1),
            "",
        )))
        .await
        .expect_err("refused");
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert_eq!(
        system.log().await.last_sequence().await.expect("last"),
        head,
        "nothing appended"
    );
    system.stop().await;
}

/// Found by attacking the running system: a `min_log_sequence` far beyond the
/// log's head held a concurrency slot for the whole read patience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_beyond_the_logs_head_is_out_of_range_and_request_ids_are_short_tokens() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let opened = client
        .open_case(as_operator(open_request("beyond-head", NOW, "")))
        .await
        .expect("open")
        .into_inner();
    let beyond = client
        .list_cases(as_operator(api::ListCasesRequest {
            min_log_sequence: opened.log_sequence + 1_000_000,
            ..Default::default()
        }))
        .await
        .expect_err("beyond the head");
    assert_eq!(beyond.code(), Code::OutOfRange, "{beyond:?}");
    let reached = client
        .get_case(as_operator(api::GetCaseRequest {
            case_id: opened.case_id.clone(),
            min_log_sequence: opened.log_sequence,
        }))
        .await
        .expect("a sequence the log holds is waited for");
    assert!(reached.into_inner().case.is_some());
    // A request id is a short token: names or dates cannot hide in it.
    let named = client
        .open_case(as_operator(open_request("maria.rossi-1987", NOW, "")))
        .await
        .expect_err("a request id with a dot");
    assert_eq!(named.code(), Code::InvalidArgument);
    system.stop().await;
}

/// Found by attacking the running system: a health flag `hiv_positive_<n>` was
/// accepted, and stayed in the case log's store files after erasure; any
/// `[a-z0-9_]` string passed as a code. Codes now come from closed
/// vocabularies, published as versioned configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_outside_the_vocabularies_in_force_are_refused_and_never_stored() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let opened = client
        .open_case(as_operator(open_request("vocabulary-case", NOW, "")))
        .await
        .expect("open")
        .into_inner();
    let check = |request_id: &str, flag: &str| {
        as_operator(api::RecordPreliminaryCheckRequest {
            request_id: request_id.to_owned(),
            case_id: opened.case_id.clone(),
            suspected: vec![],
            urgent_care_needed: false,
            health_flags: vec![flag.to_owned()],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(NOW),
        })
    };
    let refused = client
        .record_preliminary_check(check("check-free-text", "hiv_positive_4711"))
        .await
        .expect_err("not a health flag of the vocabulary");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(!refused.message().contains("hiv"), "the code is not echoed");

    // Only an administrator publishes; the next version is in force at once.
    let admin = Caller::administrator();
    let publish = |caller: &Caller| {
        caller.request(api::PublishVocabulariesRequest {
            request_id: "flags-v2".to_owned(),
            vocabularies: vec![contracts::vocabulary::v1::Vocabulary {
                kind: "health_flag".to_owned(),
                codes: vec!["dialysis".to_owned(), "pregnancy".to_owned()],
            }],
        })
    };
    let not_allowed = client
        .publish_vocabularies(publish(&operator()))
        .await
        .expect_err("operators do not publish");
    assert_eq!(not_allowed.code(), Code::PermissionDenied);
    let published = client
        .publish_vocabularies(publish(&admin))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(published.version, 2);
    let in_force = client
        .get_vocabularies(as_operator(api::GetVocabulariesRequest {
            min_log_sequence: published.log_sequence,
        }))
        .await
        .expect("vocabularies")
        .into_inner();
    assert_eq!(in_force.version, 2);
    let flags = in_force
        .vocabularies
        .iter()
        .find(|v| v.kind == "health_flag")
        .expect("health flags");
    assert_eq!(flags.codes, ["dialysis", "pregnancy"]);
    client
        .record_preliminary_check(check("check-dialysis", "dialysis"))
        .await
        .expect("a code of the version in force");
    let withdrawn = client
        .record_preliminary_check(check("check-old-code", "needs_medication"))
        .await
        .expect_err("a code the new version dropped");
    assert_eq!(withdrawn.code(), Code::InvalidArgument);

    // The refused code is nowhere on disk; the accepted one is (the scan works).
    let store = system.nats().store_dir();
    assert!(!crate::privacy::files_containing(&store, b"dialysis").is_empty());
    for dir in [store, system.data_dir().to_path_buf()] {
        let found = crate::privacy::files_containing(&dir, b"hiv_positive_4711");
        assert!(found.is_empty(), "{found:?}");
    }
    system.stop().await;
}

/// Authority from the token and the registry, never from the request: a
/// reception operator opening a case for its own facility but claiming another
/// province (so that another prefecture would see it) is refused; the case's
/// province is its facility's registered one, and an unregistered facility is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_place_its_facility_in_another_province() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let elsewhere = api::OpenCaseRequest {
        province: "RM".to_owned(),
        ..open_request("claimed-rome", NOW, "")
    };
    let refused = client
        .open_case(as_operator(elsewhere))
        .await
        .expect_err("the facility is registered in the operator's province");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let opened = client
        .open_case(as_operator(api::OpenCaseRequest {
            province: String::new(),
            ..open_request("own-province", NOW, "")
        }))
        .await
        .expect("its own facility: the province is the registered one")
        .into_inner();
    let view = client
        .get_case(as_operator(api::GetCaseRequest {
            case_id: opened.case_id,
            min_log_sequence: opened.log_sequence,
        }))
        .await
        .expect("case")
        .into_inner()
        .case
        .expect("view");
    assert_eq!(view.province, "AG");
    let unregistered = client
        .open_case(as_operator(api::OpenCaseRequest {
            facility_id: "hotspot-unknown".to_owned(),
            ..open_request("unregistered", NOW, "")
        }))
        .await
        .expect_err("an unregistered facility");
    assert_eq!(unregistered.code(), Code::InvalidArgument);

    // Placed: the kind is the registered one too; a claim of another is refused.
    let prefecture = Caller::prefecture("prefettura-ag", "AG");
    let place = |request_id: &str, kind: &str| {
        prefecture.request(api::PlaceCaseRequest {
            request_id: request_id.to_owned(),
            case_id: view.case_id.clone(),
            facility_id: "cas-agrigento".to_owned(),
            province: String::new(),
            facility_kind: kind.to_owned(),
            placed_at: ts(NOW),
            ..Default::default()
        })
    };
    let wrong_kind = client
        .place_case(place("place-as-detention", "detention"))
        .await
        .expect_err("the facility is registered as a cas");
    assert_eq!(wrong_kind.code(), Code::InvalidArgument);
    let placed = client
        .place_case(place("place-registered", ""))
        .await
        .expect("placed")
        .into_inner();
    let moved = client
        .get_case(prefecture.request(api::GetCaseRequest {
            case_id: view.case_id.clone(),
            min_log_sequence: placed.log_sequence,
        }))
        .await
        .expect("case")
        .into_inner()
        .case
        .expect("view");
    assert_eq!(
        (moved.facility_id.as_str(), moved.facility_kind.as_str()),
        ("cas-agrigento", "cas")
    );
    system.stop().await;
}

/// Found by reviewing: family links answered whether a case existed anywhere,
/// so an operator could probe other facilities' and provinces' cases. A case
/// out of the caller's reach now answers as one that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn family_links_cannot_probe_cases_out_of_reach() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let rome = Caller::operator("cas-roma-1", "RM");
    let mut client = system.screening(&rome).await;
    let in_rome = client
        .open_case(rome.request(api::OpenCaseRequest {
            facility_id: "cas-roma-1".to_owned(),
            province: String::new(),
            ..open_request("rome-relative", NOW, "")
        }))
        .await
        .expect("opened in Rome")
        .into_inner();
    let linking = |request_id: &str, linked: &str| {
        as_operator(api::OpenCaseRequest {
            family_links: vec![api::FamilyLink {
                case_id: linked.to_owned(),
                relation: "sibling".to_owned(),
            }],
            ..open_request(request_id, NOW, "")
        })
    };
    let elsewhere = client
        .open_case(linking("link-rome", &in_rome.case_id))
        .await
        .expect_err("a case in another province");
    let nowhere = client
        .open_case(linking(
            "link-nowhere",
            "00000000-0000-5000-8000-000000000000",
        ))
        .await
        .expect_err("no such case");
    assert_eq!(elsewhere.code(), Code::InvalidArgument);
    assert_eq!(
        elsewhere.message(),
        nowhere.message(),
        "out of reach answers as missing"
    );
    // A relative in the operator's own province may be linked.
    let relative = client
        .open_case(as_operator(open_request("ag-relative", NOW, "")))
        .await
        .expect("opened")
        .into_inner();
    client
        .open_case(linking("link-own", &relative.case_id))
        .await
        .expect("linked");
    system.stop().await;
}

//! Screening's deadlines, urgency and identification end to end, in process
//! over gRPC against a real nats-server, with the injected clock: a case
//! opened in the territory runs its screening deadline from the opening, not
//! the arrival; a need identified after the first assessment gets its own
//! deadline, marked once by the watcher; an assessment lowers the urgency;
//! only a configured anti-trafficking body records a formal identification.

use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as api;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;

use crate::support::{Caller, ScreeningClient as Client, Service, System, eventually, ts};

const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
/// The anti-trafficking body the screening service is configured with.
const BODY: &str = "progetto-anti-tratta-ag";
/// A receiving service the case is referred to, not configured as such a body.
const NOT_A_BODY: &str = "cav-agrigento";

fn hotspot() -> Caller {
    Caller::operator("hotspot-lampedusa", "AG")
}

fn cas() -> Caller {
    Caller::operator("cas-agrigento", "AG")
}

fn open_request(
    request_id: &str,
    facility_id: &str,
    arrived_at: OffsetDateTime,
) -> api::OpenCaseRequest {
    api::OpenCaseRequest {
        request_id: request_id.to_owned(),
        arrival: Some(api::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: ts(arrived_at),
        }),
        facility_id: facility_id.to_owned(),
        ..Default::default()
    }
}

async fn open(client: &mut Client, by: &Caller, request: api::OpenCaseRequest) -> (String, u64) {
    let opened = client
        .open_case(by.request(request))
        .await
        .expect("open")
        .into_inner();
    (opened.case_id, opened.log_sequence)
}

async fn view(client: &mut Client, by: &Caller, case_id: &str, min: u64) -> api::CaseView {
    client
        .get_case(by.request(api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await
        .expect("get case")
        .into_inner()
        .case
        .expect("case")
}

/// The event types of the case's history, short names.
async fn history(client: &mut Client, by: &Caller, case_id: &str) -> Vec<String> {
    client
        .get_case_history(by.request(api::GetCaseHistoryRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: 0,
        }))
        .await
        .expect("history")
        .into_inner()
        .entries
        .into_iter()
        .flat_map(|e| e.event_types)
        .map(|t| t.rsplit('.').next().unwrap_or_default().to_owned())
        .collect()
}

fn count(types: &[String], wanted: &str) -> usize {
    types.iter().filter(|t| *t == wanted).count()
}

fn due_at(deadline: &Option<api::Deadline>) -> Option<OffsetDateTime> {
    deadline
        .as_ref()
        .and_then(|d| d.due_at.as_ref())
        .and_then(case_log_jetstream::envelope::from_timestamp)
}

fn suspected(category: &str) -> Option<api::SuspectedCategory> {
    Some(api::SuspectedCategory {
        category: category.to_owned(),
        ..Default::default()
    })
}

fn signal(
    request_id: &str,
    case_id: &str,
    category: &str,
    urgency: &str,
    at: OffsetDateTime,
) -> api::RaiseVulnerabilitySignalRequest {
    api::RaiseVulnerabilitySignalRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.to_owned(),
        suspected: suspected(category),
        urgency: urgency.to_owned(),
        raised_by_role: "operator".to_owned(),
        raised_at: ts(at),
        gbv_disclosure: false,
    }
}

fn assessment(
    request_id: &str,
    case_id: &str,
    outcomes: &[(&str, &str)],
    urgency: &str,
    at: OffsetDateTime,
) -> api::RecordAssessmentRequest {
    api::RecordAssessmentRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.to_owned(),
        outcomes: outcomes
            .iter()
            .map(|(category, status)| api::CategoryOutcome {
                category: (*category).to_owned(),
                status: (*status).to_owned(),
                ..Default::default()
            })
            .collect(),
        assessed_at: ts(at),
        assessor_role: "psychologist".to_owned(),
        urgency: urgency.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_opened_in_a_cas_weeks_after_arrival_is_missed_only_when_its_own_seven_days_pass() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&cas()).await;
    // Landed forty days ago; the case is opened now, in a CAS.
    let arrived = NOW - time::Duration::days(40);
    let (case_id, sequence) = open(
        &mut client,
        &cas(),
        open_request("cas-late", "cas-agrigento", arrived),
    )
    .await;
    // For contrast: a case opened at the hotspot for the same arrival is late at once.
    let (at_hotspot, _) = open(
        &mut client,
        &hotspot(),
        open_request("hotspot-late", "hotspot-lampedusa", arrived),
    )
    .await;

    let case = view(&mut client, &cas(), &case_id, sequence).await;
    assert_eq!(case.facility_kind, "cas");
    assert_eq!(case.opened_at, ts(NOW));
    // Seven days from the day of the opening (20 June): the end of 27 June in Rome (CEST).
    let due = datetime!(2026-06-27 22:00 UTC);
    assert_eq!(due_at(&case.screening_deadline), Some(due));

    // The first passes of the watcher: the hotspot's case is marked, the CAS's is not.
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    eventually("the hotspot's case is marked", || {
        let mut client = client.clone();
        let at_hotspot = at_hotspot.clone();
        async move {
            count(
                &history(&mut client, &hotspot(), &at_hotspot).await,
                "ScreeningDeadlineMissed",
            ) == 1
        }
    })
    .await;
    assert_eq!(history(&mut client, &cas(), &case_id).await, ["CaseOpened"]);

    // Just before its own seven days end: still nothing.
    system.advance(due - system.now() - time::Duration::SECOND);
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    assert_eq!(history(&mut client, &cas(), &case_id).await, ["CaseOpened"]);

    // When they end: marked once, with its due time.
    system.advance(time::Duration::SECOND);
    eventually("the CAS's case is marked when its seven days end", || {
        let mut client = client.clone();
        let case_id = case_id.clone();
        async move {
            count(
                &history(&mut client, &cas(), &case_id).await,
                "ScreeningDeadlineMissed",
            ) == 1
        }
    })
    .await;
    system.advance(time::Duration::SECOND);
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    assert_eq!(
        history(&mut client, &cas(), &case_id).await,
        ["CaseOpened", "ScreeningDeadlineMissed"]
    );
    let last = system.log().await.last_sequence().await.expect("last");
    let case = view(&mut client, &cas(), &case_id, last).await;
    let deadline = case.screening_deadline.expect("deadline");
    assert!(deadline.missed && deadline.overdue);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_identified_after_the_first_assessment_is_marked_once_when_its_own_deadline_passes()
{
    let mut system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&hotspot()).await;
    let (case_id, _) = open(
        &mut client,
        &hotspot(),
        open_request(
            "late-need",
            "hotspot-lampedusa",
            NOW - time::Duration::days(1),
        ),
    )
    .await;
    client
        .record_preliminary_check(hotspot().request(api::RecordPreliminaryCheckRequest {
            request_id: "late-need-check".to_owned(),
            case_id: case_id.clone(),
            suspected: vec![api::SuspectedCategory {
                category: "TORTURE".to_owned(),
                ..Default::default()
            }],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(NOW - time::Duration::hours(20)),
            ..Default::default()
        }))
        .await
        .expect("check");
    client
        .record_assessment(hotspot().request(assessment(
            "late-need-assessment",
            &case_id,
            &[("TORTURE", "confirmed")],
            "",
            NOW,
        )))
        .await
        .expect("assessment");
    // A need identified after the first assessment.
    let raised = NOW + time::Duration::hours(1);
    system.advance(time::Duration::hours(2));
    let signalled = client
        .raise_vulnerability_signal(hotspot().request(signal(
            "late-need-signal",
            &case_id,
            "MENTAL_HEALTH",
            "standard",
            raised,
        )))
        .await
        .expect("signal")
        .into_inner();
    let case = view(&mut client, &hotspot(), &case_id, signalled.log_sequence).await;
    // Thirty days from the day it was raised (20 June): the end of 20 July in Rome (CEST).
    let due = datetime!(2026-07-20 22:00 UTC);
    assert_eq!(case.late_needs.len(), 1);
    assert_eq!(case.late_needs[0].category, "MENTAL_HEALTH");
    assert_eq!(due_at(&case.late_needs[0].deadline), Some(due));
    assert!(
        case.assessment_completed_at.is_some(),
        "the need identified later does not reopen the assessment"
    );

    // Past its deadline, across a restart and with a second instance: one event.
    system.advance(due - system.now());
    let second = system.start_replica(Service::Screening).await;
    eventually("the need's deadline is marked", || {
        let mut client = client.clone();
        let case_id = case_id.clone();
        async move {
            count(
                &history(&mut client, &hotspot(), &case_id).await,
                "NeedAssessmentDeadlineMissed",
            ) == 1
        }
    })
    .await;
    system.restart(Service::Screening).await;
    let mut client = system.screening(&hotspot()).await;
    system.advance(time::Duration::SECOND);
    system
        .deadlines_checked(Service::Screening, system.now())
        .await;
    second.deadlines_checked(system.now()).await;
    let types = history(&mut client, &hotspot(), &case_id).await;
    assert_eq!(count(&types, "NeedIdentifiedAfterAssessment"), 1);
    assert_eq!(count(&types, "NeedAssessmentDeadlineMissed"), 1);
    let last = system.log().await.last_sequence().await.expect("last");
    let case = view(&mut client, &hotspot(), &case_id, last).await;
    let deadline = case.late_needs[0].deadline.expect("deadline");
    assert!(deadline.missed && deadline.overdue);
    let overdue = client
        .list_cases(hotspot().request(api::ListCasesRequest {
            overdue_only: true,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(overdue.cases.len(), 1, "overdue by its need's deadline");
    second.stop().await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assessment_lowering_the_urgency_shows_in_get_case() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&hotspot()).await;
    let log = system.log().await;
    let (case_id, _) = open(
        &mut client,
        &hotspot(),
        open_request(
            "urgency",
            "hotspot-lampedusa",
            NOW - time::Duration::days(1),
        ),
    )
    .await;
    let raised = client
        .raise_vulnerability_signal(hotspot().request(signal(
            "urgency-signal",
            &case_id,
            "GBV",
            "immediate",
            NOW - time::Duration::hours(3),
        )))
        .await
        .expect("signal")
        .into_inner();
    assert_eq!(
        view(&mut client, &hotspot(), &case_id, raised.log_sequence)
            .await
            .current_urgency,
        "immediate"
    );

    // An urgency outside the vocabulary is refused, naming the field, and nothing is appended.
    let refused = client
        .record_assessment(hotspot().request(assessment(
            "urgency-bad",
            &case_id,
            &[("GBV", "confirmed")],
            "urgentissimo",
            NOW,
        )))
        .await
        .expect_err("unknown urgency");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("urgency"),
        "{}",
        refused.message()
    );
    assert_eq!(
        log.last_sequence().await.expect("last"),
        raised.log_sequence
    );

    let assessed = client
        .record_assessment(hotspot().request(assessment(
            "urgency-lowered",
            &case_id,
            &[("GBV", "confirmed")],
            "standard",
            NOW,
        )))
        .await
        .expect("assessment")
        .into_inner();
    let case = view(&mut client, &hotspot(), &case_id, assessed.log_sequence).await;
    assert_eq!(
        case.current_urgency, "standard",
        "lowered by the assessment"
    );
    let listed = |urgency: &str| api::ListCasesRequest {
        urgency: urgency.to_owned(),
        min_log_sequence: assessed.log_sequence,
        ..Default::default()
    };
    let standard = client
        .list_cases(hotspot().request(listed("standard")))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(standard.cases.len(), 1);
    let immediate = client
        .list_cases(hotspot().request(listed("immediate")))
        .await
        .expect("list")
        .into_inner();
    assert!(immediate.cases.is_empty(), "no longer immediate");

    // A later signal raises it again.
    let raised = client
        .raise_vulnerability_signal(hotspot().request(signal(
            "urgency-raised",
            &case_id,
            "TORTURE",
            "high",
            NOW,
        )))
        .await
        .expect("signal")
        .into_inner();
    assert_eq!(
        view(&mut client, &hotspot(), &case_id, raised.log_sequence)
            .await
            .current_urgency,
        "high"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_needs_carry_a_code_of_the_vocabulary_and_no_other_category_does() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&hotspot()).await;
    let (case_id, sequence) = open(
        &mut client,
        &hotspot(),
        open_request(
            "other-need",
            "hotspot-lampedusa",
            NOW - time::Duration::days(1),
        ),
    )
    .await;
    let with_code =
        |request_id: &str, category: &str, code: &str| api::RaiseVulnerabilitySignalRequest {
            suspected: Some(api::SuspectedCategory {
                category: category.to_owned(),
                other_need: code.to_owned(),
                ..Default::default()
            }),
            ..signal(request_id, &case_id, category, "standard", NOW)
        };
    for (request, field) in [
        (
            with_code("other-without", "OTHER", ""),
            "suspected.other_need",
        ),
        (
            with_code("other-free-text", "OTHER", "needs a wheelchair ramp"),
            "suspected.other_need",
        ),
        (
            with_code("other-not-listed", "OTHER", "visible_injury"),
            "suspected.other_need",
        ),
        (
            with_code("torture-with-code", "TORTURE", "statelessness"),
            "suspected.other_need",
        ),
    ] {
        let refused = client
            .raise_vulnerability_signal(hotspot().request(request))
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{}",
            refused.message()
        );
        assert!(refused.message().contains(field), "{}", refused.message());
    }
    // Outcomes of an assessment: the same rule.
    let outcome = |category: &str, code: &str| api::CategoryOutcome {
        category: category.to_owned(),
        status: "ruled_out".to_owned(),
        other_need: code.to_owned(),
    };
    for (request_id, outcomes) in [
        (
            "assess-torture-with-code",
            vec![outcome("TORTURE", "statelessness")],
        ),
        ("assess-other-without", vec![outcome("OTHER", "")]),
        (
            "assess-other-not-listed",
            vec![outcome("OTHER", "debt_bondage")],
        ),
    ] {
        let refused = client
            .record_assessment(hotspot().request(api::RecordAssessmentRequest {
                outcomes,
                ..assessment(request_id, &case_id, &[], "", NOW)
            }))
            .await
            .expect_err("refused");
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{}",
            refused.message()
        );
        assert!(
            refused.message().contains("outcomes[0].other_need"),
            "{}",
            refused.message()
        );
    }
    assert_eq!(
        system.log().await.last_sequence().await.expect("last"),
        sequence,
        "nothing appended"
    );
    let raised = client
        .raise_vulnerability_signal(hotspot().request(with_code(
            "other-listed",
            "OTHER",
            "statelessness",
        )))
        .await
        .expect("signal")
        .into_inner();
    let case = view(&mut client, &hotspot(), &case_id, raised.log_sequence).await;
    let other = case
        .categories
        .iter()
        .find(|c| c.category == "OTHER")
        .expect("OTHER");
    assert_eq!(
        (other.status.as_str(), other.other_need.as_str()),
        ("suspected", "statelessness")
    );
    system.stop().await;
}

/// Registers `organisation` as an anti-trafficking project in AG, gets the
/// person's consent and sends it a referral of the case.
async fn refer_to(system: &System, case_id: &str, organisation: &str) {
    let mut referrals = system.referral(&hotspot()).await;
    referrals
        .register_organisation(Caller::administrator().request(
            referral_api::RegisterOrganisationRequest {
                request_id: format!("register-{organisation}"),
                profile: Some(referral_api::OrganisationProfile {
                    organisation_id: organisation.to_owned(),
                    name: format!("Progetto {organisation}"),
                    service_types: vec!["anti_trafficking".to_owned()],
                    provinces: vec!["AG".to_owned()],
                    languages: vec!["it".to_owned(), "en".to_owned()],
                    intake_channel: "approdo".to_owned(),
                    availability: "available".to_owned(),
                    active: true,
                    ..Default::default()
                }),
            },
        ))
        .await
        .expect("register");
    let consent = referrals
        .give_consent(hotspot().request(referral_api::GiveConsentRequest {
            request_id: format!("consent-{organisation}"),
            ..crate::referral::consent_request(case_id, organisation)
        }))
        .await
        .expect("consent")
        .into_inner();
    referrals
        .create_referral(hotspot().request(referral_api::CreateReferralRequest {
            request_id: format!("refer-{organisation}"),
            case_id: case_id.to_owned(),
            receiver_organisation_id: organisation.to_owned(),
            service_type: "anti_trafficking".to_owned(),
            consent_id: consent.consent_id,
            dataset: Some(referral_api::MinimumDataset {
                categories: vec!["TRAFFICKING".to_owned()],
                urgency: "high".to_owned(),
                ..Default::default()
            }),
            send: true,
        }))
        .await
        .expect("referral sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_formal_identification_is_refused_to_an_organisation_not_configured_and_accepted_from_one_configured()
 {
    let system = System::builder()
        .clock_at(NOW)
        .services(&[Service::Screening, Service::Referral])
        .options(
            Service::Screening,
            &format!("anti_trafficking_bodies = [\"{BODY}\"]\n"),
        )
        .start()
        .await;
    let mut client = system.screening(&hotspot()).await;
    let (case_id, _) = open(
        &mut client,
        &hotspot(),
        open_request(
            "trafficking",
            "hotspot-lampedusa",
            NOW - time::Duration::days(2),
        ),
    )
    .await;
    client
        .raise_vulnerability_signal(hotspot().request(signal(
            "trafficking-signal",
            &case_id,
            "TRAFFICKING",
            "high",
            NOW - time::Duration::days(1),
        )))
        .await
        .expect("signal");
    let assessed = client
        .record_assessment(hotspot().request(assessment(
            "trafficking-assessment",
            &case_id,
            &[("TRAFFICKING", "confirmed")],
            "",
            NOW - time::Duration::hours(5),
        )))
        .await
        .expect("assessment")
        .into_inner();
    let identification = |case: &api::CaseView| {
        case.categories
            .iter()
            .find(|c| c.category == "TRAFFICKING")
            .map(|c| c.identification.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        identification(&view(&mut client, &hotspot(), &case_id, assessed.log_sequence).await),
        "presumed"
    );

    // Both receivers have the case referred to them: only the configuration tells them apart.
    refer_to(&system, &case_id, BODY).await;
    refer_to(&system, &case_id, NOT_A_BODY).await;
    let before = history(&mut client, &hotspot(), &case_id).await;
    let identify = |request_id: &str, category: &str| api::RecordFormalIdentificationRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.clone(),
        category: category.to_owned(),
        identified_at: ts(NOW - time::Duration::hours(1)),
    };
    let refused = client
        .record_formal_identification(
            Caller::receiver(NOT_A_BODY, Some("AG")).request(identify("identify-1", "TRAFFICKING")),
        )
        .await
        .expect_err("not an anti-trafficking body");
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("anti-trafficking body"),
        "{}",
        refused.message()
    );
    // A request cannot name its identifying body: the token's organisation is it.
    let invalid = client
        .record_formal_identification(
            Caller::receiver(BODY, Some("AG")).request(identify("identify-2", "GBV")),
        )
        .await
        .expect_err("only trafficking");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().contains("category"),
        "{}",
        invalid.message()
    );
    assert_eq!(
        history(&mut client, &hotspot(), &case_id).await,
        before,
        "nothing appended"
    );

    let identified = client
        .record_formal_identification(
            Caller::receiver(BODY, Some("AG")).request(identify("identify-3", "TRAFFICKING")),
        )
        .await
        .expect("identified")
        .into_inner();
    let case = view(&mut client, &hotspot(), &case_id, identified.log_sequence).await;
    assert_eq!(identification(&case), "formally_identified");
    let types = history(&mut client, &hotspot(), &case_id).await;
    assert_eq!(
        types.last().map(String::as_str),
        Some("FormalIdentificationRecorded")
    );
    // Once identified, an assessment cannot rule it out.
    let ruled_out = client
        .record_assessment(hotspot().request(assessment(
            "trafficking-ruled-out",
            &case_id,
            &[("TRAFFICKING", "ruled_out")],
            "",
            NOW,
        )))
        .await
        .expect_err("formally identified");
    assert_eq!(ruled_out.code(), Code::FailedPrecondition);
    system.stop().await;
}

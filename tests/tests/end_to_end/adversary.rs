//! Issue 11's commands attacked as an adversary would, end to end against a
//! real nats-server with the injected clock: configured authorities and
//! receivers acting on cases out of their reach, receivers whose referral is
//! not (or no longer) open or in care, replayed request ids, malformed
//! requests, erased and closed cases, and an opening's declared age band
//! against a disputed age. Every refusal appends nothing to the log.

use case_log_jetstream::{HistoryBound, HistoryScope, RootKind, TokenId};
use contracts::referral::v1 as referral;
use contracts::screening::v1 as api;
use referral::update_referral_request::{Accept, Action, Complete, Decline, Receive, TakeCharge};
use service_runtime::caller::OrganisationType;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;

use crate::support::{Caller, Service, System, ts};

const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
const ARRIVED: OffsetDateTime = datetime!(2026-06-18 09:00 UTC);
const OPERATOR: &str = "hotspot-lampedusa";
/// Anti-trafficking bodies (receiving services) the configuration names.
const BODY: &str = "on-the-road";
const OTHER_BODY: &str = "piam-asti";
const THIRD_BODY: &str = "be-free";
/// A juvenile court, a receiving service the configuration names for ages and guardians.
const COURT: &str = "tribunale-minori-pa";

fn operator() -> Caller {
    Caller::operator(OPERATOR, "AG")
}

fn prefecture(province: &str) -> Caller {
    Caller::prefecture(&format!("prefettura-{}", province.to_lowercase()), province)
}

fn police(organisation: &str, province: &str) -> Caller {
    Caller::new(OrganisationType::Police, organisation, Some(province))
}

fn receiver(organisation: &str) -> Caller {
    Caller::receiver(organisation, Some("RM"))
}

/// Screening and referral, with the authorities and bodies configured.
async fn start() -> System {
    let system = System::builder()
        .clock_at(NOW)
        .services(&[Service::Screening, Service::Referral])
        .options(
            Service::Screening,
            "age_assessment_authorities = [\"questura-ag\", \"carabinieri-ag\", \"questura-rm\", \"tribunale-minori-pa\"]\n\
             guardianship_authorities = [\"questura-ag\", \"carabinieri-ag\", \"questura-rm\", \"tribunale-minori-pa\"]\n\
             anti_trafficking_bodies = [\"on-the-road\", \"piam-asti\", \"be-free\"]\n",
        )
        .start()
        .await;
    let mut admin = system.screening(&Caller::administrator()).await;
    admin
        .register_facility(
            Caller::administrator().request(api::RegisterFacilityRequest {
                request_id: "facility-cpr".to_owned(),
                facility_id: "cpr-caltanissetta".to_owned(),
                province: "CL".to_owned(),
                facility_kind: "detention".to_owned(),
            }),
        )
        .await
        .expect("registered");
    let mut directory = system.referral(&Caller::administrator()).await;
    for organisation in [BODY, OTHER_BODY, THIRD_BODY, COURT] {
        directory
            .register_organisation(Caller::administrator().request(
                referral::RegisterOrganisationRequest {
                    request_id: format!("register-{organisation}"),
                    profile: Some(referral::OrganisationProfile {
                        organisation_id: organisation.to_owned(),
                        name: format!("Ente {organisation}"),
                        service_types: vec!["anti_violence_centre".to_owned()],
                        provinces: vec!["AG".to_owned()],
                        languages: vec!["it".to_owned()],
                        intake_channel: "approdo".to_owned(),
                        availability: "available".to_owned(),
                        active: true,
                        ..Default::default()
                    }),
                },
            ))
            .await
            .expect("registered");
    }
    system
}

/// A case opened at the hotspot by `by` with `age_band`, checked with
/// `suspected`, and with `confirmed` confirmed by an assessment.
async fn case(
    system: &System,
    by: &Caller,
    request: &str,
    age_band: &str,
    suspected: &[&str],
    confirmed: &[&str],
) -> String {
    let mut screening = system.screening(by).await;
    let case_id = screening
        .open_case(by.request(api::OpenCaseRequest {
            request_id: request.to_owned(),
            arrival: Some(api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(ARRIVED),
            }),
            facility_id: OPERATOR.to_owned(),
            age_band: age_band.to_owned(),
            ..Default::default()
        }))
        .await
        .expect("open")
        .into_inner()
        .case_id;
    let mut screening = system.screening(&operator()).await;
    screening
        .record_preliminary_check(
            operator().request(api::RecordPreliminaryCheckRequest {
                request_id: format!("{request}-check"),
                case_id: case_id.clone(),
                suspected: suspected
                    .iter()
                    .map(|c| api::SuspectedCategory {
                        category: (*c).to_owned(),
                        ..Default::default()
                    })
                    .collect(),
                urgency: "high".to_owned(),
                place: "LAMPEDUSA".to_owned(),
                checked_at: ts(ARRIVED + time::Duration::hours(2)),
                ..Default::default()
            }),
        )
        .await
        .expect("check");
    if !confirmed.is_empty() {
        screening
            .record_assessment(
                operator().request(api::RecordAssessmentRequest {
                    request_id: format!("{request}-assessment"),
                    case_id: case_id.clone(),
                    outcomes: confirmed
                        .iter()
                        .map(|c| api::CategoryOutcome {
                            category: (*c).to_owned(),
                            status: "confirmed".to_owned(),
                            ..Default::default()
                        })
                        .collect(),
                    assessed_at: ts(NOW - time::Duration::hours(1)),
                    assessor_role: "psychologist".to_owned(),
                    ..Default::default()
                }),
            )
            .await
            .expect("assessment");
    }
    case_id
}

/// The operator refers the case to `organisation` (consent, then a sent
/// referral sharing TRAFFICKING). Answers the referral id.
async fn refer(system: &System, case_id: &str, organisation: &str) -> String {
    let mut referrals = system.referral(&operator()).await;
    let recipient = Some(referral::Recipient {
        recipient: Some(referral::recipient::Recipient::OrganisationId(
            organisation.to_owned(),
        )),
    });
    let consent_id = referrals
        .give_consent(operator().request(referral::GiveConsentRequest {
            request_id: format!("consent-{organisation}"),
            case_id: case_id.to_owned(),
            recipient,
            basis: Some(referral::give_consent_request::Basis::Consent(
                referral::ConsentBasis {
                    purpose: "protection_and_support".to_owned(),
                    scopes: vec!["categories".to_owned(), "urgency".to_owned()],
                    valid_until: ts(NOW + time::Duration::days(90)),
                    grantor: "person".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: ts(NOW - time::Duration::minutes(5)),
        }))
        .await
        .expect("consent")
        .into_inner()
        .consent_id;
    referrals
        .create_referral(operator().request(referral::CreateReferralRequest {
            request_id: format!("refer-{organisation}"),
            case_id: case_id.to_owned(),
            receiver_organisation_id: organisation.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id,
            dataset: Some(referral::MinimumDataset {
                categories: vec!["TRAFFICKING".to_owned()],
                urgency: "high".to_owned(),
                ..Default::default()
            }),
            send: true,
        }))
        .await
        .expect("referred")
        .into_inner()
        .referral_id
}

/// The receiver moves its referral with `actions`, in order.
async fn act(system: &System, case_id: &str, referral_id: &str, by: &str, actions: Vec<Action>) {
    let centre = receiver(by);
    let mut referrals = system.referral(&centre).await;
    for (i, action) in actions.into_iter().enumerate() {
        referrals
            .update_referral(centre.request(referral::UpdateReferralRequest {
                request_id: format!("{by}-step-{i}"),
                case_id: case_id.to_owned(),
                referral_id: referral_id.to_owned(),
                action: Some(action),
            }))
            .await
            .expect("the receiver's step");
    }
}

fn into_care() -> Vec<Action> {
    vec![
        Action::Receive(Receive {}),
        Action::Accept(Accept {}),
        Action::TakeCharge(TakeCharge {}),
    ]
}

/// How many commits callers made on the cases (every service's; a refusal is
/// recorded on the caller's organisation, and the services' watchers react on
/// their own).
async fn recorded(system: &System, cases: &[&str]) -> usize {
    let log = system.log().await;
    let mut commits = 0;
    for case_id in cases {
        let scope = HistoryScope::Root {
            kind: RootKind::Case,
            id: TokenId::parse(case_id).expect("case id"),
        };
        commits += log
            .history(&scope, HistoryBound::All)
            .await
            .expect("history")
            .iter()
            .filter(|commit| {
                commit
                    .commit
                    .actor
                    .as_ref()
                    .is_none_or(|actor| actor.organisation_type != "system")
            })
            .count();
    }
    commits
}

#[track_caller]
fn refused<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, code: Code, what: &str) {
    match answer {
        Err(status) => assert_eq!(status.code(), code, "{what}: {}", status.message()),
        Ok(answer) => panic!("{what} was accepted: {answer:?}"),
    }
}

fn age_assessment(case_id: &str, request: &str) -> api::RecordAgeAssessmentRequest {
    api::RecordAgeAssessmentRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        age_band: "16-17".to_owned(),
        assessed_at: ts(NOW - time::Duration::minutes(10)),
    }
}

fn guardian(case_id: &str, request: &str) -> api::AppointGuardianRequest {
    api::AppointGuardianRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        guardian_kind: "volunteer_guardian".to_owned(),
        appointed_at: ts(NOW - time::Duration::minutes(10)),
        ..Default::default()
    }
}

fn identification(case_id: &str, request: &str) -> api::RecordFormalIdentificationRequest {
    api::RecordFormalIdentificationRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        category: "TRAFFICKING".to_owned(),
        identified_at: ts(NOW - time::Duration::minutes(10)),
    }
}

fn schedule(case_id: &str, request: &str) -> api::ScheduleFollowUpRequest {
    api::ScheduleFollowUpRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        due_on: "2026-06-27".to_owned(),
        purpose: "wellbeing".to_owned(),
    }
}

fn follow_up(case_id: &str, request: &str) -> api::RecordFollowUpRequest {
    api::RecordFollowUpRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        outcome: "found".to_owned(),
        at: ts(NOW - time::Duration::minutes(10)),
        ..Default::default()
    }
}

fn detention(case_id: &str, request: &str) -> api::PlaceCaseRequest {
    api::PlaceCaseRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        facility_id: "cpr-caltanissetta".to_owned(),
        placed_at: ts(NOW - time::Duration::minutes(5)),
        detention_justification: "risk_of_absconding".to_owned(),
        ..Default::default()
    }
}

fn refusal(case_id: &str, request: &str) -> referral::RefuseConsentRequest {
    referral::RefuseConsentRequest {
        request_id: request.to_owned(),
        case_id: case_id.to_owned(),
        recipient: Some(referral::Recipient {
            recipient: Some(referral::recipient::Recipient::OrganisationId(
                BODY.to_owned(),
            )),
        }),
        purpose: "protection_and_support".to_owned(),
        refused_at: ts(NOW - time::Duration::minutes(5)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_authorities_and_bodies_act_only_on_cases_within_their_reach() {
    let system = start().await;
    // In AG, age disputed: presumed a minor.
    let disputed = case(&system, &operator(), "disputed", "", &["AGE_DISPUTED"], &[]).await;
    let trafficked = case(
        &system,
        &operator(),
        "trafficked",
        "18+",
        &["TRAFFICKING"],
        &["TRAFFICKING"],
    )
    .await;
    let before = recorded(&system, &[&disputed, &trafficked]).await;

    // The police of another province, configured for ages and guardians.
    let rome = police("questura-rm", "RM");
    let mut screening = system.screening(&rome).await;
    refused(
        screening
            .record_age_assessment(rome.request(age_assessment(&disputed, "rm-age")))
            .await,
        Code::PermissionDenied,
        "an age assessment by another province's configured police",
    );
    refused(
        screening
            .appoint_guardian(rome.request(guardian(&disputed, "rm-guardian")))
            .await,
        Code::PermissionDenied,
        "a guardian by another province's configured police",
    );
    // A configured juvenile court (a receiving service) the case was never referred to.
    let court = receiver(COURT);
    refused(
        screening
            .record_age_assessment(court.request(age_assessment(&disputed, "court-age")))
            .await,
        Code::PermissionDenied,
        "an age assessment by a court never referred the case",
    );
    refused(
        screening
            .appoint_guardian(court.request(guardian(&disputed, "court-guardian")))
            .await,
        Code::PermissionDenied,
        "a guardian by a court never referred the case",
    );
    // A configured anti-trafficking body the case was never referred to.
    let body = receiver(BODY);
    refused(
        screening
            .record_formal_identification(body.request(identification(&trafficked, "body-id")))
            .await,
        Code::PermissionDenied,
        "a formal identification by a body never referred the case",
    );
    // Another province's prefecture, another facility: no detention, no follow-up.
    let rome_prefecture = prefecture("RM");
    refused(
        screening
            .place_case(rome_prefecture.request(detention(&trafficked, "rm-detain")))
            .await,
        Code::PermissionDenied,
        "a detention by another province's prefecture",
    );
    let elsewhere = Caller::operator("cas-elsewhere", "AG");
    refused(
        screening
            .place_case(elsewhere.request(detention(&trafficked, "elsewhere-detain")))
            .await,
        Code::PermissionDenied,
        "a detention by another facility",
    );
    refused(
        screening
            .schedule_follow_up(elsewhere.request(schedule(&trafficked, "elsewhere-schedule")))
            .await,
        Code::PermissionDenied,
        "a follow-up scheduled by another facility",
    );
    refused(
        screening
            .record_follow_up(elsewhere.request(follow_up(&trafficked, "elsewhere-follow-up")))
            .await,
        Code::PermissionDenied,
        "a follow-up recorded by another facility",
    );
    let mut referrals = system.referral(&rome_prefecture).await;
    refused(
        referrals
            .refuse_consent(rome_prefecture.request(refusal(&trafficked, "rm-refusal")))
            .await,
        Code::PermissionDenied,
        "a refusal recorded by another province's prefecture",
    );
    assert_eq!(
        recorded(&system, &[&disputed, &trafficked]).await,
        before,
        "no refusal appended"
    );

    // The configured police of the case's own province records it.
    let agrigento = police("questura-ag", "AG");
    screening
        .record_age_assessment(agrigento.request(age_assessment(&disputed, "ag-age")))
        .await
        .expect("the case's own province");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_not_in_care_or_no_longer_referred_neither_follow_up_nor_identify() {
    let system = start().await;
    let case_id = case(
        &system,
        &operator(),
        "receivers",
        "18+",
        &["TRAFFICKING"],
        &["TRAFFICKING"],
    )
    .await;
    // Declined by one body; completed by another; only sent to a third.
    let declined = refer(&system, &case_id, BODY).await;
    act(
        &system,
        &case_id,
        &declined,
        BODY,
        vec![Action::Decline(Decline {
            reason: "no_capacity".to_owned(),
            ..Default::default()
        })],
    )
    .await;
    let completed = refer(&system, &case_id, OTHER_BODY).await;
    let mut steps = into_care();
    steps.push(Action::Complete(Complete {
        outcome: "goals_met".to_owned(),
    }));
    act(&system, &case_id, &completed, OTHER_BODY, steps).await;
    refer(&system, &case_id, THIRD_BODY).await;
    let before = recorded(&system, &[&case_id]).await;

    let mut screening = system.screening(&operator()).await;
    for body in [BODY, OTHER_BODY] {
        let centre = receiver(body);
        refused(
            screening
                .schedule_follow_up(centre.request(schedule(&case_id, "ended-schedule")))
                .await,
            Code::PermissionDenied,
            &format!("{body} schedules a follow-up"),
        );
        refused(
            screening
                .record_follow_up(centre.request(follow_up(&case_id, "ended-follow-up")))
                .await,
            Code::PermissionDenied,
            &format!("{body} records a follow-up"),
        );
        refused(
            screening
                .record_formal_identification(centre.request(identification(&case_id, "ended-id")))
                .await,
            Code::PermissionDenied,
            &format!("{body} identifies the person"),
        );
    }
    let sent_only = receiver(THIRD_BODY);
    refused(
        screening
            .record_follow_up(sent_only.request(follow_up(&case_id, "sent-follow-up")))
            .await,
        Code::PermissionDenied,
        "a receiver only sent the case records a follow-up",
    );
    assert_eq!(
        recorded(&system, &[&case_id]).await,
        before,
        "no refusal appended"
    );

    // A configured body with an open referral identifies, as a receiver
    // with an open referral raises signals and records assessments.
    screening
        .record_formal_identification(sent_only.request(identification(&case_id, "open-id")))
        .await
        .expect("an open referral to a configured body");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_request_ids_answer_their_organisation_and_refuse_any_other() {
    let system = start().await;
    let disputed = case(
        &system,
        &operator(),
        "replay-minor",
        "",
        &["AGE_DISPUTED"],
        &[],
    )
    .await;
    let trafficked = case(
        &system,
        &operator(),
        "replay-trafficked",
        "18+",
        &["TRAFFICKING"],
        &["TRAFFICKING"],
    )
    .await;
    let in_care = refer(&system, &trafficked, BODY).await;
    act(&system, &trafficked, &in_care, BODY, into_care()).await;
    refer(&system, &trafficked, OTHER_BODY).await;

    let questura = police("questura-ag", "AG");
    let carabinieri = police("carabinieri-ag", "AG");
    let body = receiver(BODY);
    let other_body = receiver(OTHER_BODY);
    let agrigento = prefecture("AG");
    let mut s = system.screening(&operator()).await;
    let mut r = system.referral(&operator()).await;

    // Each command twice by its organisation (the same answer), then by
    // another organisation that may make the same command (refused).
    macro_rules! replayed {
        ($client:ident . $rpc:ident, $by:expr, $other:expr, $request:expr) => {{
            let first = $client
                .$rpc($by.request($request))
                .await
                .expect(stringify!($rpc))
                .into_inner();
            let again = $client
                .$rpc($by.request($request))
                .await
                .expect(concat!(stringify!($rpc), " again"))
                .into_inner();
            assert_eq!(first, again, "{}: answered from the log", stringify!($rpc));
            let head = recorded(&system, &[&disputed, &trafficked]).await;
            refused(
                $client.$rpc($other.request($request)).await,
                Code::PermissionDenied,
                concat!(stringify!($rpc), " replayed by another organisation"),
            );
            assert_eq!(recorded(&system, &[&disputed, &trafficked]).await, head);
            first
        }};
    }
    replayed!(
        s.record_age_assessment,
        questura,
        carabinieri,
        age_assessment(&disputed, "replay-age")
    );
    replayed!(
        s.appoint_guardian,
        questura,
        carabinieri,
        guardian(&disputed, "replay-guardian")
    );
    replayed!(
        s.record_formal_identification,
        body,
        other_body,
        identification(&trafficked, "replay-id")
    );
    let scheduled = replayed!(
        s.schedule_follow_up,
        operator(),
        body,
        schedule(&trafficked, "replay-schedule")
    );
    replayed!(
        s.record_follow_up,
        operator(),
        body,
        api::RecordFollowUpRequest {
            follow_up_id: scheduled.follow_up_id.clone(),
            ..follow_up(&trafficked, "replay-follow-up")
        }
    );
    replayed!(
        r.refuse_consent,
        operator(),
        agrigento,
        refusal(&trafficked, "replay-refusal")
    );
    // Detained in another province: still answered to the prefecture that decided.
    replayed!(
        s.place_case,
        agrigento,
        operator(),
        detention(&trafficked, "replay-detain")
    );

    // Closed: the new commands are refused, their replays still answered.
    let caltanissetta = prefecture("CL");
    s.close_case(caltanissetta.request(api::CloseCaseRequest {
        request_id: "replay-close".to_owned(),
        case_id: trafficked.clone(),
        reason: "left_reception".to_owned(),
        closed_at: ts(NOW - time::Duration::minutes(1)),
    }))
    .await
    .expect("closed");
    s.close_case(agrigento.request(api::CloseCaseRequest {
        request_id: "replay-close".to_owned(),
        case_id: disputed.clone(),
        reason: "left_reception".to_owned(),
        closed_at: ts(NOW - time::Duration::minutes(1)),
    }))
    .await
    .expect("closed");
    let head = recorded(&system, &[&disputed, &trafficked]).await;
    let again = s
        .schedule_follow_up(operator().request(schedule(&trafficked, "replay-schedule")))
        .await
        .expect("a replay on a closed case")
        .into_inner();
    assert_eq!(again, scheduled);
    refused(
        s.record_age_assessment(questura.request(age_assessment(&disputed, "closed-age")))
            .await,
        Code::FailedPrecondition,
        "an age assessment on a closed case",
    );
    refused(
        s.appoint_guardian(questura.request(guardian(&disputed, "closed-guardian")))
            .await,
        Code::FailedPrecondition,
        "a guardian on a closed case",
    );
    refused(
        s.record_follow_up(body.request(follow_up(&trafficked, "closed-follow-up")))
            .await,
        Code::FailedPrecondition,
        "a follow-up by the receiver in care on a closed case",
    );
    refused(
        s.schedule_follow_up(caltanissetta.request(schedule(&trafficked, "closed-schedule")))
            .await,
        Code::PermissionDenied,
        "a prefecture schedules no follow-up",
    );
    assert_eq!(
        recorded(&system, &[&disputed, &trafficked]).await,
        head,
        "nothing appended"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_of_the_new_rpcs_name_every_field_and_append_nothing() {
    let system = start().await;
    let case_id = case(
        &system,
        &operator(),
        "malformed",
        "",
        &["AGE_DISPUTED"],
        &[],
    )
    .await;
    let head = recorded(&system, &[&case_id]).await;
    let questura = police("questura-ag", "AG");
    let body = receiver(BODY);
    let mut s = system.screening(&operator()).await;
    let mut r = system.referral(&operator()).await;
    let bad_time = Some(prost_types::Timestamp {
        seconds: 0,
        nanos: -1,
    });

    #[track_caller]
    fn names<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, fields: &[&str], secret: &str) {
        let status = answer.expect_err("malformed");
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        for field in fields {
            assert!(
                status.message().contains(field),
                "{field} not named: {}",
                status.message()
            );
        }
        assert!(
            !status.message().contains(secret),
            "a value echoed: {}",
            status.message()
        );
    }
    names(
        s.record_age_assessment(questura.request(api::RecordAgeAssessmentRequest {
            request_id: "bad id!".to_owned(),
            case_id: "Not A Case".to_owned(),
            age_band: "about seventeen".to_owned(),
            assessed_at: bad_time,
        }))
        .await,
        &["request_id", "case_id", "age_band", "assessed_at"],
        "seventeen",
    );
    names(
        s.appoint_guardian(questura.request(api::AppointGuardianRequest {
            request_id: String::new(),
            case_id: case_id.clone(),
            guardian_kind: "Mario Rossi".to_owned(),
            guardian_organisation_id: "Servizi Sociali di Palermo".to_owned(),
            appointed_at: None,
        }))
        .await,
        &[
            "request_id",
            "guardian_kind",
            "guardian_organisation_id",
            "appointed_at",
        ],
        "Rossi",
    );
    names(
        s.record_formal_identification(body.request(api::RecordFormalIdentificationRequest {
            request_id: "id".to_owned(),
            case_id: case_id.clone(),
            category: "trafficked by her uncle".to_owned(),
            identified_at: None,
        }))
        .await,
        &["category", "identified_at"],
        "uncle",
    );
    names(
        s.schedule_follow_up(operator().request(api::ScheduleFollowUpRequest {
            request_id: "s".to_owned(),
            case_id: case_id.clone(),
            due_on: "next Tuesday at via Roma 3".to_owned(),
            purpose: "visit her at home".to_owned(),
        }))
        .await,
        &["due_on", "purpose"],
        "via Roma",
    );
    names(
        s.record_follow_up(operator().request(api::RecordFollowUpRequest {
            request_id: "f".to_owned(),
            case_id: case_id.clone(),
            follow_up_id: "F 1".to_owned(),
            outcome: "she was crying".to_owned(),
            at: None,
        }))
        .await,
        &["follow_up_id", "outcome", "at"],
        "crying",
    );
    names(
        s.place_case(prefecture("AG").request(api::PlaceCaseRequest {
            request_id: "p".to_owned(),
            case_id: case_id.clone(),
            facility_id: "cpr-caltanissetta".to_owned(),
            placed_at: None,
            detention_justification: "looked suspicious".to_owned(),
            detention_authority: "the boss".to_owned(),
            ..Default::default()
        }))
        .await,
        &[
            "placed_at",
            "detention_justification",
            "detention_authority",
        ],
        "suspicious",
    );
    // A claim of another province is named with the new fields' faults.
    names(
        s.place_case(prefecture("AG").request(api::PlaceCaseRequest {
            request_id: "p".to_owned(),
            case_id: case_id.clone(),
            facility_id: "cpr-caltanissetta".to_owned(),
            province: "RM".to_owned(),
            placed_at: ts(NOW),
            detention_justification: "looked suspicious".to_owned(),
            ..Default::default()
        }))
        .await,
        &["province", "detention_justification"],
        "suspicious",
    );
    names(
        s.open_case(operator().request(api::OpenCaseRequest {
            request_id: "o".to_owned(),
            arrival: Some(api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(ARRIVED),
            }),
            facility_id: OPERATOR.to_owned(),
            province: "RM".to_owned(),
            age_band: "seventeen or so".to_owned(),
            ..Default::default()
        }))
        .await,
        &["province", "age_band"],
        "seventeen",
    );
    names(
        r.refuse_consent(operator().request(referral::RefuseConsentRequest {
            request_id: "r".to_owned(),
            case_id: case_id.clone(),
            recipient: None,
            purpose: "tell her family".to_owned(),
            refused_at: None,
        }))
        .await,
        &["recipient", "purpose", "refused_at"],
        "family",
    );
    assert_eq!(
        recorded(&system, &[&case_id]).await,
        head,
        "nothing appended"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erasure_the_new_commands_answer_their_replays_and_carry_no_personal_data() {
    let system = start().await;
    let case_id = case(&system, &operator(), "erased", "", &["AGE_DISPUTED"], &[]).await;
    let questura = police("questura-ag", "AG");
    let mut s = system.screening(&operator()).await;
    let assessed = s
        .record_age_assessment(questura.request(age_assessment(&case_id, "erased-age")))
        .await
        .expect("assessed")
        .into_inner();
    let appointed = s
        .appoint_guardian(questura.request(guardian(&case_id, "erased-guardian")))
        .await
        .expect("appointed")
        .into_inner();
    let scheduled = s
        .schedule_follow_up(operator().request(schedule(&case_id, "erased-schedule")))
        .await
        .expect("scheduled")
        .into_inner();
    s.erase_case(prefecture("AG").request(api::EraseCaseRequest {
        request_id: "erase".to_owned(),
        case_id: case_id.clone(),
        reason: "person_request".to_owned(),
    }))
    .await
    .expect("erased");
    let head = recorded(&system, &[&case_id]).await;
    assert_eq!(
        s.record_age_assessment(questura.request(age_assessment(&case_id, "erased-age")))
            .await
            .expect("replayed")
            .into_inner(),
        assessed
    );
    assert_eq!(
        s.appoint_guardian(questura.request(guardian(&case_id, "erased-guardian")))
            .await
            .expect("replayed")
            .into_inner(),
        appointed
    );
    assert_eq!(
        s.schedule_follow_up(operator().request(schedule(&case_id, "erased-schedule")))
            .await
            .expect("replayed")
            .into_inner(),
        scheduled
    );
    assert_eq!(
        recorded(&system, &[&case_id]).await,
        head,
        "replays append nothing"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adult_band_declared_at_opening_does_not_defeat_a_disputed_age() {
    let system = start().await;
    // The police open the case declaring an adult; the check disputes the age.
    let questura = police("questura-ag", "AG");
    let case_id = case(
        &system,
        &questura,
        "declared-adult",
        "18+",
        &["AGE_DISPUTED", "UNACCOMPANIED_MINOR"],
        &[],
    )
    .await;
    let mut s = system.screening(&operator()).await;
    let head = recorded(&system, &[&case_id]).await;
    let unjustified = api::PlaceCaseRequest {
        detention_justification: String::new(),
        ..detention(&case_id, "detain-declared-adult")
    };
    refused(
        s.place_case(prefecture("AG").request(unjustified.clone()))
            .await,
        Code::FailedPrecondition,
        "a person presumed a minor placed in detention",
    );
    refused(
        s.place_case(prefecture("AG").request(detention(&case_id, "detain-justified")))
            .await,
        Code::FailedPrecondition,
        "a person presumed a minor placed in detention with a justification",
    );
    assert_eq!(
        recorded(&system, &[&case_id]).await,
        head,
        "nothing appended"
    );
    let scope = HistoryScope::Root {
        kind: RootKind::Case,
        id: TokenId::parse(&case_id).expect("case id"),
    };
    let checked = system
        .log()
        .await
        .history(&scope, HistoryBound::All)
        .await
        .expect("history")
        .last()
        .map_or(0, |commit| commit.sequence);
    let seen = s
        .get_case(prefecture("AG").request(api::GetCaseRequest {
            case_id: case_id.clone(),
            min_log_sequence: checked,
        }))
        .await
        .expect("case")
        .into_inner()
        .case
        .expect("view");
    assert!(
        seen.minor && seen.unaccompanied_minor,
        "presumed, as the view says"
    );

    // Only the competent authority's assessment ends the presumption.
    s.record_age_assessment(questura.request(api::RecordAgeAssessmentRequest {
        age_band: "18+".to_owned(),
        ..age_assessment(&case_id, "assessed-adult")
    }))
    .await
    .expect("assessed an adult");
    s.place_case(prefecture("AG").request(unjustified))
        .await
        .expect("an adult with no confirmed category is placed");
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_fields_claim_no_consent_age_and_no_reason_of_the_service() {
    let system = start().await;
    // Age disputed, band unknown: a presumed minor.
    let disputed = case(
        &system,
        &operator(),
        "claims-minor",
        "",
        &["AGE_DISPUTED"],
        &[],
    )
    .await;
    let trafficked = case(
        &system,
        &operator(),
        "claims-trafficked",
        "18+",
        &["TRAFFICKING"],
        &["TRAFFICKING"],
    )
    .await;
    let referral_id = refer(&system, &trafficked, BODY).await;
    let before = recorded(&system, &[&disputed, &trafficked]).await;
    let mut r = system.referral(&operator()).await;

    // The request says the person is of consent age: the case's band decides.
    let claimed = r
        .give_consent(operator().request(referral::GiveConsentRequest {
            request_id: "claims-consent-age".to_owned(),
            case_id: disputed.clone(),
            recipient: Some(referral::Recipient {
                recipient: Some(referral::recipient::Recipient::OrganisationId(
                    BODY.to_owned(),
                )),
            }),
            basis: Some(referral::give_consent_request::Basis::Consent(
                referral::ConsentBasis {
                    purpose: "protection_and_support".to_owned(),
                    scopes: vec!["categories".to_owned()],
                    valid_until: ts(NOW + time::Duration::days(90)),
                    grantor: "person".to_owned(),
                    of_consent_age: true,
                    ..Default::default()
                },
            )),
            given_at: ts(NOW - time::Duration::minutes(5)),
        }))
        .await;
    refused(
        claimed,
        Code::FailedPrecondition,
        "a presumed minor's own consent claimed of age",
    );
    // A referrer cannot give the reason only the service records.
    let cancelled = r
        .update_referral(operator().request(referral::UpdateReferralRequest {
            request_id: "claims-closed".to_owned(),
            case_id: trafficked.clone(),
            referral_id,
            action: Some(Action::Cancel(referral::update_referral_request::Cancel {
                reason: "case_closed".to_owned(),
            })),
        }))
        .await;
    match cancelled {
        Err(status) => {
            assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
            assert!(
                status.message().contains("cancel.reason"),
                "{}",
                status.message()
            );
        }
        Ok(answer) => panic!("a cancellation for a closed case by the referrer: {answer:?}"),
    }
    assert_eq!(
        recorded(&system, &[&disputed, &trafficked]).await,
        before,
        "nothing appended"
    );
    system.stop().await;
}

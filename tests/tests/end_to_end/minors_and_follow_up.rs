//! Minors, detention and follow-up end to end, in process, over gRPC against a
//! real nats-server, with the injected clock: an unaccompanied minor's 45 days
//! in first reception recorded once when passed; detention of a minor refused
//! and of a confirmed-vulnerable person recorded with `VulnerablePersonDetained`;
//! an age assessment (and a guardian) refused to an organisation the
//! configuration does not name and accepted from one it names; a transferred
//! person not found in time is lost to follow-up, one found is not; a
//! receiver follows up a case in its care, not one only sent to it.

use contracts::person::v1 as person;
use contracts::screening::v1 as api;
use service_runtime::caller::OrganisationType;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;

use crate::support::{Caller, ScreeningClient as Client, Service, System, ts};

const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
/// The arrival, an hour before: 20 June in Rome.
const ARRIVED: OffsetDateTime = datetime!(2026-06-20 09:00 UTC);
/// 45 days from 20 June end with 4 August in Rome: 5 August 00:00 CEST.
const FIRST_RECEPTION_LIMIT: OffsetDateTime = datetime!(2026-08-04 22:00 UTC);

fn operator() -> Caller {
    Caller::operator("hotspot-lampedusa", "AG")
}

fn prefecture() -> Caller {
    Caller::prefecture("prefettura-ag", "AG")
}

fn police() -> Caller {
    Caller::new(OrganisationType::Police, "questura-ag", Some("AG"))
}

/// Opens a case at the hotspot with `age_band` and, if given, a date of birth.
async fn open(
    client: &mut Client,
    request_id: &str,
    age_band: &str,
    born: &str,
) -> Result<String, tonic::Status> {
    client
        .open_case(operator().request(api::OpenCaseRequest {
            request_id: request_id.to_owned(),
            arrival: Some(api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(ARRIVED),
            }),
            facility_id: "hotspot-lampedusa".to_owned(),
            personal_data: Some(person::PersonalData {
                given_names: "Yusuf".to_owned(),
                date_of_birth: born.to_owned(),
                ..Default::default()
            }),
            age_band: age_band.to_owned(),
            ..Default::default()
        }))
        .await
        .map(|answer| answer.into_inner().case_id)
}

/// The preliminary check, with `categories` suspected.
async fn check(client: &mut Client, case_id: &str, categories: &[&str]) -> u64 {
    client
        .record_preliminary_check(
            operator().request(api::RecordPreliminaryCheckRequest {
                request_id: format!("check-{case_id}"),
                case_id: case_id.to_owned(),
                suspected: categories
                    .iter()
                    .map(|c| api::SuspectedCategory {
                        category: (*c).to_owned(),
                        ..Default::default()
                    })
                    .collect(),
                urgency: "high".to_owned(),
                place: "LAMPEDUSA".to_owned(),
                checked_at: ts(ARRIVED + time::Duration::minutes(30)),
                ..Default::default()
            }),
        )
        .await
        .expect("check")
        .into_inner()
        .log_sequence
}

async fn view(client: &mut Client, case_id: &str, min: u64) -> api::CaseView {
    view_as(client, &prefecture(), case_id, min).await
}

async fn view_as(client: &mut Client, by: &Caller, case_id: &str, min: u64) -> api::CaseView {
    client
        .get_case(by.request(api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await
        .expect("case")
        .into_inner()
        .case
        .expect("view")
}

/// The event types of the case's history, one list per commit, as analysts
/// read it (wherever the case is now).
async fn commits(client: &mut Client, case_id: &str) -> Vec<Vec<String>> {
    let analyst = Caller::new(OrganisationType::Analyst, "istat", None);
    client
        .get_case_history(analyst.request(api::GetCaseHistoryRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: 0,
        }))
        .await
        .expect("history")
        .into_inner()
        .entries
        .into_iter()
        .map(|entry| {
            entry
                .event_types
                .into_iter()
                .map(|t| t.trim_start_matches("approdo.screening.v1.").to_owned())
                .collect()
        })
        .collect()
}

async fn count(client: &mut Client, case_id: &str, event_type: &str) -> usize {
    commits(client, case_id)
        .await
        .iter()
        .flatten()
        .filter(|t| *t == event_type)
        .count()
}

/// Moves the clock to `at` and waits for a whole pass of the deadline watcher.
async fn at(system: &System, at: OffsetDateTime) {
    system.advance(at - system.now());
    system.deadlines_checked(Service::Screening, at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unaccompanied_minors_45_days_in_first_reception_are_recorded_once_when_passed() {
    let mut system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let case_id = open(&mut client, "minor-45", "16-17", "2009-09-01")
        .await
        .expect("open");
    let adult = open(&mut client, "adult-45", "18+", "")
        .await
        .expect("open");
    // An adult with no doubt about the age (a minor category would make the
    // declared band a disputed one: a presumed minor).
    check(&mut client, &adult, &["TORTURE"]).await;
    let checked = check(&mut client, &case_id, &["UNACCOMPANIED_MINOR"]).await;
    let seen = view(&mut client, &case_id, checked).await;
    assert_eq!(seen.age_band, "16-17");
    assert!(seen.minor && seen.unaccompanied_minor);
    let stay = seen
        .first_reception
        .expect("in first reception at the hotspot");
    assert_eq!(stay.entered_on, "2026-06-20");
    assert_eq!(stay.limit.and_then(|l| l.due_at), ts(FIRST_RECEPTION_LIMIT));

    at(&system, FIRST_RECEPTION_LIMIT - time::Duration::seconds(1)).await;
    assert_eq!(
        count(&mut client, &case_id, "FirstReceptionLimitExceeded").await,
        0,
        "the 45th day is not over"
    );
    at(&system, FIRST_RECEPTION_LIMIT).await;
    assert_eq!(
        count(&mut client, &case_id, "FirstReceptionLimitExceeded").await,
        1
    );
    // Later passes, and a restarted service, record it no more.
    at(&system, FIRST_RECEPTION_LIMIT + time::Duration::days(3)).await;
    system.restart(Service::Screening).await;
    let mut client = system.screening(&operator()).await;
    at(&system, FIRST_RECEPTION_LIMIT + time::Duration::days(4)).await;
    assert_eq!(
        count(&mut client, &case_id, "FirstReceptionLimitExceeded").await,
        1
    );
    assert_eq!(
        count(&mut client, &adult, "FirstReceptionLimitExceeded").await,
        0,
        "an adult has no such limit"
    );
    let last = system.log().await.last_sequence().await.expect("last");
    let limit = view(&mut client, &case_id, last)
        .await
        .first_reception
        .and_then(|stay| stay.limit)
        .expect("limit");
    assert!(limit.missed && limit.overdue);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detention_of_a_minor_is_refused_and_of_a_confirmed_vulnerable_person_recorded() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
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
    let mut client = system.screening(&operator()).await;
    let detain = |case_id: &str, request_id: &str, justification: &str| {
        prefecture().request(api::PlaceCaseRequest {
            request_id: request_id.to_owned(),
            case_id: case_id.to_owned(),
            facility_id: "cpr-caltanissetta".to_owned(),
            placed_at: ts(NOW),
            detention_justification: justification.to_owned(),
            detention_authority: if justification.is_empty() {
                String::new()
            } else {
                "police_chief".to_owned()
            },
            ..Default::default()
        })
    };

    let minor = open(&mut client, "detained-minor", "16-17", "")
        .await
        .expect("open");
    check(&mut client, &minor, &["UNACCOMPANIED_MINOR"]).await;
    let refused = client
        .place_case(detain(&minor, "detain-minor", "public_order"))
        .await
        .expect_err("a minor is never detained");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("never placed in detention"),
        "{}",
        refused.message()
    );

    let survivor = open(&mut client, "detained-survivor", "18+", "1990-01-01")
        .await
        .expect("open");
    check(&mut client, &survivor, &["TORTURE"]).await;
    client
        .record_assessment(operator().request(api::RecordAssessmentRequest {
            request_id: "assess-survivor".to_owned(),
            case_id: survivor.clone(),
            outcomes: vec![api::CategoryOutcome {
                category: "TORTURE".to_owned(),
                status: "confirmed".to_owned(),
                ..Default::default()
            }],
            assessed_at: ts(ARRIVED + time::Duration::minutes(40)),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        }))
        .await
        .expect("assessed");
    let unjustified = client
        .place_case(detain(&survivor, "detain-unjustified", ""))
        .await
        .expect_err("a justification is required");
    assert_eq!(unjustified.code(), Code::FailedPrecondition);
    let free_text = client
        .place_case(detain(&survivor, "detain-free-text", "seemed dangerous"))
        .await
        .expect_err("a code from the closed list");
    assert_eq!(free_text.code(), Code::InvalidArgument);
    assert!(free_text.message().contains("detention_justification"));
    assert!(!free_text.message().contains("dangerous"));
    let placed = client
        .place_case(detain(&survivor, "detain-justified", "risk_of_absconding"))
        .await
        .expect("detained with a justification")
        .into_inner();

    let history = commits(&mut client, &survivor).await;
    assert_eq!(
        history.last().map(Vec::as_slice),
        Some(
            [
                "CasePlaced".to_owned(),
                "VulnerablePersonDetained".to_owned()
            ]
            .as_slice()
        ),
        "one commit: the placement and the event of indicator 8"
    );
    // Now in the detention facility's province.
    let caltanissetta = Caller::prefecture("prefettura-cl", "CL");
    let seen = view_as(&mut client, &caltanissetta, &survivor, placed.log_sequence).await;
    assert_eq!(seen.facility_kind, "detention");
    assert_eq!(seen.vulnerable_detentions, 1);
    assert_eq!(
        count(&mut client, &minor, "CasePlaced").await,
        0,
        "the refused placement appended nothing"
    );
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_age_assessment_is_refused_to_an_unlisted_organisation_and_accepted_from_a_listed_one() {
    let system = System::builder()
        .clock_at(NOW)
        .services(&[Service::Screening])
        .options(
            Service::Screening,
            "age_assessment_authorities = [\"questura-ag\"]\n\
             guardianship_authorities = [\"questura-ag\"]\n",
        )
        .start()
        .await;
    let mut client = system.screening(&operator()).await;

    // A band that the sealed date of birth contradicts: both named, the date never echoed.
    let contradicted = open(&mut client, "contradicted", "18+", "2010-05-05")
        .await
        .expect_err("the band disagrees with the date of birth");
    assert_eq!(contradicted.code(), Code::InvalidArgument);
    assert!(
        contradicted
            .message()
            .contains("age_band, personal_data.date_of_birth"),
        "{}",
        contradicted.message()
    );
    assert!(!contradicted.message().contains("2010"));

    let case_id = open(&mut client, "age-disputed", "", "")
        .await
        .expect("open");
    let checked = check(
        &mut client,
        &case_id,
        &["AGE_DISPUTED", "UNACCOMPANIED_MINOR"],
    )
    .await;
    let seen = view(&mut client, &case_id, checked).await;
    assert_eq!(seen.age_band, "unknown");
    assert!(seen.minor, "in doubt, minority is presumed");
    let assess = |request_id: &str, band: &str| api::RecordAgeAssessmentRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.clone(),
        age_band: band.to_owned(),
        assessed_at: ts(NOW),
    };
    let before = commits(&mut client, &case_id).await.len();

    let unlisted = client
        .record_age_assessment(prefecture().request(assess("by-prefecture", "16-17")))
        .await
        .expect_err("the prefecture is not named");
    assert_eq!(unlisted.code(), Code::PermissionDenied);
    let undecided = client
        .record_age_assessment(police().request(assess("undecided", "unknown")))
        .await
        .expect_err("an assessment concludes");
    assert_eq!(undecided.code(), Code::InvalidArgument);
    assert_eq!(commits(&mut client, &case_id).await.len(), before);

    let assessed = client
        .record_age_assessment(police().request(assess("by-police", "16-17")))
        .await
        .expect("the named authority records it")
        .into_inner();
    let seen = view(&mut client, &case_id, assessed.log_sequence).await;
    assert_eq!(seen.age_band, "16-17");
    assert_eq!(
        seen.age_assessment.map(|a| a.assessed_by_organisation),
        Some("questura-ag".to_owned())
    );

    // The guardian: named authorities only, and only for a minor.
    let appoint = |request_id: &str| api::AppointGuardianRequest {
        request_id: request_id.to_owned(),
        case_id: case_id.clone(),
        guardian_kind: "volunteer_guardian".to_owned(),
        appointed_at: ts(NOW),
        ..Default::default()
    };
    let unlisted = client
        .appoint_guardian(prefecture().request(appoint("guardian-by-prefecture")))
        .await
        .expect_err("not named");
    assert_eq!(unlisted.code(), Code::PermissionDenied);
    let appointed = client
        .appoint_guardian(police().request(appoint("guardian")))
        .await
        .expect("appointed")
        .into_inner();
    let seen = view(&mut client, &case_id, appointed.log_sequence).await;
    let guardian = seen.guardian.expect("guardian");
    assert_eq!(guardian.guardian_kind, "volunteer_guardian");
    assert_eq!(guardian.appointed_by_organisation, "questura-ag");

    // Assessed an adult: no longer a minor, so no guardian.
    client
        .record_age_assessment(police().request(assess("adult", "18+")))
        .await
        .expect("reassessed");
    let not_a_minor = client
        .appoint_guardian(police().request(appoint("guardian-of-adult")))
        .await
        .expect_err("not a minor");
    assert_eq!(not_a_minor.code(), Code::FailedPrecondition);
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_person_not_found_in_time_is_lost_to_follow_up_and_one_found_is_not() {
    let system = System::start_at(NOW, &[Service::Screening]).await;
    let mut client = system.screening(&operator()).await;
    let transfer = |case_id: &str, facility: &str| {
        prefecture().request(api::PlaceCaseRequest {
            request_id: format!("transfer-{case_id}"),
            case_id: case_id.to_owned(),
            facility_id: facility.to_owned(),
            placed_at: ts(NOW),
            ..Default::default()
        })
    };
    let lost = open(&mut client, "lost", "18+", "").await.expect("open");
    let found = open(&mut client, "found", "18+", "").await.expect("open");
    client
        .place_case(transfer(&lost, "cas-agrigento"))
        .await
        .expect("transferred");
    let placed = client
        .place_case(transfer(&found, "cas-agrigento-2"))
        .await
        .expect("transferred")
        .into_inner();
    let due = NOW + time::Duration::hours(72);
    let arrival = view(&mut client, &found, placed.log_sequence)
        .await
        .expected_arrival
        .expect("an arrival is awaited");
    assert_eq!(arrival.facility_id, "cas-agrigento-2");
    assert_eq!(arrival.deadline.and_then(|d| d.due_at), ts(due));

    // The new facility finds the person, and schedules a follow-up it then misses.
    let new_facility = Caller::operator("cas-agrigento-2", "AG");
    let mut there = system.screening(&new_facility).await;
    there
        .record_follow_up(new_facility.request(api::RecordFollowUpRequest {
            request_id: "arrived".to_owned(),
            case_id: found.clone(),
            outcome: "found".to_owned(),
            at: ts(NOW),
            ..Default::default()
        }))
        .await
        .expect("arrival confirmed");
    let scheduled = there
        .schedule_follow_up(new_facility.request(api::ScheduleFollowUpRequest {
            request_id: "wellbeing".to_owned(),
            case_id: found.clone(),
            due_on: "2026-06-21".to_owned(),
            purpose: "wellbeing".to_owned(),
        }))
        .await
        .expect("scheduled")
        .into_inner();
    assert!(!scheduled.follow_up_id.is_empty());
    // The facility the person left no longer follows them up.
    let left = client
        .record_follow_up(operator().request(api::RecordFollowUpRequest {
            request_id: "left-behind".to_owned(),
            case_id: found.clone(),
            outcome: "not_found".to_owned(),
            at: ts(NOW),
            ..Default::default()
        }))
        .await
        .expect_err("outside the caller's facility");
    assert_eq!(left.code(), Code::PermissionDenied);

    at(&system, due - time::Duration::seconds(1)).await;
    assert_eq!(count(&mut client, &lost, "LostToFollowUp").await, 0);
    assert_eq!(
        count(&mut client, &found, "FollowUpMissed").await,
        1,
        "21 June ended in Rome unrecorded"
    );
    at(&system, due).await;
    assert_eq!(count(&mut client, &lost, "LostToFollowUp").await, 1);
    at(&system, due + time::Duration::days(2)).await;
    assert_eq!(count(&mut client, &lost, "LostToFollowUp").await, 1, "once");
    assert_eq!(count(&mut client, &found, "LostToFollowUp").await, 0);
    assert_eq!(count(&mut client, &found, "FollowUpMissed").await, 1);

    let last = system.log().await.last_sequence().await.expect("last");
    let lost_view = view(&mut client, &lost, last).await;
    let deadline = lost_view
        .expected_arrival
        .and_then(|a| a.deadline)
        .expect("deadline");
    assert!(deadline.missed && deadline.overdue);
    let found_view = view(&mut client, &found, last).await;
    assert!(
        found_view
            .expected_arrival
            .and_then(|a| a.deadline)
            .is_some_and(|d| d.met_at.is_some() && !d.missed)
    );
    let follow_up = &found_view.follow_ups[0];
    assert_eq!(follow_up.follow_up_id, scheduled.follow_up_id);
    assert!(follow_up.deadline.as_ref().is_some_and(|d| d.missed));
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_follows_up_a_case_in_its_care_and_not_one_only_sent_to_it() {
    use contracts::referral::v1 as referral;
    use referral::update_referral_request::{Accept, Action, Receive, TakeCharge};

    use crate::referral::{CAV, Fixture};

    let system = Fixture::start().await;
    let case_id = system.screened_case("follow-up-in-care", false).await;
    system.register(CAV, &["AG"]).await;
    let consent_id = system.consent_to(&case_id, "follow-up-consent", CAV).await;
    let referral_id = system
        .refer(&case_id, "follow-up-referral", CAV, &consent_id, "high")
        .await
        .expect("sent")
        .referral_id;
    let centre = Caller::receiver(CAV, Some("RM"));
    let mut screening = system.screening(&centre).await;
    let schedule = |request_id: &str| {
        centre.request(api::ScheduleFollowUpRequest {
            request_id: request_id.to_owned(),
            case_id: case_id.clone(),
            due_on: "2026-06-27".to_owned(),
            purpose: "referral_follow_up".to_owned(),
        })
    };
    let sent_only = screening
        .schedule_follow_up(schedule("before-care"))
        .await
        .expect_err("a referral only sent is not care");
    assert_eq!(sent_only.code(), Code::PermissionDenied);

    let mut referrals = system.referral(&centre).await;
    for (request_id, action) in [
        ("care-receive", Action::Receive(Receive {})),
        ("care-accept", Action::Accept(Accept {})),
        ("care-take-charge", Action::TakeCharge(TakeCharge {})),
    ] {
        referrals
            .update_referral(centre.request(referral::UpdateReferralRequest {
                request_id: request_id.to_owned(),
                case_id: case_id.clone(),
                referral_id: referral_id.clone(),
                action: Some(action),
            }))
            .await
            .expect(request_id);
    }
    let scheduled = screening
        .schedule_follow_up(schedule("in-care"))
        .await
        .expect("the receiver in care schedules")
        .into_inner();
    let recorded = screening
        .record_follow_up(centre.request(api::RecordFollowUpRequest {
            request_id: "in-care-done".to_owned(),
            case_id: case_id.clone(),
            follow_up_id: scheduled.follow_up_id.clone(),
            outcome: "found".to_owned(),
            at: ts(NOW),
        }))
        .await
        .expect("and records")
        .into_inner();
    let mut client = system.screening(&operator()).await;
    let seen = view(&mut client, &case_id, recorded.log_sequence).await;
    let follow_up = seen.follow_ups.first().expect("follow-up");
    assert_eq!(follow_up.follow_up_id, scheduled.follow_up_id);
    assert_eq!(follow_up.outcome, "found");
    assert!(
        follow_up
            .deadline
            .as_ref()
            .is_some_and(|d| d.met_at.is_some())
    );
}

//! The referral service end to end, in process, over gRPC against a real
//! nats-server, with the screening service beside it: the GBV journey from
//! screening to completed care, consent rules, withdrawal, the accept/cancel
//! race, inbox isolation and a resumable watch, deadlines across restarts,
//! projection rebuild, and invalid input.

use std::collections::BTreeSet;
use std::time::Duration;

use case_log_jetstream::{HistoryBound, HistoryScope, RootKind, TokenId};
use contracts::admin::v1 as admin;
use contracts::referral::v1 as api;
use contracts::screening::v1 as screening_api;
use service_runtime::caller::OrganisationType;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::Code;
use update::Action;

use crate::support::{
    Caller, ReferralClient as Referrals, Service, System, eventually, token, ts, with_token,
};

use api::update_referral_request as update;

pub(crate) const NOW: OffsetDateTime = datetime!(2026-06-20 10:00 UTC);
pub(crate) const OPERATOR: &str = "hotspot-lampedusa";
pub(crate) const CAV: &str = "differenza-donna";
const OTHER_CAV: &str = "cav-palermo";

pub(crate) fn operator<T>(message: T) -> tonic::Request<T> {
    with_token(
        message,
        &token(OrganisationType::ReceptionOperator, OPERATOR, Some("AG")),
    )
}

fn admin<T>(message: T) -> tonic::Request<T> {
    Caller::administrator().request(message)
}

pub(crate) fn receiver<T>(organisation: &str, message: T) -> tonic::Request<T> {
    Caller::receiver(organisation, Some("RM")).request(message)
}

/// The person's consent to refer the case to `organisation` (no request id yet).
pub(crate) fn consent_request(case_id: &str, organisation: &str) -> api::GiveConsentRequest {
    api::GiveConsentRequest {
        request_id: String::new(),
        case_id: case_id.to_owned(),
        recipient: Some(api::Recipient {
            recipient: Some(api::recipient::Recipient::OrganisationId(
                organisation.to_owned(),
            )),
        }),
        basis: Some(api::give_consent_request::Basis::Consent(
            api::ConsentBasis {
                purpose: "protection_and_support".to_owned(),
                scopes: vec![
                    "categories".to_owned(),
                    "urgency".to_owned(),
                    "communication".to_owned(),
                ],
                valid_until: ts(NOW + time::Duration::days(90)),
                grantor: "person".to_owned(),
                ..Default::default()
            },
        )),
        given_at: ts(NOW - time::Duration::minutes(5)),
    }
}

/// The screening and referral services, and the steps of a referral the tests share.
pub(crate) struct Fixture {
    system: System,
}

impl std::ops::Deref for Fixture {
    type Target = System;
    fn deref(&self) -> &System {
        &self.system
    }
}

impl std::ops::DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut System {
        &mut self.system
    }
}

impl Fixture {
    pub(crate) async fn start() -> Fixture {
        Fixture {
            system: System::start_at(NOW, &[Service::Screening, Service::Referral]).await,
        }
    }

    /// The referral service, as the hotspot's operator (requests may carry another token).
    pub(crate) async fn referrals(&self) -> Referrals {
        self.system
            .referral(&Caller::operator(OPERATOR, "AG"))
            .await
    }

    /// A case screened with GBV confirmed (and, if asked, a minor).
    pub(crate) async fn screened_case(&self, request: &str, minor: bool) -> String {
        let mut screening = self
            .system
            .screening(&Caller::operator(OPERATOR, "AG"))
            .await;
        let arrived = NOW - time::Duration::days(3);
        let opened = screening
            .open_case(operator(screening_api::OpenCaseRequest {
                request_id: request.to_owned(),
                arrival: Some(screening_api::Arrival {
                    place: "LAMPEDUSA".to_owned(),
                    arrived_at: ts(arrived),
                }),
                province: "AG".to_owned(),
                facility_id: "hotspot-lampedusa".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("open")
            .into_inner();
        let mut suspected = vec![screening_api::SuspectedCategory {
            category: "GBV".to_owned(),
            indicators: vec![],
            ..Default::default()
        }];
        if minor {
            suspected.push(screening_api::SuspectedCategory {
                category: "UNACCOMPANIED_MINOR".to_owned(),
                indicators: vec![],
                ..Default::default()
            });
        }
        screening
            .record_preliminary_check(operator(screening_api::RecordPreliminaryCheckRequest {
                request_id: format!("{request}-check"),
                case_id: opened.case_id.clone(),
                suspected,
                urgency: "high".to_owned(),
                place: "LAMPEDUSA".to_owned(),
                checked_at: ts(arrived + time::Duration::hours(4)),
                ..Default::default()
            }))
            .await
            .expect("check");
        screening
            .record_assessment(operator(screening_api::RecordAssessmentRequest {
                request_id: format!("{request}-assessment"),
                case_id: opened.case_id.clone(),
                outcomes: vec![screening_api::CategoryOutcome {
                    category: "GBV".to_owned(),
                    status: "confirmed".to_owned(),
                    ..Default::default()
                }],
                special_reception_needs: true,
                assessed_at: ts(NOW - time::Duration::hours(1)),
                assessor_role: "psychologist".to_owned(),
                ..Default::default()
            }))
            .await
            .expect("assessment");
        opened.case_id
    }

    /// Screening records a vulnerability signal on the case (GBV) with `urgency`:
    /// a signal can only raise the case's urgency.
    pub(crate) async fn signal(&self, case_id: &str, request: &str, urgency: &str) -> u64 {
        self.system
            .screening(&Caller::operator(OPERATOR, "AG"))
            .await
            .raise_vulnerability_signal(operator(screening_api::RaiseVulnerabilitySignalRequest {
                request_id: request.to_owned(),
                case_id: case_id.to_owned(),
                suspected: Some(screening_api::SuspectedCategory {
                    category: "GBV".to_owned(),
                    ..Default::default()
                }),
                urgency: urgency.to_owned(),
                raised_by_role: "cultural_mediator".to_owned(),
                raised_at: ts(self.system.now()),
                gbv_disclosure: true,
            }))
            .await
            .expect("signal")
            .into_inner()
            .log_sequence
    }

    pub(crate) async fn register(&self, organisation: &str, provinces: &[&str]) -> u64 {
        self.referrals()
            .await
            .register_organisation(admin(api::RegisterOrganisationRequest {
                request_id: format!("register-{organisation}"),
                profile: Some(api::OrganisationProfile {
                    organisation_id: organisation.to_owned(),
                    name: format!("Centro {organisation}"),
                    service_types: vec!["anti_violence_centre".to_owned(), "shelter".to_owned()],
                    provinces: provinces.iter().map(|p| (*p).to_owned()).collect(),
                    languages: vec!["it".to_owned(), "en".to_owned(), "fr".to_owned()],
                    accessibility: vec!["female_staff_only".to_owned()],
                    opening_hours: "Mon-Fri 9-18, helpline 24/7".to_owned(),
                    intake_channel: "approdo".to_owned(),
                    availability: "available".to_owned(),
                    active: true,
                }),
            }))
            .await
            .expect("register")
            .into_inner()
            .log_sequence
    }

    pub(crate) async fn consent_to(
        &self,
        case_id: &str,
        request: &str,
        organisation: &str,
    ) -> String {
        self.referrals()
            .await
            .give_consent(operator(api::GiveConsentRequest {
                request_id: request.to_owned(),
                ..consent_request(case_id, organisation)
            }))
            .await
            .expect("consent")
            .into_inner()
            .consent_id
    }

    pub(crate) async fn refer(
        &self,
        case_id: &str,
        request: &str,
        organisation: &str,
        consent_id: &str,
        urgency: &str,
    ) -> Result<api::CreateReferralResponse, tonic::Status> {
        self.referrals()
            .await
            .create_referral(operator(api::CreateReferralRequest {
                request_id: request.to_owned(),
                case_id: case_id.to_owned(),
                receiver_organisation_id: organisation.to_owned(),
                service_type: "anti_violence_centre".to_owned(),
                consent_id: consent_id.to_owned(),
                dataset: Some(api::MinimumDataset {
                    categories: vec!["GBV".to_owned()],
                    urgency: urgency.to_owned(),
                    languages: vec!["fr".to_owned()],
                    ..Default::default()
                }),
                send: true,
            }))
            .await
            .map(|r| r.into_inner())
    }

    pub(crate) async fn act(
        &self,
        by: tonic::Request<()>,
        case_id: &str,
        referral_id: &str,
        request: &str,
        action: Action,
    ) -> Result<api::UpdateReferralResponse, tonic::Status> {
        let (metadata, extensions, ()) = by.into_parts();
        let message = api::UpdateReferralRequest {
            request_id: request.to_owned(),
            case_id: case_id.to_owned(),
            referral_id: referral_id.to_owned(),
            action: Some(action),
        };
        self.referrals()
            .await
            .update_referral(tonic::Request::from_parts(metadata, extensions, message))
            .await
            .map(|r| r.into_inner())
    }

    /// The receiver receives, accepts and takes charge of a referral (request
    /// ids `steps`), then completes it if `complete` names a request id.
    /// Answers the last log sequence.
    pub(crate) async fn walk(
        &self,
        case_id: &str,
        referral_id: &str,
        steps: [&str; 3],
        complete: Option<&str>,
    ) -> u64 {
        let actions = [
            Action::Receive(update::Receive {}),
            Action::Accept(update::Accept {}),
            Action::TakeCharge(update::TakeCharge {}),
        ];
        let completion = complete.map(|request| {
            let outcome = update::Complete {
                outcome: "goals_met".to_owned(),
            };
            (request, Action::Complete(outcome))
        });
        let mut last = 0;
        for (request, action) in steps.into_iter().zip(actions).chain(completion) {
            last = self
                .act(by_receiver(CAV), case_id, referral_id, request, action)
                .await
                .expect(request)
                .log_sequence;
        }
        last
    }

    pub(crate) async fn case_referrals(
        &self,
        case_id: &str,
        min: u64,
    ) -> api::GetCaseReferralsResponse {
        self.referrals()
            .await
            .get_case_referrals(operator(api::GetCaseReferralsRequest {
                case_id: case_id.to_owned(),
                min_log_sequence: min,
            }))
            .await
            .expect("case referrals")
            .into_inner()
    }
}

pub(crate) fn by_receiver(organisation: &str) -> tonic::Request<()> {
    receiver(organisation, ())
}

fn by_operator() -> tonic::Request<()> {
    operator(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbv_case_is_referred_with_consent_accepted_taken_into_care_and_completed() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("journey", false).await;
    let registered = system.register(CAV, &["AG", "RM"]).await;
    system.register(OTHER_CAV, &["PA"]).await;

    // The pathway rules suggest the anti-violence centre serving the case's province.
    let suggested = system
        .referrals()
        .await
        .suggest_receivers(operator(api::SuggestReceiversRequest {
            case_id: case_id.clone(),
            service_type: "anti_violence_centre".to_owned(),
            language: "fr".to_owned(),
            min_log_sequence: registered + 1,
            ..Default::default()
        }))
        .await
        .expect("suggest")
        .into_inner();
    let names: Vec<String> = suggested
        .suggestions
        .iter()
        .filter_map(|s| s.organisation.as_ref().map(|o| o.organisation_id.clone()))
        .collect();
    assert_eq!(names, [CAV], "only the centre serving AG");
    assert_eq!(suggested.suggestions[0].because_of, ["GBV"]);
    assert!(suggested.suggestions[0].speaks_language);

    let consent_id = system.consent_to(&case_id, "consent-1", CAV).await;
    let created = system
        .refer(&case_id, "refer-1", CAV, &consent_id, "high")
        .await
        .expect("referral");
    assert_eq!(created.state, "sent");
    let id = created.referral_id.clone();

    for (request, action, state) in [
        ("r1", Action::Receive(update::Receive {}), "received"),
        ("r2", Action::Accept(update::Accept {}), "accepted"),
        ("r3", Action::TakeCharge(update::TakeCharge {}), "in_care"),
        (
            "r4",
            Action::Complete(update::Complete {
                outcome: "goals_met".to_owned(),
            }),
            "completed",
        ),
    ] {
        let answer = system
            .act(by_receiver(CAV), &case_id, &id, request, action)
            .await
            .expect(state);
        assert_eq!(answer.state, state);
    }
    // The referrer cannot move the receiver's states.
    let refused = system
        .act(
            by_operator(),
            &case_id,
            &id,
            "r5",
            Action::Receive(update::Receive {}),
        )
        .await
        .expect_err("not the receiver");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let last = system.log().await.last_sequence().await.expect("last");
    let case = system.case_referrals(&case_id, last).await;
    let referral = &case.referrals[0];
    let timeline: Vec<&str> = referral.timeline.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(
        timeline,
        [
            "draft",
            "sent",
            "received",
            "accepted",
            "in_care",
            "completed"
        ]
    );
    assert_eq!(
        referral.timeline[2].organisation_id, CAV,
        "who made each transition is recorded"
    );
    assert_eq!(referral.timeline[1].organisation_id, OPERATOR);
    assert_eq!(
        referral.dataset.as_ref().expect("dataset").categories,
        ["GBV"]
    );

    // The case's history shows every step, screening and referral, in order.
    let history = system
        .log()
        .await
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse(&case_id).expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history");
    let types: Vec<String> = history
        .iter()
        .flat_map(|c| {
            c.commit.events.iter().map(|e| {
                e.event_type
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .collect();
    assert_eq!(
        types,
        [
            "CaseOpened",
            "PreliminaryCheckRecorded",
            "AssessmentRecorded",
            "ConsentGiven",
            "ReferralDrafted",
            "ReferralSent",
            "ReferralReceived",
            "ReferralAccepted",
            "TakenIntoCare",
            "ReferralCompleted",
            // The referrer's read of the referral's dataset, above: the access log.
            "ReferralDatasetRead"
        ]
    );
    let sequences: Vec<u64> = history.iter().map(|c| c.sequence).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_needs_a_valid_consent_or_a_recorded_exception() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("consent-rules", false).await;
    system.register(CAV, &["AG"]).await;
    system.register(OTHER_CAV, &["AG"]).await;
    let log = system.log().await;

    // Consent to another centre does not cover this one: refused, nothing appended.
    let consent_other = system
        .consent_to(&case_id, "consent-other", OTHER_CAV)
        .await;
    let before = log.last_sequence().await.expect("last");
    let refused = system
        .refer(&case_id, "refer-x", CAV, &consent_other, "high")
        .await
        .expect_err("no consent");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(log.last_sequence().await.expect("last"), before);

    // An exception (risk to life) decided by an authority allows it, and is in the history.
    let exception = system
        .referrals()
        .await
        .give_consent(operator(api::GiveConsentRequest {
            request_id: "exception-1".to_owned(),
            case_id: case_id.clone(),
            recipient: Some(api::Recipient {
                recipient: Some(api::recipient::Recipient::ServiceType(
                    "anti_violence_centre".to_owned(),
                )),
            }),
            basis: Some(api::give_consent_request::Basis::Exception(
                api::ExceptionBasis {
                    reason: "risk_to_life".to_owned(),
                    authority: "questura_agrigento".to_owned(),
                },
            )),
            given_at: ts(NOW),
        }))
        .await
        .expect("exception")
        .into_inner();
    let sent = system
        .refer(&case_id, "refer-y", CAV, &exception.consent_id, "immediate")
        .await
        .expect("sent on exception");
    assert_eq!(sent.state, "sent");
    let case = system.case_referrals(&case_id, sent.log_sequence).await;
    let recorded = case
        .consents
        .iter()
        .find(|c| c.consent_id == exception.consent_id)
        .expect("exception recorded");
    assert_eq!(
        (
            recorded.kind.as_str(),
            recorded.exception_reason.as_str(),
            recorded.authority.as_str()
        ),
        ("exception", "risk_to_life", "questura_agrigento")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minor_needs_the_guardian_with_the_childs_assent() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("minor", true).await;
    let by_person = system
        .referrals()
        .await
        .give_consent(operator(api::GiveConsentRequest {
            request_id: "minor-consent".to_owned(),
            case_id: case_id.clone(),
            recipient: Some(api::Recipient {
                recipient: Some(api::recipient::Recipient::ServiceType(
                    "anti_violence_centre".to_owned(),
                )),
            }),
            basis: Some(api::give_consent_request::Basis::Consent(
                api::ConsentBasis {
                    purpose: "protection".to_owned(),
                    scopes: vec!["categories".to_owned()],
                    valid_until: ts(NOW + time::Duration::days(30)),
                    grantor: "person".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: ts(NOW),
        }))
        .await
        .expect_err("a minor's own consent below the consent age");
    assert_eq!(by_person.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_revokes_the_open_referrals_that_relied_on_it_and_no_others() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("withdrawal", false).await;
    system.register(CAV, &["AG"]).await;
    system.register(OTHER_CAV, &["AG"]).await;
    let consent_a = system.consent_to(&case_id, "consent-a", CAV).await;
    let consent_b = system.consent_to(&case_id, "consent-b", OTHER_CAV).await;
    let open_on_a = system
        .refer(&case_id, "ref-open-a", CAV, &consent_a, "high")
        .await
        .expect("a")
        .referral_id;
    let done_on_a = system
        .refer(&case_id, "ref-done-a", CAV, &consent_a, "high")
        .await
        .expect("a2")
        .referral_id;
    system
        .act(
            by_receiver(CAV),
            &case_id,
            &done_on_a,
            "d1",
            Action::Decline(update::Decline {
                reason: "no_capacity".to_owned(),
                ..Default::default()
            }),
        )
        .await
        .expect("declined");
    let open_on_b = system
        .refer(&case_id, "ref-open-b", OTHER_CAV, &consent_b, "high")
        .await
        .expect("b")
        .referral_id;

    let withdrawn = system
        .referrals()
        .await
        .withdraw_consent(operator(api::WithdrawConsentRequest {
            request_id: "withdraw-a".to_owned(),
            case_id: case_id.clone(),
            consent_id: consent_a.clone(),
        }))
        .await
        .expect("withdraw")
        .into_inner();
    assert_eq!(
        withdrawn.revoked_referral_ids,
        std::slice::from_ref(&open_on_a)
    );

    let case = system
        .case_referrals(&case_id, withdrawn.log_sequence)
        .await;
    let state = |id: &str| {
        case.referrals
            .iter()
            .find(|r| r.referral_id == id)
            .map(|r| {
                (
                    r.state.clone(),
                    r.dataset_access_revoked,
                    r.dataset.is_some(),
                )
            })
    };
    assert_eq!(state(&open_on_a), Some(("revoked".to_owned(), true, false)));
    assert_eq!(
        state(&done_on_a),
        Some(("declined".to_owned(), true, false)),
        "access withdrawn, state kept"
    );
    assert_eq!(state(&open_on_b), Some(("sent".to_owned(), false, true)));

    // The receiver's inbox no longer shows the data shared under the withdrawn consent.
    let inbox = system
        .referrals()
        .await
        .list_inbox(receiver(
            CAV,
            api::ListInboxRequest {
                min_log_sequence: withdrawn.log_sequence,
                ..Default::default()
            },
        ))
        .await
        .expect("inbox")
        .into_inner();
    assert!(
        inbox
            .referrals
            .iter()
            .all(|r| r.dataset.is_none() && r.dataset_access_revoked)
    );
    // Sending again on the withdrawn consent is refused.
    let again = system
        .refer(&case_id, "ref-again", CAV, &consent_a, "high")
        .await
        .expect_err("withdrawn");
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_and_cancel_racing_on_one_referral_have_exactly_one_winner() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("race", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "consent-race", CAV).await;
    for round in 0..8 {
        let id = system
            .refer(
                &case_id,
                &format!("race-{round}"),
                CAV,
                &consent,
                "standard",
            )
            .await
            .expect("sent")
            .referral_id;
        system
            .act(
                by_receiver(CAV),
                &case_id,
                &id,
                &format!("rcv-{round}"),
                Action::Receive(update::Receive {}),
            )
            .await
            .expect("received");
        let (accept_id, cancel_id) = (format!("acc-{round}"), format!("can-{round}"));
        let (accept, cancel) = tokio::join!(
            system.act(
                by_receiver(CAV),
                &case_id,
                &id,
                &accept_id,
                Action::Accept(update::Accept {})
            ),
            system.act(
                by_operator(),
                &case_id,
                &id,
                &cancel_id,
                Action::Cancel(update::Cancel::default())
            ),
        );
        let winners = [accept.is_ok(), cancel.is_ok()]
            .iter()
            .filter(|w| **w)
            .count();
        assert_eq!(winners, 1, "round {round}: {accept:?} / {cancel:?}");
        let loser = accept.err().or(cancel.err()).expect("one error");
        assert_eq!(
            loser.code(),
            Code::FailedPrecondition,
            "round {round}: {loser:?}"
        );
        assert!(
            loser.message().contains("transition not allowed"),
            "{}",
            loser.message()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_and_its_watch_hold_only_the_organisations_referrals_and_resume_without_gaps_or_repeats()
 {
    let system = Fixture::start().await;
    let case_id = system.screened_case("inbox", false).await;
    system.register(CAV, &["AG"]).await;
    system.register(OTHER_CAV, &["AG"]).await;
    let to_cav = system.consent_to(&case_id, "c-cav", CAV).await;
    let to_other = system.consent_to(&case_id, "c-other", OTHER_CAV).await;

    let mut watch = system
        .referrals()
        .await
        .watch_inbox(receiver(CAV, api::WatchInboxRequest { after_cursor: 0 }))
        .await
        .expect("watch")
        .into_inner();
    let mut expected = BTreeSet::new();
    for i in 0..3 {
        expected.insert(
            system
                .refer(&case_id, &format!("in-{i}"), CAV, &to_cav, "high")
                .await
                .expect("cav")
                .referral_id,
        );
        system
            .refer(&case_id, &format!("out-{i}"), OTHER_CAV, &to_other, "high")
            .await
            .expect("other");
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    while seen.len() < 3 {
        let change = tokio::time::timeout(Duration::from_secs(10), watch.message())
            .await
            .expect("in time")
            .expect("stream")
            .expect("change");
        assert!(change.cursor > cursor, "cursors increase");
        cursor = change.cursor;
        let referral = change.referral.expect("referral");
        assert_eq!(
            referral.receiver_organisation_id, CAV,
            "never another organisation's referral"
        );
        seen.push(referral.referral_id);
    }
    drop(watch); // disconnect

    // While disconnected: a change to one of ours and more for the other centre.
    let first = seen[0].clone();
    system
        .act(
            by_receiver(CAV),
            &case_id,
            &first,
            "ack-0",
            Action::Receive(update::Receive {}),
        )
        .await
        .expect("received");
    system
        .refer(&case_id, "out-late", OTHER_CAV, &to_other, "high")
        .await
        .expect("other");
    let late = system
        .refer(&case_id, "in-late", CAV, &to_cav, "high")
        .await
        .expect("cav")
        .referral_id;

    let mut resumed = system
        .referrals()
        .await
        .watch_inbox(receiver(
            CAV,
            api::WatchInboxRequest {
                after_cursor: cursor,
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut after = Vec::new();
    while after.len() < 2 {
        let change = tokio::time::timeout(Duration::from_secs(10), resumed.message())
            .await
            .expect("in time")
            .expect("stream")
            .expect("change");
        assert!(change.cursor > cursor);
        let referral = change.referral.expect("referral");
        assert_eq!(referral.receiver_organisation_id, CAV);
        after.push((referral.referral_id, referral.state));
    }
    assert_eq!(
        after,
        [(first, "received".to_owned()), (late, "sent".to_owned())],
        "exactly what was missed, once, in order"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), resumed.message())
            .await
            .is_err(),
        "nothing repeated"
    );

    let inbox = system
        .referrals()
        .await
        .list_inbox(receiver(OTHER_CAV, api::ListInboxRequest::default()))
        .await
        .expect("inbox")
        .into_inner();
    assert_eq!(inbox.referrals.len(), 4);
    assert!(
        inbox
            .referrals
            .iter()
            .all(|r| r.receiver_organisation_id == OTHER_CAV)
    );
    assert!(seen.iter().all(|id| expected.contains(id)));

    // Every delivery of a dataset to a receiver is in the access log, by that receiver.
    let history = system
        .log()
        .await
        .history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse(&case_id).expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history");
    let readers: BTreeSet<String> = history
        .iter()
        .filter(|c| {
            c.commit
                .events
                .iter()
                .any(|e| e.event_type.ends_with("ReferralDatasetRead"))
        })
        .map(|c| {
            c.commit
                .actor
                .as_ref()
                .map(|a| a.organisation_id.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        readers,
        BTreeSet::from([CAV.to_owned(), OTHER_CAV.to_owned()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_fire_once_each_and_escalate_to_the_province_also_across_restarts() {
    let mut system = Fixture::start().await;
    let case_id = system.screened_case("deadlines", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "c-deadline", CAV).await;
    // An immediate case: acknowledge within 4 h, answer within 8 h.
    system
        .signal(&case_id, "deadline-signal", "immediate")
        .await;
    let sent = system
        .refer(&case_id, "urgent", CAV, &consent, "immediate")
        .await
        .expect("sent");
    let id = sent.referral_id.clone();
    let log = system.log().await;
    let scope = HistoryScope::Root {
        kind: RootKind::Case,
        id: TokenId::parse(&case_id).expect("id"),
    };
    let count = |history: &[case_log_jetstream::RecordedCommit], wanted: &str| {
        history
            .iter()
            .flat_map(|c| c.commit.events.iter())
            .filter(|e| e.event_type.ends_with(wanted))
            .count()
    };

    // A whole pass of the deadline watcher before any deadline: nothing.
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    assert_eq!(
        count(
            &log.history(&scope, HistoryBound::All).await.expect("h"),
            "ReferralDeadlineMissed"
        ),
        0
    );

    system.advance(time::Duration::hours(5));
    eventually("acknowledgement escalated", || {
        let log = log.clone();
        let scope = scope.clone();
        async move {
            count(
                &log.history(&scope, HistoryBound::All).await.expect("h"),
                "ReferralDeadlineMissed",
            ) == 1
        }
    })
    .await;
    system.restart(Service::Referral).await;
    system.advance(time::Duration::hours(4));
    eventually("answer missed and referral expired", || {
        let log = log.clone();
        let scope = scope.clone();
        async move {
            count(
                &log.history(&scope, HistoryBound::All).await.expect("h"),
                "ReferralExpired",
            ) == 1
        }
    })
    .await;
    // Restart right after: nothing more once the new instance has checked them all.
    system.restart(Service::Referral).await;
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    let history = log
        .history(&scope, HistoryBound::All)
        .await
        .expect("history");
    assert_eq!(
        count(&history, "ReferralDeadlineMissed"),
        2,
        "acknowledgement and answer, once each"
    );
    assert_eq!(count(&history, "ReferralExpired"), 1);
    let escalations: Vec<api::ReferralDeadlineMissed> = history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| e.event_type.ends_with("ReferralDeadlineMissed"))
        .map(|e| prost::Message::decode(e.payload.as_slice()).expect("decode"))
        .collect();
    assert!(escalations.iter().all(|e| e.escalated_to_province == "AG"));
    let last = log.last_sequence().await.expect("last");
    let case = system.case_referrals(&case_id, last).await;
    let referral = case
        .referrals
        .iter()
        .find(|r| r.referral_id == id)
        .expect("referral");
    assert_eq!(referral.state, "expired");
    assert_eq!(referral.missed_deadlines, ["acknowledgement", "answer"]);
    let overdue = system
        .referrals()
        .await
        .list_referrals(with_token(
            api::ListReferralsRequest {
                overdue_only: true,
                min_log_sequence: last,
                ..Default::default()
            },
            &token(OrganisationType::Prefecture, "prefettura-ag", Some("AG")),
        ))
        .await
        .expect("prefecture list")
        .into_inner();
    assert_eq!(overdue.referrals.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilding_the_referral_projection_gives_the_same_content() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("rebuild", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "c-rebuild", CAV).await;
    let mut last = 0;
    for i in 0..5 {
        let id = system
            .refer(&case_id, &format!("rb-{i}"), CAV, &consent, "high")
            .await
            .expect("sent")
            .referral_id;
        last = system
            .act(
                by_receiver(CAV),
                &case_id,
                &id,
                &format!("rb-acc-{i}"),
                Action::Accept(update::Accept {}),
            )
            .await
            .expect("accept")
            .log_sequence;
    }
    // Reading the referrals would record the read (the access log): wait on
    // the projection's own status instead.
    let status = || system.projection_status(Service::Referral);
    eventually("the projection applies the last commit", || async {
        status().await.position >= last
    })
    .await;
    let before = status().await;
    system
        .admin(Service::Referral, &Caller::administrator())
        .await
        .rebuild_projection(admin::RebuildProjectionRequest {})
        .await
        .expect("rebuild");
    eventually("the rebuilt projection catches up", || async {
        status().await.position >= before.position
    })
    .await;
    let after = status().await;
    assert_eq!(after.position, before.position);
    assert_eq!(after.content_digest, before.content_digest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_refused_with_their_fields_and_append_nothing() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("invalid", false).await;
    system.register(CAV, &["AG"]).await;
    let log = system.log().await;
    let before = log.last_sequence().await.expect("last");
    let mut client = system.referrals().await;
    let bad_consent = client
        .give_consent(operator(api::GiveConsentRequest {
            request_id: "bad consent".to_owned(),
            case_id: case_id.clone(),
            recipient: None,
            basis: Some(api::give_consent_request::Basis::Consent(
                api::ConsentBasis {
                    purpose: "Protection!".to_owned(),
                    scopes: vec!["everything".to_owned()],
                    grantor: "neighbour".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: None,
        }))
        .await
        .expect_err("invalid");
    assert_eq!(bad_consent.code(), Code::InvalidArgument);
    for field in [
        "request_id",
        "recipient",
        "consent.purpose",
        "consent.scopes[0]",
        "consent.grantor",
        "given_at",
    ] {
        assert!(
            bad_consent.message().contains(field),
            "{field} in {}",
            bad_consent.message()
        );
    }
    let bad_referral = client
        .create_referral(operator(api::CreateReferralRequest {
            request_id: "r-1".to_owned(),
            case_id: "NOT A CASE".to_owned(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "spa".to_owned(),
            consent_id: "x".to_owned(),
            dataset: Some(api::MinimumDataset {
                categories: vec!["gbv".to_owned()],
                urgency: "asap".to_owned(),
                ..Default::default()
            }),
            send: true,
        }))
        .await
        .expect_err("invalid");
    assert_eq!(bad_referral.code(), Code::InvalidArgument);
    let no_action = client
        .update_referral(operator(api::UpdateReferralRequest {
            request_id: "u-1".to_owned(),
            case_id: case_id.clone(),
            referral_id: "r".to_owned(),
            action: None,
        }))
        .await
        .expect_err("invalid");
    assert_eq!(no_action.code(), Code::InvalidArgument);
    assert_eq!(
        log.last_sequence().await.expect("last"),
        before,
        "nothing appended"
    );
    // Refused calls append nothing to the case; the refusal itself goes to the access log.
    let not_admin = client
        .register_organisation(operator(api::RegisterOrganisationRequest {
            request_id: "reg".to_owned(),
            profile: None,
        }))
        .await
        .expect_err("not an administrator");
    assert_eq!(not_admin.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_pathway_rules_are_versioned_and_drive_the_suggestions() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("rules", false).await;
    let registered = system.register(CAV, &["AG"]).await;
    let mut client = system.referrals().await;

    let built_in = client
        .get_pathway_rules(operator(api::GetPathwayRulesRequest::default()))
        .await
        .expect("rules")
        .into_inner();
    assert_eq!(built_in.version, 1);
    let suggest = |min: u64| api::SuggestReceiversRequest {
        case_id: case_id.clone(),
        min_log_sequence: min,
        ..Default::default()
    };
    let before = client
        .suggest_receivers(operator(suggest(registered)))
        .await
        .expect("suggest")
        .into_inner();
    assert_eq!(before.rules_version, 1);
    assert_eq!(
        before
            .suggestions
            .iter()
            .map(|s| s.service_type.as_str())
            .collect::<Vec<_>>(),
        ["anti_violence_centre", "shelter"]
    );

    // GBV now goes to shelters only.
    let mut rules = built_in.rules.clone();
    for rule in rules.iter_mut().filter(|r| r.category == "GBV") {
        rule.service_types = vec!["shelter".to_owned()];
    }
    let refused = client
        .publish_pathway_rules(operator(api::PublishPathwayRulesRequest {
            request_id: "rules-by-operator".to_owned(),
            rules: rules.clone(),
        }))
        .await
        .expect_err("only administrators");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let incomplete = client
        .publish_pathway_rules(admin(api::PublishPathwayRulesRequest {
            request_id: "rules-incomplete".to_owned(),
            rules: rules[1..].to_vec(),
        }))
        .await
        .expect_err("every category needs a rule");
    assert_eq!(incomplete.code(), Code::InvalidArgument);
    let published = client
        .publish_pathway_rules(admin(api::PublishPathwayRulesRequest {
            request_id: "rules-v2".to_owned(),
            rules,
        }))
        .await
        .expect("published")
        .into_inner();
    assert_eq!(published.version, 2);
    let after = client
        .suggest_receivers(operator(suggest(published.log_sequence)))
        .await
        .expect("suggest")
        .into_inner();
    assert_eq!(after.rules_version, 2);
    assert_eq!(
        after
            .suggestions
            .iter()
            .map(|s| s.service_type.as_str())
            .collect::<Vec<_>>(),
        ["shelter"]
    );
    let current = client
        .get_pathway_rules(operator(api::GetPathwayRulesRequest {
            min_log_sequence: published.log_sequence,
        }))
        .await
        .expect("rules")
        .into_inner();
    assert_eq!(current.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefecture_reads_the_referrals_of_its_own_province_only() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("province-scope", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "c-scope", CAV).await;
    let sent = system
        .refer(&case_id, "scope-1", CAV, &consent, "high")
        .await
        .expect("sent");
    let agrigento = token(OrganisationType::Prefecture, "prefettura-ag", Some("AG"));
    let rome = token(OrganisationType::Prefecture, "prefettura-rm", Some("RM"));
    let own = system
        .referrals()
        .await
        .get_case_referrals(with_token(
            api::GetCaseReferralsRequest {
                case_id: case_id.clone(),
                min_log_sequence: sent.log_sequence,
            },
            &agrigento,
        ))
        .await
        .expect("own province")
        .into_inner();
    assert_eq!(own.referrals.len(), 1);
    let other = system
        .referrals()
        .await
        .get_case_referrals(with_token(
            api::GetCaseReferralsRequest {
                case_id: case_id.clone(),
                min_log_sequence: 0,
            },
            &rome,
        ))
        .await
        .expect_err("another province");
    assert_eq!(other.code(), Code::PermissionDenied);
    let listed = system
        .referrals()
        .await
        .list_referrals(with_token(
            api::ListReferralsRequest {
                min_log_sequence: sent.log_sequence,
                ..Default::default()
            },
            &rome,
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.referrals.is_empty(),
        "Rome sees none of Agrigento's referrals"
    );
    // A reception operator of another facility in the same province neither
    // sees the case's referrals nor acts on it.
    let neighbour = token(
        OrganisationType::ReceptionOperator,
        "cas-agrigento-2",
        Some("AG"),
    );
    let listed = system
        .referrals()
        .await
        .list_referrals(with_token(api::ListReferralsRequest::default(), &neighbour))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.referrals.is_empty(), "{listed:?}");
    let mine = system
        .referrals()
        .await
        .list_referrals(operator(api::ListReferralsRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(mine.referrals.len(), 1, "the case's own facility sees it");
    let refused = system
        .referrals()
        .await
        .withdraw_consent(with_token(
            api::WithdrawConsentRequest {
                request_id: "neighbour-withdraws".to_owned(),
                case_id: case_id.clone(),
                consent_id: consent.clone(),
            },
            &neighbour,
        ))
        .await
        .expect_err("another facility's case");
    assert_eq!(refused.code(), Code::PermissionDenied);
}

/// Found by attacking the running system: a prefecture of another province
/// was given the suggestions for a case it may not read; and a request id
/// replayed by another organisation answered the original commit.
#[tokio::test]
async fn suggestions_and_replays_stay_within_the_callers_jurisdiction() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("suggest-scope", false).await;
    system.register(CAV, &["AG"]).await;
    let suggest = |token: &str| {
        with_token(
            api::SuggestReceiversRequest {
                case_id: case_id.clone(),
                ..Default::default()
            },
            token,
        )
    };
    let agrigento = token(OrganisationType::Prefecture, "prefettura-ag", Some("AG"));
    let own = system
        .referrals()
        .await
        .suggest_receivers(suggest(&agrigento))
        .await
        .expect("own province")
        .into_inner();
    assert!(!own.suggestions.is_empty(), "the case's province is served");
    let rome = token(OrganisationType::Prefecture, "prefettura-rm", Some("RM"));
    let refused = system
        .referrals()
        .await
        .suggest_receivers(suggest(&rome))
        .await
        .expect_err("another province");
    assert_eq!(refused.code(), Code::PermissionDenied);

    // The operator's consent, replayed by a prefecture of the same province
    // with the same request id: refused, nothing appended.
    system.consent_to(&case_id, "c-replayed", CAV).await;
    let case_history = || async {
        system
            .log()
            .await
            .history(
                &HistoryScope::Root {
                    kind: RootKind::Case,
                    id: TokenId::parse(&case_id).expect("id"),
                },
                HistoryBound::All,
            )
            .await
            .expect("history")
            .len()
    };
    let before = case_history().await;
    let replay = system
        .referrals()
        .await
        .give_consent(with_token(
            api::GiveConsentRequest {
                request_id: "c-replayed".to_owned(),
                ..consent_request(&case_id, CAV)
            },
            &agrigento,
        ))
        .await;
    assert_eq!(
        replay.map(|_| ()).map_err(|status| status.code()),
        Err(Code::PermissionDenied),
        "another organisation's request id answers nothing"
    );
    assert_eq!(
        case_history().await,
        before,
        "and appends nothing about the case"
    );
}

/// A receiver opens a referral's dataset only while the referral is open, for
/// a grace period after completing it, and while the consent is in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_loses_access_to_the_dataset_when_its_referral_ends() {
    let system = Fixture::start().await;
    let case_id = system.screened_case("access-ends", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "access-consent", CAV).await;
    let declined = system
        .refer(&case_id, "access-declined", CAV, &consent, "high")
        .await
        .expect("sent")
        .referral_id;
    let completed = system
        .refer(&case_id, "access-completed", CAV, &consent, "high")
        .await
        .expect("sent")
        .referral_id;
    let in_care = system
        .refer(&case_id, "access-in-care", CAV, &consent, "high")
        .await
        .expect("sent")
        .referral_id;
    system
        .walk(&case_id, &in_care, ["care-1", "care-2", "care-3"], None)
        .await;
    let inbox = |min: u64| {
        let system = &system;
        async move {
            system
                .referrals()
                .await
                .list_inbox(receiver(
                    CAV,
                    api::ListInboxRequest {
                        min_log_sequence: min,
                        ..Default::default()
                    },
                ))
                .await
                .expect("inbox")
                .into_inner()
                .referrals
        }
    };
    let readable = |views: &[api::ReferralView], id: &str| {
        views
            .iter()
            .find(|v| v.referral_id == id)
            .map(|v| (v.dataset.is_some(), v.dataset_access_revoked))
    };
    let open = inbox(0).await;
    assert_eq!(
        readable(&open, &declined),
        Some((true, false)),
        "open: readable"
    );

    let decline = Action::Decline(update::Decline {
        reason: "no_capacity".to_owned(),
        ..Default::default()
    });
    system
        .act(by_receiver(CAV), &case_id, &declined, "ends-1", decline)
        .await
        .expect("declined");
    let last = system
        .walk(
            &case_id,
            &completed,
            ["ends-2", "ends-3", "ends-4"],
            Some("ends-5"),
        )
        .await;
    let now = inbox(last).await;
    assert_eq!(
        readable(&now, &declined),
        Some((false, true)),
        "declined: gone"
    );
    assert_eq!(
        readable(&now, &completed),
        Some((true, false)),
        "completed: within the grace period"
    );
    system.advance(time::Duration::hours(73));
    let later = inbox(last).await;
    assert_eq!(
        readable(&later, &completed),
        Some((false, true)),
        "completed: after the grace period"
    );
    assert_eq!(
        readable(&later, &in_care),
        Some((true, false)),
        "in care: open"
    );
    // The consent (valid 90 days) ends: so does access to what was shared under it.
    system.advance(time::Duration::days(90));
    let expired = inbox(last).await;
    assert_eq!(
        readable(&expired, &in_care),
        Some((false, true)),
        "in care, consent expired"
    );
    // The referrer keeps its own view of what it sent.
    let referrer = system.case_referrals(&case_id, last).await;
    assert!(
        referrer
            .referrals
            .iter()
            .all(|r| r.dataset.is_some() || r.personal_data_erased)
    );
}

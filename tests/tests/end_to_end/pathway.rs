//! The pathway across screening and referral, end to end, driven by the
//! injected clock: a referral's deadlines follow the case's urgency (an
//! immediate case gets 4 h to acknowledge whatever the dataset shares, and
//! the escalation reaches the prefecture's overdue list); closing a case
//! cancels its open referrals and stops their deadlines, and tells the
//! receivers of those in care; a transfer moves the referral to the case's
//! new province and shows in the receiver's inbox.

use case_log_jetstream::{HistoryBound, HistoryScope, RecordedCommit, RootKind, TokenId};
use contracts::referral::v1 as api;
use contracts::screening::v1 as screening_api;
use service_runtime::caller::OrganisationType;
use time::Duration;
use tokio_stream::StreamExt;

use crate::referral::{CAV, Fixture, OPERATOR, by_receiver, operator, receiver};
use crate::support::{Caller, Service, eventually, token, ts, with_token};

use api::update_referral_request::{self as update, Action};

/// Every event of the case's history (all services), by type name.
async fn history(system: &Fixture, case_id: &str) -> Vec<RecordedCommit> {
    let scope = HistoryScope::Root {
        kind: RootKind::Case,
        id: TokenId::parse(case_id).expect("case id"),
    };
    system
        .log()
        .await
        .history(&scope, HistoryBound::All)
        .await
        .expect("history")
}

/// The payloads of the events of `history` of type `M`.
fn events<M: prost::Message + prost::Name + Default>(history: &[RecordedCommit]) -> Vec<M> {
    let wanted = case_log_jetstream::contract::event_type::<M>();
    history
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .filter(|e| e.event_type == wanted)
        .map(|e| M::decode(e.payload.as_slice()).expect("decode"))
        .collect()
}

/// A consent to `organisation` that shares categories and communication
/// needs, but not the urgency.
async fn consent_without_urgency(system: &Fixture, case_id: &str, request: &str) -> String {
    let mut consent = crate::referral::consent_request(case_id, CAV);
    consent.request_id = request.to_owned();
    if let Some(api::give_consent_request::Basis::Consent(basis)) = &mut consent.basis {
        basis.scopes = vec!["categories".to_owned(), "communication".to_owned()];
    }
    system
        .referrals()
        .await
        .give_consent(operator(consent))
        .await
        .expect("consent")
        .into_inner()
        .consent_id
}

/// A referral to the centre (GBV, no urgency in the dataset), sent or kept as a draft.
async fn refer(
    system: &Fixture,
    case_id: &str,
    request: &str,
    consent_id: &str,
    send: bool,
) -> api::CreateReferralResponse {
    system
        .referrals()
        .await
        .create_referral(operator(api::CreateReferralRequest {
            request_id: request.to_owned(),
            case_id: case_id.to_owned(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id: consent_id.to_owned(),
            dataset: Some(api::MinimumDataset {
                categories: vec!["GBV".to_owned()],
                languages: vec!["fr".to_owned()],
                ..Default::default()
            }),
            send,
        }))
        .await
        .expect("referral created")
        .into_inner()
}

fn prefecture(province: &str) -> Caller {
    Caller::prefecture(&format!("prefettura-{}", province.to_lowercase()), province)
}

/// The prefecture's list of overdue referrals of its province.
async fn overdue(system: &Fixture, province: &str, min: u64) -> Vec<api::ReferralView> {
    system
        .referrals()
        .await
        .list_referrals(with_token(
            api::ListReferralsRequest {
                province: province.to_owned(),
                overdue_only: true,
                min_log_sequence: min,
                ..Default::default()
            },
            &prefecture(province).token(),
        ))
        .await
        .expect("prefecture list")
        .into_inner()
        .referrals
}

fn find<'a>(views: &'a [api::ReferralView], referral_id: &str) -> &'a api::ReferralView {
    views
        .iter()
        .find(|r| r.referral_id == referral_id)
        .unwrap_or_else(|| panic!("referral {referral_id} not among {} views", views.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_case_gets_four_hours_to_acknowledge_whatever_the_dataset_shares_and_escalates_to_its_prefecture()
 {
    let system = Fixture::start().await;
    let case_id = system.screened_case("immediate", false).await;
    system.register(CAV, &["AG"]).await;
    // Screening records a signal of immediate risk: the case is immediate.
    system
        .signal(&case_id, "immediate-signal", "immediate")
        .await;
    // The consent does not let the urgency be shared; the dataset omits it.
    let consent = consent_without_urgency(&system, &case_id, "consent-no-urgency").await;
    let sent_at = system.now();
    let sent = refer(&system, &case_id, "refer-immediate", &consent, true).await;
    assert_eq!(sent.state, "sent");

    let case = system.case_referrals(&case_id, sent.log_sequence).await;
    let view = find(&case.referrals, &sent.referral_id);
    assert_eq!(
        view.acknowledge_by,
        ts(sent_at + Duration::hours(4)),
        "4 h: the case's urgency, not the dataset's (none) or standard"
    );
    assert_eq!(view.answer_by, ts(sent_at + Duration::hours(8)));
    assert_eq!(view.urgency, "immediate");
    assert_eq!(view.deadline_policy_version, 1);
    assert_eq!(view.province, "AG");
    assert_eq!(view.pathway_rules_version, 1);
    assert!(
        view.dataset.as_ref().is_some_and(|d| d.urgency.is_empty()),
        "the dataset still shares no urgency"
    );
    let sent_events: Vec<api::ReferralSent> = events(&history(&system, &case_id).await);
    assert_eq!(
        sent_events
            .iter()
            .map(|e| (e.urgency.as_str(), e.deadline_policy_version))
            .collect::<Vec<_>>(),
        [("immediate", 1)]
    );

    // A minute before the deadline: nothing is overdue.
    system.advance(Duration::hours(4) - Duration::minutes(1));
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    assert!(overdue(&system, "AG", 0).await.is_empty());

    // The deadline passes: the escalation reaches the prefecture of AG.
    system.advance(Duration::minutes(2));
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    let last = system.log().await.last_sequence().await.expect("last");
    let listed = overdue(&system, "AG", last).await;
    let escalated = find(&listed, &sent.referral_id);
    assert_eq!(escalated.missed_deadlines, ["acknowledgement"]);
    assert_eq!(escalated.state, "sent");
    let missed: Vec<api::ReferralDeadlineMissed> = events(&history(&system, &case_id).await);
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].deadline, "acknowledgement");
    assert_eq!(missed[0].due_at, ts(sent_at + Duration::hours(4)));
    assert_eq!(missed[0].escalated_to_province, "AG");
    // Another province's prefecture does not see it.
    assert!(overdue(&system, "RM", last).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_case_cancels_its_open_referrals_stops_their_deadlines_and_tells_the_receivers_in_care()
 {
    let system = Fixture::start().await;
    let case_id = system.screened_case("closure", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "consent-closure", CAV).await;
    let draft = refer(&system, &case_id, "closure-draft", &consent, false).await;
    let sent = refer(&system, &case_id, "closure-sent", &consent, true).await;
    let accepted = refer(&system, &case_id, "closure-accepted", &consent, true).await;
    for (request, action) in [
        ("accepted-receive", Action::Receive(update::Receive {})),
        ("accepted-accept", Action::Accept(update::Accept {})),
    ] {
        system
            .act(
                by_receiver(CAV),
                &case_id,
                &accepted.referral_id,
                request,
                action,
            )
            .await
            .expect(request);
    }
    let in_care = refer(&system, &case_id, "closure-in-care", &consent, true).await;
    system
        .walk(
            &case_id,
            &in_care.referral_id,
            ["care-receive", "care-accept", "care-take-charge"],
            None,
        )
        .await;

    // Screening closes the case.
    let closed = system
        .screening(&Caller::operator(OPERATOR, "AG"))
        .await
        .close_case(operator(screening_api::CloseCaseRequest {
            request_id: "close".to_owned(),
            case_id: case_id.clone(),
            reason: "left_reception".to_owned(),
            closed_at: ts(system.now()),
        }))
        .await
        .expect("closed")
        .into_inner();
    let settled = |views: &[api::ReferralView]| {
        views.iter().all(|r| match r.referral_id.as_str() {
            id if id == in_care.referral_id => r.case_closure_reason == "left_reception",
            _ => r.state == "cancelled",
        })
    };
    eventually("the closure reached every referral", || {
        let system = &system;
        let case_id = &case_id;
        async move {
            settled(
                &system
                    .case_referrals(case_id, closed.log_sequence)
                    .await
                    .referrals,
            )
        }
    })
    .await;

    // Long after every deadline: no deadline event follows.
    system.advance(Duration::days(30));
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    let history = history(&system, &case_id).await;
    let missed: Vec<api::ReferralDeadlineMissed> = events(&history);
    assert!(missed.is_empty(), "{missed:?}");
    let cancelled: Vec<api::ReferralCancelled> = events(&history);
    let mut cancelled: Vec<(String, String)> = cancelled
        .into_iter()
        .map(|e| (e.referral_id, e.reason))
        .collect();
    cancelled.sort();
    let mut expected: Vec<(String, String)> = [&draft, &sent, &accepted]
        .iter()
        .map(|r| (r.referral_id.clone(), "case_closed".to_owned()))
        .collect();
    expected.sort();
    assert_eq!(cancelled, expected, "each once, for the closed case");
    let notified: Vec<api::CaseClosureNotified> = events(&history);
    assert_eq!(
        notified
            .iter()
            .map(|e| (e.referral_id.as_str(), e.reason.as_str()))
            .collect::<Vec<_>>(),
        [(in_care.referral_id.as_str(), "left_reception")]
    );

    // The views say why; the referral in care goes on and its receiver sees the event.
    let last = system.log().await.last_sequence().await.expect("last");
    let case = system.case_referrals(&case_id, last).await;
    for id in [&sent.referral_id, &accepted.referral_id, &draft.referral_id] {
        let view = find(&case.referrals, id);
        assert_eq!(
            (
                view.cancel_reason.as_str(),
                view.case_closure_reason.as_str()
            ),
            ("case_closed", "left_reception")
        );
    }
    let inbox = system
        .referrals()
        .await
        .list_inbox(receiver(
            CAV,
            api::ListInboxRequest {
                min_log_sequence: last,
                ..Default::default()
            },
        ))
        .await
        .expect("inbox")
        .into_inner();
    let cared = find(&inbox.referrals, &in_care.referral_id);
    assert_eq!(cared.state, "in_care");
    assert_eq!(cared.case_closure_reason, "left_reception");
    assert_eq!(
        cared.timeline.last().map(|t| t.state.as_str()),
        Some("case_closure_notified:left_reception")
    );
    assert!(overdue(&system, "AG", last).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_another_province_shows_in_the_receivers_inbox_and_moves_the_referral_there()
{
    let system = Fixture::start().await;
    let case_id = system.screened_case("transfer", false).await;
    system.register(CAV, &["AG", "RM"]).await;
    let consent = system.consent_to(&case_id, "consent-transfer", CAV).await;
    let sent = refer(&system, &case_id, "refer-transfer", &consent, true).await;
    let inbox = system
        .referrals()
        .await
        .list_inbox(receiver(
            CAV,
            api::ListInboxRequest {
                min_log_sequence: sent.log_sequence,
                ..Default::default()
            },
        ))
        .await
        .expect("inbox")
        .into_inner();
    assert_eq!(find(&inbox.referrals, &sent.referral_id).province, "AG");

    // The prefecture of AG transfers the person to a facility in Rome.
    let placed = system
        .screening(&prefecture("AG"))
        .await
        .place_case(prefecture("AG").request(screening_api::PlaceCaseRequest {
            request_id: "transfer-to-rome".to_owned(),
            case_id: case_id.clone(),
            facility_id: "cas-roma-1".to_owned(),
            placed_at: ts(system.now()),
            ..Default::default()
        }))
        .await
        .expect("placed in Rome")
        .into_inner();
    assert!(placed.log_sequence > sent.log_sequence);

    // The receiver's watch, from its inbox's cursor, receives the transfer as a change.
    let mut watch = system
        .referral(&Caller::receiver(CAV, Some("RM")))
        .await
        .watch_inbox(receiver(
            CAV,
            api::WatchInboxRequest {
                after_cursor: inbox.cursor,
            },
        ))
        .await
        .expect("watch")
        .into_inner();
    let change = tokio::time::timeout(std::time::Duration::from_secs(10), watch.next())
        .await
        .expect("the transfer reaches the watch")
        .expect("a change")
        .expect("not an error");
    let moved = change.referral.expect("the referral");
    assert_eq!(moved.referral_id, sent.referral_id);
    assert_eq!(moved.province, "RM");
    assert_eq!(
        moved.timeline.last().map(|t| t.state.as_str()),
        Some("case_transferred:RM")
    );
    let transferred: Vec<api::ReferralCaseTransferred> = events(&history(&system, &case_id).await);
    assert_eq!(
        transferred
            .iter()
            .map(|e| (e.province.as_str(), e.facility_id.as_str()))
            .collect::<Vec<_>>(),
        [("RM", "cas-roma-1")]
    );

    // The referral is now Rome's: its prefecture lists it, Agrigento's no longer.
    let last = system.log().await.last_sequence().await.expect("last");
    let list = |province: &'static str| {
        let system = &system;
        async move {
            system
                .referrals()
                .await
                .list_referrals(with_token(
                    api::ListReferralsRequest {
                        min_log_sequence: last,
                        ..Default::default()
                    },
                    &token(
                        OrganisationType::Prefecture,
                        &format!("prefettura-{}", province.to_lowercase()),
                        Some(province),
                    ),
                ))
                .await
                .expect("list")
                .into_inner()
                .referrals
        }
    };
    assert_eq!(find(&list("RM").await, &sent.referral_id).province, "RM");
    assert!(list("AG").await.is_empty());

    // Nothing more: another pass of the watcher appends no second transfer.
    system
        .deadlines_checked(Service::Referral, system.now())
        .await;
    let again: Vec<api::ReferralCaseTransferred> = events(&history(&system, &case_id).await);
    assert_eq!(again.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_during_care_ends_the_data_sharing_but_not_the_care_and_a_refusal_blocks_nothing()
 {
    let system = Fixture::start().await;
    let case_id = system.screened_case("withdrawal-in-care", false).await;
    system.register(CAV, &["AG"]).await;
    let consent = system.consent_to(&case_id, "consent-care", CAV).await;
    let in_care = refer(&system, &case_id, "refer-care", &consent, true).await;
    let sent = refer(&system, &case_id, "refer-sent", &consent, true).await;
    system
        .walk(
            &case_id,
            &in_care.referral_id,
            ["w-receive", "w-accept", "w-take-charge"],
            None,
        )
        .await;

    let withdrawn = system
        .referrals()
        .await
        .withdraw_consent(operator(api::WithdrawConsentRequest {
            request_id: "withdraw-care".to_owned(),
            case_id: case_id.clone(),
            consent_id: consent.clone(),
        }))
        .await
        .expect("withdrawn")
        .into_inner();
    assert_eq!(
        withdrawn.revoked_referral_ids,
        std::slice::from_ref(&sent.referral_id)
    );
    assert_eq!(
        withdrawn.sharing_ended_referral_ids,
        std::slice::from_ref(&in_care.referral_id)
    );
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
    let cared = find(&inbox.referrals, &in_care.referral_id);
    assert_eq!(cared.state, "in_care", "the care goes on");
    assert!(cared.dataset.is_none() && cared.dataset_access_revoked);
    assert_eq!(
        cared.timeline.last().map(|t| t.state.as_str()),
        Some("consent_withdrawn_during_care")
    );
    // The receiver completes the care it took on.
    system
        .act(
            by_receiver(CAV),
            &case_id,
            &in_care.referral_id,
            "w-complete",
            Action::Complete(update::Complete {
                outcome: "goals_met".to_owned(),
            }),
        )
        .await
        .expect("completed");

    // The person refuses another referral: recorded, and a new consent still works.
    let refused = system
        .referrals()
        .await
        .refuse_consent(operator(api::RefuseConsentRequest {
            request_id: "refusal".to_owned(),
            case_id: case_id.clone(),
            recipient: Some(api::Recipient {
                recipient: Some(api::recipient::Recipient::ServiceType("shelter".to_owned())),
            }),
            purpose: "protection_and_support".to_owned(),
            refused_at: ts(system.now()),
        }))
        .await
        .expect("refusal recorded")
        .into_inner();
    let case = system.case_referrals(&case_id, refused.log_sequence).await;
    assert_eq!(
        case.refusals
            .iter()
            .map(|r| r.consent_id.as_str())
            .collect::<Vec<_>>(),
        [refused.consent_id.as_str()]
    );
    let again = system.consent_to(&case_id, "consent-again", CAV).await;
    let resent = refer(&system, &case_id, "refer-again", &again, true).await;
    assert_eq!(resent.state, "sent");
    // A receiver sees no consent and no refusal.
    let seen = system
        .referrals()
        .await
        .get_case_referrals(receiver(
            CAV,
            api::GetCaseReferralsRequest {
                case_id: case_id.clone(),
                min_log_sequence: resent.log_sequence,
            },
        ))
        .await
        .expect("receiver's view")
        .into_inner();
    assert!(seen.consents.is_empty() && seen.refusals.is_empty());
}

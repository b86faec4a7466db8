//! `TightenDeadlines`: the case's urgency rose after the referral was sent, so
//! its open deadlines come earlier: the new urgency's windows run from when
//! the case reached it, and no deadline ever becomes later.

use super::support::*;

/// The case became immediate two hours after the fixture referral was sent.
const ROSE_AT: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);

fn risen(to: Urgency, since: OffsetDateTime, now: OffsetDateTime) -> Context {
    let mut context = system(now);
    context.case.urgency = context.case.urgency.raised(to);
    context.case.urgency_since = Some(since);
    context
}

fn tighten(referral_id: &str) -> Command {
    Command::TightenDeadlines {
        referral_id: rid(referral_id),
    }
}

#[test]
fn a_risen_urgency_brings_the_open_deadlines_forward_from_when_it_rose() {
    let state = given(&referral_in(ReferralState::Sent));
    let events = when(
        &state,
        tighten(REFERRAL),
        &risen(Urgency::Immediate, ROSE_AT, NOW + Duration::minutes(1)),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlinesTightened {
            referral_id: rid(REFERRAL),
            urgency: Urgency::Immediate,
            acknowledge_by: ROSE_AT + Duration::hours(4),
            answer_by: ROSE_AT + Duration::hours(8),
            at: NOW + Duration::minutes(1),
        }])
    );
    let state = apply(state, &events.expect("tightened"));
    let referral = &state.referrals[&rid(REFERRAL)];
    assert_eq!(referral.urgency, Some(Urgency::Immediate));
    assert_eq!(referral.acknowledge_by, Some(ROSE_AT + Duration::hours(4)));
    // Once: the referral follows the case's urgency now.
    assert_eq!(
        when(
            &state,
            tighten(REFERRAL),
            &risen(Urgency::Immediate, ROSE_AT, LATER)
        ),
        Err(ReferralError::NothingToReactTo)
    );
}

#[test]
fn a_deadline_never_becomes_later() {
    // Immediate 23 h after sending: the acknowledgement (24 h) stays; the answer comes earlier.
    let late_rise = SENT_AT + Duration::hours(23);
    let state = given(&referral_in(ReferralState::Sent));
    assert_eq!(
        when(
            &state,
            tighten(REFERRAL),
            &risen(Urgency::Immediate, late_rise, late_rise)
        ),
        Ok(vec![Event::DeadlinesTightened {
            referral_id: rid(REFERRAL),
            urgency: Urgency::Immediate,
            acknowledge_by: ACK_BY,
            answer_by: late_rise + Duration::hours(8),
            at: late_rise,
        }])
    );
    // A received referral: only the answer is still open; its acknowledgement is kept.
    let state = given(&referral_in(ReferralState::Received));
    let events = when(
        &state,
        tighten(REFERRAL),
        &risen(Urgency::Immediate, ROSE_AT, NOW),
    )
    .expect("tightened");
    assert!(
        matches!(
            events.as_slice(),
            [Event::DeadlinesTightened { answer_by, .. }] if *answer_by == ROSE_AT + Duration::hours(8)
        ),
        "{events:?}"
    );
}

#[test]
fn a_lower_or_equal_urgency_changes_nothing() {
    let state = given(&referral_in(ReferralState::Sent));
    for urgency in [Urgency::High, Urgency::Standard] {
        let mut context = system(NOW);
        context.case.urgency = context.case.urgency.assessed(urgency);
        assert_eq!(
            when(&state, tighten(REFERRAL), &context),
            Err(ReferralError::NothingToReactTo),
            "{urgency}"
        );
    }
}

#[test]
fn only_referrals_awaiting_an_acknowledgement_or_an_answer_are_tightened() {
    for from in ReferralState::ALL {
        let state = given(&referral_in(*from));
        let outcome = when(
            &state,
            tighten(REFERRAL),
            &risen(Urgency::Immediate, ROSE_AT, NOW),
        );
        let open = matches!(from, ReferralState::Sent | ReferralState::Received);
        assert_eq!(outcome.is_ok(), open, "{from}: {outcome:?}");
    }
}

#[test]
fn a_referral_sent_before_the_urgency_was_recorded_counts_as_standard() {
    // Sent under the old rule with the dataset's immediate urgency: 4 h.
    let old = Event::ReferralSent {
        referral_id: rid(REFERRAL),
        sent_at: SENT_AT,
        acknowledge_by: SENT_AT + Duration::hours(4),
        answer_by: SENT_AT + Duration::hours(8),
        urgency: None,
        policy_version: 0,
    };
    let state = given(&[
        consent_to_receiver(CONSENT),
        drafted(REFERRAL, CONSENT),
        old,
    ]);
    // The case is high: followed, but the earlier deadlines stay.
    let events = when(
        &state,
        tighten(REFERRAL),
        &risen(Urgency::High, ROSE_AT, NOW),
    );
    assert_eq!(
        events,
        Ok(vec![Event::DeadlinesTightened {
            referral_id: rid(REFERRAL),
            urgency: Urgency::High,
            acknowledge_by: SENT_AT + Duration::hours(4),
            answer_by: SENT_AT + Duration::hours(8),
            at: NOW,
        }])
    );
}

#[test]
fn only_the_service_tightens_and_not_for_a_closed_case() {
    let state = given(&referral_in(ReferralState::Sent));
    let mut by_receiver = risen(Urgency::Immediate, ROSE_AT, NOW);
    by_receiver.actor = Actor::Organisation(org(RECEIVER));
    assert_eq!(
        when(&state, tighten(REFERRAL), &by_receiver),
        Err(ReferralError::NotAllowedForActor)
    );
    let mut closed = risen(Urgency::Immediate, ROSE_AT, NOW);
    closed.case.closed = Some(code("removed"));
    assert_eq!(
        when(&state, tighten(REFERRAL), &closed),
        Err(ReferralError::CaseClosed)
    );
}

#[test]
fn snapshot_of_deadlines_tightened_to_an_immediate_case() {
    let outcome = when(
        &given(&referral_in(ReferralState::Sent)),
        tighten(REFERRAL),
        &risen(Urgency::Immediate, ROSE_AT, NOW),
    );
    expect![[r#"
        DeadlinesTightened {
            referral_id: ReferralId(
                "ref-1",
            ),
            urgency: Immediate,
            acknowledge_by: 2026-03-10 16:00:00.0 +00:00:00,
            answer_by: 2026-03-10 20:00:00.0 +00:00:00,
            at: 2026-03-10 12:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

//! `missed_deadlines`: which deadlines the watcher must mark, and no other.

use super::support::*;

#[test]
fn missed_deadlines_lists_exactly_the_due_pairs() {
    use ReferralState as S;
    let mut events = vec![consent_to_receiver(CONSENT)];
    for (id, target) in [
        ("r-draft", S::Draft),
        ("r-sent", S::Sent),
        ("r-received", S::Received),
        ("r-accepted", S::Accepted),
        ("r-in-care", S::InCare),
        ("r-expired", S::Expired),
        ("r-marked", S::Sent),
    ] {
        events.extend(path_to(id, CONSENT, target));
    }
    events.push(Event::DeadlineMissed {
        referral_id: rid("r-marked"),
        kind: DeadlineKind::Acknowledgement,
        due_at: ACK_BY,
        detected_at: ACK_BY,
    });
    let state = given(&events);
    let pairs = |list: &[(&str, DeadlineKind)]| -> Vec<(ReferralId, DeadlineKind)> {
        list.iter().map(|(id, kind)| (rid(id), *kind)).collect()
    };

    assert_eq!(missed_deadlines(&state, NOW), vec![]);
    assert_eq!(
        missed_deadlines(&state, ACK_BY - Duration::seconds(1)),
        vec![]
    );
    assert_eq!(
        missed_deadlines(&state, ACK_BY),
        pairs(&[("r-sent", DeadlineKind::Acknowledgement)])
    );
    assert_eq!(
        missed_deadlines(&state, ANSWER_BY),
        pairs(&[
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );
    assert_eq!(
        missed_deadlines(&state, TAKE_CHARGE_BY),
        pairs(&[
            ("r-accepted", DeadlineKind::TakingCharge),
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );

    // The watcher marks them all; nothing is left, and each was accepted.
    let mut state = state;
    for (referral_id, kind) in missed_deadlines(&state, TAKE_CHARGE_BY) {
        let events = when(
            &state,
            Command::MarkDeadlineMissed {
                referral_id: referral_id.clone(),
                kind,
            },
            &system(TAKE_CHARGE_BY),
        )
        .expect("a listed deadline can be marked");
        state = apply(state, &events);
    }
    assert_eq!(missed_deadlines(&state, TAKE_CHARGE_BY), vec![]);
    assert_eq!(
        missed_deadlines(&state, TAKE_CHARGE_BY + Duration::days(365)),
        vec![]
    );
    for id in ["r-marked", "r-received", "r-sent"] {
        assert_eq!(state_of(&state, id), ReferralState::Expired, "{id}");
    }
    assert_eq!(state_of(&state, "r-accepted"), ReferralState::Accepted);
}

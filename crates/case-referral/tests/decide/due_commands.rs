//! `due_commands`: what the watcher must try on a case, and nothing else: the
//! deadlines passed unmet, the reactions to a transfer or a risen urgency,
//! and, for a closed case, only the reactions to its closure.

use super::support::*;

fn marks(list: &[(&str, DeadlineKind)]) -> Vec<Command> {
    list.iter().map(|(id, kind)| mark(id, *kind)).collect()
}

/// The commands of what is due.
fn due(state: &State, case: &CaseFacts, now: OffsetDateTime) -> Vec<Command> {
    due_commands(state, case, now)
        .iter()
        .map(Due::command)
        .collect()
}

#[test]
fn due_commands_list_exactly_the_missed_deadlines_of_an_unchanged_case() {
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
    let case = case();

    assert_eq!(due(&state, &case, NOW), vec![]);
    assert_eq!(due(&state, &case, ACK_BY - Duration::seconds(1)), vec![]);
    assert_eq!(
        due(&state, &case, ACK_BY),
        marks(&[("r-sent", DeadlineKind::Acknowledgement)])
    );
    assert_eq!(
        due(&state, &case, ANSWER_BY),
        marks(&[
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );
    assert_eq!(
        due(&state, &case, TAKE_CHARGE_BY),
        marks(&[
            ("r-accepted", DeadlineKind::TakingCharge),
            ("r-marked", DeadlineKind::Answer),
            ("r-received", DeadlineKind::Answer),
            ("r-sent", DeadlineKind::Acknowledgement),
            ("r-sent", DeadlineKind::Answer),
        ])
    );

    // The watcher runs them all; nothing is left, and each was accepted.
    let mut state = state;
    for command in due(&state, &case, TAKE_CHARGE_BY) {
        let events =
            when(&state, command, &system(TAKE_CHARGE_BY)).expect("a due command is accepted");
        state = apply(state, &events);
    }
    assert_eq!(due(&state, &case, TAKE_CHARGE_BY), vec![]);
    assert_eq!(
        due(&state, &case, TAKE_CHARGE_BY + Duration::days(365)),
        vec![]
    );
    for id in ["r-marked", "r-received", "r-sent"] {
        assert_eq!(state_of(&state, id), ReferralState::Expired, "{id}");
    }
    assert_eq!(state_of(&state, "r-accepted"), ReferralState::Accepted);
}

#[test]
fn a_referral_follows_a_transfer_and_a_risen_urgency_before_its_deadlines_are_marked() {
    let state = given(&referral_in(ReferralState::Sent));
    let mut moved = case();
    moved.place = Some(place("RM", ROME_FACILITY));
    moved.urgency = moved.urgency.raised(Urgency::Immediate);
    assert_eq!(
        due(&state, &moved, ANSWER_BY),
        vec![
            Command::FollowCaseTransfer {
                referral_id: rid(REFERRAL)
            },
            Command::TightenDeadlines {
                referral_id: rid(REFERRAL)
            },
            mark(REFERRAL, DeadlineKind::Acknowledgement),
            mark(REFERRAL, DeadlineKind::Answer),
        ]
    );
}

#[test]
fn closure_wins_over_deadlines_transfers_and_urgency() {
    use ReferralState as S;
    let mut events = vec![consent_to_receiver(CONSENT)];
    for (id, target) in [
        ("r-a-draft", S::Draft),
        ("r-b-sent", S::Sent),
        ("r-c-received", S::Received),
        ("r-d-accepted", S::Accepted),
        ("r-e-in-care", S::InCare),
        ("r-f-on-hold", S::OnHold),
        ("r-g-completed", S::Completed),
        ("r-h-declined", S::Declined),
    ] {
        events.extend(path_to(id, CONSENT, target));
    }
    let state = given(&events);
    let mut closed = case();
    closed.closed = Some(code("transferred_abroad"));
    closed.place = Some(place("RM", ROME_FACILITY));
    closed.urgency = closed.urgency.raised(Urgency::Immediate);
    let react = |id: &str| Command::ReactToCaseClosure {
        referral_id: rid(id),
    };
    let long_after = TAKE_CHARGE_BY + Duration::days(30);
    assert_eq!(
        due(&state, &closed, long_after),
        vec![
            react("r-a-draft"),
            react("r-b-sent"),
            react("r-c-received"),
            react("r-d-accepted"),
            react("r-e-in-care"),
            react("r-f-on-hold"),
        ]
    );
    // Once reacted to, nothing more is due, however late.
    let mut state = state;
    for command in due(&state, &closed, long_after) {
        let events = when(
            &state,
            command,
            &Context {
                case: closed.clone(),
                ..system(long_after)
            },
        )
        .expect("accepted");
        state = apply(state, &events);
    }
    assert_eq!(due(&state, &closed, long_after), vec![]);
    assert_eq!(
        due(&state, &closed, long_after + Duration::days(365)),
        vec![]
    );
}

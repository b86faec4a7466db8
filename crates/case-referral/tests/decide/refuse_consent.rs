//! `RefuseConsent`: the person refused; the refusal is recorded in the ledger
//! and blocks nothing else.

use super::support::*;

fn refuse(consent_id: &str, at: OffsetDateTime) -> Command {
    Command::RefuseConsent {
        consent_id: cid(consent_id),
        recipient: Recipient::ServiceType(ServiceType::AntiViolenceCentre),
        purpose: code("gbv_support"),
        refused_at: at,
    }
}

#[test]
fn a_refusal_is_recorded_and_blocks_nothing_else() {
    let state = given(&referral_in(ReferralState::Sent));
    let events = when(&state, refuse("refusal-1", NOW), &by(REFERRER, NOW)).expect("recorded");
    assert_eq!(
        events,
        vec![Event::ConsentRefused {
            consent_id: cid("refusal-1"),
            recipient: Recipient::ServiceType(ServiceType::AntiViolenceCentre),
            purpose: code("gbv_support"),
            refused_at: NOW,
        }]
    );
    let state = apply(state, &events);
    assert!(state.refusals.contains_key(&cid("refusal-1")));
    // The referral already sent goes on; a consent given later is accepted and covers.
    assert!(when(&state, Kind::Receive.command(REFERRAL), &by(RECEIVER, NOW)).is_ok());
    let later = when(
        &state,
        give(
            "consent-later",
            Recipient::ServiceType(ServiceType::AntiViolenceCentre),
            consent_basis(all_scopes(), VALID_UNTIL),
        ),
        &by(REFERRER, NOW),
    )
    .expect("a consent after a refusal");
    let state = apply(state, &later);
    assert!(
        when(
            &state,
            create("ref-2", "consent-later", true),
            &by(REFERRER, NOW)
        )
        .is_ok()
    );
}

#[test]
fn a_refusal_takes_a_ledger_id_of_its_own_and_is_not_in_the_future() {
    let state = given(&[consent_to_receiver(CONSENT)]);
    assert_eq!(
        when(&state, refuse(CONSENT, NOW), &by(REFERRER, NOW)),
        Err(ReferralError::AlreadyExists)
    );
    let refused = apply(
        state.clone(),
        &when(&state, refuse("refusal-1", NOW), &by(REFERRER, NOW)).expect("recorded"),
    );
    assert_eq!(
        when(
            &refused,
            give(
                "refusal-1",
                Recipient::Organisation(org(RECEIVER)),
                consent_basis(all_scopes(), VALID_UNTIL)
            ),
            &by(REFERRER, NOW)
        ),
        Err(ReferralError::AlreadyExists)
    );
    assert_invalid(
        when(
            &state,
            refuse("refusal-2", NOW + Duration::seconds(1)),
            &by(REFERRER, NOW),
        ),
        "refused_at",
    );
    assert_eq!(
        when(&state, refuse("refusal-3", NOW), &system(NOW)),
        Err(ReferralError::NotAllowedForActor)
    );
}

#[test]
fn snapshot_of_a_refusal() {
    let outcome = when(
        &given(&[]),
        refuse("refusal-1", GIVEN_AT),
        &by(REFERRER, NOW),
    );
    expect![[r#"
        ConsentRefused {
            consent_id: ConsentId(
                "refusal-1",
            ),
            recipient: ServiceType(
                AntiViolenceCentre,
            ),
            purpose: Code(
                "gbv_support",
            ),
            refused_at: 2026-03-10 9:00:00.0 +00:00:00,
        }"#]]
    .assert_eq(&render(outcome));
}

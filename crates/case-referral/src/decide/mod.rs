//! `decide` for the referral record: a dispatcher over [`Command`], one
//! function per command in a file per concern, and the checks on who may move
//! a referral that they share.

mod access_log;
mod answer;
mod care;
mod consent;
mod deadlines;
mod referral;

use crate::{
    Actor, Command, Context, Event, Referral, ReferralError, ReferralId, ReferralState, State,
};

pub use deadlines::missed_deadlines;

/// The single decision function of the referral record.
pub fn decide(
    state: &State,
    command: Command,
    context: &Context,
) -> Result<Vec<Event>, ReferralError> {
    match command {
        Command::GiveConsent {
            consent_id,
            recipient,
            basis,
            given_at,
        } => consent::give(state, consent_id, recipient, basis, given_at, context),
        Command::WithdrawConsent { consent_id } => consent::withdraw(state, consent_id, context),
        Command::CreateReferral {
            referral_id,
            receiver,
            service_type,
            consent_id,
            dataset,
            send,
        } => referral::create(
            state,
            referral::Draft {
                referral_id,
                receiver,
                service_type,
                consent_id,
                dataset,
            },
            send,
            context,
        ),
        Command::Send { referral_id } => referral::send(state, referral_id, context),
        Command::Receive { referral_id } => answer::receive(state, referral_id, context),
        Command::Accept { referral_id } => answer::accept(state, referral_id, context),
        Command::Decline {
            referral_id,
            reason,
            redirect_to,
        } => answer::decline(state, referral_id, reason, redirect_to, context),
        Command::TakeCharge { referral_id } => care::take_charge(state, referral_id, context),
        Command::Hold { referral_id } => care::hold(state, referral_id, context),
        Command::Resume { referral_id } => care::resume(state, referral_id, context),
        Command::Complete {
            referral_id,
            outcome,
        } => care::complete(state, referral_id, outcome, context),
        Command::Cancel { referral_id } => referral::cancel(state, referral_id, context),
        Command::MarkFailed { referral_id } => care::mark_failed(state, referral_id, context),
        Command::MarkDeadlineMissed { referral_id, kind } => {
            deadlines::mark_missed(state, referral_id, kind, context)
        }
        Command::RecordDatasetRead { referral_ids } => {
            access_log::record_dataset_read(state, referral_ids, context)
        }
    }
}

fn invalid(field: impl Into<String>, reason: &'static str) -> ReferralError {
    ReferralError::Invalid {
        field: field.into(),
        reason,
    }
}

/// Who may make a transition.
enum Party {
    Referrer,
    Receiver,
    Either,
}

fn check_party(referral: &Referral, actor: &Actor, party: Party) -> Result<(), ReferralError> {
    // The service itself only marks deadlines; every transition is a party's.
    let Actor::Organisation(org) = actor else {
        return Err(match party {
            Party::Referrer => ReferralError::NotTheReferrer,
            Party::Receiver | Party::Either => ReferralError::NotTheReceiver,
        });
    };
    match party {
        Party::Receiver if *org != referral.receiver => Err(ReferralError::NotTheReceiver),
        Party::Referrer if *org != referral.referrer => Err(ReferralError::NotTheReferrer),
        Party::Either if *org != referral.receiver && *org != referral.referrer => {
            Err(ReferralError::NotTheReceiver)
        }
        _ => Ok(()),
    }
}

/// The referral, if `party` may move it out of its current state, one of `from`.
fn transition(
    state: &State,
    referral_id: &ReferralId,
    context: &Context,
    party: Party,
    from: &[ReferralState],
) -> Result<Referral, ReferralError> {
    let referral = state
        .referrals
        .get(referral_id)
        .ok_or(ReferralError::ReferralNotFound)?;
    check_party(referral, &context.actor, party)?;
    if !from.contains(&referral.state) {
        return Err(ReferralError::TransitionNotAllowed(referral.state.code()));
    }
    Ok(referral.clone())
}

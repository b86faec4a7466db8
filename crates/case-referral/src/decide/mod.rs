//! `decide` for the referral record: a dispatcher over [`Command`], one
//! function per command in a file per concern, the checks on who may move a
//! referral that they share, and [`due_commands`]: what the service's watcher
//! must try on a case at a time (reactions to the case, missed deadlines).

mod access_log;
mod answer;
mod care;
mod consent;
mod deadlines;
mod reactions;
mod referral;

use time::OffsetDateTime;

use crate::{
    Actor, CaseFacts, Command, Context, DeadlineKind, Event, Referral, ReferralError, ReferralId,
    ReferralState, State,
};

pub use deadlines::tightening_due;
pub use reactions::{closure_reaction_due, transfer_due};

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
        Command::RefuseConsent {
            consent_id,
            recipient,
            purpose,
            refused_at,
        } => consent::refuse(state, consent_id, recipient, purpose, refused_at, context),
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
        Command::Cancel {
            referral_id,
            reason,
        } => referral::cancel(state, referral_id, reason, context),
        Command::MarkFailed {
            referral_id,
            reason,
        } => care::mark_failed(state, referral_id, reason, context),
        Command::MarkDeadlineMissed { referral_id, kind } => {
            deadlines::mark_missed(state, referral_id, kind, context)
        }
        Command::TightenDeadlines { referral_id } => {
            deadlines::tighten(state, referral_id, context)
        }
        Command::ReactToCaseClosure { referral_id } => {
            reactions::react_to_closure(state, referral_id, context)
        }
        Command::FollowCaseTransfer { referral_id } => {
            reactions::follow_transfer(state, referral_id, context)
        }
        Command::RecordDatasetRead { referral_ids } => {
            access_log::record_dataset_read(state, referral_ids, context)
        }
    }
}

/// Something the service's watcher must do on a referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// The case was closed.
    CaseClosure(ReferralId),
    /// The case was placed elsewhere.
    CaseTransfer(ReferralId),
    /// The case's urgency rose above the referral's.
    Tightening(ReferralId),
    /// A deadline passed unmet.
    MissedDeadline(ReferralId, DeadlineKind),
}

impl Due {
    /// The command that does it, run by the service itself.
    pub fn command(&self) -> Command {
        match self.clone() {
            Due::CaseClosure(referral_id) => Command::ReactToCaseClosure { referral_id },
            Due::CaseTransfer(referral_id) => Command::FollowCaseTransfer { referral_id },
            Due::Tightening(referral_id) => Command::TightenDeadlines { referral_id },
            Due::MissedDeadline(referral_id, kind) => {
                Command::MarkDeadlineMissed { referral_id, kind }
            }
        }
    }
}

/// What the service's watcher must do on the case at `now`, given what
/// screening recorded (`case`). A closed case gets only the reactions to its
/// closure (its deadlines stop: closure wins over deadlines); otherwise, for
/// each referral in id order, following a transfer, tightening deadlines to a
/// risen urgency, then every deadline passed unmet and unmarked. Each is what
/// its command's `decide` accepts on this state.
pub fn due_commands(state: &State, case: &CaseFacts, now: OffsetDateTime) -> Vec<Due> {
    let mut due = Vec::new();
    if case.is_closed() {
        for (id, referral) in &state.referrals {
            if closure_reaction_due(referral.state, referral.closure_notified) {
                due.push(Due::CaseClosure(id.clone()));
            }
        }
        return due;
    }
    for (id, referral) in &state.referrals {
        if transfer_due(referral.state, referral.place.as_ref(), case.place.as_ref()) {
            due.push(Due::CaseTransfer(id.clone()));
        }
        if tightening_due(referral.state, referral.urgency, case.urgency()) {
            due.push(Due::Tightening(id.clone()));
        }
        for kind in deadlines::missed(referral, now) {
            due.push(Due::MissedDeadline(id.clone(), kind));
        }
    }
    due
}

fn invalid(field: impl Into<String>, reason: &'static str) -> ReferralError {
    ReferralError::Invalid {
        field: field.into(),
        reason,
    }
}

/// Only the service itself (its watcher) runs this command.
fn by_the_system(context: &Context) -> Result<(), ReferralError> {
    match context.actor {
        Actor::System => Ok(()),
        Actor::Organisation(_) => Err(ReferralError::NotAllowedForActor),
    }
}

/// Refuses what a closed case no longer allows (sending, answering, taking charge).
fn open_case(context: &Context) -> Result<(), ReferralError> {
    if context.case.is_closed() {
        return Err(ReferralError::CaseClosed);
    }
    Ok(())
}

/// The referral the service itself acts on (a deadline, a tightening, a
/// reaction to the case): only the system, only on an open case.
fn system_acts_on<'a>(
    state: &'a State,
    referral_id: &ReferralId,
    context: &Context,
) -> Result<&'a Referral, ReferralError> {
    by_the_system(context)?;
    open_case(context)?;
    state
        .referrals
        .get(referral_id)
        .ok_or(ReferralError::ReferralNotFound)
}

/// Who may make a transition.
enum Party {
    Referrer,
    Receiver,
    Either,
}

fn check_party(referral: &Referral, actor: &Actor, party: Party) -> Result<(), ReferralError> {
    // The service itself only marks deadlines and reacts to the case; every
    // transition is a party's.
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

//! Domain tests of the referral record, one binary: given events, when a
//! command by an actor, then events or an error; one module per command, the
//! shared fixtures in `support`, property tests in `properties`.

mod accept;
mod cancel;
mod case_closed;
mod case_transferred;
mod complete;
mod create_referral;
mod decline;
mod directory;
mod due_commands;
mod give_consent;
mod hold;
mod lifecycle;
mod mark_deadline_missed;
mod mark_failed;
mod parties;
mod properties;
mod publication;
mod receive;
mod record_dataset_read;
mod refuse_consent;
mod resume;
mod send;
mod suggestions;
mod support;
mod take_charge;
mod tighten_deadlines;
mod withdraw_consent;

//! Domain tests of the screening record, one binary: given events, when a
//! command, then events or an error; one module per command, the shared
//! fixtures in `support`, property tests in `properties`.

mod close;
mod erase_personal_data;
mod every_command;
mod evolve;
mod mark_assessment_deadline_missed;
mod mark_need_assessment_deadline_missed;
mod mark_screening_deadline_missed;
mod missed_deadlines;
mod open;
mod place;
mod properties;
mod raise_signal;
mod record_application;
mod record_assessment;
mod record_formal_identification;
mod record_identity_read;
mod record_preliminary_check;
mod support;

// Minors, detention and follow-up (issue 11).
mod appoint_guardian;
mod assess_age;
mod care;
mod care_properties;
mod mark_first_reception_limit_exceeded;
mod mark_follow_up_missed;
mod mark_lost_to_follow_up;
mod minority;
mod place_in_detention;
mod record_follow_up;
mod schedule_follow_up;

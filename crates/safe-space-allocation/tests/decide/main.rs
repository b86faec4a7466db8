//! Domain tests of safe spaces and their allocators, one binary: given a
//! state, when a command by an actor, then events or an error; one module per
//! command, the shared fixtures in `support`, property tests in `properties`.

mod add_space;
mod avoid;
mod cancel_request;
mod case_record;
mod change_capacity;
mod close_space;
mod confirm_arrival;
mod disclose_location;
mod due_commands;
mod eligibility;
mod expire_hold;
mod properties;
mod refresh_urgency;
mod register_space;
mod release;
mod request_place;
mod reserve;
mod support;

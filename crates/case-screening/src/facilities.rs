//! The registry of reception facilities: one aggregate per facility
//! (`approdo.facility.<id>.screening`), registered by an administrator with its
//! province and kind. A case's province is its facility's registered province,
//! never what a request claims.

use crate::{FacilityId, FacilityKind, Province};

/// A facility as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub facility_id: FacilityId,
    pub province: Province,
    pub kind: FacilityKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Register(Facility),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Registered(Facility),
}

/// Why a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FacilityError {
    #[error("the facility is already registered")]
    AlreadyRegistered,
}

/// A facility's registration, once made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub facility: Option<Facility>,
}

impl State {
    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::Registered(facility) => self.facility = Some(facility.clone()),
        }
        self
    }
}

/// A facility is registered once; its province does not move.
pub fn decide(state: &State, command: Command) -> Result<Vec<Event>, FacilityError> {
    match command {
        Command::Register(facility) => {
            if state.facility.is_some() {
                return Err(FacilityError::AlreadyRegistered);
            }
            Ok(vec![Event::Registered(facility)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_facility_is_registered_once() {
        let facility = Facility {
            facility_id: FacilityId::parse("hotspot-lampedusa").expect("id"),
            province: Province::parse("AG").expect("province"),
            kind: FacilityKind::Hotspot,
        };
        let events = decide(&State::default(), Command::Register(facility.clone())).expect("ok");
        assert_eq!(events, [Event::Registered(facility.clone())]);
        let state = State::default().evolve(&events[0]);
        assert_eq!(state.facility.as_ref(), Some(&facility));
        assert_eq!(
            decide(&state, Command::Register(facility)),
            Err(FacilityError::AlreadyRegistered)
        );
    }
}

//! The organisation directory: one aggregate per organisation, whose state is
//! its current profile, so that a referral's receiver and the suggestions are
//! read from what the directory recorded. Registering twice and updating an
//! organisation never registered are refused.

use crate::{
    Availability, Code, Language, OpeningHours, OrganisationId, OrganisationName, Province,
    ServiceType,
};

/// What the directory knows of an organisation (a receiving service or a referrer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationProfile {
    pub organisation_id: OrganisationId,
    pub name: OrganisationName,
    /// What it offers: at least one.
    pub service_types: Vec<ServiceType>,
    /// Where it works: at least one.
    pub provinces: Vec<Province>,
    /// Languages its staff or mediators speak.
    pub languages: Vec<Language>,
    /// Accessibility codes (`wheelchair`, `sign_language`, `female_staff_only`).
    pub accessibility: Vec<Code>,
    pub opening_hours: OpeningHours,
    /// How referrals reach it (`approdo`, `phone`, `helpline_1522`); `None` when unsaid.
    pub intake_channel: Option<Code>,
    pub availability: Availability,
    /// Inactive organisations stay in the directory but receive no referral.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Register(OrganisationProfile),
    Update(OrganisationProfile),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Registered(OrganisationProfile),
    Updated(OrganisationProfile),
}

/// Why the directory refuses a command. Messages name fields and rules only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The profile is not acceptable (INVALID_ARGUMENT).
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("organisation already registered")]
    AlreadyRegistered,
    #[error("organisation not found")]
    OrganisationNotFound,
}

/// An organisation as the directory recorded it: `None` until registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub profile: Option<OrganisationProfile>,
}

impl State {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> State {
        pathway::replay(events, State::evolve)
    }

    pub fn evolve(mut self, event: &Event) -> State {
        match event {
            Event::Registered(profile) | Event::Updated(profile) => {
                self.profile = Some(profile.clone());
            }
        }
        self
    }
}

/// The decision function of an organisation's directory entry.
pub fn decide(state: &State, command: Command) -> Result<Vec<Event>, DirectoryError> {
    match command {
        Command::Register(profile) => register(state, profile),
        Command::Update(profile) => update(state, profile),
    }
}

fn register(state: &State, profile: OrganisationProfile) -> Result<Vec<Event>, DirectoryError> {
    // The profile is checked before the directory, as the service always has.
    check(&profile)?;
    if state.profile.is_some() {
        return Err(DirectoryError::AlreadyRegistered);
    }
    Ok(vec![Event::Registered(profile)])
}

fn update(state: &State, profile: OrganisationProfile) -> Result<Vec<Event>, DirectoryError> {
    check(&profile)?;
    let current = state
        .profile
        .as_ref()
        .ok_or(DirectoryError::OrganisationNotFound)?;
    // One aggregate per organisation: its id is the aggregate's and never changes.
    if current.organisation_id != profile.organisation_id {
        return Err(DirectoryError::Invalid {
            field: "profile.organisation_id",
            reason: "is not the organisation being updated",
        });
    }
    Ok(vec![Event::Updated(profile)])
}

/// The rules the field types cannot hold: an organisation offers something, somewhere.
fn check(profile: &OrganisationProfile) -> Result<(), DirectoryError> {
    if profile.service_types.is_empty() {
        return Err(DirectoryError::Invalid {
            field: "profile.service_types",
            reason: "at least one service type",
        });
    }
    if profile.provinces.is_empty() {
        return Err(DirectoryError::Invalid {
            field: "profile.provinces",
            reason: "at least one province",
        });
    }
    Ok(())
}

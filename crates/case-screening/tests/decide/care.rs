//! Fixtures of the minors, detention and follow-up tests: ages, guardians,
//! detention grounds, follow-ups, and the days the 45-day limit runs on.

use super::support::*;
pub use case_screening::{
    AgeAssessment, DetentionAuthority, DetentionGrounds, DetentionJustification, FollowUpId,
    FollowUpOutcome, FollowUpPurpose, FollowUpRecord, FollowUpSchedule, GuardianAppointment,
    GuardianKind,
};

/// The day the stay of a case opened at the hotspot began (the arrival, in Rome).
pub const ENTERED_ON: Date = date!(2026 - 03 - 02);
/// The end of the 45th day after it, in Rome (summer time by then): 17 April 00:00 CEST.
pub const FIRST_RECEPTION_LIMIT: OffsetDateTime = datetime!(2026-04-16 22:00 UTC);

pub const COURT: &str = "tribunale-minorenni-palermo";
pub const FOLLOW_UP: &str = "0190a1b2-0000-7000-8000-00000000f001";

pub fn opened_as(band: AgeBand) -> Event {
    Event::CaseOpened(OpenCase {
        age_band: band,
        ..open_case()
    })
}

/// Opened in a facility of `kind` (`None`: an opening recorded before kinds).
pub fn opened_in(kind: Option<FacilityKind>, band: AgeBand) -> Event {
    Event::CaseOpened(OpenCase {
        facility_kind: kind,
        age_band: band,
        ..open_case()
    })
}

pub fn suspected(category: Category) -> Event {
    Event::VulnerabilitySignalRaised(signal(category, ARRIVAL))
}

/// An assessment an hour after arrival.
pub fn assessed_early(outcomes: &[(Category, Outcome)]) -> Event {
    assessed(outcomes, ARRIVAL + Duration::HOUR)
}

/// A 16-year-old, unaccompanied, opened at the hotspot.
pub fn unaccompanied_minor() -> Vec<Event> {
    vec![
        opened_as(AgeBand::From16To17),
        suspected(Category::UnaccompaniedMinor),
    ]
}

pub fn age_assessment(band: AgeBand, at: OffsetDateTime) -> AgeAssessment {
    AgeAssessment {
        age_band: band,
        assessed_by_organisation: COURT.to_owned(),
        assessed_at: at,
    }
}

pub fn guardian(at: OffsetDateTime) -> GuardianAppointment {
    GuardianAppointment {
        guardian_kind: GuardianKind::VolunteerGuardian,
        guardian_organisation_id: None,
        appointed_by_organisation: COURT.to_owned(),
        appointed_at: at,
    }
}

pub fn grounds() -> DetentionGrounds {
    DetentionGrounds {
        justification: DetentionJustification::RiskOfAbsconding,
        decided_by_organisation: "questura-ag".to_owned(),
        authority: Some(DetentionAuthority::PoliceChief),
    }
}

pub fn placed_in(facility_id: &str, kind: FacilityKind, placed_at: OffsetDateTime) -> Placement {
    Placement {
        facility_kind: kind,
        ..placement(facility_id, placed_at)
    }
}

/// A placement in the CPR, with `grounds` or none.
pub fn detention(grounds: Option<DetentionGrounds>) -> Placement {
    Placement {
        detention: grounds,
        ..placed_in("cpr-trapani", FacilityKind::Detention, NOW)
    }
}

/// A transfer at `placed_at` whose arrival is due 72 hours later.
pub fn transfer(facility_id: &str, placed_at: OffsetDateTime) -> Placement {
    Placement {
        arrival_due_at: Some(placed_at + Duration::hours(72)),
        ..placed_in(facility_id, FacilityKind::Cas, placed_at)
    }
}

pub fn follow_up_id(raw: &str) -> FollowUpId {
    FollowUpId::parse(raw).expect("valid follow-up id")
}

pub fn schedule(due_on: Date) -> FollowUpSchedule {
    FollowUpSchedule {
        follow_up_id: follow_up_id(FOLLOW_UP),
        due_on,
        purpose: FollowUpPurpose::Wellbeing,
        scheduled_by_organisation: FIRST_FACILITY.to_owned(),
    }
}

pub fn follow_up(id: Option<&str>, outcome: FollowUpOutcome, at: OffsetDateTime) -> FollowUpRecord {
    FollowUpRecord {
        follow_up_id: id.map(follow_up_id),
        outcome,
        at,
        recorded_by_organisation: "cas-roma-1".to_owned(),
    }
}

/// The deadlines of minors and follow-up the watcher would mark (the
/// screening and assessment deadlines left out: they have their own tests).
pub fn care_deadlines(state: &State, now: OffsetDateTime) -> Vec<Command> {
    missed_deadlines(state, now)
        .into_iter()
        .filter(|command| {
            !matches!(
                command,
                Command::MarkScreeningDeadlineMissed | Command::MarkAssessmentDeadlineMissed
            )
        })
        .collect()
}

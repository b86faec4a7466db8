//! `approdo case ...` for minors, detention and follow-up: placements (with
//! detention grounds), age assessments and guardians by a competent authority,
//! follow-ups scheduled and recorded; and what `case show` adds about them.

use access_token::OrganisationType;
use anyhow::{Context, Result};
use clap::Subcommand;
use contracts::screening::v1 as api;
use time::OffsetDateTime;
use tonic::transport::Channel;

type Client = api::screening_service_client::ScreeningServiceClient<Channel>;

#[derive(Subcommand)]
pub enum ProtectionCommand {
    /// Places the person in a registered facility, or transfers them, as the
    /// prefecture; the new facility must confirm the arrival (`case follow-up
    /// --outcome found`) in time. Detaining a minor is refused; a person with a
    /// confirmed category needs --justification.
    Place {
        case_id: String,
        #[arg(long)]
        facility: String,
        /// identity_verification, application_elements, border_procedure,
        /// return_procedure, risk_of_absconding, public_order, national_security
        #[arg(long, default_value = "")]
        justification: String,
        /// police_chief, prefect, justice_of_the_peace, court (who ordered it, if not the prefecture)
        #[arg(long, default_value = "")]
        authority: String,
    },
    /// Closes a case, as the prefecture of the case's province (APPRODO_PROVINCE):
    /// the referral service cancels its open referrals and tells the receivers
    /// with the person in care.
    Close {
        case_id: String,
        /// transferred_abroad, left_reception, protection_granted, removed, deceased, duplicate, other
        #[arg(long, default_value = "left_reception")]
        reason: String,
    },
    /// Records the age as the competent authority assessed it (an organisation
    /// named in `[options] age_assessment_authorities`).
    AgeAssessment {
        case_id: String,
        /// 0-5, 6-13, 14-15, 16-17, 18+
        #[arg(long)]
        band: String,
        /// The authority's organisation id, as its token names it.
        #[arg(long)]
        org: String,
        /// receiving_service (the juvenile court), prefecture or police
        #[arg(long, default_value = "receiving_service")]
        org_type: String,
    },
    /// Records a minor's guardian (an organisation named in `[options] guardianship_authorities`).
    Guardian {
        case_id: String,
        /// volunteer_guardian, social_services, facility_head, relative
        #[arg(long, default_value = "volunteer_guardian")]
        kind: String,
        /// The guardian's organisation id, if any (never a name).
        #[arg(long, default_value = "")]
        guardian_org: String,
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "receiving_service")]
        org_type: String,
    },
    /// Schedules a follow-up, as the case's facility.
    FollowUpSchedule {
        case_id: String,
        /// YYYY-MM-DD, a day in Rome
        #[arg(long)]
        due_on: String,
        /// arrival_check, wellbeing, reassessment, referral_follow_up, guardian_contact
        #[arg(long, default_value = "wellbeing")]
        purpose: String,
    },
    /// Records a follow-up done now, as the case's facility (after a
    /// transfer, --outcome found confirms the arrival).
    FollowUp {
        case_id: String,
        /// found, not_found, declined, escalated
        #[arg(long, default_value = "found")]
        outcome: String,
        /// The scheduled follow-up done; none for a contact not scheduled.
        #[arg(long, default_value = "")]
        follow_up_id: String,
    },
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(crate::timestamp(at))
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `message` with a token of organisation `org` of type `org_type`.
fn as_organisation<T>(message: T, org_type: &str, org: &str) -> Result<tonic::Request<T>> {
    let org_type = OrganisationType::from_code(org_type)
        .with_context(|| format!("unknown organisation type {org_type}"))?;
    let province = std::env::var("APPRODO_PROVINCE").unwrap_or_else(|_| "AG".to_owned());
    let mut request = tonic::Request::new(message);
    let bearer = format!(
        "Bearer {}",
        crate::token(org_type, org, &["operator"], Some(&province))
    );
    request
        .metadata_mut()
        .insert("authorization", bearer.parse()?);
    Ok(request)
}

pub async fn run(client: &mut Client, command: ProtectionCommand) -> Result<()> {
    let sequence = match command {
        ProtectionCommand::Place {
            case_id,
            facility,
            justification,
            authority,
        } => {
            client
                .place_case(crate::authorised(
                    api::PlaceCaseRequest {
                        request_id: request_id(),
                        case_id,
                        facility_id: facility,
                        placed_at: ts(now()),
                        detention_justification: justification,
                        detention_authority: authority,
                        ..Default::default()
                    },
                    OrganisationType::Prefecture,
                ))
                .await?
                .into_inner()
                .log_sequence
        }
        ProtectionCommand::Close { case_id, reason } => {
            client
                .close_case(crate::authorised(
                    api::CloseCaseRequest {
                        request_id: request_id(),
                        case_id,
                        reason,
                        closed_at: ts(now()),
                    },
                    OrganisationType::Prefecture,
                ))
                .await?
                .into_inner()
                .log_sequence
        }
        ProtectionCommand::AgeAssessment {
            case_id,
            band,
            org,
            org_type,
        } => {
            let message = api::RecordAgeAssessmentRequest {
                request_id: request_id(),
                case_id,
                age_band: band,
                assessed_at: ts(now()),
            };
            client
                .record_age_assessment(as_organisation(message, &org_type, &org)?)
                .await?
                .into_inner()
                .log_sequence
        }
        ProtectionCommand::Guardian {
            case_id,
            kind,
            guardian_org,
            org,
            org_type,
        } => {
            let message = api::AppointGuardianRequest {
                request_id: request_id(),
                case_id,
                guardian_kind: kind,
                guardian_organisation_id: guardian_org,
                appointed_at: ts(now()),
            };
            client
                .appoint_guardian(as_organisation(message, &org_type, &org)?)
                .await?
                .into_inner()
                .log_sequence
        }
        ProtectionCommand::FollowUpSchedule {
            case_id,
            due_on,
            purpose,
        } => {
            let scheduled = client
                .schedule_follow_up(crate::authorised(
                    api::ScheduleFollowUpRequest {
                        request_id: request_id(),
                        case_id,
                        due_on,
                        purpose,
                    },
                    OrganisationType::ReceptionOperator,
                ))
                .await?
                .into_inner();
            println!("follow-up {}", scheduled.follow_up_id);
            scheduled.log_sequence
        }
        ProtectionCommand::FollowUp {
            case_id,
            outcome,
            follow_up_id,
        } => {
            client
                .record_follow_up(crate::authorised(
                    api::RecordFollowUpRequest {
                        request_id: request_id(),
                        case_id,
                        follow_up_id,
                        outcome,
                        at: ts(now()),
                    },
                    OrganisationType::ReceptionOperator,
                ))
                .await?
                .into_inner()
                .log_sequence
        }
    };
    println!("recorded at log sequence {sequence}");
    Ok(())
}

/// What `case show` prints about minors, detention and follow-up.
pub fn print_case(case: &api::CaseView) {
    let mut minor = String::new();
    if case.unaccompanied_minor {
        minor.push_str(", unaccompanied minor");
    } else if case.minor {
        minor.push_str(", minor");
    }
    let assessed = case
        .age_assessment
        .as_ref()
        .map(|a| format!(" (assessed by {})", a.assessed_by_organisation))
        .unwrap_or_default();
    println!("  age band: {}{assessed}{minor}", case.age_band);
    if let Some(guardian) = &case.guardian {
        println!(
            "  guardian: {} appointed by {}",
            guardian.guardian_kind, guardian.appointed_by_organisation
        );
    }
    let state = |d: &Option<api::Deadline>| match d {
        Some(d) if d.met_at.is_some() => "met",
        Some(d) if d.missed => "MISSED",
        _ => "open",
    };
    if let Some(stay) = &case.first_reception {
        println!(
            "  in first reception since {} (45-day limit: {})",
            stay.entered_on,
            state(&stay.limit)
        );
    }
    if let Some(arrival) = &case.expected_arrival {
        println!(
            "  arrival at {}: {}",
            arrival.facility_id,
            match state(&arrival.deadline) {
                "MISSED" => "LOST TO FOLLOW-UP",
                other => other,
            }
        );
    }
    for follow_up in &case.follow_ups {
        println!(
            "  follow-up {} ({}) due {}: {} {}",
            follow_up.follow_up_id,
            follow_up.purpose,
            follow_up.due_on,
            state(&follow_up.deadline),
            follow_up.outcome
        );
    }
    if case.vulnerable_detentions > 0 {
        println!(
            "  detained as a vulnerable person: {} time(s)",
            case.vulnerable_detentions
        );
    }
}

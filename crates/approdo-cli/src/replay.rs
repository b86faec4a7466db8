//! `approdo replay ...`: analyst replay from the command line (the monitoring
//! service's `CaseReplayService`): a case's history and state as of a past
//! time or log sequence, and deadline compliance under another policy. As an
//! analyst (with `--province`, a prefecture's analyst limited to it). The
//! answers carry ids, codes and times only; sealed personal data prints as
//! sealed or erased.

use access_token::OrganisationType;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use contracts::monitoring::v1 as api;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::connect;

/// The monitoring service's port (deploy/local/monitoring.toml).
const PORT: u16 = 50054;

#[derive(Subcommand)]
pub enum ReplayCommand {
    /// A case as of a past moment: every commit of every service up to it
    /// (sequence, time, service, organisation, event, the payload's ids and
    /// codes), then the case as screening and referral saw it then.
    /// Example: `approdo replay case <case-id> --as-of 2026-06-20T10:00:00Z`.
    Case {
        /// The case's id (as the services answer it).
        case_id: String,
        /// Replay up to this time (RFC 3339, e.g. 2026-06-20T10:00:00Z).
        #[arg(long, conflicts_with = "sequence")]
        as_of: Option<String>,
        /// Replay up to this log sequence (inclusive).
        #[arg(long)]
        sequence: Option<u64>,
        /// Act as a prefecture's analyst of this province (default: a national analyst).
        #[arg(long)]
        province: Option<String>,
    },
    /// Deadline compliance of the cases opened and referrals sent in
    /// [--from, --to): under the policy in force and under the values given
    /// here (any left out stays as in force). Reads the log, writes nothing.
    /// Example: `approdo replay what-if --from 2026-06-01T00:00:00Z --to 2026-07-01T00:00:00Z --ack-high-hours 12`.
    WhatIf {
        /// Start of the period (RFC 3339), included.
        #[arg(long)]
        from: String,
        /// End of the period (RFC 3339), excluded.
        #[arg(long)]
        to: String,
        /// Screening within this many days (in force: 7).
        #[arg(long, default_value_t = 0)]
        screening_days: u32,
        /// Assessment within this many days of the application (in force: 30).
        #[arg(long, default_value_t = 0)]
        assessment_days: u32,
        /// Acknowledgement of an immediate referral within this many hours (in force: 4).
        #[arg(long, default_value_t = 0)]
        ack_immediate_hours: u32,
        /// Acknowledgement of a high-urgency referral within this many hours (in force: 24).
        #[arg(long, default_value_t = 0)]
        ack_high_hours: u32,
        /// Acknowledgement of a standard referral within this many hours (in force: 72).
        #[arg(long, default_value_t = 0)]
        ack_standard_hours: u32,
        /// Only this province's cases (a prefecture's analyst: its own, always).
        #[arg(long)]
        province: Option<String>,
    },
}

fn as_analyst<T>(message: T, province: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let bearer = format!(
        "Bearer {}",
        crate::token(OrganisationType::Analyst, "local-analyst", &[], province)
    );
    if let Ok(value) = bearer.parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn parse_time(raw: &str, what: &str) -> Result<prost_types::Timestamp> {
    let at = OffsetDateTime::parse(raw, &Rfc3339)
        .with_context(|| format!("{what} must be an RFC 3339 time, e.g. 2026-06-20T10:00:00Z"))?;
    Ok(crate::timestamp(at))
}

fn at(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.seconds).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn value(field: &api::PayloadField) -> String {
    use api::payload_field::Value;
    match &field.value {
        Some(Value::Id(id)) => id.clone(),
        Some(Value::Code(code)) => code.clone(),
        Some(Value::Time(t)) => at(Some(t)),
        Some(Value::Date(d)) => d.clone(),
        Some(Value::Flag(f)) => f.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Withheld(why)) => format!("<{why}>"),
        None => "-".to_owned(),
    }
}

pub async fn run(host: &str, command: ReplayCommand) -> Result<()> {
    let mut client =
        api::case_replay_service_client::CaseReplayServiceClient::new(connect(host, PORT).await?);
    match command {
        ReplayCommand::Case {
            case_id,
            as_of,
            sequence,
            province,
        } => {
            use api::get_case_history_as_of_request::AsOf;
            let point = match (as_of, sequence) {
                (Some(time), None) => AsOf::AsOfTime(parse_time(&time, "--as-of")?),
                (None, Some(sequence)) => AsOf::AsOfSequence(sequence),
                (None, None) => AsOf::AsOfTime(crate::timestamp(OffsetDateTime::now_utc())),
                (Some(_), Some(_)) => bail!("give --as-of or --sequence, not both"),
            };
            let replayed = client
                .get_case_history_as_of(as_analyst(
                    api::GetCaseHistoryAsOfRequest {
                        case_id,
                        as_of: Some(point),
                    },
                    province.as_deref(),
                ))
                .await?
                .into_inner();
            print_history(&replayed);
        }
        ReplayCommand::WhatIf {
            from,
            to,
            screening_days,
            assessment_days,
            ack_immediate_hours,
            ack_high_hours,
            ack_standard_hours,
            province,
        } => {
            let answer = client
                .replay_deadline_compliance(as_analyst(
                    api::ReplayDeadlineComplianceRequest {
                        from: Some(parse_time(&from, "--from")?),
                        to: Some(parse_time(&to, "--to")?),
                        alternative: Some(api::AlternativeDeadlinePolicy {
                            screening_days,
                            assessment_days,
                            acknowledge_immediate_hours: ack_immediate_hours,
                            acknowledge_high_hours: ack_high_hours,
                            acknowledge_standard_hours: ack_standard_hours,
                        }),
                        province: province.clone().unwrap_or_default(),
                    },
                    province.as_deref(),
                ))
                .await?
                .into_inner();
            println!(
                "read the log up to sequence {} (nothing written)",
                answer.read_up_to_sequence
            );
            println!(
                "{:<26} {:>16} {:>16}",
                "deadline", "in force", "alternative"
            );
            for figure in &answer.in_force {
                let alternative = answer
                    .alternative
                    .iter()
                    .find(|a| a.deadline == figure.deadline)
                    .map_or_else(|| "-".to_owned(), |a| format!("{}/{}", a.within, a.total));
                println!(
                    "{:<26} {:>16} {:>16}",
                    figure.deadline,
                    format!("{}/{}", figure.within, figure.total),
                    alternative
                );
            }
        }
    }
    Ok(())
}

/// The demo's last step: the case as of now, as a national analyst sees it.
pub async fn print_case(host: &str, case_id: &str) -> Result<()> {
    run(
        host,
        ReplayCommand::Case {
            case_id: case_id.to_owned(),
            as_of: None,
            sequence: None,
            province: None,
        },
    )
    .await
}

fn print_history(replayed: &api::GetCaseHistoryAsOfResponse) {
    println!(
        "case {} up to log sequence {}",
        replayed.case_id, replayed.last_included_sequence
    );
    for commit in &replayed.commits {
        println!(
            "#{} {} {} by {} ({})",
            commit.sequence,
            at(commit.recorded_at.as_ref()),
            commit.producer,
            commit.author_organisation_id,
            commit.author_organisation_type
        );
        for event in &commit.events {
            let name = event
                .event_type
                .rsplit('.')
                .next()
                .unwrap_or(&event.event_type);
            if !event.payload_shown {
                println!("    {name}");
                continue;
            }
            let fields: Vec<String> = event
                .fields
                .iter()
                .map(|f| format!("{}={}", f.name, value(f)))
                .collect();
            println!("    {name} {}", fields.join(" "));
        }
    }
    if let Some(s) = &replayed.screening
        && s.opened
    {
        println!(
            "screening: {} in {} ({}), urgency {}, age band {}",
            s.status,
            s.facility_id,
            s.province,
            if s.current_urgency.is_empty() {
                "-"
            } else {
                &s.current_urgency
            },
            s.age_band
        );
        let categories: Vec<String> = s
            .categories
            .iter()
            .map(|c| format!("{} {}", c.category, c.status))
            .collect();
        println!(
            "  categories: {} (+{} special, not named)",
            if categories.is_empty() {
                "-".to_owned()
            } else {
                categories.join(", ")
            },
            s.special_categories_withheld
        );
        println!(
            "  screening due {} (checked {}), assessment due {} (completed {}){}",
            at(s.screening_due_at.as_ref()),
            at(s.preliminary_check_at.as_ref()),
            at(s.assessment_due_at.as_ref()),
            at(s.assessment_completed_at.as_ref()),
            if s.personal_data_erased {
                ", personal data erased"
            } else {
                ""
            }
        );
    }
    if let Some(r) = &replayed.referral {
        for referral in &r.referrals {
            println!(
                "referral {} to {} ({}): {}, urgency {}, acknowledge by {}, answer by {}{}",
                referral.referral_id,
                referral.receiver_organisation_id,
                referral.service_type,
                referral.state,
                if referral.urgency.is_empty() {
                    "-"
                } else {
                    &referral.urgency
                },
                at(referral.acknowledge_by.as_ref()),
                at(referral.answer_by.as_ref()),
                if referral.missed_deadlines.is_empty() {
                    String::new()
                } else {
                    format!(", missed {}", referral.missed_deadlines.join(","))
                }
            );
        }
        for consent in &r.consents {
            println!(
                "consent {} ({}) given {}{}",
                consent.consent_id,
                consent.kind,
                at(consent.given_at.as_ref()),
                consent
                    .withdrawn_at
                    .as_ref()
                    .map(|w| format!(", withdrawn {}", at(Some(w))))
                    .unwrap_or_default()
            );
        }
    }
}

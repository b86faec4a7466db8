//! `approdo monitoring checklist|visit|training|scorecard|compare`: uniform
//! monitoring visits to facilities and staff training records
//! (`FacilityMonitoringService`). A visit is recorded as the prefecture of
//! `--province` (or, without it, a national body: an administrator).

use access_token::OrganisationType;
use anyhow::{Result, bail};
use clap::Subcommand;
use contracts::monitoring::v1 as api;

use api::facility_monitoring_service_client::FacilityMonitoringServiceClient;

const PORT: u16 = 50054;

#[derive(Subcommand)]
pub enum VisitCommand {
    /// The checklist: its sections and indicators, how each is scored, the training topics.
    Checklist,
    /// Records a monitoring visit: every observed indicator scored (`--all` for
    /// the default, `--score code=score` for the others).
    Visit {
        #[arg(long)]
        facility: String,
        #[arg(long)]
        visit_id: String,
        /// The day of the visit (YYYY-MM-DD).
        #[arg(long)]
        on: String,
        /// The score of every indicator not given by --score: met,
        /// partially_met, not_met, not_applicable.
        #[arg(long)]
        all: String,
        /// `indicator=score`, repeatable (e.g. health.mental_health=not_met).
        #[arg(long)]
        score: Vec<String>,
        /// Record as the prefecture of this province (default: a national body).
        #[arg(long)]
        province: Option<String>,
    },
    /// Records a staff training session of a facility (or, with --organisation, of an organisation).
    Training {
        #[arg(long, conflicts_with = "organisation")]
        facility: Option<String>,
        #[arg(long)]
        organisation: Option<String>,
        #[arg(long)]
        session_id: String,
        /// vulnerability_identification, gbv, trafficking, minors, consent_and_data_protection.
        #[arg(long)]
        topic: String,
        #[arg(long)]
        on: String,
        #[arg(long)]
        participants: u32,
        #[arg(long)]
        hours: u32,
    },
    /// A facility's scorecard: the latest visit by section, the trend, the change, training in the year.
    Scorecard {
        #[arg(long)]
        facility: String,
        /// As of this day (YYYY-MM-DD); default today.
        #[arg(long, default_value = "")]
        as_of: String,
    },
    /// Facilities or provinces compared on each facility's latest visit in a period.
    Compare {
        /// facility or province.
        #[arg(long, default_value = "province")]
        by: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        province: String,
    },
}

fn authorised<T>(message: T, province: Option<&str>) -> tonic::Request<T> {
    let (org_type, organisation) = match province {
        Some(p) => (
            OrganisationType::Prefecture,
            format!("prefettura-{}", p.to_ascii_lowercase()),
        ),
        None => (OrganisationType::Administrator, "local-admin".to_owned()),
    };
    let mut request = tonic::Request::new(message);
    let token = crate::token(org_type, &organisation, &["monitoring"], province);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn percent(ratio: Option<&api::Ratio>) -> String {
    ratio
        .and_then(|r| r.percent)
        .map_or_else(|| "n/a".to_owned(), |p| format!("{p:.0}%"))
}

fn print_score(score: &api::VisitScore) {
    println!(
        "  visit {} on {} at {} ({}, {}): overall {}",
        score.visit_id,
        score.visited_on,
        score.facility_id,
        score.facility_kind,
        score.province,
        percent(score.overall.as_ref())
    );
    for section in &score.sections {
        println!(
            "    {:<30} {}",
            section.section,
            percent(section.ratio.as_ref())
        );
    }
}

pub async fn run(host: &str, command: VisitCommand) -> Result<()> {
    let mut client = FacilityMonitoringServiceClient::new(crate::connect(host, PORT).await?);
    match command {
        VisitCommand::Checklist => {
            let checklist = client
                .get_checklist(authorised(api::GetChecklistRequest {}, None))
                .await?
                .into_inner();
            println!("checklist version {}", checklist.version);
            for section in &checklist.sections {
                println!("  {section}");
                for i in checklist
                    .indicators
                    .iter()
                    .filter(|i| &i.section == section)
                {
                    println!("    {:<36} {:<8} {}", i.indicator, i.scoring, i.checks);
                }
            }
            println!("training topics: {}", checklist.training_topics.join(", "));
        }
        VisitCommand::Visit {
            facility,
            visit_id,
            on,
            all,
            score,
            province,
        } => {
            let checklist = client
                .get_checklist(authorised(api::GetChecklistRequest {}, None))
                .await?
                .into_inner();
            let mut given = Vec::new();
            for pair in &score {
                let Some((indicator, value)) = pair.split_once('=') else {
                    bail!("--score {pair}: expected indicator=score");
                };
                given.push((indicator.to_owned(), value.to_owned()));
            }
            let scores = checklist
                .indicators
                .iter()
                .filter(|i| i.scoring == "observed")
                .map(|i| api::IndicatorScore {
                    indicator: i.indicator.clone(),
                    score: given
                        .iter()
                        .find(|(code, _)| *code == i.indicator)
                        .map_or(all.clone(), |(_, s)| s.clone()),
                })
                .chain(
                    // A code not on the checklist is sent as given: the service names it.
                    given
                        .iter()
                        .filter(|(code, _)| {
                            !checklist.indicators.iter().any(|i| &i.indicator == code)
                        })
                        .map(|(code, s)| api::IndicatorScore {
                            indicator: code.clone(),
                            score: s.clone(),
                        }),
                )
                .collect();
            let answer = client
                .record_visit(authorised(
                    api::RecordVisitRequest {
                        request_id: format!("visit-{facility}-{visit_id}"),
                        facility_id: facility,
                        visit_id,
                        visited_on: on,
                        scores,
                    },
                    province.as_deref(),
                ))
                .await?
                .into_inner();
            println!("recorded at log sequence {}", answer.log_sequence);
            if let Some(score) = &answer.score {
                print_score(score);
            }
        }
        VisitCommand::Training {
            facility,
            organisation,
            session_id,
            topic,
            on,
            participants,
            hours,
        } => {
            use api::record_training_session_request::Of;
            let (of, owner) = match (facility, organisation) {
                (Some(f), _) => (Of::FacilityId(f.clone()), f),
                (None, Some(o)) => (Of::OrganisationId(o.clone()), o),
                (None, None) => bail!("--facility or --organisation"),
            };
            let answer = client
                .record_training_session(authorised(
                    api::RecordTrainingSessionRequest {
                        request_id: format!("training-{owner}-{session_id}"),
                        of: Some(of),
                        session_id,
                        topic,
                        held_on: on,
                        participants,
                        hours,
                    },
                    None,
                ))
                .await?
                .into_inner();
            println!("recorded at log sequence {}", answer.log_sequence);
        }
        VisitCommand::Scorecard { facility, as_of } => {
            let card = client
                .get_facility_scorecard(authorised(
                    api::GetFacilityScorecardRequest {
                        facility_id: facility,
                        as_of,
                    },
                    None,
                ))
                .await?
                .into_inner();
            match &card.latest {
                Some(latest) => print_score(latest),
                None => println!("  no visit yet"),
            }
            for visit in &card.trend {
                println!(
                    "  trend: {} {}",
                    visit.visited_on,
                    percent(visit.overall.as_ref())
                );
            }
            for change in &card.change {
                println!(
                    "  change {:<30} {:+.0} points",
                    change.section, change.percentage_points
                );
            }
            for t in &card.training {
                println!(
                    "  training {:<30} {} sessions, {} participants, {} hours",
                    t.topic, t.sessions, t.participants, t.hours
                );
            }
        }
        VisitCommand::Compare {
            by,
            from,
            to,
            province,
        } => {
            let answer = client
                .compare_facilities(authorised(
                    api::CompareFacilitiesRequest {
                        group_by: by,
                        from,
                        to,
                        province,
                    },
                    None,
                ))
                .await?
                .into_inner();
            for group in &answer.groups {
                println!(
                    "  {:<20} {} facilities, overall {}",
                    group.group,
                    group.facilities,
                    group
                        .overall_percent
                        .map_or_else(|| "n/a".to_owned(), |p| format!("{p:.0}%"))
                );
            }
        }
    }
    Ok(())
}

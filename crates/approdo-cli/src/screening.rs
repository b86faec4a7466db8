//! `approdo case ...`: the screening service from the command line, and the
//! scripted journey the demo runs.

use access_token::OrganisationType;
use anyhow::{Context, Result};
use clap::Subcommand;
use contracts::person::v1 as person;
use contracts::screening::v1 as api;
use time::OffsetDateTime;
use tonic::transport::Channel;

use crate::{authorised, connect};

type Client = api::screening_service_client::ScreeningServiceClient<Channel>;

#[derive(Subcommand)]
pub enum CaseCommand {
    /// Registers a reception facility with its province (administrator): cases
    /// opened or placed there are in that province.
    RegisterFacility {
        facility_id: String,
        #[arg(long)]
        province: String,
        /// hotspot, first_reception, cas, sai, shelter, detention
        #[arg(long, default_value = "cas")]
        kind: String,
    },
    /// Opens a case (arrival now unless --hours-ago).
    Open {
        #[arg(long, default_value = "LAMPEDUSA")]
        place: String,
        /// Optional: the case is in its facility's registered province.
        #[arg(long, default_value = "")]
        province: String,
        /// The facility the person is in; a reception operator opens cases for its
        /// own facility only (default: APPRODO_FACILITY, else hotspot-lampedusa).
        #[arg(long)]
        facility: Option<String>,
        #[arg(long, default_value_t = 0)]
        hours_ago: i64,
        /// YYYY-MM-DD
        #[arg(long, default_value = "")]
        application_date: String,
        /// 0-5, 6-13, 14-15, 16-17, 18+ or unknown
        #[arg(long, default_value = "unknown")]
        age_band: String,
    },
    /// Records the preliminary vulnerability check: CATEGORY[,CATEGORY...].
    Check {
        case_id: String,
        #[arg(long, value_delimiter = ',')]
        suspected: Vec<String>,
        /// With OTHER among the suspected: which need (a code of the other_need vocabulary).
        #[arg(long, default_value = "")]
        other_need: String,
        #[arg(long, default_value = "standard")]
        urgency: String,
        #[arg(long, default_value = "LAMPEDUSA")]
        place: String,
    },
    /// Raises a vulnerability signal.
    Signal {
        case_id: String,
        #[arg(long)]
        category: String,
        /// With --category OTHER: which need (a code of the other_need vocabulary).
        #[arg(long, default_value = "")]
        other_need: String,
        #[arg(long, default_value = "standard")]
        urgency: String,
        #[arg(long, default_value = "operator")]
        role: String,
        /// Records that a disclosure of gender-based violence happened (never its details).
        #[arg(long)]
        gbv_disclosure: bool,
    },
    /// Records an assessment: --confirm GBV --rule-out TRAFFICKING.
    Assess {
        case_id: String,
        #[arg(long, value_delimiter = ',')]
        confirm: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        rule_out: Vec<String>,
        #[arg(long)]
        special_reception_needs: bool,
        #[arg(long, default_value = "psychologist")]
        role: String,
        /// The case's urgency as the assessment sets it (immediate, high,
        /// standard), lower too; unset leaves it.
        #[arg(long, default_value = "")]
        urgency: String,
        /// With OTHER confirmed or ruled out: which need (a code of the other_need vocabulary).
        #[arg(long, default_value = "")]
        other_need: String,
    },
    /// Shows the screening view of a case.
    Show { case_id: String },
    /// Reads the person's identity (decrypted); the read is recorded in the case's history.
    Identity {
        case_id: String,
        /// contact_person, transfer, legal_obligation, safeguarding
        #[arg(long, default_value = "contact_person")]
        purpose: String,
    },
    /// Erases the person's personal data (as the prefecture): their key is destroyed.
    Erase {
        case_id: String,
        #[arg(long, default_value = "person_request")]
        reason: String,
    },
    /// What happened to a case, in log order.
    History { case_id: String },
    /// Lists cases, in priority order with --priority.
    List {
        #[arg(long, default_value = "")]
        province: String,
        #[arg(long)]
        priority: bool,
        #[arg(long)]
        overdue: bool,
    },
    /// Minors, detention and follow-up.
    #[command(flatten)]
    Protection(crate::protection::ProtectionCommand),
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(crate::timestamp(at))
}

/// The `--other-need` code goes with OTHER only.
fn other_need_of(category: &str, other_need: &str) -> String {
    if category == "OTHER" {
        other_need.to_owned()
    } else {
        String::new()
    }
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn operator<T>(message: T) -> tonic::Request<T> {
    authorised(message, OrganisationType::ReceptionOperator)
}

pub async fn client(host: &str) -> Result<Client> {
    Ok(Client::new(connect(host, 50051).await?))
}

pub async fn run(host: &str, command: CaseCommand) -> Result<()> {
    let mut client = client(host).await?;
    match command {
        CaseCommand::RegisterFacility {
            facility_id,
            province,
            kind,
        } => {
            let answer =
                register_facility(&mut client, &request_id(), &facility_id, &province, &kind)
                    .await?;
            println!("facility {facility_id} registered in {province} (log sequence {answer})");
        }
        CaseCommand::Open {
            place,
            province,
            facility,
            hours_ago,
            application_date,
            age_band,
        } => {
            let answer = client
                .open_case(operator(api::OpenCaseRequest {
                    request_id: request_id(),
                    arrival: Some(api::Arrival {
                        place,
                        arrived_at: ts(now() - time::Duration::hours(hours_ago)),
                    }),
                    province,
                    facility_id: facility.unwrap_or_else(crate::operator_facility),
                    application_date,
                    age_band,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            println!(
                "case {} opened at log sequence {}",
                answer.case_id, answer.log_sequence
            );
        }
        CaseCommand::Check {
            case_id,
            suspected,
            other_need,
            urgency,
            place,
        } => {
            let answer = client
                .record_preliminary_check(operator(api::RecordPreliminaryCheckRequest {
                    request_id: request_id(),
                    case_id,
                    suspected: suspected
                        .into_iter()
                        .map(|category| api::SuspectedCategory {
                            other_need: other_need_of(&category, &other_need),
                            category,
                            indicators: vec![],
                        })
                        .collect(),
                    urgency,
                    place,
                    checked_at: ts(now()),
                    ..Default::default()
                }))
                .await?
                .into_inner();
            println!("check recorded at log sequence {}", answer.log_sequence);
        }
        CaseCommand::Signal {
            case_id,
            category,
            other_need,
            urgency,
            role,
            gbv_disclosure,
        } => {
            let answer = client
                .raise_vulnerability_signal(operator(api::RaiseVulnerabilitySignalRequest {
                    request_id: request_id(),
                    case_id,
                    suspected: Some(api::SuspectedCategory {
                        other_need: other_need_of(&category, &other_need),
                        category,
                        indicators: vec![],
                    }),
                    urgency,
                    raised_by_role: role,
                    raised_at: ts(now()),
                    gbv_disclosure,
                }))
                .await?
                .into_inner();
            println!("signal recorded at log sequence {}", answer.log_sequence);
        }
        CaseCommand::Assess {
            case_id,
            confirm,
            rule_out,
            special_reception_needs,
            role,
            urgency,
            other_need,
        } => {
            let outcomes = confirm
                .into_iter()
                .map(|category| api::CategoryOutcome {
                    other_need: other_need_of(&category, &other_need),
                    category,
                    status: "confirmed".to_owned(),
                })
                .chain(rule_out.into_iter().map(|category| api::CategoryOutcome {
                    other_need: other_need_of(&category, &other_need),
                    category,
                    status: "ruled_out".to_owned(),
                }))
                .collect();
            let answer = client
                .record_assessment(operator(api::RecordAssessmentRequest {
                    request_id: request_id(),
                    case_id,
                    outcomes,
                    special_reception_needs,
                    assessed_at: ts(now()),
                    assessor_role: role,
                    urgency,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            println!(
                "assessment recorded at log sequence {}",
                answer.log_sequence
            );
        }
        CaseCommand::Show { case_id } => print_case(&show(&mut client, &case_id, 0).await?),
        CaseCommand::Protection(command) => crate::protection::run(&mut client, command).await?,
        CaseCommand::Identity { case_id, purpose } => {
            print_identity(&mut client, &case_id, &purpose).await?
        }
        CaseCommand::Erase { case_id, reason } => erase(&mut client, &case_id, &reason).await?,
        CaseCommand::History { case_id } => print_history(&mut client, &case_id).await?,
        CaseCommand::List {
            province,
            priority,
            overdue,
        } => {
            let order = if priority {
                api::ListOrder::Priority
            } else {
                api::ListOrder::Newest
            };
            let listed = client
                .list_cases(operator(api::ListCasesRequest {
                    province,
                    overdue_only: overdue,
                    order: order as i32,
                    page_size: 100,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            for case in &listed.cases {
                let categories: Vec<String> = case
                    .categories
                    .iter()
                    .map(|c| format!("{}:{}", c.category, c.status))
                    .collect();
                println!(
                    "{}  {}  {:<9} {:<20} {}",
                    case.case_id,
                    case.province,
                    if case.current_urgency.is_empty() {
                        "-"
                    } else {
                        &case.current_urgency
                    },
                    case.facility_id,
                    categories.join(" ")
                );
            }
            println!("{} case(s)", listed.cases.len());
        }
    }
    Ok(())
}

async fn print_identity(client: &mut Client, case_id: &str, purpose: &str) -> Result<()> {
    let identity = client
        .get_case_identity(operator(api::GetCaseIdentityRequest {
            case_id: case_id.to_owned(),
            purpose: purpose.to_owned(),
        }))
        .await?
        .into_inner();
    let person = identity.personal_data.unwrap_or_default();
    println!(
        "  identity: {} {} (languages {}), read for {purpose}, recorded at log sequence {}",
        person.given_names,
        person.family_names,
        person.languages.join(","),
        identity.log_sequence
    );
    Ok(())
}

async fn erase(client: &mut Client, case_id: &str, reason: &str) -> Result<()> {
    let erased = client
        .erase_case(crate::authorised(
            api::EraseCaseRequest {
                request_id: request_id(),
                case_id: case_id.to_owned(),
                reason: reason.to_owned(),
            },
            OrganisationType::Prefecture,
        ))
        .await?
        .into_inner();
    println!(
        "  personal data erased (log sequence {}): the person's key is destroyed",
        erased.log_sequence
    );
    Ok(())
}

/// The end of the demo: the identity is read on record, then erased on the person's request.
pub async fn erasure(host: &str, case_id: &str) -> Result<()> {
    let mut client = client(host).await?;
    print_identity(&mut client, case_id, "contact_person").await?;
    erase(&mut client, case_id, "person_request").await?;
    match client
        .get_case_identity(operator(api::GetCaseIdentityRequest {
            case_id: case_id.to_owned(),
            purpose: "contact_person".to_owned(),
        }))
        .await
    {
        Err(status) => println!(
            "  reading it again: {:?}: {}",
            status.code(),
            status.message()
        ),
        Ok(_) => anyhow::bail!("the identity was still readable after erasure"),
    }
    Ok(())
}

async fn show(client: &mut Client, case_id: &str, min: u64) -> Result<api::CaseView> {
    client
        .get_case(operator(api::GetCaseRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await?
        .into_inner()
        .case
        .context("no case in answer")
}

fn print_case(case: &api::CaseView) {
    println!(
        "case {} ({}), province {}, facility {}",
        case.case_id, case.status, case.province, case.facility_id
    );
    println!(
        "  urgency: {}",
        if case.current_urgency.is_empty() {
            "-"
        } else {
            &case.current_urgency
        }
    );
    println!(
        "  special reception needs: {}, special procedural guarantees: {}",
        case.special_reception_needs, case.special_procedural_guarantees
    );
    for category in &case.categories {
        let history: Vec<&str> = category.history.iter().map(|h| h.status.as_str()).collect();
        println!(
            "  {:<20} {:<10} ({})",
            category.category,
            category.status,
            history.join(" -> ")
        );
    }
    let deadline = |name: &str, d: &Option<api::Deadline>| {
        if let Some(d) = d {
            let state = if d.met_at.is_some() {
                "met"
            } else if d.missed {
                "MISSED"
            } else {
                "open"
            };
            println!("  {name} deadline: {state}");
        }
    };
    deadline("screening (7 days)", &case.screening_deadline);
    deadline("assessment (30 days)", &case.assessment_deadline);
    crate::protection::print_case(case);
    println!(
        "  signals: {}, GBV disclosures: {}, last log sequence: {}",
        case.signals, case.gbv_disclosures, case.last_log_sequence
    );
}

pub(crate) async fn print_history(client: &mut Client, case_id: &str) -> Result<()> {
    let history = client
        .get_case_history(operator(api::GetCaseHistoryRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: 0,
        }))
        .await?
        .into_inner();
    for entry in history.entries {
        println!(
            "  #{:<6} {:<10} {}",
            entry.log_sequence,
            entry.producer,
            entry.event_types.join(", ")
        );
    }
    Ok(())
}

/// Registers a facility as the local administrator; answers the log sequence.
async fn register_facility(
    client: &mut Client,
    request_id: &str,
    facility_id: &str,
    province: &str,
    kind: &str,
) -> Result<u64> {
    Ok(client
        .register_facility(authorised(
            api::RegisterFacilityRequest {
                request_id: request_id.to_owned(),
                facility_id: facility_id.to_owned(),
                province: province.to_owned(),
                facility_kind: kind.to_owned(),
            },
            OrganisationType::Administrator,
        ))
        .await?
        .into_inner()
        .log_sequence)
}

/// The demo's journey: a fictional person, from arrival to assessment. Returns the case id.
pub async fn journey(host: &str) -> Result<String> {
    let mut client = client(host).await?;
    // The operator's facility, registered once (a retry answers from the log).
    let facility = crate::operator_facility();
    let registered = register_facility(
        &mut client,
        &format!("demo-facility-{facility}"),
        &facility,
        "AG",
        "hotspot",
    )
    .await;
    match registered {
        Ok(sequence) => {
            println!("  facility {facility} registered in AG (log sequence {sequence})")
        }
        Err(error) if error.to_string().contains("already registered") => {}
        Err(error) => return Err(error),
    }
    let arrived = now() - time::Duration::days(3);
    let request = request_id();
    let opened = client
        .open_case(operator(api::OpenCaseRequest {
            request_id: request.clone(),
            arrival: Some(api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(arrived),
            }),
            province: "AG".to_owned(),
            facility_id: crate::operator_facility(),
            application_date: (now() - time::Duration::days(1)).date().to_string(),
            // A fictional person: identity goes in its own message, never into views or logs.
            personal_data: Some(person::PersonalData {
                given_names: "Demo".to_owned(),
                family_names: "Person".to_owned(),
                languages: vec!["fr".to_owned()],
                sex: "female".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let case_id = opened.case_id.clone();
    println!(
        "  opened case {case_id} (log sequence {})",
        opened.log_sequence
    );
    let retry = client
        .open_case(operator(api::OpenCaseRequest {
            request_id: request,
            arrival: Some(api::Arrival {
                place: "LAMPEDUSA".to_owned(),
                arrived_at: ts(arrived),
            }),
            province: "AG".to_owned(),
            facility_id: crate::operator_facility(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    println!(
        "  the same request retried: case {} at sequence {} (nothing appended)",
        retry.case_id, retry.log_sequence
    );
    client
        .record_preliminary_check(operator(api::RecordPreliminaryCheckRequest {
            request_id: request_id(),
            case_id: case_id.clone(),
            suspected: vec![api::SuspectedCategory {
                category: "GBV".to_owned(),
                indicators: vec!["disclosure_to_staff".to_owned()],
                ..Default::default()
            }],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(arrived + time::Duration::hours(6)),
            ..Default::default()
        }))
        .await?;
    println!("  preliminary check: GBV suspected, urgency high");
    client
        .raise_vulnerability_signal(operator(api::RaiseVulnerabilitySignalRequest {
            request_id: request_id(),
            case_id: case_id.clone(),
            suspected: Some(api::SuspectedCategory {
                category: "TRAFFICKING".to_owned(),
                indicators: vec!["debt_bondage".to_owned()],
                ..Default::default()
            }),
            urgency: "immediate".to_owned(),
            raised_by_role: "cultural_mediator".to_owned(),
            raised_at: ts(now() - time::Duration::hours(20)),
            gbv_disclosure: false,
        }))
        .await?;
    println!("  signal by a cultural mediator: TRAFFICKING suspected, urgency immediate");
    let invalid = client
        .raise_vulnerability_signal(operator(api::RaiseVulnerabilitySignalRequest {
            request_id: request_id(),
            case_id: case_id.clone(),
            suspected: Some(api::SuspectedCategory {
                category: "NOT_A_CATEGORY".to_owned(),
                indicators: vec![],
                ..Default::default()
            }),
            urgency: "soon".to_owned(),
            raised_by_role: "operator".to_owned(),
            raised_at: ts(now() + time::Duration::days(1)),
            gbv_disclosure: false,
        }))
        .await;
    if let Err(status) = invalid {
        println!(
            "  an invalid signal is refused: {:?}: {}",
            status.code(),
            status.message()
        );
    }
    let assessed = client
        .record_assessment(operator(api::RecordAssessmentRequest {
            request_id: request_id(),
            case_id: case_id.clone(),
            outcomes: vec![
                api::CategoryOutcome {
                    category: "GBV".to_owned(),
                    status: "confirmed".to_owned(),
                    ..Default::default()
                },
                api::CategoryOutcome {
                    category: "TRAFFICKING".to_owned(),
                    status: "ruled_out".to_owned(),
                    ..Default::default()
                },
            ],
            special_reception_needs: true,
            special_procedural_guarantees: true,
            assessed_at: ts(now()),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    println!(
        "  assessment: GBV confirmed, TRAFFICKING ruled out (log sequence {})\n",
        assessed.log_sequence
    );
    print_case(&show(&mut client, &case_id, assessed.log_sequence).await?);
    println!("\n  history of the case, from the log:");
    print_history(&mut client, &case_id).await?;
    Ok(case_id)
}

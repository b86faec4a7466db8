//! `approdo org|consent|referral|inbox ...`: the referral service from the
//! command line, and the demo's referral of the screened case.

use access_token::OrganisationType;
use anyhow::{Context, Result};
use clap::Subcommand;
use contracts::referral::v1 as api;
use time::OffsetDateTime;
use tonic::transport::Channel;

use crate::connect;

type Client = api::referral_service_client::ReferralServiceClient<Channel>;
use api::update_referral_request as update;

#[derive(Subcommand)]
pub enum ReferralCommand {
    /// Registers a receiving organisation in the directory (as administrator).
    RegisterOrg {
        organisation_id: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',', default_value = "anti_violence_centre")]
        types: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "RM")]
        provinces: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "it")]
        languages: Vec<String>,
    },
    /// Suggests receiving organisations for a case, by the pathway rules.
    Suggest { case_id: String },
    /// Records the person's consent to refer the case to an organisation.
    Consent {
        case_id: String,
        #[arg(long)]
        to: String,
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "categories,urgency,communication"
        )]
        scopes: Vec<String>,
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Withdraws a consent: referrals relying on it not yet in care are
    /// revoked; those in care stay, and their receivers lose the dataset.
    Withdraw { case_id: String, consent_id: String },
    /// Records that the person refused to consent to refer the case to an organisation.
    Refuse {
        case_id: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "protection_and_support")]
        purpose: String,
    },
    /// Creates and sends a referral.
    Refer {
        case_id: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        consent: String,
        #[arg(long, default_value = "anti_violence_centre")]
        service_type: String,
        #[arg(long, value_delimiter = ',', default_value = "GBV")]
        categories: Vec<String>,
        /// The urgency the dataset shares (none unless given: the consent must
        /// cover the urgency scope to share it). The referral's deadlines follow
        /// the case's urgency either way.
        #[arg(long, default_value = "")]
        urgency: String,
    },
    /// Moves a referral: receive, accept, decline, take-charge, hold, resume, complete, cancel, fail.
    Update {
        case_id: String,
        referral_id: String,
        action: String,
        /// The organisation acting (the receiver for its states; default: the local reception operator).
        #[arg(long = "as")]
        acting_as: Option<String>,
        /// Decline, cancel (referrer_decision, duplicate, other) or failure
        /// (lost_contact, moved_away, other) reason, or completion outcome.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A case's referrals with their timelines.
    Show { case_id: String },
    /// The referrals addressed to an organisation.
    Inbox {
        #[arg(long = "as")]
        organisation: String,
    },
    /// Follows an organisation's inbox from a cursor, until Ctrl-C.
    Watch {
        #[arg(long = "as")]
        organisation: String,
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

fn as_org<T>(
    message: T,
    org_type: OrganisationType,
    organisation: &str,
    province: Option<&str>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let token = crate::token(org_type, organisation, &["operator"], province);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn operator<T>(message: T) -> tonic::Request<T> {
    as_org(
        message,
        OrganisationType::ReceptionOperator,
        &crate::operator_facility(),
        Some("AG"),
    )
}

fn receiver<T>(message: T, organisation: &str) -> tonic::Request<T> {
    as_org(
        message,
        OrganisationType::ReceivingService,
        organisation,
        None,
    )
}

fn administrator<T>(message: T) -> tonic::Request<T> {
    as_org(
        message,
        OrganisationType::Administrator,
        "local-admin",
        None,
    )
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(crate::timestamp(at))
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub async fn client(host: &str) -> Result<Client> {
    Ok(Client::new(connect(host, 50052).await?))
}

fn action(name: &str, reason: &str) -> Result<update::Action> {
    Ok(match name {
        "send" => update::Action::Send(update::Send {}),
        "receive" => update::Action::Receive(update::Receive {}),
        "accept" => update::Action::Accept(update::Accept {}),
        "decline" => update::Action::Decline(update::Decline {
            reason: reason.to_owned(),
            ..Default::default()
        }),
        "take-charge" => update::Action::TakeCharge(update::TakeCharge {}),
        "hold" => update::Action::Hold(update::Hold {}),
        "resume" => update::Action::Resume(update::Resume {}),
        "complete" => update::Action::Complete(update::Complete {
            outcome: reason.to_owned(),
        }),
        "cancel" => update::Action::Cancel(update::Cancel {
            reason: reason.to_owned(),
        }),
        "fail" => update::Action::MarkFailed(update::MarkFailed {
            reason: reason.to_owned(),
        }),
        other => anyhow::bail!("unknown action {other}"),
    })
}

pub async fn run(host: &str, command: ReferralCommand) -> Result<()> {
    let mut client = client(host).await?;
    match command {
        ReferralCommand::RegisterOrg {
            organisation_id,
            name,
            types,
            provinces,
            languages,
        } => {
            let answer = client
                .register_organisation(administrator(api::RegisterOrganisationRequest {
                    request_id: request_id(),
                    profile: Some(api::OrganisationProfile {
                        organisation_id,
                        name,
                        service_types: types,
                        provinces,
                        languages,
                        intake_channel: "approdo".to_owned(),
                        availability: "available".to_owned(),
                        active: true,
                        ..Default::default()
                    }),
                }))
                .await?
                .into_inner();
            println!(
                "organisation {} registered at log sequence {}",
                answer.organisation_id, answer.log_sequence
            );
        }
        ReferralCommand::Suggest { case_id } => {
            let answer = client
                .suggest_receivers(operator(api::SuggestReceiversRequest {
                    case_id,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            println!("pathway rules version {}", answer.rules_version);
            for s in answer.suggestions {
                let org = s.organisation.unwrap_or_default();
                println!(
                    "  {:<22} {:<24} because of {}",
                    s.service_type,
                    org.organisation_id,
                    s.because_of.join(", ")
                );
            }
        }
        ReferralCommand::Consent {
            case_id,
            to,
            scopes,
            days,
        } => {
            let answer = client
                .give_consent(operator(api::GiveConsentRequest {
                    request_id: request_id(),
                    case_id,
                    recipient: Some(api::Recipient {
                        recipient: Some(api::recipient::Recipient::OrganisationId(to)),
                    }),
                    basis: Some(api::give_consent_request::Basis::Consent(
                        api::ConsentBasis {
                            purpose: "protection_and_support".to_owned(),
                            scopes,
                            valid_until: ts(OffsetDateTime::now_utc() + time::Duration::days(days)),
                            grantor: "person".to_owned(),
                            ..Default::default()
                        },
                    )),
                    given_at: ts(OffsetDateTime::now_utc()),
                }))
                .await?
                .into_inner();
            println!(
                "consent {} recorded at log sequence {}",
                answer.consent_id, answer.log_sequence
            );
        }
        ReferralCommand::Withdraw {
            case_id,
            consent_id,
        } => {
            let answer = client
                .withdraw_consent(operator(api::WithdrawConsentRequest {
                    request_id: request_id(),
                    case_id,
                    consent_id,
                }))
                .await?
                .into_inner();
            println!(
                "consent withdrawn; revoked referrals: {:?}; data sharing ended for referrals in care: {:?}",
                answer.revoked_referral_ids, answer.sharing_ended_referral_ids
            );
        }
        ReferralCommand::Refuse {
            case_id,
            to,
            purpose,
        } => {
            let answer = client
                .refuse_consent(operator(api::RefuseConsentRequest {
                    request_id: request_id(),
                    case_id,
                    recipient: Some(api::Recipient {
                        recipient: Some(api::recipient::Recipient::OrganisationId(to)),
                    }),
                    purpose,
                    refused_at: ts(OffsetDateTime::now_utc()),
                }))
                .await?
                .into_inner();
            println!(
                "refusal {} recorded at log sequence {}",
                answer.consent_id, answer.log_sequence
            );
        }
        ReferralCommand::Refer {
            case_id,
            to,
            consent,
            service_type,
            categories,
            urgency,
        } => {
            let answer = client
                .create_referral(operator(api::CreateReferralRequest {
                    request_id: request_id(),
                    case_id,
                    receiver_organisation_id: to,
                    service_type,
                    consent_id: consent,
                    dataset: Some(api::MinimumDataset {
                        categories,
                        urgency,
                        ..Default::default()
                    }),
                    send: true,
                }))
                .await?
                .into_inner();
            println!(
                "referral {} {} at log sequence {}",
                answer.referral_id, answer.state, answer.log_sequence
            );
        }
        ReferralCommand::Update {
            case_id,
            referral_id,
            action: name,
            acting_as,
            reason,
        } => {
            let message = api::UpdateReferralRequest {
                request_id: request_id(),
                case_id,
                referral_id,
                action: Some(action(&name, &reason)?),
            };
            let request = match &acting_as {
                Some(organisation) => receiver(message, organisation),
                None => operator(message),
            };
            let answer = client.update_referral(request).await?.into_inner();
            println!(
                "referral {} is {} (log sequence {})",
                answer.referral_id, answer.state, answer.log_sequence
            );
        }
        ReferralCommand::Show { case_id } => show(&mut client, &case_id, 0).await?,
        ReferralCommand::Inbox { organisation } => {
            let inbox = client
                .list_inbox(receiver(api::ListInboxRequest::default(), &organisation))
                .await?
                .into_inner();
            for r in &inbox.referrals {
                print_referral(r);
            }
            println!(
                "{} referral(s); watch from cursor {}",
                inbox.referrals.len(),
                inbox.cursor
            );
        }
        ReferralCommand::Watch {
            organisation,
            after,
        } => {
            let mut stream = client
                .watch_inbox(receiver(
                    api::WatchInboxRequest {
                        after_cursor: after,
                    },
                    &organisation,
                ))
                .await?
                .into_inner();
            while let Some(change) = stream.message().await? {
                print!("cursor {:>12}  ", change.cursor);
                print_referral(&change.referral.context("no referral in change")?);
            }
        }
    }
    Ok(())
}

fn print_referral(r: &api::ReferralView) {
    let dataset = match (&r.dataset, r.dataset_access_revoked) {
        (_, true) => "(dataset no longer shared with the receiver)".to_owned(),
        (_, false) if r.personal_data_erased => {
            "(dataset erased with the person's data)".to_owned()
        }
        (Some(d), false) => format!("{} {}", d.categories.join(","), d.urgency),
        (None, false) => String::new(),
    };
    let urgency = if r.urgency.is_empty() {
        String::new()
    } else {
        format!("[{} {}] ", r.province, r.urgency)
    };
    println!(
        "{}  case {}  {} -> {}  {:<10} {urgency}{}",
        r.referral_id,
        r.case_id,
        r.referrer_organisation_id,
        r.receiver_organisation_id,
        r.state,
        dataset
    );
    let due = [
        ("acknowledge by", &r.acknowledge_by),
        ("answer by", &r.answer_by),
        ("take charge by", &r.take_charge_by),
    ]
    .into_iter()
    .filter_map(|(what, at)| {
        let at = at.as_ref()?;
        let at = OffsetDateTime::from_unix_timestamp(at.seconds).ok()?;
        Some(format!("{what} {at}"))
    })
    .collect::<Vec<_>>();
    if !due.is_empty() {
        println!("      deadlines: {}", due.join(", "));
    }
}

async fn show(client: &mut Client, case_id: &str, min: u64) -> Result<()> {
    let case = client
        .get_case_referrals(operator(api::GetCaseReferralsRequest {
            case_id: case_id.to_owned(),
            min_log_sequence: min,
        }))
        .await?
        .into_inner();
    for consent in &case.consents {
        let state = if consent.withdrawn_at.is_some() {
            "withdrawn"
        } else {
            "valid"
        };
        println!(
            "  {} {} ({state}) scopes {}",
            consent.kind,
            consent.consent_id,
            consent.scopes.join(",")
        );
    }
    for refusal in &case.refusals {
        println!("  refusal {}", refusal.consent_id);
    }
    for r in &case.referrals {
        print!("  ");
        print_referral(r);
        for t in &r.timeline {
            println!(
                "      #{:<6} {:<12} by {}",
                t.log_sequence, t.state, t.organisation_id
            );
        }
    }
    Ok(())
}

/// The demo's anti-violence centre.
const CENTRE: &str = "differenza-donna";

/// The demo: refer the screened case to an anti-violence centre, which
/// receives and accepts it. Returns the referral's id.
pub async fn journey(host: &str, case_id: &str) -> Result<String> {
    let mut client = client(host).await?;
    let registered = client
        .register_organisation(administrator(api::RegisterOrganisationRequest {
            request_id: format!("demo-register-{CENTRE}"),
            profile: Some(api::OrganisationProfile {
                organisation_id: CENTRE.to_owned(),
                name: "Differenza Donna (Roma)".to_owned(),
                service_types: vec!["anti_violence_centre".to_owned(), "shelter".to_owned()],
                provinces: vec!["RM".to_owned(), "AG".to_owned()],
                languages: vec!["it".to_owned(), "en".to_owned(), "fr".to_owned()],
                accessibility: vec!["female_staff_only".to_owned()],
                opening_hours: "helpline 1522 24/7".to_owned(),
                intake_channel: "approdo".to_owned(),
                availability: "available".to_owned(),
                active: true,
            }),
        }))
        .await;
    match registered {
        Ok(answer) => println!(
            "  directory: {CENTRE} registered (log sequence {})",
            answer.into_inner().log_sequence
        ),
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            println!("  directory: {CENTRE} already registered")
        }
        Err(status) => return Err(status.into()),
    }
    let suggested = client
        .suggest_receivers(operator(api::SuggestReceiversRequest {
            case_id: case_id.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            language: "fr".to_owned(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    let first = suggested
        .suggestions
        .first()
        .and_then(|s| s.organisation.clone())
        .context("no suggestion")?;
    println!(
        "  pathway rules v{} suggest {} for GBV",
        suggested.rules_version, first.organisation_id
    );
    let consent = client
        .give_consent(operator(api::GiveConsentRequest {
            request_id: request_id(),
            case_id: case_id.to_owned(),
            recipient: Some(api::Recipient {
                recipient: Some(api::recipient::Recipient::OrganisationId(CENTRE.to_owned())),
            }),
            basis: Some(api::give_consent_request::Basis::Consent(
                api::ConsentBasis {
                    purpose: "protection_and_support".to_owned(),
                    scopes: vec![
                        "categories".to_owned(),
                        "urgency".to_owned(),
                        "communication".to_owned(),
                    ],
                    valid_until: ts(OffsetDateTime::now_utc() + time::Duration::days(90)),
                    grantor: "person".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: ts(OffsetDateTime::now_utc()),
        }))
        .await?
        .into_inner();
    println!(
        "  informed consent to refer to {CENTRE}: categories, urgency, communication for 90 days"
    );
    let referral = client
        .create_referral(operator(api::CreateReferralRequest {
            request_id: request_id(),
            case_id: case_id.to_owned(),
            receiver_organisation_id: CENTRE.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id: consent.consent_id.clone(),
            dataset: Some(api::MinimumDataset {
                categories: vec!["GBV".to_owned()],
                urgency: "high".to_owned(),
                languages: vec!["fr".to_owned()],
                ..Default::default()
            }),
            send: true,
        }))
        .await?
        .into_inner();
    println!(
        "  referral {} sent (its deadlines follow the case's urgency, not the dataset's)",
        referral.referral_id
    );
    let inbox = client
        .list_inbox(receiver(
            api::ListInboxRequest {
                min_log_sequence: referral.log_sequence,
                ..Default::default()
            },
            CENTRE,
        ))
        .await?
        .into_inner();
    println!(
        "  {CENTRE}'s inbox holds {} referral(s)",
        inbox.referrals.len()
    );
    moves(
        &mut client,
        case_id,
        &referral.referral_id,
        &[("receive", ""), ("accept", "")],
    )
    .await?;
    Ok(referral.referral_id)
}

/// The demo's referral, after the place in a shelter: the centre takes
/// charge and completes it.
pub async fn completion(host: &str, case_id: &str, referral_id: &str) -> Result<()> {
    let mut client = client(host).await?;
    let last = moves(
        &mut client,
        case_id,
        referral_id,
        &[("take-charge", ""), ("complete", "goals_met")],
    )
    .await?;
    println!("\n  the case's referrals, as the referrer sees them:");
    show(&mut client, case_id, last).await
}

/// The demo's centre moves the referral through `steps`; the last log sequence.
async fn moves(
    client: &mut Client,
    case_id: &str,
    referral_id: &str,
    steps: &[(&str, &str)],
) -> Result<u64> {
    let mut last = 0;
    for (name, reason) in steps {
        let answer = client
            .update_referral(receiver(
                api::UpdateReferralRequest {
                    request_id: request_id(),
                    case_id: case_id.to_owned(),
                    referral_id: referral_id.to_owned(),
                    action: Some(action(name, reason)?),
                },
                CENTRE,
            ))
            .await?
            .into_inner();
        last = answer.log_sequence;
        println!("  {CENTRE}: {name} -> {}", answer.state);
    }
    Ok(last)
}

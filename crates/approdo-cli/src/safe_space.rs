//! `approdo space ...`: the safe-space service from the command line (the
//! registry of safe spaces, requests for a place, arrivals, releases, the
//! queries), and the demo's place in a shelter for the referred case.

use access_token::OrganisationType;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use contracts::safe_space::v1 as api;
use time::OffsetDateTime;
use tonic::transport::Channel;

use crate::connect;

type Client = api::safe_space_service_client::SafeSpaceServiceClient<Channel>;

/// The safe-space service's port (deploy/local/safe-space.toml).
const PORT: u16 = 50053;

/// Who calls: an organisation of a type, or the command's default caller.
#[derive(Args, Clone, Default)]
pub struct Acting {
    /// The organisation acting (its id in the directory), e.g. a space's managing organisation.
    #[arg(long = "as")]
    organisation: Option<String>,
    /// Its type: receiving_service, reception_operator, prefecture, administrator, analyst.
    #[arg(long, default_value = "receiving_service")]
    org_type: String,
}

/// The allocator of a province and kind.
#[derive(Args, Clone)]
pub struct AllocatorArgs {
    /// Province code of the allocator (APPRODO_PROVINCE's default: AG).
    #[arg(long, default_value = "AG")]
    province: String,
    /// women_only_area, women_only_room, gbv_shelter, trafficking_shelter, unaccompanied_minors, accessible
    #[arg(long, default_value = "gbv_shelter")]
    kind: String,
}

impl AllocatorArgs {
    fn wire(&self) -> Option<api::AllocatorRef> {
        Some(api::AllocatorRef {
            province: self.province.clone(),
            kind: self.kind.clone(),
        })
    }
}

#[derive(Subcommand)]
pub enum SpaceCommand {
    /// Registers a safe space (as administrator, or --as its managing organisation):
    /// no name, no address; the answer is its opaque public id.
    Register {
        /// women_only_area, women_only_room, gbv_shelter, trafficking_shelter, unaccompanied_minors, accessible
        #[arg(long)]
        kind: String,
        /// The managing organisation (a directory organisation id).
        #[arg(long)]
        managed_by: String,
        #[arg(long, default_value = "AG")]
        province: String,
        #[arg(long, default_value_t = 0)]
        beds: u32,
        #[arg(long, default_value_t = 0)]
        family_rooms: u32,
        /// Sexes admitted (female, male); none for any.
        #[arg(long, value_delimiter = ',')]
        sexes: Vec<String>,
        /// Age bands admitted (0-5, 6-13, 14-15, 16-17, 18+); none for any.
        #[arg(long, value_delimiter = ',')]
        age_bands: Vec<String>,
        /// Admits a parent with children (in family rooms).
        #[arg(long)]
        families: bool,
        /// The space is accessible.
        #[arg(long)]
        accessible: bool,
        /// ISO 639 codes of the languages the staff speak.
        #[arg(long, value_delimiter = ',')]
        languages: Vec<String>,
        /// How many persons one family room holds (parent and children); 0: unsized.
        #[arg(long, default_value_t = 0)]
        family_room_persons: u32,
        /// The space's real name: sealed with the space's key, never in the log in clear.
        #[arg(long, default_value = "")]
        name: String,
        /// The space's address: sealed like the name; disclosed only to entitled callers, on record.
        #[arg(long, default_value = "")]
        address: String,
        /// Request id (a retry with the same id registers nothing new); default: a new one.
        #[arg(long)]
        request_id: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Changes a space's capacity (never below what is reserved and occupied).
    Capacity {
        space_id: String,
        #[arg(long, default_value_t = 0)]
        beds: u32,
        #[arg(long, default_value_t = 0)]
        family_rooms: u32,
        #[command(flatten)]
        acting: Acting,
    },
    /// Closes a space: no new reservations; reservations not taken up look for another space or wait again.
    Close {
        space_id: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Asks a place for a case, as the local reception operator (APPRODO_FACILITY);
    /// urgency, sex and age band come from the case's facts.
    Request {
        case_id: String,
        #[command(flatten)]
        allocator: AllocatorArgs,
        /// Number of children with the person (a family room).
        #[arg(long, default_value_t = 0)]
        children: u32,
        /// The person needs an accessible place.
        #[arg(long)]
        accessibility: bool,
        /// ISO 639 codes of the person's languages (a better fit).
        #[arg(long, value_delimiter = ',')]
        languages: Vec<String>,
        /// Provinces the person may go to (the allocator's province among them).
        #[arg(long, value_delimiter = ',')]
        preferred_provinces: Vec<String>,
        /// The accepted referral the request is linked to.
        #[arg(long, default_value = "")]
        referral: String,
        /// Spaces the person must avoid for safety (opaque ids): sealed, never in the log in clear.
        #[arg(long, value_delimiter = ',')]
        avoid_spaces: Vec<String>,
        /// Managing organisations the person must avoid for safety: sealed like the spaces.
        #[arg(long, value_delimiter = ',')]
        avoid_organisations: Vec<String>,
    },
    /// Chooses another proposed space for a case holding a reservation, as the requester
    /// (the local reception operator) or (--as) whoever answers for the case where it is now.
    Reserve {
        case_id: String,
        #[command(flatten)]
        allocator: AllocatorArgs,
        /// The space chosen (one of the proposals).
        #[arg(long)]
        space: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Where a case waits: its position on each waiting list (as the local reception operator, or --as).
    Position {
        case_id: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Follows the free places of a province's spaces as they change (as administrator, or --as
    /// a prefecture of the province or a managing organisation for its own spaces); --resume
    /// with the last token printed misses nothing and repeats nothing.
    Watch {
        #[arg(long, default_value = "AG")]
        province: String,
        #[arg(long, default_value_t = 0)]
        resume: u64,
        #[command(flatten)]
        acting: Acting,
    },
    /// Withdraws a case's request waiting or reserved, as the requester (the local reception operator).
    Cancel {
        case_id: String,
        #[command(flatten)]
        allocator: AllocatorArgs,
    },
    /// Confirms the person arrived, as the space's managing organisation (--as).
    Arrive {
        case_id: String,
        #[command(flatten)]
        allocator: AllocatorArgs,
        #[command(flatten)]
        acting: Acting,
    },
    /// Ends a case's place (discharge or transfer), as the requester or (--as) the space's manager.
    Release {
        case_id: String,
        #[command(flatten)]
        allocator: AllocatorArgs,
        /// discharge or transfer
        #[arg(long, default_value = "discharge")]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Discloses a space's name and address for a case that holds a place there, to the
    /// space's manager, the receiver of an accepted referral or the case's reception operator;
    /// the disclosure is recorded before the answer.
    Disclose {
        case_id: String,
        #[arg(long)]
        space: String,
        /// transfer, arrival, safety, care
        #[arg(long, default_value = "arrival")]
        purpose: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// A case's requests, reservations and places (as the local reception operator, or --as).
    Show {
        case_id: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Occupancy and free places of each space of a province and kind (as administrator, or --as).
    Occupancy {
        #[command(flatten)]
        allocator: AllocatorArgs,
        #[command(flatten)]
        acting: Acting,
    },
    /// The waiting list of a province and kind, first served first (as administrator, or --as a prefecture).
    Waiting {
        #[command(flatten)]
        allocator: AllocatorArgs,
        #[command(flatten)]
        acting: Acting,
    },
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `message` with a token of `organisation` of type `org_type`; the
/// province (APPRODO_PROVINCE, default AG) for the types limited by province.
fn as_org<T>(message: T, org_type: OrganisationType, organisation: &str) -> tonic::Request<T> {
    let province = std::env::var("APPRODO_PROVINCE").unwrap_or_else(|_| "AG".to_owned());
    let province = matches!(
        org_type,
        OrganisationType::ReceptionOperator | OrganisationType::Prefecture
    )
    .then_some(province.as_str());
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
    )
}

fn administrator<T>(message: T) -> tonic::Request<T> {
    as_org(message, OrganisationType::Administrator, "local-admin")
}

fn manager<T>(message: T, organisation: &str) -> tonic::Request<T> {
    as_org(message, OrganisationType::ReceivingService, organisation)
}

impl Acting {
    /// The request as `--as`, or as `default` without it.
    fn request<T>(
        &self,
        message: T,
        default: fn(T) -> tonic::Request<T>,
    ) -> Result<tonic::Request<T>> {
        let Some(organisation) = &self.organisation else {
            return Ok(default(message));
        };
        let org_type = OrganisationType::from_code(&self.org_type)
            .with_context(|| format!("unknown organisation type {}", self.org_type))?;
        Ok(as_org(message, org_type, organisation))
    }
}

pub async fn client(host: &str) -> Result<Client> {
    Ok(Client::new(connect(host, PORT).await?))
}

fn capacity(beds: u32, family_rooms: u32) -> Option<api::Capacity> {
    Some(api::Capacity { beds, family_rooms })
}

fn at(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.seconds).ok())
        .map_or_else(|| "-".to_owned(), |t| t.to_string())
}

fn units(capacity: Option<&api::Capacity>) -> String {
    let c = capacity.cloned().unwrap_or_default();
    format!("{} bed(s), {} family room(s)", c.beds, c.family_rooms)
}

pub async fn run(host: &str, command: SpaceCommand) -> Result<()> {
    let mut client = client(host).await?;
    match command {
        SpaceCommand::Register {
            kind,
            managed_by,
            province,
            beds,
            family_rooms,
            sexes,
            age_bands,
            families,
            accessible,
            languages,
            family_room_persons,
            name,
            address,
            request_id: id,
            acting,
        } => {
            let message = api::RegisterSafeSpaceRequest {
                request_id: id.unwrap_or_else(request_id),
                name,
                address,
                profile: Some(api::SpaceProfile {
                    kind,
                    organisation_id: managed_by,
                    province,
                    capacity: capacity(beds, family_rooms),
                    eligibility: Some(api::Eligibility {
                        sexes,
                        age_bands,
                        families_with_children: families,
                        accessible,
                        languages,
                        family_room_persons,
                    }),
                }),
            };
            let answer = client
                .register_safe_space(acting.request(message, administrator)?)
                .await?
                .into_inner();
            println!(
                "space {} registered at log sequence {}",
                answer.space_id, answer.log_sequence
            );
        }
        SpaceCommand::Capacity {
            space_id,
            beds,
            family_rooms,
            acting,
        } => {
            let message = api::ChangeSafeSpaceCapacityRequest {
                request_id: request_id(),
                space_id: space_id.clone(),
                capacity: capacity(beds, family_rooms),
            };
            let answer = client
                .change_safe_space_capacity(acting.request(message, administrator)?)
                .await?
                .into_inner();
            println!(
                "space {space_id}: capacity {} (log sequence {})",
                units(capacity(beds, family_rooms).as_ref()),
                answer.log_sequence
            );
        }
        SpaceCommand::Close { space_id, acting } => {
            let message = api::CloseSafeSpaceRequest {
                request_id: request_id(),
                space_id: space_id.clone(),
            };
            let answer = client
                .close_safe_space(acting.request(message, administrator)?)
                .await?
                .into_inner();
            println!(
                "space {space_id} closed (log sequence {})",
                answer.log_sequence
            );
        }
        SpaceCommand::Request {
            case_id,
            allocator,
            children,
            accessibility,
            languages,
            preferred_provinces,
            referral,
            avoid_spaces,
            avoid_organisations,
        } => {
            let answer = client
                .request_place(operator(api::RequestPlaceRequest {
                    request_id: request_id(),
                    case_id,
                    allocator: allocator.wire(),
                    needs: Some(api::Needs {
                        children,
                        accessibility,
                        languages,
                        preferred_provinces,
                    }),
                    referral_id: referral,
                    avoid_space_ids: avoid_spaces,
                    avoid_organisation_ids: avoid_organisations,
                }))
                .await?
                .into_inner();
            print_request(&answer);
        }
        SpaceCommand::Reserve {
            case_id,
            allocator,
            space,
            acting,
        } => {
            let message = api::ReserveRequest {
                request_id: request_id(),
                case_id: case_id.clone(),
                allocator: allocator.wire(),
                space_id: space,
            };
            let answer = client
                .reserve(acting.request(message, operator)?)
                .await?
                .into_inner();
            println!(
                "case {case_id}: reserved in space {} until {} ({}, log sequence {})",
                answer.space_id,
                at(answer.held_until.as_ref()),
                answer.reason,
                answer.log_sequence
            );
        }
        SpaceCommand::Position { case_id, acting } => {
            let message = api::GetWaitingPositionRequest {
                case_id: case_id.clone(),
            };
            let answer = client
                .get_waiting_position(acting.request(message, operator)?)
                .await?
                .into_inner();
            for position in &answer.positions {
                let allocator = position.allocator.clone().unwrap_or_default();
                println!(
                    "  {} {}: position {} of {} (urgency {}, asked {})",
                    allocator.province,
                    allocator.kind,
                    position.position,
                    position.waiting,
                    if position.urgency.is_empty() {
                        "-"
                    } else {
                        &position.urgency
                    },
                    at(position.waiting_since.as_ref())
                );
            }
            println!("case {case_id} waits on {} list(s)", answer.positions.len());
        }
        SpaceCommand::Watch {
            province,
            resume,
            acting,
        } => {
            let message = api::WatchAvailabilityRequest {
                province,
                resume_token: resume,
            };
            let mut stream = client
                .watch_availability(acting.request(message, administrator)?)
                .await?
                .into_inner();
            while let Some(change) = stream.message().await? {
                print_availability(&change);
            }
        }
        SpaceCommand::Cancel { case_id, allocator } => {
            let answer = client
                .cancel_place_request(operator(api::CancelPlaceRequestRequest {
                    request_id: request_id(),
                    case_id: case_id.clone(),
                    allocator: allocator.wire(),
                }))
                .await?
                .into_inner();
            println!(
                "request of case {case_id} cancelled (log sequence {})",
                answer.log_sequence
            );
        }
        SpaceCommand::Arrive {
            case_id,
            allocator,
            acting,
        } => {
            let message = api::ConfirmArrivalRequest {
                request_id: request_id(),
                case_id: case_id.clone(),
                allocator: allocator.wire(),
            };
            let answer = client
                .confirm_arrival(acting.request(message, operator)?)
                .await?
                .into_inner();
            println!(
                "case {case_id}: arrival confirmed (log sequence {})",
                answer.log_sequence
            );
        }
        SpaceCommand::Release {
            case_id,
            allocator,
            reason,
            acting,
        } => {
            let message = api::ReleasePlaceRequest {
                request_id: request_id(),
                case_id: case_id.clone(),
                allocator: allocator.wire(),
                reason: reason.clone(),
            };
            let answer = client
                .release_place(acting.request(message, operator)?)
                .await?
                .into_inner();
            println!(
                "case {case_id}: place released ({reason}, log sequence {})",
                answer.log_sequence
            );
        }
        SpaceCommand::Disclose {
            case_id,
            space,
            purpose,
            acting,
        } => {
            let message = api::DiscloseLocationRequest {
                request_id: request_id(),
                case_id,
                space_id: space,
                purpose,
            };
            let answer = client
                .disclose_location(acting.request(message, operator)?)
                .await?
                .into_inner();
            println!(
                "{}: {}, {} (disclosure recorded at log sequence {})",
                answer.space_id, answer.name, answer.address, answer.log_sequence
            );
        }
        SpaceCommand::Show { case_id, acting } => {
            let message = api::GetCasePlacesRequest {
                case_id: case_id.clone(),
            };
            let answer = client
                .get_case_places(acting.request(message, operator)?)
                .await?
                .into_inner();
            for place in &answer.places {
                print_place(place);
            }
            println!("{} request(s) for case {case_id}", answer.places.len());
        }
        SpaceCommand::Occupancy { allocator, acting } => {
            let message = api::ListOccupancyRequest {
                allocator: allocator.wire(),
            };
            let answer = client
                .list_occupancy(acting.request(message, administrator)?)
                .await?
                .into_inner();
            print_occupancy(&answer.spaces);
        }
        SpaceCommand::Waiting { allocator, acting } => {
            let message = api::GetWaitingListRequest {
                allocator: allocator.wire(),
            };
            let answer = client
                .get_waiting_list(acting.request(message, administrator)?)
                .await?
                .into_inner();
            for place in &answer.waiting {
                print_place(place);
            }
            println!(
                "{} waiting in {} {}",
                answer.waiting.len(),
                allocator.province,
                allocator.kind
            );
        }
    }
    Ok(())
}

fn print_request(answer: &api::RequestPlaceResponse) {
    match answer.standing.as_str() {
        "waiting" => println!(
            "waiting, position {} (log sequence {})",
            answer.position, answer.log_sequence
        ),
        standing => println!(
            "{standing} in space {} until {} ({}, log sequence {})",
            answer.space_id,
            at(answer.held_until.as_ref()),
            answer.reason,
            answer.log_sequence
        ),
    }
    if !answer.proposals.is_empty() {
        println!(
            "  proposals, best fit first: {}",
            answer.proposals.join(", ")
        );
    }
}

fn print_availability(change: &api::WatchAvailabilityResponse) {
    let what = if change.snapshot {
        "snapshot"
    } else {
        "change"
    };
    println!("{what} (resume token {})", change.resume_token);
    for space in &change.spaces {
        println!(
            "  {} {} of {}: {} free of {}{}",
            space.space_id,
            space.kind,
            space.organisation_id,
            units(space.free.as_ref()),
            units(space.capacity.as_ref()),
            if space.closed { " (closed)" } else { "" }
        );
    }
}

fn print_place(place: &api::CasePlace) {
    let allocator = place.allocator.clone().unwrap_or_default();
    let urgency = if place.urgency.is_empty() {
        "-"
    } else {
        &place.urgency
    };
    let standing = match place.standing.as_str() {
        "waiting" => format!("waiting, position {}", place.position),
        "reserved" => format!(
            "reserved {} in space {} until {}",
            place.unit,
            place.space_id,
            at(place.held_until.as_ref())
        ),
        other => format!("{other} {} in space {}", place.unit, place.space_id),
    };
    println!(
        "  case {}  {} {}  {standing}  urgency {urgency}  asked {}",
        place.case_id,
        allocator.province,
        allocator.kind,
        at(place.waiting_since.as_ref())
    );
}

fn print_occupancy(spaces: &[api::SpaceOccupancy]) {
    for space in spaces {
        println!(
            "  space {}  managed by {}{}",
            space.space_id,
            space.organisation_id,
            if space.closed { "  CLOSED" } else { "" }
        );
        println!(
            "      capacity {}; reserved {}; occupied {}; free {}",
            units(space.capacity.as_ref()),
            units(space.reserved.as_ref()),
            units(space.occupied.as_ref()),
            units(space.free.as_ref())
        );
    }
    if spaces.is_empty() {
        println!("  no spaces");
    }
}

/// The shelter of the demo, managed by the anti-violence centre the case was referred to.
const SHELTER_MANAGER: &str = "differenza-donna";

fn demo_allocator(province: &str) -> Option<api::AllocatorRef> {
    Some(api::AllocatorRef {
        province: province.to_owned(),
        kind: "gbv_shelter".to_owned(),
    })
}

/// The demo: a GBV shelter in the case's province is registered, the
/// operator asks a place linked to the accepted referral, the place is held,
/// the shelter confirms the arrival. Returns the shelter's space id.
pub async fn journey(
    host: &str,
    case_id: &str,
    province: &str,
    referral_id: &str,
) -> Result<String> {
    let mut client = client(host).await?;
    let registered = client
        .register_safe_space(administrator(api::RegisterSafeSpaceRequest {
            // One shelter however often the demo runs: a retry answers from the log.
            request_id: format!("demo-shelter-{SHELTER_MANAGER}-{province}"),
            // Fictional, sealed with the space's key: never in the log in clear.
            name: "Casa rifugio dimostrativa".to_owned(),
            address: "Via Immaginaria 1, Agrigento".to_owned(),
            profile: Some(api::SpaceProfile {
                kind: "gbv_shelter".to_owned(),
                organisation_id: SHELTER_MANAGER.to_owned(),
                province: province.to_owned(),
                capacity: capacity(4, 1),
                eligibility: Some(api::Eligibility {
                    sexes: vec!["female".to_owned()],
                    families_with_children: true,
                    languages: vec!["it".to_owned(), "en".to_owned(), "fr".to_owned()],
                    ..Default::default()
                }),
            }),
        }))
        .await?
        .into_inner();
    let space = registered.space_id;
    println!(
        "  an administrator registers a GBV shelter in {province} managed by {SHELTER_MANAGER}: space {space}"
    );
    println!(
        "  (log sequence {}; no name, no address in the log)",
        registered.log_sequence
    );
    let requested = client
        .request_place(operator(api::RequestPlaceRequest {
            request_id: request_id(),
            case_id: case_id.to_owned(),
            allocator: demo_allocator(province),
            needs: Some(api::Needs {
                languages: vec!["fr".to_owned()],
                preferred_provinces: vec![province.to_owned()],
                ..Default::default()
            }),
            referral_id: referral_id.to_owned(),
            ..Default::default()
        }))
        .await?
        .into_inner();
    println!("  the operator asks a place for the case, linked to referral {referral_id}:");
    match requested.standing.as_str() {
        "reserved" => println!(
            "  reserved in space {} because a place was free when asked (place_free); held until {}",
            requested.space_id,
            at(requested.held_until.as_ref())
        ),
        _ => print_request(&requested),
    }
    let places = client
        .get_case_places(operator(api::GetCasePlacesRequest {
            case_id: case_id.to_owned(),
        }))
        .await?
        .into_inner();
    if let Some(place) = places.places.first() {
        println!(
            "  from the case's facts, not the request: urgency {}",
            if place.urgency.is_empty() {
                "-"
            } else {
                &place.urgency
            }
        );
    }
    // The operator needs the address to take her there: disclosed because the
    // case holds a place in the space, and recorded before the answer.
    let disclosed = client
        .disclose_location(operator(api::DiscloseLocationRequest {
            request_id: request_id(),
            case_id: case_id.to_owned(),
            space_id: space.clone(),
            purpose: "transfer".to_owned(),
        }))
        .await?
        .into_inner();
    println!(
        "  the shelter's address, disclosed to the operator for the transfer and recorded first (log sequence {}): {}",
        disclosed.log_sequence, disclosed.address
    );
    let arrived = client
        .confirm_arrival(manager(
            api::ConfirmArrivalRequest {
                request_id: request_id(),
                case_id: case_id.to_owned(),
                allocator: demo_allocator(province),
            },
            SHELTER_MANAGER,
        ))
        .await?
        .into_inner();
    println!(
        "  {SHELTER_MANAGER} confirms the arrival (log sequence {})",
        arrived.log_sequence
    );
    let places = client
        .get_case_places(operator(api::GetCasePlacesRequest {
            case_id: case_id.to_owned(),
        }))
        .await?
        .into_inner();
    println!("  the case's places:");
    for place in &places.places {
        print!("  ");
        print_place(place);
    }
    println!("  occupancy of the {province} GBV shelters:");
    print_occupancy(&occupancy(&mut client, province).await?);
    Ok(space)
}

async fn occupancy(client: &mut Client, province: &str) -> Result<Vec<api::SpaceOccupancy>> {
    Ok(client
        .list_occupancy(administrator(api::ListOccupancyRequest {
            allocator: demo_allocator(province),
        }))
        .await?
        .into_inner()
        .spaces)
}

/// After the erasure: the deadline watcher releases the place by itself on
/// its next check. Looks for a few seconds, and says what it saw.
pub async fn after_erasure(host: &str, province: &str, space: &str) -> Result<()> {
    let mut client = client(host).await?;
    let started = std::time::Instant::now();
    loop {
        let spaces = occupancy(&mut client, province).await?;
        let held = spaces
            .iter()
            .find(|s| s.space_id == space)
            .map(|s| {
                let (reserved, occupied) = (
                    s.reserved.unwrap_or_default(),
                    s.occupied.unwrap_or_default(),
                );
                reserved.beds + reserved.family_rooms + occupied.beds + occupied.family_rooms
            })
            .unwrap_or_default();
        if held == 0 {
            println!(
                "  the deadline watcher released the shelter's place by itself (reason: erased):"
            );
            print_occupancy(&spaces);
            return Ok(());
        }
        if started.elapsed() > std::time::Duration::from_secs(5) {
            println!(
                "  the shelter's place is not released yet: the deadline watcher releases it on its next check (every 30 s by default; `approdo space occupancy`)"
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: SpaceCommand,
    }

    #[test]
    fn a_request_names_its_allocator_and_needs() {
        let cli = Cli::try_parse_from([
            "space",
            "request",
            "case-1",
            "--province",
            "RM",
            "--kind",
            "women_only_room",
            "--children",
            "2",
            "--accessibility",
            "--preferred-provinces",
            "RM,AG",
            "--referral",
            "r-1",
        ])
        .expect("parses");
        let SpaceCommand::Request {
            case_id,
            allocator,
            children,
            accessibility,
            preferred_provinces,
            referral,
            ..
        } = cli.command
        else {
            panic!("not a request");
        };
        assert_eq!(case_id, "case-1");
        assert_eq!(
            allocator.wire(),
            Some(api::AllocatorRef {
                province: "RM".to_owned(),
                kind: "women_only_room".to_owned()
            })
        );
        assert_eq!(
            (children, accessibility, referral.as_str()),
            (2, true, "r-1")
        );
        assert_eq!(preferred_provinces, ["RM", "AG"]);
    }

    #[test]
    fn a_reservation_names_its_space_and_a_watch_its_resume_token() {
        let cli = Cli::try_parse_from([
            "space",
            "reserve",
            "case-1",
            "--space",
            "space-b",
            "--kind",
            "gbv_shelter",
        ])
        .expect("parses");
        let SpaceCommand::Reserve { space, .. } = cli.command else {
            panic!("not a reservation");
        };
        assert_eq!(space, "space-b");
        let cli = Cli::try_parse_from(["space", "watch", "--province", "RM", "--resume", "42"])
            .expect("parses");
        let SpaceCommand::Watch {
            province, resume, ..
        } = cli.command
        else {
            panic!("not a watch");
        };
        assert_eq!((province.as_str(), resume), ("RM", 42));
        let cli = Cli::try_parse_from([
            "space",
            "request",
            "case-1",
            "--avoid-spaces",
            "s-1,s-2",
            "--avoid-organisations",
            "org-1",
        ])
        .expect("parses");
        let SpaceCommand::Request {
            avoid_spaces,
            avoid_organisations,
            ..
        } = cli.command
        else {
            panic!("not a request");
        };
        assert_eq!((avoid_spaces.len(), avoid_organisations.len()), (2, 1));
    }

    #[test]
    fn acting_as_an_organisation_needs_a_known_type() {
        let acting = Acting {
            organisation: Some("shelter-org".to_owned()),
            org_type: "not_a_type".to_owned(),
        };
        let refused = acting
            .request((), operator)
            .map(|_| ())
            .expect_err("an unknown type is refused");
        assert_eq!(refused.to_string(), "unknown organisation type not_a_type");
    }

    #[test]
    fn occupancy_counts_print_by_unit() {
        assert_eq!(units(capacity(3, 1).as_ref()), "3 bed(s), 1 family room(s)");
        assert_eq!(units(None), "0 bed(s), 0 family room(s)");
    }
}

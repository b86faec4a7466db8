//! Runs a [`Landing`] against the running services over gRPC, step by step
//! in time order, as the organisations of the pathway would: the hotspot's
//! and the centres' operators, the receivers, the juvenile court. Request ids
//! are the planning rules' version, the landing's seed and the step's place in the plan, so running the
//! same landing again against the same log appends nothing.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use contracts::person::v1 as person;
use contracts::referral::v1 as referral;
use contracts::safe_space::v1 as safe_space;
use contracts::screening::v1 as screening;
use futures::future::BoxFuture;
use time::{Duration, OffsetDateTime};
use tonic::transport::Channel;

use crate::plan::{Action, Landing, Person, Step, Suspicion};
use crate::registry::{self, FACILITIES, RECEIVERS, Receiver, SAFE_SPACES};

/// Who makes a call: the driver asks [`Credentials`] for their token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    Administrator,
    /// The reception operator of a facility (its organisation id is the facility's).
    Operator {
        facility: &'a str,
        province: &'a str,
    },
    /// A receiving organisation of the directory.
    Receiver {
        organisation: &'a str,
    },
}

/// Bearer tokens for the landing's actors (the CLI signs them with the local
/// issuer; the tests with theirs).
pub trait Credentials: Send + Sync {
    fn token(&self, actor: Actor<'_>) -> String;
}

/// How time passes during a run.
pub trait Pace: Send + Sync {
    /// The landing's hour zero: a step's times are the origin plus its offset.
    fn origin(&self) -> OffsetDateTime;
    /// Lets time reach `origin + at` before a step runs: a test moves its
    /// clock there (and waits for the services' watchers); a run in real time
    /// does nothing, with an origin far enough in the past.
    fn reach(&self, at: Duration) -> BoxFuture<'_, ()>;
}

/// A run in real time: the landing happened `span` ago, every step time is
/// in the past, and the services' own clocks say "now" for what they time.
#[derive(Debug, Clone, Copy)]
pub struct RealTime {
    pub origin: OffsetDateTime,
}

impl RealTime {
    pub fn ending_now(landing: &Landing) -> RealTime {
        RealTime {
            origin: OffsetDateTime::now_utc() - landing.span() - Duration::minutes(1),
        }
    }
}

impl Pace for RealTime {
    fn origin(&self) -> OffsetDateTime {
        self.origin
    }

    fn reach(&self, _: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The services a landing talks to.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub screening: Channel,
    pub referral: Channel,
    pub safe_space: Channel,
}

/// What a run did, counted by what happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Each person's case id, by the person's index.
    pub cases: BTreeMap<u32, String>,
    /// Steps done, by kind (`open`, `accept`, `place_reserved`, ...).
    pub done: BTreeMap<&'static str, u32>,
    /// The highest log sequence any answer named.
    pub last_sequence: u64,
}

impl Report {
    fn count(&mut self, what: &'static str, sequence: u64) {
        *self.done.entry(what).or_default() += 1;
        self.last_sequence = self.last_sequence.max(sequence);
    }
}

/// Registers what the landing needs (facilities, directory organisations,
/// safe spaces); already registered is fine. The safe spaces' public ids, by
/// their key in [`SAFE_SPACES`].
pub async fn register(
    endpoints: &Endpoints,
    credentials: &dyn Credentials,
) -> Result<BTreeMap<&'static str, String>> {
    let mut screening_client = screening::screening_service_client::ScreeningServiceClient::new(
        endpoints.screening.clone(),
    );
    for facility in FACILITIES {
        let answer = screening_client
            .register_facility(request(
                credentials,
                Actor::Administrator,
                screening::RegisterFacilityRequest {
                    request_id: format!("landing-facility-{}", facility.facility_id),
                    facility_id: facility.facility_id.to_owned(),
                    province: facility.province.to_owned(),
                    facility_kind: facility.kind.to_owned(),
                },
            ))
            .await;
        tolerate_registered(answer.map(drop))
            .with_context(|| format!("facility {}", facility.facility_id))?;
    }
    let mut referral_client =
        referral::referral_service_client::ReferralServiceClient::new(endpoints.referral.clone());
    for receiver in RECEIVERS {
        let answer = referral_client
            .register_organisation(request(
                credentials,
                Actor::Administrator,
                referral::RegisterOrganisationRequest {
                    request_id: format!("landing-directory-{}", receiver.organisation_id),
                    profile: Some(referral::OrganisationProfile {
                        organisation_id: receiver.organisation_id.to_owned(),
                        name: receiver.name.to_owned(),
                        service_types: strings(receiver.service_types),
                        provinces: strings(receiver.provinces),
                        languages: strings(&["it", "en", "fr", "ar"]),
                        accessibility: Vec::new(),
                        opening_hours: "mon-fri 9-18".to_owned(),
                        intake_channel: "approdo".to_owned(),
                        availability: "available".to_owned(),
                        active: true,
                    }),
                },
            ))
            .await;
        tolerate_registered(answer.map(drop))
            .with_context(|| format!("organisation {}", receiver.organisation_id))?;
    }
    let mut spaces_client = safe_space::safe_space_service_client::SafeSpaceServiceClient::new(
        endpoints.safe_space.clone(),
    );
    let mut spaces = BTreeMap::new();
    for space in SAFE_SPACES {
        let answer = spaces_client
            .register_safe_space(request(
                credentials,
                Actor::Receiver {
                    organisation: space.organisation_id,
                },
                safe_space::RegisterSafeSpaceRequest {
                    request_id: format!("landing-space-{}", space.key),
                    profile: Some(safe_space::SpaceProfile {
                        kind: space.kind.to_owned(),
                        organisation_id: space.organisation_id.to_owned(),
                        province: space.province.to_owned(),
                        capacity: Some(safe_space::Capacity {
                            beds: space.beds,
                            family_rooms: space.family_rooms,
                        }),
                        eligibility: Some(safe_space::Eligibility {
                            sexes: strings(space.sexes),
                            age_bands: strings(space.age_bands),
                            families_with_children: space.families_with_children,
                            accessible: false,
                            languages: strings(&["it", "en", "fr"]),
                            // A mother and up to three children.
                            family_room_persons: 4,
                        }),
                    }),
                    // Fictional, and sealed before it reaches the log.
                    name: format!("Casa {} (synthetic)", space.key),
                    address: format!("Via Sintetica 1, {}", space.province),
                },
            ))
            .await
            .with_context(|| format!("safe space {}", space.key))?
            .into_inner();
        spaces.insert(space.key, answer.space_id);
    }
    Ok(spaces)
}

/// Runs every step of `landing` in time order.
pub async fn run(
    landing: &Landing,
    endpoints: &Endpoints,
    credentials: &dyn Credentials,
    pace: &dyn Pace,
) -> Result<Report> {
    register(endpoints, credentials).await?;
    let mut stepper = Stepper::new(landing, endpoints, credentials, pace);
    while let Some(done) = stepper.step().await {
        done?;
    }
    Ok(stepper.into_report())
}

/// One step taken by a [`Stepper`]: what it did (the [`Report`]'s kind:
/// `open`, `accept`, `answer_too_late`, ...) and whose case it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub what: &'static str,
    /// The person's index in the landing ([`Report::cases`] has their case id).
    pub person: u32,
}

/// Runs a landing one step at a time, for a caller that does something
/// between steps (the benchmark times each and interleaves queries). The
/// registry must be registered first ([`register`]); [`run`] is this in a loop.
pub struct Stepper<'a> {
    landing: &'a Landing,
    pace: &'a dyn Pace,
    driver: Driver<'a>,
    next: usize,
}

impl<'a> Stepper<'a> {
    pub fn new(
        landing: &'a Landing,
        endpoints: &Endpoints,
        credentials: &'a dyn Credentials,
        pace: &'a dyn Pace,
    ) -> Stepper<'a> {
        Stepper {
            landing,
            pace,
            driver: Driver {
                seed: landing.seed,
                origin: pace.origin(),
                credentials,
                screening: screening::screening_service_client::ScreeningServiceClient::new(
                    endpoints.screening.clone(),
                ),
                referral: referral::referral_service_client::ReferralServiceClient::new(
                    endpoints.referral.clone(),
                ),
                safe_space: safe_space::safe_space_service_client::SafeSpaceServiceClient::new(
                    endpoints.safe_space.clone(),
                ),
                people: BTreeMap::new(),
                report: Report::default(),
                last: "",
            },
            next: 0,
        }
    }

    /// Takes the next step in time order; `None` when every step is taken.
    pub async fn step(&mut self) -> Option<Result<Done>> {
        let index = self.next;
        let step = self.landing.steps.get(index)?;
        self.next += 1;
        self.pace.reach(step.at).await;
        let person = &self.landing.people[step.person as usize];
        self.driver.last = "";
        let result = self
            .driver
            .step(index, person, step)
            .await
            .with_context(|| format!("step {index} of person {}: {:?}", step.person, step.action));
        Some(result.map(|()| Done {
            what: self.driver.last,
            person: step.person,
        }))
    }

    /// What the steps taken so far did.
    pub fn report(&self) -> &Report {
        &self.driver.report
    }

    pub fn into_report(self) -> Report {
        self.driver.report
    }
}

/// What the driver knows of one person while the landing runs.
#[derive(Debug, Default)]
struct Followed {
    case_id: String,
    facility: usize,
    consents: BTreeMap<&'static str, String>,
    referrals: BTreeMap<&'static str, String>,
    /// The allocator a place was reserved in (province, kind).
    reserved: Option<(String, String)>,
    /// Receivers whose referral ended before their answer (expired, consent
    /// withdrawn): their later steps are not taken.
    ended: Vec<&'static str>,
}

struct Driver<'a> {
    seed: u64,
    origin: OffsetDateTime,
    credentials: &'a dyn Credentials,
    screening: screening::screening_service_client::ScreeningServiceClient<Channel>,
    referral: referral::referral_service_client::ReferralServiceClient<Channel>,
    safe_space: safe_space::safe_space_service_client::SafeSpaceServiceClient<Channel>,
    people: BTreeMap<u32, Followed>,
    report: Report,
    /// What the current step did (its kind in the report), "" for nothing.
    last: &'static str,
}

impl Driver<'_> {
    fn count(&mut self, what: &'static str, sequence: u64) {
        self.last = what;
        self.report.count(what, sequence);
    }

    async fn step(&mut self, index: usize, person: &Person, step: &Step) -> Result<()> {
        let request_id = format!(
            "landing-v{}-{}-{index}",
            crate::plan::PLAN_VERSION,
            self.seed
        );
        let at = self.origin + step.at;
        let credentials = self.credentials;
        if step.action == Action::Open {
            let hotspot = &FACILITIES[0];
            let opened = self
                .screening
                .open_case(request(
                    credentials,
                    Actor::Operator {
                        facility: hotspot.facility_id,
                        province: hotspot.province,
                    },
                    screening::OpenCaseRequest {
                        request_id,
                        arrival: Some(screening::Arrival {
                            place: "LAMPEDUSA".to_owned(),
                            arrived_at: ts(self.origin),
                        }),
                        province: hotspot.province.to_owned(),
                        facility_id: hotspot.facility_id.to_owned(),
                        age_band: person.age_band.to_owned(),
                        // A fictional identity: sealed with the person's key before the log.
                        personal_data: Some(person::PersonalData {
                            given_names: format!("Synthetic{}", person.index),
                            family_names: format!("Landing{}", self.seed),
                            languages: vec![person.language.to_owned()],
                            sex: person.sex.to_owned(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner();
            self.report
                .cases
                .insert(person.index, opened.case_id.clone());
            self.count("open", opened.log_sequence);
            self.people.insert(
                person.index,
                Followed {
                    case_id: opened.case_id,
                    ..Followed::default()
                },
            );
            return Ok(());
        }
        let Some(followed) = self.people.get_mut(&person.index) else {
            bail!("a step before the case was opened");
        };
        let case_id = followed.case_id.clone();
        let facility = &FACILITIES[followed.facility];
        let operator = Actor::Operator {
            facility: facility.facility_id,
            province: facility.province,
        };
        match &step.action {
            Action::Open => unreachable!("handled above"),
            Action::PreliminaryCheck { suspected } => {
                let urgency = most_urgent(suspected);
                let answer = self
                    .screening
                    .record_preliminary_check(request(
                        credentials,
                        operator,
                        screening::RecordPreliminaryCheckRequest {
                            request_id,
                            case_id,
                            suspected: suspected.iter().map(suspected_category).collect(),
                            urgency: urgency.to_owned(),
                            place: "LAMPEDUSA".to_owned(),
                            checked_at: ts(at),
                            ..Default::default()
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("preliminary_check", answer.log_sequence);
            }
            Action::Signal(s) => {
                let answer = self
                    .screening
                    .raise_vulnerability_signal(request(
                        credentials,
                        operator,
                        screening::RaiseVulnerabilitySignalRequest {
                            request_id,
                            case_id,
                            suspected: Some(suspected_category(s)),
                            urgency: s.urgency.to_owned(),
                            raised_by_role: "cultural_mediator".to_owned(),
                            raised_at: ts(at),
                            gbv_disclosure: false,
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("signal", answer.log_sequence);
            }
            Action::Application => {
                let answer = self
                    .screening
                    .record_application(request(
                        credentials,
                        operator,
                        screening::RecordApplicationRequest {
                            request_id,
                            case_id,
                            application_date: at.date().to_string(),
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("application", answer.log_sequence);
            }
            Action::Transfer { facility: to } => {
                let target = &FACILITIES[*to];
                let answer = self
                    .screening
                    .place_case(request(
                        credentials,
                        operator,
                        screening::PlaceCaseRequest {
                            request_id,
                            case_id,
                            facility_id: target.facility_id.to_owned(),
                            placed_at: ts(at),
                            ..Default::default()
                        },
                    ))
                    .await?
                    .into_inner();
                followed.facility = *to;
                self.count("transfer", answer.log_sequence);
            }
            Action::Assessment {
                confirmed,
                ruled_out,
            } => {
                let outcome = |category: &&str, status: &str| screening::CategoryOutcome {
                    category: (*category).to_owned(),
                    status: status.to_owned(),
                    ..Default::default()
                };
                let answer = self
                    .screening
                    .record_assessment(request(
                        credentials,
                        operator,
                        screening::RecordAssessmentRequest {
                            request_id,
                            case_id,
                            outcomes: confirmed
                                .iter()
                                .map(|c| outcome(c, "confirmed"))
                                .chain(ruled_out.iter().map(|c| outcome(c, "ruled_out")))
                                .collect(),
                            special_reception_needs: !confirmed.is_empty(),
                            special_procedural_guarantees: false,
                            assessed_at: ts(at),
                            assessor_role: "psychologist".to_owned(),
                            ..Default::default()
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("assessment", answer.log_sequence);
            }
            Action::Consent { receiver } => {
                let answer = self
                    .referral
                    .give_consent(request(
                        credentials,
                        operator,
                        referral::GiveConsentRequest {
                            request_id,
                            case_id,
                            recipient: Some(organisation(receiver)),
                            basis: Some(referral::give_consent_request::Basis::Consent(
                                referral::ConsentBasis {
                                    purpose: "protection_and_support".to_owned(),
                                    scopes: strings(&["categories", "urgency", "communication"]),
                                    valid_until: ts(at + Duration::days(180)),
                                    grantor: "person".to_owned(),
                                    of_consent_age: person.age_band != "18+",
                                    ..Default::default()
                                },
                            )),
                            given_at: ts(at),
                        },
                    ))
                    .await?
                    .into_inner();
                followed
                    .consents
                    .insert(receiver.organisation_id, answer.consent_id);
                self.count("consent", answer.log_sequence);
            }
            Action::RefuseConsent { receiver } => {
                let answer = self
                    .referral
                    .refuse_consent(request(
                        credentials,
                        operator,
                        referral::RefuseConsentRequest {
                            request_id,
                            case_id,
                            recipient: Some(organisation(receiver)),
                            purpose: "protection_and_support".to_owned(),
                            refused_at: ts(at),
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("consent_refused", answer.log_sequence);
            }
            Action::Refer { receiver, category } => {
                let consent_id = followed
                    .consents
                    .get(receiver.organisation_id)
                    .cloned()
                    .context("a referral without its consent")?;
                let service_type =
                    registry::service_type_for(category).unwrap_or("social_services");
                let answer = self
                    .referral
                    .create_referral(request(
                        credentials,
                        operator,
                        referral::CreateReferralRequest {
                            request_id,
                            case_id,
                            receiver_organisation_id: receiver.organisation_id.to_owned(),
                            service_type: service_type.to_owned(),
                            consent_id,
                            dataset: Some(referral::MinimumDataset {
                                categories: vec![(*category).to_owned()],
                                urgency: "standard".to_owned(),
                                languages: vec![person.language.to_owned()],
                                ..Default::default()
                            }),
                            send: true,
                        },
                    ))
                    .await?
                    .into_inner();
                followed
                    .referrals
                    .insert(receiver.organisation_id, answer.referral_id);
                self.count("referral_sent", answer.log_sequence);
            }
            Action::WithdrawConsent { receiver } => {
                let consent_id = followed
                    .consents
                    .get(receiver.organisation_id)
                    .cloned()
                    .context("no consent to withdraw")?;
                let answer = self
                    .referral
                    .withdraw_consent(request(
                        credentials,
                        operator,
                        referral::WithdrawConsentRequest {
                            request_id,
                            case_id,
                            consent_id,
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("consent_withdrawn", answer.log_sequence);
            }
            Action::Receive { receiver }
            | Action::Accept { receiver }
            | Action::Decline { receiver, .. }
            | Action::Redirect { receiver, .. }
            | Action::TakeCharge { receiver } => {
                use referral::update_referral_request::{
                    Accept, Action as Move, Decline, Receive, TakeCharge,
                };
                let (what, action) = match &step.action {
                    Action::Receive { .. } => ("receive", Move::Receive(Receive {})),
                    Action::Accept { .. } => ("accept", Move::Accept(Accept {})),
                    Action::Decline { reason, .. } => (
                        "decline",
                        Move::Decline(Decline {
                            reason: (*reason).to_owned(),
                            redirect_to_organisation_id: String::new(),
                        }),
                    ),
                    Action::Redirect { to, .. } => (
                        "redirect",
                        Move::Decline(Decline {
                            reason: "out_of_scope".to_owned(),
                            redirect_to_organisation_id: to.organisation_id.to_owned(),
                        }),
                    ),
                    _ => ("take_charge", Move::TakeCharge(TakeCharge {})),
                };
                let referral_id = followed
                    .referrals
                    .get(receiver.organisation_id)
                    .cloned()
                    .context("no referral to this receiver")?;
                let answer = self
                    .referral
                    .update_referral(request(
                        credentials,
                        Actor::Receiver {
                            organisation: receiver.organisation_id,
                        },
                        referral::UpdateReferralRequest {
                            request_id,
                            case_id,
                            referral_id,
                            action: Some(action),
                        },
                    ))
                    .await;
                match answer {
                    Ok(answer) => self.count(what, answer.into_inner().log_sequence),
                    // The referral ended meanwhile (its deadline passed and it
                    // expired, the consent was withdrawn, the case closed):
                    // the receiver's answer comes too late, as it would.
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        followed.ended.push(receiver.organisation_id);
                        self.count("answer_too_late", 0);
                    }
                    Err(status) => return Err(status.into()),
                }
            }
            Action::AgeAssessment { band } => {
                let Some(court) = court(followed) else {
                    self.count("court_not_seized", 0);
                    return Ok(());
                };
                let answer = self
                    .screening
                    .record_age_assessment(request(
                        credentials,
                        Actor::Receiver {
                            organisation: court,
                        },
                        screening::RecordAgeAssessmentRequest {
                            request_id,
                            case_id,
                            age_band: (*band).to_owned(),
                            assessed_at: ts(at),
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("age_assessment", answer.log_sequence);
            }
            Action::Guardian => {
                let Some(court) = court(followed) else {
                    self.count("court_not_seized", 0);
                    return Ok(());
                };
                let answer = self
                    .screening
                    .appoint_guardian(request(
                        credentials,
                        Actor::Receiver {
                            organisation: court,
                        },
                        screening::AppointGuardianRequest {
                            request_id,
                            case_id,
                            guardian_kind: "volunteer_guardian".to_owned(),
                            guardian_organisation_id: String::new(),
                            appointed_at: ts(at),
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("guardian", answer.log_sequence);
            }
            Action::RequestPlace { kind, linked } => {
                let referral_id = linked
                    .and_then(|r| followed.referrals.get(r.organisation_id).cloned())
                    .unwrap_or_default();
                let answer = self
                    .safe_space
                    .request_place(request(
                        credentials,
                        operator,
                        safe_space::RequestPlaceRequest {
                            request_id,
                            case_id,
                            allocator: Some(safe_space::AllocatorRef {
                                province: facility.province.to_owned(),
                                kind: (*kind).to_owned(),
                            }),
                            needs: Some(safe_space::Needs {
                                children: person.children,
                                languages: vec![person.language.to_owned()],
                                ..Default::default()
                            }),
                            referral_id,
                            ..Default::default()
                        },
                    ))
                    .await;
                let answer = match answer {
                    Ok(answer) => answer.into_inner(),
                    // The linked referral is no longer accepted, or the case ended.
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        self.count("place_refused", 0);
                        return Ok(());
                    }
                    Err(status) => return Err(status.into()),
                };
                if answer.standing == "reserved" {
                    followed.reserved = Some((facility.province.to_owned(), (*kind).to_owned()));
                    self.count("place_reserved", answer.log_sequence);
                } else {
                    self.count("place_waiting", answer.log_sequence);
                }
            }
            Action::ConfirmArrival { kind } => {
                // Only a reservation still held can be taken up.
                let Some((province, reserved_kind)) = followed.reserved.clone() else {
                    return Ok(());
                };
                if reserved_kind != *kind {
                    return Ok(());
                }
                let manager = SAFE_SPACES
                    .iter()
                    .find(|s| s.kind == reserved_kind && s.province == province)
                    .map(|s| s.organisation_id)
                    .context("no manager for the reserved space")?;
                let answer = self
                    .safe_space
                    .confirm_arrival(request(
                        credentials,
                        Actor::Receiver {
                            organisation: manager,
                        },
                        safe_space::ConfirmArrivalRequest {
                            request_id,
                            case_id,
                            allocator: Some(safe_space::AllocatorRef {
                                province,
                                kind: reserved_kind,
                            }),
                        },
                    ))
                    .await;
                match answer {
                    Ok(answer) => self
                        .report
                        .count("arrival", answer.into_inner().log_sequence),
                    // The hold expired before the arrival: the place went back to the list.
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        self.count("arrival_too_late", 0);
                    }
                    Err(status) => return Err(status.into()),
                }
            }
            Action::Close { reason } => {
                let answer = self
                    .screening
                    .close_case(request(
                        credentials,
                        operator,
                        screening::CloseCaseRequest {
                            request_id,
                            case_id,
                            reason: (*reason).to_owned(),
                            closed_at: ts(at),
                        },
                    ))
                    .await?
                    .into_inner();
                self.count("close", answer.log_sequence);
            }
        }
        Ok(())
    }
}

/// The juvenile court the person's referral is open with, if it is.
fn court(followed: &Followed) -> Option<&'static str> {
    registry::JUVENILE_COURTS
        .iter()
        .copied()
        .find(|c| followed.referrals.contains_key(c) && !followed.ended.contains(c))
}

fn most_urgent(suspected: &[Suspicion]) -> &'static str {
    ["immediate", "high", "standard"]
        .into_iter()
        .find(|u| suspected.iter().any(|s| s.urgency == *u))
        .unwrap_or("standard")
}

fn suspected_category(s: &Suspicion) -> screening::SuspectedCategory {
    screening::SuspectedCategory {
        category: s.category.to_owned(),
        indicators: vec![s.indicator.to_owned()],
        other_need: String::new(),
    }
}

fn organisation(receiver: &Receiver) -> referral::Recipient {
    referral::Recipient {
        recipient: Some(referral::recipient::Recipient::OrganisationId(
            receiver.organisation_id.to_owned(),
        )),
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn ts(at: OffsetDateTime) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
    })
}

fn request<T>(credentials: &dyn Credentials, actor: Actor<'_>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let bearer = format!("Bearer {}", credentials.token(actor));
    if let Ok(value) = bearer.parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A registration that already exists (another run, the demo) is fine.
fn tolerate_registered(answer: std::result::Result<(), tonic::Status>) -> Result<()> {
    match answer {
        Ok(()) => Ok(()),
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists
            ) || status.message().contains("already registered") =>
        {
            Ok(())
        }
        Err(status) => Err(status.into()),
    }
}

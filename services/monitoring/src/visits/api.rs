//! `FacilityMonitoringService`: visits and training sessions through the
//! kernel (decided on the record's history, the caller's jurisdiction
//! checked on it), scorecards folded from the log, comparisons from the
//! projection's index of visits ([`VisitIndex`]).

use std::sync::Arc;

use case_log_jetstream::{Producer, RootKind};
use contracts::monitoring::v1 as api;
use contracts::screening::v1 as screening;
use facility_monitoring::scorecard::{self, GroupBy, Ratio, VisitScore};
use facility_monitoring::{
    Actor, CHECKLIST_VERSION, Command, Context, INDICATORS, RecordOf, Scoring, Section, State,
    TrainingTopic, VisitRecorded,
};
use pathway::Province;
use pathway::calendar::date_in_rome;
use prost::Message;
use service_runtime::{
    Authority, Caller, CallerExtractor, FieldViolation, Jurisdiction, Kernel, OrganisationType,
    ServiceError, Target, Whereabouts,
};
use tonic::{Request, Response, Status};

use super::aggregate::{FacilityRecord, OrganisationRecord};
use super::codec::parse_date;
use super::requests::{self, TrainingOf};

/// Every visit recorded, as the projection keeps them (the comparison's
/// source); `province`: only that province's.
pub trait VisitIndex: Send + Sync {
    fn visits(&self, province: Option<&str>) -> Result<Vec<VisitRecorded>, ServiceError>;
}

pub struct FacilityMonitoringApi {
    pub kernel: Kernel,
    pub callers: CallerExtractor,
    pub index: Arc<dyn VisitIndex>,
}

/// A registered facility, from screening's registry in the log.
struct Registered {
    province: Province,
    kind: String,
}

impl FacilityMonitoringApi {
    async fn registered(&self, facility_id: &str) -> Result<Registered, ServiceError> {
        let history = self
            .kernel
            .history_of(RootKind::Facility, facility_id, Producer::Screening)
            .await?;
        let registered = history
            .iter()
            .flat_map(|c| c.commit.events.iter())
            .filter(|e| {
                case_log_jetstream::contract::is::<screening::FacilityRegistered>(&e.event_type)
            })
            .find_map(|e| screening::FacilityRegistered::decode(e.payload.as_slice()).ok());
        let province = registered
            .as_ref()
            .and_then(|r| Province::parse(&r.province).ok());
        match (registered, province) {
            (Some(r), Some(province)) => Ok(Registered {
                province,
                kind: r.facility_kind,
            }),
            _ => Err(ServiceError::InvalidArgument(vec![FieldViolation::new(
                "facility_id",
                "is not a registered facility",
            )])),
        }
    }

    /// The context of a command on a registered facility's record.
    async fn facility_context(
        &self,
        caller: &Caller,
        facility_id: &str,
    ) -> Result<Context, ServiceError> {
        let registered = self.registered(facility_id).await?;
        Ok(self.context(
            caller,
            RecordOf::Facility {
                facility_id: facility_id.to_owned(),
                province: registered.province,
                kind: registered.kind,
            },
        ))
    }

    fn context(&self, caller: &Caller, record: RecordOf) -> Context {
        let organisation_id = caller.organisation_id.clone();
        let actor = match caller.organisation_type {
            OrganisationType::Prefecture | OrganisationType::Police => {
                Actor::Prefecture { organisation_id }
            }
            OrganisationType::ReceptionOperator => Actor::ReceptionOperator { organisation_id },
            OrganisationType::ReceivingService => Actor::ReceivingService { organisation_id },
            OrganisationType::Administrator | OrganisationType::Analyst => {
                Actor::Administrator { organisation_id }
            }
        };
        Context {
            now: self.kernel.now(),
            actor,
            record,
        }
    }

    /// Reads are limited like commands: a prefecture to its province, an
    /// operator to its facility; an analyst whose token names a province to it.
    fn may_read(caller: &Caller, province: &str, facility_id: &str) -> Result<(), ServiceError> {
        Jurisdiction::of(caller).check(&Whereabouts::at(province, facility_id))?;
        analyst_province(caller, Some(province))
    }
}

/// A prefecture's analyst (an analyst token naming a province) reads only that province.
fn analyst_province(caller: &Caller, province: Option<&str>) -> Result<(), ServiceError> {
    match (
        &caller.organisation_type,
        caller.province.as_deref(),
        province,
    ) {
        (OrganisationType::Analyst, Some(own), Some(asked)) if own != asked => Err(
            ServiceError::PermissionDenied("this is outside the caller's province".to_owned()),
        ),
        (OrganisationType::Analyst, Some(_), None) => Err(ServiceError::PermissionDenied(
            "a province analyst compares its own province only".to_owned(),
        )),
        _ => Ok(()),
    }
}

fn ratio(r: Ratio) -> api::Ratio {
    api::Ratio {
        points: r.points,
        max: r.max,
        percent: r.percent(),
    }
}

fn visit_score(s: &VisitScore) -> api::VisitScore {
    api::VisitScore {
        visit_id: s.visit_id.clone(),
        facility_id: s.facility_id.clone(),
        province: s.province.clone(),
        facility_kind: s.facility_kind.clone(),
        visited_on: s.visited_on.to_string(),
        overall: Some(ratio(s.overall)),
        sections: s
            .sections
            .iter()
            .map(|(section, r)| api::SectionScore {
                section: section.code().to_owned(),
                ratio: Some(ratio(*r)),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl api::facility_monitoring_service_server::FacilityMonitoringService for FacilityMonitoringApi {
    async fn get_checklist(
        &self,
        _: Request<api::GetChecklistRequest>,
    ) -> Result<Response<api::GetChecklistResponse>, Status> {
        Ok(Response::new(api::GetChecklistResponse {
            version: CHECKLIST_VERSION,
            sections: Section::ALL.iter().map(|s| s.code().to_owned()).collect(),
            indicators: INDICATORS
                .iter()
                .map(|i| api::ChecklistIndicator {
                    indicator: i.code.to_owned(),
                    section: i.section.code().to_owned(),
                    scoring: match i.scoring {
                        Scoring::Observed => "observed",
                        Scoring::TrainingCoverage => "computed",
                    }
                    .to_owned(),
                    checks: i.checks.to_owned(),
                })
                .collect(),
            training_topics: TrainingTopic::ALL
                .iter()
                .map(|t| t.code().to_owned())
                .collect(),
        }))
    }

    async fn record_visit(
        &self,
        request: Request<api::RecordVisitRequest>,
    ) -> Result<Response<api::RecordVisitResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let today = date_in_rome(self.kernel.now());
        let (request_id, facility_id, visit) = requests::visit(request.get_ref(), today)?;
        let visit_id = visit.visit_id.clone();
        let context = self.facility_context(&caller, &facility_id).await?;
        let executed = self
            .kernel
            .execute(
                Target::<FacilityRecord> {
                    id: &facility_id,
                    codec: &(),
                    context: &context,
                },
                &Authority::of(&caller),
                &request_id,
                Command::RecordVisit(visit),
            )
            .await?;
        let state: State = self
            .kernel
            .state::<FacilityRecord>(&facility_id, &())
            .await?;
        let score = state
            .visits
            .iter()
            .find(|v| v.visit_id == visit_id)
            .map(|v| visit_score(&scorecard::score(v)));
        Ok(Response::new(api::RecordVisitResponse {
            log_sequence: executed.sequence,
            score,
        }))
    }

    async fn record_training_session(
        &self,
        request: Request<api::RecordTrainingSessionRequest>,
    ) -> Result<Response<api::RecordTrainingSessionResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let today = date_in_rome(self.kernel.now());
        let (request_id, of, session) = requests::session(request.get_ref(), today)?;
        let authority = Authority::of(&caller);
        let command = Command::RecordTrainingSession(session);
        let executed = match of {
            TrainingOf::Facility(facility_id) => {
                let context = self.facility_context(&caller, &facility_id).await?;
                let target = Target::<FacilityRecord> {
                    id: &facility_id,
                    codec: &(),
                    context: &context,
                };
                self.kernel
                    .execute(target, &authority, &request_id, command)
                    .await?
            }
            TrainingOf::Organisation(organisation_id) => {
                let context = self.context(
                    &caller,
                    RecordOf::Organisation {
                        organisation_id: organisation_id.clone(),
                    },
                );
                let target = Target::<OrganisationRecord> {
                    id: &organisation_id,
                    codec: &(),
                    context: &context,
                };
                self.kernel
                    .execute(target, &authority, &request_id, command)
                    .await?
            }
        };
        Ok(Response::new(api::RecordTrainingSessionResponse {
            log_sequence: executed.sequence,
        }))
    }

    async fn get_facility_scorecard(
        &self,
        request: Request<api::GetFacilityScorecardRequest>,
    ) -> Result<Response<api::GetFacilityScorecardResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.get_ref();
        let mut v = service_runtime::Violations::default();
        if !pathway::is_id_token(&r.facility_id) {
            v.add("facility_id", "must be 1 to 64 characters of [a-z0-9-]");
        }
        let as_of = if r.as_of.is_empty() {
            Some(date_in_rome(self.kernel.now()))
        } else {
            let parsed = parse_date(&r.as_of);
            if parsed.is_none() {
                v.add("as_of", "must be a date YYYY-MM-DD");
            }
            parsed
        };
        v.finish()?;
        let as_of = as_of.ok_or_else(ServiceError::validated_without_fields)?;
        let registered = self.registered(&r.facility_id).await?;
        Self::may_read(&caller, registered.province.as_str(), &r.facility_id)?;
        let state: State = self
            .kernel
            .state::<FacilityRecord>(&r.facility_id, &())
            .await?;
        let card = scorecard::scorecard(&state.visits, state.sessions(), as_of);
        Ok(Response::new(api::GetFacilityScorecardResponse {
            latest: card.latest.as_ref().map(visit_score),
            trend: card.trend.iter().map(visit_score).collect(),
            change: card
                .change
                .iter()
                .map(|(section, points)| api::SectionChange {
                    section: section.code().to_owned(),
                    percentage_points: *points,
                })
                .collect(),
            training: card
                .training
                .iter()
                .map(|t| api::TopicTraining {
                    topic: t.topic.code().to_owned(),
                    sessions: t.sessions,
                    participants: t.participants,
                    hours: t.hours,
                })
                .collect(),
        }))
    }

    async fn compare_facilities(
        &self,
        request: Request<api::CompareFacilitiesRequest>,
    ) -> Result<Response<api::CompareFacilitiesResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.get_ref();
        let mut v = service_runtime::Violations::default();
        let group_by = match r.group_by.as_str() {
            "facility" => Some(GroupBy::Facility),
            "province" | "" => Some(GroupBy::Province),
            _ => {
                v.add("group_by", "must be facility or province");
                None
            }
        };
        let from = parse_date(&r.from);
        if from.is_none() {
            v.add("from", "must be a date YYYY-MM-DD");
        }
        let to = parse_date(&r.to);
        if to.is_none() {
            v.add("to", "must be a date YYYY-MM-DD");
        }
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            v.add("to", "must not be before from");
        }
        let province = if r.province.is_empty() {
            None
        } else {
            match Province::parse(&r.province) {
                Ok(p) => Some(p.to_string()),
                Err(_) => {
                    v.add("province", "must be two capital letters");
                    None
                }
            }
        };
        v.finish()?;
        let (Some(group_by), Some(from), Some(to)) = (group_by, from, to) else {
            return Err(ServiceError::validated_without_fields().into());
        };
        // A prefecture compares within its own province.
        let province = match caller.organisation_type {
            OrganisationType::Prefecture | OrganisationType::Police => {
                let own = caller.province.clone().unwrap_or_default();
                if province.as_ref().is_some_and(|p| *p != own) {
                    return Err(ServiceError::PermissionDenied(
                        "this is outside the caller's province".to_owned(),
                    )
                    .into());
                }
                Some(own)
            }
            _ => province,
        };
        analyst_province(&caller, province.as_deref())?;
        let visits = self.index.visits(province.as_deref())?;
        let groups = scorecard::compare(&visits, group_by, from, to)
            .into_iter()
            .map(|c| api::FacilityComparison {
                group: c.group,
                facilities: c.facilities,
                overall_percent: c.overall_percent,
                sections: c
                    .sections
                    .iter()
                    .map(|(section, percent)| api::SectionMean {
                        section: section.code().to_owned(),
                        percent: *percent,
                    })
                    .collect(),
            })
            .collect();
        Ok(Response::new(api::CompareFacilitiesResponse { groups }))
    }
}

//! The case's referral record as the kernel runs it: the consent ledger and
//! every referral of the case (`approdo.case.<case_id>.referral`), with the
//! domain's `decide`/`evolve`, the wire codec (datasets sealed with the
//! person's key), where the case is (from screening's facts, for
//! jurisdiction), and what the domain says is due (missed deadlines, and the
//! reactions to a closure, a transfer or a risen urgency); and the
//! directory's entries and the pathway rules' publications.

use case_log_jetstream::{DecodeError, NewEvent, Producer, RootKind};
use case_referral::{
    Command, Context, Due, Event, ReferralError, State, dataset_reads, directory, pathway_rules,
};
use contracts::log::v1 as log;
use service_runtime::{Aggregate, Refusal, Whereabouts};
use time::OffsetDateTime;

use crate::case_facts::{CaseFacts, ReferralFacts as _};
use crate::codec::{self, CaseKey};

/// `approdo.case.<case_id>.referral`.
pub struct CaseReferrals;

/// What a referral command is decided with: the domain's context and the
/// facts screening recorded about the case.
pub struct CaseContext {
    pub domain: Context,
    pub facts: CaseFacts,
}

impl Aggregate for CaseReferrals {
    type Command = Command;
    type Event = Event;
    type State = State;
    type Error = ReferralError;
    type Context = CaseContext;
    type Codec = CaseKey;

    const PRODUCER: Producer = Producer::Referral;
    const ROOT: RootKind = RootKind::Case;

    fn decide(
        state: &State,
        command: Command,
        context: &CaseContext,
    ) -> Result<Vec<Event>, ReferralError> {
        case_referral::decide(state, command, &context.domain)
    }

    fn evolve(state: State, event: &Event) -> State {
        state.evolve(event)
    }

    fn refusal(error: &ReferralError) -> Refusal {
        match error {
            ReferralError::Invalid { field, reason } => Refusal::invalid(field, *reason),
            ReferralError::ReferralNotFound => Refusal::NotFound("referral"),
            ReferralError::ConsentNotFound => Refusal::NotFound("consent"),
            ReferralError::NotTheReceiver | ReferralError::NotTheReferrer => {
                Refusal::NotAllowed(error.to_string())
            }
            other => Refusal::Rule(other.to_string()),
        }
    }

    fn decode(key: &CaseKey, event: &log::Event) -> Result<Option<Event>, DecodeError> {
        codec::decode(event, key)
    }

    /// A referral's dataset is sealed with the person's key; after erasure
    /// there is none to seal with.
    fn encode(
        key: &CaseKey,
        context: &CaseContext,
        event: &Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<ReferralError>> {
        codec::encode(event, &context.facts.province, key)
            .map(|wire| wire.encode())
            .map_err(|e| e.map_refused(|_| ReferralError::PersonalDataErased))
    }

    /// A receiver acts on the cases sent to it; which of its referrals it may
    /// move, and how, is the domain's rule.
    fn whereabouts(state: &State, _: &Command, context: &CaseContext) -> Option<Whereabouts> {
        let receivers = state.receivers().map(ToString::to_string);
        Some(context.facts.whereabouts().referred_to(receivers))
    }

    /// The domain's due commands on the case's facts, each named so that it
    /// is appended once: `case-closed.<referral>`, `transfer.<placement's log
    /// sequence>.<referral>`, `tighten.<urgency>.<referral>` (a referral's
    /// urgency only rises), `deadline.<kind>.<referral>`.
    fn due_commands(
        state: &State,
        context: &CaseContext,
        now: OffsetDateTime,
    ) -> Vec<(String, Command)> {
        let case = &context.domain.case;
        case_referral::due_commands(state, case, now)
            .into_iter()
            .map(|due| {
                let request_id = match &due {
                    Due::CaseClosure(referral_id) => format!("case-closed.{referral_id}"),
                    Due::CaseTransfer(referral_id) => {
                        format!("transfer.{}.{referral_id}", context.facts.placement)
                    }
                    Due::Tightening(referral_id) => {
                        format!("tighten.{}.{referral_id}", case.urgency().code())
                    }
                    Due::MissedDeadline(referral_id, kind) => {
                        format!("deadline.{}.{referral_id}", kind.code())
                    }
                };
                (request_id, due.command())
            })
            .collect()
    }
}

/// `approdo.organisation.<organisation_id>.referral`: one directory entry.
pub struct DirectoryEntry;

impl Aggregate for DirectoryEntry {
    type Command = directory::Command;
    type Event = directory::Event;
    type State = directory::State;
    type Error = directory::DirectoryError;
    type Context = ();
    type Codec = ();

    const PRODUCER: Producer = Producer::Referral;
    const ROOT: RootKind = RootKind::Organisation;

    fn decide(
        state: &directory::State,
        command: directory::Command,
        _: &(),
    ) -> Result<Vec<directory::Event>, directory::DirectoryError> {
        directory::decide(state, command)
    }

    fn evolve(state: directory::State, event: &directory::Event) -> directory::State {
        state.evolve(event)
    }

    fn refusal(error: &directory::DirectoryError) -> Refusal {
        match error {
            directory::DirectoryError::Invalid { field, reason } => {
                Refusal::invalid(*field, *reason)
            }
            directory::DirectoryError::OrganisationNotFound => Refusal::NotFound("organisation"),
            other => Refusal::Rule(other.to_string()),
        }
    }

    /// The organisation's subjects also carry the access log's refusals: not the directory's.
    fn decode(_: &(), event: &log::Event) -> Result<Option<directory::Event>, DecodeError> {
        if case_log_jetstream::contract::is::<contracts::access::v1::AccessRefused>(
            &event.event_type,
        ) {
            return Ok(None);
        }
        let profile = |raw: Option<&contracts::referral::v1::OrganisationProfile>| {
            raw.ok_or_else(|| DecodeError::new(event, "missing profile"))
                .and_then(|p| codec::profile_from_wire(p).map_err(|r| DecodeError::new(event, r)))
        };
        Ok(match codec::WireEvent::decode(event)? {
            codec::WireEvent::OrganisationRegistered(e) => {
                Some(directory::Event::Registered(profile(e.profile.as_ref())?))
            }
            codec::WireEvent::OrganisationUpdated(e) => {
                Some(directory::Event::Updated(profile(e.profile.as_ref())?))
            }
            _ => None,
        })
    }

    fn encode(
        _: &(),
        _: &(),
        event: &directory::Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<directory::DirectoryError>> {
        use contracts::referral::v1 as wire;
        Ok(match event {
            directory::Event::Registered(profile) => {
                codec::WireEvent::OrganisationRegistered(wire::OrganisationRegistered {
                    profile: Some(codec::profile_to_wire(profile)),
                })
            }
            directory::Event::Updated(profile) => {
                codec::WireEvent::OrganisationUpdated(wire::OrganisationUpdated {
                    profile: Some(codec::profile_to_wire(profile)),
                })
            }
        }
        .encode())
    }
}

/// `approdo.configuration.pathway-rules.referral`: the published rules.
pub struct PathwayRulesPublications;

/// The configuration aggregate's id.
pub const PATHWAY_RULES_ID: &str = "pathway-rules";

impl Aggregate for PathwayRulesPublications {
    type Command = pathway_rules::Command;
    type Event = pathway_rules::Event;
    type State = pathway_rules::State;
    type Error = pathway_rules::InvalidRules;
    type Context = ();
    type Codec = ();

    const PRODUCER: Producer = Producer::Referral;
    const ROOT: RootKind = RootKind::Configuration;

    fn decide(
        state: &pathway_rules::State,
        command: pathway_rules::Command,
        _: &(),
    ) -> Result<Vec<pathway_rules::Event>, pathway_rules::InvalidRules> {
        pathway_rules::decide(state, command)
    }

    fn evolve(state: pathway_rules::State, event: &pathway_rules::Event) -> pathway_rules::State {
        state.evolve(event)
    }

    fn refusal(error: &pathway_rules::InvalidRules) -> Refusal {
        Refusal::invalid("rules", error.to_string())
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<pathway_rules::Event>, DecodeError> {
        Ok(match codec::WireEvent::decode(event)? {
            codec::WireEvent::PathwayRulesPublished(published) => {
                let rules = codec::rules_from_wire(&published)
                    .map_err(|reason| DecodeError::new(event, reason))?;
                Some(pathway_rules::Event::Published {
                    version: published.version,
                    rules,
                })
            }
            _ => None,
        })
    }

    fn encode(
        _: &(),
        _: &(),
        event: &pathway_rules::Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<pathway_rules::InvalidRules>> {
        let pathway_rules::Event::Published { version, rules } = event;
        Ok(codec::WireEvent::PathwayRulesPublished(
            contracts::referral::v1::PathwayRulesPublished {
                version: *version,
                rules: codec::rules_to_wire(rules),
            },
        )
        .encode())
    }
}

/// `approdo.organisation.<reader>.referral.<record_id>`: the one access record
/// of a call that read datasets of several cases.
pub struct DatasetReadRecord;

/// When the reads happened, and the record's own id.
pub struct ReadRecord {
    pub record_id: String,
    pub now: OffsetDateTime,
}

impl Aggregate for DatasetReadRecord {
    type Command = dataset_reads::Command;
    type Event = dataset_reads::Event;
    type State = dataset_reads::State;
    type Error = dataset_reads::RecordError;
    type Context = ReadRecord;
    type Codec = ();

    const PRODUCER: Producer = Producer::Referral;
    const ROOT: RootKind = RootKind::Organisation;

    fn decide(
        state: &dataset_reads::State,
        command: dataset_reads::Command,
        record: &ReadRecord,
    ) -> Result<Vec<dataset_reads::Event>, dataset_reads::RecordError> {
        dataset_reads::decide(state, command, record.now)
    }

    fn evolve(state: dataset_reads::State, event: &dataset_reads::Event) -> dataset_reads::State {
        state.evolve(event)
    }

    fn refusal(error: &dataset_reads::RecordError) -> Refusal {
        Refusal::Rule(error.to_string())
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<dataset_reads::Event>, DecodeError> {
        let codec::WireEvent::ReferralDatasetsRead(recorded) = codec::WireEvent::decode(event)?
        else {
            return Ok(None);
        };
        let reads = recorded
            .reads
            .into_iter()
            .map(|read| {
                let referral_ids = read
                    .referral_ids
                    .iter()
                    .map(|id| case_referral::ReferralId::parse(id))
                    .collect::<Result<_, _>>()
                    .map_err(|_| DecodeError::new(event, "bad referral id"))?;
                Ok(dataset_reads::CaseRead {
                    case_id: read.case_id,
                    referral_ids,
                })
            })
            .collect::<Result<_, DecodeError>>()?;
        let read_at = recorded
            .read_at
            .as_ref()
            .and_then(case_log_jetstream::envelope::from_timestamp)
            .ok_or_else(|| DecodeError::new(event, "missing time"))?;
        Ok(Some(dataset_reads::Event::Recorded { reads, read_at }))
    }

    fn encode(
        _: &(),
        _: &ReadRecord,
        event: &dataset_reads::Event,
    ) -> Result<NewEvent, service_runtime::EncodeError<dataset_reads::RecordError>> {
        use contracts::referral::v1 as wire;
        let dataset_reads::Event::Recorded { reads, read_at } = event;
        Ok(
            codec::WireEvent::ReferralDatasetsRead(wire::ReferralDatasetsRead {
                reads: reads
                    .iter()
                    .map(|read| wire::CaseDatasetsRead {
                        case_id: read.case_id.clone(),
                        referral_ids: read.referral_ids.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
                read_at: Some(case_log_jetstream::envelope::timestamp(*read_at)),
            })
            .encode(),
        )
    }

    fn entity(record: &ReadRecord) -> Option<String> {
        Some(record.record_id.clone())
    }
}

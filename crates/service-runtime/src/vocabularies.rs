//! Closed vocabularies as versioned configuration, the same for every service
//! that keeps some (`pathway::vocabularies`): the publications aggregate
//! (`approdo.configuration.vocabularies.<service>`) the kernel runs, the rows a
//! service's projection keeps of the version in force, and the conversions
//! at the edge. A service names the lists it keeps; its requests are checked
//! against the version in force.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

use case_log_jetstream::{DecodeError, NewEvent, Producer, RecordedCommit, RootKind};
use contracts::log::v1 as log;
use contracts::vocabulary::v1 as wire;
use pathway::Code;
use pathway::vocabularies::{
    self, Command, Event, PublicationError, State, Vocabularies, VocabularyKind,
};
use projection_sled::{ApplyError, ProjectionStore, Rows};
use prost::Message;

use crate::kernel::{Aggregate, EncodeError};
use crate::{Authority, Kernel, Refusal, ServiceError, Target, Violations};

case_log_jetstream::event_contract! {
    /// A vocabulary event as stored in the log.
    pub enum VocabularyEvent: wire, schema 1 {
        VocabulariesPublished,
    }
}

/// The configuration aggregate's id.
pub const AGGREGATE_ID: &str = "vocabularies";
/// The projection table of the version in force.
pub const TABLE: &str = "vocabularies";
const CURRENT: &[u8] = b"current";

/// A service that keeps closed vocabularies: which lists, under its producer.
pub trait KeepsVocabularies: Send + Sync + 'static {
    const PRODUCER: Producer;
    const KEPT: &'static [VocabularyKind];
}

/// The publications of one service's vocabularies, for the kernel.
pub struct VocabularyPublications<S>(PhantomData<S>);

impl<S: KeepsVocabularies> Aggregate for VocabularyPublications<S> {
    type Command = Command;
    type Event = Event;
    type State = State;
    type Error = PublicationError;
    type Context = ();
    type Codec = ();

    const PRODUCER: Producer = S::PRODUCER;
    const ROOT: RootKind = RootKind::Configuration;

    fn decide(state: &State, command: Command, _: &()) -> Result<Vec<Event>, PublicationError> {
        vocabularies::decide(state, command, S::KEPT)
    }

    fn evolve(state: State, event: &Event) -> State {
        state.evolve(event)
    }

    fn refusal(error: &PublicationError) -> Refusal {
        Refusal::invalid("vocabularies", error.to_string())
    }

    fn decode(_: &(), event: &log::Event) -> Result<Option<Event>, DecodeError> {
        let VocabularyEvent::VocabulariesPublished(published) = VocabularyEvent::decode(event)?;
        let lists = lists_of(&published).map_err(|reason| DecodeError::new(event, reason))?;
        Ok(Some(Event::Published {
            version: published.version,
            lists,
        }))
    }

    fn encode(_: &(), _: &(), event: &Event) -> Result<NewEvent, EncodeError<PublicationError>> {
        let Event::Published { version, lists } = event;
        Ok(VocabularyEvent::VocabulariesPublished(published(*version, lists)).encode())
    }
}

fn published(
    version: u32,
    lists: &BTreeMap<VocabularyKind, BTreeSet<Code>>,
) -> wire::VocabulariesPublished {
    wire::VocabulariesPublished {
        version,
        vocabularies: lists_to_wire(lists),
    }
}

/// Lists as the API and the events carry them.
pub fn lists_to_wire(lists: &BTreeMap<VocabularyKind, BTreeSet<Code>>) -> Vec<wire::Vocabulary> {
    lists
        .iter()
        .map(|(kind, codes)| wire::Vocabulary {
            kind: kind.code().to_owned(),
            codes: codes.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

fn lists_of(
    published: &wire::VocabulariesPublished,
) -> Result<BTreeMap<VocabularyKind, BTreeSet<Code>>, String> {
    published
        .vocabularies
        .iter()
        .map(|list| {
            let kind = VocabularyKind::from_code(&list.kind).map_err(|e| e.to_string())?;
            let codes = list
                .codes
                .iter()
                .map(|c| Code::parse(c).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            Ok((kind, codes))
        })
        .collect()
}

/// The lists of a publication request, every field violation at once.
pub fn lists_from_request(
    v: &mut Violations,
    raw: &[wire::Vocabulary],
) -> BTreeMap<VocabularyKind, BTreeSet<Code>> {
    let mut lists = BTreeMap::new();
    for (i, list) in raw.iter().enumerate() {
        let kind = v.check(
            &format!("vocabularies[{i}].kind"),
            VocabularyKind::from_code(&list.kind),
        );
        let codes: BTreeSet<Code> = v
            .each(
                &format!("vocabularies[{i}].codes"),
                &list.codes,
                Code::parse,
            )
            .into_iter()
            .collect();
        if let Some(kind) = kind
            && lists.insert(kind, codes).is_some()
        {
            v.add(format!("vocabularies[{i}].kind"), "names a list twice");
        }
    }
    lists
}

/// For a service's projection: keeps the version in force when `commit` is a
/// publication of its vocabularies. Answers whether it was one.
pub fn apply(
    rows: &mut Rows<'_>,
    commit: &RecordedCommit,
    producer: Producer,
) -> Result<bool, ApplyError> {
    match commit.aggregate() {
        Some((RootKind::Configuration, AGGREGATE_ID, p)) if p == producer => {}
        _ => return Ok(false),
    }
    for event in &commit.commit.events {
        let VocabularyEvent::VocabulariesPublished(published) = VocabularyEvent::decode(event)
            .map_err(|e| ApplyError::Decode {
                event_type: e.event_type,
                reason: e.reason,
            })?;
        rows.put(TABLE, CURRENT, &published.encode_to_vec())?;
    }
    Ok(true)
}

/// The vocabularies in force, as the projection has them (built-in until a
/// version is published).
pub fn in_force(store: &ProjectionStore) -> Result<Vocabularies, ServiceError> {
    let mut vocabularies = Vocabularies::built_in();
    if let Some(published) =
        store.get_decoded(TABLE, CURRENT, |b| wire::VocabulariesPublished::decode(b))?
    {
        let lists = lists_of(&published).map_err(|reason| {
            ServiceError::internal(format_args!("the vocabularies in force: {reason}"))
        })?;
        vocabularies.version = published.version;
        vocabularies.lists.extend(lists);
    }
    Ok(vocabularies)
}

/// A publication request of `caller`: validated (every field violation at
/// once), then published. Answers the version and the log sequence.
pub async fn publish_request<S: KeepsVocabularies>(
    kernel: &Kernel,
    caller: &crate::Caller,
    raw_request_id: &str,
    raw: &[wire::Vocabulary],
) -> Result<(u32, u64), ServiceError> {
    let mut v = Violations::default();
    let request_id = v.request_id(raw_request_id);
    let lists = lists_from_request(&mut v, raw);
    v.finish()?;
    publish::<S>(kernel, &Authority::of(caller), &request_id, lists).await
}

/// Publishes the next version of `S`'s lists; answers the version and the log sequence.
pub async fn publish<S: KeepsVocabularies>(
    kernel: &Kernel,
    authority: &Authority,
    request_id: &str,
    lists: BTreeMap<VocabularyKind, BTreeSet<Code>>,
) -> Result<(u32, u64), ServiceError> {
    let target = Target::<VocabularyPublications<S>> {
        id: AGGREGATE_ID,
        codec: &(),
        context: &(),
    };
    let executed = kernel
        .execute(target, authority, request_id, Command::Publish { lists })
        .await?;
    let version = executed
        .commit
        .events
        .iter()
        .find_map(|event| match VocabularyEvent::decode(event) {
            Ok(VocabularyEvent::VocabulariesPublished(published)) => Some(published.version),
            Err(_) => None,
        })
        .ok_or_else(|| ServiceError::internal("a publication holds no vocabularies"))?;
    Ok((version, executed.sequence))
}

/// The lists `kept` of `vocabularies`, as the API answers them.
pub fn kept_to_wire(vocabularies: &Vocabularies, kept: &[VocabularyKind]) -> Vec<wire::Vocabulary> {
    let lists: BTreeMap<VocabularyKind, BTreeSet<Code>> = vocabularies
        .lists
        .iter()
        .filter(|(kind, _)| kept.contains(kind))
        .map(|(kind, codes)| (*kind, codes.clone()))
        .collect();
    lists_to_wire(&lists)
}

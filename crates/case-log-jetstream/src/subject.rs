//! The subject scheme of the case log: where each aggregate's commits live.
//!
//! `approdo.<root_kind>.<root_id>.<producer>[.<entity_id>]`
//!
//! - one subject filter (`approdo.case.<id>.>`) reads everything that happened to a person;
//! - the producer token lets NATS permissions give each service its own subjects;
//! - the exact subject is the unit of optimistic concurrency.

use std::fmt;

/// Every subject of the case log starts with this token.
pub const SUBJECT_PREFIX: &str = "approdo";

/// The kinds of root a history belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RootKind {
    /// A person's case: the history that follows the person.
    Case,
    /// A reception facility or shelter (capacity, places).
    Facility,
    /// A receiving organisation in the directory.
    Organisation,
    /// Versioned configuration kept in the log (for example the pathway rules).
    Configuration,
}

impl RootKind {
    pub const ALL: [RootKind; 4] = [
        RootKind::Case,
        RootKind::Facility,
        RootKind::Organisation,
        RootKind::Configuration,
    ];

    pub fn token(self) -> &'static str {
        match self {
            RootKind::Case => "case",
            RootKind::Facility => "facility",
            RootKind::Organisation => "organisation",
            RootKind::Configuration => "configuration",
        }
    }

    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.token() == token)
    }
}

/// The services that produce events. Each event type has exactly one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Producer {
    Screening,
    Referral,
    SafeSpace,
    Monitoring,
}

impl Producer {
    pub const ALL: [Producer; 4] = [
        Producer::Screening,
        Producer::Referral,
        Producer::SafeSpace,
        Producer::Monitoring,
    ];

    pub fn token(self) -> &'static str {
        match self {
            Producer::Screening => "screening",
            Producer::Referral => "referral",
            Producer::SafeSpace => "safe-space",
            Producer::Monitoring => "monitoring",
        }
    }

    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|producer| producer.token() == token)
    }
}

impl fmt::Display for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// An id usable as a subject token: 1 to 64 characters of `[a-z0-9-]`.
/// Ids are pseudonymous (UUIDs in practice), never personal identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    pub fn parse(raw: &str) -> Result<Self, InvalidAddress> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(TokenId(raw.to_owned()))
        } else {
            Err(InvalidAddress::BadId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an address could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAddress {
    #[error("id must be 1 to 64 characters of [a-z0-9-]")]
    BadId,
    #[error("subject does not follow approdo.<root_kind>.<root_id>.<producer>[.<entity_id>]")]
    BadSubject,
}

/// The aggregate a command addresses: a root, the producing service, and
/// optionally an entity within the root (a referral within a case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggregateAddress {
    pub root_kind: RootKind,
    pub root_id: TokenId,
    pub producer: Producer,
    pub entity_id: Option<TokenId>,
}

impl AggregateAddress {
    pub fn new(root_kind: RootKind, root_id: TokenId, producer: Producer) -> Self {
        AggregateAddress {
            root_kind,
            root_id,
            producer,
            entity_id: None,
        }
    }

    pub fn with_entity(mut self, entity_id: TokenId) -> Self {
        self.entity_id = Some(entity_id);
        self
    }

    /// The exact subject the aggregate's commits are published on.
    pub fn subject(&self) -> String {
        let mut subject = format!(
            "{SUBJECT_PREFIX}.{}.{}.{}",
            self.root_kind.token(),
            self.root_id,
            self.producer.token()
        );
        if let Some(entity) = &self.entity_id {
            subject.push('.');
            subject.push_str(entity.as_str());
        }
        subject
    }

    /// Parses a subject written by [`AggregateAddress::subject`].
    pub fn from_subject(subject: &str) -> Result<Self, InvalidAddress> {
        let tokens: Vec<&str> = subject.split('.').collect();
        if !(4..=5).contains(&tokens.len()) || tokens[0] != SUBJECT_PREFIX {
            return Err(InvalidAddress::BadSubject);
        }
        let root_kind = RootKind::from_token(tokens[1]).ok_or(InvalidAddress::BadSubject)?;
        let root_id = TokenId::parse(tokens[2])?;
        let producer = Producer::from_token(tokens[3]).ok_or(InvalidAddress::BadSubject)?;
        let entity_id = tokens.get(4).map(|t| TokenId::parse(t)).transpose()?;
        Ok(AggregateAddress {
            root_kind,
            root_id,
            producer,
            entity_id,
        })
    }

    pub fn to_proto(&self) -> contracts::log::v1::AggregateAddress {
        contracts::log::v1::AggregateAddress {
            root_kind: self.root_kind.token().to_owned(),
            root_id: self.root_id.to_string(),
            producer: self.producer.token().to_owned(),
            entity_id: self
                .entity_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}

/// What to read from the log: one aggregate, or everything under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryScope {
    /// One aggregate's own subject.
    Aggregate(AggregateAddress),
    /// Every subject under a root: the whole history of a case, across services.
    Root { kind: RootKind, id: TokenId },
}

impl HistoryScope {
    pub fn filter_subject(&self) -> String {
        match self {
            HistoryScope::Aggregate(address) => address.subject(),
            HistoryScope::Root { kind, id } => {
                format!("{SUBJECT_PREFIX}.{}.{}.>", kind.token(), id)
            }
        }
    }
}

/// The subjects of `producer`'s aggregates under roots of `kind`, with and
/// without an entity: for NATS permissions and what projections consume.
pub fn producer_subjects(kind: RootKind, producer: Producer) -> [String; 2] {
    let base = format!("{SUBJECT_PREFIX}.{}.*.{}", kind.token(), producer.token());
    [base.clone(), format!("{base}.*")]
}

/// The subjects a producer may publish on (for NATS permissions).
pub fn producer_publish_subjects(producer: Producer) -> Vec<String> {
    RootKind::ALL
        .iter()
        .flat_map(|kind| producer_subjects(*kind, producer))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> TokenId {
        TokenId::parse(raw).expect("valid id")
    }

    #[test]
    fn subject_round_trips() {
        let address = AggregateAddress::new(RootKind::Case, id("c-1"), Producer::Referral)
            .with_entity(id("r-9"));
        assert_eq!(address.subject(), "approdo.case.c-1.referral.r-9");
        assert_eq!(
            AggregateAddress::from_subject(&address.subject()),
            Ok(address)
        );
    }

    #[test]
    fn ids_that_would_break_subjects_are_refused() {
        for bad in ["", "a.b", "a*", "a>", "A", "a b", &"x".repeat(65)] {
            assert_eq!(TokenId::parse(bad), Err(InvalidAddress::BadId), "{bad:?}");
        }
    }

    #[test]
    fn root_scope_covers_every_producer() {
        let scope = HistoryScope::Root {
            kind: RootKind::Case,
            id: id("c-1"),
        };
        assert_eq!(scope.filter_subject(), "approdo.case.c-1.>");
    }

    #[test]
    fn producer_subjects_name_only_that_producer() {
        let subjects = producer_publish_subjects(Producer::SafeSpace);
        assert!(subjects.iter().all(|s| s.contains(".safe-space")));
        assert_eq!(subjects.len(), 8);
    }
}

//! Event contracts declared once: [`event_contract!`] turns one list of proto
//! messages into a service's wire-event enum with its encode and decode tables.
//! Each event's type string is its proto message's full name (`prost::Name`,
//! generated from `proto/`), so no event name is ever written by hand.

use contracts::log::v1 as log;

/// A stored event that this code cannot read back: the log is corrupt, newer, or
/// the event is not of the kind the reader expected. Carries codes, never payloads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event_type} cannot be decoded: {reason}")]
pub struct DecodeError {
    pub event_type: String,
    pub reason: String,
}

impl DecodeError {
    pub fn new(event: &log::Event, reason: impl Into<String>) -> Self {
        DecodeError {
            event_type: event.event_type.clone(),
            reason: reason.into(),
        }
    }
}

/// Whether a stored event's type is the proto message `M`.
pub fn is<M: prost::Name>(event_type: &str) -> bool {
    event_type
        .strip_prefix(M::PACKAGE)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|name| name == M::NAME)
}

/// The event type string of the proto message `M`, as stored in the log.
pub fn event_type<M: prost::Name>() -> String {
    M::full_name()
}

/// Declares a service's events once. Every variant names the proto message it
/// carries (variant name = message name):
///
/// ```text
/// case_log_jetstream::event_contract! {
///     /// A screening event as stored in the log.
///     pub enum WireEvent: wire, schema 1 {
///         CaseOpened,
///         CasePlaced,
///     }
/// }
/// ```
///
/// generates `enum WireEvent { CaseOpened(wire::CaseOpened), .. }` with
/// `WireEvent::decode(&log::Event)`, `WireEvent::encode(&self) -> NewEvent`,
/// `event_type(&self)` and `WireEvent::event_types()`.
#[macro_export]
macro_rules! event_contract {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $wire:ident, schema $version:literal {
            $($variant:ident),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($wire::$variant),)+
        }

        #[allow(dead_code)]
        impl $name {
            /// The schema version every event of this contract is written with.
            pub const SCHEMA_VERSION: u32 = $version;

            /// Every event type of this contract, as stored in the log.
            pub fn event_types() -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![$(<$wire::$variant as ::prost::Name>::full_name()),+]
            }

            /// Reads a stored event back as its wire message.
            pub fn decode(
                event: &::contracts::log::v1::Event,
            ) -> ::std::result::Result<Self, $crate::DecodeError> {
                if event.schema_version != $version {
                    return Err($crate::DecodeError::new(
                        event,
                        ::std::format!("unknown schema version {}", event.schema_version),
                    ));
                }
                $(
                    if $crate::contract::is::<$wire::$variant>(&event.event_type) {
                        return <$wire::$variant as ::prost::Message>::decode(event.payload.as_slice())
                            .map($name::$variant)
                            .map_err(|error| $crate::DecodeError::new(event, error.to_string()));
                    }
                )+
                Err($crate::DecodeError::new(event, "unknown event type"))
            }

            /// The event ready to append.
            pub fn encode(&self) -> $crate::NewEvent {
                match self {
                    $($name::$variant(message) => $crate::NewEvent::encode(
                        &<$wire::$variant as ::prost::Name>::full_name(),
                        $version,
                        message,
                    ),)+
                }
            }

            /// This event's type, as stored in the log.
            pub fn event_type(&self) -> ::std::string::String {
                match self {
                    $($name::$variant(_) => <$wire::$variant as ::prost::Name>::full_name(),)+
                }
            }
        }

        $(
            impl ::std::convert::From<$wire::$variant> for $name {
                fn from(message: $wire::$variant) -> Self {
                    $name::$variant(message)
                }
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use contracts::access::v1 as wire;
    use contracts::log::v1 as log;

    crate::event_contract! {
        /// A contract of one event, for the tests.
        enum TestEvent: wire, schema 1 {
            AccessRefused,
        }
    }

    #[test]
    fn an_event_round_trips_under_its_proto_name() {
        let event = TestEvent::AccessRefused(wire::AccessRefused {
            rpc: "/x.Y/Z".to_owned(),
            ..Default::default()
        });
        let new = event.encode();
        assert_eq!(new.event_type, "approdo.access.v1.AccessRefused");
        assert_eq!(
            TestEvent::event_types(),
            ["approdo.access.v1.AccessRefused"]
        );
        let stored = log::Event {
            event_id: "e".to_owned(),
            event_type: new.event_type.clone(),
            schema_version: new.schema_version,
            payload: new.payload,
        };
        assert_eq!(TestEvent::decode(&stored), Ok(event));
    }

    #[test]
    fn unknown_types_versions_and_bytes_are_decode_errors() {
        let stored = |event_type: &str, schema_version: u32, payload: Vec<u8>| log::Event {
            event_id: "e".to_owned(),
            event_type: event_type.to_owned(),
            schema_version,
            payload,
        };
        let reason = |event: log::Event| TestEvent::decode(&event).map_err(|e| e.reason);
        assert_eq!(
            reason(stored("approdo.access.v1.Other", 1, vec![])),
            Err("unknown event type".to_owned())
        );
        assert_eq!(
            reason(stored("approdo.access.v1.AccessRefusedX", 1, vec![])),
            Err("unknown event type".to_owned())
        );
        assert_eq!(
            reason(stored("approdo.access.v1.AccessRefused", 2, vec![])),
            Err("unknown schema version 2".to_owned())
        );
        assert!(
            TestEvent::decode(&stored("approdo.access.v1.AccessRefused", 1, vec![0xff])).is_err()
        );
    }
}

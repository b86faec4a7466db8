//! JSON to protobuf and back, for any message of the contracts (proto3 JSON
//! mapping, `prost-reflect`): the request message is assembled from the path,
//! the query string or the body and the `Idempotency-Key`; the response is
//! written with the JSON names, enums as strings, 64-bit integers as strings
//! and default values left out.

use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value};

use crate::problem::FieldViolation;
use crate::routes::Route;

/// Well-known types written as JSON strings: leaves, not messages, in query
/// parameters and schemas.
pub fn is_string_wkt(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
    )
}

/// The request message of `route` from its parts; every problem found, by field.
pub fn request_message(
    route: &Route,
    path: &[(FieldDescriptor, String)],
    query: Option<&str>,
    body: &[u8],
    request_id: Option<&str>,
) -> Result<DynamicMessage, Vec<FieldViolation>> {
    let input = route.input();
    let mut object = Map::new();
    let mut violations = Vec::new();
    let request_id_field = route.request_id_field();
    let reserved: Vec<FieldDescriptor> = route
        .path_fields()
        .into_iter()
        .chain(request_id_field.clone())
        .collect();
    if route.body {
        if body.iter().all(u8::is_ascii_whitespace) {
            violations.push(FieldViolation::new("", "a JSON object body is required"));
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(given)) => object = given,
                Ok(_) => violations.push(FieldViolation::new("", "the body must be a JSON object")),
                Err(error) => violations.push(FieldViolation::new(
                    "",
                    format!("the body is not JSON: {}", json_error_kind(&error)),
                )),
            }
        }
        for field in &reserved {
            for name in [field.json_name(), field.name()] {
                if object.contains_key(name) {
                    let place = if Some(field) == request_id_field.as_ref() {
                        "the Idempotency-Key header"
                    } else {
                        "the path"
                    };
                    violations.push(FieldViolation::new(
                        name,
                        format!("given by {place}, not the body"),
                    ));
                }
            }
        }
    } else if !body.is_empty() {
        violations.push(FieldViolation::new("", "this operation takes no body"));
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if route.body {
            violations.push(FieldViolation::new(
                "",
                "this operation takes its input from the body, not the query string",
            ));
        } else {
            query_into(&input, query, &reserved, &mut object, &mut violations);
        }
    }
    for (field, value) in path {
        object.insert(field.json_name().to_owned(), Value::String(value.clone()));
    }
    if let (Some(field), Some(id)) = (&request_id_field, request_id) {
        object.insert(field.json_name().to_owned(), Value::String(id.to_owned()));
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let mut track = serde_path_to_error::Track::new();
    let deserializer = serde_path_to_error::Deserializer::new(Value::Object(object), &mut track);
    DynamicMessage::deserialize_with_options(input, deserializer, &options)
        .map_err(|error| vec![violation_of(&track.path().to_string(), &error.to_string())])
}

/// A deserialization error as a field violation, without the value given
/// (serde's messages quote it, and it may be personal data).
fn violation_of(path: &str, message: &str) -> FieldViolation {
    let path = if path == "." { "" } else { path };
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let name: String = name.chars().take(64).collect();
        let expected = expected.trim_start_matches(", ");
        return FieldViolation::new(join(&name), format!("unknown field; {expected}"));
    }
    if let Some(rest) = message.strip_prefix("unrecognized field name '") {
        let name: String = rest.trim_end_matches('\'').chars().take(64).collect();
        return FieldViolation::new(join(&name), "unknown field");
    }
    if message.starts_with("unrecognized enum value") {
        return FieldViolation::new(path, "not one of the enum's values");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return FieldViolation::new(join(name), "required");
    }
    let description = match message.split_once(", expected ") {
        Some((_, expected)) => {
            let expected = expected.split(" at line ").next().unwrap_or(expected);
            format!("invalid value, expected {expected}")
        }
        None => "invalid value".to_owned(),
    };
    FieldViolation::new(path, description)
}

/// The kind of a JSON syntax error, without the input's text.
fn json_error_kind(error: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

/// Query parameters (`name=value`, names by JSON or proto name, nested with
/// `.`; a repeated field by repeating the parameter) into `object`.
fn query_into(
    input: &MessageDescriptor,
    query: &str,
    reserved: &[FieldDescriptor],
    object: &mut Map<String, Value>,
    violations: &mut Vec<FieldViolation>,
) {
    for (name, value) in form_pairs(query) {
        let Some(path) = field_path(input, &name) else {
            violations.push(FieldViolation::new(name, "no such parameter"));
            continue;
        };
        if path.len() == 1 && reserved.contains(&path[0]) {
            violations.push(FieldViolation::new(
                name,
                "given by the path, not the query string",
            ));
            continue;
        }
        let Some((leaf, parents)) = path.split_last() else {
            continue;
        };
        let mut node = &mut *object;
        for parent in parents {
            let entry = node
                .entry(parent.json_name().to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(next) = entry else {
                return;
            };
            node = next;
        }
        let typed = scalar(leaf, &value);
        if leaf.is_list() {
            let entry = node
                .entry(leaf.json_name().to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(typed);
            }
        } else if node.insert(leaf.json_name().to_owned(), typed).is_some() {
            violations.push(FieldViolation::new(name, "given more than once"));
        }
    }
}

/// The field path a query parameter names, if it names a leaf (a scalar, an
/// enum or a string-valued well-known type, possibly repeated).
pub fn field_path(message: &MessageDescriptor, name: &str) -> Option<Vec<FieldDescriptor>> {
    let mut path = Vec::new();
    let mut current = message.clone();
    let parts: Vec<&str> = name.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = current
            .fields()
            .find(|f| f.json_name() == *part || f.name() == *part)?;
        let last = i + 1 == parts.len();
        match field.kind() {
            Kind::Message(inner) if field.is_map() => {
                let _ = inner;
                return None;
            }
            Kind::Message(inner) if is_string_wkt(&inner) => {
                if !last {
                    return None;
                }
            }
            Kind::Message(inner) => {
                if last || field.is_list() {
                    return None;
                }
                current = inner;
            }
            _ => {
                if !last {
                    return None;
                }
            }
        }
        path.push(field);
    }
    Some(path)
}

/// A query value as the JSON the field's kind takes; left a string when it
/// does not parse, for the message's own error to name.
fn scalar(field: &FieldDescriptor, raw: &str) -> Value {
    match field.kind() {
        Kind::Bool => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_owned()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => raw
            .parse::<i64>()
            .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
        Kind::Double | Kind::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(raw.to_owned()), Value::Number),
        // 64-bit integers are strings in proto3 JSON; enums by name.
        _ => Value::String(raw.to_owned()),
    }
}

/// `application/x-www-form-urlencoded` pairs, `+` as space, `%XX` decoded
/// (invalid UTF-8 replaced: the message's validation refuses it).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn decode_component(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The response message as JSON.
pub fn response_json(message: &DynamicMessage) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    // Serializing a well-formed decoded message into memory cannot fail; an
    // empty object would be the answer if it did.
    if message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .is_err()
    {
        return b"{}".to_vec();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_case() -> Route {
        crate::routes::routes(contracts::FILE_DESCRIPTOR_SET)
            .expect("routes")
            .into_iter()
            .find(|r| r.template == "/v1/cases" && r.body)
            .expect("OpenCase")
    }

    fn fields(result: Result<DynamicMessage, Vec<FieldViolation>>) -> Vec<(String, String)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect()
    }

    #[test]
    fn body_errors_name_the_field_without_its_value() {
        let route = open_case();
        let unknown = fields(request_message(
            &route,
            &[],
            None,
            br#"{"nickname": "Zed"}"#,
            Some("k"),
        ));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
        assert_eq!(unknown[0].0, "nickname");
        let wrong = fields(request_message(
            &route,
            &[],
            None,
            br#"{"arrival": {"arrivedAt": "Quellbrook"}}"#,
            Some("k"),
        ));
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert_eq!(wrong[0].0, "arrival.arrivedAt");
        assert!(!wrong[0].1.contains("Quellbrook"), "{wrong:?}");
    }

    #[test]
    fn the_idempotency_key_fills_the_request_id() {
        let route = open_case();
        let message = request_message(
            &route,
            &[],
            None,
            br#"{"facilityId": "cas-1"}"#,
            Some("key-1"),
        )
        .expect("a message");
        let json: Value = serde_json::from_slice(&response_json(&message)).expect("json");
        assert_eq!(json["requestId"], "key-1");
        assert_eq!(json["facilityId"], "cas-1");
        let given = fields(request_message(
            &route,
            &[],
            None,
            br#"{"request_id": "mine"}"#,
            Some("k"),
        ));
        assert_eq!(given[0].0, "request_id");
    }
}

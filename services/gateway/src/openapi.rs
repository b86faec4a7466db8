//! The OpenAPI 3.0 document, generated from the same descriptors as the
//! routes: paths and methods from the `google.api.http` rules, parameters and
//! bodies from the request messages, responses from the response messages
//! (proto3 JSON: JSON names, enums as strings, 64-bit integers as strings,
//! timestamps as RFC 3339), descriptions from the contracts' comments; the
//! PDND voucher and the ModI headers as security schemes and parameters; every
//! error a problem detail.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use crate::routes::Route;
use crate::transcode::is_string_wkt;
use crate::{IDEMPOTENCY_KEY, problem::PROBLEM_JSON};

/// The error statuses every operation may answer, and when.
const ERRORS: [(&str, &str); 11] = [
    (
        "400",
        "Invalid input (the fields at fault in `errors`), or a body whose Digest does not match",
    ),
    (
        "401",
        "No valid PDND voucher, tracking evidence or integrity signature",
    ),
    (
        "403",
        "The consumer, or the organisation it acts for, may not do this",
    ),
    (
        "404",
        "No such resource, or not visible to the consumer's organisation",
    ),
    ("409", "Not possible in the resource's current state"),
    ("413", "The body is too large"),
    ("415", "The body is not application/json"),
    ("429", "Too many requests: retry later"),
    ("502", "A service behind the facade failed"),
    (
        "503",
        "A service behind the facade is unavailable: retry later",
    ),
    ("504", "A service behind the facade did not answer in time"),
];

/// The document for `routes`, served at `public_url`.
pub fn document(routes: &[Route], public_url: &str, audience: &str) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut messages: BTreeMap<String, MessageDescriptor> = BTreeMap::new();
    for route in routes {
        let operation = operation(route, &mut |m| {
            if wanted.insert(m.full_name().to_owned()) {
                messages.insert(m.full_name().to_owned(), m.clone());
            }
        });
        paths
            .entry(route.template.clone())
            .or_default()
            .insert(route.http_method.as_str().to_owned(), operation);
    }
    // Every message the operations reference, and those they reference.
    let mut schemas = Map::new();
    let mut queue: Vec<MessageDescriptor> = messages.values().cloned().collect();
    let mut done = BTreeSet::new();
    while let Some(message) = queue.pop() {
        if !done.insert(message.full_name().to_owned()) {
            continue;
        }
        let schema = message_schema(&message, &[], &mut |m| queue.push(m.clone()));
        schemas.insert(message.full_name().to_owned(), schema);
    }
    schemas.insert("Problem".to_owned(), problem_schema());
    let mut responses = Map::new();
    for (status, description) in ERRORS {
        responses.insert(
            format!("Problem{status}"),
            json!({
                "description": description,
                "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Approdo: cases, placements, referrals and indicators for prefectures",
            "version": "1.0.0",
            "description": concat!(
                "The REST e-service of Approdo for prefecture systems on PDND Interoperabilità. ",
                "Every call carries a PDND voucher (`Authorization: Bearer`) and `Agid-JWT-TrackingEvidence` ",
                "(AUDIT_REST_02, bound by the voucher's `digest` claim); a call with a body carries ",
                "`Digest` and `Agid-JWT-Signature` (INTEGRITY_REST_02). A command carries `Idempotency-Key`: ",
                "a retry with the same key answers as the first call and records nothing more. ",
                "Generated from the gRPC contracts' google.api.http rules; JSON is proto3's JSON mapping."
            ),
            "x-pdnd-audience": audience,
        },
        "servers": [{ "url": public_url }],
        "security": [{ "PDNDVoucher": [], "AgidJWTTrackingEvidence": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "PDNDVoucher": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The voucher PDND Interoperabilità issues for the consumer's purpose (RS256 or ES256), for this e-service's audience."
                },
                "AgidJWTTrackingEvidence": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Agid-JWT-TrackingEvidence",
                    "description": "AUDIT_REST_02: a JWT signed with the consumer's key registered on PDND, with `userID`, `userLocation`, `LoA`, `purposeId` (the voucher's), `aud`, `iat`, `exp`, `jti`; the voucher's `digest` claim is its SHA-256."
                },
                "AgidJWTSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Agid-JWT-Signature",
                    "description": "INTEGRITY_REST_02: a JWT signed with the consumer's key, with `signed_headers` [{\"digest\": <the Digest header>}, {\"content-type\": <the Content-Type header>}], `aud`, `iat`, `exp` (at most 5 minutes later), a `jti` never used before."
                }
            }
        }
    })
}

fn operation(route: &Route, reference: &mut dyn FnMut(&MessageDescriptor)) -> Value {
    let method = &route.method;
    let description = comment(method.parent_file(), method.path()).unwrap_or_default();
    let summary = description
        .split(['.', '\n'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut parameters = Vec::new();
    for field in route.path_fields() {
        let mut schema = field_schema(&field, reference);
        if let Value::Object(s) = &mut schema {
            s.insert("minLength".into(), json!(1));
        }
        let mut parameter = json!({
            "name": field.name(),
            "in": "path",
            "required": true,
            "schema": schema,
        });
        if let Some(description) = comment(field.parent_file(), field.path()) {
            parameter["description"] = json!(description);
        }
        parameters.push(parameter);
    }
    if !route.body {
        let path_fields = route.path_fields();
        query_parameters(
            &route.input(),
            "",
            &path_fields,
            &mut parameters,
            reference,
            0,
        );
    }
    let mut security = json!([{ "PDNDVoucher": [], "AgidJWTTrackingEvidence": [] }]);
    let mut operation = Map::new();
    if route.body {
        security =
            json!([{ "PDNDVoucher": [], "AgidJWTTrackingEvidence": [], "AgidJWTSignature": [] }]);
        parameters.push(json!({
            "name": "Digest",
            "in": "header",
            "required": true,
            "description": "INTEGRITY_REST_02: `SHA-256=` and the base64 SHA-256 of the body's exact bytes (RFC 3230).",
            "schema": { "type": "string", "pattern": "^SHA-256=[A-Za-z0-9+/]{43}=$" }
        }));
        let mut excluded = route.path_fields();
        excluded.extend(route.request_id_field());
        let schema = message_schema(&route.input(), &excluded, reference);
        operation.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": schema } } }),
        );
    }
    if route.request_id_field().is_some() {
        parameters.push(json!({
            "name": IDEMPOTENCY_KEY,
            "in": "header",
            "required": true,
            "description": "The command's client request id: 1 to 64 characters of [A-Za-z0-9-] (a UUID fits). A retry with the same key (and the same consumer organisation) answers as the first call and records nothing more.",
            "schema": { "type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$" }
        }));
    }
    reference(&route.output());
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "Done",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{}", route.output().full_name()) } } }
        }),
    );
    for (status, _) in ERRORS {
        if (status == "413" || status == "415") && !route.body {
            continue;
        }
        responses.insert(
            status.into(),
            json!({ "$ref": format!("#/components/responses/Problem{status}") }),
        );
    }
    operation.insert("operationId".into(), json!(method.name()));
    operation.insert("summary".into(), json!(summary));
    operation.insert("description".into(), json!(description));
    operation.insert("tags".into(), json!([route.upstream]));
    operation.insert("security".into(), security);
    operation.insert("parameters".into(), Value::Array(parameters));
    operation.insert("responses".into(), Value::Object(responses));
    operation.insert("x-grpc-method".into(), json!(route.grpc_path));
    Value::Object(operation)
}

/// The query parameters of a message's leaves not bound by the path,
/// nested messages by dotted JSON names (at most three levels deep).
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    excluded: &[FieldDescriptor],
    parameters: &mut Vec<Value>,
    reference: &mut dyn FnMut(&MessageDescriptor),
    depth: usize,
) {
    for field in message.fields() {
        if excluded.contains(&field) || field.is_map() {
            continue;
        }
        let name = format!("{prefix}{}", field.json_name());
        match field.kind() {
            Kind::Message(inner) if !is_string_wkt(&inner) => {
                if !field.is_list() && depth < 3 {
                    query_parameters(
                        &inner,
                        &format!("{name}."),
                        &[],
                        parameters,
                        reference,
                        depth + 1,
                    );
                }
            }
            _ => {
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "schema": field_schema(&field, reference),
                });
                if let Some(description) = comment(field.parent_file(), field.path()) {
                    parameter["description"] = json!(description);
                }
                if field.is_list() {
                    parameter["style"] = json!("form");
                    parameter["explode"] = json!(true);
                }
                parameters.push(parameter);
            }
        }
    }
}

fn message_schema(
    message: &MessageDescriptor,
    excluded: &[FieldDescriptor],
    reference: &mut dyn FnMut(&MessageDescriptor),
) -> Value {
    let mut properties = Map::new();
    for field in message.fields() {
        if excluded.contains(&field) {
            continue;
        }
        let mut schema = field_schema(&field, reference);
        if let (Some(description), Value::Object(s)) =
            (comment(field.parent_file(), field.path()), &mut schema)
            && !s.contains_key("$ref")
        {
            s.insert("description".into(), json!(description));
        }
        properties.insert(field.json_name().to_owned(), schema);
    }
    let mut schema =
        json!({ "type": "object", "properties": properties, "additionalProperties": false });
    if let Some(description) = comment(message.parent_file(), message.path()) {
        schema["description"] = json!(description);
    }
    schema
}

fn field_schema(field: &FieldDescriptor, reference: &mut dyn FnMut(&MessageDescriptor)) -> Value {
    if field.is_map()
        && let Kind::Message(entry) = field.kind()
    {
        let value = entry.map_entry_value_field();
        return json!({ "type": "object", "additionalProperties": single_schema(&value, reference) });
    }
    let single = single_schema(field, reference);
    if field.is_list() {
        json!({ "type": "array", "items": single })
    } else {
        single
    }
}

fn single_schema(field: &FieldDescriptor, reference: &mut dyn FnMut(&MessageDescriptor)) -> Value {
    match field.kind() {
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "format": "byte" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({ "type": "integer", "format": "int32" })
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": 4_294_967_295_u32 })
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]{1,18}$" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]{1,19}$" })
        }
        Kind::Float | Kind::Double => json!({ "type": "number" }),
        Kind::Enum(e) => {
            json!({ "type": "string", "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>() })
        }
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
            "google.protobuf.Duration" => {
                json!({ "type": "string", "pattern": "^-?[0-9]{1,12}(\\.[0-9]{1,9})?s$" })
            }
            "google.protobuf.FieldMask" => json!({ "type": "string" }),
            _ => {
                reference(&m);
                json!({ "$ref": format!("#/components/schemas/{}", m.full_name()) })
            }
        },
    }
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "An RFC 9457 problem detail.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "type": "string", "description": "urn:approdo:problem:<code>" },
            "title": { "type": "string" },
            "status": { "type": "integer", "format": "int32" },
            "detail": { "type": "string", "description": "What went wrong, without personal data." },
            "code": { "type": "string", "description": "The problem's code, as in `type`." },
            "errors": {
                "type": "array",
                "description": "The fields at fault (gRPC's BadRequest field violations, by JSON name; a header by its name).",
                "items": {
                    "type": "object",
                    "required": ["field", "description"],
                    "properties": {
                        "field": { "type": "string" },
                        "description": { "type": "string" }
                    }
                }
            }
        }
    })
}

/// The leading comment of the element at `path` in its file, lines trimmed.
fn comment(file: FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_from_the_contracts() {
        let routes = crate::routes::routes(contracts::FILE_DESCRIPTOR_SET).expect("routes");
        let doc = document(&routes, "https://api.example.it/approdo", "approdo-rest");
        let open_case = &doc["paths"]["/v1/cases"]["post"];
        assert_eq!(open_case["operationId"], "OpenCase");
        assert!(
            open_case["description"]
                .as_str()
                .unwrap_or_default()
                .contains("pseudonymous"),
            "the RPC's comment is the description"
        );
        let body = &open_case["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"].get("facilityId").is_some());
        assert!(
            body["properties"].get("requestId").is_none(),
            "the request id is the Idempotency-Key header"
        );
        assert_eq!(
            body["properties"]["facilityId"]["description"],
            "A registered facility (RegisterFacility)."
        );
        let headers: Vec<&str> = open_case["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "header")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(headers, ["Digest", "Idempotency-Key"]);
        let list = &doc["paths"]["/v1/referrals"]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"overdueOnly"), "{names:?}");
        let indicators: Vec<&str> = doc["paths"]["/v1/indicators"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(indicators.contains(&"filter.provinces"), "{indicators:?}");
        let list_cases = &doc["paths"]["/v1/cases"]["get"]["parameters"];
        let order = list_cases
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "order")
            .expect("order");
        assert_eq!(order["schema"]["enum"][2], "LIST_ORDER_PRIORITY");
        assert_eq!(
            doc["components"]["schemas"]["approdo.screening.v1.CaseView"]["properties"]["openedAt"]
                ["format"],
            "date-time"
        );
        assert_eq!(
            doc["paths"]["/v1/cases/{case_id}"]["get"]["responses"]["404"]["$ref"],
            "#/components/responses/Problem404"
        );
    }
}

//! The REST routes, read from the contracts: every RPC with a `google.api.http`
//! rule in the descriptor set becomes a route (method, path template, body
//! mapping), calling that RPC on the service of its proto package. Nothing
//! here names an RPC: adding a rule to a `.proto` adds the route and its
//! OpenAPI operation.

use std::collections::BTreeSet;

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};

/// The field a command's client request id goes in; on REST it comes from
/// the `Idempotency-Key` header, never from the body.
pub const REQUEST_ID_FIELD: &str = "request_id";

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("the contracts' descriptor set cannot be read: {0}")]
    Descriptors(String),
    #[error("the contracts have no google.api.http extension (vendored google/api missing?)")]
    NoHttpExtension,
    #[error("{rpc}: unsupported http rule: {reason}")]
    Unsupported { rpc: String, reason: String },
    #[error("{rpc}: no upstream configured for `{upstream}`")]
    NoUpstream { rpc: String, upstream: String },
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// A single segment bound to a (top-level, string-like) request field.
    Field(FieldDescriptor),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
            HttpMethod::Put => "put",
            HttpMethod::Patch => "patch",
            HttpMethod::Delete => "delete",
        }
    }

    pub fn from_http(method: &http::Method) -> Option<Self> {
        Some(match *method {
            http::Method::GET => HttpMethod::Get,
            http::Method::POST => HttpMethod::Post,
            http::Method::PUT => HttpMethod::Put,
            http::Method::PATCH => HttpMethod::Patch,
            http::Method::DELETE => HttpMethod::Delete,
            _ => return None,
        })
    }
}

/// A REST route and the RPC it calls.
#[derive(Debug, Clone)]
pub struct Route {
    pub http_method: HttpMethod,
    /// As written in the rule, e.g. `/v1/cases/{case_id}` (OpenAPI's syntax too).
    pub template: String,
    pub segments: Vec<Segment>,
    /// `body: "*"`: every field not in the path comes from the JSON body.
    pub body: bool,
    pub method: MethodDescriptor,
    /// The service it calls: the second part of its package (`approdo.<name>.v1`).
    pub upstream: String,
    /// The gRPC path, `/package.Service/Method`.
    pub grpc_path: String,
}

impl Route {
    pub fn input(&self) -> MessageDescriptor {
        self.method.input()
    }

    pub fn output(&self) -> MessageDescriptor {
        self.method.output()
    }

    /// The request field the `Idempotency-Key` header fills, for commands.
    pub fn request_id_field(&self) -> Option<FieldDescriptor> {
        self.input()
            .get_field_by_name(REQUEST_ID_FIELD)
            .filter(|f| f.kind() == Kind::String && !f.is_list())
    }

    /// The request fields bound by the path.
    pub fn path_fields(&self) -> Vec<FieldDescriptor> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Field(f) => Some(f.clone()),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// The path's field values if `path` matches this route's template.
    pub fn matches(&self, path: &str) -> Option<Vec<(FieldDescriptor, String)>> {
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Field(field) => {
                    let value = percent_decode(part)?;
                    if value.is_empty() {
                        return None;
                    }
                    bound.push((field.clone(), value));
                }
            }
        }
        Some(bound)
    }
}

/// Every route of the descriptor set, in a stable order (by template, then method).
pub fn routes(descriptor_set: &[u8]) -> Result<Vec<Route>, RouteError> {
    let pool = DescriptorPool::decode(descriptor_set)
        .map_err(|e| RouteError::Descriptors(e.to_string()))?;
    let http = pool
        .get_extension_by_name("google.api.http")
        .ok_or(RouteError::NoHttpExtension)?;
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&http) {
                continue;
            }
            let rule = options.get_extension(&http);
            let Value::Message(rule) = rule.as_ref() else {
                continue;
            };
            routes.push(route(&method, rule)?);
            if let Some(Value::List(more)) = rule
                .get_field_by_name("additional_bindings")
                .as_deref()
                .cloned()
            {
                for binding in more {
                    if let Value::Message(binding) = binding {
                        routes.push(route(&method, &binding)?);
                    }
                }
            }
        }
    }
    routes.sort_by(|a, b| {
        (a.template.as_str(), a.http_method.as_str())
            .cmp(&(b.template.as_str(), b.http_method.as_str()))
    });
    let mut seen = BTreeSet::new();
    for route in &routes {
        if !seen.insert((route.http_method.as_str(), route.template.clone())) {
            return Err(unsupported(
                &route.method,
                format!(
                    "{} {} is bound twice",
                    route.http_method.as_str(),
                    route.template
                ),
            ));
        }
    }
    Ok(routes)
}

fn unsupported(method: &MethodDescriptor, reason: String) -> RouteError {
    RouteError::Unsupported {
        rpc: method.full_name().to_owned(),
        reason,
    }
}

fn route(method: &MethodDescriptor, rule: &DynamicMessage) -> Result<Route, RouteError> {
    if method.is_client_streaming() || method.is_server_streaming() {
        return Err(unsupported(
            method,
            "streaming RPCs have no REST route".into(),
        ));
    }
    let string_field = |name: &str| -> Option<String> {
        rule.has_field_by_name(name)
            .then(|| rule.get_field_by_name(name))
            .flatten()
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    let (http_method, template) = [
        (HttpMethod::Get, "get"),
        (HttpMethod::Post, "post"),
        (HttpMethod::Put, "put"),
        (HttpMethod::Patch, "patch"),
        (HttpMethod::Delete, "delete"),
    ]
    .into_iter()
    .find_map(|(m, name)| string_field(name).map(|t| (m, t)))
    .ok_or_else(|| unsupported(method, "no get/post/put/patch/delete pattern".into()))?;
    let body = match string_field("body").as_deref() {
        None | Some("") => false,
        Some("*") => true,
        Some(other) => {
            return Err(unsupported(
                method,
                format!("body \"{other}\": only \"*\" or none is supported"),
            ));
        }
    };
    if body == (http_method == HttpMethod::Get || http_method == HttpMethod::Delete) {
        return Err(unsupported(
            method,
            "GET and DELETE take no body; the others take body \"*\"".into(),
        ));
    }
    let input = method.input();
    let mut segments = Vec::new();
    let path = template
        .strip_prefix('/')
        .ok_or_else(|| unsupported(method, "the template must start with /".into()))?;
    for part in path.split('/') {
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let name = inner.strip_suffix("=*").unwrap_or(inner);
            let field = input.get_field_by_name(name).ok_or_else(|| {
                unsupported(
                    method,
                    format!("{{{name}}} names no top-level request field"),
                )
            })?;
            if field.is_list() || field.is_map() || !matches!(field.kind(), Kind::String) {
                return Err(unsupported(
                    method,
                    format!("{{{name}}} must be a singular string field"),
                ));
            }
            segments.push(Segment::Field(field));
        } else if part.is_empty()
            || part.contains(['{', '}', '*', ':'])
            || percent_decode(part).as_deref() != Some(part)
        {
            return Err(unsupported(
                method,
                format!("segment `{part}` is not supported"),
            ));
        } else {
            segments.push(Segment::Literal(part.to_owned()));
        }
    }
    let package = method.parent_service().package_name().to_owned();
    let upstream = package
        .split('.')
        .nth(1)
        .ok_or_else(|| {
            unsupported(
                method,
                format!("package {package} is not approdo.<name>.v1"),
            )
        })?
        .to_owned();
    Ok(Route {
        http_method,
        template,
        segments,
        body,
        grpc_path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
        method: method.clone(),
        upstream,
    })
}

/// `%XX` decoding of one path segment; `None` if malformed or not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_rules_become_routes() {
        let routes = routes(contracts::FILE_DESCRIPTOR_SET).expect("routes");
        let listed: Vec<String> = routes
            .iter()
            .map(|r| {
                format!(
                    "{} {} -> {} ({})",
                    r.http_method.as_str(),
                    r.template,
                    r.grpc_path,
                    r.upstream
                )
            })
            .collect();
        expect_test::expect![[r#"
            get /v1/cases -> /approdo.screening.v1.ScreeningService/ListCases (screening)
            post /v1/cases -> /approdo.screening.v1.ScreeningService/OpenCase (screening)
            get /v1/cases/{case_id} -> /approdo.screening.v1.ScreeningService/GetCase (screening)
            post /v1/cases/{case_id}/placements -> /approdo.screening.v1.ScreeningService/PlaceCase (screening)
            get /v1/cases/{case_id}/places -> /approdo.safe_space.v1.SafeSpaceService/GetCasePlaces (safe_space)
            get /v1/cases/{case_id}/referrals -> /approdo.referral.v1.ReferralService/GetCaseReferrals (referral)
            get /v1/indicators -> /approdo.monitoring.v1.MonitoringService/GetIndicators (monitoring)
            get /v1/referrals -> /approdo.referral.v1.ReferralService/ListReferrals (referral)"#]]
        .assert_eq(&listed.join("\n"));
    }

    #[test]
    fn a_path_binds_its_fields_decoded() {
        let routes = routes(contracts::FILE_DESCRIPTOR_SET).expect("routes");
        let get_case = routes
            .iter()
            .find(|r| r.template == "/v1/cases/{case_id}")
            .expect("GetCase");
        let bound = get_case.matches("/v1/cases/c%2D1").expect("matches");
        assert_eq!(bound[0].0.name(), "case_id");
        assert_eq!(bound[0].1, "c-1");
        assert!(get_case.matches("/v1/cases/").is_none());
        assert!(get_case.matches("/v1/cases/a/b").is_none());
        assert!(get_case.matches("/v1/cases/%zz").is_none());
    }
}

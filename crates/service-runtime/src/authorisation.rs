//! Who may call which RPC: one table per service, enforced in one place, a tower
//! layer in front of every handler. A caller is authenticated first
//! (UNAUTHENTICATED otherwise), then its organisation type must be allowed for
//! the RPC (PERMISSION_DENIED otherwise, and the refusal is recorded in the
//! service's log with ids and codes only). An RPC without a rule is refused.
//! Health and reflection are open. Finer rules on data (a receiver sees only
//! referrals addressed to it, a prefecture its own province) are in the handlers.
//!
//! The token is verified here, once per RPC: the layer puts the verified caller
//! in the request's extensions, where `CallerExtractor::caller` reads it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::metadata::MetadataMap;

use crate::caller::{Caller, CallerExtractor, OrganisationType, Verified};
use crate::error::ServiceError;

/// A refused call, to be recorded in the log by the service that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rpc: String,
    pub organisation_id: String,
    pub organisation_type: OrganisationType,
}

/// One RPC (`/package.Service/Method`) and the organisation types allowed to call it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub rpc: &'static str,
    pub allowed: &'static [OrganisationType],
}

/// Paths anyone may call: health and reflection.
pub const OPEN_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// A service's rules.
#[derive(Debug, Clone)]
pub struct AuthorisationTable {
    rules: Arc<Vec<Rule>>,
}

impl AuthorisationTable {
    pub fn new(rules: Vec<Rule>) -> Self {
        AuthorisationTable {
            rules: Arc::new(rules),
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether `org_type` may call `rpc`: false for an RPC without a rule.
    pub fn allows(&self, rpc: &str, org_type: OrganisationType) -> bool {
        self.rules
            .iter()
            .find(|rule| rule.rpc == rpc)
            .is_some_and(|rule| rule.allowed.contains(&org_type))
    }

    /// The caller, if the table lets it call `path` (`None` for open paths).
    fn decide(
        &self,
        callers: &CallerExtractor,
        path: &str,
        metadata: &MetadataMap,
        refusals: Option<&tokio::sync::mpsc::Sender<Refusal>>,
    ) -> Result<Option<Caller>, ServiceError> {
        if OPEN_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
            return Ok(None);
        }
        let caller = callers.extract_now(metadata)?;
        if self.allows(path, caller.organisation_type) {
            return Ok(Some(caller));
        }
        record_refusal(refusals, path, &caller);
        Err(ServiceError::PermissionDenied(format!(
            "{} may not call this RPC",
            caller.organisation_type.code()
        )))
    }
}

/// Logs a refusal and queues it to be recorded in the log by a background
/// task; a full queue (a flood of refusals) drops the record, never blocks or
/// fails the answer.
fn record_refusal(
    refusals: Option<&tokio::sync::mpsc::Sender<Refusal>>,
    path: &str,
    caller: &Caller,
) {
    tracing::warn!(
        rpc = path,
        organisation_id = %caller.organisation_id,
        organisation_type = caller.organisation_type.code(),
        "access refused"
    );
    if let Some(refusals) = refusals {
        let refusal = Refusal {
            rpc: path.to_owned(),
            organisation_id: caller.organisation_id.clone(),
            organisation_type: caller.organisation_type,
        };
        if refusals.try_send(refusal).is_err() {
            tracing::warn!(rpc = path, "access refusal not recorded: queue full");
        }
    }
}

/// Whether a handler answered `PERMISSION_DENIED` (a rule on data: another
/// province's case, another facility's, a referral addressed to someone else).
fn refused_by_handler<R>(response: &http::Response<R>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .is_some_and(|status| status.as_bytes() == b"7")
}

/// The tower layer that enforces an [`AuthorisationTable`].
#[derive(Debug, Clone)]
pub struct AuthorisationLayer {
    table: AuthorisationTable,
    callers: CallerExtractor,
    refusals: Option<tokio::sync::mpsc::Sender<Refusal>>,
}

impl AuthorisationLayer {
    pub fn new(table: AuthorisationTable, callers: CallerExtractor) -> Self {
        AuthorisationLayer {
            table,
            callers,
            refusals: None,
        }
    }

    /// Sends every refusal to `refusals`, to be recorded in the log.
    pub fn recording(mut self, refusals: tokio::sync::mpsc::Sender<Refusal>) -> Self {
        self.refusals = Some(refusals);
        self
    }
}

impl<S> tower::Layer<S> for AuthorisationLayer {
    type Service = Authorised<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorised {
            inner,
            table: self.table.clone(),
            callers: self.callers.clone(),
            refusals: self.refusals.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authorised<S> {
    inner: S,
    table: AuthorisationTable,
    callers: CallerExtractor,
    refusals: Option<tokio::sync::mpsc::Sender<Refusal>>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for Authorised<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let metadata = MetadataMap::from_headers(request.headers().clone());
        match self.table.decide(
            &self.callers,
            request.uri().path(),
            &metadata,
            self.refusals.as_ref(),
        ) {
            Ok(caller) => {
                if let Some(caller) = &caller {
                    request.extensions_mut().insert(Verified(caller.clone()));
                }
                // The clone is ready-polled lazily: swap so the polled one serves this call.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let refusals = self.refusals.clone();
                let path = request.uri().path().to_owned();
                Box::pin(async move {
                    let response = inner.call(request).await?;
                    // Refusals on data are recorded like refusals by the table.
                    if let Some(caller) = caller
                        && refused_by_handler(&response)
                    {
                        record_refusal(refusals.as_ref(), &path, &caller);
                    }
                    Ok(response)
                })
            }
            Err(error) => {
                let response = tonic::Status::from(error).into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::{TokenIssuer, Validity};
    use tower::{Layer, ServiceExt};

    const RULES: &[Rule] = &[Rule {
        rpc: "/approdo.test.v1.TestService/Write",
        allowed: &[OrganisationType::ReceptionOperator],
    }];

    async fn call(path: &str, token: Option<&str>) -> Option<String> {
        let issuer_token = token.map(str::to_owned);
        let inner = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
        let issuer = TokenIssuer::generate("t").expect("issuer");
        let layer = AuthorisationLayer::new(
            AuthorisationTable::new(RULES.to_vec()),
            CallerExtractor::trusting(&issuer),
        );
        let mut request = http::Request::builder().uri(format!("http://x{path}"));
        let token = issuer_token.map(|kind| {
            let org_type = OrganisationType::from_code(&kind).expect("type");
            issuer
                .token("s", "org-1", org_type, &[], None, Validity::from_now(60))
                .expect("token")
        });
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = layer
            .layer(inner)
            .oneshot(request.body(()).expect("request"))
            .await
            .expect("response");
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn allows_listed_types_refuses_others_unknown_rpcs_and_anonymous_callers() {
        assert_eq!(
            call(
                "/approdo.test.v1.TestService/Write",
                Some("reception_operator")
            )
            .await,
            None
        );
        assert_eq!(
            call("/approdo.test.v1.TestService/Write", Some("analyst"))
                .await
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            call(
                "/approdo.test.v1.TestService/Other",
                Some("reception_operator")
            )
            .await
            .as_deref(),
            Some("7")
        );
        assert_eq!(
            call("/approdo.test.v1.TestService/Write", None)
                .await
                .as_deref(),
            Some("16")
        );
        assert_eq!(call("/grpc.health.v1.Health/Check", None).await, None);
    }

    #[tokio::test]
    async fn the_token_is_verified_once_and_the_handler_reads_the_verified_caller() {
        let issuer = TokenIssuer::generate("t").expect("issuer");
        let extractor = CallerExtractor::trusting(&issuer);
        let layer =
            AuthorisationLayer::new(AuthorisationTable::new(RULES.to_vec()), extractor.clone());
        let (seen, mut callers) = tokio::sync::mpsc::channel(1);
        // The handler's side: the token is gone from the metadata, yet the
        // caller is there, because the layer verified it and passed it on.
        let handler = tower::service_fn(move |request: http::Request<()>| {
            let extractor = extractor.clone();
            let seen = seen.clone();
            async move {
                let mut request = tonic::Request::from_http(request);
                request.metadata_mut().remove("authorization");
                let _ = seen.send(extractor.caller(&request)).await;
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            }
        });
        let token = issuer
            .token(
                "s",
                "cas-1",
                OrganisationType::ReceptionOperator,
                &[],
                Some("AG"),
                Validity::from_now(60),
            )
            .expect("token");
        let request = http::Request::builder()
            .uri("http://x/approdo.test.v1.TestService/Write")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("request");
        layer
            .layer(handler)
            .oneshot(request)
            .await
            .expect("response");
        let caller = callers
            .try_recv()
            .expect("the handler ran")
            .expect("the verified caller");
        assert_eq!(caller.organisation_id, "cas-1");
        assert_eq!(
            caller.organisation_type,
            OrganisationType::ReceptionOperator
        );
        assert_eq!(caller.province.as_deref(), Some("AG"));
    }

    #[tokio::test]
    async fn a_handler_refusal_is_recorded_like_a_table_refusal() {
        let issuer = TokenIssuer::generate("t").expect("issuer");
        let (sender, mut recorded) = tokio::sync::mpsc::channel(4);
        let layer = AuthorisationLayer::new(
            AuthorisationTable::new(RULES.to_vec()),
            CallerExtractor::trusting(&issuer),
        )
        .recording(sender);
        // The handler refuses on data (for example a case of another facility).
        let refusing = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(
                tonic::Status::permission_denied("not yours").into_http::<()>(),
            )
        });
        let token = issuer
            .token(
                "s",
                "cas-1",
                OrganisationType::ReceptionOperator,
                &[],
                None,
                Validity::from_now(60),
            )
            .expect("token");
        let request = http::Request::builder()
            .uri("http://x/approdo.test.v1.TestService/Write")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("request");
        let response = layer
            .layer(refusing)
            .oneshot(request)
            .await
            .expect("response");
        assert_eq!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"7"[..])
        );
        let refusal = recorded
            .try_recv()
            .expect("the refusal is queued for the log");
        assert_eq!(refusal.organisation_id, "cas-1");
        assert_eq!(refusal.rpc, "/approdo.test.v1.TestService/Write");
        // An answer that is not a refusal records nothing.
        let serving = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
        let request = http::Request::builder()
            .uri("http://x/approdo.test.v1.TestService/Write")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .expect("request");
        layer
            .layer(serving)
            .oneshot(request)
            .await
            .expect("response");
        assert!(recorded.try_recv().is_err());
    }
}

//! What the safe-space service tells the runtime's watcher: the candidates
//! are the allocators with a hold whose deadline passed in the projection;
//! the domain decides, on the allocator's history, which holds expire.

use std::future::Future;

use safe_space_allocation::{Actor, Context};
use service_runtime::{DeadlineWatch, Prepared, ServiceError};
use time::OffsetDateTime;

use crate::aggregate::{Allocator, AllocatorContext, parse_allocator_id};
use crate::api::SafeSpaceApi;
use crate::projection;

impl DeadlineWatch for SafeSpaceApi {
    type Aggregate = Allocator;

    const WATCHER: &'static str = "safe-space-deadline-watcher";

    fn candidates(&self, now: OffsetDateTime) -> Result<Vec<String>, ServiceError> {
        projection::holds_due(self.projection.store(), now)
    }

    fn prepare(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Prepared<Allocator>, ServiceError>> + Send {
        let parsed = parse_allocator_id(id);
        let now = self.kernel.now();
        let policy = self.policy;
        async move {
            let (province, kind) =
                parsed.ok_or_else(|| ServiceError::internal("an allocator id the index holds"))?;
            Ok(Prepared {
                codec: (),
                context: AllocatorContext {
                    domain: Context {
                        now,
                        actor: Actor::System,
                        province,
                        kind,
                        policy,
                        case: Default::default(),
                    },
                    case: None,
                },
            })
        }
    }
}

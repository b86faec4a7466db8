//! Each receiver's inbox: the referrals addressed to it (a list), and a
//! resumable server-streaming watch of every change addressed to it, from a
//! cursor, with the datasets opened only after the read is recorded. A watch
//! holds one of its organisation's places while open and ends with the
//! caller's right to it (`watches`).

use std::pin::Pin;

use contracts::referral::v1 as api;
use service_runtime::paging::Page;
use service_runtime::{Caller, ServiceError, Violations};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{ReferralApi, WatchSlot};
use crate::projection;

/// A page of `organisation`'s inbox (the referrals addressed to it, drafts
/// left out; of one state if `state` is not empty), read from the list index.
pub(crate) fn list_inbox(
    store: &projection_sled::ProjectionStore,
    organisation: &str,
    state: &str,
    page: &Page,
) -> Result<(Vec<api::ReferralView>, String, projection::ListCost), projection_sled::StoreError> {
    // One state, or every state but drafts (never in a receiver's scope).
    let states: Vec<&str> = if state.is_empty() {
        case_referral::ReferralState::ALL
            .iter()
            .filter(|s| **s != case_referral::ReferralState::Draft)
            .map(|s| s.code())
            .collect()
    } else {
        vec![state]
    };
    let (referrals, next, cost) = projection::list_page(
        store,
        &format!("r={organisation}"),
        &states,
        page.after.as_deref(),
        page.size,
        |_, _| true,
    )?;
    Ok((referrals, next.map(hex::encode).unwrap_or_default(), cost))
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<api::WatchInboxResponse, Status>> + Send>>;

impl ReferralApi {
    pub(super) async fn list_inbox_rpc(
        &self,
        request: Request<api::ListInboxRequest>,
    ) -> Result<Response<api::ListInboxResponse>, Status> {
        let caller = self.callers.caller(&request)?;
        let r = request.into_inner();
        let mut v = Violations::default();
        let page = Page::parse(&mut v, r.page_size, &r.page_token);
        v.finish()?;
        self.wait_for(r.min_log_sequence).await?;
        let store = self.projection.store();
        let cursor =
            projection::inbox_head(store, &caller.organisation_id).map_err(ServiceError::from)?;
        let (mut referrals, next_page_token, _cost) =
            list_inbox(store, &caller.organisation_id, &r.state, &page)
                .map_err(ServiceError::from)?;
        self.reveal_datasets(&caller, &mut referrals).await?;
        Ok(Response::new(api::ListInboxResponse {
            referrals,
            cursor,
            next_page_token,
        }))
    }

    pub(super) async fn watch_inbox_rpc(
        &self,
        request: Request<api::WatchInboxRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let caller = self.callers.caller(&request)?;
        let after = request.into_inner().after_cursor;
        self.still_entitled(&caller)?;
        let slot = self.watches.admit(&caller.organisation_id)?;
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(self.clone().feed_inbox(caller, after, sender, slot));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    /// Sends the inbox rows after `cursor`, then waits for the projection to
    /// move and sends the new ones, until the client leaves, the service
    /// stops, or the caller may no longer watch (its token expired, its
    /// organisation deactivated: checked at every change and at least every
    /// recheck interval). The slot's place is freed when this ends.
    async fn feed_inbox(
        self,
        caller: Caller,
        mut cursor: u64,
        sender: mpsc::Sender<Result<api::WatchInboxResponse, Status>>,
        _slot: WatchSlot,
    ) {
        let mut applied = self.projection.watch();
        loop {
            if let Err(ended) = self.still_entitled(&caller) {
                tracing::info!(
                    organisation_id = %caller.organisation_id,
                    reason = %ended,
                    "inbox watch ended: the caller may no longer watch"
                );
                let _ = sender.send(Err(ended.into())).await;
                return;
            }
            let store = self.projection.store();
            let page = service_runtime::paging::MAX_PAGE_SIZE;
            let changes =
                match projection::inbox_after(store, &caller.organisation_id, cursor, page) {
                    Ok(changes) => changes,
                    Err(error) => {
                        let _ = sender.send(Err(ServiceError::from(error).into())).await;
                        return;
                    }
                };
            // A full page: more may follow at once, without waiting for a change.
            let more = changes.len() == page;
            // No record, no read: the datasets delivered are in the access log first.
            let (cursors, mut views): (Vec<u64>, Vec<api::ReferralView>) =
                changes.into_iter().unzip();
            if let Err(error) = self.reveal_datasets(&caller, &mut views).await {
                let _ = sender.send(Err(error.into())).await;
                return;
            }
            for (at, referral) in cursors.into_iter().zip(views) {
                cursor = at;
                let change = api::WatchInboxResponse {
                    cursor: at,
                    referral: Some(referral),
                };
                if sender.send(Ok(change)).await.is_err() {
                    return; // the client went away
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = sender.closed() => return,
                changed = applied.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(self.until_recheck(&caller)) => {}
            }
        }
    }
}

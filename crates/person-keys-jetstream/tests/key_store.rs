//! The key store's contract, against a real nats-server with JetStream: a key
//! is stored once, destroyed for good, and the reader only ever reads.

use case_log_jetstream::{CaseLog, CaseLogConfig, TokenId};
use nats_test_server::NatsServer;
use person_keys_jetstream::{KeeperStore, KeyStoreError, ReaderStore};

const STREAM: &str = "APPRODO_PERSON_KEYS";
const GUARDED: &str = "approdo.case.*.screening";

async fn log(server: &NatsServer) -> CaseLog {
    CaseLog::connect(&CaseLogConfig {
        url: server.url(),
        ..CaseLogConfig::default()
    })
    .await
    .expect("log")
}

fn id(text: &str) -> TokenId {
    TokenId::parse(text).expect("id")
}

#[tokio::test]
async fn a_key_is_stored_once_read_by_the_reader_and_destroyed_for_good() {
    let server = NatsServer::start();
    let log = log(&server).await;
    assert!(
        matches!(
            ReaderStore::open(&log, STREAM).await,
            Err(KeyStoreError::Refused { .. })
        ),
        "a reader never creates the store"
    );
    let keeper = KeeperStore::open(&log, STREAM, GUARDED)
        .await
        .expect("keeper");
    let person = id("person-1");
    let stored = keeper
        .get_or_put(&person, b"first".to_vec())
        .await
        .expect("put");
    assert_eq!(stored, b"first");
    let again = keeper
        .get_or_put(&person, b"second".to_vec())
        .await
        .expect("put again");
    assert_eq!(again, b"first", "the first key stays");

    let reader = ReaderStore::open(&log, STREAM).await.expect("reader");
    assert_eq!(
        reader.dataset_key(&person).await.expect("get"),
        None,
        "the reader reads datasets keys only, and there is none yet"
    );
    assert_eq!(
        keeper
            .get_or_put_dataset(&person, b"datasets".to_vec())
            .await
            .expect("put datasets key"),
        b"datasets"
    );
    assert_eq!(
        reader.dataset_key(&person).await.expect("get"),
        Some(b"datasets".to_vec())
    );
    assert_eq!(reader.dataset_key(&id("nobody")).await.expect("get"), None);
    assert_eq!(
        keeper.without_dataset_record().await.expect("list"),
        Vec::<TokenId>::new()
    );
    keeper
        .get_or_put(&id("person-2"), b"older".to_vec())
        .await
        .expect("put");
    assert_eq!(
        keeper.without_dataset_record().await.expect("list"),
        vec![id("person-2")]
    );

    assert!(keeper.destroy(&person).await.expect("destroy"));
    assert!(!keeper.destroy(&person).await.expect("destroy again"));
    assert_eq!(reader.dataset_key(&person).await.expect("get"), None);
    assert_eq!(keeper.get(&person).await.expect("get"), None);
    assert_eq!(
        keeper.dataset_record(&person).await.expect("record"),
        person_keys_jetstream::KeyRecord::Erased
    );
    assert!(
        matches!(
            keeper.get_or_put(&person, b"again".to_vec()).await,
            Err(KeyStoreError::Erased)
        ) && matches!(
            keeper.get_or_put_dataset(&person, b"again".to_vec()).await,
            Err(KeyStoreError::Erased)
        ),
        "an erased person gets neither key again"
    );
}

/// Found under load in the end-to-end tests: `EraseCase` destroys the key
/// while the erasure reconciler (or another replica) destroys it too. Both
/// read the key, one deletes it, and the other's delete found nothing to
/// delete: that was answered as "person key store unavailable", failing an
/// erasure that was complete. Destroying concurrently completes for both, and
/// the tombstones stand.
#[tokio::test]
async fn concurrent_destructions_of_one_key_both_complete_it() {
    let server = NatsServer::start();
    let log = log(&server).await;
    let keeper = KeeperStore::open(&log, STREAM, GUARDED)
        .await
        .expect("keeper");
    let replica = KeeperStore::open(&log, STREAM, GUARDED)
        .await
        .expect("another keeper");
    for n in 0..20 {
        let person = id(&format!("person-{n}"));
        keeper
            .get_or_put(&person, b"key".to_vec())
            .await
            .expect("put");
        keeper
            .get_or_put_dataset(&person, b"datasets".to_vec())
            .await
            .expect("put datasets key");
        let (first, second) = tokio::join!(keeper.destroy(&person), replica.destroy(&person));
        let (first, second) = (
            first.expect("the one destruction completes"),
            second.expect("the other destruction completes"),
        );
        assert!(first || second, "one of them found the key");
        assert_eq!(
            keeper.record(&person).await.expect("record"),
            person_keys_jetstream::KeyRecord::Erased
        );
        assert_eq!(
            keeper.dataset_record(&person).await.expect("record"),
            person_keys_jetstream::KeyRecord::Erased
        );
    }
}

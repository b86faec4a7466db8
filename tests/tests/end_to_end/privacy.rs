//! Privacy end to end, against a real nats-server: personal data reaches the log
//! only sealed with the person's key, so no file of the NATS store or of the
//! service's projection ever holds it in clear; reading it is recorded; erasure
//! destroys the key, after which neither the key (wrapped) nor the data can be
//! found anywhere on disk, while other people's data stays readable.

use std::path::Path;

use case_log_jetstream::TokenId;
use contracts::person::v1 as person;
use contracts::referral::v1 as referral_api;
use contracts::screening::v1 as api;
use person_keys_jetstream::{KeeperStore, KeyRecord, ReaderStore};
use service_runtime::OrganisationType;
use tonic::Code;

use crate::support::{
    Caller, ReferralClient as Referrals, ScreeningClient as Client, Service, System, eventually,
    token, ts, with_token,
};

struct Person {
    name: &'static str,
    family: &'static str,
    born: &'static str,
    health: &'static str,
}

const A: Person = Person {
    name: "Zephyrine",
    family: "Quellbrook-Amadi",
    born: "1987-04-13",
    health: "marker-Xq7-zephyr-health",
};
const B: Person = Person {
    name: "Ottoline",
    family: "Brackenridge",
    born: "1991-11-02",
    health: "marker-Vw3-ottoline-health",
};

/// The hotspot's psychologist: special-category details are open to that role.
fn operator_caller() -> Caller {
    Caller::operator("hotspot-lampedusa", "AG").with_roles(&["operator", "psychologist"])
}

fn operator<T>(message: T) -> tonic::Request<T> {
    operator_caller().request(message)
}

/// Every file below `dir` holding `needle`.
pub(crate) fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn assert_nowhere(dirs: &[&Path], person: &Person, when: &str) {
    for needle in [person.name, person.family, person.born, person.health] {
        for dir in dirs {
            let found = files_containing(dir, needle.as_bytes());
            assert!(found.is_empty(), "{when}: plaintext found in {found:?}");
        }
    }
}

async fn open(client: &mut Client, request: &str, person: &Person) -> String {
    client
        .open_case(operator(open_request(request, person)))
        .await
        .expect("open")
        .into_inner()
        .case_id
}

fn open_request(request: &str, person: &Person) -> api::OpenCaseRequest {
    api::OpenCaseRequest {
        request_id: request.to_owned(),
        arrival: Some(api::Arrival {
            place: "LAMPEDUSA".to_owned(),
            arrived_at: ts(time::OffsetDateTime::now_utc() - time::Duration::days(1)),
        }),
        province: "AG".to_owned(),
        facility_id: "hotspot-lampedusa".to_owned(),
        personal_data: Some(person::PersonalData {
            given_names: person.name.to_owned(),
            family_names: person.family.to_owned(),
            date_of_birth: person.born.to_owned(),
            ..Default::default()
        }),
        special_category_details: Some(person::SpecialCategoryDetails {
            health_notes: person.health.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn identity(
    client: &mut Client,
    case_id: &str,
) -> Result<api::GetCaseIdentityResponse, tonic::Status> {
    client
        .get_case_identity(operator(api::GetCaseIdentityRequest {
            case_id: case_id.to_owned(),
            purpose: "contact_person".to_owned(),
        }))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_sealed_read_on_record_and_erased_everywhere() {
    let system = System::start(&[Service::Screening]).await;
    let mut client = system.screening(&operator_caller()).await;
    let dirs = [system.nats().store_dir(), system.data_dir().to_path_buf()];
    let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();

    let case_a = open(&mut client, "privacy-a", &A).await;
    let case_b = open(&mut client, "privacy-b", &B).await;

    // The data is there, sealed: readable through the service, absent from every file.
    let read = identity(&mut client, &case_a).await.expect("identity of A");
    assert_eq!(
        read.personal_data.as_ref().map(|p| p.family_names.as_str()),
        Some(A.family)
    );
    assert_eq!(
        read.special_category_details
            .as_ref()
            .map(|s| s.health_notes.as_str()),
        Some(A.health)
    );
    assert_nowhere(&dirs, &A, "before erasure");
    assert_nowhere(&dirs, &B, "before erasure");

    // The read is in the case's history.
    let history = client
        .get_case_history(operator(api::GetCaseHistoryRequest {
            case_id: case_a.clone(),
            min_log_sequence: 0,
        }))
        .await
        .expect("history")
        .into_inner();
    assert!(
        history
            .entries
            .iter()
            .any(|e| e.event_types.iter().any(|t| t.ends_with("IdentityRead")))
    );

    // The wrapped key as stored, to look for it after erasure.
    let log = system.log().await;
    let keys = KeeperStore::open(&log, "APPRODO_PERSON_KEYS", "approdo.case.*.screening")
        .await
        .expect("key store");
    let wrapped = keys
        .get(&TokenId::parse(&case_a).expect("id"))
        .await
        .expect("get")
        .expect("A has a key");
    assert!(
        !files_containing(dirs[0], &wrapped).is_empty(),
        "the wrapped key is on disk before erasure"
    );
    // And the referral datasets key derived from it, stored beside it.
    let KeyRecord::Key(wrapped_datasets_key) = keys
        .dataset_record(&TokenId::parse(&case_a).expect("id"))
        .await
        .expect("get")
    else {
        panic!("A has a datasets key");
    };
    assert!(
        !files_containing(dirs[0], &wrapped_datasets_key).is_empty(),
        "the wrapped datasets key is on disk before erasure"
    );

    // Erasure: operators may not, a prefecture may.
    let refused = client
        .erase_case(operator(api::EraseCaseRequest {
            request_id: "erase-a".to_owned(),
            case_id: case_a.clone(),
            reason: "person_request".to_owned(),
        }))
        .await
        .expect_err("operators may not erase");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let prefecture = token(OrganisationType::Prefecture, "prefettura-ag", Some("AG"));
    let erased = client
        .erase_case(with_token(
            api::EraseCaseRequest {
                request_id: "erase-a".to_owned(),
                case_id: case_a.clone(),
                reason: "person_request".to_owned(),
            },
            &prefecture,
        ))
        .await
        .expect("erased")
        .into_inner();

    let after = identity(&mut client, &case_a)
        .await
        .expect_err("A's data is gone");
    assert_eq!(after.code(), Code::FailedPrecondition);
    assert!(
        keys.get(&TokenId::parse(&case_a).expect("id"))
            .await
            .expect("get")
            .is_none()
    );
    let found = files_containing(dirs[0], &wrapped);
    assert!(
        found.is_empty(),
        "the wrapped key survives on disk in {found:?}"
    );
    for dir in &dirs {
        assert!(files_containing(dir, &wrapped).is_empty());
        let found = files_containing(dir, &wrapped_datasets_key);
        assert!(
            found.is_empty(),
            "the wrapped datasets key survives on disk in {found:?}"
        );
    }
    assert_eq!(
        keys.dataset_record(&TokenId::parse(&case_a).expect("id"))
            .await
            .expect("get"),
        KeyRecord::Erased,
        "a tombstone stands where the datasets key was"
    );
    assert_nowhere(&dirs, &A, "after erasure");

    // Other people's data is intact.
    let other = identity(&mut client, &case_b).await.expect("B is intact");
    assert_eq!(
        other.personal_data.map(|p| p.family_names),
        Some(B.family.to_owned())
    );

    // The view says so; errors never carried the names.
    let view = client
        .get_case(operator(api::GetCaseRequest {
            case_id: case_a.clone(),
            min_log_sequence: erased.log_sequence,
        }))
        .await
        .expect("view")
        .into_inner()
        .case
        .expect("case");
    assert!(view.personal_data_erased);
    assert!(!after.message().contains(A.family));
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_key_store_is_never_silent() {
    let mut system = System::start(&[Service::Screening]).await;
    let mut client = system.screening(&operator_caller()).await;
    open(&mut client, "before-the-loss", &A).await;
    system.stop_service(Service::Screening).await;

    // The key store's files are lost (a lost volume), the case log's are not.
    system.nats_mut().kill();
    let lost = find_dir(&system.nats().store_dir(), "APPRODO_PERSON_KEYS")
        .expect("the key store's directory");
    std::fs::remove_dir_all(&lost).expect("remove");
    system.nats_mut().restart().expect("restart");

    let log = system.log().await;
    let refused = KeeperStore::open(&log, "APPRODO_PERSON_KEYS", "approdo.case.*.screening").await;
    assert!(
        refused.is_err(),
        "an empty key store must not be created silently over sealed data"
    );
    assert!(
        ReaderStore::open(&log, "APPRODO_PERSON_KEYS")
            .await
            .is_err(),
        "a reader refuses a missing key store"
    );
    // On a log without sealed data, a new key store is fine.
    let fresh = System::start(&[]).await;
    let empty = fresh.log().await;
    KeeperStore::open(&empty, "APPRODO_PERSON_KEYS", "approdo.case.*.screening")
        .await
        .expect("created on an empty log");
}

fn find_dir(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == name) {
                    return Some(path);
                }
                stack.push(path);
            }
        }
    }
    None
}

/// A referral's minimum dataset, distinctive enough to be searched for on disk.
fn dataset(marker: &str) -> referral_api::MinimumDataset {
    referral_api::MinimumDataset {
        categories: vec!["GBV".to_owned()],
        urgency: "high".to_owned(),
        languages: vec!["ti".to_owned()],
        communication_needs: vec![format!("{marker}_interpreter")],
        safety_instructions: vec![format!("{marker}_contact_via_sister")],
    }
}

/// The person's consent to refer every part of the dataset to the centre.
async fn consent(referrals: &mut Referrals, case_id: &str, request_id: &str) -> String {
    referrals
        .give_consent(operator(referral_api::GiveConsentRequest {
            request_id: request_id.to_owned(),
            case_id: case_id.to_owned(),
            recipient: Some(referral_api::Recipient {
                recipient: Some(referral_api::recipient::Recipient::OrganisationId(
                    CAV.to_owned(),
                )),
            }),
            basis: Some(referral_api::give_consent_request::Basis::Consent(
                referral_api::ConsentBasis {
                    purpose: "protection_and_support".to_owned(),
                    scopes: [
                        "categories",
                        "urgency",
                        "communication",
                        "safety_instructions",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                    valid_until: ts(time::OffsetDateTime::now_utc() + time::Duration::days(90)),
                    grantor: "person".to_owned(),
                    ..Default::default()
                },
            )),
            given_at: ts(time::OffsetDateTime::now_utc() - time::Duration::minutes(5)),
        }))
        .await
        .expect("consent")
        .into_inner()
        .consent_id
}

/// Refers a case to the centre for GBV: a GBV signal is raised first (a
/// dataset may carry only categories the case has).
async fn refer(
    referrals: &mut Referrals,
    cases: &mut Client,
    case_id: &str,
    marker: &str,
) -> referral_api::CreateReferralResponse {
    cases
        .raise_vulnerability_signal(operator(api::RaiseVulnerabilitySignalRequest {
            request_id: format!("signal-{case_id}"),
            case_id: case_id.to_owned(),
            suspected: Some(api::SuspectedCategory {
                category: "GBV".to_owned(),
                ..Default::default()
            }),
            urgency: "high".to_owned(),
            raised_by_role: "cultural_mediator".to_owned(),
            raised_at: ts(time::OffsetDateTime::now_utc() - time::Duration::minutes(1)),
            gbv_disclosure: true,
        }))
        .await
        .expect("GBV signal");
    let consent = consent(referrals, case_id, &format!("consent-{case_id}")).await;
    referrals
        .create_referral(operator(referral_api::CreateReferralRequest {
            request_id: format!("refer-{case_id}"),
            case_id: case_id.to_owned(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id: consent,
            dataset: Some(dataset(marker)),
            send: true,
        }))
        .await
        .expect("referral")
        .into_inner()
}

const CAV: &str = "differenza-donna";

fn centre<T>(message: T) -> tonic::Request<T> {
    Caller::receiver(CAV, None).request(message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referral_datasets_are_sealed_opened_on_record_and_dropped_on_erasure() {
    let system = System::start(&[Service::Screening, Service::Referral]).await;
    let mut cases = system.screening(&operator_caller()).await;
    let mut referrals = system.referral(&operator_caller()).await;
    let dirs = [system.nats().store_dir(), system.data_dir().to_path_buf()];
    let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
    // The marker codes are public configuration (their vocabulary is in the
    // log in clear); what must be nowhere is the dataset itself: its plaintext
    // encoding, which holds them beside the person's categories and languages.
    let markers_nowhere = |marker: &str, when: &str| {
        use prost::Message;
        let plaintext = dataset(marker).encode_to_vec();
        for dir in &dirs {
            let found = files_containing(dir, &plaintext);
            assert!(found.is_empty(), "{when}: dataset plaintext in {found:?}");
        }
    };

    referrals
        .register_organisation(with_token(
            referral_api::RegisterOrganisationRequest {
                request_id: "register-cav".to_owned(),
                profile: Some(referral_api::OrganisationProfile {
                    organisation_id: CAV.to_owned(),
                    name: "Differenza Donna".to_owned(),
                    service_types: vec!["anti_violence_centre".to_owned()],
                    provinces: vec!["AG".to_owned()],
                    languages: vec!["it".to_owned()],
                    intake_channel: "approdo".to_owned(),
                    availability: "available".to_owned(),
                    active: true,
                    ..Default::default()
                }),
            },
            &token(OrganisationType::Administrator, "ministry", None),
        ))
        .await
        .expect("register");
    // The markers travel as codes of the dataset's closed vocabularies: an
    // administrator publishes them first (a code outside them is refused).
    let vocabulary = |kind: &str, suffix: &str| contracts::vocabulary::v1::Vocabulary {
        kind: kind.to_owned(),
        codes: ["zqa7", "zqb8", "zqa9"]
            .map(|m| format!("{m}_{suffix}"))
            .to_vec(),
    };
    referrals
        .publish_vocabularies(with_token(
            referral_api::PublishVocabulariesRequest {
                request_id: "marker-codes".to_owned(),
                vocabularies: vec![
                    vocabulary("communication_need", "interpreter"),
                    vocabulary("safety_instruction", "contact_via_sister"),
                ],
            },
            &token(OrganisationType::Administrator, "ministry", None),
        ))
        .await
        .expect("marker codes published");
    let case_a = open(&mut cases, "dataset-a", &A).await;
    let case_b = open(&mut cases, "dataset-b", &B).await;
    let referral_a = refer(&mut referrals, &mut cases, &case_a, "zqa7").await;
    let referral_b = refer(&mut referrals, &mut cases, &case_b, "zqb8").await;

    // The receiver reads both datasets, opened for it; the read is recorded first.
    let inbox = referrals
        .list_inbox(centre(referral_api::ListInboxRequest {
            min_log_sequence: referral_b.log_sequence,
            ..Default::default()
        }))
        .await
        .expect("inbox")
        .into_inner();
    let of = |referral_id: &str, views: &[referral_api::ReferralView]| {
        views
            .iter()
            .find(|v| v.referral_id == referral_id)
            .cloned()
            .expect("the referral is listed")
    };
    assert_eq!(
        of(&referral_a.referral_id, &inbox.referrals).dataset,
        Some(dataset("zqa7"))
    );
    assert_eq!(
        of(&referral_b.referral_id, &inbox.referrals).dataset,
        Some(dataset("zqb8"))
    );
    // One read of two cases: one access record of the call, listing both, in
    // the reader's own access log.
    let centre_id = TokenId::parse(CAV).expect("id");
    let records: Vec<referral_api::ReferralDatasetsRead> = system
        .log()
        .await
        .history(
            &case_log_jetstream::HistoryScope::Root {
                kind: case_log_jetstream::RootKind::Organisation,
                id: centre_id,
            },
            case_log_jetstream::HistoryBound::All,
        )
        .await
        .expect("history")
        .iter()
        .flat_map(|c| c.commit.events.iter())
        .filter_map(|e| {
            use prost::Message;
            case_log_jetstream::contract::is::<referral_api::ReferralDatasetsRead>(&e.event_type)
                .then(|| referral_api::ReferralDatasetsRead::decode(e.payload.as_slice()).ok())
                .flatten()
        })
        .collect();
    assert_eq!(records.len(), 1, "one record for the call");
    let listed: Vec<&str> = records[0]
        .reads
        .iter()
        .map(|r| r.case_id.as_str())
        .collect();
    assert!(
        listed.contains(&case_a.as_str()) && listed.contains(&case_b.as_str()),
        "the receiver's read of both cases is in the access log: {listed:?}"
    );
    // Never in clear on disk: not in the log, not in the projection.
    markers_nowhere("zqa7", "before erasure");
    markers_nowhere("zqb8", "before erasure");

    let erased = cases
        .erase_case(with_token(
            api::EraseCaseRequest {
                request_id: "erase-dataset-a".to_owned(),
                case_id: case_a.clone(),
                reason: "person_request".to_owned(),
            },
            &token(OrganisationType::Prefecture, "prefettura-ag", Some("AG")),
        ))
        .await
        .expect("erased")
        .into_inner();
    let case_referrals = |min_log_sequence: u64| {
        let mut referrals = referrals.clone();
        let case_id = case_a.clone();
        async move {
            referrals
                .get_case_referrals(operator(referral_api::GetCaseReferralsRequest {
                    case_id,
                    min_log_sequence,
                }))
                .await
                .expect("case referrals")
                .into_inner()
        }
    };
    eventually("the referral projection applies the erasure", || async {
        case_referrals(erased.log_sequence)
            .await
            .referrals
            .iter()
            .all(|r| r.personal_data_erased)
    })
    .await;
    let after = case_referrals(0).await;
    let view = of(&referral_a.referral_id, &after.referrals);
    assert_eq!(view.dataset, None);
    assert!(view.personal_data_erased);
    // The receiver's inbox no longer opens it; the other person's is intact.
    let inbox = referrals
        .list_inbox(centre(referral_api::ListInboxRequest::default()))
        .await
        .expect("inbox")
        .into_inner();
    assert_eq!(of(&referral_a.referral_id, &inbox.referrals).dataset, None);
    assert_eq!(
        of(&referral_b.referral_id, &inbox.referrals).dataset,
        Some(dataset("zqb8"))
    );
    markers_nowhere("zqa7", "after erasure");
    // A new referral for the erased person cannot carry a dataset.
    let consent_after = consent(&mut referrals, &case_a, "consent-after-erasure").await;
    let refused = referrals
        .create_referral(operator(referral_api::CreateReferralRequest {
            request_id: "refer-after-erasure".to_owned(),
            case_id: case_a.clone(),
            receiver_organisation_id: CAV.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id: consent_after,
            dataset: Some(dataset("zqa9")),
            send: true,
        }))
        .await
        .expect_err("nothing can be sealed for an erased person");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    markers_nowhere("zqa9", "after a refused referral");
    system.stop().await;
}

/// Found by attacking the running system: erasure, then a retry of the
/// original `OpenCase`, put a new key in the key store for the erased person;
/// a refused `OpenCase` left a key behind too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_cannot_be_undone_and_refused_openings_create_no_key() {
    let system = System::start(&[Service::Screening]).await;
    let mut client = system.screening(&operator_caller()).await;
    let log = system.log().await;
    let keys = KeeperStore::open(&log, "APPRODO_PERSON_KEYS", "approdo.case.*.screening")
        .await
        .expect("key store");
    let record = |case_id: &str| {
        let keys = keys.clone();
        let id = TokenId::parse(case_id).expect("id");
        async move { keys.record(&id).await.expect("record") }
    };

    let first = client
        .open_case(operator(open_request("undo-a", &A)))
        .await
        .expect("open")
        .into_inner();
    let case_a = first.case_id.clone();
    assert!(matches!(record(&case_a).await, KeyRecord::Key(_)));
    let prefecture = token(OrganisationType::Prefecture, "prefettura-ag", Some("AG"));
    client
        .erase_case(with_token(
            api::EraseCaseRequest {
                request_id: "undo-erase".to_owned(),
                case_id: case_a.clone(),
                reason: "person_request".to_owned(),
            },
            &prefecture,
        ))
        .await
        .expect("erase");
    assert_eq!(record(&case_a).await, KeyRecord::Erased);

    // The original opening, replayed: the original answer, and no key.
    let replayed = client
        .open_case(operator(open_request("undo-a", &A)))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed, first, "a replay answers the original result");
    assert_eq!(record(&case_a).await, KeyRecord::Erased, "no key again");
    let read = identity(&mut client, &case_a).await.expect_err("erased");
    assert_eq!(read.code(), Code::FailedPrecondition, "{read:?}");
    // No key can be created for the person by any path: the tombstone refuses it.
    let stored = keys
        .get_or_put(&TokenId::parse(&case_a).expect("id"), vec![1, 2, 3])
        .await;
    assert!(matches!(
        stored,
        Err(person_keys_jetstream::KeyStoreError::Erased)
    ));

    // A refused opening (outside the operator's facility) creates no key.
    let elsewhere = api::OpenCaseRequest {
        facility_id: "cas-elsewhere".to_owned(),
        ..open_request("undo-elsewhere", &B)
    };
    let refused = client
        .open_case(operator(elsewhere))
        .await
        .expect_err("another facility");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let would_be = screening::api::new_case_id("hotspot-lampedusa", "undo-elsewhere");
    assert_eq!(record(would_be.as_str()).await, KeyRecord::Missing);

    // An erasure whose key was not destroyed (recorded in the log only) is
    // completed by the reconciler.
    let case_b = open(&mut client, "undo-b", &B).await;
    assert!(matches!(record(&case_b).await, KeyRecord::Key(_)));
    erase_in_the_log_only(&log, &case_b).await;
    eventually("the reconciler destroys the key", || {
        let record = record(&case_b);
        async move { record.await == KeyRecord::Erased }
    })
    .await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasures_whose_key_is_not_destroyed_yet_are_counted_in_the_status() {
    let system = System::start(&[Service::Screening]).await;
    let mut client = system.screening(&operator_caller()).await;
    let log = system.log().await;
    let case_id = open(&mut client, "pending-erasure", &A).await;
    let keys = KeeperStore::open(&log, "APPRODO_PERSON_KEYS", "approdo.case.*.screening")
        .await
        .expect("key store");
    let erasures_pending = || async {
        system
            .projection_status(Service::Screening)
            .await
            .erasures_pending
    };
    assert_eq!(erasures_pending().await, 0);

    // The key store out of reach (its stream gone): the erasure recorded in
    // the log cannot be completed, and the status says so.
    let key_store = log
        .jetstream()
        .get_stream("APPRODO_PERSON_KEYS")
        .await
        .expect("key stream");
    let key_store_config = key_store.cached_info().config.clone();
    log.jetstream()
        .delete_stream("APPRODO_PERSON_KEYS")
        .await
        .expect("delete the key stream");
    erase_in_the_log_only(&log, &case_id).await;
    eventually("the erasure is reported pending", || async {
        erasures_pending().await == 1
    })
    .await;

    // Back within reach: the reconciler completes it, and none is pending.
    log.jetstream()
        .create_stream(key_store_config)
        .await
        .expect("the key stream again");
    eventually("the erasure is completed and no longer pending", || async {
        erasures_pending().await == 0
    })
    .await;
    let id = TokenId::parse(&case_id).expect("id");
    assert_eq!(keys.record(&id).await.expect("record"), KeyRecord::Erased);
    system.stop().await;
}

/// Appends `PersonalDataErased` to the case's screening record, as an
/// `EraseCase` that stopped before destroying the key would have left it.
async fn erase_in_the_log_only(log: &case_log_jetstream::CaseLog, case_id: &str) {
    use case_log_jetstream::{
        Actor, AggregateAddress, HistoryBound, HistoryScope, NewCommit, NewEvent, PendingCommit,
        Producer, RootKind,
    };
    let address = AggregateAddress::new(
        RootKind::Case,
        TokenId::parse(case_id).expect("id"),
        Producer::Screening,
    );
    let history = log
        .history(&HistoryScope::Aggregate(address.clone()), HistoryBound::All)
        .await
        .expect("history");
    let now = time::OffsetDateTime::now_utc();
    log.append(&NewCommit {
        address,
        previous_sequence: history.last().map_or(0, |c| c.sequence),
        pending: PendingCommit {
            request_id: "erased-without-key-destruction".to_owned(),
            actor: Actor {
                organisation_id: "prefettura-ag".to_owned(),
                organisation_type: "prefecture".to_owned(),
                ..Default::default()
            },
            occurred_at: now,
            correlation_id: String::new(),
            causation_id: String::new(),
            events: vec![NewEvent::encode(
                &case_log_jetstream::contract::event_type::<api::PersonalDataErased>(),
                1,
                &api::PersonalDataErased {
                    reason: "person_request".to_owned(),
                    erased_at: ts(now),
                },
            )],
            reply: Vec::new(),
        },
    })
    .await
    .expect("append");
}

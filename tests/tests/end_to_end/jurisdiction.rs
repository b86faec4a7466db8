//! Jurisdiction on every case-scoped RPC, generated from the contracts: every
//! RPC whose request names a `case_id` must have an example here (a new one
//! without fails), and for each, a caller of each organisation type outside the
//! case's jurisdiction (another facility, another province, a receiving service
//! the case was never referred to) is refused with PERMISSION_DENIED, and the
//! refusal appends nothing about the case.

use case_log_jetstream::{HistoryBound, HistoryScope, RootKind, TokenId};
use contracts::FILE_DESCRIPTOR_SET;
use contracts::referral::v1 as referral;
use contracts::safe_space::v1 as safe_space;
use contracts::screening::v1 as screening;
use prost::Message;
use service_runtime::OrganisationType;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;

use crate::referral::{CAV, Fixture, NOW, consent_request};
use crate::support::{Caller, Service, ts};

/// A request already encoded, and the answer left encoded: any RPC, one client.
#[derive(Default)]
struct RawCodec;

struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// Every RPC whose request message has a `case_id` field, with its service.
fn case_scoped_rpcs() -> Vec<(String, String)> {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptors");
    let mut found = Vec::new();
    for file in &set.file {
        let package = file.package();
        let has_case_id = |type_name: &str| {
            file.message_type.iter().any(|m| {
                format!(".{package}.{}", m.name()) == type_name
                    && m.field.iter().any(|f| f.name() == "case_id")
            })
        };
        for service in &file.service {
            for method in &service.method {
                if has_case_id(method.input_type()) {
                    found.push((
                        format!("{package}.{}", service.name()),
                        format!("/{package}.{}/{}", service.name(), method.name()),
                    ));
                }
            }
        }
    }
    found
}

/// A valid request for each case-scoped RPC (valid, so that what refuses it
/// is the jurisdiction, not validation).
fn example(rpc: &str, case_id: &str, consent_id: &str, referral_id: &str) -> Option<Vec<u8>> {
    let case_id = case_id.to_owned();
    let request_id = format!("outsider-{}", rpc.rsplit('/').next().unwrap_or("rpc"));
    let category = |code: &str| screening::SuspectedCategory {
        category: code.to_owned(),
        indicators: vec![],
        ..Default::default()
    };
    Some(match rpc.rsplit('/').next()? {
        "RecordPreliminaryCheck" => screening::RecordPreliminaryCheckRequest {
            request_id,
            case_id,
            suspected: vec![category("TRAFFICKING")],
            urgency: "high".to_owned(),
            place: "LAMPEDUSA".to_owned(),
            checked_at: ts(NOW - time::Duration::hours(1)),
            ..Default::default()
        }
        .encode_to_vec(),
        "RaiseVulnerabilitySignal" => screening::RaiseVulnerabilitySignalRequest {
            request_id,
            case_id,
            suspected: Some(category("TRAFFICKING")),
            urgency: "high".to_owned(),
            raised_by_role: "cultural_mediator".to_owned(),
            raised_at: ts(NOW - time::Duration::hours(1)),
            gbv_disclosure: false,
        }
        .encode_to_vec(),
        "RecordAssessment" => screening::RecordAssessmentRequest {
            request_id,
            case_id,
            outcomes: vec![screening::CategoryOutcome {
                category: "GBV".to_owned(),
                status: "ruled_out".to_owned(),
                ..Default::default()
            }],
            assessed_at: ts(NOW - time::Duration::minutes(30)),
            assessor_role: "psychologist".to_owned(),
            ..Default::default()
        }
        .encode_to_vec(),
        "RecordFormalIdentification" => screening::RecordFormalIdentificationRequest {
            request_id,
            case_id,
            category: "TRAFFICKING".to_owned(),
            identified_at: ts(NOW - time::Duration::minutes(20)),
        }
        .encode_to_vec(),
        "RecordApplication" => screening::RecordApplicationRequest {
            request_id,
            case_id,
            application_date: "2026-06-19".to_owned(),
        }
        .encode_to_vec(),
        "PlaceCase" => screening::PlaceCaseRequest {
            request_id,
            case_id,
            facility_id: "cas-roma-1".to_owned(),
            province: "RM".to_owned(),
            facility_kind: "cas".to_owned(),
            placed_at: ts(NOW - time::Duration::minutes(10)),
            ..Default::default()
        }
        .encode_to_vec(),
        "CloseCase" => screening::CloseCaseRequest {
            request_id,
            case_id,
            reason: "left_reception".to_owned(),
            closed_at: ts(NOW - time::Duration::minutes(5)),
        }
        .encode_to_vec(),
        "GetCase" => screening::GetCaseRequest {
            case_id,
            ..Default::default()
        }
        .encode_to_vec(),
        "GetCaseIdentity" => screening::GetCaseIdentityRequest {
            case_id,
            purpose: "safeguarding".to_owned(),
        }
        .encode_to_vec(),
        "EraseCase" => screening::EraseCaseRequest {
            request_id,
            case_id,
            reason: "person_request".to_owned(),
        }
        .encode_to_vec(),
        "GetCaseHistory" => screening::GetCaseHistoryRequest {
            case_id,
            ..Default::default()
        }
        .encode_to_vec(),
        // Analysts only; a prefecture's analyst of another province: `replay.rs`.
        "GetCaseHistoryAsOf" => contracts::monitoring::v1::GetCaseHistoryAsOfRequest {
            case_id,
            as_of: Some(
                contracts::monitoring::v1::get_case_history_as_of_request::AsOf::AsOfSequence(1),
            ),
        }
        .encode_to_vec(),
        "RecordAgeAssessment" => screening::RecordAgeAssessmentRequest {
            request_id,
            case_id,
            age_band: "16-17".to_owned(),
            assessed_at: ts(NOW - time::Duration::minutes(5)),
        }
        .encode_to_vec(),
        "AppointGuardian" => screening::AppointGuardianRequest {
            request_id,
            case_id,
            guardian_kind: "volunteer_guardian".to_owned(),
            appointed_at: ts(NOW - time::Duration::minutes(5)),
            ..Default::default()
        }
        .encode_to_vec(),
        "ScheduleFollowUp" => screening::ScheduleFollowUpRequest {
            request_id,
            case_id,
            due_on: "2026-06-27".to_owned(),
            purpose: "wellbeing".to_owned(),
        }
        .encode_to_vec(),
        "RecordFollowUp" => screening::RecordFollowUpRequest {
            request_id,
            case_id,
            outcome: "found".to_owned(),
            at: ts(NOW - time::Duration::minutes(5)),
            ..Default::default()
        }
        .encode_to_vec(),
        "SuggestReceivers" => referral::SuggestReceiversRequest {
            case_id,
            ..Default::default()
        }
        .encode_to_vec(),
        "GiveConsent" => referral::GiveConsentRequest {
            request_id,
            ..consent_request(&case_id, CAV)
        }
        .encode_to_vec(),
        "WithdrawConsent" => referral::WithdrawConsentRequest {
            request_id,
            case_id,
            consent_id: consent_id.to_owned(),
        }
        .encode_to_vec(),
        "RefuseConsent" => referral::RefuseConsentRequest {
            request_id,
            case_id,
            recipient: consent_request("", CAV).recipient,
            purpose: "protection_and_support".to_owned(),
            refused_at: ts(NOW - time::Duration::minutes(5)),
        }
        .encode_to_vec(),
        "CreateReferral" => referral::CreateReferralRequest {
            request_id,
            case_id,
            receiver_organisation_id: CAV.to_owned(),
            service_type: "anti_violence_centre".to_owned(),
            consent_id: consent_id.to_owned(),
            dataset: Some(referral::MinimumDataset {
                categories: vec!["GBV".to_owned()],
                urgency: "high".to_owned(),
                ..Default::default()
            }),
            send: true,
        }
        .encode_to_vec(),
        "UpdateReferral" => referral::UpdateReferralRequest {
            request_id,
            case_id,
            referral_id: referral_id.to_owned(),
            action: Some(referral::update_referral_request::Action::Accept(
                referral::update_referral_request::Accept {},
            )),
        }
        .encode_to_vec(),
        "GetCaseReferrals" => referral::GetCaseReferralsRequest {
            case_id,
            min_log_sequence: 0,
        }
        .encode_to_vec(),
        "RequestPlace" => safe_space::RequestPlaceRequest {
            request_id,
            case_id,
            allocator: allocator(),
            ..Default::default()
        }
        .encode_to_vec(),
        "CancelPlaceRequest" => safe_space::CancelPlaceRequestRequest {
            request_id,
            case_id,
            allocator: allocator(),
        }
        .encode_to_vec(),
        "ConfirmArrival" => safe_space::ConfirmArrivalRequest {
            request_id,
            case_id,
            allocator: allocator(),
        }
        .encode_to_vec(),
        "ReleasePlace" => safe_space::ReleasePlaceRequest {
            request_id,
            case_id,
            allocator: allocator(),
            reason: "discharge".to_owned(),
        }
        .encode_to_vec(),
        "GetCasePlaces" => safe_space::GetCasePlacesRequest { case_id }.encode_to_vec(),
        "DiscloseLocation" => safe_space::DiscloseLocationRequest {
            request_id,
            case_id,
            space_id: "3c0e5d1a-77b2-4f60-8d2e-5a4b9c1fa003".to_owned(),
            purpose: "transfer".to_owned(),
        }
        .encode_to_vec(),
        "Reserve" => safe_space::ReserveRequest {
            request_id,
            case_id,
            allocator: allocator(),
            space_id: "3c0e5d1a-77b2-4f60-8d2e-5a4b9c1fa003".to_owned(),
        }
        .encode_to_vec(),
        "GetWaitingPosition" => safe_space::GetWaitingPositionRequest { case_id }.encode_to_vec(),
        _ => return None,
    })
}

/// The safe-space allocator the examples name (the case's province).
fn allocator() -> Option<safe_space::AllocatorRef> {
    Some(safe_space::AllocatorRef {
        province: "AG".to_owned(),
        kind: "trafficking_shelter".to_owned(),
    })
}

/// Callers of each organisation type with a place, none of whose place is the
/// case's (opened in facility `hotspot-lampedusa`, province AG, referred to CAV).
fn outsiders() -> Vec<Caller> {
    vec![
        Caller::new(
            OrganisationType::ReceptionOperator,
            "cas-elsewhere",
            Some("AG"),
        ),
        Caller::new(OrganisationType::Prefecture, "prefettura-rm", Some("RM")),
        Caller::new(OrganisationType::Police, "questura-rm", Some("RM")),
        Caller::new(
            OrganisationType::ReceivingService,
            "cav-never-referred",
            Some("AG"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_scoped_rpc_refuses_callers_outside_the_case() {
    let mut system = Fixture::start().await;
    system.start_service(Service::SafeSpace).await;
    system.start_service(Service::Monitoring).await;
    let case_id = system.screened_case("jurisdiction", false).await;
    system.register(CAV, &["AG"]).await;
    let consent_id = system
        .consent_to(&case_id, "jurisdiction-consent", CAV)
        .await;
    let referral_id = system
        .refer(&case_id, "jurisdiction-referral", CAV, &consent_id, "high")
        .await
        .expect("sent")
        .referral_id;
    let log = system.log().await;
    let case_history = || async {
        log.history(
            &HistoryScope::Root {
                kind: RootKind::Case,
                id: TokenId::parse(&case_id).expect("id"),
            },
            HistoryBound::All,
        )
        .await
        .expect("history")
        .len()
    };
    let before = case_history().await;

    let rpcs = case_scoped_rpcs();
    assert!(rpcs.len() >= 16, "case-scoped RPCs found: {rpcs:?}");
    for (service, rpc) in &rpcs {
        let request = example(rpc, &case_id, &consent_id, &referral_id)
            .unwrap_or_else(|| panic!("{rpc} names a case: give it a jurisdiction example"));
        let target = match service.as_str() {
            "approdo.screening.v1.ScreeningService" => Service::Screening,
            "approdo.referral.v1.ReferralService" => Service::Referral,
            "approdo.safe_space.v1.SafeSpaceService" => Service::SafeSpace,
            "approdo.monitoring.v1.CaseReplayService" => Service::Monitoring,
            other => panic!("no service serves {other}"),
        };
        for caller in outsiders() {
            let mut grpc = tonic::client::Grpc::new(system.channel(target).await);
            grpc.ready().await.expect("ready");
            let path = PathAndQuery::try_from(rpc.clone()).expect("path");
            let answer = grpc
                .unary(caller.request(request.clone()), path, RawCodec)
                .await;
            assert_eq!(
                answer.as_ref().map(|_| ()).map_err(tonic::Status::code),
                Err(Code::PermissionDenied),
                "{rpc} as {caller:?}: {:?}",
                answer.err()
            );
        }
    }
    assert_eq!(
        case_history().await,
        before,
        "no refusal appended anything about the case"
    );

    // The same requests from within the case's jurisdiction pass it: the
    // examples are valid, so the refusals above were the jurisdiction's.
    let operator = Caller::operator("hotspot-lampedusa", "AG");
    let request = example(
        "/approdo.screening.v1.ScreeningService/GetCase",
        &case_id,
        &consent_id,
        &referral_id,
    )
    .expect("example");
    let mut grpc = tonic::client::Grpc::new(system.channel(Service::Screening).await);
    grpc.ready().await.expect("ready");
    let path = PathAndQuery::from_static("/approdo.screening.v1.ScreeningService/GetCase");
    grpc.unary(operator.request(request), path, RawCodec)
        .await
        .expect("the case's own facility reads it");
    let centre = Caller::receiver(CAV, Some("RM"));
    let signal = example(
        "/approdo.screening.v1.ScreeningService/RaiseVulnerabilitySignal",
        &case_id,
        &consent_id,
        &referral_id,
    )
    .expect("example");
    let mut grpc = tonic::client::Grpc::new(system.channel(Service::Screening).await);
    grpc.ready().await.expect("ready");
    let path = PathAndQuery::from_static(
        "/approdo.screening.v1.ScreeningService/RaiseVulnerabilitySignal",
    );
    grpc.unary(centre.request(signal), path, RawCodec)
        .await
        .expect("the centre the case is referred to raises a signal");
}

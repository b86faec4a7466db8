//! Server reflection in both versions: `grpc.reflection.v1` and the older
//! `grpc.reflection.v1alpha` that many clients (grpcurl, IDEs) still use. Both
//! answer without a token, list the same services, and describe the service's API.

use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};

use crate::support::{Service, System};

async fn listed_v1(channel: Channel) -> Vec<String> {
    use v1::server_reflection_request::MessageRequest;
    use v1::server_reflection_response::MessageResponse;
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let answer = v1::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1 reflection")
        .into_inner()
        .message()
        .await
        .expect("an answer")
        .and_then(|a| a.message_response);
    match answer {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
        other => panic!("unexpected v1 answer {other:?}"),
    }
}

/// One v1alpha request, its answer.
async fn ask_v1alpha(
    channel: Channel,
    request: v1alpha::server_reflection_request::MessageRequest,
) -> Option<v1alpha::server_reflection_response::MessageResponse> {
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha reflection")
        .into_inner()
        .message()
        .await
        .expect("an answer")
        .and_then(|a| a.message_response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_answer_reflection_v1alpha_as_v1_without_a_token() {
    use v1alpha::server_reflection_request::MessageRequest;
    use v1alpha::server_reflection_response::MessageResponse;
    let system = System::start(&[Service::Screening]).await;
    let channel = system.channel(Service::Screening).await;

    let mut alpha =
        match ask_v1alpha(channel.clone(), MessageRequest::ListServices(String::new())).await {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
            }
            other => panic!("unexpected v1alpha answer {other:?}"),
        };
    alpha.sort();
    for expected in [
        "approdo.screening.v1.ScreeningService",
        "approdo.admin.v1.ProjectionAdminService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            alpha.iter().any(|n| n == expected),
            "{expected} in {alpha:?}"
        );
    }
    assert_eq!(
        alpha,
        listed_v1(channel.clone()).await,
        "both versions list the same"
    );

    // What grpcurl does next: the file that declares the service.
    match ask_v1alpha(
        channel,
        MessageRequest::FileContainingSymbol("approdo.screening.v1.ScreeningService".to_owned()),
    )
    .await
    {
        Some(MessageResponse::FileDescriptorResponse(files)) => {
            assert!(!files.file_descriptor_proto.is_empty())
        }
        other => panic!("unexpected v1alpha answer {other:?}"),
    }
    system.stop().await;
}

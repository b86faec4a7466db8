//! The approdo command-line client: talks to the services over gRPC

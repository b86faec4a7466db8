//! What every service shares at its edge: configuration, shutdown, serving with health and reflection, caller identity, error to gRPC status

//! Property tests (placeholder until written).

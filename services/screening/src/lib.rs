//! The screening service

//! The monitoring service

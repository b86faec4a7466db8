//! The safe-space service

//! The referral service

//! Approdo access tokens: Ed25519-signed JWTs (`alg: EdDSA`) whose claims name
//! the subject, organisation, organisation type, roles, province and expiry.
//!
//! - [`claims`]: [`Claims`] and [`OrganisationType`];
//! - [`issuer`]: [`TokenIssuer`], the one place tokens are signed (local setup,
//!   CLI, tests; production tokens come from the identity provider);
//! - [`verifier`]: [`TokenVerifier`], the one place a token is parsed and checked
//!   for algorithm, issuer, signature, expiry and well-formed ids;
//! - [`keys`]: [`IssuerConfig`], the configured issuers and their public keys.
//!
//! No server, no network, no async: the command-line client and the services
//! share it.

pub mod claims;
pub mod issuer;
pub mod keys;
pub mod verifier;

pub use claims::{Claims, OrganisationType};
pub use issuer::TokenIssuer;
pub use keys::{IssuerConfig, KeyError};
pub use verifier::{TokenError, TokenVerifier};

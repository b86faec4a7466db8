//! Approdo access tokens: Ed25519-signed JWTs (`alg: EdDSA`, a `kid` in the
//! header) whose claims name the subject, audience, organisation, organisation
//! type, roles, province and validity. Parsing, signing and signature checks
//! are `jsonwebtoken`'s; the rules are ours.
//!
//! - [`claims`]: [`Claims`], [`OrganisationType`] and [`Validity`];
//! - [`issuer`]: [`TokenIssuer`], the one place tokens are signed (local setup,
//!   CLI, tests; production tokens come from the identity provider);
//! - [`verifier`]: [`TokenVerifier`], the one place a token is checked for
//!   algorithm, key id, issuer, signature, audience, expiry, not-before,
//!   issued-at, maximum lifetime and well-formed ids;
//! - [`keys`]: [`AuthConfig`] and [`IssuerConfig`]: the audience, the time
//!   rules, the configured issuers and their keys (hex or a JWK set).
//!
//! No server, no network, no async: the command-line client and the services
//! share it.

pub mod claims;
pub mod issuer;
pub mod keys;
pub mod verifier;

pub use claims::{Claims, OrganisationType, Validity, now_unix};
pub use issuer::{SignError, TokenIssuer};
pub use keys::{AuthConfig, DEFAULT_AUDIENCE, IssuerConfig, KeyConfig, KeyError};
pub use verifier::{TokenError, TokenVerifier};

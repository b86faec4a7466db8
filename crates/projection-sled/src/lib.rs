//! The projection runner and its sled store (the only crate that imports sled)

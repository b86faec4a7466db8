//! Per-person encryption (architecture invariant 12): each person has a data
//! key; personal and special-category messages are sealed with it
//! (XChaCha20-Poly1305, the person's key id as associated data); data keys are
//! stored only wrapped by the key-encryption key from configuration. Destroying
//! a person's wrapped key makes everything sealed with it unreadable.
//! Keys are never formatted, logged or compared outside this crate.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The AEAD algorithm name recorded with every sealed message.
pub const ALGORITHM: &str = "XCHACHA20-POLY1305";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the key-encryption key must be 32 bytes of hex")]
    BadKeyEncryptionKey,
    #[error("a wrapped key or sealed message is malformed or was not made with this key")]
    Unreadable,
}

/// The key-encryption key, from configuration.
pub struct KeyEncryptionKey(XChaCha20Poly1305);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::BadKeyEncryptionKey)?;
        let key = <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::BadKeyEncryptionKey)?;
        Ok(KeyEncryptionKey(XChaCha20Poly1305::new(&key.into())))
    }

    /// A fresh random key, hex: for local setups and tests.
    pub fn generate_hex() -> String {
        hex::encode(rand::random::<[u8; 32]>())
    }

    /// Wraps a data key for storage; `key_id` binds the wrapped key to its person.
    pub fn wrap(&self, key_id: &str, key: &DataKey) -> Vec<u8> {
        seal_with(&self.0, key_id.as_bytes(), &key.0)
    }

    pub fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = open_with(&self.0, key_id.as_bytes(), wrapped)?;
        let key = <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::Unreadable)?;
        Ok(DataKey(key))
    }
}

/// One person's data key.
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        DataKey(rand::random())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `plaintext`; returns `(nonce, ciphertext)`. `context` (the key id and
    /// the message kind) must be given again to open it.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let sealed = seal_with(&self.cipher(), context.as_bytes(), plaintext);
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        (nonce.to_vec(), ciphertext.to_vec())
    }

    pub fn open(
        &self,
        context: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut sealed = Vec::with_capacity(nonce.len() + ciphertext.len());
        sealed.extend_from_slice(nonce);
        sealed.extend_from_slice(ciphertext);
        open_with(&self.cipher(), context.as_bytes(), &sealed)
    }
}

fn seal_with(cipher: &XChaCha20Poly1305, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    sealed
}

fn open_with(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Unreadable);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key_and_context() {
        let kek = KeyEncryptionKey::from_hex(&KeyEncryptionKey::generate_hex()).expect("kek");
        let key = DataKey::generate();
        let wrapped = kek.wrap("person-1", &key);
        let (nonce, ciphertext) = key.seal("person-1/identity", b"Amina Zephyrine");
        assert!(!ciphertext.windows(5).any(|w| w == b"Amina"));
        let unwrapped = kek.unwrap("person-1", &wrapped).expect("unwrap");
        assert_eq!(
            unwrapped
                .open("person-1/identity", &nonce, &ciphertext)
                .expect("open"),
            b"Amina Zephyrine"
        );
        assert_eq!(
            unwrapped.open("person-2/identity", &nonce, &ciphertext),
            Err(CryptoError::Unreadable)
        );
        assert!(
            kek.unwrap("person-2", &wrapped).is_err(),
            "a wrapped key is bound to its person"
        );
        let other = KeyEncryptionKey::from_hex(&KeyEncryptionKey::generate_hex()).expect("kek");
        assert!(other.unwrap("person-1", &wrapped).is_err());
        assert!(
            DataKey::generate()
                .open("person-1/identity", &nonce, &ciphertext)
                .is_err()
        );
        assert_eq!(
            KeyEncryptionKey::from_hex("abc").map(|_| ()),
            Err(CryptoError::BadKeyEncryptionKey)
        );
    }
}

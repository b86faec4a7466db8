//! Per-person encryption (architecture invariant 12): each person has a data
//! key; personal and special-category messages are sealed with it
//! (XChaCha20-Poly1305, the person's key id as associated data); data keys are
//! stored only wrapped by the key-encryption key from configuration. Destroying
//! a person's wrapped key makes everything sealed with it unreadable.
//! Keys are never formatted, logged or compared outside this crate, and are
//! wiped from memory when dropped. Randomness comes from the operating system
//! through the AEAD crate's generator; a failure to get it, or to seal, is an
//! error, never a weak key or an empty ciphertext.

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{ZeroizeOnDrop, Zeroizing};

/// The AEAD algorithm name recorded with every sealed message.
pub const ALGORITHM: &str = "XCHACHA20-POLY1305";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the key-encryption key must be 32 bytes of hex")]
    BadKeyEncryptionKey,
    #[error("a wrapped key or sealed message is malformed or was not made with this key")]
    Unreadable,
    #[error("the operating system gave no randomness")]
    NoRandomness,
    #[error("the message could not be sealed")]
    Sealing,
    #[error("a key could not be derived")]
    Derivation,
}

/// HKDF-SHA256's `info` for the key of a person's referral datasets.
pub const REFERRAL_DATASETS_INFO: &[u8] = b"approdo referral datasets v1";

/// 32 (or `N`) random bytes from the operating system, or an error.
fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    OsRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|_| CryptoError::NoRandomness)?;
    Ok(bytes)
}

/// The key-encryption key, from configuration. The cipher wipes its key on drop.
pub struct KeyEncryptionKey(XChaCha20Poly1305);

impl ZeroizeOnDrop for KeyEncryptionKey {}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes =
            Zeroizing::new(hex::decode(text.trim()).map_err(|_| CryptoError::BadKeyEncryptionKey)?);
        if bytes.len() != 32 {
            return Err(CryptoError::BadKeyEncryptionKey);
        }
        Ok(KeyEncryptionKey(
            XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| CryptoError::BadKeyEncryptionKey)?,
        ))
    }

    /// A fresh random key, hex, from the operating system's randomness: for
    /// local setups and tests. Wiped from memory when dropped.
    pub fn generate_hex() -> Result<Zeroizing<String>, CryptoError> {
        Ok(Zeroizing::new(hex::encode(random::<32>()?.as_ref())))
    }

    /// Wraps a data key for storage; `key_id` binds the wrapped key to its person.
    pub fn wrap(&self, key_id: &str, key: &DataKey) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.0, key_id.as_bytes(), key.0.as_ref())
    }

    pub fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = Zeroizing::new(open_with(&self.0, key_id.as_bytes(), wrapped)?);
        let mut key = DataKey(Zeroizing::new([0; 32]));
        if bytes.len() != key.0.len() {
            return Err(CryptoError::Unreadable);
        }
        key.0.copy_from_slice(&bytes);
        Ok(key)
    }
}

/// One person's data key, wiped from memory when dropped.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl ZeroizeOnDrop for DataKey {}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh key from the operating system's randomness (the AEAD crate's
    /// generator). Panics if the operating system has none: no person's data is
    /// ever sealed with a weak key.
    pub fn generate() -> Self {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let mut data_key = DataKey(Zeroizing::new([0; 32]));
        data_key.0.copy_from_slice(&key);
        data_key
    }

    /// The key of this person's referral datasets: HKDF-SHA256 of this key
    /// with [`REFERRAL_DATASETS_INFO`]. One way: who holds it can open the
    /// datasets sealed with it, not what this key sealed (the identity).
    pub fn derive_referral_datasets_key(&self) -> Result<DataKey, CryptoError> {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.as_ref());
        let mut key = DataKey(Zeroizing::new([0; 32]));
        hkdf.expand(REFERRAL_DATASETS_INFO, key.0.as_mut())
            .map_err(|_| CryptoError::Derivation)?;
        Ok(key)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }

    /// Seals `plaintext`; returns `(nonce, ciphertext)`. `context` (the key id and
    /// the message kind) must be given again to open it.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let sealed = seal_with(&self.cipher(), context.as_bytes(), plaintext)?;
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Ok((nonce.to_vec(), ciphertext.to_vec()))
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

fn seal_with(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let nonce = random::<NONCE_LEN>()?;
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(nonce.as_ref()),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Sealing)?;
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
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
        let kek = KeyEncryptionKey::from_hex(&new_kek()).expect("kek");
        let key = DataKey::generate();
        let wrapped = kek.wrap("person-1", &key).expect("wrapped");
        let (nonce, ciphertext) = key
            .seal("person-1/identity", b"Amina Zephyrine")
            .expect("sealed");
        assert!(ciphertext.len() > 16, "a tag and the message, never empty");
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
        let other = KeyEncryptionKey::from_hex(&new_kek()).expect("kek");
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

    #[test]
    fn the_datasets_key_is_derived_and_opens_nothing_the_person_key_sealed() {
        let key = DataKey::generate();
        let datasets = key.derive_referral_datasets_key().expect("derived");
        let again = key.derive_referral_datasets_key().expect("derived");
        assert_eq!(
            *datasets.0, *again.0,
            "the same person key, the same datasets key"
        );
        assert_ne!(*datasets.0, *key.0);
        assert_ne!(
            *datasets.0,
            *DataKey::generate()
                .derive_referral_datasets_key()
                .expect("derived")
                .0
        );
        let (nonce, ciphertext) = key.seal("p-1/identity", b"Amina").expect("sealed");
        assert_eq!(
            datasets.open("p-1/identity", &nonce, &ciphertext),
            Err(CryptoError::Unreadable)
        );
    }

    fn new_kek() -> Zeroizing<String> {
        KeyEncryptionKey::generate_hex().expect("randomness")
    }

    #[test]
    fn generated_keys_are_fresh_32_bytes() {
        let (a, b) = (new_kek(), new_kek());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(KeyEncryptionKey::from_hex(&a).is_ok());
        assert_ne!(*DataKey::generate().0, *DataKey::generate().0);
        assert_ne!(*DataKey::generate().0, [0; 32]);
    }

    /// Checked when compiling: the key bytes live in types that wipe them on
    /// drop (`Zeroizing`, the cipher's own `Drop`); change one and this fails.
    #[test]
    fn every_key_is_wiped_when_dropped() {
        fn wiped_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let key = DataKey::generate();
        wiped_on_drop(&key.0);
        let kek = KeyEncryptionKey::from_hex(&new_kek()).expect("kek");
        wiped_on_drop(&kek.0);
    }
}

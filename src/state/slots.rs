//! Password hashing slots: argon2id with the OWASP minimum (m = 19456 KiB, t = 2, p = 1), as
//! [`crate::crypto::hash_password`]. Hashing is slow by design: run it on the blocking pool,
//! holding a [`HashSlot`] (rule 40).
//!
//! Each hash takes 19 MiB and a core for tens of milliseconds, so a server answers a burst of
//! logins no faster by running more of them at once, only bigger. [`HashSlots`] lets as many
//! run at once as the machine has cores; a request waits at most [`SLOT_WAIT`] for a slot,
//! *before* its work goes to the blocking pool, then answers 503 `busy` with `Retry-After`.
//!
//! A slot also owns the hash's working memory, allocated once and reused: argon2 would
//! otherwise allocate 19 MiB per hash on whichever blocking thread runs it, and the allocator
//! keeps such blocks in per-thread arenas — a burst left the server holding hundreds of MiB
//! with only two hashes ever running at once. With the memory in the slots, password hashing
//! holds at most slots × 19 MiB, for good.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Block, Params, Version};
use parking_lot::Mutex;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, ApiResult};

use argon2::password_hash::phc::PasswordHash;

/// How long a request waits for a hashing slot before answering 503 `busy`.
pub const SLOT_WAIT: Duration = Duration::from_secs(1);
/// The `Retry-After` of that answer.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The largest working memory a stored hash may ask for (64 MiB); a hash asking more never
/// matches.
const MAX_BLOCKS: usize = 64 * 1024;

type Memory = Vec<Block>;

/// The password hashes that may run at once, and their working memory.
pub struct HashSlots {
    slots: Arc<Semaphore>,
    size: usize,
    /// Working memory of slots not in use (at most `size` buffers).
    memory: Arc<Mutex<Vec<Memory>>>,
}

/// The right to run one password hash, with the memory to run it in; both go back to the
/// slots when this is dropped.
pub struct HashSlot {
    _permit: OwnedSemaphorePermit,
    memory: Memory,
    pool: Arc<Mutex<Vec<Memory>>>,
}

impl HashSlots {
    pub fn new(size: usize) -> HashSlots {
        let size = size.max(1);
        HashSlots {
            slots: Arc::new(Semaphore::new(size)),
            size,
            memory: Arc::new(Mutex::new(Vec::with_capacity(size))),
        }
    }

    /// One slot per core (`available_parallelism`; 1 when it is unknown).
    pub fn per_core() -> HashSlots {
        HashSlots::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Waits up to [`SLOT_WAIT`] for a slot; then 503 `busy`.
    pub async fn acquire(&self) -> ApiResult<HashSlot> {
        match tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(HashSlot {
                _permit: permit,
                memory: self.memory.lock().pop().unwrap_or_default(),
                pool: self.memory.clone(),
            }),
            Ok(Err(_closed)) => Err(ApiError::Internal(anyhow::anyhow!(
                "the password hashing slots are closed"
            ))),
            Err(_elapsed) => Err(ApiError::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            }),
        }
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        if !memory.is_empty() {
            self.pool.lock().push(memory);
        }
    }
}

impl HashSlot {
    /// The slot's memory, grown to `blocks` on first use (or for a hash with a larger cost).
    fn blocks(&mut self, blocks: usize) -> Option<&mut [Block]> {
        if blocks > MAX_BLOCKS {
            return None;
        }
        if self.memory.len() < blocks {
            self.memory.resize(blocks, Block::new());
        }
        self.memory.get_mut(..blocks)
    }

    /// [`crate::crypto::hash_password`] in this slot's memory.
    pub fn hash(&mut self, password: &str) -> anyhow::Result<String> {
        let fail = |e: &dyn std::fmt::Display| anyhow::anyhow!("password hashing failed: {e}");
        let params = Params::default();
        let salt = crate::crypto::random_bytes::<16>();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon = argon2::Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let memory = self
            .blocks(params.block_count())
            .ok_or_else(|| anyhow::anyhow!("password hashing failed: memory"))?;
        argon
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
            .map_err(|e| fail(&e))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
            salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
            hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
        };
        Ok(phc.to_string())
    }

    /// [`crate::crypto::verify_password`] in this slot's memory.
    pub fn verify(&mut self, password: &str, phc: &str) -> bool {
        self.compute(password, phc).unwrap_or(false)
    }

    fn compute(&mut self, password: &str, phc: &str) -> Option<bool> {
        let h = PasswordHash::new(phc).ok()?;
        let (salt, expected) = (h.salt.as_ref()?, h.hash.as_ref()?);
        let algorithm = Algorithm::try_from(h.algorithm.as_str()).ok()?;
        let version = match h.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&h).ok()?;
        let argon = argon2::Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let memory = self.blocks(params.block_count())?;
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
            .ok()?;
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{hash_password as hash, verify_password as verify};

    #[tokio::test]
    async fn rule_40_a_slot_hashes_and_verifies_in_its_own_reused_memory() {
        let slots = HashSlots::new(1);
        let mut slot = slots.acquire().await.unwrap();
        let h = slot.hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify("correct horse battery", &h),
            "the plain verifier agrees"
        );
        assert!(slot.verify("correct horse battery", &h));
        assert!(!slot.verify("correct horse batterx", &h));
        let plain = hash("correct horse battery").unwrap();
        assert!(slot.verify("correct horse battery", &plain));
        assert!(!slot.verify("x", "not a hash"));
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQxMjM0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(
            !slot.verify("x", huge),
            "a hash asking for 4 GiB is not computed"
        );
        drop(slot);
        assert_eq!(slots.memory.lock().len(), 1, "the memory went back");
        let _held = slots.acquire().await.unwrap();
        assert!(slots.memory.lock().is_empty(), "and is reused");
        assert!(matches!(
            slots.acquire().await,
            Err(ApiError::Busy {
                retry_after_secs: 1
            })
        ));
    }
}

//! Password hashing off the async runtime.
//!
//! - P5: argon2id with configurable parameters (OWASP default m=19456 KiB, t=2, p=1), PHC string
//!   stored; [`Verified::needs_rehash`] tells the caller to upgrade a hash made with other parameters.
//! - P6: a fixed pool of worker threads (one per core) fed by a bounded queue. When the queue is
//!   full, [`Hasher`] answers [`HashError::Busy`] at once, which the server turns into
//!   `503 + Retry-After`: memory stays bounded (each hash holds ~19 MiB) whatever the load (Y4).
//! - E3: [`Hasher::verify_dummy`] spends one verification for unknown users so timing matches.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    #[error("the server is busy, try again in a moment")]
    Busy,
    #[error("password hashing failed")]
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    pub needs_rehash: bool,
}

enum Job {
    Hash(String, oneshot::Sender<Result<String, HashError>>),
    Verify(String, String, oneshot::Sender<Result<Verified, HashError>>),
    /// Keeps a worker until the other end is dropped (see [`Hasher::occupy`]).
    Hold(std::sync::mpsc::Sender<()>, Receiver<()>),
}

/// Handle to the hashing pool; cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    queue: SyncSender<Job>,
    dummy: Arc<String>,
    work: Arc<Work>,
}

/// E3: what the workers did, so a test can prove that an unknown account costs the same argon2
/// work as a real one (counted, not timed).
#[derive(Default)]
struct Work {
    /// Verifications handed to the pool (queued or running).
    submitted: AtomicU64,
    verifications: AtomicU64,
    /// Sum of memory blocks × passes over every verification.
    block_passes: AtomicU64,
    /// Jobs accepted and not yet finished (queued or running), for the metrics.
    in_pool: AtomicU64,
    /// P6: jobs refused because the queue was full (each a 503 to someone).
    refused: AtomicU64,
}

/// How loaded the pool is now, for the metrics (`gatehouse_argon2_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Jobs queued or running.
    pub in_pool: u64,
    /// Jobs refused with `Busy` since start.
    pub refused: u64,
}

/// Counted verifications and their argon2 work (memory blocks × passes), see [`Hasher::work`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkDone {
    /// Verifications handed to the pool, done or not.
    pub submitted: u64,
    pub verifications: u64,
    pub block_passes: u64,
}

/// A worker kept busy by [`Hasher::occupy`]; dropping it frees the worker.
pub struct Occupied(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

/// A worker's argon2 memory, allocated once and reused for every hash (P6): memory stays at
/// `workers × m` and no hash pays for fresh pages.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.0.len() < n {
            self.0.resize(n, Block::default());
        }
        &mut self.0[..n]
    }
}

const OUTPUT_LEN: usize = 32;

fn internal<E>(_: E) -> HashError {
    HashError::Internal
}

/// P5: argon2id PHC string for `password`, computed in `mem`.
pub fn hash_with(
    mem: &mut Memory,
    params: HashParams,
    password: &str,
) -> Result<String, HashError> {
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(OUTPUT_LEN),
    )
    .map_err(internal)?;
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(internal)?;
    let mut out = [0u8; OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            mem.blocks(p.block_count()),
        )
        .map_err(internal)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&p).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string (any argon2 variant and parameters), in `mem`;
/// the digests are compared in constant time (M10).
pub fn verify_with(
    mem: &mut Memory,
    params: HashParams,
    password: &str,
    phc: &str,
) -> Result<Verified, HashError> {
    let parsed = PasswordHash::new(phc).map_err(internal)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(internal)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(internal)?
        .unwrap_or(Version::V0x13);
    let stored = Params::try_from(&parsed).map_err(internal)?;
    let expected = parsed.hash.ok_or(HashError::Internal)?;
    let salt = parsed.salt.ok_or(HashError::Internal)?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, stored.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            mem.blocks(stored.block_count()),
        )
        .map_err(internal)?;
    let ok = bool::from(out.as_slice().ct_eq(expected.as_bytes()));
    let needs_rehash = algorithm != Algorithm::Argon2id
        || stored.m_cost() != params.memory_kib
        || stored.t_cost() != params.iterations
        || stored.p_cost() != params.parallelism;
    Ok(Verified { ok, needs_rehash })
}

/// Hash on the calling thread with fresh memory (benchmark, dummy hash, tests).
pub fn hash_blocking(params: HashParams, password: &str) -> Result<String, HashError> {
    hash_with(&mut Memory::default(), params, password)
}

/// Verify on the calling thread with fresh memory.
pub fn verify_blocking(
    params: HashParams,
    password: &str,
    phc: &str,
) -> Result<Verified, HashError> {
    verify_with(&mut Memory::default(), params, password, phc)
}

impl Hasher {
    /// Starts `workers` threads with a queue of `queue_len` waiting jobs.
    pub fn start(params: HashParams, workers: usize, queue_len: usize) -> Result<Self, HashError> {
        let (tx, rx) = sync_channel::<Job>(queue_len);
        let rx = Arc::new(Mutex::new(rx));
        let work = Arc::new(Work::default());
        for i in 0..workers.max(1) {
            let rx = Arc::clone(&rx);
            let work = Arc::clone(&work);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || worker(params, rx, work))
                .map_err(|_| HashError::Internal)?;
        }
        let dummy = hash_blocking(params, "gatehouse dummy password for unknown users")?;
        Ok(Self {
            queue: tx,
            dummy: Arc::new(dummy),
            work,
        })
    }

    /// E3: the verifications done so far and their argon2 work.
    pub fn work(&self) -> WorkDone {
        WorkDone {
            submitted: self.work.submitted.load(Ordering::SeqCst),
            verifications: self.work.verifications.load(Ordering::SeqCst),
            block_passes: self.work.block_passes.load(Ordering::SeqCst),
        }
    }

    /// Keeps one worker busy until the returned guard is dropped, waiting (on this thread)
    /// until a worker has taken it. Tests use it to fill the pool deterministically — the
    /// `Busy` answer, or a request cancelled while its hash waits (R6) — without timing.
    pub fn occupy(&self) -> Result<Occupied, HashError> {
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel();
        self.queue
            .send(Job::Hold(ack_tx, release_rx))
            .map_err(|_| HashError::Internal)?;
        ack_rx.recv().map_err(|_| HashError::Internal)?;
        Ok(Occupied(release_tx))
    }

    /// Queued or running jobs and the refusals so far.
    pub fn load(&self) -> Load {
        Load {
            in_pool: self.work.in_pool.load(Ordering::SeqCst),
            refused: self.work.refused.load(Ordering::SeqCst),
        }
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        // Counted before the send: a worker may finish (and count down) before `try_send` returns.
        self.work.in_pool.fetch_add(1, Ordering::SeqCst);
        self.queue.try_send(job).map_err(|e| {
            self.work.in_pool.fetch_sub(1, Ordering::SeqCst);
            match e {
                TrySendError::Full(_) => {
                    self.work.refused.fetch_add(1, Ordering::SeqCst);
                    HashError::Busy
                }
                TrySendError::Disconnected(_) => HashError::Internal,
            }
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Hash(password.to_string(), tx))?;
        rx.await.map_err(|_| HashError::Internal)?
    }

    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verified, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Verify(password.to_string(), phc.to_string(), tx))?;
        self.work.submitted.fetch_add(1, Ordering::SeqCst);
        rx.await.map_err(|_| HashError::Internal)?
    }

    /// E3: costs the same as a real verification and always fails.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        let dummy = self.dummy.as_str().to_string();
        self.verify(password, &dummy).await.map(|_| ())
    }
}

fn worker(params: HashParams, rx: Arc<Mutex<Receiver<Job>>>, work: Arc<Work>) {
    let mut mem = Memory::default();
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(Job::Hash(pw, reply)) => {
                let result = hash_with(&mut mem, params, &pw);
                // Counted down before the answer, so whoever gets it sees the pool without it.
                work.in_pool.fetch_sub(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
            Ok(Job::Verify(pw, phc, reply)) => {
                let result = verify_with(&mut mem, params, &pw, &phc);
                if result.is_ok() {
                    work.verifications.fetch_add(1, Ordering::SeqCst);
                    if let Ok(p) = PasswordHash::new(&phc).and_then(|h| Params::try_from(&h)) {
                        let passes = p.block_count() as u64 * u64::from(p.t_cost());
                        work.block_passes.fetch_add(passes, Ordering::SeqCst);
                    }
                }
                work.in_pool.fetch_sub(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
            Ok(Job::Hold(ack, release)) => {
                let _ = ack.send(());
                let _ = release.recv();
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    const FAST: HashParams = HashParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn p5_hash_is_argon2id_phc_and_verifies() {
        let h = Hasher::start(FAST, 1, 4).expect("pool");
        let phc = h.hash("tulip-rain-77").await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{phc}");
        assert_eq!(
            h.verify("tulip-rain-77", &phc).await,
            Ok(Verified {
                ok: true,
                needs_rehash: false
            })
        );
        assert!(!h
            .verify("tulip-rain-78", &phc)
            .await
            .map(|v| v.ok)
            .unwrap_or(true));
    }

    #[tokio::test]
    async fn p5_other_parameters_ask_for_a_rehash() {
        let old = hash_blocking(
            HashParams {
                memory_kib: 128,
                ..FAST
            },
            "pw-pw-pw-1",
        )
        .expect("hash");
        let v = verify_blocking(FAST, "pw-pw-pw-1", &old).expect("verify");
        assert!(v.ok && v.needs_rehash);
    }

    #[tokio::test]
    async fn p6_load_counts_jobs_in_the_pool_and_refusals() {
        let h = Hasher::start(FAST, 1, 1).expect("pool");
        let held = h.occupy().expect("occupy");
        let queued = {
            let h = h.clone();
            tokio::spawn(async move { h.hash("waits").await })
        };
        // The spawned hash is queued once the pool says so (no sleep: poll the counter).
        while h.load().in_pool == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(h.hash("refused").await, Err(HashError::Busy));
        assert_eq!(
            h.load(),
            Load {
                in_pool: 1,
                refused: 1
            }
        );
        drop(held);
        queued.await.expect("join").expect("hashed");
        assert_eq!(
            h.load(),
            Load {
                in_pool: 0,
                refused: 1
            }
        );
    }

    #[tokio::test]
    async fn p6_full_queue_answers_busy_at_once() {
        // Zero workers are impossible, so fill one worker plus a queue of one with slow jobs.
        let slow = HashParams {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 1,
        };
        let h = Hasher::start(slow, 1, 1).expect("pool");
        let mut pending = Vec::new();
        let mut busy = 0;
        for _ in 0..6 {
            let (tx, rx) = oneshot::channel();
            match h.submit(Job::Hash("x".into(), tx)) {
                Ok(()) => pending.push(rx),
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            busy >= 4,
            "expected most submissions refused, got {busy} busy"
        );
        assert!(pending.len() <= 2);
    }

    #[test]
    fn p5_hashes_from_the_argon2_crate_verify_and_reused_memory_gives_the_same_answer() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let p =
            Params::new(FAST.memory_kib, FAST.iterations, FAST.parallelism, None).expect("params");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
            .hash_password(b"pw-pw-pw-2", &salt)
            .expect("hash")
            .to_string();
        let mut mem = Memory::default();
        for _ in 0..3 {
            assert_eq!(
                verify_with(&mut mem, FAST, "pw-pw-pw-2", &theirs),
                Ok(Verified {
                    ok: true,
                    needs_rehash: false
                })
            );
            assert!(!verify_with(&mut mem, FAST, "pw-pw-pw-3", &theirs)
                .map(|v| v.ok)
                .unwrap_or(true));
        }
        let ours = hash_with(&mut mem, FAST, "pw-pw-pw-2").expect("hash");
        assert!(Argon2::default()
            .verify_password(b"pw-pw-pw-2", &PasswordHash::new(&ours).expect("phc"))
            .is_ok());
    }

    /// E3: the dummy verification for an unknown account is a real argon2 run with the
    /// configured parameters — the same work as checking a real hash, counted by the pool.
    #[tokio::test]
    async fn e3_dummy_verification_costs_the_same_argon2_work_as_a_real_one() {
        let h = Hasher::start(FAST, 1, 4).expect("pool");
        let real = h.hash("tulip-rain-77").await.expect("hash");
        let before = h.work();
        h.verify("wrong-guess-1", &real).await.expect("verify");
        let after_real = h.work();
        assert_eq!(h.verify_dummy("wrong-guess-1").await, Ok(()));
        let after_dummy = h.work();
        let real_cost = after_real.block_passes - before.block_passes;
        assert_eq!(after_real.verifications - before.verifications, 1);
        assert_eq!(after_dummy.verifications - after_real.verifications, 1);
        assert_eq!(
            after_dummy.block_passes - after_real.block_passes,
            real_cost
        );
        assert_eq!(real_cost, 256, "m=256 blocks x t=1 pass");
    }
}

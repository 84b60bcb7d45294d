//! SHA-256 from a midstate, for records that begin with the same bytes.
//!
//! In browsers the core hashes the access log itself (WebCrypto has no synchronous digest),
//! about 3.4 KB per look-up. Records of one look-up context begin with the same ~2 KB (the
//! agents, the patient, the care relationship: see `event::write_framed`), so a record starts
//! from the state after the whole 64-byte blocks it shares with a recent one ([`Prefix`]) and
//! only its own blocks are compressed, with RustCrypto's `sha2` (its wasm SIMD backend in the
//! package, which is built with `+simd128`).
//!
//! Measured against the hand-written wasm SIMD rounds this replaced (`src/audit/lanes.rs`,
//! four records' bodies at a time, until issue 19), on the append benchmark in one headless
//! Chromium 156 page, alternating runs (`bench/lanes-ab/`, three runs): the lanes appended
//! 0.91-1.16× as fast as this with 5,000 appends at once and 0.98-1.12× one at a time, short of
//! the 1.3× that would have kept them. Without the shared prefix, `sha2` alone appended
//! 1.3-1.9× slower than the lanes: the prefix is what pays.

use sha2::block_api::compress256;

/// SHA-256's initial state.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A message's SHA-256 state after its first `blocks` whole blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Midstate {
    state: [u32; 8],
    blocks: usize,
}

impl Midstate {
    /// The state before any block.
    pub const START: Midstate = Midstate {
        state: H0,
        blocks: 0,
    };

    /// How many whole blocks of the message this state absorbed.
    pub fn blocks(self) -> usize {
        self.blocks
    }

    /// The SHA-256 of `message`, whose first `64 * self.blocks` bytes this state absorbed.
    pub fn finish(self, message: &[u8]) -> [u8; 32] {
        let mut state = self.state;
        // Block by block from the message itself (no copy of the blocks).
        let (whole, tail) = message[64 * self.blocks..].as_chunks::<64>();
        compress256(&mut state, whole);
        // The tail, 0x80, zeros up to 56 bytes mod 64, the length in bits (big-endian).
        let mut last = [[0u8; 64]; 2];
        let n = if tail.len() < 56 { 1 } else { 2 };
        let flat = last.as_flattened_mut();
        flat[..tail.len()].copy_from_slice(tail);
        flat[tail.len()] = 0x80;
        flat[64 * n - 8..64 * n].copy_from_slice(&(message.len() as u64 * 8).to_be_bytes());
        compress256(&mut state, &last[..n]);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

/// How many whole 64-byte blocks `a` and `b` begin with in common.
fn common_blocks(a: &[u8], b: &[u8]) -> usize {
    a.chunks_exact(64)
        .zip(b.chunks_exact(64))
        .take_while(|(x, y)| {
            // Eight bytes at a time: the slices' own `==` is a byte loop (memcmp) in wasm.
            x.chunks_exact(8).zip(y.chunks_exact(8)).all(|(p, q)| {
                u64::from_ne_bytes(p.try_into().expect("8"))
                    == u64::from_ne_bytes(q.try_into().expect("8"))
            })
        })
        .count()
}

/// A reference message's SHA-256 states after each of its whole blocks. A record starts from
/// the state after the blocks it shares with the reference and only its own blocks are
/// compressed. The shared part is found by comparing bytes, so a record that shares nothing
/// is hashed in full: never a wrong state.
#[derive(Clone, Debug, Default)]
pub struct Prefix {
    /// The reference's whole blocks.
    bytes: Vec<u8>,
    /// `states[k]`: the state after the first `k` blocks (`states[0]` is SHA-256's start).
    states: Vec<[u32; 8]>,
}

impl Prefix {
    /// The states of `message`'s whole blocks.
    pub fn of(message: &[u8]) -> Prefix {
        let (blocks, _) = message.as_chunks::<64>();
        let mut states = Vec::with_capacity(blocks.len() + 1);
        let mut state = H0;
        states.push(state);
        for block in blocks {
            compress256(&mut state, core::slice::from_ref(block));
            states.push(state);
        }
        Prefix {
            bytes: blocks.as_flattened().to_vec(),
            states,
        }
    }

    /// `message`'s state after the whole blocks it shares with the reference.
    pub fn start(&self, message: &[u8]) -> Midstate {
        // At most the reference's whole blocks, whose states are all kept (none for the
        // empty reference a log starts with).
        let blocks = common_blocks(&self.bytes, message);
        match self.states.get(blocks) {
            Some(&state) => Midstate { state, blocks },
            None => Midstate::START,
        }
    }

    /// For each message of a batch, the midstate to [`Midstate::finish`] it from. When the
    /// first message shares less than half its blocks with the reference, it becomes the new
    /// reference (a new look-up context).
    pub fn starts(&mut self, messages: &[&[u8]]) -> Vec<Midstate> {
        if let Some(first) = messages.first() {
            if 2 * common_blocks(&self.bytes, first) < first.len() / 64 {
                *self = Prefix::of(first);
            }
        }
        messages.iter().map(|m| self.start(m)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn sha256(m: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(m).into()
    }

    #[test]
    fn finished_midstates_are_sha256() {
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 13 + i / 5) as u8).collect();
        // Every tail length around the padding boundary, in groups of one to six.
        for n in 0..7 {
            let messages: Vec<&[u8]> = (0..n).map(|i| &data[..2800 + 37 * i + 11 * n]).collect();
            let mut prefix = Prefix::default();
            for (m, mid) in messages.iter().zip(prefix.starts(&messages)) {
                assert_eq!(mid.finish(m), sha256(m), "{} bytes", m.len());
            }
        }
        for len in 0..200 {
            assert_eq!(
                Midstate::START.finish(&data[..len]),
                sha256(&data[..len]),
                "{len} bytes"
            );
        }
    }

    /// Records that share a beginning with the reference, or part of one, or none; longer
    /// and shorter than it; in batches of one to eleven, one after the other, so the
    /// reference is kept across batches or replaced.
    #[test]
    fn shared_beginnings_give_sha256() {
        let base: Vec<u8> = (0..3500u32).map(|i| (i * 7 + i / 11) as u8).collect();
        let variant = |i: usize| -> Vec<u8> {
            let mut m = base[..2000 + (i * 97) % 1400].to_vec();
            // Where this message first differs: anywhere, block edges included.
            let at = [0, 1, 63, 64, 65, 127, 128, 640, 1300, 1999, m.len()][i % 11];
            if at < m.len() {
                m[at] ^= 0x5a;
            }
            if i % 13 == 12 {
                m.reverse(); // shares nothing
            }
            m
        };
        let mut prefix = Prefix::default();
        let mut i = 0;
        for batch in 1..=11 {
            let msgs: Vec<Vec<u8>> = (i..i + batch).map(variant).collect();
            i += batch;
            let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
            let mids = prefix.starts(&refs);
            for (m, mid) in refs.iter().zip(&mids) {
                assert_eq!(mid.finish(m), sha256(m), "batch {batch}, {} bytes", m.len());
            }
            // The shared blocks were used: a message that begins like the reference starts
            // after those blocks.
            let first = prefix.start(refs[0]);
            assert_eq!(first.blocks, common_blocks(&prefix.bytes, refs[0]));
        }
        // A message identical to the reference, one shorter, one that is a whole prefix of it.
        let p = Prefix::of(&base);
        for m in [&base[..], &base[..base.len() - 1], &base[..640], &base[..0]] {
            let s = p.start(m);
            assert_eq!(s.blocks, m.len() / 64);
            assert_eq!(s.finish(m), sha256(m));
        }
        assert_eq!(Prefix::default().start(&base), Midstate::START);
    }

    #[test]
    fn common_blocks_counts_whole_equal_blocks() {
        let a: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let mut b = a.clone();
        assert_eq!(common_blocks(&a, &b), 4);
        b[200] = 0;
        assert_eq!(common_blocks(&a, &b), 3);
        b[0] = 9;
        assert_eq!(common_blocks(&a, &b), 0);
        assert_eq!(common_blocks(&a[..127], &a), 1);
    }
}

//! Four SHA-256 compressions at once, one message per 32-bit lane.
//!
//! In browsers the core hashes the access log itself (WebCrypto has no synchronous digest),
//! about 3.4 KB per look-up, and SHA-256 is sequential within a message. Each record's text
//! starts with its body, which does not depend on the chain; so the body blocks of four
//! records are compressed side by side (wasm SIMD, `i32x4`), and each record is then finished
//! on its own with RustCrypto's `sha2` from that midstate, in chain order. Records of one
//! look-up context also begin with the same ~2 KB: a record starts from the state after the
//! blocks it shares with a recent one ([`Prefix`]), so about a third of its blocks are left.
//!
//! The same rounds serve two lane types: wasm SIMD vectors, and plain `[u32; 4]` arrays where
//! SIMD is not compiled in (and in the native tests, which hold both to `sha2`).

/// SHA-256's initial state.
pub const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// Four 32-bit lanes and the operations SHA-256 needs on them.
trait Lanes: Copy {
    fn splat(x: u32) -> Self;
    fn from_words(w: [u32; 4]) -> Self;
    fn to_words(self) -> [u32; 4];
    fn add(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn shr(self, n: u32) -> Self;
    fn rotr(self, n: u32) -> Self;
    /// `(a & mask) | (b & !mask)`
    fn select(a: Self, b: Self, mask: Self) -> Self;
    /// The sixteen big-endian words of each message's block at its offset in `at`, word `t`
    /// of message `m` in lane `m` of item `t`.
    fn block(messages: [&[u8]; 4], at: [usize; 4]) -> [Self; 16] {
        let word = |m: &[u8], i: usize| u32::from_be_bytes([m[i], m[i + 1], m[i + 2], m[i + 3]]);
        core::array::from_fn(|t| {
            Self::from_words(core::array::from_fn(|m| word(messages[m], at[m] + 4 * t)))
        })
    }
}

impl Lanes for [u32; 4] {
    fn splat(x: u32) -> Self {
        [x; 4]
    }
    fn from_words(w: [u32; 4]) -> Self {
        w
    }
    fn to_words(self) -> [u32; 4] {
        self
    }
    fn add(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i].wrapping_add(o[i]))
    }
    fn xor(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] ^ o[i])
    }
    fn shr(self, n: u32) -> Self {
        self.map(|x| x >> n)
    }
    fn rotr(self, n: u32) -> Self {
        self.map(|x| x.rotate_right(n))
    }
    fn select(a: Self, b: Self, mask: Self) -> Self {
        core::array::from_fn(|i| (a[i] & mask[i]) | (b[i] & !mask[i]))
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    /// Four lanes in one wasm SIMD vector.
    #[derive(Clone, Copy)]
    pub struct V(pub v128);

    impl super::Lanes for V {
        #[inline(always)]
        fn splat(x: u32) -> Self {
            V(u32x4_splat(x))
        }
        #[inline(always)]
        fn from_words(w: [u32; 4]) -> Self {
            V(u32x4(w[0], w[1], w[2], w[3]))
        }
        #[inline(always)]
        fn to_words(self) -> [u32; 4] {
            [
                u32x4_extract_lane::<0>(self.0),
                u32x4_extract_lane::<1>(self.0),
                u32x4_extract_lane::<2>(self.0),
                u32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            V(i32x4_add(self.0, o.0))
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            V(v128_xor(self.0, o.0))
        }
        #[inline(always)]
        fn shr(self, n: u32) -> Self {
            V(u32x4_shr(self.0, n))
        }
        #[inline(always)]
        fn rotr(self, n: u32) -> Self {
            V(v128_or(u32x4_shr(self.0, n), i32x4_shl(self.0, 32 - n)))
        }
        #[inline(always)]
        fn select(a: Self, b: Self, mask: Self) -> Self {
            V(v128_bitselect(a.0, b.0, mask.0))
        }
        /// Sixteen bytes at a time, each word byte-swapped as it is gathered (the compiler
        /// makes one load and one shuffle of it), then 4x4 transposes into lanes.
        #[inline(always)]
        fn block(messages: [&[u8]; 4], at: [usize; 4]) -> [Self; 16] {
            let row = |m: &[u8], i: usize| {
                let b: &[u8; 16] = m[i..i + 16].try_into().expect("16 bytes");
                u8x16(
                    b[3], b[2], b[1], b[0], b[7], b[6], b[5], b[4], b[11], b[10], b[9], b[8],
                    b[15], b[14], b[13], b[12],
                )
            };
            let mut w = [V(u32x4_splat(0)); 16];
            for q in 0..4 {
                let [r0, r1, r2, r3] = core::array::from_fn(|m| row(messages[m], at[m] + 16 * q));
                let t0 = i32x4_shuffle::<0, 4, 1, 5>(r0, r1);
                let t1 = i32x4_shuffle::<2, 6, 3, 7>(r0, r1);
                let t2 = i32x4_shuffle::<0, 4, 1, 5>(r2, r3);
                let t3 = i32x4_shuffle::<2, 6, 3, 7>(r2, r3);
                w[4 * q] = V(i64x2_shuffle::<0, 2>(t0, t2));
                w[4 * q + 1] = V(i64x2_shuffle::<1, 3>(t0, t2));
                w[4 * q + 2] = V(i64x2_shuffle::<0, 2>(t1, t3));
                w[4 * q + 3] = V(i64x2_shuffle::<1, 3>(t1, t3));
            }
            w
        }
    }
}

/// One round; the caller rotates the names.
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $k:expr, $w:expr) => {
        let s1 = $e.rotr(6).xor($e.rotr(11)).xor($e.rotr(25));
        let t1 = $h
            .add(s1)
            .add(L::select($f, $g, $e))
            .add(L::splat($k))
            .add($w);
        let s0 = $a.rotr(2).xor($a.rotr(13)).xor($a.rotr(22));
        let t2 = s0.add(L::select($c, $a, $a.xor($b)));
        $d = $d.add(t1);
        $h = t1.add(t2);
    };
}

#[inline(always)]
fn compress<L: Lanes>(state: &mut [L; 8], w: &mut [L; 16]) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for block in 0..4 {
        if block > 0 {
            for t in 0..16 {
                let x = w[(t + 1) % 16];
                let y = w[(t + 14) % 16];
                let s0 = x.rotr(7).xor(x.rotr(18)).xor(x.shr(3));
                let s1 = y.rotr(17).xor(y.rotr(19)).xor(y.shr(10));
                w[t] = w[t].add(s0).add(w[(t + 9) % 16]).add(s1);
            }
        }
        for i in (0..16).step_by(8) {
            let k = 16 * block + i;
            round!(a, b, c, d, e, f, g, h, K[k], w[i]);
            round!(h, a, b, c, d, e, f, g, K[k + 1], w[i + 1]);
            round!(g, h, a, b, c, d, e, f, K[k + 2], w[i + 2]);
            round!(f, g, h, a, b, c, d, e, K[k + 3], w[i + 3]);
            round!(e, f, g, h, a, b, c, d, K[k + 4], w[i + 4]);
            round!(d, e, f, g, h, a, b, c, K[k + 5], w[i + 5]);
            round!(c, d, e, f, g, h, a, b, K[k + 6], w[i + 6]);
            round!(b, c, d, e, f, g, h, a, K[k + 7], w[i + 7]);
        }
    }
    for (s, x) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.add(x);
    }
}

/// Compresses the next `blocks` 64-byte blocks of each of four messages, each from its own
/// midstate: their states after them.
fn advance4<L: Lanes>(messages: [&[u8]; 4], from: [Midstate; 4], blocks: usize) -> [[u32; 8]; 4] {
    let mut state: [L; 8] = core::array::from_fn(|i| L::from_words(from.map(|f| f.state[i])));
    for n in 0..blocks {
        let mut w = L::block(messages, from.map(|f| 64 * (f.blocks + n)));
        compress(&mut state, &mut w);
    }
    let lanes = state.map(L::to_words);
    core::array::from_fn(|m| core::array::from_fn(|i| lanes[i][m]))
}

/// [`advance4`] with wasm SIMD lanes where they are compiled in, else plain arrays. Each
/// message must hold `blocks` whole blocks after its midstate.
fn advance(messages: [&[u8]; 4], from: [Midstate; 4], blocks: usize) -> [[u32; 8]; 4] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return advance4::<simd::V>(messages, from, blocks);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    return advance4::<[u32; 4]>(messages, from, blocks);
}

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

    /// The SHA-256 of `message`, whose first `64 * self.blocks` bytes this state absorbed
    /// (the rest is hashed here, with RustCrypto's compression function).
    pub fn finish(self, message: &[u8]) -> [u8; 32] {
        let mut state = self.state;
        // Block by block from the message itself (no copy of the blocks).
        let rest = &message[64 * self.blocks..];
        let whole = rest.len() / 64 * 64;
        compress_blocks(&mut state, &rest[..whole]);
        // The tail, 0x80, zeros up to 56 bytes mod 64, the length in bits (big-endian).
        let tail = &rest[whole..];
        let mut last = [0u8; 128];
        last[..tail.len()].copy_from_slice(tail);
        last[tail.len()] = 0x80;
        let n = if tail.len() < 56 { 64 } else { 128 };
        last[n - 8..n].copy_from_slice(&(message.len() as u64 * 8).to_be_bytes());
        compress_blocks(&mut state, &last[..n]);
        let mut out = [0u8; 32];
        for (o, s) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }
}

/// SHA-256 compresses the whole 64-byte blocks of `bytes` into `state`, one after the other.
fn compress_blocks(state: &mut [u32; 8], bytes: &[u8]) {
    use sha2::digest::generic_array::GenericArray;
    for block in bytes.chunks_exact(64) {
        sha2::compress256(
            state,
            core::slice::from_ref(GenericArray::from_slice(block)),
        );
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

/// A reference message's SHA-256 states after each of its whole blocks. The records of one
/// look-up context begin with the same ~2 KB (the agents, the patient, the care relationship:
/// see `event::write_framed`), so a record starts from the state after the blocks it shares
/// with the reference and only its own blocks are compressed. The shared part is found by
/// comparing bytes, so a record that shares nothing is hashed in full: never a wrong state.
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
        let bytes = message[..message.len() / 64 * 64].to_vec();
        let mut states = Vec::with_capacity(bytes.len() / 64 + 1);
        let mut state = H0;
        states.push(state);
        for block in bytes.chunks_exact(64) {
            compress_blocks(&mut state, block);
            states.push(state);
        }
        Prefix { bytes, states }
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
}

/// For each message, a midstate to [`Midstate::finish`] it from: the state after the blocks it
/// shares with `prefix`, then its own whole blocks compressed four messages at a time. When
/// the first message shares less than half its blocks with `prefix`, it becomes the new
/// reference (a new look-up context). Fewer than three messages are left to `finish` alone:
/// one SIMD pass costs about what three scalar ones do.
pub fn midstates_of(prefix: &mut Prefix, messages: &[&[u8]]) -> Vec<Midstate> {
    let Some(first) = messages.first() else {
        return Vec::new();
    };
    if 2 * common_blocks(&prefix.bytes, first) < first.len() / 64 {
        *prefix = Prefix::of(first);
    }
    let mut out: Vec<Midstate> = messages.iter().map(|m| prefix.start(m)).collect();
    let mut at = 0;
    for group in messages.chunks(4) {
        if group.len() >= 3 {
            // A spare lane repeats the group's first message, from that message's midstate.
            let lane = |i: usize| if i < group.len() { i } else { 0 };
            let lanes: [&[u8]; 4] = core::array::from_fn(|i| group[lane(i)]);
            let from: [Midstate; 4] = core::array::from_fn(|i| out[at + lane(i)]);
            let blocks = lanes
                .iter()
                .zip(from)
                .map(|(m, f)| m.len() / 64 - f.blocks)
                .min()
                .unwrap_or(0);
            if blocks > 0 {
                let states = advance(lanes, from, blocks);
                for (i, state) in states.into_iter().take(group.len()).enumerate() {
                    out[at + i] = Midstate {
                        state,
                        blocks: from[i].blocks + blocks,
                    };
                }
            }
        }
        at += group.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    fn reference(m: &[u8], blocks: usize) -> [u32; 8] {
        let mut s = H0;
        compress_blocks(&mut s, &m[..64 * blocks]);
        s
    }

    fn sha256(m: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(m).into()
    }

    #[test]
    fn four_lanes_agree_with_sha2() {
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        let ms = [&data[..], &data[5..], &data[64..], &data[300..]];
        for blocks in [0, 1, 2, 17, 52] {
            let got = advance(ms, [Midstate::START; 4], blocks);
            for (m, g) in ms.iter().zip(got) {
                assert_eq!(g, reference(m, blocks), "{blocks} blocks");
            }
        }
        // From midstates at different blocks in each lane.
        let from: [Midstate; 4] = core::array::from_fn(|i| Midstate {
            state: reference(ms[i], 3 * i),
            blocks: 3 * i,
        });
        let got = advance(ms, from, 20);
        for (i, (m, g)) in ms.iter().zip(got).enumerate() {
            assert_eq!(g, reference(m, 3 * i + 20), "lane {i}");
        }
    }

    #[test]
    fn finished_midstates_are_sha256() {
        let data: Vec<u8> = (0..4000u32).map(|i| (i * 13 + i / 5) as u8).collect();
        // Every tail length around the padding boundary, in groups of one to six.
        for n in 0..7 {
            let messages: Vec<&[u8]> = (0..n).map(|i| &data[..2800 + 37 * i + 11 * n]).collect();
            let mut prefix = Prefix::default();
            for (m, mid) in messages.iter().zip(midstates_of(&mut prefix, &messages)) {
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
            let mids = midstates_of(&mut prefix, &refs);
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

    /// Found by the `audit_lanes` fuzz target: in a group of three, the spare lane repeats
    /// the first message and must start from that message's midstate, not the third's
    /// (a short first record and a third that shares many blocks used to underflow).
    #[test]
    fn a_spare_lane_starts_where_its_message_does() {
        let long: Vec<u8> = (0..2600u32).map(|i| (i * 3 + i / 17) as u8).collect();
        let mut prefix = Prefix::default();
        midstates_of(&mut prefix, &[&long]);
        let mut other = long.clone();
        other[1000] ^= 1;
        let short = &long[..4 * 64 + 10];
        let batch: [&[u8]; 3] = [short, &other, &long];
        for (m, mid) in batch.iter().zip(midstates_of(&mut prefix, &batch)) {
            assert_eq!(mid.finish(m), sha256(m), "{} bytes", m.len());
        }
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

//! The browser path's record hashing: messages split from the input (at 0xff bytes) go
//! through `Prefix::starts` in two batches that share one `Prefix`, and every finished
//! midstate must be the message's SHA-256 from RustCrypto's `sha2` 0.10 (another version
//! than the one tillit hashes with).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;
use tillit::audit::midstate::Prefix;

fuzz_target!(|data: &[u8]| {
    let messages: Vec<Vec<u8>> = data
        .split(|b| *b == 0xff)
        // Short inputs stretched so that whole blocks are shared with the reference.
        .map(|m| m.iter().cycle().take(m.len() * (1 + m.first().copied().unwrap_or(0) as usize % 40)).copied().collect())
        .collect();
    let half = messages.len() / 2;
    let mut prefix = Prefix::default();
    for batch in [&messages[..half], &messages[half..]] {
        let refs: Vec<&[u8]> = batch.iter().map(|m| &m[..]).collect();
        for (m, mid) in refs.iter().zip(prefix.starts(&refs)) {
            let want: [u8; 32] = sha2::Sha256::digest(m).into();
            assert_eq!(mid.finish(m), want);
        }
    }
});

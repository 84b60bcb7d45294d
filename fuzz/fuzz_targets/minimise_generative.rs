//! Issue 16's generative property as a fuzz target: the input bytes choose a random
//! DocumentReference Bundle (canary at a random depth and member, random labels in random
//! legal and illegal shapes, random subject forms, a context naming two patients) and
//! `check` panics when the minimiser keeps what the plainly written reference of the shipped
//! policy withholds, withholds what it keeps, or lets a canary through where the policy's
//! projection does not allow that exact path. The generator and reference are
//! tests/minimise_generative.rs, which the test command runs with proptest.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/minimise_generative.rs"]
mod generative;

fuzz_target!(|data: &[u8]| {
    generative::check(data);
});

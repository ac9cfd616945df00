//! A hash for tables whose keys no client chooses (pids, the
//! configuration's listeners, user names of the configuration): one
//! multiplication per word, where SipHash, which a table keyed by what a
//! client sends needs against collisions, costs more than the rest of a
//! lookup. Tables keyed by client addresses keep std's SipHash.
//!
//! [`Interner`] is such a table too: one copy of each value that many
//! services of a configuration repeat.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;

/// A `HashMap` with [`KeyHasher`].
pub type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// Shares equal values: what many services repeat (a program and its
/// arguments, a prepared exec) is held once, however many lines name it.
pub struct Interner<T: ?Sized>(HashSet<Rc<T>, BuildHasherDefault<KeyHasher>>);

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Interner<T> {
        Interner(HashSet::default())
    }
}

impl<T: Hash + Eq + ?Sized> Interner<T> {
    /// The copy of `value` shared before, or `value`, shared from now on.
    pub fn share(&mut self, value: Rc<T>) -> Rc<T> {
        if let Some(shared) = self.0.get(&value) {
            return Rc::clone(shared);
        }
        self.0.insert(Rc::clone(&value));
        value
    }
}

/// Each word is mixed in by a rotation, an xor and a multiplication by an
/// odd constant (2^64 / the golden ratio: Fibonacci hashing).
#[derive(Default)]
pub struct KeyHasher(u64);

const FACTOR: u64 = 0x9E37_79B9_7F4A_7C15;

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FACTOR);
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut whole = [0u8; 8];
            whole.copy_from_slice(word);
            self.mix(u64::from_le_bytes(whole));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(n.into());
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(n.into());
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(n.into());
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_i32(&mut self, n: i32) {
        self.mix(u64::from(n as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn hash(value: impl std::hash::Hash) -> u64 {
        BuildHasherDefault::<KeyHasher>::default().hash_one(value)
    }

    #[test]
    fn an_interner_gives_one_copy_of_equal_values() {
        let mut interner = Interner::default();
        let first = interner.share(Rc::new("/bin/cat".to_string()));
        let again = interner.share(Rc::new("/bin/cat".to_string()));
        let other = interner.share(Rc::new("/bin/sh".to_string()));
        assert!(Rc::ptr_eq(&first, &again));
        assert!(!Rc::ptr_eq(&first, &other));
    }

    #[test]
    fn keys_that_differ_hash_apart() {
        assert_ne!(hash("127.0.0.1:7"), hash("127.0.0.1:9"));
        assert_ne!(hash(1234_i32), hash(1235_i32));
        // A shorter tail is not the same as zero bytes.
        assert_ne!(hash([0u8; 3].as_slice()), hash([0u8; 4].as_slice()));
        let pids: std::collections::HashSet<u64> =
            (1..10_000).map(|pid: i32| hash(pid) & 1023).collect();
        assert!(
            pids.len() > 900,
            "pids spread over {} of 1024 buckets",
            pids.len()
        );
    }
}

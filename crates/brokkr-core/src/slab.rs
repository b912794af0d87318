//! A slab with generation-checked keys: a key to a freed slot never reaches the slot's next
//! occupant. Used for connections and sessions, whose keys travel in subscriptions and timers.

use std::fmt;

/// A key into a [`Slab`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// The key's slot: dense from 0, reused once freed (with a new generation), so a side
    /// table indexed by it needs no hashing.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.index, self.generation)
    }
}

#[derive(Debug)]
struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

/// Values addressed by generation-checked keys.
#[derive(Debug)]
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Store `value`, returning its key.
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(index) = self.free.pop()
            && let Some(e) = self.entries.get_mut(index as usize)
        {
            e.generation = e.generation.wrapping_add(1);
            e.value = Some(value);
            return Key {
                index,
                generation: e.generation,
            };
        }
        let index = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(Entry {
            generation: 0,
            value: Some(value),
        });
        Key {
            index,
            generation: 0,
        }
    }

    /// The value for `key`, if it is still there.
    pub fn get(&self, key: Key) -> Option<&T> {
        self.entries
            .get(key.index as usize)
            .filter(|e| e.generation == key.generation)
            .and_then(|e| e.value.as_ref())
    }

    /// The value for `key`, mutably.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|e| e.generation == key.generation)
            .and_then(|e| e.value.as_mut())
    }

    /// Remove and return the value for `key`.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let e = self
            .entries
            .get_mut(key.index as usize)
            .filter(|e| e.generation == key.generation)?;
        let value = e.value.take()?;
        self.free.push(key.index);
        self.len -= 1;
        Some(value)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys of all values, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.value.is_some())
            .map(|(i, e)| Key {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                generation: e.generation,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![b]);
    }
}

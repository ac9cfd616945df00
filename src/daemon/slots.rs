//! A table of open things by slot, for the connections the loop drives
//! (builtin sessions, relays): a slot's index is in its poll token, so an
//! entry keeps its index while open, and a closed entry's index is used
//! again (the last freed first) rather than the table growing.

pub(super) struct Slots<T> {
    entries: Vec<Option<T>>,
    /// Closed slots, the last freed last.
    free: Vec<usize>,
    /// The slots holding an entry, counted against the caps.
    open: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            free: Vec::new(),
            open: 0,
        }
    }
}

impl<T> Slots<T> {
    /// The slot the next [`Slots::insert`] takes: what is registered with
    /// the poll before the entry exists is named by it.
    pub(super) fn next(&self) -> usize {
        self.free.last().copied().unwrap_or(self.entries.len())
    }

    /// Puts `entry` in the slot [`Slots::next`] named, and returns it.
    pub(super) fn insert(&mut self, entry: T) -> usize {
        let index = match self.free.pop() {
            Some(index) => {
                self.entries[index] = Some(entry);
                index
            }
            None => {
                self.entries.push(Some(entry));
                self.entries.len() - 1
            }
        };
        self.open += 1;
        index
    }

    /// Takes the entry out of slot `index`, which is free from then on.
    pub(super) fn remove(&mut self, index: usize) -> Option<T> {
        let entry = self.entries.get_mut(index)?.take()?;
        self.free.push(index);
        self.open -= 1;
        Some(entry)
    }

    pub(super) fn get(&self, index: usize) -> Option<&T> {
        self.entries.get(index)?.as_ref()
    }

    pub(super) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.entries.get_mut(index)?.as_mut()
    }

    /// How many slots hold an entry.
    pub(super) fn len(&self) -> usize {
        self.open
    }

    /// The entries with their slots, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| Some((index, entry.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_taken_again_the_last_freed_first() {
        let mut slots = Slots::default();
        assert_eq!(slots.next(), 0);
        assert_eq!(slots.insert('a'), 0);
        assert_eq!(slots.insert('b'), 1);
        assert_eq!(slots.insert('c'), 2);
        assert_eq!(slots.remove(0), Some('a'));
        assert_eq!(slots.remove(2), Some('c'));
        assert_eq!(slots.len(), 1);
        assert_eq!(slots.next(), 2);
        assert_eq!(slots.insert('d'), 2);
        assert_eq!(slots.insert('e'), 0);
        assert_eq!(slots.next(), 3);
        assert_eq!(slots.len(), 3);
        let held: Vec<_> = slots.iter().collect();
        assert_eq!(held, [(0, &'e'), (1, &'b'), (2, &'d')]);
    }

    #[test]
    fn removing_an_empty_or_unknown_slot_changes_nothing() {
        let mut slots = Slots::default();
        slots.insert(1);
        assert_eq!(slots.remove(0), Some(1));
        assert_eq!(slots.remove(0), None);
        assert_eq!(slots.remove(7), None);
        assert_eq!(slots.len(), 0);
        assert_eq!(slots.next(), 0);
        assert_eq!(slots.get(0), None);
        assert_eq!(slots.get_mut(7), None);
    }
}

//! A bounded FIFO whose capacity is a const generic.

use core::fmt;

use heapless::Deque;

/// A bounded first-in, first-out queue holding at most `N` items.
///
/// Storage is inline (`N` slots inside the value), so a `Mailbox` never touches the allocator.
/// Pushing onto a full mailbox refuses and hands the item back; nothing is overwritten and
/// nothing blocks.
///
/// ```
/// use tina_mailbox::Mailbox;
///
/// let mut mailbox: Mailbox<u32, 2> = Mailbox::new();
/// assert!(mailbox.try_push(1).is_ok());
/// assert!(mailbox.try_push(2).is_ok());
/// assert_eq!(mailbox.try_push(3), Err(3)); // full: the item comes back
/// assert_eq!(mailbox.pop(), Some(1));
/// assert_eq!(mailbox.len(), 1);
/// ```
pub struct Mailbox<T, const N: usize> {
    items: Deque<T, N>,
}

impl<T, const N: usize> Mailbox<T, N> {
    /// The number of items the mailbox can hold.
    pub const CAPACITY: usize = {
        assert!(N > 0, "a mailbox needs a capacity of at least 1");
        N
    };

    /// Creates an empty mailbox.
    pub const fn new() -> Self {
        let _ = Self::CAPACITY;
        Self {
            items: Deque::new(),
        }
    }

    /// Appends `item` at the back, or hands it back if the mailbox is full.
    #[inline]
    pub fn try_push(&mut self, item: T) -> Result<(), T> {
        self.items.push_back(item)
    }

    /// Removes and returns the item at the front, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Returns the item at the front without removing it.
    #[inline]
    pub fn peek(&self) -> Option<&T> {
        self.items.front()
    }

    /// The number of items currently held.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the mailbox holds no item.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the next push would be refused.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.items.is_full()
    }

    /// The number of items the mailbox can hold (`N`).
    #[inline]
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Drops every item, front to back.
    pub fn clear(&mut self) {
        while self.items.pop_front().is_some() {}
    }
}

impl<T, const N: usize> Default for Mailbox<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for Mailbox<T, N> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.items.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_refusal_when_full() {
        let mut mailbox: Mailbox<u8, 3> = Mailbox::new();
        assert!(mailbox.is_empty());
        for value in 0..3 {
            assert_eq!(mailbox.try_push(value), Ok(()));
        }
        assert!(mailbox.is_full());
        assert_eq!(mailbox.try_push(9), Err(9));
        assert_eq!(mailbox.peek(), Some(&0));
        assert_eq!(mailbox.pop(), Some(0));
        assert_eq!(mailbox.try_push(3), Ok(()));
        assert_eq!(mailbox.pop(), Some(1));
        assert_eq!(mailbox.pop(), Some(2));
        assert_eq!(mailbox.pop(), Some(3));
        assert_eq!(mailbox.pop(), None);
        assert_eq!(mailbox.capacity(), 3);
    }

    #[test]
    fn clear_empties() {
        let mut mailbox: Mailbox<u8, 4> = Mailbox::default();
        mailbox.try_push(1).unwrap();
        mailbox.try_push(2).unwrap();
        mailbox.clear();
        assert_eq!(mailbox.len(), 0);
        assert_eq!(format!("{mailbox:?}"), "[]");
    }
}

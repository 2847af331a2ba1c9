//! [`Paged`]: a list in shared pages, so that the next generation's index copies only the pages
//! a change writes to (issue 16).

use std::sync::Arc;

/// Entries a page holds (a power of two).
const PAGE: usize = 1024;
const SHIFT: u32 = PAGE.trailing_zeros();

/// A list of `T` in pages of [`PAGE`] entries, each page shared between clones until one of
/// them writes to it. A clone copies the page pointers only.
#[derive(Clone)]
pub(super) struct Paged<T> {
    /// Every page but the last is full.
    pages: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T: Copy> Paged<T> {
    pub(super) fn from_vec(items: Vec<T>) -> Paged<T> {
        let len = items.len();
        let pages = items.chunks(PAGE).map(|c| Arc::new(c.to_vec())).collect();
        Paged { pages, len }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> &T {
        &self.pages[i >> SHIFT][i & (PAGE - 1)]
    }

    /// Entries `start..start + len`, which must lie in one page (see [`Paged::push_run`]).
    #[inline]
    pub(super) fn run(&self, start: usize, len: usize) -> &[T] {
        if len == 0 {
            return &[];
        }
        let at = start & (PAGE - 1);
        &self.pages[start >> SHIFT][at..at + len]
    }

    /// Entry `i`, to write: its page is copied first if it is shared.
    pub(super) fn get_mut(&mut self, i: usize) -> &mut T {
        &mut Arc::make_mut(&mut self.pages[i >> SHIFT])[i & (PAGE - 1)]
    }

    pub(super) fn push(&mut self, item: T) {
        if self.len & (PAGE - 1) == 0 {
            self.pages.push(Arc::new(Vec::with_capacity(PAGE)));
        }
        Arc::make_mut(self.pages.last_mut().expect("a page")).push(item);
        self.len += 1;
    }

    /// Removes the last entry.
    pub(super) fn pop(&mut self) -> Option<T> {
        let last = self.pages.last_mut()?;
        let item = Arc::make_mut(last).pop();
        if last.is_empty() {
            self.pages.pop();
        }
        self.len -= 1;
        item
    }

    /// Appends `items` where they fit in one page (starting a new page, and leaving the rest of
    /// the current one unused, if they do not fit in it): returns where they start and how
    /// many entries were left unused. `items` must be at most a page.
    pub(super) fn push_run(&mut self, items: &[T], filler: T) -> (usize, usize) {
        assert!(items.len() <= PAGE, "a run longer than a page");
        let room = PAGE - (self.len & (PAGE - 1));
        let skipped = if items.len() > room && room < PAGE {
            room
        } else {
            0
        };
        for _ in 0..skipped {
            self.push(filler);
        }
        let start = self.len;
        for &item in items {
            self.push(item);
        }
        (start, skipped)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.pages.iter().flat_map(|p| p.iter())
    }

    /// Entries `range`, in order.
    pub(super) fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &T> + '_ {
        range.map(|i| self.get(i))
    }

    /// The number of pages this list shares with `other` (for tests).
    #[cfg(test)]
    pub(super) fn shared_pages(&self, other: &Paged<T>) -> usize {
        self.pages
            .iter()
            .zip(&other.pages)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count()
    }
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> std::ops::Index<usize> for Paged<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        self.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_shares_pages() {
        let p = Paged::from_vec((0..3 * PAGE as u32 + 5).collect());
        assert_eq!(p.len(), 3 * PAGE + 5);
        assert_eq!(*p.get(PAGE + 7), PAGE as u32 + 7);
        let mut q = p.clone();
        *q.get_mut(5) = 99;
        q.push(7);
        assert_eq!(*p.get(5), 5);
        assert_eq!(*q.get(5), 99);
        assert_eq!(q.shared_pages(&p), 2);
        assert_eq!(q.pop(), Some(7));
        assert_eq!(q.len(), p.len());
        assert!(
            q.iter()
                .copied()
                .eq((0..3 * PAGE as u32 + 5).map(|i| if i == 5 { 99 } else { i }))
        );
        // A run never straddles a page.
        let mut r = Paged::from_vec(vec![0u32; PAGE - 2]);
        let (start, skipped) = r.push_run(&[1, 2, 3], 0);
        assert_eq!((start, skipped), (PAGE, 2));
        assert_eq!(r.run(start, 3), &[1, 2, 3]);
        let (start, skipped) = r.push_run(&[4], 0);
        assert_eq!((start, skipped), (PAGE + 3, 0));
    }
}

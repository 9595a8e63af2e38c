//! Budgets for flattened replies: how much text and how many items a flattened view may make.

/// How much a flattened view of a reply may make: text bytes (full paths, messages, plus
/// a fixed cost per item) and items. A reply's flattened form can be much larger than the
/// reply (a path shared by reference becomes one copy per parameter), so every flattener
/// counts what it is about to make against a budget and stops at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of text made, plus the size of each item. Default 8 MiB.
    pub max_bytes: usize,
    /// Items made. Default 65,536 (a home device's whole data model has a few thousand
    /// parameters).
    pub max_items: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_bytes: 8 * 1024 * 1024, max_items: 65_536 }
    }
}

/// What is left of a [`Budget`] while flattening.
#[derive(Debug)]
pub struct Meter {
    bytes: usize,
    items: usize,
}

impl Meter {
    /// A full budget.
    pub fn new(budget: Budget) -> Self {
        Self { bytes: budget.max_bytes, items: budget.max_items }
    }

    /// Takes one item of `bytes` bytes; `false` (and nothing taken) when it does not fit.
    pub fn take(&mut self, bytes: usize) -> bool {
        if self.items == 0 || bytes > self.bytes {
            return false;
        }
        self.items -= 1;
        self.bytes -= bytes;
        true
    }
}

/// A flattened list made within a [`Budget`]: the items that fitted, in order, and
/// whether some were left out. Reads like a slice and iterates like a `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounded<T> {
    pub(super) items: Vec<T>,
    pub(super) truncated: bool,
}

/// A flattened reply that did not fit its [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the agent's reply is too large to handle (over {kept} entries or the memory budget)")]
pub struct TooLarge {
    /// How many items fitted.
    pub kept: usize,
}

impl<T> Bounded<T> {
    /// A complete list.
    pub fn complete(items: Vec<T>) -> Self {
        Self { items, truncated: false }
    }
    /// A list with items left out.
    pub fn truncated_at(items: Vec<T>) -> Self {
        Self { items, truncated: true }
    }
    /// Whether items were left out because the budget ran out.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// The items that fitted.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }
    /// All the items, or [`TooLarge`] when some were left out.
    ///
    /// # Errors
    /// [`TooLarge`] when the budget ran out.
    pub fn all(self) -> Result<Vec<T>, TooLarge> {
        if self.truncated {
            Err(TooLarge { kept: self.items.len() })
        } else {
            Ok(self.items)
        }
    }
}

impl<T> std::ops::Deref for Bounded<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> IntoIterator for Bounded<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Bounded<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

//! [`Secret`]: a value that can't be logged or serialised by accident.
//!
//! Passcodes, the controller's private key and WiFi passphrases travel in a `Secret`. Its
//! `Debug` prints `Secret(<redacted>)`; it has no `Display` and no `serde::Serialize`, so
//! `format!("{}")`, `tracing` field capture with `%` and `serde_json::to_string` don't compile;
//! the bytes are overwritten with zeroes when the value is dropped. The only way to the inner
//! value is [`Secret::expose`], which makes every use of the plain value easy to find.
//!
//! ```compile_fail
//! let s = app_core::secret::Secret::new(String::from("hunter2"));
//! let _ = format!("{s}"); // no Display
//! ```
//!
//! ```compile_fail
//! let s = app_core::secret::Secret::new(String::from("hunter2"));
//! let _ = serde_json::to_string(&s); // no Serialize
//! ```

use std::fmt;

use zeroize::Zeroize;

/// A secret value of type `T` (e.g. `Secret<String>`, `Secret<Vec<u8>>`).
///
/// ```
/// use app_core::secret::Secret;
/// let key = Secret::new(b"private key bytes".to_vec());
/// assert_eq!(format!("{key:?}"), "Secret(<redacted>)");
/// assert_eq!(key.expose().len(), 17);
/// ```
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// Wraps `value`; from now on it is redacted in `Debug` and zeroed on drop.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The plain value. Keep the borrow short and never log what it gives.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl Secret<Vec<u8>> {
    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_for_every_shape() {
        let s = Secret::new(String::from("hunter2"));
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s:#?}"), "Secret(<redacted>)");
        let b = Secret::from_slice(b"\x01\x02");
        assert_eq!(format!("{:?}", Some(&b)), "Some(Secret(<redacted>))");
    }

    #[test]
    fn clone_is_independent_and_equal() {
        let a = Secret::new(vec![7u8; 4]);
        let b = a.clone();
        drop(a);
        assert_eq!(b.expose(), &vec![7u8; 4]);
    }
}

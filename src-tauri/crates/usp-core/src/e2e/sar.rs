//! Segmentation and reassembly of PLAINTEXT payloads (`payload_sar_state`,
//! `payloadrec_sar_state`).
//!
//! With PLAINTEXT the whole Message is one "payload record", so both states are equal on
//! every Record (SPEC-E2E "SAR function algorithm": "`payloadrec_sar_state` will be the same
//! as `payload_sar_state`"), and each Record carries at most one `payload` entry.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::{SAR_BEGIN, SAR_COMPLETE, SAR_INPROCESS, SAR_NONE};

/// Splits `msg` into segments of at most `chunk` bytes, each with its `payload_sar_state`.
/// One segment (state NONE) when it fits. `chunk` must be at least 1.
pub(super) fn segments(msg: &Bytes, chunk: usize) -> Vec<(i32, Bytes)> {
    let chunk = chunk.max(1);
    if msg.len() <= chunk {
        return vec![(SAR_NONE, msg.clone())];
    }
    let n = msg.len().div_ceil(chunk);
    (0..n)
        .map(|i| {
            let state = match i {
                0 => SAR_BEGIN,
                i if i + 1 == n => SAR_COMPLETE,
                _ => SAR_INPROCESS,
            };
            (state, msg.slice(i * chunk..((i + 1) * chunk).min(msg.len())))
        })
        .collect()
}

/// Why a received payload cannot be reassembled (each fails the context, R-E2E.21).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SarError {
    /// A state outside NONE..COMPLETE.
    UnknownState(i32),
    /// `payloadrec_sar_state` differs from `payload_sar_state` (they are equal for PLAINTEXT).
    StatesDiffer {
        /// `payload_sar_state`.
        payload: i32,
        /// `payloadrec_sar_state`.
        payloadrec: i32,
    },
    /// More than one `payload` entry in a PLAINTEXT Record.
    PayloadCount(usize),
    /// INPROCESS or COMPLETE without a BEGIN before it.
    NotStarted(i32),
    /// BEGIN or NONE while a segmented Message is still incomplete.
    Unfinished(i32),
    /// The Message would exceed the bound.
    TooLarge {
        /// Bytes it would hold.
        size: usize,
        /// The bound.
        limit: usize,
    },
}

impl fmt::Display for SarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownState(s) => write!(f, "unknown segmentation state {s}"),
            Self::StatesDiffer { payload, payloadrec } => {
                write!(
                    f,
                    "payload_sar_state {payload} and payloadrec_sar_state {payloadrec} differ for a plaintext payload"
                )
            }
            Self::PayloadCount(n) => write!(f, "{n} payloads in one plaintext record"),
            Self::NotStarted(s) => write!(f, "segment with state {s} but no segmented message begun"),
            Self::Unfinished(s) => write!(f, "segment with state {s} before the previous message was complete"),
            Self::TooLarge { size, limit } => {
                write!(f, "a segmented message of at least {size} bytes, over the {limit}-byte limit")
            }
        }
    }
}

/// The segments of one Message received so far, appended into one buffer (so a stream of
/// tiny segments costs no more memory than the Message itself).
#[derive(Debug, Default)]
pub(super) struct Reassembly {
    buf: BytesMut,
    active: bool,
}

impl Reassembly {
    /// Bytes held.
    pub(super) fn held(&self) -> usize {
        self.buf.len()
    }

    /// Drops what is held.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Takes the payload of the next Record (in sequence order). Returns a whole Message
    /// when one is complete. On error, what was held is dropped.
    pub(super) fn push(
        &mut self,
        state: i32,
        rec_state: i32,
        payload: &[Bytes],
        limit: usize,
    ) -> Result<Option<Bytes>, SarError> {
        let r = self.push_inner(state, rec_state, payload, limit);
        if r.is_err() {
            self.clear();
        }
        r
    }

    fn push_inner(
        &mut self,
        state: i32,
        rec_state: i32,
        payload: &[Bytes],
        limit: usize,
    ) -> Result<Option<Bytes>, SarError> {
        if !(SAR_NONE..=SAR_COMPLETE).contains(&state) {
            return Err(SarError::UnknownState(state));
        }
        if rec_state != state {
            return Err(SarError::StatesDiffer { payload: state, payloadrec: rec_state });
        }
        let piece = match payload {
            [] => Bytes::new(),
            [one] => one.clone(),
            more => return Err(SarError::PayloadCount(more.len())),
        };
        match state {
            SAR_NONE => {
                if self.active {
                    return Err(SarError::Unfinished(state));
                }
                if piece.len() > limit {
                    return Err(SarError::TooLarge { size: piece.len(), limit });
                }
                Ok((!piece.is_empty()).then_some(piece))
            }
            SAR_BEGIN => {
                if self.active {
                    return Err(SarError::Unfinished(state));
                }
                self.active = true;
                self.add(piece, limit)?;
                Ok(None)
            }
            _ => {
                if !self.active {
                    return Err(SarError::NotStarted(state));
                }
                self.add(piece, limit)?;
                if state == SAR_INPROCESS {
                    return Ok(None);
                }
                let whole = std::mem::take(&mut self.buf).freeze();
                self.clear();
                Ok(Some(whole))
            }
        }
    }

    fn add(&mut self, piece: Bytes, limit: usize) -> Result<(), SarError> {
        let size = self.buf.len().saturating_add(piece.len());
        if size > limit {
            return Err(SarError::TooLarge { size, limit });
        }
        self.buf.extend_from_slice(&piece);
        Ok(())
    }
}

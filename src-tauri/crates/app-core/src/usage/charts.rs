//! `impl Home` for the charts beside a device's usage: the whole home's usage (home page), and a
//! device's WiFi signal and online periods (Devices page), all read from the local history.

use std::time::SystemTime;

use ipc_types::{
    DeviceHistory, DeviceHistoryArgs, HistorySpan, HomeUsage, HomeUsageArgs, OnlineSpan, SignalBar, UsageBar,
};
use usp_history::{Span, Step};

use super::{every_words, local_offset, span_of, unix, HOUR};
use crate::home::{AppError, AppResult, Home};
use crate::hosts::mac_arg;

/// The hours of a device chart ending with the hour holding `now`: 24 or 168 of them.
pub(crate) fn hours_of(span: HistorySpan, now: i64) -> Span {
    let hours = match span {
        HistorySpan::Day => 24,
        HistorySpan::Week => 24 * 7,
    };
    let end = now - now.rem_euclid(HOUR) + HOUR;
    Span { from: end - hours * HOUR, to: end, step: Step::Hour }
}

fn read_error(e: usp_history::Error) -> AppError {
    AppError::Internal(format!("the usage history could not be read: {e}"))
}

impl Home {
    /// How the history is collected, in words (under each chart).
    pub(crate) async fn collecting_words(&self) -> String {
        let ways = self.usage_collection().await;
        let every = every_words(self.history_interval());
        let reporting = ways.iter().filter(|w| w.by_reports).count();
        match reporting {
            0 => format!("Every {every}, by asking your devices; kept on this computer only."),
            n if n == ways.len() => {
                format!("Every {every}, from your devices' BulkData reports; kept on this computer only.")
            }
            _ => format!(
                "Every {every}, from BulkData reports where your devices send them, else by asking; kept on this computer only."
            ),
        }
    }

    /// [`Self::collecting_words`], and for a chart with no usage yet, when the next sample is
    /// due (usage is the growth between two samples, so a new history shows it from its second
    /// sample on).
    pub(crate) fn with_next_sample(&self, collecting: String, empty: bool) -> String {
        let next = self.with_collect(|c| c.next_sample).filter(|_| empty);
        let Some(at) = next.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) else { return collecting };
        let at = at.with_timezone(&chrono::Local).format("%H:%M");
        format!("{collecting} Usage shows from the second sample on; the next is due at about {at}.")
    }

    /// `home_usage`: every device's usage added up, today by hour or the last 7 or 30 days by
    /// day.
    ///
    /// # Errors
    /// When the history can't be read (a history that can't be kept is a `problem`, not an
    /// error).
    pub async fn home_usage(&self, args: HomeUsageArgs) -> AppResult<HomeUsage> {
        self.home_usage_at(args, SystemTime::now()).await
    }

    /// [`Home::home_usage`] as at `now` (tests).
    ///
    /// # Errors
    /// As [`Home::home_usage`].
    pub async fn home_usage_at(&self, args: HomeUsageArgs, now: SystemTime) -> AppResult<HomeUsage> {
        let collecting = self.collecting_words().await;
        let mut view =
            HomeUsage { range: args.range, bars: Vec::new(), total_down: 0, total_up: 0, collecting, problem: None };
        let store = match self.history_store().await {
            Ok(s) => s,
            Err(e) => {
                view.problem = Some(e.to_string());
                return Ok(view);
            }
        };
        let span = span_of(args.range, unix(now), local_offset());
        let points = store.call(move |s| s.home_usage(span)).await.map_err(read_error)?;
        view.bars = points
            .iter()
            .map(|p| UsageBar { start_ms: p.start.saturating_mul(1000), down: p.down, up: p.up })
            .collect();
        view.total_down = view.bars.iter().fold(0u64, |a, b| a.saturating_add(b.down));
        view.total_up = view.bars.iter().fold(0u64, |a, b| a.saturating_add(b.up));
        let empty = view.total_down == 0 && view.total_up == 0;
        view.collecting = self.with_next_sample(std::mem::take(&mut view.collecting), empty);
        Ok(view)
    }

    /// `device_history`: a device's WiFi signal by hour and its online periods, the last 24
    /// hours or 7 days, and when it was last seen.
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad MAC; when the history can't be read.
    pub async fn device_history(&self, args: DeviceHistoryArgs) -> AppResult<DeviceHistory> {
        self.device_history_at(args, SystemTime::now()).await
    }

    /// [`Home::device_history`] as at `now` (tests).
    ///
    /// # Errors
    /// As [`Home::device_history`].
    pub async fn device_history_at(&self, args: DeviceHistoryArgs, now: SystemTime) -> AppResult<DeviceHistory> {
        let mac = mac_arg(&args.mac)?;
        let span = hours_of(args.span, unix(now));
        let mut view = DeviceHistory {
            mac: mac.clone(),
            span: args.span,
            from_ms: span.from.saturating_mul(1000),
            to_ms: span.to.saturating_mul(1000),
            signal: Vec::new(),
            online: Vec::new(),
            online_now: false,
            last_seen_ms: None,
            problem: None,
        };
        let store = match self.history_store().await {
            Ok(s) => s,
            Err(e) => {
                view.problem = Some(e.to_string());
                return Ok(view);
            }
        };
        let (signal, online, last_seen) = store
            .call(move |s| {
                let signal = s.signal(&mac, span)?;
                let online = s.online_timeline(&mac, span.from, span.to)?;
                Ok((signal, online, s.last_seen(&mac)?))
            })
            .await
            .map_err(read_error)?;
        view.signal = signal
            .into_iter()
            .map(|p| SignalBar {
                start_ms: p.start.saturating_mul(1000),
                avg_dbm: p.avg_dbm,
                min_dbm: p.min_dbm,
                max_dbm: p.max_dbm,
            })
            .collect();
        view.online_now = online.last().is_some_and(|p| p.end.is_none());
        view.online = online
            .into_iter()
            .map(|p| OnlineSpan {
                start_ms: p.start.saturating_mul(1000),
                end_ms: p.end.map(|e| e.saturating_mul(1000)),
            })
            .collect();
        view.last_seen_ms = last_seen.map(|t| t.saturating_mul(1000));
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_charts_end_with_the_current_hour() {
        let now = 1_796_416_267; // 20:31:07 UTC
        let day = hours_of(HistorySpan::Day, now);
        assert_eq!(day.to, now - now % HOUR + HOUR);
        assert_eq!((day.to - day.from) / HOUR, 24);
        assert_eq!(
            (day.step, (hours_of(HistorySpan::Week, now).to - hours_of(HistorySpan::Week, now).from) / HOUR),
            (Step::Hour, 168)
        );
    }
}

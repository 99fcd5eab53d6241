//! The sliding-window rule, in one place. The Redis script of the shared store implements the
//! same rule; change both together.
//!
//! # The rule
//!
//! A window has a length `T` and a limit `L`. Admitted requests are remembered in at most
//! [`GROUPS`] groups, oldest to newest; every group but the newest holds exactly `g` admissions,
//! where `g = ceil(L / GROUPS)` is fixed when the window is empty and kept until it empties
//! again. A group remembers only its end: the time of its latest admission, rounded up to the
//! window's unit.
//!
//! - A group is **live** at `now` when `end > now - T`. Groups are written in time order, so the
//!   live groups are the newest ones; expired groups are dropped from the oldest end.
//! - The live count is `(live groups - 1) * g + admissions in the newest group`. Counting a
//!   live group whole, even if some of its admissions are older than `now - T`, can only
//!   overestimate: the window is **strict**. No interval of length `T` ever holds more than `L`
//!   admissions, whatever the arrival pattern.
//! - A request is admitted when `live count + 1 <= L`. It joins the newest group if that group is
//!   live and has fewer than `g` admissions, else it opens a new group.
//! - Time never runs backwards inside a window: a reading earlier than the last one is taken as
//!   the last one, so a clock that jumps back cannot free capacity.
//! - With `L <= GROUPS`, `g = 1` and the window is an exact sliding log. Above that, what it gives
//!   up against an exact log is bounded by the one group straddling `now - T`: about
//!   `1 / (GROUPS + 1)` of the limit in the worst case.
//!
//! Group ends are kept as 16-bit unit counts modulo 2^16 and compared relative to `now - T`;
//! the unit is chosen so that every end a window can hold is within ±2^15 units of it.

/// Groups per window. 20 keeps the worst-case accuracy above 95% of an exact sliding log.
pub(crate) const GROUPS: usize = 20;

/// A window's length and the unit its group ends are counted in: `2^unit_shift` ms, a power of
/// two so that converting a time to units is a shift, not a division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) length_ms: i64,
    pub(crate) unit_shift: u32,
}

/// The default per-second window: 1 s, in 1 ms units.
#[cfg(test)]
pub(crate) const SECOND: Span = Span::of_secs(1);

/// The default per-minute window: 60 s, in 2 ms units.
#[cfg(test)]
pub(crate) const MINUTE: Span = Span::of_secs(60);

impl Span {
    /// A window of `secs` seconds, in the smallest power-of-two unit in which every end a window
    /// can hold stays within 2^15 units after the horizon, where the 16-bit circle compares them
    /// rightly (1 ms for 1 s, 2 ms for 60 s, 128 ms for 1 h, 4,096 ms for 24 h). An end is
    /// `ceil(now / u)` and the horizon `floor((now - T) / u)`, so an end can lie up to
    /// `floor(T / u) + 2` units after it: that, not the length alone, must stay below 2^15.
    pub(crate) const fn of_secs(secs: u64) -> Span {
        let length_ms = secs.saturating_mul(1_000);
        let mut unit_shift = 0;
        while (length_ms >> unit_shift) + 2 > i16::MAX as u64 {
            unit_shift += 1;
        }
        Span {
            length_ms: length_ms as i64,
            unit_shift,
        }
    }

    /// The unit in milliseconds.
    pub(crate) const fn unit_ms(self) -> i64 {
        1 << self.unit_shift
    }

    /// `floor((now - T) / unit)`: a group is live when its end is after this.
    fn horizon(self, now_ms: i64) -> i64 {
        (now_ms - self.length_ms) >> self.unit_shift
    }

    /// `ceil(now / unit)` on the 16-bit circle: a group's end, rounded up so it is never early.
    fn end_units(self, now_ms: i64) -> u16 {
        let unit = 1i64 << self.unit_shift;
        ((now_ms + unit - 1) >> self.unit_shift) as u16
    }
}

/// One window's memory: 52 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupLog {
    ends: [u16; GROUPS],
    group_size: u32,
    newest_count: u32,
    newest: u8,
    live: u8,
}

/// What a window says about one more request at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WindowCheck {
    /// Admissions the window counts as live (before this request).
    pub(crate) live_count: u64,
    /// Whether one more fits.
    pub(crate) fits: bool,
    /// Milliseconds until enough capacity frees for one more request (0 when it fits now).
    pub(crate) wait_ms: i64,
    /// Milliseconds until the oldest live group expires (0 when nothing is live).
    pub(crate) reset_ms: i64,
}

impl GroupLog {
    /// Drops expired groups and says whether one more request fits under `limit`.
    pub(crate) fn check(&mut self, span: Span, limit: u32, now_ms: i64) -> WindowCheck {
        let horizon = span.horizon(now_ms);
        self.drop_expired(horizon);
        let live_count = self.live_count();
        // All groups in use and the newest full: one more would need a group there is no room
        // for. Only after the limit grew (its group size is kept until the window empties), so
        // the window then admits up to GROUPS groups of the old size: fewer, never more.
        let full = usize::from(self.live) == GROUPS && self.newest_count >= self.group_size;
        let fits = live_count < u64::from(limit) && !full;
        WindowCheck {
            live_count,
            fits,
            wait_ms: if fits {
                0
            } else {
                self.wait_ms(span, horizon, limit, now_ms)
            },
            reset_ms: self.reset_ms(span, horizon, now_ms),
        }
    }

    /// Records one admission at `now`. Call only after [`GroupLog::check`] said it fits.
    pub(crate) fn record(&mut self, span: Span, limit: u32, now_ms: i64) {
        let end = span.end_units(now_ms);
        if self.live == 0 {
            // An empty window adopts the group size of the current limit.
            self.group_size = group_size(limit);
            self.newest_count = 0;
        }
        if self.live > 0 && self.newest_count < self.group_size {
            self.ends[usize::from(self.newest)] = end;
            self.newest_count += 1;
            return;
        }
        // `check` admitted, so fewer than GROUPS groups are live (or the newest has room), and
        // the slot after the newest is free (never live).
        self.newest = ((usize::from(self.newest) + 1) % GROUPS) as u8;
        self.ends[usize::from(self.newest)] = end;
        self.newest_count = 1;
        self.live += 1;
    }

    /// Recounts the groups, written in `from`'s unit, in `to`'s: the window's length changed.
    /// Groups no longer live under `to`'s length are dropped; the others keep their places, each
    /// end rounded up to `to`'s unit (never earlier, so the window stays strict).
    pub(crate) fn rescale(&mut self, from: Span, to: Span, now_ms: i64) {
        let horizon = from.horizon(now_ms);
        self.drop_expired(horizon);
        let end_ms = |end: u16| (horizon + after(end, horizon)) << from.unit_shift;
        while self.live > 0 && end_ms(self.ends[self.oldest_index()]) <= now_ms - to.length_ms {
            self.live -= 1;
        }
        let oldest = self.oldest_index();
        for k in 0..usize::from(self.live) {
            let index = (oldest + k) % GROUPS;
            self.ends[index] = to.end_units(end_ms(self.ends[index]));
        }
    }

    /// Whether nothing in the window is live at `now`.
    pub(crate) fn is_empty_at(&self, span: Span, now_ms: i64) -> bool {
        self.live == 0 || after(self.ends[usize::from(self.newest)], span.horizon(now_ms)) < 1
    }

    fn live_count(&self) -> u64 {
        match self.live {
            0 => 0,
            n => u64::from(n - 1) * u64::from(self.group_size) + u64::from(self.newest_count),
        }
    }

    fn oldest_index(&self) -> usize {
        (usize::from(self.newest) + GROUPS + 1 - usize::from(self.live)) % GROUPS
    }

    fn drop_expired(&mut self, horizon: i64) {
        while self.live > 0 && after(self.ends[self.oldest_index()], horizon) < 1 {
            self.live -= 1;
        }
    }

    /// Milliseconds from `now` until the group ending at `end` expires, at least 1.
    fn expiry_in_ms(&self, end: u16, span: Span, horizon: i64, now_ms: i64) -> i64 {
        let end_ms = (horizon + after(end, horizon)) << span.unit_shift;
        (end_ms + span.length_ms - now_ms).max(1)
    }

    fn wait_ms(&self, span: Span, horizon: i64, limit: u32, now_ms: i64) -> i64 {
        let mut live_count = self.live_count();
        let mut index = self.oldest_index();
        for position in 0..self.live {
            let freed = if position + 1 == self.live {
                u64::from(self.newest_count)
            } else {
                u64::from(self.group_size)
            };
            live_count -= freed;
            if live_count < u64::from(limit) {
                return self.expiry_in_ms(self.ends[index], span, horizon, now_ms);
            }
            index = (index + 1) % GROUPS;
        }
        // A limit of 0 never admits: the honest wait is "a whole window, then ask again".
        span.length_ms
    }

    fn reset_ms(&self, span: Span, horizon: i64, now_ms: i64) -> i64 {
        if self.live == 0 {
            return 0;
        }
        self.expiry_in_ms(self.ends[self.oldest_index()], span, horizon, now_ms)
    }
}

/// How many units `end` lies after `horizon`, on the 16-bit circle: live when at least 1.
fn after(end: u16, horizon: i64) -> i64 {
    i64::from(end.wrapping_sub(horizon as u16) as i16)
}

/// `ceil(L / GROUPS)`, at least 1.
fn group_size(limit: u32) -> u32 {
    limit.div_ceil(GROUPS as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(log: &mut GroupLog, span: Span, limit: u32, now: i64) -> bool {
        let check = log.check(span, limit, now);
        if check.fits {
            log.record(span, limit, now);
        }
        check.fits
    }

    #[test]
    fn spans_keep_every_end_within_the_circle_for_every_window_length() {
        assert_eq!(SECOND.unit_shift, 0);
        assert_eq!(MINUTE.unit_shift, 1);
        assert_eq!(Span::of_secs(3_600).unit_ms(), 128);
        assert_eq!(Span::of_secs(86_400).unit_ms(), 4_096);
        for secs in 1..=86_400 {
            let span = Span::of_secs(secs);
            assert!(
                (span.length_ms >> span.unit_shift) + 2 <= i64::from(i16::MAX),
                "{secs}"
            );
            // The smallest such unit: half of it would not do.
            if span.unit_shift > 0 {
                assert!((span.length_ms >> (span.unit_shift - 1)) + 2 > i64::from(i16::MAX));
            }
        }
    }

    #[test]
    fn a_window_whose_ends_reach_the_edge_of_the_circle_still_counts_them() {
        // 16,777 s in 1,024 ms units: 16,383 units, the length at which an end used to reach
        // 2^15 units after the horizon and read as expired.
        for secs in [16_777, 33_553, 33_554, 67_105, 67_108] {
            let span = Span::of_secs(secs);
            let mut log = GroupLog::default();
            let mut admitted = 0;
            for i in 0..2_000 {
                if admit(&mut log, span, 100, 1_000_000_000 + i * 97) {
                    admitted += 1;
                }
            }
            assert_eq!(admitted, 100, "{secs} s");
        }
    }

    #[test]
    fn a_long_window_holds_its_admissions_to_its_end() {
        // A day's window in 4 s units, across the 16-bit counter's wrap.
        let day = Span::of_secs(86_400);
        let mut log = GroupLog::default();
        let start = (65_536_i64 << day.unit_shift) - 3_600_000;
        for i in 0..3 {
            assert!(admit(&mut log, day, 3, start + i * 1_000));
        }
        for later in [start + 43_200_000, start + 86_399_999] {
            assert!(!admit(&mut log, day, 3, later), "at {later}");
        }
        assert!(admit(&mut log, day, 3, start + 86_400_000 + day.unit_ms()));
    }

    #[test]
    fn small_limits_are_an_exact_sliding_log() {
        let mut log = GroupLog::default();
        for t in [0, 100, 200] {
            assert!(admit(&mut log, SECOND, 3, t));
        }
        assert!(!admit(&mut log, SECOND, 3, 999));
        let check = log.check(SECOND, 3, 999);
        assert_eq!(check.wait_ms, 1);
        assert!(admit(&mut log, SECOND, 3, 1000));
        assert!(!admit(&mut log, SECOND, 3, 1099));
        assert!(admit(&mut log, SECOND, 3, 1100));
    }

    #[test]
    fn the_group_size_is_kept_until_the_window_empties() {
        let mut log = GroupLog::default();
        for t in 0..40 {
            assert!(admit(&mut log, MINUTE, 40, t));
        }
        // The limit drops to 10: 40 live admissions still count, nothing more fits.
        assert!(!admit(&mut log, MINUTE, 10, 100));
        assert!(admit(&mut log, MINUTE, 10, 60_040));
    }

    #[test]
    fn a_limit_that_grows_keeps_the_group_size_and_never_overflows_the_groups() {
        let mut log = GroupLog::default();
        for t in 0..20 {
            assert!(admit(&mut log, MINUTE, 20, t));
        }
        // Groups of one, all twenty in use: a limit of 400 admits no more until one expires.
        assert!(!admit(&mut log, MINUTE, 400, 100));
        let check = log.check(MINUTE, 400, 100);
        assert_eq!((check.live_count, check.wait_ms), (20, 59_900));
        assert!(admit(&mut log, MINUTE, 400, 60_000));
        assert_eq!(log.check(MINUTE, 400, 60_000).live_count, 20);
        // Once the window empties, the group size follows the new limit.
        for t in 0..400 {
            assert!(admit(&mut log, MINUTE, 400, 120_000 + t), "{t}");
        }
        assert!(!admit(&mut log, MINUTE, 400, 120_400));
    }

    #[test]
    fn a_window_whose_length_changes_keeps_what_is_live_under_the_new_one() {
        let four = Span::of_secs(4);
        let two_minutes = Span::of_secs(120);
        let mut log = GroupLog::default();
        for t in [0, 10, 20] {
            assert!(admit(&mut log, MINUTE, 3, t));
        }
        // To 2 minutes (4 ms units): all three still count.
        log.rescale(MINUTE, two_minutes, 1_000);
        assert_eq!(log.check(two_minutes, 3, 1_000).live_count, 3);
        assert!(!admit(&mut log, two_minutes, 3, 1_000));
        // To 4 s: the three are older than 4 s at 5,000 and go.
        log.rescale(two_minutes, four, 5_000);
        assert_eq!(log.check(four, 3, 5_000).live_count, 0);
    }

    #[test]
    fn a_limit_of_zero_refuses_and_waits_a_whole_window() {
        let mut log = GroupLog::default();
        let check = log.check(MINUTE, 0, 5);
        assert!(!check.fits);
        assert_eq!(check.wait_ms, 60_000);
    }

    #[test]
    fn the_largest_limit_does_not_overflow() {
        let mut log = GroupLog::default();
        for t in 0..1000 {
            assert!(admit(&mut log, MINUTE, u32::MAX, t));
        }
        assert_eq!(log.check(MINUTE, u32::MAX, 1000).live_count, 1000);
    }

    #[test]
    fn ends_survive_the_16_bit_wrap() {
        let mut log = GroupLog::default();
        let start = 65_536 * 2 * 7 - 30_000; // 30 s before the minute window's counter wraps
        for i in 0..5 {
            assert!(admit(&mut log, MINUTE, 5, start + i));
        }
        for later in [start + 30_000, start + 59_999] {
            assert!(!admit(&mut log, MINUTE, 5, later), "at {later}");
        }
        assert!(admit(&mut log, MINUTE, 5, start + 60_000));
    }
}

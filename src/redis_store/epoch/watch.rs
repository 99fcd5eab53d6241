//! What one connection knows of its epoch, shared by every store on it: the epoch it trusts,
//! whether Redis lost its data, and the task that looks at the marker once a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use crate::redis_store::handle::RedisHandle;
use tokio::sync::Notify;

use super::{Epoch, EpochOrigin, EpochStart, OBSERVE};
use crate::clock::Timestamp;
use crate::redis_store::connection::redis_error;
use crate::store::StoreError;

/// Where a connection stands.
#[derive(Clone, Debug)]
enum State {
    /// No epoch is checked: a connection used without a deployment (a test, a tool).
    Unwatched,
    /// Redis holds this epoch.
    On(Epoch),
    /// A request found the marker missing or replaced; the next look decides.
    Suspect(Epoch),
    /// Redis lost its data; the epoch this process ran on, if it had one.
    Lost(Option<Epoch>),
}

/// What one look at the marker found (`observe.lua`).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Same,
    Adopt(Epoch),
    Lost,
}

impl Verdict {
    pub(super) fn parse(answer: &[String]) -> Result<Verdict, StoreError> {
        match answer {
            [word] if word == "same" => Ok(Verdict::Same),
            [word] if word == "lost" => Ok(Verdict::Lost),
            [word, id, seeded_at] if word == "adopt" => Ok(Verdict::Adopt(Epoch::read(
                id,
                seeded_at,
                EpochOrigin::Reseed,
            )?)),
            _ => Err(StoreError::new("redis: unexpected answer about the epoch")),
        }
    }
}

/// The epoch note of one connection; clones of the connection share it.
#[derive(Debug)]
pub(crate) struct EpochWatch {
    /// The marker's key name, built once: every checked request sends it.
    pub(super) key: String,
    /// Whether calls should fail at once: read by every call, so an atomic beside the state.
    lost: AtomicBool,
    /// Read by every checked request, written only when the epoch changes.
    state: RwLock<State>,
    /// Asks the watcher task to look now rather than at its next tick.
    wake: Notify,
}

impl EpochWatch {
    pub(crate) fn new(key: String) -> Self {
        EpochWatch {
            key,
            lost: AtomicBool::new(false),
            state: RwLock::new(State::Unwatched),
            wake: Notify::new(),
        }
    }

    /// Whether Redis is known (or, since a request's check, suspected) to have lost its data.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// Whether this connection checks an epoch at all.
    pub(crate) fn is_watched(&self) -> bool {
        !matches!(*self.read(), State::Unwatched)
    }

    /// The error of a call not sent because Redis lost its data.
    pub(crate) fn refusal() -> StoreError {
        StoreError::known_outage(
            "redis lost its data (its epoch marker is missing or replaced); \
             waiting for `memorysync store reseed`",
        )
    }

    /// The epoch id a request checks the marker against: `None` when unwatched; the refusal
    /// while the data is lost.
    pub(crate) fn expected(&self) -> Result<Option<Arc<str>>, StoreError> {
        match &*self.read() {
            State::Unwatched => Ok(None),
            State::On(epoch) => Ok(Some(Arc::clone(&epoch.id))),
            State::Suspect(_) | State::Lost(_) => Err(Self::refusal()),
        }
    }

    /// What a request found in the marker's `id` when it expected `expected`. A mismatch
    /// makes every call of the connection fail at once until the watcher has looked, which it
    /// does now: a flush is acted on by the first request that meets it.
    pub(crate) fn seen(&self, expected: &str, found: Option<&str>) -> Result<(), StoreError> {
        if found == Some(expected) {
            return Ok(());
        }
        Err(self.mismatched(expected))
    }

    /// A request found another id than `expected` in the marker, or none: as
    /// [`seen`](Self::seen) with a mismatch, and its error.
    pub(crate) fn mismatched(&self, expected: &str) -> StoreError {
        {
            let mut state = self.write();
            if let State::On(epoch) = &*state
                && *epoch.id == *expected
            {
                *state = State::Suspect(epoch.clone());
                self.lost.store(true, Ordering::Release);
            }
        }
        self.wake.notify_one();
        StoreError::new("redis: the epoch marker is missing or replaced")
    }

    /// The state a process starts in.
    pub(super) fn start(&self, start: &EpochStart) {
        let state = match start {
            EpochStart::Seeded(epoch) | EpochStart::Joined(epoch) => State::On(epoch.clone()),
            EpochStart::Lost => State::Lost(None),
        };
        self.lost
            .store(matches!(state, State::Lost(_)), Ordering::Release);
        *self.write() = state;
    }

    /// The arguments of `observe.lua`: the epoch id and its seeding time (or empty), and
    /// whether the loss is confirmed already.
    pub(super) fn observe_args(&self) -> (String, String, &'static str) {
        let (epoch, confirmed) = match &*self.read() {
            State::Unwatched | State::Lost(None) => (None, "1"),
            State::On(epoch) | State::Suspect(epoch) => (Some(epoch.clone()), "0"),
            State::Lost(Some(epoch)) => (Some(epoch.clone()), "1"),
        };
        match epoch {
            Some(epoch) => (
                epoch.id.to_string(),
                epoch.seeded_at.unix_millis().to_string(),
                confirmed,
            ),
            None => (String::new(), String::new(), confirmed),
        }
    }

    /// Notes what a look at the marker found; logs when the data is found lost and when a
    /// reseed is adopted. Returns whether the data is lost now.
    pub(super) fn apply(&self, verdict: Verdict) -> bool {
        let mut state = self.write();
        let next = match (verdict, &*state) {
            (_, State::Unwatched) => return false,
            (Verdict::Same, State::On(epoch) | State::Suspect(epoch)) => State::On(epoch.clone()),
            // The note of a loss went away without a reseed: nothing to trust yet.
            (Verdict::Same, State::Lost(last)) => State::Lost(last.clone()),
            (Verdict::Adopt(epoch), _) => {
                tracing::info!(
                    epoch = &*epoch.id,
                    "redis was reseeded: trusting it again on the new epoch"
                );
                State::On(epoch)
            }
            (Verdict::Lost, State::Lost(last)) => State::Lost(last.clone()),
            (Verdict::Lost, State::On(epoch) | State::Suspect(epoch)) => {
                tracing::warn!(
                    epoch = &*epoch.id,
                    "redis lost its data: its epoch marker is missing or replaced; \
                     applying store.on_store_error until `memorysync store reseed`"
                );
                State::Lost(Some(epoch.clone()))
            }
        };
        let lost = !matches!(next, State::On(_));
        self.lost.store(lost, Ordering::Release);
        *state = next;
        lost
    }

    // The state is whole after every assignment: a panic elsewhere cannot leave it torn.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One look at the marker on `manager`: the script's answer.
pub(super) async fn observe(
    manager: &mut RedisHandle,
    watch: &EpochWatch,
) -> redis::RedisResult<Vec<String>> {
    let (id, seeded_at, confirmed) = watch.observe_args();
    OBSERVE
        .key(&watch.key)
        .arg(id)
        .arg(seeded_at)
        .arg(confirmed)
        .invoke_async(manager)
        .await
}

/// Looks at the marker every `every`, and at once when a request found it changed, for as long
/// as a connection holding `watch` is alive. A look that fails (Redis unreachable) changes
/// nothing: that is the stall note's business.
pub(super) fn spawn_watcher(
    watch: &Arc<EpochWatch>,
    mut manager: RedisHandle,
    timeout: Duration,
    every: Duration,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: the epoch marker is checked by requests only");
        return;
    };
    let watch: Weak<EpochWatch> = Arc::downgrade(watch);
    runtime.spawn(async move {
        loop {
            let Some(woken) = watch.upgrade() else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = woken.wake.notified() => {}
            }
            let looked = tokio::time::timeout(timeout, observe(&mut manager, &woken)).await;
            match looked.map(|answer| answer.map_err(|e| redis_error(&e))) {
                Ok(Ok(answer)) => match Verdict::parse(&answer) {
                    Ok(verdict) => {
                        woken.apply(verdict);
                    }
                    Err(error) => tracing::warn!(%error, "epoch marker not understood"),
                },
                Ok(Err(error)) => tracing::debug!(%error, "epoch marker not read"),
                Err(_) => tracing::debug!("epoch marker not read in time"),
            }
        }
    });
}

impl Epoch {
    /// An epoch from the marker's fields.
    pub(super) fn read(
        id: &str,
        seeded_at: &str,
        origin: EpochOrigin,
    ) -> Result<Epoch, StoreError> {
        let millis: i64 = seeded_at
            .parse()
            .map_err(|_| StoreError::new("redis: unreadable epoch marker"))?;
        Ok(Epoch {
            id: Arc::from(id),
            seeded_at: Timestamp::from_unix_millis(millis),
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(id: &str, millis: i64) -> Epoch {
        Epoch::read(id, &millis.to_string(), EpochOrigin::FirstStart).unwrap()
    }

    #[test]
    fn a_mismatch_fails_calls_at_once_until_a_look_says_same_lost_or_adopt() {
        let watch = EpochWatch::new("memorysync:epoch".into());
        assert_eq!(watch.expected(), Ok(None), "unwatched: nothing checked");
        watch.start(&EpochStart::Joined(epoch("e1", 1)));
        assert_eq!(watch.expected(), Ok(Some(Arc::from("e1"))));
        assert_eq!(watch.seen("e1", Some("e1")), Ok(()));
        assert!(!watch.is_lost());

        assert!(watch.seen("e1", None).is_err());
        assert!(watch.is_lost(), "suspected at once");
        assert!(watch.expected().is_err());
        assert_eq!(watch.observe_args(), ("e1".into(), "1".into(), "0"));
        assert!(!watch.apply(Verdict::Same), "a false alarm clears");
        assert!(!watch.is_lost());

        assert!(watch.seen("e1", Some("other")).is_err());
        assert!(watch.apply(Verdict::Lost));
        assert!(watch.is_lost());
        assert_eq!(watch.observe_args(), ("e1".into(), "1".into(), "1"));
        assert!(
            watch.apply(Verdict::Same),
            "lost stays lost without a reseed"
        );

        assert!(!watch.apply(Verdict::Adopt(epoch("e2", 2))));
        assert_eq!(watch.expected(), Ok(Some(Arc::from("e2"))));
        assert!(!watch.is_lost());
    }

    #[test]
    fn a_process_that_started_on_a_lost_redis_has_no_epoch_until_a_reseed() {
        let watch = EpochWatch::new("memorysync:epoch".into());
        watch.start(&EpochStart::Lost);
        assert!(watch.is_lost());
        assert_eq!(watch.observe_args(), (String::new(), String::new(), "1"));
        assert!(watch.apply(Verdict::Lost));
        assert!(!watch.apply(Verdict::Adopt(epoch("e3", 3))));
        assert!(!watch.is_lost());
    }

    #[test]
    fn verdicts_parse_and_nonsense_is_an_error() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(Verdict::parse(&words(&["same"])), Ok(Verdict::Same));
        assert_eq!(Verdict::parse(&words(&["lost"])), Ok(Verdict::Lost));
        let adopt = Verdict::parse(&words(&["adopt", "e9", "1700000000000"])).unwrap();
        let Verdict::Adopt(epoch) = adopt else {
            panic!("{adopt:?}")
        };
        assert_eq!((epoch.id(), epoch.origin()), ("e9", EpochOrigin::Reseed));
        assert!(Verdict::parse(&words(&["adopt", "e9", "soon"])).is_err());
        assert!(Verdict::parse(&words(&["maybe"])).is_err());
    }
}

//! The delivery worker: claims due deliveries, sends them concurrently, and decides what
//! happens after each attempt.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};

use super::dispatcher::{Command, Shared, WebhookSettings};
use super::retry::retry_after;
use super::{DeadLetter, Delivery, Endpoint, WebhookQueue, signed_headers};
use crate::telemetry;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// 410: the receiver says the endpoint is gone for good.
    Gone,
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
}

pub(super) async fn run<Q, T>(
    queue: Arc<Q>,
    transport: T,
    shared: Arc<Shared>,
    settings: WebhookSettings,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stop: watch::Receiver<Option<tokio::time::Instant>>,
) where
    Q: WebhookQueue,
    T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send,
{
    let mut inflight: JoinSet<(Delivery, Attempt)> = JoinSet::new();
    // Deliveries a previous worker claimed and never settled (it was dropped, or the process
    // died) are the queue's again: at least once, never lost.
    if let Err(error) = queue.release_claimed(settings.clock.now()).await {
        tracing::warn!(%error, "webhook queue unavailable at start");
    }
    let lease = claim_lease(&settings);
    let mut next_sweep = tokio::time::Instant::now() + lease;
    loop {
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep = tokio::time::Instant::now() + lease;
            release_stale(&queue, &settings, lease).await;
        }
        let stop_at = *stop.borrow();
        if let Some(deadline) = stop_at {
            // Events published before the stop are in the channel, not yet in the queue:
            // move them there so they wait for the next start.
            while let Ok(Command::Push(delivery)) = commands.try_recv() {
                push(&queue, delivery).await;
            }
            drain(&queue, &shared, &settings, &mut inflight, deadline).await;
            return;
        }
        let free = settings.concurrency.saturating_sub(inflight.len());
        if free > 0 {
            let now = settings.clock.now();
            match queue.claim_due(now, free).await {
                Ok(due) => {
                    for delivery in due {
                        start(
                            &queue,
                            &shared,
                            &settings,
                            transport.clone(),
                            &mut inflight,
                            delivery,
                        )
                        .await;
                    }
                }
                Err(error) => tracing::warn!(%error, "webhook queue unavailable"),
            }
        }
        // With every slot busy, a finished attempt wakes the loop; otherwise the next due time.
        let idle = if inflight.len() >= settings.concurrency {
            settings.poll_every
        } else {
            idle_for(&queue, &settings).await
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Push(delivery)) => {
                    // Everything published so far goes into the queue before anything is
                    // sent: an event is durable once it is there, and only then.
                    push(&queue, delivery).await;
                    while let Ok(Command::Push(delivery)) = commands.try_recv() {
                        push(&queue, delivery).await;
                    }
                }
                None => {
                    // Every handle is gone: finish what is in flight, keep the rest queued.
                    let deadline = tokio::time::Instant::now() + settings.policy.request_timeout;
                    drain(&queue, &shared, &settings, &mut inflight, deadline).await;
                    return;
                }
            },
            Some(joined) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok((delivery, attempt)) = joined {
                    settle(&queue, &shared, &settings, delivery, attempt).await;
                }
            }
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}

/// How old a claim must be before another worker takes it over: twice the longest an attempt
/// may take, so a live worker settles every claim well before anyone else may release it.
fn claim_lease(settings: &WebhookSettings) -> Duration {
    settings.policy.request_timeout * 2
}

/// Returns the claims of workers that died (in another process that is not coming back) to
/// the queue, so that this running worker delivers them.
async fn release_stale<Q: WebhookQueue>(
    queue: &Arc<Q>,
    settings: &WebhookSettings,
    lease: Duration,
) {
    let now = settings.clock.now();
    match queue.release_stale(now.saturating_sub(lease), now).await {
        Ok(0) => {}
        Ok(released) => tracing::warn!(released, "webhook claims older than the lease taken over"),
        Err(error) => tracing::warn!(%error, "stale webhook claims not checked"),
    }
}

async fn push<Q: WebhookQueue>(queue: &Arc<Q>, delivery: Delivery) {
    if let Err(error) = queue.push(delivery).await {
        tracing::error!(%error, "webhook not queued");
    }
}

/// How long to wait before looking for due deliveries again: until the next one is due, at
/// most the poll interval (deliveries pushed by another process are found by polling).
async fn idle_for<Q: WebhookQueue>(queue: &Arc<Q>, settings: &WebhookSettings) -> Duration {
    let Ok(Some(due)) = queue.next_due().await else {
        return settings.poll_every;
    };
    let wait_ms = due
        .unix_millis()
        .saturating_sub(settings.clock.now().unix_millis());
    // At least a millisecond: a delivery due now that another worker claimed first must not
    // turn this loop into a spin.
    Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0).max(1)).min(settings.poll_every)
}

/// Sends one attempt in the background, or dead-letters it at once when its endpoint is gone.
async fn start<Q, T>(
    queue: &Arc<Q>,
    shared: &Arc<Shared>,
    settings: &WebhookSettings,
    transport: T,
    inflight: &mut JoinSet<(Delivery, Attempt)>,
    delivery: Delivery,
) where
    Q: WebhookQueue,
    T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send,
{
    let endpoint = settings
        .endpoints
        .iter()
        .find(|e| e.url_text == delivery.url)
        .cloned();
    let Some(endpoint) = endpoint.filter(|e| !shared.is_disabled(&e.url_text)) else {
        let letter = DeadLetter {
            delivery,
            reason: "endpoint disabled (410 Gone) or no longer configured".into(),
            at: settings.clock.now(),
        };
        shared.dead_lettered.fetch_add(1, Ordering::Relaxed);
        telemetry::webhook_dead_letter();
        let _ = queue.dead_letter(letter).await;
        return;
    };
    let request = signed_request(&endpoint, &delivery, settings);
    let timeout = settings.policy.request_timeout;
    shared.attempts.fetch_add(1, Ordering::Relaxed);
    inflight.spawn(async move {
        let attempt = match tokio::time::timeout(timeout, transport.oneshot(request)).await {
            Err(_) => Attempt::Failed {
                reason: format!("no answer within {} ms", timeout.as_millis()),
                retry_after: None,
            },
            Ok(Err(error)) => Attempt::Failed {
                reason: format!("transport: {}", error_chain(error.into().as_ref())),
                retry_after: None,
            },
            Ok(Ok(response)) => classify(&response),
        };
        (delivery, attempt)
    });
}

/// An error with its causes, `outer: inner: innermost`: client errors keep the reason (a refused
/// address, an untrusted certificate) in their sources, not in their own message.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

fn classify(response: &http::Response<()>) -> Attempt {
    let status = response.status();
    if status.is_success() {
        Attempt::Delivered
    } else if status == http::StatusCode::GONE {
        Attempt::Gone
    } else {
        // 3xx included: redirects are not followed, so the message did not arrive.
        Attempt::Failed {
            reason: format!("status {}", status.as_u16()),
            retry_after: retry_after(response.headers()),
        }
    }
}

fn signed_request(
    endpoint: &Endpoint,
    delivery: &Delivery,
    settings: &WebhookSettings,
) -> http::Request<Bytes> {
    let timestamp = settings.clock.now().unix_millis().div_euclid(1000);
    let mut request = http::Request::post(endpoint.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "memorysync-webhooks/1");
    for (name, value) in signed_headers(&endpoint.secrets, &delivery.id, timestamp, &delivery.body)
    {
        request = request.header(name, value);
    }
    // Every part is a valid header value: ids, digits and base64.
    request
        .body(delivery.body.clone())
        .unwrap_or_else(|_| http::Request::new(delivery.body.clone()))
}

/// The queue's side of an attempt's outcome.
async fn settle<Q: WebhookQueue>(
    queue: &Arc<Q>,
    shared: &Arc<Shared>,
    settings: &WebhookSettings,
    mut delivery: Delivery,
    attempt: Attempt,
) {
    let now = settings.clock.now();
    delivery.attempts += 1;
    let result = match attempt {
        Attempt::Delivered => {
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            telemetry::webhook_attempt("delivered");
            queue.finish(&delivery.id, &delivery.url).await
        }
        Attempt::Gone => {
            tracing::warn!(
                url = &*delivery.url,
                "webhook endpoint answered 410 Gone; disabled"
            );
            shared.disable(delivery.url.clone());
            shared.dead_lettered.fetch_add(1, Ordering::Relaxed);
            telemetry::webhook_attempt("gone");
            telemetry::webhook_dead_letter();
            queue
                .dead_letter(DeadLetter {
                    delivery,
                    reason: "410 Gone: endpoint disabled".into(),
                    at: now,
                })
                .await
        }
        Attempt::Failed {
            reason,
            retry_after,
        } => {
            shared.failures.fetch_add(1, Ordering::Relaxed);
            telemetry::webhook_attempt("failed");
            match settings.policy.next_delay(delivery.attempts, retry_after) {
                Some(delay) => {
                    shared.retries.fetch_add(1, Ordering::Relaxed);
                    telemetry::webhook_retry();
                    delivery.due_at = now.saturating_add(delay);
                    queue.reschedule(delivery).await
                }
                None => {
                    tracing::warn!(url = &*delivery.url, %reason, "webhook attempts used up; dead-lettered");
                    shared.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    telemetry::webhook_dead_letter();
                    queue
                        .dead_letter(DeadLetter {
                            delivery,
                            reason,
                            at: now,
                        })
                        .await
                }
            }
        }
    };
    if let Err(error) = result {
        tracing::error!(%error, "webhook queue unavailable while settling a delivery");
    }
}

/// Shutdown: no new attempts; in-flight ones get until `deadline`, the rest go back to the
/// queue untouched.
async fn drain<Q: WebhookQueue>(
    queue: &Arc<Q>,
    shared: &Arc<Shared>,
    settings: &WebhookSettings,
    inflight: &mut JoinSet<(Delivery, Attempt)>,
    deadline: tokio::time::Instant,
) {
    loop {
        tokio::select! {
            joined = inflight.join_next() => match joined {
                Some(Ok((delivery, attempt))) => settle(queue, shared, settings, delivery, attempt).await,
                Some(Err(_)) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => {
                inflight.abort_all();
                break;
            }
        }
    }
    // Whatever was claimed and not settled is still the queue's.
    let _ = queue.release_claimed(settings.clock.now()).await;
    shared.stopped.store(true, Ordering::Release);
    shared.stopped_signal.notify_waiters();
}

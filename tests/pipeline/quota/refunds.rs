//! Refunds: any answer from inside but a 2xx gives the unit back to the month it was taken
//! from.

use super::*;

#[tokio::test]
async fn a_5xx_from_inside_gives_the_unit_back() {
    let quota = Quota::new(1, 100);
    for status in [500, 502, 503] {
        quota.backend.status(status);
        let outcome = quota.send(add()).await;
        assert_eq!(outcome.status(), status, "{outcome:?}");
        assert_eq!(outcome.text(), "inner", "the inner 5xx is passed through");
        assert_eq!(outcome.degraded(), None);
        assert_eq!(quota.used(Operation::Add).await, 0);
    }
    assert_eq!(quota.backend.calls(), 3);

    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
    quota.assert_degraded(add(), Operation::Add).await;
}

#[tokio::test]
async fn an_error_from_inside_gives_the_unit_back() {
    let quota = Quota::new(1, 100);
    quota.backend.answer(Answer::Fail);
    let error = quota.try_send(add()).await.unwrap_err();
    assert_eq!(error, Boom);
    assert_eq!(quota.backend.calls(), 1);
    assert_eq!(quota.used(Operation::Add).await, 0);

    quota.backend.status(200);
    quota.assert_served(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_grpc_failure_in_a_trailers_only_answer_gives_the_unit_back() {
    let quota = Quota::new(1, 100);
    // INVALID_ARGUMENT, NOT_FOUND, INTERNAL, UNAVAILABLE: nothing was stored.
    for code in [3, 5, 13, 14] {
        quota.backend.answer(Answer::Grpc(code));
        assert_eq!(quota.send(add()).await.status(), 200);
        assert_eq!(quota.used(Operation::Add).await, 0, "grpc-status {code}");
    }
    // OK is a success: it keeps the unit.
    quota.backend.answer(Answer::Grpc(0));
    quota.send(add()).await;
    assert_eq!(quota.used(Operation::Add).await, 1);
}

/// A `POST /v1/memories/` the router does not serve (404) and a malformed body (400) spent the
/// month's adds with nothing stored: every answer but a 2xx gives the unit back.
#[tokio::test]
async fn a_404_or_a_400_from_inside_does_not_spend_the_month() {
    let quota = Quota::new(2, 100);
    for status in [400, 404, 422, 302, 304] {
        quota.backend.status(status);
        let outcome = quota.send(request(Method::POST, "/v1/memories/")).await;
        assert_eq!(outcome.status(), status, "{outcome:?}");
        assert_eq!(
            outcome.text(),
            "inner",
            "the inner answer is passed through"
        );
        assert_eq!(quota.used(Operation::Add).await, 0, "status {status}");
    }
    for status in [200, 201] {
        quota.backend.status(status);
        let before = quota.backend.calls();
        assert_eq!(quota.send(add()).await.status(), status);
        assert_eq!(quota.backend.calls(), before + 1);
    }
    assert_eq!(
        quota.used(Operation::Add).await,
        2,
        "each 2xx keeps its unit"
    );
}

#[tokio::test]
async fn a_5xx_to_a_query_refunds_the_query_not_an_add() {
    let quota = Quota::new(5, 1);
    quota.assert_served(add()).await;
    quota.backend.status(500);
    assert_eq!(quota.send(search()).await.status(), 500);
    assert_eq!(quota.used(Operation::Query).await, 0);
    assert_eq!(quota.used(Operation::Add).await, 1);
}

#[tokio::test]
async fn a_refund_after_midnight_goes_back_to_the_month_it_was_taken_from() {
    let quota = Quota::new(1, 100);
    quota.set("2026-12-31T23:59:59.999Z");
    let clock = quota.clock.clone();
    // The call starts in December and fails in January.
    let slow_failure = service_fn(move |_: Request<String>| {
        clock.set(at_time("2027-01-01T00:00:00.500Z"));
        let mut response = Response::new(Full::new(Bytes::from_static(b"inner")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        std::future::ready(Ok::<_, Boom>(response))
    });
    let outcome = exchange(quota.layer.layer(slow_failure), add())
        .await
        .unwrap();
    assert_eq!(outcome.status(), 500);
    assert_eq!(quota.used_in(Operation::Add, month(2026, 12)).await, 0);
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 0);
    quota.assert_served(add()).await;
    assert_eq!(quota.used_in(Operation::Add, month(2027, 1)).await, 1);
}

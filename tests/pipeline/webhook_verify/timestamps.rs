//! Timestamps: malformed ones, extremes of the clock that must not overflow, and the tolerance
//! edges.

use super::*;

#[test]
fn malformed_timestamps_are_bad_timestamps() {
    for bad in [
        "-1",
        "1e10",
        "99999999999999999999",
        "9223372036854775808",
        "",
        " 1614265330",
        "1614265330 ",
        "+1614265330",
        "1614265330.0",
        "0x60",
        "１６１４２６５３３０",
    ] {
        for now in [
            at(TS),
            Timestamp::EPOCH,
            Timestamp::from_unix_millis(i64::MAX),
        ] {
            assert_eq!(
                verifier().verify(ID, bad, &valid(), BODY, now),
                Err(VerifyError::BadTimestamp),
                "{bad:?} at {now:?}"
            );
        }
    }
}

#[test]
fn extreme_timestamps_and_clocks_do_not_overflow() {
    let max = i64::MAX.to_string();
    assert_eq!(parse_timestamp(&max), Some(i64::MAX));
    let clocks = [
        Timestamp::from_unix_millis(i64::MIN),
        Timestamp::from_unix_millis(-1),
        Timestamp::EPOCH,
        Timestamp::from_unix_millis(1),
        at(TS),
        Timestamp::from_unix_secs(i64::MAX),
        Timestamp::from_unix_millis(i64::MAX),
    ];

    // i64::MAX seconds is later than any millisecond clock can read.
    let signed_max = sign(&secret(), ID, i64::MAX, BODY);
    for now in clocks {
        assert_eq!(
            verifier().verify(ID, &max, &signed_max, BODY, now),
            Err(VerifyError::OutsideTolerance),
            "now {now:?}"
        );
    }
    // An unbounded tolerance takes even that, and the signature over it is right.
    assert_eq!(
        verifier().with_tolerance_secs(u64::MAX).verify(
            ID,
            &max,
            &signed_max,
            BODY,
            Timestamp::from_unix_millis(i64::MIN)
        ),
        Ok(())
    );

    // The latest second the clock can read, near the clock's end.
    let last = i64::MAX / 1000;
    let signed_last = sign(&secret(), ID, last, BODY);
    assert_eq!(
        verifier().verify(
            ID,
            &last.to_string(),
            &signed_last,
            BODY,
            Timestamp::from_unix_millis(i64::MAX)
        ),
        Ok(())
    );
    assert_eq!(
        verifier().verify(ID, &last.to_string(), &signed_last, BODY, at(TS)),
        Err(VerifyError::OutsideTolerance)
    );

    // Zero, near the epoch and far from it.
    let signed_zero = sign(&secret(), ID, 0, BODY);
    for (now, expected) in [
        (Timestamp::EPOCH, Ok(())),
        (Timestamp::from_unix_millis(-1), Ok(())),
        (at(-300), Ok(())),
        (at(300), Ok(())),
        (at(-301), Err(VerifyError::OutsideTolerance)),
        (at(301), Err(VerifyError::OutsideTolerance)),
        (
            Timestamp::from_unix_millis(i64::MIN),
            Err(VerifyError::OutsideTolerance),
        ),
        (
            Timestamp::from_unix_millis(i64::MAX),
            Err(VerifyError::OutsideTolerance),
        ),
    ] {
        assert_eq!(
            verifier().verify(ID, "0", &signed_zero, BODY, now),
            expected,
            "now {now:?}"
        );
    }
}

#[test]
fn the_tolerance_is_300_seconds_each_way_inclusive() {
    let ts = TS.to_string();
    for (offset, expected) in [
        (0, Ok(())),
        (300, Ok(())),
        (-300, Ok(())),
        (301, Err(VerifyError::OutsideTolerance)),
        (-301, Err(VerifyError::OutsideTolerance)),
    ] {
        assert_eq!(
            verifier().verify(ID, &ts, &valid(), BODY, at(TS + offset)),
            expected,
            "now = ts {offset:+} s"
        );
    }
    // A tolerance of 0 takes only the same second.
    let strict = verifier().with_tolerance_secs(0);
    assert_eq!(strict.verify(ID, &ts, &valid(), BODY, at(TS)), Ok(()));
    assert_eq!(
        strict.verify(ID, &ts, &valid(), BODY, at(TS + 1)),
        Err(VerifyError::OutsideTolerance)
    );
    // The tolerance is checked before the signature: a stale message with a wrong signature
    // is refused as stale.
    assert_eq!(
        verifier().verify(ID, &ts, "v1,", BODY, at(TS + 301)),
        Err(VerifyError::OutsideTolerance)
    );
}

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::quota::{Month, Operation};

/// One name of any family, by its variable parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Name {
    RateLimit {
        key_id: String,
        window: usize,
    },
    QuotaCounter {
        project: String,
        add: bool,
        month: u8,
    },
    AlertMark {
        project: String,
        add: bool,
        month: u8,
        percent: u8,
    },
    KeyRecord {
        hash: [u8; 32],
    },
    KeyIdIndex {
        id: String,
    },
    Tombstone {
        kind: usize,
        id: String,
    },
    Webhook {
        list: usize,
    },
    /// The names without a variable part: the owner indexes, the reconciliation's keys and the
    /// API's plans.
    Fixed {
        which: usize,
    },
}

fn built(keyspace: &Keyspace, name: &Name) -> String {
    let quota_key = |project: &str, add: bool, month: u8| QuotaKey {
        project: Arc::from(project),
        operation: if add {
            Operation::Add
        } else {
            Operation::Query
        },
        month: Month::new(2026, month).unwrap(),
    };
    let kinds = [
        TombstoneKind::ApiKeyId,
        TombstoneKind::ApiKeyHash,
        TombstoneKind::Memory,
    ];
    match name {
        Name::RateLimit { key_id, window } => keyspace.rate_limit_windows(key_id)[*window].clone(),
        Name::QuotaCounter {
            project,
            add,
            month,
        } => keyspace.quota_counter(&quota_key(project, *add, *month)),
        Name::AlertMark {
            project,
            add,
            month,
            percent,
        } => keyspace.alert_mark(&quota_key(project, *add, *month), *percent),
        Name::KeyRecord { hash } => keyspace.key_record(&KeyHash::from_bytes(*hash)),
        Name::KeyIdIndex { id } => keyspace.key_id_index(id),
        Name::Tombstone { kind, id } => keyspace.tombstone(kinds[*kind], id),
        Name::Webhook { list } => {
            let keys = keyspace.webhook_queue();
            [
                keys.deliveries,
                keys.waiting,
                keys.claimed,
                keys.dead,
                keys.dead_ids,
            ][*list]
                .clone()
        }
        Name::Fixed { which } => [
            keyspace.key_owner_index(RecordOwner::Config),
            keyspace.key_owner_index(RecordOwner::Api),
            keyspace.config_applied(),
            keyspace.config_reconciling(),
            keyspace.api_plans(),
            keyspace.api_plans_generation(),
            keyspace.webhook_endpoints()[0].clone(),
            keyspace.webhook_endpoints()[1].clone(),
            keyspace.webhook_attempts(),
        ][*which]
            .clone(),
    }
}

/// Ids from a small alphabet heavy in the characters an escaping could confuse, and any text.
fn id() -> impl Strategy<Value = String> {
    prop_oneof!["[ax0-9._%:{}|*-]{0,7}", any::<String>()]
}

fn name() -> impl Strategy<Value = Name> {
    let month = 1u8..=12;
    prop_oneof![
        (id(), 0..3usize).prop_map(|(key_id, window)| Name::RateLimit { key_id, window }),
        (id(), any::<bool>(), month.clone()).prop_map(|(project, add, month)| Name::QuotaCounter {
            project,
            add,
            month
        }),
        (id(), any::<bool>(), month, 0u8..=100).prop_map(|(project, add, month, percent)| {
            Name::AlertMark {
                project,
                add,
                month,
                percent,
            }
        }),
        any::<[u8; 32]>().prop_map(|hash| Name::KeyRecord { hash }),
        id().prop_map(|id| Name::KeyIdIndex { id }),
        (0..3usize, id()).prop_map(|(kind, id)| Name::Tombstone { kind, id }),
        (0..5usize).prop_map(|list| Name::Webhook { list }),
        (0..9usize).prop_map(|which| Name::Fixed { which }),
    ]
}

/// The inverse of [`part`]: what proves it one-to-one.
fn unescaped(part: &str) -> Vec<u8> {
    let bytes = part.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    #[test]
    fn an_escaped_id_reads_back_as_the_id(id in id()) {
        let escaped = part(&id);
        let forbidden = [':', '{', '}', '|', '*', '?', '[', ']'];
        prop_assert!(!escaped.contains(forbidden), "{}", escaped);
        prop_assert_eq!(unescaped(&escaped), id.as_bytes());
    }

    #[test]
    fn distinct_ids_give_distinct_names(names in proptest::collection::vec(name(), 1..24)) {
        let keyspace = Keyspace::new("memorysync:");
        let distinct: HashSet<&Name> = names.iter().collect();
        let built: HashSet<String> = distinct.iter().map(|n| built(&keyspace, n)).collect();
        prop_assert_eq!(built.len(), distinct.len(), "{:?}", names);
    }

    #[test]
    fn distinct_deliveries_give_distinct_members(
        a in (id(), id()),
        b in (id(), id()),
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(delivery_member(&a.0, &a.1), delivery_member(&b.0, &b.1));
    }
}

#[test]
fn ids_that_once_shared_a_rate_limit_window_have_one_each() {
    let keyspace = Keyspace::new("p:");
    assert_ne!(
        keyspace.rate_limit_windows("a.b"),
        keyspace.rate_limit_windows("x612e62")
    );
    assert_eq!(
        keyspace.rate_limit_windows("key_1"),
        ["p:rl:{key_1}:h", "p:rl:{key_1}:s", "p:rl:{key_1}:m"]
    );
    assert_eq!(keyspace.rate_limit_windows("a{b}")[0], "p:rl:{a%7Bb%7D}:h");
}

#[test]
fn long_lived_names_are_the_ones_stored_so_far() {
    let keyspace = Keyspace::new("memorysync:");
    let key = QuotaKey {
        project: Arc::from("proj_demo-1.x"),
        operation: Operation::Add,
        month: Month::new(2026, 11).unwrap(),
    };
    assert_eq!(
        keyspace.quota_counter(&key),
        "memorysync:quota:proj_demo-1.x:add:2026-11"
    );
    assert_eq!(
        keyspace.alert_mark(&key, 80),
        "memorysync:alert:proj_demo-1.x:add:2026-11:80"
    );
    let hash = KeyHash::from_bytes([0xab; 32]);
    assert_eq!(
        keyspace.key_record(&hash),
        format!("memorysync:key:hash:{}", "ab".repeat(32))
    );
    assert_eq!(keyspace.key_id_index("key_a"), "memorysync:key:id:key_a");
    assert_eq!(keyspace.key_generation(), "memorysync:key:generation");
    assert_eq!(
        keyspace.tombstone(TombstoneKind::ApiKeyHash, &hash.to_hex()),
        format!("memorysync:tomb:key_hash:{}", "ab".repeat(32))
    );
    assert_eq!(
        keyspace.tombstone(TombstoneKind::Memory, "mem 1"),
        "memorysync:tomb:memory:mem%201"
    );
    assert_eq!(keyspace.webhook_queue().dead, "memorysync:webhook:dead");
    assert_eq!(
        keyspace.audit_stream("audit:instance-a"),
        "memorysync:audit:instance-a"
    );
    assert_eq!(
        delivery_member("msg_00ff", "https://example.com/a?b|c"),
        "msg_00ff|https://example.com/a?b|c"
    );
}

#[test]
fn parts_are_one_to_one() {
    assert_eq!(part("proj_demo-1.x"), "proj_demo-1.x");
    assert_eq!(part("a:b"), "a%3Ab");
    assert_eq!(part("a%3Ab"), "a%253Ab");
    assert_eq!(part("é*"), "%C3%A9%2A");
}

#[test]
fn slots_match_the_ones_redis_computes() {
    // `CLUSTER KEYSLOT` of each, from Redis 7.
    assert_eq!(super::slot_of("foo"), 12182);
    assert_eq!(super::slot_of("{user1000}.following"), 3443);
    assert_eq!(super::slot_of("foo{}{bar}"), super::slot_of("foo{}{bar}"));
    assert_eq!(super::slot_of("foo{}{bar}"), 8363);
    assert_eq!(super::slot_of("foo{{bar}}zap"), super::slot_of("{bar"));
    assert_eq!(super::slot_of("foo{bar}{zap}"), super::slot_of("bar"));
}

#[test]
fn on_a_cluster_each_operation_s_keys_share_a_tag_and_one_redis_keeps_its_names() {
    let key = crate::quota::QuotaKey {
        project: "proj:{x}".into(),
        operation: Operation::Add,
        month: Month::new(2027, 1).unwrap(),
    };
    let single = Keyspace::new("p:");
    assert_eq!(
        single.quota_counter(&key),
        "p:quota:proj%3A%7Bx%7D:add:2027-01"
    );
    assert_eq!(single.key_generation(), "p:key:generation");
    assert_eq!(single.audit_stream("audit:a"), "p:audit:a");

    let cluster = Keyspace::for_cluster("p:");
    let counter = cluster.quota_counter(&key);
    assert_eq!(counter, "p:quota:{proj%3A%7Bx%7D}:add:2027-01");
    assert_eq!(
        super::slot_of(&counter),
        super::slot_of(&cluster.alert_mark(&key, 75))
    );
    let keys = super::slot_of(&cluster.key_generation());
    let hash = crate::key::KeyHash::from_hex(&"ab".repeat(32)).unwrap();
    for name in [
        cluster.key_record(&hash),
        cluster.key_id_index("key_1"),
        cluster.key_owner_index(crate::store::RecordOwner::Api),
        cluster.tombstone(crate::tombstone::TombstoneKind::ApiKeyId, "key_1"),
        cluster.tombstone(
            crate::tombstone::TombstoneKind::ApiKeyHash,
            &"ab".repeat(32),
        ),
    ] {
        assert_eq!(super::slot_of(&name), keys, "{name}");
    }
    let queue = cluster.webhook_queue();
    for name in [&queue.waiting, &queue.claimed, &queue.dead, &queue.dead_ids] {
        assert_eq!(
            super::slot_of(name),
            super::slot_of(&queue.deliveries),
            "{name}"
        );
    }
    assert_eq!(
        cluster.tombstone(crate::tombstone::TombstoneKind::Memory, "m:1"),
        "p:tomb:memory:{m%3A1}"
    );
    let stream = cluster.audit_stream("audit:a");
    assert_eq!(stream, "p:{audit%3Aa}");
    assert_eq!(
        super::slot_of(&stream),
        super::slot_of(&cluster.audit_lease("audit:a"))
    );
    assert_eq!(
        super::slot_of(&stream),
        super::slot_of(&cluster.audit_head("audit:a"))
    );
    assert_eq!(
        super::slot_of(&cluster.config_applied()),
        super::slot_of(&cluster.config_reconciling())
    );
}

#[test]
fn the_slots_asked_per_request_are_those_of_the_names_written() {
    let cluster = Keyspace::for_cluster("p:");
    for id in ["", "key_1", "k:{x}", "ä", "%", "}{"] {
        let [state, ..] = cluster.rate_limit_windows(id);
        assert_eq!(
            cluster.rate_limit_slot(id),
            super::slot_of(&state),
            "{id:?}"
        );
        let key = crate::quota::QuotaKey {
            project: id.into(),
            operation: Operation::Query,
            month: Month::new(2027, 12).unwrap(),
        };
        assert_eq!(
            cluster.quota_slot(&key),
            super::slot_of(&cluster.quota_counter(&key)),
            "{id:?}"
        );
    }
}

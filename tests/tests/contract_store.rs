//! The connection store contract, run against every backend (embedded, and DynamoDB on moto).

use std::collections::{BTreeMap, BTreeSet};

use futures::{TryStreamExt, stream};
use switchboard::clock::{Clock, SystemClock};
use switchboard::connection::{Connection, Identity};
use switchboard::intent::Segment;
use switchboard::store::{self, Audience, ConnectionStore, Cursor, StoreError};
use switchboard_tests::{Backend, per_backend};

per_backend! {
    saved_connection_is_pending_until_authenticated,
    reauthentication_without_tenant_clears_the_old_tenant,
    authenticating_a_removed_connection_fails_and_resurrects_nothing,
    authenticated_connection_never_moves_to_another_user,
    expired_rows_are_never_read_back_or_authenticated,
    pages_emptied_by_filtering_do_not_end_the_read,
    unauthenticated_rows_never_reach_audience_reads,
    user_read_can_be_limited_to_a_tenant,
    tenant_of_2500_comes_back_exactly_once_across_pages,
    four_scan_segments_cover_every_row_once,
    remove_is_idempotent_and_remove_if_same_checks_the_connection,
    refresh_moves_the_expiry_of_a_live_connection_only,
    remove_many_deletes_across_batches_and_tolerates_repeats,
    foreign_cursor_is_rejected,
}

fn now() -> i64 {
    SystemClock.now_secs()
}

fn identity(user: &str, tenant: Option<&str>) -> Identity {
    Identity {
        user_id: user.into(),
        tenant_id: tenant.map(Into::into),
        email: Some(format!("{user}@example.com")),
        token_expires_at: now() + 3_600,
    }
}

/// An authenticated, live row, written directly: seeding through the public API.
fn live(id: &str, user: &str, tenant: Option<&str>) -> Connection {
    Connection::pending(id, 1_000, now() + 30)
        .authenticated_as(&identity(user, tenant), now() + 600)
}

async fn seed(store: &dyn ConnectionStore, rows: impl IntoIterator<Item = Connection>) {
    let rows: Vec<Connection> = rows.into_iter().collect();
    store.save_all(&rows).await.expect("seed rows");
}

async fn ids(store: &dyn ConnectionStore, audience: &Audience, limit: usize) -> Vec<String> {
    store::pages(store, audience, None, limit)
        .map_ok(|page| stream::iter(page.connections.into_iter().map(Ok::<_, StoreError>)))
        .try_flatten()
        .map_ok(|c| c.connection_id)
        .try_collect()
        .await
        .expect("read pages")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn saved_connection_is_pending_until_authenticated(b: Backend) {
    let store = b.store.as_ref();
    let pending = Connection::pending("c-1=", 1_700_000_000_123, now() + 30);
    store.save_pending(&pending).await.unwrap();
    assert_eq!(
        store.get("c-1=").await.unwrap(),
        Some(pending.clone()),
        "{}",
        b.name
    );

    let who = identity("u1", Some("acme"));
    let ttl = now() + 600;
    let authed = store.authenticate("c-1=", &who, ttl).await.unwrap();
    assert_eq!(
        authed,
        pending.clone().authenticated_as(&who, ttl),
        "{}",
        b.name
    );
    assert_eq!(store.get("c-1=").await.unwrap(), Some(authed), "{}", b.name);
}

async fn reauthentication_without_tenant_clears_the_old_tenant(b: Backend) {
    let store = b.store.as_ref();
    store
        .save_pending(&Connection::pending("c1", 1, now() + 30))
        .await
        .unwrap();
    store
        .authenticate("c1", &identity("u1", Some("acme")), now() + 600)
        .await
        .unwrap();
    let again = store
        .authenticate("c1", &identity("u1", None), now() + 600)
        .await
        .unwrap();
    assert_eq!(again.tenant_id, None, "{}", b.name);
    let tenant = Audience::Tenant("acme".into());
    assert!(ids(store, &tenant, 10).await.is_empty(), "{}", b.name);
}

async fn authenticating_a_removed_connection_fails_and_resurrects_nothing(b: Backend) {
    let store = b.store.as_ref();
    store
        .save_pending(&Connection::pending("gone", 1, now() + 30))
        .await
        .unwrap();
    store.remove("gone").await.unwrap();
    let err = store
        .authenticate("gone", &identity("u1", None), now() + 600)
        .await;
    assert!(
        matches!(err, Err(StoreError::NotFound(ref id)) if id == "gone"),
        "{}",
        b.name
    );
    assert_eq!(store.get("gone").await.unwrap(), None, "{}", b.name);
    let user = Audience::User {
        user_id: "u1".into(),
        tenant_id: None,
    };
    assert!(ids(store, &user, 10).await.is_empty(), "{}", b.name);
}

async fn authenticated_connection_never_moves_to_another_user(b: Backend) {
    let store = b.store.as_ref();
    store
        .save_pending(&Connection::pending("c-owned", 1_000, now() + 30))
        .await
        .unwrap();
    let ann = identity("ann", Some("acme"));
    store
        .authenticate("c-owned", &ann, now() + 600)
        .await
        .unwrap();

    let bob = identity("bob", Some("acme"));
    let refused = store.authenticate("c-owned", &bob, now() + 600).await;
    assert!(
        matches!(refused, Err(StoreError::OtherUser(ref id)) if id == "c-owned"),
        "{}: {refused:?}",
        b.name
    );
    let row = store.get("c-owned").await.unwrap().expect("row kept");
    assert_eq!(row.user_id.as_deref(), Some("ann"), "{}", b.name);

    // The same user may refresh its token, with a later expiry.
    let expires_at = now() + 7_200;
    let later = Identity {
        token_expires_at: expires_at,
        ..ann
    };
    let refreshed = store
        .authenticate("c-owned", &later, now() + 600)
        .await
        .unwrap();
    assert_eq!(refreshed.token_expires_at, Some(expires_at), "{}", b.name);
}

async fn expired_rows_are_never_read_back_or_authenticated(b: Backend) {
    let store = b.store.as_ref();
    let past = now() - 10;
    let expired_pending = Connection::pending("late", 1, past);
    let mut expired_live = live("stale", "u1", Some("acme"));
    expired_live.ttl = past;
    seed(store, [expired_pending, expired_live]).await;

    assert_eq!(store.get("late").await.unwrap(), None, "{}", b.name);
    assert_eq!(store.get("stale").await.unwrap(), None, "{}", b.name);
    let err = store
        .authenticate("late", &identity("u1", None), now() + 600)
        .await;
    assert!(matches!(err, Err(StoreError::NotFound(_))), "{}", b.name);
    assert!(matches!(
        store.refresh("stale", now() + 600).await,
        Err(StoreError::NotFound(_))
    ));
    let tenant = Audience::Tenant("acme".into());
    assert!(ids(store, &tenant, 10).await.is_empty(), "{}", b.name);
}

async fn pages_emptied_by_filtering_do_not_end_the_read(b: Backend) {
    let store = b.store.as_ref();
    let mut rows = Vec::new();
    for i in 0..30 {
        let mut row = live(&format!("x{i:02}"), &format!("u{i}"), Some("t-exp"));
        row.ttl = now() - 5;
        rows.push(row);
    }
    let alive: Vec<String> = (0..5).map(|i| format!("y{i}")).collect();
    rows.extend(alive.iter().map(|id| live(id, id, Some("t-exp"))));
    seed(store, rows).await;

    let audience = Audience::Tenant("t-exp".into());
    assert_eq!(sorted(ids(store, &audience, 2).await), alive, "{}", b.name);

    // The first page of size 2 cannot hold all five live rows: reading must go on.
    let first = store.page(&audience, None, 2).await.unwrap();
    assert!(
        first.next.is_some(),
        "{}: a page of 2 out of 35 rows must have a next",
        b.name
    );
}

async fn unauthenticated_rows_never_reach_audience_reads(b: Backend) {
    let store = b.store.as_ref();
    // A row with index keys but no authentication, as a partial write could leave.
    let mut odd = live("odd", "u-odd", Some("t-odd"));
    odd.authenticated = false;
    let pending = Connection::pending("pending", 1, now() + 30);
    seed(store, [odd, pending, live("ok", "u-odd", Some("t-odd"))]).await;

    let user = Audience::User {
        user_id: "u-odd".into(),
        tenant_id: None,
    };
    assert_eq!(ids(store, &user, 10).await, ["ok"], "{}", b.name);
    assert_eq!(
        ids(store, &Audience::Tenant("t-odd".into()), 10).await,
        ["ok"],
        "{}",
        b.name
    );
    let everyone = Audience::Segment(Segment { index: 0, total: 1 });
    assert_eq!(ids(store, &everyone, 10).await, ["ok"], "{}", b.name);
}

async fn user_read_can_be_limited_to_a_tenant(b: Backend) {
    let store = b.store.as_ref();
    seed(
        store,
        [
            live("a1", "ann", Some("acme")),
            live("a2", "ann", Some("beta")),
            live("a3", "ann", None),
        ],
    )
    .await;
    let all = Audience::User {
        user_id: "ann".into(),
        tenant_id: None,
    };
    assert_eq!(
        sorted(ids(store, &all, 1).await),
        ["a1", "a2", "a3"],
        "{}",
        b.name
    );
    let acme = Audience::User {
        user_id: "ann".into(),
        tenant_id: Some("acme".into()),
    };
    assert_eq!(ids(store, &acme, 1).await, ["a1"], "{}", b.name);
}

async fn tenant_of_2500_comes_back_exactly_once_across_pages(b: Backend) {
    let store = b.store.as_ref();
    let rows: Vec<Connection> = (0..2_500)
        .map(|i| live(&format!("conn-{i:04}"), &format!("user-{i}"), Some("big")))
        .collect();
    seed(store, rows).await;

    let read = ids(store, &Audience::Tenant("big".into()), 100).await;
    assert_eq!(read.len(), 2_500, "{}", b.name);
    let unique: BTreeSet<&String> = read.iter().collect();
    assert_eq!(unique.len(), 2_500, "{}: duplicates across pages", b.name);
}

async fn four_scan_segments_cover_every_row_once(b: Backend) {
    let store = b.store.as_ref();
    let rows: Vec<Connection> = (0..200)
        .map(|i| live(&format!("s{i:03}"), "u", None))
        .collect();
    seed(store, rows).await;

    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for index in 0..4 {
        let segment = Audience::Segment(Segment { index, total: 4 });
        let part = ids(store, &segment, 7).await;
        assert!(
            !part.is_empty(),
            "{}: segment {index} of 4 over 200 rows is empty",
            b.name
        );
        for id in part {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 200, "{}", b.name);
    assert!(
        seen.values().all(|&n| n == 1),
        "{}: a row in two segments",
        b.name
    );
}

async fn remove_is_idempotent_and_remove_if_same_checks_the_connection(b: Backend) {
    let store = b.store.as_ref();
    store.remove("never-existed").await.unwrap();
    store
        .save_pending(&Connection::pending("c1", 111, now() + 30))
        .await
        .unwrap();

    assert!(
        !store.remove_if_same("c1", 222).await.unwrap(),
        "{}",
        b.name
    );
    assert!(store.get("c1").await.unwrap().is_some(), "{}", b.name);
    assert!(store.remove_if_same("c1", 111).await.unwrap(), "{}", b.name);
    assert_eq!(store.get("c1").await.unwrap(), None, "{}", b.name);
    assert!(
        !store.remove_if_same("c1", 111).await.unwrap(),
        "{}",
        b.name
    );
    store.remove("c1").await.unwrap();
}

async fn refresh_moves_the_expiry_of_a_live_connection_only(b: Backend) {
    let store = b.store.as_ref();
    store.save_pending(&live("r1", "u", None)).await.unwrap();
    let ttl = now() + 1_200;
    store.refresh("r1", ttl).await.unwrap();
    assert_eq!(
        store.get("r1").await.unwrap().unwrap().ttl,
        ttl,
        "{}",
        b.name
    );
    let missing = store.refresh("nope", now() + 1_200).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{}",
        b.name
    );
    assert_eq!(
        store.get("nope").await.unwrap(),
        None,
        "{}: refresh created a row",
        b.name
    );
}

async fn remove_many_deletes_across_batches_and_tolerates_repeats(b: Backend) {
    let store = b.store.as_ref();
    let rows: Vec<Connection> = (0..60)
        .map(|i| live(&format!("m{i:02}"), "u", Some("bulk")))
        .collect();
    seed(store, rows).await;
    let mut doomed: Vec<String> = (0..55).map(|i| format!("m{i:02}")).collect();
    doomed.extend(["m00".to_owned(), "not-there".to_owned()]);
    store.remove_many(&doomed).await.unwrap();
    let left = sorted(ids(store, &Audience::Tenant("bulk".into()), 100).await);
    assert_eq!(left, ["m55", "m56", "m57", "m58", "m59"], "{}", b.name);
}

async fn foreign_cursor_is_rejected(b: Backend) {
    let store = b.store.as_ref();
    let cursor: Cursor = serde_json::from_str("\"not-a-cursor!\"").unwrap();
    let err = store
        .page(&Audience::Tenant("t".into()), Some(&cursor), 10)
        .await;
    assert!(matches!(err, Err(StoreError::InvalidCursor)), "{}", b.name);
}

/// Only DynamoDB can hold a row Switchboard did not write; the embedded store holds typed
/// records. A malformed row must not stop the read at its page.
#[tokio::test]
async fn malformed_row_on_dynamodb_is_skipped_not_fatal() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use switchboard::connection::attr;

    let Some(b) = Backend::moto().await else {
        return;
    };
    let aws = b.aws.as_ref().expect("moto backend has AWS resources");
    let store = b.store.as_ref();
    seed(
        store,
        (0..5).map(|i| live(&format!("ok-{i}"), "u", Some("mixed"))),
    )
    .await;
    let n = |v: i64| AttributeValue::N(v.to_string());
    aws_sdk_dynamodb::Client::new(&aws.sdk)
        .put_item()
        .table_name(&aws.table)
        .item(attr::CONNECTION_ID, AttributeValue::S("bad-1".into()))
        .item(attr::AUTHENTICATED, AttributeValue::Bool(true))
        .item(attr::TENANT_ID, AttributeValue::S("mixed".into()))
        .item(attr::USER_ID, AttributeValue::S("u".into()))
        .item(attr::CONNECTED_AT, AttributeValue::S("yesterday".into()))
        .item(attr::TTL, n(now() + 600))
        .send()
        .await
        .expect("put malformed row");

    for limit in [1, 2, 100] {
        let read = sorted(ids(store, &Audience::Tenant("mixed".into()), limit).await);
        assert_eq!(
            read,
            ["ok-0", "ok-1", "ok-2", "ok-3", "ok-4"],
            "page size {limit}"
        );
    }
}

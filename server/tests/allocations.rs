//! Heap allocations of one request through the real router, counted by a
//! counting global allocator: a deep copy of the application state (or of
//! a service's configuration) on the request path shows up here as tens
//! of extra allocations and fails the bound.
//!
//! Only allocations made on this test's thread while a request is in
//! flight are counted; the runtime is single-threaded, so that is the
//! request itself plus the Redis connection work it causes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure
#![allow(unsafe_code)] // a GlobalAlloc implementation is unsafe by definition

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use support::{app, get, post_bearer};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping touches only thread-local cells, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made while `request` runs.
async fn allocations<F: std::future::Future>(request: F) -> u64 {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    request.await;
    COUNTING.with(|on| on.set(false));
    COUNT.with(Cell::get)
}

/// Bounds set from measurement (see the README's performance section):
/// `/health` measured 136 (request id, tracing span, security headers,
/// compression and JSON through the middleware stack), an authenticated
/// API call 384 (plus the principal, rate-limit headers, the script call
/// and its reply). About 25% headroom, so that a new per-request copy of
/// shared state shows up as a failure.
const HEALTH_MAX: u64 = 170;
const AUTHENTICATED_MAX: u64 = 480;

#[tokio::test]
async fn one_request_allocates_within_a_small_bound() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    app.user("ann", "correct horse", &[Role::User]).await;
    let token = app.token("ann", "correct horse").await;
    // Warm up: scripts loaded, connections made, lazy statics built.
    for _ in 0..3 {
        app.send(get("/health")).await;
        app.send(post_bearer("/api/v1/auth/me", &token)).await;
    }

    let health = allocations(async {
        assert_eq!(app.send(get("/health")).await.status(), 200);
    })
    .await;
    let authenticated = allocations(async {
        assert_eq!(
            app.send(post_bearer("/api/v1/auth/me", &token))
                .await
                .status(),
            200
        );
    })
    .await;
    println!("allocations: /health {health}, authenticated /api/v1/auth/me {authenticated}");
    assert!(health <= HEALTH_MAX, "/health made {health} allocations");
    assert!(
        authenticated <= AUTHENTICATED_MAX,
        "an authenticated request made {authenticated} allocations"
    );
}

//! The embedded Redis: started, found, and stopped for real.

use super::*;

#[tokio::test]
async fn missing_binary_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = EmbeddedOptions::new(dir.path(), false);
    options.binary = PathBuf::from("redis-server-that-does-not-exist");
    let err = RedisServer::start(&options).await.unwrap_err();
    assert!(
        matches!(err, EmbeddedError::BinaryMissing { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("apt-get install redis-server"),
        "{message}"
    );
    assert!(message.contains("GATEHOUSE_REDIS_URL"), "{message}");
}

#[tokio::test]
async fn taken_fixed_port_reports_the_redis_log() {
    let dir = tempfile::tempdir().unwrap();
    let first = RedisServer::start(&EmbeddedOptions::new(dir.path(), false))
        .await
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut options = EmbeddedOptions::new(other.path(), false);
    options.port = Some(first.port());
    let err = RedisServer::start(&options).await.unwrap_err();
    match err {
        EmbeddedError::Exited { log, .. } => {
            assert!(log.contains("Address already in use"), "{log}")
        }
        other => panic!("expected Exited, got {other:?}"),
    }
    first.shutdown().await.unwrap();
}

#[tokio::test]
async fn persistent_data_survives_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions::new(dir.path(), true);
    let server = RedisServer::start(&options).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("gh:test")
        .arg("kept")
        .query_async(&mut conn)
        .await
        .unwrap();
    let pid = server.pid();
    server.shutdown().await.unwrap();
    assert!(
        !process_alive(pid),
        "redis-server {pid} still running after shutdown"
    );

    let server = RedisServer::start(&options).await.unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let value: String = redis::cmd("GET")
        .arg("gh:test")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, "kept");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropping_the_handle_kills_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(&EmbeddedOptions::new(dir.path(), false))
        .await
        .unwrap();
    let pid = server.pid();
    assert!(process_alive(pid));
    drop(server);
    assert!(!process_alive(pid));
}

fn process_alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would show state Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.contains(") Z "),
        Err(_) => false,
    }
}

//! The server-function machinery's own failures become documented codes.

use super::*;

#[test]
fn serialises_to_the_documented_shape() {
    let err = FnError::from(ApiError::invalid_request("username is empty"));
    let json = serde_json::to_value(&err).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"error": "invalid_request", "message": "username is empty"})
    );
    assert_eq!(err.status(), 400);
}

#[test]
fn undecodable_arguments_are_a_client_error() {
    let err = FnError::from_server_fn_error(ServerFnErrorErr::Args("expected `,`".into()));
    assert_eq!(err.error, ErrorCode::InvalidRequest);
    assert_eq!(err.status(), 400);
}

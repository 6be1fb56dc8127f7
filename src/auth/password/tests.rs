//! Password changes and resets against sign-ins racing them.

use super::super::tests::auth_with;
use super::*;
use crate::auth::RotationConfig;
use crate::token::TokenConfig;
use crate::user::Role;

crate::both_topologies! {
    /// A reset ends every session opened with the old password, including
    /// sign-ins that verified it just before the reset and open their
    /// session just after its sweep.
    async fn no_sign_in_with_the_old_password_outlives_a_reset(backend) {
        let auth = auth_with(&backend.store().await, TokenConfig::default(), RotationConfig::default()).await;
        let user = auth.users().create("ivy", "the old password", &[Role::User]).await.unwrap();
        // From many addresses, so the sign-in lockout does not refuse them.
        let logins: Vec<_> = (0..24)
            .map(|i| {
                let auth = auth.clone();
                tokio::spawn(async move {
                    let ip = format!("198.51.100.{i}");
                    let client = Client { limit_key: ip.clone(), ip, user_agent: String::new() };
                    auth.login("ivy", "the old password", &client).await
                })
            })
            .collect();
        // The scenario, not readiness: let the sign-ins start, so the reset races them.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        auth.reset_password(&user.id, "the new password!", false).await.unwrap();
        let mut refused = 0;
        for login in logins {
            refused += usize::from(matches!(login.await.unwrap(), Err(AuthError::InvalidCredentials)));
        }
        assert_eq!(
            auth.sessions().list(&user.id).await.unwrap(),
            Vec::new(),
            "a session opened with the old password survived the reset ({refused} sign-ins refused)"
        );
        let client = Client::default();
        assert!(auth.login("ivy", "the new password!", &client).await.is_ok());
    }
}

//! Users on a real Redis: records, names, roles, passwords and paging.

use super::*;

async fn users(backend: &crate::testing::TestBackend) -> Users {
    Users::new(backend.store().await, Hasher::new(4).await.unwrap())
}

crate::both_topologies! {
    async fn create_get_find_and_list(backend) {
        let users = users(&backend).await;
        let alice = users
            .create("Alice", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let bob = users
            .create(
                "bob",
                "long enough, really",
                &[Role::Admin, Role::User, Role::Admin],
            )
            .await
            .unwrap();
        assert_eq!(bob.roles, vec![Role::Admin, Role::User]);
        assert_eq!(users.get(&alice.id).await.unwrap().unwrap(), alice);
        let (found, hash) = users.find_with_hash("ALICE").await.unwrap().unwrap();
        assert_eq!(found.id, alice.id);
        assert!(hash.starts_with("$argon2id$"));
        assert!(users.find_with_hash("carol").await.unwrap().is_none());

        let page = users.list(0, 1).await.unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(page.users, vec![alice.clone()]);
        assert_eq!(users.list(1, 10).await.unwrap().users[0].id, bob.id);
    }
}

crate::both_topologies! {
    async fn usernames_are_unique_case_insensitively_even_under_races(backend) {
        let users = users(&backend).await;
        let attempts = (0..20).map(|i| {
            let users = users.clone();
            let name = if i % 2 == 0 { "Dave" } else { "dave" };
            tokio::spawn(async move { users.create(name, "long enough, really", &[Role::User]).await })
        });
        let mut created = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => created += 1,
                Err(UserError::UsernameTaken) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(created, 1);
        assert_eq!(users.list(0, 100).await.unwrap().total, 1);
    }
}

crate::both_topologies! {
    async fn bad_input_is_rejected_before_any_work(backend) {
        let users = users(&backend).await;
        for name in ["", "ab", "has space", "x{y}", &"a".repeat(65)] {
            assert!(matches!(
                users.create(name, "long enough, really", &[Role::User]).await,
                Err(UserError::InvalidUsername(_))
            ));
        }
        assert!(matches!(
            users.create("erin", "short", &[Role::User]).await,
            Err(UserError::InvalidPassword(_))
        ));
        assert!(matches!(
            users.create("erin", &"p".repeat(1025), &[Role::User]).await,
            Err(UserError::InvalidPassword(policy::Rejected::TooLong))
        ));
        assert!(matches!(
            users.create("erin", "iloveyou", &[Role::User]).await,
            Err(UserError::InvalidPassword(_))
        ));
        assert!(matches!(
            users.create("erin", "long enough, really", &[]).await,
            Err(UserError::InvalidRoles(_))
        ));
    }
}

crate::both_topologies! {
    async fn updates_change_only_existing_users(backend) {
        let users = users(&backend).await;
        let frank = users
            .create("frank", "long enough, really", &[Role::User])
            .await
            .unwrap();
        users.set_roles(&frank.id, &[Role::Service]).await.unwrap();
        users.set_disabled(&frank.id, true).await.unwrap();
        users
            .set_password(&frank, "another long one", true)
            .await
            .unwrap();
        let (updated, hash) = users.find_with_hash("frank").await.unwrap().unwrap();
        assert_eq!(updated.roles, vec![Role::Service]);
        assert!(updated.disabled);
        assert!(updated.must_change_password);
        assert_eq!(updated.password_generation, 1);
        assert!(matches!(
            users.set_password(&frank, "Frank", false).await,
            Err(UserError::InvalidPassword(_))
        ));
        assert!(
            users
                .hasher()
                .verify("another long one", &hash)
                .await
                .unwrap()
        );
        let missing = "0".repeat(32);
        assert!(matches!(
            users.set_disabled(&missing, true).await,
            Err(UserError::NotFound)
        ));
        assert!(users.get("not-an-id").await.unwrap().is_none());
    }
}

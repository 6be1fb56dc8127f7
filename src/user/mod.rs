//! Users: the accounts people and services sign in with.
//!
//! A user record is a Redis hash under the `{users}` hash tag, next to the
//! username index, so that claiming a name and creating its record is one
//! script: two concurrent sign-ups for "alice" cannot both succeed, and
//! "Alice" and "alice" are the same name. Listing pages through a sorted
//! index (never `KEYS`).
//!
//! Passwords are stored only as Argon2id hashes ([`crate::password`]);
//! which new passwords are acceptable is [`policy`]'s decision. The
//! "disabled" flag lives in the record for display and, authoritatively, as
//! a marker key in the user's own `{u:<id>}` slot, where the session
//! scripts check it atomically. "Must change the password" lives in the
//! record and is copied into each session the user opens (it is only ever
//! set together with ending every session), where admission reads it.

pub mod policy;
mod role;

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{Script, Value};
use serde::{Deserialize, Serialize};

use crate::password::{Hasher, PasswordError};
use crate::revocations::Revoked;
use crate::store::{Store, StoreError, keys};

pub use role::Role;
pub(crate) use role::roles_from_string;
use role::roles_to_string;

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("create.lua")));
static FIND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("find.lua")));
static PAGE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("page.lua")));
static UPDATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("update.lua")));
static SET_PASSWORD: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("set_password.lua")));
static RAISE_GENERATION: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("raise_generation.lua")));

/// Longest accepted username input, in bytes (passwords: see
/// [`policy::MAX_PASSWORD_BYTES`]). Longer input is rejected before any
/// work is done.
pub const MAX_INPUT_BYTES: usize = 256;

/// A user, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    /// The user must choose a new password before doing anything else
    /// (after an admin reset, or for the generated first-run admin).
    #[serde(default)]
    pub must_change_password: bool,
    /// How many times the password was set since the account was made.
    /// Session creation refuses a sign-in that verified an older one.
    #[serde(default)]
    pub password_generation: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl User {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// One page of users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    /// All users, not just this page.
    pub total: u64,
    pub users: Vec<User>,
}

/// What can go wrong with users.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    #[error("invalid password: {0}")]
    InvalidPassword(#[from] policy::Rejected),
    #[error("invalid roles: {0}")]
    InvalidRoles(String),
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("no such user")]
    NotFound,
    #[error("stored user record is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

impl From<redis::RedisError> for UserError {
    fn from(err: redis::RedisError) -> Self {
        UserError::Store(err.into())
    }
}

/// Checks a username for a new account: 3 to 64 characters of letters,
/// digits and `. _ @ -`.
pub fn validate_username(username: &str) -> Result<(), UserError> {
    let chars = username.chars().count();
    if !(3..=64).contains(&chars) {
        return Err(UserError::InvalidUsername(
            "use 3 to 64 characters".to_owned(),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
    {
        return Err(UserError::InvalidUsername(
            "use only letters, digits and . _ @ -".to_owned(),
        ));
    }
    Ok(())
}

fn user_from_fields(mut fields: HashMap<String, String>) -> Result<(User, String), UserError> {
    let mut take = |name: &str| {
        fields
            .remove(name)
            .ok_or_else(|| UserError::Corrupt(format!("field `{name}` missing")))
    };
    let number = |text: String| {
        text.parse::<u64>()
            .map_err(|_| UserError::Corrupt("bad timestamp".to_owned()))
    };
    let id = take("id")?;
    let username = take("name")?;
    let hash = take("hash")?;
    let roles = roles_from_string(&take("roles")?);
    let disabled = take("disabled")? == "1";
    // Records from before the flag existed have no field: not required.
    let must_change_password = take("mustchange").is_ok_and(|flag| flag == "1");
    let password_generation = match take("pwgen") {
        Ok(text) => number(text)?,
        Err(_) => 0,
    };
    let created_at_ms = number(take("created")?)?;
    let updated_at_ms = number(take("updated")?)?;
    Ok((
        User {
            id,
            username,
            roles,
            disabled,
            must_change_password,
            password_generation,
            created_at_ms,
            updated_at_ms,
        },
        hash,
    ))
}

/// A boolean as the record stores it.
fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

fn fields_from_pairs(pairs: Vec<String>) -> HashMap<String, String> {
    let mut fields = HashMap::with_capacity(pairs.len() / 2);
    let mut iter = pairs.into_iter();
    while let (Some(field), Some(value)) = (iter.next(), iter.next()) {
        fields.insert(field, value);
    }
    fields
}

/// The user directory. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Users {
    store: Store,
    hasher: Hasher,
}

impl Users {
    pub fn new(store: Store, hasher: Hasher) -> Self {
        Self { store, hasher }
    }

    /// The password hasher this directory uses.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Creates a user. The username must be free (case-insensitively).
    #[tracing::instrument(skip_all, fields(username = %username), err)]
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        roles: &[Role],
    ) -> Result<User, UserError> {
        validate_username(username)?;
        policy::check(password, username)?;
        let roles_text = roles_to_string(roles)?;
        let hash = self.hasher.hash(password).await?;
        let id = crate::random::hex::<16>();
        let created: u64 = CREATE
            .key(keys::usernames())
            .key(keys::user(&id))
            .key(keys::user_index())
            .arg(username.to_lowercase())
            .arg(&id)
            .arg(username)
            .arg(&hash)
            .arg(&roles_text)
            .invoke_async(&mut self.store.conn())
            .await?;
        if created == 0 {
            return Err(UserError::UsernameTaken);
        }
        self.write_roles(&id, &roles_text).await?;
        tracing::info!(user_id = %id, roles = %roles_text, "user created");
        Ok(User {
            id,
            username: username.to_owned(),
            roles: roles_from_string(&roles_text),
            disabled: false,
            must_change_password: false,
            password_generation: 0,
            created_at_ms: created,
            updated_at_ms: created,
        })
    }

    /// A user by id.
    pub async fn get(&self, user_id: &str) -> Result<Option<User>, UserError> {
        if !keys::is_id(user_id) {
            return Ok(None);
        }
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::user(user_id))
            .query_async(&mut self.store.conn())
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(user_from_fields(fields)?.0))
    }

    /// A user by username (case-insensitive).
    pub async fn find(&self, username: &str) -> Result<Option<User>, UserError> {
        Ok(self.find_with_hash(username).await?.map(|(user, _)| user))
    }

    /// A user and their password hash, by username (case-insensitive).
    pub(crate) async fn find_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, UserError> {
        let pairs: Vec<String> = FIND
            .key(keys::usernames())
            .key(keys::user(""))
            .arg(username.to_lowercase())
            .invoke_async(&mut self.store.conn())
            .await?;
        if pairs.is_empty() {
            return Ok(None);
        }
        user_from_fields(fields_from_pairs(pairs)).map(Some)
    }

    /// Usernames of `ids` (missing users are left out), in one round trip.
    pub async fn usernames(&self, ids: &[&str]) -> Result<HashMap<String, String>, UserError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HGET").arg(keys::user(id)).arg("name");
        }
        let names: Vec<Option<String>> = pipe.query_async(&mut self.store.conn()).await?;
        Ok(ids
            .iter()
            .zip(names)
            .filter_map(|(id, name)| name.map(|name| ((*id).to_owned(), name)))
            .collect())
    }

    /// A page of users, oldest first.
    pub async fn list(&self, offset: u64, limit: u64) -> Result<UserPage, UserError> {
        let value: Value = PAGE
            .key(keys::user_index())
            .key(keys::user(""))
            .arg(offset)
            .arg(limit.clamp(1, 500))
            .invoke_async(&mut self.store.conn())
            .await?;
        let Value::Array(items) = value else {
            return Err(UserError::Corrupt("unexpected page reply".to_owned()));
        };
        let mut items = items.into_iter();
        let total: u64 = match items.next() {
            Some(v) => redis::from_redis_value(v).map_err(|e| UserError::Corrupt(e.to_string()))?,
            None => 0,
        };
        let users = items
            .map(|record| {
                let pairs: Vec<String> = redis::from_redis_value(record)
                    .map_err(|e| UserError::Corrupt(e.to_string()))?;
                Ok(user_from_fields(fields_from_pairs(pairs))?.0)
            })
            .collect::<Result<Vec<_>, UserError>>()?;
        Ok(UserPage { total, users })
    }

    /// Replaces the password of `user` (checked against [`policy`]) and
    /// sets whether it must be changed again before anything else. Ending
    /// the user's sessions is the caller's next step (see
    /// `Auth::change_password` and `Auth::reset_password`).
    #[tracing::instrument(skip_all, fields(user_id = %user.id, must_change), err)]
    pub async fn set_password(
        &self,
        user: &User,
        password: &str,
        must_change: bool,
    ) -> Result<(), UserError> {
        policy::check(password, &user.username)?;
        let hash = self.hasher.hash(password).await?;
        if !keys::is_id(&user.id) {
            return Err(UserError::NotFound);
        }
        let generation: i64 = SET_PASSWORD
            .key(keys::user(&user.id))
            .arg(&hash)
            .arg(flag(must_change))
            .invoke_async(&mut self.store.conn())
            .await?;
        if generation < 0 {
            return Err(UserError::NotFound);
        }
        // Then in the user's slot, where session creation checks it: from
        // here on, a sign-in that verified the old password opens nothing.
        let _: i64 = RAISE_GENERATION
            .key(keys::user_password_generation(&user.id))
            .arg(generation)
            .invoke_async(&mut self.store.conn())
            .await?;
        Ok(())
    }

    /// Sets whether the user must choose a new password before doing
    /// anything else; takes effect for sessions opened afterwards.
    pub async fn set_must_change_password(
        &self,
        user_id: &str,
        must_change: bool,
    ) -> Result<(), UserError> {
        self.update(user_id, &[("mustchange", flag(must_change).to_owned())])
            .await
    }

    /// Replaces the roles.
    #[tracing::instrument(skip_all, fields(user_id = %user_id), err)]
    pub async fn set_roles(&self, user_id: &str, roles: &[Role]) -> Result<(), UserError> {
        let roles = roles_to_string(roles)?;
        if !keys::is_id(user_id) {
            return Err(UserError::NotFound);
        }
        // Tokens carry the roles they were issued with: in degraded mode,
        // which reads roles from the token, every older one is refused.
        let revoked = Revoked::User {
            user_id,
            keep: None,
        };
        crate::revocations::publish(&self.store, &[revoked]).await?;
        self.update(user_id, &[("roles", roles.clone())]).await?;
        // The copy admission reads: from here on, every request of every
        // session of this user carries the new roles.
        self.write_roles(user_id, &roles).await
    }

    /// The roles key admission reads (see [`keys::user_roles`]).
    async fn write_roles(&self, user_id: &str, roles: &str) -> Result<(), UserError> {
        let _: () = redis::cmd("SET")
            .arg(keys::user_roles(user_id))
            .arg(roles)
            .query_async(&mut self.store.conn())
            .await?;
        Ok(())
    }

    /// Copies a user's roles from the record into the key admission reads,
    /// for users created before that key existed. `None` when the user
    /// does not exist.
    pub(crate) async fn sync_roles(&self, user_id: &str) -> Result<Option<Vec<Role>>, UserError> {
        let Some(user) = self.get(user_id).await? else {
            return Ok(None);
        };
        self.write_roles(user_id, &roles_to_string(&user.roles)?)
            .await?;
        Ok(Some(user.roles))
    }

    /// Sets or clears the disabled flag. New sessions are refused from the
    /// moment this returns; ending existing ones is the caller's next step
    /// (see `Auth::set_disabled`).
    #[tracing::instrument(skip_all, fields(user_id = %user_id, disabled), err)]
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<(), UserError> {
        if disabled && keys::is_id(user_id) {
            let revoked = Revoked::User {
                user_id,
                keep: None,
            };
            crate::revocations::publish(&self.store, &[revoked]).await?;
        }
        self.update(user_id, &[("disabled", flag(disabled).to_owned())])
            .await?;
        let cmd = if disabled {
            let mut cmd = redis::cmd("SET");
            cmd.arg(keys::user_disabled(user_id)).arg(1);
            cmd
        } else {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(keys::user_disabled(user_id));
            cmd
        };
        let _: () = cmd.query_async(&mut self.store.conn()).await?;
        Ok(())
    }

    async fn update(&self, user_id: &str, fields: &[(&str, String)]) -> Result<(), UserError> {
        if !keys::is_id(user_id) {
            return Err(UserError::NotFound);
        }
        let mut invocation = UPDATE.key(keys::user(user_id));
        for (field, value) in fields {
            invocation.arg(*field).arg(value);
        }
        let updated: u64 = invocation.invoke_async(&mut self.store.conn()).await?;
        if updated == 0 {
            return Err(UserError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! What kind of request a path is, decided once for every adapter.
//!
//! Admission costs a Redis round trip, so only requests that need it pay
//! for it: probes and static files never touch Redis or a rate limit (a
//! load balancer's health check must not fail because Redis is slow, and a
//! page's twenty bundle files must not spend twenty units of the user's
//! API budget). Forward-auth is its own class because a reverse proxy asks
//! it on behalf of every request of every user: it is counted against its
//! own policy only and never renews tokens the proxy would throw away.

/// The path forward-auth answers on.
pub const VERIFY_PATH: &str = "/api/v1/auth/verify";
/// Who the caller is (`POST`).
pub const ME_PATH: &str = "/api/v1/auth/me";
/// Every path under this is for admins only.
pub const ADMIN_PREFIX: &str = "/api/v1/admin/";
/// Where a signed-in user changes their password.
pub const PASSWORD_PATH: &str = "/api/v1/auth/password";
/// The page with the change-password form.
pub const ACCOUNT_PAGE: &str = "/account";

/// Whether a user who must change the password first may use `path`:
/// the change itself, the page for it, who-am-I, refreshing tokens and
/// signing out. Everything else (the console, the JSON API, forward-auth)
/// waits until the password is changed.
pub fn open_during_password_change(path: &str) -> bool {
    matches!(
        path,
        PASSWORD_PATH
            | ACCOUNT_PAGE
            | "/"
            | "/login"
            | ME_PATH
            | "/api/v1/auth/session"
            | "/api/v1/auth/refresh"
            | "/api/v1/auth/logout"
            | "/api/v1/auth/logout-all"
            | "/api/v1/status"
    )
}

/// Where a session whose user must enrol a second factor first may go:
/// where a pending password change may, and the enrolment itself.
pub fn open_during_mfa_enrollment(path: &str) -> bool {
    open_during_password_change(path)
        || matches!(
            path,
            "/api/v1/auth/mfa/totp/enroll"
                | "/api/v1/auth/mfa/totp/confirm"
                | "/api/v1/auth/mfa/factors"
                | "/api/v1/auth/mfa/webauthn/register/start"
                | "/api/v1/auth/mfa/webauthn/register/finish"
                | "/api/v1/ui/totp-enroll"
        )
}

/// How Gatehouse treats a request, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteClass {
    /// Bundle files, icons, the manifest: served without admission.
    Static,
    /// `/health`: the process is up; no Redis, no limits.
    Health,
    /// `/ready`: pings Redis by definition, but is not admitted.
    Ready,
    /// Forward-auth (`/api/v1/auth/verify`): verified and counted against
    /// the policies naming this path exactly; never renewed.
    Verify,
    /// `/api/v1/admin/*`: admitted only for callers with the admin role,
    /// before any handler reads the body (a non-admin never learns what
    /// an admin request should look like).
    Admin,
    /// Everything else: pages, server functions, the JSON API.
    Ordinary,
}

impl RouteClass {
    /// Every class, in the order of [`RouteClass::index`].
    pub const ALL: [RouteClass; 6] = [
        RouteClass::Static,
        RouteClass::Health,
        RouteClass::Ready,
        RouteClass::Verify,
        RouteClass::Admin,
        RouteClass::Ordinary,
    ];

    /// The class's position in [`RouteClass::ALL`] (for tables of
    /// per-class values).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class's name (a metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Static => "static",
            RouteClass::Health => "health",
            RouteClass::Ready => "ready",
            RouteClass::Verify => "verify",
            RouteClass::Admin => "admin",
            RouteClass::Ordinary => "ordinary",
        }
    }

    /// The class of `path`.
    pub fn of(path: &str) -> Self {
        match path {
            "/health" => RouteClass::Health,
            "/ready" => RouteClass::Ready,
            VERIFY_PATH => RouteClass::Verify,
            _ if path.starts_with(ADMIN_PREFIX) => RouteClass::Admin,
            _ if is_static(path) => RouteClass::Static,
            _ => RouteClass::Ordinary,
        }
    }

    /// Whether requests of this class go through admission at all.
    pub fn is_admitted(self) -> bool {
        matches!(
            self,
            RouteClass::Verify | RouteClass::Admin | RouteClass::Ordinary
        )
    }
}

/// Bundle files (`/pkg/...`) and any path whose last segment has a dot.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::RouteClass;

    #[test]
    fn paths_fall_into_classes() {
        for (path, class) in [
            ("/health", RouteClass::Health),
            ("/ready", RouteClass::Ready),
            ("/api/v1/auth/verify", RouteClass::Verify),
            ("/pkg/gatehouse.wasm", RouteClass::Static),
            ("/favicon.ico", RouteClass::Static),
            ("/account", RouteClass::Ordinary),
            ("/api/v1/auth/me", RouteClass::Ordinary),
            ("/api/v1/auth/verify/x", RouteClass::Ordinary),
            ("/api/v1/admin/users/create", RouteClass::Admin),
            ("/api/v1/admin/events/stream", RouteClass::Admin),
            ("/api/v1/administer", RouteClass::Ordinary),
        ] {
            assert_eq!(RouteClass::of(path), class, "{path}");
        }
        assert!(!RouteClass::Health.is_admitted() && !RouteClass::Static.is_admitted());
        assert!(super::open_during_password_change("/api/v1/auth/password"));
        assert!(!super::open_during_password_change("/api/v1/auth/verify"));
        assert!(!super::open_during_password_change("/console"));
        assert!(RouteClass::Verify.is_admitted() && RouteClass::Ordinary.is_admitted());
    }

    #[test]
    fn every_class_is_listed_at_its_index() {
        for (i, class) in RouteClass::ALL.into_iter().enumerate() {
            assert_eq!(class.index(), i, "{class:?}");
        }
    }
}

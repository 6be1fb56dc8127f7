//! Roles, as the wire names them: a closed list, so the console and
//! clients match on variants instead of comparing strings.

wire_names! {
    /// What a user may do (`ALL` is in the order the console lists them).
    pub enum Role {
        /// Signs in, sees and ends their own sessions.
        User = "user",
        /// Everything, including the console and other users.
        Admin = "admin",
        /// Another program: may use the lock and rate-limit services.
        Service = "service",
        /// A metrics scraper: may read `/metrics`, nothing else.
        Metrics = "metrics",
    }
}

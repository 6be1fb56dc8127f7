//! One module per page.

pub mod account;
pub mod console;
pub mod home;
pub mod login;
pub mod not_found;

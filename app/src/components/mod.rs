//! Building blocks shared by pages.

pub mod layout;
pub mod theme;
pub mod time;
pub mod ui;

//! Building blocks shared by pages.

pub mod layout;
pub mod step_up;
pub mod theme;
pub mod time;
pub mod ui;

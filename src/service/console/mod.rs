//! Read-only questions the web console asks beyond the JSON API's, by topic: what a caller
//! may do with each token and what a token page shows (`tokens`), and how people are found
//! and offered in pickers (`people`). The rules themselves stay in their modules: these only
//! ask `policy` and reuse the users module's parsing. (A user change's preview is the users
//! module's own: `users::preview_update`.)

pub mod people;
pub mod tokens;

pub use people::{
    find_user, match_user, search_owners, user_choices, user_permissions, OwnerChoice, UserMatch,
    USER_CHOICES,
};
pub use tokens::{controls, token_names, token_page, Controls, TokenPage};

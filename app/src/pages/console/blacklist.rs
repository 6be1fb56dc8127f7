//! `/console/blacklist`: revoked access tokens that have not expired;
//! each row leaves the view when its token would have expired anyway.

use gatehouse::api::Page;
use gatehouse::api::events::Kind;
use gatehouse::api::users::BlacklistEntry;
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, SCROLL, ShortId, TABLE, TD, TH, UserLink};
use crate::api::admin::list_blacklist;
use crate::components::time::{Clock, RelativeTime};
use crate::components::ui::{Card, ErrorNotice, LOADING, loading};
use crate::live::use_live;

#[component]
pub fn BlacklistPage() -> impl IntoView {
    let changes = use_live().watch(|kind| kind == Kind::TokenBlacklisted);
    let entries = Resource::new(
        move || changes.get(),
        |_| {
            list_blacklist(Page {
                offset: Some(0),
                limit: Some(200),
            })
        },
    );
    view! {
        <Title text="Blacklist · Console"/>
        <Card>
            <Transition fallback=|| loading(LOADING)>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(page) if page.entries.is_empty() => view! {
                            <Empty text="Tokens revoked before they expire (sign-outs, rotations, revocations) appear here until they expire."/>
                        }.into_any(),
                        Ok(page) => view! { <BlacklistTable entries=page.entries/> }.into_any(),
                        Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

/// Revoked tokens, each row leaving when its token expires (also on the
/// user page).
#[component]
pub(super) fn BlacklistTable(entries: Vec<BlacklistEntry>) -> impl IntoView {
    let clock = expect_context::<Clock>().0;
    view! {
        <div class=SCROLL>
            <table class=TABLE data-testid="blacklist-table">
                <thead><tr>
                    <th class=TH>"Token (jti)"</th><th class=TH>"User"</th><th class=TH>"Session"</th>
                    <th class=TH>"Reason"</th><th class=TH>"Revoked"</th><th class=TH>"Expires"</th>
                </tr></thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {entries.into_iter().map(|entry| {
                        let expires = entry.expires_at_ms;
                        view! {
                            <Show when=move || clock.get() < expires>
                                <tr data-jti=entry.jti.clone()>
                                    <td class=TD><ShortId id=entry.jti.clone()/></td>
                                    <td class=TD><UserLink user_id=entry.user_id.clone()/></td>
                                    <td class=TD><ShortId id=entry.session_id.clone()/></td>
                                    <td class=TD>{entry.reason.clone()}</td>
                                    <td class=TD><RelativeTime at_ms=entry.revoked_at_ms/></td>
                                    <td class=TD><RelativeTime at_ms=expires deadline=true/></td>
                                </tr>
                            </Show>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

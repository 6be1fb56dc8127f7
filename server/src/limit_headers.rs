//! `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers):
//! each policy a request was checked against, as `"name";q=<quota>;w=<window
//! s>` and `"name";r=<remaining>;t=<seconds until reset>`.
//!
//! Which policies a request meets depends only on the configuration (its
//! path, and whether a user is signed in), and so does their
//! `RateLimit-Policy` value: it is rendered the first time a set of
//! policies is seen and then shared by every response (a reference count,
//! not a copy). `RateLimit` changes with every request and is written into
//! one buffer.

use std::sync::{Arc, PoisonError, RwLock};

use gatehouse::ratelimit::{Decision, Outcome};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Sets of policies remembered; a configuration has a handful (one per
/// kind of route and caller). Past this, values are rendered each time.
const MOST_SETS: usize = 64;

static POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static CURRENT: HeaderName = HeaderName::from_static("ratelimit");

/// A set of policies (their shared names, in order) and its value.
type Rendered = (Vec<Arc<str>>, HeaderValue);

/// The rendered `RateLimit-Policy` values. Clones share them.
#[derive(Clone, Default)]
pub struct LimitHeaders {
    rendered: Arc<RwLock<Vec<Rendered>>>,
}

impl LimitHeaders {
    /// Adds both headers for `limits` (none if no policy was checked).
    pub fn add(&self, headers: &mut HeaderMap, limits: &Decision) {
        if limits.outcomes.is_empty() {
            return;
        }
        if let Some(value) = self.policy_value(&limits.outcomes) {
            headers.insert(POLICY.clone(), value);
        }
        let current = render(&limits.outcomes, |out, o| {
            write!(
                out,
                "\"{}\";r={};t={}",
                o.policy,
                o.remaining,
                o.reset_ms.div_ceil(1000)
            )
        });
        if let Some(value) = current {
            headers.insert(CURRENT.clone(), value);
        }
    }

    fn policy_value(&self, outcomes: &[Outcome]) -> Option<HeaderValue> {
        let same = |names: &[Arc<str>]| {
            names.len() == outcomes.len()
                && names
                    .iter()
                    .zip(outcomes)
                    .all(|(name, o)| Arc::ptr_eq(name, &o.policy))
        };
        {
            let rendered = self.rendered.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, value)) = rendered.iter().find(|(names, _)| same(names)) {
                return Some(value.clone());
            }
        }
        let value = render(outcomes, |out, o| {
            write!(
                out,
                "\"{}\";q={};w={}",
                o.policy,
                o.limit,
                o.window_ms.div_ceil(1000)
            )
        })?;
        let mut rendered = self
            .rendered
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if rendered.len() < MOST_SETS && !rendered.iter().any(|(names, _)| same(names)) {
            let names = outcomes.iter().map(|o| Arc::clone(&o.policy)).collect();
            rendered.push((names, value.clone()));
        }
        Some(value)
    }
}

/// Each outcome written by `item`, separated by `, `, as a header value:
/// written on the stack and copied once into the value (into a growing
/// buffer only if the policies' names do not fit).
fn render(
    outcomes: &[Outcome],
    item: impl Fn(&mut dyn std::io::Write, &Outcome) -> std::io::Result<()>,
) -> Option<HeaderValue> {
    let write = |out: &mut dyn std::io::Write| {
        outcomes.iter().enumerate().try_for_each(|(i, outcome)| {
            if i > 0 {
                out.write_all(b", ")?;
            }
            item(out, outcome)
        })
    };
    let mut buffer = [0u8; 1024];
    let mut stack = std::io::Cursor::new(&mut buffer[..]);
    if write(&mut stack).is_ok() {
        let len = usize::try_from(stack.position()).ok()?;
        return HeaderValue::from_bytes(&buffer[..len]).ok();
    }
    let mut heap = Vec::new();
    write(&mut heap).ok()?;
    HeaderValue::from_bytes(&heap).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(policy: &Arc<str>, remaining: u64) -> Outcome {
        Outcome {
            policy: Arc::clone(policy),
            allowed: true,
            limit: 600,
            remaining,
            window_ms: 60_000,
            reset_ms: 1_500,
            retry_after_ms: Some(0),
        }
    }

    #[test]
    fn many_long_policy_names_still_fit() {
        let names: Vec<Arc<str>> = (0..32).map(|i| format!("{i:0>60}").into()).collect();
        let limits = Decision {
            replayed: false,
            outcomes: names.iter().map(|name| outcome(name, 1)).collect(),
        };
        let mut headers = HeaderMap::new();
        LimitHeaders::default().add(&mut headers, &limits);
        assert!(headers["ratelimit"].len() > 1024);
        assert_eq!(
            headers["ratelimit-policy"]
                .to_str()
                .unwrap()
                .matches(";q=")
                .count(),
            32
        );
    }

    #[test]
    fn both_headers_name_every_policy_and_the_policy_value_is_shared() {
        let (ip, user): (Arc<str>, Arc<str>) = ("ip".into(), "api-user".into());
        let headers = LimitHeaders::default();
        let mut first = HeaderMap::new();
        let limits = Decision {
            replayed: false,
            outcomes: vec![outcome(&ip, 10), outcome(&user, 5)],
        };
        headers.add(&mut first, &limits);
        assert_eq!(
            first["ratelimit-policy"],
            "\"ip\";q=600;w=60, \"api-user\";q=600;w=60"
        );
        assert_eq!(first["ratelimit"], "\"ip\";r=10;t=2, \"api-user\";r=5;t=2");
        let mut second = HeaderMap::new();
        headers.add(&mut second, &limits);
        assert_eq!(second["ratelimit-policy"], first["ratelimit-policy"]);
        assert_eq!(headers.rendered.read().unwrap().len(), 1, "rendered once");
        let mut none = HeaderMap::new();
        headers.add(&mut none, &Decision::default());
        assert!(none.is_empty());
    }
}

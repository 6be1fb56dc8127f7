//! How a session's user proved who they are, as tokens and answers carry
//! it: `amr` (RFC 8176 authentication method references), `aal` (the
//! authenticator assurance level, NIST SP 800-63B: 1 for one factor, 2
//! for two) and `auth_time` (when they last proved it, seconds since the
//! epoch). Set when a session starts (and when a step-up proves a factor
//! again), copied into every token of the session, never raised by a
//! refresh or a renewal.
//!
//! `amr` is a set of a few known values, kept as bits so that reading it
//! from every request's token allocates nothing; values Gatehouse does
//! not use are ignored when read.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One authentication method (RFC 8176).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A password.
    Pwd,
    /// A one-time password (a TOTP code, a recovery code).
    Otp,
    /// A hardware-bound key (a security key).
    Hwk,
    /// A software-bound key (a synced passkey).
    Swk,
    /// The authenticator verified the user (PIN, biometrics).
    User,
}

impl Method {
    const ALL: [Method; 5] = [
        Method::Pwd,
        Method::Otp,
        Method::Hwk,
        Method::Swk,
        Method::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pwd => "pwd",
            Method::Otp => "otp",
            Method::Hwk => "hwk",
            Method::Swk => "swk",
            Method::User => "user",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`Method`]s; serialized as a JSON array of their names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amr(u8);

impl Amr {
    pub const fn empty() -> Self {
        Self(0)
    }

    pub fn with(self, method: Method) -> Self {
        Self(self.0 | method.bit())
    }

    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    pub fn methods(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// Both sets' methods.
    pub fn union(self, other: Amr) -> Self {
        Self(self.0 | other.0)
    }

    /// The assurance level these methods reach: 2 for two distinct kinds
    /// of factor, something the user has (`otp`, `hwk`, `swk`) and
    /// something they know or are (`pwd`, or `user`: the authenticator
    /// verified them by PIN or biometrics); else 1. So a passkey whose
    /// authenticator verified its user is level 2 alone, and one that did
    /// not is level 1.
    pub fn aal(self) -> u8 {
        let has = [Method::Otp, Method::Hwk, Method::Swk]
            .into_iter()
            .any(|m| self.contains(m));
        let knows_or_is = self.contains(Method::Pwd) || self.contains(Method::User);
        if has && knows_or_is { 2 } else { 1 }
    }
}

impl Serialize for Amr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for method in self.methods() {
            seq.serialize_element(method.as_str())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Amr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(AmrVisitor)
    }
}

struct AmrVisitor;

impl<'de> Visitor<'de> for AmrVisitor {
    type Value = Amr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of authentication method names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Amr, A::Error> {
        let mut amr = Amr::empty();
        while let Some(Name(method)) = seq.next_element()? {
            if let Some(method) = method {
                amr = amr.with(method);
            }
        }
        Ok(amr)
    }
}

/// A method's name, read without allocating (`None`: not one of ours).
struct Name(Option<Method>);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an authentication method name")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Name, E> {
                Ok(Name(Method::ALL.into_iter().find(|m| m.as_str() == text)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Amr {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(Method::ALL.map(Method::as_str)))
                    .description(Some("An RFC 8176 authentication method.")),
            )
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Amr {}

/// What a session's tokens say about how its user signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assurance {
    pub amr: Amr,
    /// 1 or 2.
    pub aal: u8,
    /// When the user last proved who they are (seconds since the epoch).
    pub auth_time: u64,
}

impl Assurance {
    /// A password alone, proved at `auth_time`.
    pub fn password(auth_time: u64) -> Self {
        Self {
            amr: Amr::password(),
            aal: 1,
            auth_time,
        }
    }
}

impl Amr {
    /// `["pwd"]`: what a token issued before `amr` existed was signed in
    /// with (there was no other way).
    pub fn password() -> Self {
        Self::empty().with(Method::Pwd)
    }
}

/// The `aal` of a token issued before it existed.
pub fn aal_one() -> u8 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_is_an_array_of_names_and_ignores_others() {
        let amr = Amr::password().with(Method::Otp);
        assert_eq!(serde_json::to_string(&amr).unwrap(), r#"["pwd","otp"]"#);
        let read: Amr = serde_json::from_str(r#"["otp","mfa","pwd"]"#).unwrap();
        assert_eq!(read, amr);
        assert_eq!(serde_json::from_str::<Amr>("[]").unwrap(), Amr::empty());
        assert!(serde_json::from_str::<Amr>(r#""pwd""#).is_err());
        assert!(serde_json::from_str::<Amr>("[1]").is_err());
    }

    #[test]
    fn level_two_takes_two_kinds_of_factor() {
        let key = Amr::empty().with(Method::Hwk);
        assert_eq!(Amr::password().aal(), 1);
        assert_eq!(
            key.aal(),
            1,
            "a key whose authenticator did not verify the user"
        );
        assert_eq!(key.with(Method::Swk).aal(), 1);
        assert_eq!(
            key.with(Method::User).aal(),
            2,
            "a passkey with PIN or biometrics"
        );
        assert_eq!(Amr::empty().with(Method::Swk).with(Method::User).aal(), 2);
        assert_eq!(Amr::password().with(Method::Otp).aal(), 2);
        assert_eq!(Amr::password().with(Method::Hwk).aal(), 2);
        assert_eq!(Amr::password().with(Method::User).aal(), 1);
    }
}

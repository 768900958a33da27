//! `serde` support for the model (feature `serde`).
//!
//! Values with a text form are (de)serialized as that text, so a configuration file reads
//! like ipvsadm: a [`ServiceId`] is `"tcp:10.0.0.1:80"`, a [`Scheduler`] `"rr"`, a
//! [`Netmask`] `"255.255.255.0"` or `"64"`. Structures are maps of their fields; fields that
//! the kernel fills in (stats, counters, raw flag bits) may be left out and are skipped when
//! empty. Deserializing does not validate: the client validates every value before it sends
//! it, as for values built by hand (or call `validate` yourself).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::{
    AddressFamily, DaemonState, Netmask, PersistenceEngine, Protocol, Scheduler, ServiceId, Version,
};

/// Serialize and deserialize a type through its `Display` and `FromStr` forms.
macro_rules! via_text {
    ($ty:ty, $expecting:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor::<$ty>::new($expecting))
            }
        }
    };
}

struct TextVisitor<T> {
    expecting: &'static str,
    _ty: std::marker::PhantomData<T>,
}

impl<T> TextVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        TextVisitor {
            expecting,
            _ty: std::marker::PhantomData,
        }
    }
}

impl<T> Visitor<'_> for TextVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

via_text!(
    ServiceId,
    "a service: tcp:ADDR:PORT, udp:..., sctp:..., fwmark:N or fwmark6:N"
);
via_text!(Protocol, "a protocol: tcp, udp, sctp or protoN");
via_text!(Scheduler, "a scheduler name (rr, wlc, ...)");
via_text!(PersistenceEngine, "a persistence engine name (sip)");
via_text!(
    Netmask,
    "a netmask: an IPv4 mask or an IPv6 prefix length, as a string"
);
via_text!(Version, "a version major.minor.patch");
via_text!(
    DaemonStateText,
    "a sync daemon state: master, backup or stateN"
);
via_text!(AddressFamilyText, "an address family: inet or inet6");

/// [`DaemonState`]'s text form, with `stateN` for values unknown to this crate.
struct DaemonStateText(DaemonState);

impl fmt::Display for DaemonStateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for DaemonStateText {
    type Err = crate::error::InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(code) = s.strip_prefix("state").and_then(|n| n.parse().ok()) {
            return Ok(DaemonStateText(DaemonState::from_code(code)));
        }
        s.parse().map(DaemonStateText)
    }
}

impl Serialize for DaemonState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DaemonStateText(*self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DaemonState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DaemonStateText::deserialize(d).map(|t| t.0)
    }
}

/// [`AddressFamily`]'s text form (`inet`, `inet6`).
struct AddressFamilyText(AddressFamily);

impl fmt::Display for AddressFamilyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AddressFamilyText {
    type Err = crate::error::InvalidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "inet" | "ipv4" => Ok(AddressFamilyText(AddressFamily::Inet)),
            "inet6" | "ipv6" => Ok(AddressFamilyText(AddressFamily::Inet6)),
            _ => Err(crate::error::InvalidError::parse(
                s,
                "an address family (inet, inet6)",
            )),
        }
    }
}

impl Serialize for AddressFamily {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AddressFamilyText(*self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for AddressFamily {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AddressFamilyText::deserialize(d).map(|t| t.0)
    }
}

/// `skip_serializing_if` helpers.
pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

pub(crate) fn is_zero(v: &u32) -> bool {
    *v == 0
}

pub(crate) fn default_weight() -> u32 {
    super::Destination::DEFAULT_WEIGHT
}

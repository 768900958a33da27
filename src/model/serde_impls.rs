//! `serde` support for the model (feature `serde`): the configuration format.
//!
//! The format reads like ipvsadm and says only what a person configures:
//!
//! - Values with a text form are that text: a [`ServiceId`] is `"tcp:10.0.0.1:80"`, a
//!   [`Scheduler`] `"rr"`, a forwarding method `"masq"`, `"route"` or `"tunnel"` (every
//!   spelling `ForwardMethod::from_str` takes is read: `masquerading`, `gatewaying`, `ipip`,
//!   `dr`, ...), scheduler flags ipvsadm's `-b` words (`"sh-fallback,sh-port"`), a
//!   destination `"10.0.0.2:80"` or `"[fd00::2]:80"` (a bare address takes the service's
//!   port, or 0 under a firewall-mark service), a persistence netmask a mask
//!   (`"255.255.255.0"`), a prefix (`"10.0.0.0/24"`, `"/24"`, `24`) or an IPv6 prefix length.
//! - Every field has the builders' default: scheduler `wlc`, forwarding `route`, weight 1,
//!   no thresholds, persistence timeout 360 s ([`Persistence::DEFAULT_TIMEOUT`]) and the
//!   full-length netmask.
//! - Unknown fields are refused (`"wieght"` is an error, not weight 1), and a [`Service`],
//!   [`Destination`] or [`ServiceEntry`] that its builder would refuse is an error naming the
//!   object (`service tcp:10.0.0.1:80: destination 10.0.0.2:80: weight 70000 is out of
//!   range 0..=65535`). Duplicate services across a table are caught by
//!   [`validate_table`](super::validate_table).
//! - Serializing writes configuration only, in the canonical ipvsadm form: no stats, no
//!   counters, no kernel-set flags (`HASHED`), no raw read-back values that a write ignores.
//!   So a table read back from the kernel, serialized and deserialized, reconciles with zero
//!   writes. Counters are serialized on their own ([`Stats`](super::Stats),
//!   [`DestCounters`](super::DestCounters)).
//!
//! The earlier long forms (`"direct_route"`, `"masquerade"`, `{"tunnel": {"kind": ...}}`,
//! `"FLAG_1 | FLAG_2"`, `"CSUM"`, a destination's separate `"port"`) are still read.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::{
    AddressFamily, DaemonState, Destination, ForwardMethod, Netmask, Persistence,
    PersistenceEngine, Protocol, SchedFlags, Scheduler, Service, ServiceEntry, ServiceFlags,
    ServiceId, TableError, Tunnel, TunnelFlags, TunnelType, Version,
};
use crate::error::InvalidError;

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

/// A visitor of a string, parsed by a function.
struct StrVisitor<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

fn de_str<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    d.deserialize_str(StrVisitor { expecting, parse })
}

/// The words of a flag list: `csum,remcsum`, `sh-fallback, sh-port`, and the earlier
/// `FLAG_1 | FLAG_2` (lowercased, `_` read as `-`).
fn flag_words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', '|'])
        .map(|w| w.trim().to_ascii_lowercase().replace('_', "-"))
        .filter(|w| !w.is_empty())
}

fn hex_bits(word: &str) -> Option<u32> {
    u32::from_str_radix(word.strip_prefix("0x")?, 16).ok()
}

// ---- Tunnels ----

impl Serialize for TunnelType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TunnelType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_str(d, "a tunnel type: ipip, gue or gre", |s| {
            let code = s
                .strip_prefix("tun")
                .and_then(|n| n.parse().ok())
                .map(TunnelType::from_code);
            code.map_or_else(|| s.parse().map_err(|e: InvalidError| e.to_string()), Ok)
        })
    }
}

/// `csum`, `remcsum`, both, or `nocsum`; bits unknown to this crate in hex.
fn tunnel_flags_text(flags: TunnelFlags) -> String {
    let mut words = Vec::new();
    if flags.contains(TunnelFlags::CSUM) {
        words.push("csum".to_owned());
    }
    if flags.contains(TunnelFlags::REMCSUM) {
        words.push("remcsum".to_owned());
    }
    let rest = flags.bits() & !(TunnelFlags::CSUM | TunnelFlags::REMCSUM).bits();
    if rest != 0 {
        words.push(format!("{rest:#x}"));
    }
    if words.is_empty() {
        return "nocsum".to_owned();
    }
    words.join(",")
}

fn parse_tunnel_flags(s: &str) -> Result<TunnelFlags, String> {
    flag_words(s).try_fold(TunnelFlags::empty(), |acc, w| {
        let flag = match w.trim_start_matches("tun-") {
            "csum" => TunnelFlags::CSUM,
            "remcsum" => TunnelFlags::REMCSUM,
            "nocsum" => TunnelFlags::empty(),
            other => match hex_bits(other).and_then(|b| u16::try_from(b).ok()) {
                Some(bits) => TunnelFlags::from_bits_retain(bits),
                None => {
                    return Err(format!(
                        "unknown tunnel flag {w:?}: expected csum, remcsum or nocsum"
                    ))
                }
            },
        };
        Ok(acc | flag)
    })
}

impl Serialize for TunnelFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&tunnel_flags_text(*self))
    }
}

impl<'de> Deserialize<'de> for TunnelFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_str(
            d,
            "tunnel flags: csum, remcsum or nocsum",
            parse_tunnel_flags,
        )
    }
}

/// A tunnel's fields: `{"type": "gue", "port": 6080, "flags": "csum"}`, each optional.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TunnelRepr {
    #[serde(rename = "type", alias = "kind", default)]
    kind: TunnelType,
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    port: u16,
    #[serde(default, skip_serializing_if = "TunnelFlags::is_empty")]
    flags: TunnelFlags,
}

impl Serialize for Tunnel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TunnelRepr {
            kind: self.kind,
            port: self.port,
            flags: self.flags,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tunnel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = TunnelRepr::deserialize(d)?;
        Ok(Tunnel {
            kind: r.kind,
            port: r.port,
            flags: r.flags,
        })
    }
}

// ---- Forwarding ----

fn parse_forward(s: &str) -> Result<ForwardMethod, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(code) = lower.strip_prefix("fwd").and_then(|n| n.parse().ok()) {
        return Ok(ForwardMethod::from_code(code));
    }
    match lower.as_str() {
        "direct_route" | "direct-route" | "gate" => return Ok(ForwardMethod::DirectRoute),
        "tunnel_ipip" => return Ok(ForwardMethod::Tunnel(Tunnel::ipip())),
        _ => {}
    }
    s.parse().map_err(|e: InvalidError| e.to_string())
}

impl Serialize for ForwardMethod {
    /// `"masq"`, `"route"`, `"local"`, `"bypass"`, `"tunnel"` (IPIP without flags), or
    /// `{"tunnel": {"type": "gue", "port": 6080, "flags": "csum"}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ForwardMethod::Tunnel(t) if *t == Tunnel::default() => s.serialize_str("tunnel"),
            ForwardMethod::Tunnel(t) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("tunnel", t)?;
                m.end()
            }
            other => s.collect_str(other),
        }
    }
}

struct ForwardVisitor;

impl<'de> Visitor<'de> for ForwardVisitor {
    type Value = ForwardMethod;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a forwarding method (masq, route, tunnel, local, bypass) or \
             {\"tunnel\": {\"type\": ..., \"port\": ..., \"flags\": ...}}",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ForwardMethod, E> {
        parse_forward(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ForwardMethod, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        if key != "tunnel" {
            return Err(de::Error::unknown_field(&key, &["tunnel"]));
        }
        let tunnel: Tunnel = map.next_value()?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::unknown_field(&extra, &[]));
        }
        Ok(ForwardMethod::Tunnel(tunnel))
    }
}

impl<'de> Deserialize<'de> for ForwardMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ForwardVisitor)
    }
}

// ---- Scheduler flags ----

/// Scheduler flags as ipvsadm's `-b` list for this scheduler (`sh-fallback,sh-port`), bits
/// unknown to this crate in hex.
fn sched_flags_text(flags: SchedFlags, scheduler: &Scheduler) -> String {
    let mut words: Vec<String> = flags
        .ipvsadm_names(scheduler)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let rest = flags.bits() & !SchedFlags::all().bits();
    if rest != 0 {
        words.push(format!("{rest:#x}"));
    }
    words.join(",")
}

/// Parse a `-b` list; with a scheduler, `sh-*` and `mh-*` words must match it (as ipvsadm).
fn parse_sched_flags(s: &str, scheduler: Option<&Scheduler>) -> Result<SchedFlags, InvalidError> {
    flag_words(s).try_fold(SchedFlags::empty(), |acc, w| {
        if let Some(bits) = hex_bits(&w) {
            return Ok(acc | SchedFlags::from_bits_retain(bits));
        }
        let own = if w.starts_with("sh-") {
            Scheduler::Sh
        } else if w.starts_with("mh-") {
            Scheduler::Mh
        } else {
            Scheduler::Wlc
        };
        Ok(acc | SchedFlags::from_ipvsadm_name(&w, scheduler.unwrap_or(&own))?)
    })
}

impl Serialize for SchedFlags {
    /// ipvsadm's words without a scheduler: `flag-1,flag-2,flag-3`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sched_flags_text(*self, &Scheduler::Wlc))
    }
}

impl<'de> Deserialize<'de> for SchedFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FlagWords::deserialize(d)
            .and_then(|w| parse_sched_flags(&w.0, None).map_err(de::Error::custom))
    }
}

/// A flag list as a comma-separated string or an array of words.
struct FlagWords(String);

impl<'de> Deserialize<'de> for FlagWords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlagWords;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("scheduler flags: \"sh-fallback,sh-port\" or a list of words")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlagWords, E> {
                Ok(FlagWords(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlagWords, A::Error> {
                let mut words = Vec::new();
                while let Some(w) = seq.next_element::<String>()? {
                    words.push(w);
                }
                Ok(FlagWords(words.join(",")))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- Netmasks ----

/// A netmask as written in a service: a string or a prefix length.
enum NetmaskIn {
    Text(String),
    Len(u64),
}

impl<'de> Deserialize<'de> for NetmaskIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NetmaskIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a netmask: \"255.255.255.0\", \"10.0.0.0/24\", \"/24\" or 24")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NetmaskIn, E> {
                Ok(NetmaskIn::Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NetmaskIn, E> {
                Ok(NetmaskIn::Len(v))
            }
            // Formats such as TOML give every integer signed.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NetmaskIn, E> {
                u64::try_from(v)
                    .map(NetmaskIn::Len)
                    .map_err(|_| E::custom(InvalidError::PrefixOutOfRange(0)))
            }
        }
        d.deserialize_any(V)
    }
}

impl NetmaskIn {
    /// The netmask for a service of family `af`: an IPv4 mask or prefix (`255.255.255.0`,
    /// `24`, `/24`, `10.0.0.0/24`), an IPv6 prefix (`64`, `/64`, `fd00::/64`) or mask.
    fn parse(&self, af: AddressFamily) -> Result<Netmask, InvalidError> {
        const EXPECTED: &str = "a netmask (255.255.255.0, 10.0.0.0/24, /24, or an IPv6 prefix)";
        let prefix = |len: u64| -> Result<Netmask, InvalidError> {
            let len = u8::try_from(len).map_err(|_| InvalidError::PrefixOutOfRange(u32::MAX))?;
            let m = match af {
                AddressFamily::Inet => Netmask::v4_prefix(len)?,
                AddressFamily::Inet6 => Netmask::V6(len),
            };
            m.validate(af)?;
            Ok(m)
        };
        let text = match self {
            NetmaskIn::Len(len) => return prefix(*len),
            NetmaskIn::Text(t) => t.trim(),
        };
        let bad = || InvalidError::parse(text, EXPECTED);
        if let Some((addr, len)) = text.split_once('/') {
            let family_ok = match af {
                AddressFamily::Inet => addr.is_empty() || addr.parse::<Ipv4Addr>().is_ok(),
                AddressFamily::Inet6 => addr.is_empty() || addr.parse::<Ipv6Addr>().is_ok(),
            };
            if !family_ok {
                return Err(bad());
            }
            return prefix(len.parse().map_err(|_| bad())?);
        }
        if let Ok(len) = text.parse::<u64>() {
            return prefix(len);
        }
        let m = match text.parse::<IpAddr>().map_err(|_| bad())? {
            IpAddr::V4(mask) => Netmask::V4(mask),
            IpAddr::V6(mask) => {
                let len = ipnetwork::ipv6_mask_to_prefix(mask).map_err(|_| bad())?;
                Netmask::V6(len)
            }
        };
        m.validate(af)?;
        Ok(m)
    }
}

// ---- Services ----

/// The service flag bits with fields of their own, or set by the kernel.
const KNOWN_SERVICE_FLAGS: u32 = 0x3f;

#[derive(Serialize)]
struct PersistenceOut {
    timeout: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    netmask: Option<Netmask>,
}

#[derive(Serialize)]
struct ServiceOut<'a> {
    id: &'a ServiceId,
    scheduler: &'a Scheduler,
    #[serde(skip_serializing_if = "String::is_empty")]
    sched_flags: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    persistence: Option<PersistenceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    netmask: Option<Netmask>,
    #[serde(skip_serializing_if = "is_false")]
    one_packet: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pe: Option<&'a PersistenceEngine>,
    #[serde(skip_serializing_if = "is_zero")]
    other_flags: u32,
}

impl Serialize for Service {
    /// The configuration only: no stats, no kernel-set flags, no raw values a write ignores.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let full = Netmask::full(self.id.af());
        ServiceOut {
            id: &self.id,
            scheduler: &self.scheduler,
            sched_flags: sched_flags_text(self.sched_flags, &self.scheduler),
            persistence: self.persistence.map(|p| PersistenceOut {
                timeout: p.timeout,
                netmask: (p.netmask != full).then_some(p.netmask),
            }),
            netmask: self
                .raw_netmask
                .filter(|m| self.persistence.is_none() && *m != full),
            one_packet: self.one_packet,
            pe: self.pe.as_ref(),
            other_flags: self.other_flags.bits() & !KNOWN_SERVICE_FLAGS,
        }
        .serialize(s)
    }
}

/// `"persistence"`: an object `{"timeout": 600, "netmask": "/24"}` (both optional), a timeout,
/// `true` (the defaults) or `false` (none).
enum PersistenceIn {
    Off,
    On(PersistenceMap),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PersistenceMap {
    #[serde(default)]
    timeout: Option<u32>,
    #[serde(default)]
    netmask: Option<NetmaskIn>,
}

impl<'de> Deserialize<'de> for PersistenceIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PersistenceIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "persistence: {\"timeout\": SECONDS, \"netmask\": MASK}, a timeout, or true",
                )
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PersistenceIn, E> {
                Ok(if v {
                    PersistenceIn::On(PersistenceMap::default())
                } else {
                    PersistenceIn::Off
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PersistenceIn, E> {
                let timeout = u32::try_from(v)
                    .map_err(|_| E::custom(InvalidError::PersistenceTimeoutOutOfRange(u32::MAX)))?;
                Ok(PersistenceIn::On(PersistenceMap {
                    timeout: Some(timeout),
                    netmask: None,
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PersistenceIn, E> {
                let v = u64::try_from(v)
                    .map_err(|_| E::custom(InvalidError::PersistenceTimeoutOutOfRange(0)))?;
                self.visit_u64(v)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PersistenceIn, A::Error> {
                PersistenceMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(PersistenceIn::On)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceIn {
    id: ServiceId,
    #[serde(default)]
    scheduler: Option<Scheduler>,
    #[serde(default)]
    sched_flags: Option<FlagWords>,
    #[serde(default)]
    persistence: Option<PersistenceIn>,
    #[serde(default)]
    netmask: Option<NetmaskIn>,
    #[serde(default)]
    one_packet: bool,
    #[serde(default)]
    pe: Option<PersistenceEngine>,
    #[serde(default)]
    other_flags: u32,
}

impl ServiceIn {
    /// Build the service as its builder would, or say why not.
    fn build(self) -> Result<Service, InvalidError> {
        let af = self.id.af();
        let scheduler = self.scheduler.unwrap_or_default();
        let mut b = Service::builder(self.id).scheduler(scheduler.clone());
        if let Some(words) = &self.sched_flags {
            b = b.sched_flags(parse_sched_flags(&words.0, Some(&scheduler))?);
        }
        let mut netmask = self.netmask.map(|m| m.parse(af)).transpose()?;
        if let Some(PersistenceIn::On(p)) = self.persistence {
            b = b.persistent(p.timeout.unwrap_or(Persistence::DEFAULT_TIMEOUT));
            if let Some(m) = p.netmask {
                if netmask.is_some() {
                    return Err(InvalidError::parse(
                        "netmask",
                        "one netmask, in \"persistence\" or beside it",
                    ));
                }
                netmask = Some(m.parse(af)?);
            }
        }
        if let Some(m) = netmask {
            b = b.netmask(m);
        }
        if self.one_packet {
            b = b.one_packet();
        }
        if let Some(pe) = self.pe {
            b = b.pe(pe);
        }
        let mut svc = b.build()?;
        if svc.raw_netmask == Some(Netmask::full(af)) {
            svc.raw_netmask = None;
        }
        if self.other_flags & KNOWN_SERVICE_FLAGS != 0 {
            return Err(InvalidError::parse(
                &format!("{:#x}", self.other_flags),
                "other_flags without the bits 0x3f (persistence, one_packet and sched_flags \
                 have fields; the kernel sets HASHED)",
            ));
        }
        svc.other_flags = ServiceFlags::from_bits_retain(self.other_flags);
        Ok(svc)
    }
}

impl<'de> Deserialize<'de> for Service {
    /// Refuses unknown fields and what [`ServiceBuilder::build`](super::ServiceBuilder::build)
    /// refuses, naming the service.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let input = ServiceIn::deserialize(d)?;
        let service = input.id;
        input
            .build()
            .map_err(|error| de::Error::custom(TableError::Service { service, error }))
    }
}

// ---- Destinations ----

#[derive(Serialize)]
struct DestinationOut<'a> {
    addr: String,
    forward: &'a ForwardMethod,
    weight: u32,
    #[serde(skip_serializing_if = "is_zero")]
    upper_threshold: u32,
    #[serde(skip_serializing_if = "is_zero")]
    lower_threshold: u32,
}

impl<'a> DestinationOut<'a> {
    /// `bare_zero`: write port 0 as a bare address (standalone, or under a fwmark service).
    fn new(d: &'a Destination, bare_zero: bool) -> Self {
        DestinationOut {
            addr: if d.port == 0 && bare_zero {
                d.addr.to_string()
            } else {
                d.socket_addr().to_string()
            },
            forward: &d.forward,
            weight: d.weight,
            upper_threshold: d.upper_threshold,
            lower_threshold: d.lower_threshold,
        }
    }
}

impl Serialize for Destination {
    /// The configuration only (no counters, no stats); the address with its port, or bare
    /// when the port is 0.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DestinationOut::new(self, true).serialize(s)
    }
}

/// A real server's address: `10.0.0.2:80`, `[fd00::2]:80`, or bare (`10.0.0.2`, `fd00::2`).
struct DestAddr(IpAddr, Option<u16>);

fn parse_dest_addr(s: &str) -> Result<DestAddr, String> {
    let s = s.trim();
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(DestAddr(sa.ip(), Some(sa.port())));
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse().map(|ip| DestAddr(ip, None)).map_err(|_| {
        InvalidError::parse(
            s,
            "a real server address (10.0.0.2:80, [fd00::2]:80, or a bare address)",
        )
        .to_string()
    })
}

impl<'de> Deserialize<'de> for DestAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de_str(
            d,
            "a real server address: 10.0.0.2:80, [fd00::2]:80 or 10.0.0.2",
            parse_dest_addr,
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationIn {
    addr: DestAddr,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    forward: ForwardMethod,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    upper_threshold: u32,
    #[serde(default)]
    lower_threshold: u32,
}

impl DestinationIn {
    /// The destination, with `default_port` when no port is given. Not validated.
    fn resolve(self, default_port: u16) -> Result<Destination, String> {
        let DestAddr(ip, in_addr) = self.addr;
        let port = match (in_addr, self.port) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "destination {}: the port is given twice (in \"addr\" and \"port\")",
                    SocketAddr::new(ip, in_addr.unwrap_or_default())
                ))
            }
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => default_port,
        };
        let mut b = super::DestinationBuilder::new(ip, port)
            .forward(self.forward)
            .upper_threshold(self.upper_threshold)
            .lower_threshold(self.lower_threshold);
        if let Some(w) = self.weight {
            b = b.weight(w);
        }
        Ok(b.build_unvalidated())
    }
}

impl<'de> Deserialize<'de> for Destination {
    /// Refuses unknown fields and what
    /// [`DestinationBuilder::build`](super::DestinationBuilder::build) refuses, naming the
    /// destination. A bare address has port 0 (inside a [`ServiceEntry`], the service's).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let dest = DestinationIn::deserialize(d)?
            .resolve(0)
            .map_err(de::Error::custom)?;
        dest.validate().map_err(|e| {
            de::Error::custom(format_args!("destination {}: {e}", dest.socket_addr()))
        })?;
        Ok(dest)
    }
}

// ---- Entries ----

struct DestinationsOut<'a>(&'a [Destination], bool);

impl Serialize for DestinationsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|d| DestinationOut::new(d, self.1)))
    }
}

impl Serialize for ServiceEntry {
    /// The configuration only: `{"service": ..., "destinations": [...]}`; a destination of
    /// port 0 is a bare address under a firewall-mark service, `ADDR:0` under another.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("service", &self.service)?;
        m.serialize_entry(
            "destinations",
            &DestinationsOut(&self.destinations, self.service.id.is_fwmark()),
        )?;
        m.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    service: Service,
    #[serde(default)]
    destinations: Vec<DestinationIn>,
}

impl<'de> Deserialize<'de> for ServiceEntry {
    /// Refuses unknown fields, what the builders refuse and a destination given twice,
    /// naming the service and destination ([`ServiceEntry::validate`]). A destination's bare
    /// address takes the service's port (as ipvsadm's `-r ADDR`), 0 under a firewall mark.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let input = EntryIn::deserialize(d)?;
        let service = input.service;
        let port = service.id.addr().map_or(0, |a| a.port());
        let destinations = input
            .destinations
            .into_iter()
            .map(|d| d.resolve(port))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| de::Error::custom(format_args!("service {}: {e}", service.id)))?;
        let entry = ServiceEntry {
            service,
            destinations,
        };
        entry.validate().map_err(de::Error::custom)?;
        Ok(entry)
    }
}

/// `skip_serializing_if` helpers.
fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

pub(crate) fn default_timeout() -> u32 {
    Persistence::DEFAULT_TIMEOUT
}

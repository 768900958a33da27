//! Decoding any bytes as an IPVS message (or a whole netlink frame) returns Ok or Err and
//! never panics; whatever decodes is read back through every model conversion and re-emitted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs::wire::{self, IpvsMessage, ServiceAttr};
use lvs::AddressFamily;

fuzz_target!(|data: &[u8]| {
    let Some((&cmd, rest)) = data.split_first() else {
        return;
    };
    if let Ok(msg) = IpvsMessage::decode(cmd, rest) {
        let _ = msg.service();
        let _ = msg.destination(AddressFamily::Inet);
        let _ = msg.destination(AddressFamily::Inet6);
        let _ = msg.daemon();
        let _ = msg.timeouts();
        let _ = msg.info();
        let _ = msg.service_attrs().map(ServiceAttr::to_id);
        let _ = wire::frame_request(msg, 0x20, 1, false);
    }
    let _ = wire::parse_netlink(data);
});

//! Encode and decode costs of the wire layer: a service request, a destination request, and
//! a kernel-style service reply with stats.

// criterion_group! makes a `pub fn` without docs.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lvs::wire::{IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr, StatsAttr};
use lvs::{Destination, Scheduler, Service, Stats};
use netlink_packet_core::Emitable;

fn bytes(msg: &IpvsMessage) -> Vec<u8> {
    let mut buf = vec![0; msg.buffer_len()];
    msg.emit(&mut buf);
    buf
}

fn codec(c: &mut Criterion) {
    let svc = Service::tcp("10.0.0.1:80".parse().unwrap())
        .scheduler(Scheduler::Wrr)
        .persistent(300)
        .build()
        .unwrap();
    let dest = Destination::builder("10.0.0.2:80".parse().unwrap())
        .masquerade()
        .weight(5)
        .build()
        .unwrap();
    let mut reply_attrs = ServiceAttr::from_service(&svc);
    reply_attrs.push(ServiceAttr::Stats(StatsAttr::from_stats(&Stats::default())));
    reply_attrs.push(ServiceAttr::Stats64(StatsAttr::from_stats(
        &Stats::default(),
    )));
    let mut reply = IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(reply_attrs)]);
    reply.nested_flag = false;
    let reply_bytes = bytes(&reply);

    c.bench_function("encode NEW_SERVICE", |b| {
        b.iter(|| bytes(&IpvsMessage::new_service(black_box(&svc))))
    });
    c.bench_function("encode NEW_DEST", |b| {
        b.iter(|| bytes(&IpvsMessage::new_dest(black_box(&svc.id), black_box(&dest))))
    });
    c.bench_function("decode service reply to model", |b| {
        b.iter(|| {
            IpvsMessage::decode(1, black_box(&reply_bytes))
                .unwrap()
                .service()
                .unwrap()
        })
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);

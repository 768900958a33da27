//! Table-scale costs on the host: reading dump replies (fast path against the full decoder),
//! planning a reconcile of a 10,000 x 4 table, and applying a table to the mock backend.

// criterion_group! makes a `pub fn` without docs.
#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use lvs::client::{plan, Op, ReconcileOptions};
use lvs::transport::MockKernel;
use lvs::wire::{
    decode_destination_reply, decode_service_reply, DestAttr, IpvsAttr, IpvsCmd, IpvsMessage,
    ServiceAttr, StatsAttr,
};
use lvs::{AddressFamily, Destination, Ipvs, Scheduler, Service, ServiceEntry, Stats};
use netlink_packet_core::Emitable;

fn service(i: u32) -> Service {
    let ip = Ipv4Addr::from(0x0a00_0000 + i + 1);
    Service::tcp(SocketAddr::new(IpAddr::V4(ip), 80))
        .scheduler(Scheduler::Wrr)
        .build()
        .unwrap()
}

fn destination(j: u32) -> Destination {
    let ip = Ipv4Addr::from(0xac10_0000 + j + 1);
    Destination::builder(SocketAddr::new(IpAddr::V4(ip), 8080))
        .masquerade()
        .weight(j % 10 + 1)
        .build()
        .unwrap()
}

fn table(services: u32, dests: u32) -> Vec<ServiceEntry> {
    (0..services)
        .map(|i| ServiceEntry {
            service: service(i),
            destinations: (0..dests).map(destination).collect(),
        })
        .collect()
}

fn bytes(msg: &IpvsMessage) -> Vec<u8> {
    let mut buf = vec![0; msg.buffer_len()];
    msg.emit(&mut buf);
    buf
}

fn decoding(c: &mut Criterion) {
    let svc = service(1);
    let mut sattrs = ServiceAttr::from_service(&svc);
    sattrs.push(ServiceAttr::Stats(StatsAttr::from_stats(&Stats::default())));
    sattrs.push(ServiceAttr::Stats64(StatsAttr::from_stats(
        &Stats::default(),
    )));
    let mut smsg = IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(sattrs)]);
    smsg.nested_flag = false;
    let sbytes = bytes(&smsg);
    let mut dattrs = DestAttr::from_destination(&destination(1));
    dattrs.extend([
        DestAttr::ActiveConns(0),
        DestAttr::InactConns(0),
        DestAttr::PersistConns(0),
        DestAttr::Stats(StatsAttr::from_stats(&Stats::default())),
        DestAttr::Stats64(StatsAttr::from_stats(&Stats::default())),
    ]);
    let mut dmsg = IpvsMessage::new(IpvsCmd::NewDest, vec![IpvsAttr::Dest(dattrs)]);
    dmsg.nested_flag = false;
    let dbytes = bytes(&dmsg);

    c.bench_function("service reply: fast decode", |b| {
        b.iter(|| decode_service_reply(black_box(&sbytes)).unwrap())
    });
    c.bench_function("service reply: full decode", |b| {
        b.iter(|| {
            IpvsMessage::decode(IpvsCmd::NewService.into(), black_box(&sbytes))
                .unwrap()
                .service()
                .unwrap()
        })
    });
    c.bench_function("destination reply: fast decode", |b| {
        b.iter(|| decode_destination_reply(black_box(&dbytes), AddressFamily::Inet).unwrap())
    });
    c.bench_function("destination reply: full decode", |b| {
        b.iter(|| {
            IpvsMessage::decode(IpvsCmd::NewDest.into(), black_box(&dbytes))
                .unwrap()
                .destination(AddressFamily::Inet)
                .unwrap()
        })
    });
}

fn reconcile(c: &mut Criterion) {
    let current = table(10_000, 4);
    let same = current.clone();
    let mut changed = current.clone();
    for e in changed.iter_mut().step_by(100) {
        e.destinations[0].weight += 1;
        e.destinations.pop();
    }
    c.bench_function("plan 10k x 4: unchanged", |b| {
        b.iter(|| {
            plan(
                black_box(&current),
                black_box(&same),
                &ReconcileOptions::exact(),
            )
        })
    });
    c.bench_function("plan 10k x 4: 1% of services changed", |b| {
        b.iter(|| {
            plan(
                black_box(&current),
                black_box(&changed),
                &ReconcileOptions::exact(),
            )
        })
    });
}

fn mock_apply(c: &mut Criterion) {
    let ops: Vec<Op> = table(1_000, 4)
        .into_iter()
        .flat_map(|e| {
            let id = e.service.id;
            std::iter::once(Op::AddService(e.service)).chain(
                e.destinations
                    .into_iter()
                    .map(move |d| Op::AddDestination(id, d)),
            )
        })
        .collect();
    c.bench_function("mock: apply 1k x 4 (5000 operations)", |b| {
        b.iter_batched(
            || Ipvs::with_transport(MockKernel::new()),
            |mut ipvs| ipvs.apply(&ops).unwrap(),
            BatchSize::LargeInput,
        )
    });
}

fn text(c: &mut Criterion) {
    let t = table(10_000, 4);
    let rules = lvs::text::save(&t, true);
    c.bench_function("text: save (-S -n) 10k x 4", |b| {
        b.iter(|| lvs::text::save(black_box(&t), true))
    });
    c.bench_function("text: listing (-L -n) 10k x 4", |b| {
        b.iter(|| lvs::text::listing(black_box(&t), &lvs::text::ListOptions::numeric()))
    });
    c.bench_function("text: parse_rules (-R) 10k x 4", |b| {
        b.iter(|| lvs::text::parse_rules(black_box(&rules), &lvs::text::NoNames).unwrap())
    });
    c.bench_function("text: rules (-R, streamed, counted) 10k x 4", |b| {
        b.iter(|| {
            lvs::text::rules(black_box(&rules), &lvs::text::NoNames)
                .map(|r| r.map(|r| black_box(r.command)))
                .filter(Result::is_ok)
                .count()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = decoding, reconcile, mock_apply, text
}
criterion_main!(benches);

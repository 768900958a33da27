//! Socket-level faults of the async transport (`TokioTransport`), as `faults` has them for
//! the blocking one: after ENOBUFS the socket is drained (the same recovery as the blocking
//! transport's), so the next requests get their own answers at once and an applied write is
//! reported as applied, not as a timeout.

use std::time::{Duration, Instant};

use lvs::client::Op;
use lvs::transport::{AsyncTransport, RequestKind, TokioTransport};
use lvs::wire::IpvsMessage;
use lvs::{Error, Service, ServiceId};

use crate::common::{sa, Netns};

fn svc(i: u32) -> Service {
    Service::tcp(sa(&format!("10.12.0.{}:80", i + 1)))
        .build()
        .unwrap()
}

/// GET_SERVICE replies in one batch outgrow the smallest receive buffer: ENOBUFS, as a
/// typed error; then the handle works at once, every answer the right one, and a write is
/// acknowledged (before the drain, the kernel dropped everything for the congested socket
/// and the write, applied, timed out).
#[test]
fn enobufs_is_a_typed_error_and_the_async_transport_recovers() {
    let ns = Netns::new("async-enobufs");
    let ops: Vec<Op> = (0..64).map(|i| Op::AddService(svc(i))).collect();
    assert_eq!(ns.ipvs().apply(&ops).unwrap().applied(), 64);
    let ids: Vec<ServiceId> = (0..64).map(|i| svc(i).id).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut t = TokioTransport::builder()
            .netns_name(ns.name())
            .receive_buffer(0)
            .timeout(Duration::from_secs(2))
            .open()
            .await
            .expect("open the async transport");
        let gets: Vec<IpvsMessage> = ids.iter().map(IpvsMessage::get_service).collect();
        match t.request_batch(&gets).await {
            Err(Error::Protocol { reason, .. }) => assert!(reason.contains("ENOBUFS"), "{reason}"),
            other => panic!("expected an ENOBUFS error, got {other:?}"),
        }
        let start = Instant::now();
        let added = svc(100);
        let r = t
            .request(&IpvsMessage::new_service(&added), RequestKind::Do)
            .await;
        assert!(r.unwrap().is_empty(), "the write is acknowledged");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        let got = t
            .request(&IpvsMessage::get_service(&ids[5]), RequestKind::Do)
            .await
            .unwrap();
        assert_eq!(got[0].service().unwrap().id, ids[5]);
        let info = t
            .request(&IpvsMessage::get_info(), RequestKind::Do)
            .await
            .unwrap();
        assert!(info[0].info().unwrap().conn_table_size > 0);
    });
    assert_eq!(ns.save().len(), 65);
}

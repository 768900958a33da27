//! The async handle behind a blocking face, so the whole suite runs against `AsyncIpvs`
//! when built with `--cfg lvs_kernel_tests_async` (see `common::Handle`). Each handle has
//! its own current-thread tokio runtime; every method is the async handle's, awaited.

use std::net::SocketAddr;

use lvs::client::{BatchOutcome, Op, ReconcileOptions, ReconcileReport};
use lvs::transport::{AsyncTransport, RequestKind, TokioTransport};
use lvs::wire::IpvsMessage;
use lvs::{
    AsyncIpvs, Daemon, DaemonState, Destination, Info, Result, Service, ServiceEntry, ServiceId,
    Timeouts,
};

/// `AsyncIpvs<TokioTransport>` with a runtime to wait on it.
pub struct BlockOn {
    rt: tokio::runtime::Runtime,
    inner: AsyncIpvs<TokioTransport>,
}

/// Forward blocking methods to the async handle's methods of the same name.
macro_rules! forward {
    ($( fn $name:ident(&mut self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        $(
            pub fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                self.rt.block_on(self.inner.$name($($arg),*))
            }
        )*
    };
}

impl BlockOn {
    /// A handle on the namespace `name`, through the async transport.
    pub fn in_netns(name: &str) -> Result<BlockOn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let inner = rt.block_on(AsyncIpvs::in_netns(name))?;
        Ok(BlockOn { rt, inner })
    }

    /// A raw request through the async transport.
    pub fn raw(&mut self, msg: &IpvsMessage, kind: RequestKind) -> Result<Vec<IpvsMessage>> {
        self.rt.block_on(self.inner.transport().request(msg, kind))
    }

    pub fn for_each_entry<F>(&mut self, f: F) -> Result<()>
    where
        F: FnMut(ServiceEntry) -> Result<()> + Send,
    {
        self.rt.block_on(self.inner.for_each_entry(f))
    }

    forward! {
        fn capabilities(&mut self) -> Result<lvs::Capabilities>;
        fn add_service(&mut self, svc: &Service) -> Result<()>;
        fn update_service(&mut self, svc: &Service) -> Result<()>;
        fn delete_service(&mut self, id: &ServiceId) -> Result<()>;
        fn get_service(&mut self, id: &ServiceId) -> Result<Service>;
        fn services(&mut self) -> Result<Vec<Service>>;
        fn add_destination(&mut self, id: &ServiceId, d: &Destination) -> Result<()>;
        fn update_destination(&mut self, id: &ServiceId, d: &Destination) -> Result<()>;
        fn delete_destination(&mut self, id: &ServiceId, addr: SocketAddr) -> Result<()>;
        fn destinations(&mut self, id: &ServiceId) -> Result<Vec<Destination>>;
        fn table(&mut self) -> Result<Vec<ServiceEntry>>;
        fn flush(&mut self) -> Result<()>;
        fn zero_all(&mut self) -> Result<()>;
        fn zero_service(&mut self, id: &ServiceId) -> Result<()>;
        fn timeouts(&mut self) -> Result<Timeouts>;
        fn set_timeouts(&mut self, t: &Timeouts) -> Result<()>;
        fn info(&mut self) -> Result<Info>;
        fn start_daemon(&mut self, d: &Daemon) -> Result<()>;
        fn stop_daemon(&mut self, state: DaemonState) -> Result<()>;
        fn daemons(&mut self) -> Result<Vec<Daemon>>;
        fn apply(&mut self, ops: &[Op]) -> Result<BatchOutcome>;
        fn apply_or_roll_back(&mut self, ops: &[Op]) -> Result<usize>;
        fn reconcile(&mut self, desired: &[ServiceEntry], opts: &ReconcileOptions) -> Result<ReconcileReport>;
    }
}

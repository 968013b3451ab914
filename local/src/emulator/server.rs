//! The HTTP server: one port for the WebSocket endpoint and the Management API.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use switchboard::clock::SharedClock;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::gateway::{EmulatorConfig, Gateway};
use super::routes::RouteTable;
use super::{handshake, management};

/// An API Gateway WebSocket API with one stage, not yet listening.
pub struct Emulator {
    gateway: Arc<Gateway>,
    extra: Router,
}

/// A listening emulator. Dropping it leaves the server running until the runtime ends;
/// call [`RunningEmulator::stop`] to close connections and stop cleanly.
pub struct RunningEmulator {
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
}

impl Emulator {
    /// An emulator routing to `routes`, reading time from `clock`.
    pub fn new(config: EmulatorConfig, routes: RouteTable, clock: SharedClock) -> Self {
        Self {
            gateway: Arc::new(Gateway::new(config, routes, clock)),
            extra: Router::new(),
        }
    }

    /// Serves `routes` on the same port beside the stage, such as the SQS endpoint. They
    /// must not use the stage's paths.
    pub fn with_routes(mut self, routes: Router) -> Self {
        self.extra = self.extra.merge(routes);
        self
    }

    /// The axum router: `GET /{stage}` upgrades, `/{stage}/@connections/{id}` manages.
    pub fn router(&self) -> Router {
        let stage = &self.gateway.config.stage;
        Router::new()
            .route(
                &format!("/{stage}"),
                get(handshake::accept).fallback(management::forbidden),
            )
            .route(
                &format!("/{stage}/@connections/{{id}}"),
                get(management::get)
                    .post(management::post)
                    .delete(management::delete)
                    .fallback(management::forbidden),
            )
            .fallback(management::forbidden)
            .with_state(Arc::clone(&self.gateway))
    }

    /// Serves on `listener` in a background task.
    pub fn serve(mut self, listener: TcpListener) -> io::Result<RunningEmulator> {
        let addr = listener.local_addr()?;
        let router = self.router().merge(std::mem::take(&mut self.extra));
        let (stop, stopped) = oneshot::channel::<()>();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, stage = %self.gateway.config.stage, "emulator listening");
        Ok(RunningEmulator {
            addr,
            gateway: self.gateway,
            stop: Some(stop),
            server,
        })
    }
}

impl RunningEmulator {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://{addr}/{stage}`: where clients connect.
    pub fn websocket_url(&self) -> String {
        format!("ws://{}/{}", self.addr, self.gateway.config.stage)
    }

    /// `http://{addr}/{stage}`: the Management API base, as `WEBSOCKET_ENDPOINT` expects.
    pub fn management_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.gateway.config.stage)
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.gateway.registry.count()
    }

    /// Ids of the open connections, in no particular order.
    pub fn connection_ids(&self) -> Vec<String> {
        self.gateway.registry.ids()
    }

    /// Refuses new connections, closes every open one with 1001, and waits until each has
    /// run `$disconnect` and every in-flight invocation has finished. The Management API
    /// keeps answering meanwhile, so a worker still draining sees `410 Gone`.
    pub async fn close_connections(&self) {
        self.gateway.begin_shutdown();
        self.gateway.tasks.wait().await;
    }

    /// Closes every connection, then stops the HTTP server.
    pub async fn stop(mut self) {
        self.close_connections().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "emulator server failed"),
            Err(e) => tracing::error!(error = %e, "emulator server task failed"),
        }
    }
}

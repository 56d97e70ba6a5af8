// The floor of a Rust proxy, for the proxy benchmark (proxy.ts, target rust-hyper): hyper's
// HTTP/1.1 server forwarding every request to the endpoint through hyper-util's client and
// its keep-alive pool, on one thread (as nginx's one worker and the Node proxies), with no
// authentication, no header rules and no log. It answers whether a data path in Rust would
// be of nginx's class here, before any rule of its own. Usage: floor-rust PORT ENDPOINT_URL
// (http://host:port); prints {"ready":true}.
use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: floor-rust PORT ENDPOINT_URL");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT: a port number");
    let endpoint: Uri = args[2].parse().expect("ENDPOINT_URL: an http:// URL");
    let authority = endpoint.authority().expect("ENDPOINT_URL: host and port").clone();

    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    // as the gateway's and nginx's: 64 keep-alive connections to the endpoint
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector);

    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("listen");
    println!("{{\"ready\":true}}");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        let authority = authority.clone();
        tokio::spawn(async move {
            let service = service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                let mut parts = req.uri().clone().into_parts();
                parts.scheme = Some(hyper::http::uri::Scheme::HTTP);
                parts.authority = Some(authority.clone());
                *req.uri_mut() = Uri::from_parts(parts).expect("the request's path");
                async move { client.request(req).await }
            });
            // a client that goes away mid-request is not this floor's concern
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

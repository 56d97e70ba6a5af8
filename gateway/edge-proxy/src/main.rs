// floe-edge: the Floe gateway's session edge (FLOE_GATEWAY_EDGE=floe-edge), the same design
// as the HAProxy edge (gateway/src/edge/): it holds the users' port and takes an owner's GET
// of their session's own path straight to the session once the gateway has let that
// cookie, host and session through (an entry of its map, keyed by the cookie's SHA-256);
// everything else goes to the gateway on its private Unix socket. The gateway decides and
// keeps the map (edge.ts), over the same runtime API commands as HAProxy's: `add map`,
// `del map`, `show stat`, `show info`. The answer rules are answer.ts's (answer.rs).
// Usage: floe-edge CONFIG.json (edge-config.ts writes it).
mod answer;

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, HOST};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener, UnixStream};

use answer::Rules;

// glibc's malloc spent 5 % of the edge's CPU here, trimming and consolidating its heap
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Body = Either<Incoming, Full<Bytes>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Config {
    host: String,
    port: u16,
    gateway_socket: String,
    admin_socket: String,
    cookie_name: String,
    edge_client_header: String,
    security: Vec<(String, String)>,
    refused_body: String,
    bad_gateway_body: String,
    access_log: bool,
    session_url: String,
    dot_segment: String,
    own_paths: Vec<String>,
    own_prefixes: Vec<String>,
    passive_types: Vec<String>,
    passive_families: Vec<String>,
    plain_headers: Vec<String>,
    gateway_x_headers: Vec<String>,
}

/** Where a map entry sends its requests: the session's address, path prefix and Host. */
struct Destination {
    authority: String,
    prefix: String,
    host: HeaderValue,
}

struct Edge {
    rules: Rules,
    cookie_name: String,
    edge_client: HeaderName,
    gateway_socket: String,
    refused_body: Bytes,
    bad_gateway_body: Bytes,
    /** access log lines not yet written: written at 4 KiB, each second and at SIGTERM */
    access_log: Option<Mutex<Vec<u8>>>,
    map: RwLock<HashMap<String, Arc<Destination>>>,
    sessions: Client<HttpConnector, Incoming>,
    served: AtomicU64,
    /** answers sent for sessions, by class: 1xx … 5xx, other */
    answers: [AtomicU64; 6],
    to_gateway: AtomicU64,
}

/**
 * Each direction of a WebSocket copies through a buffer of this size, held as long as the
 * WebSocket is open: tokio's default, 8 KiB, made 27.5 KiB a WebSocket with the gateway's
 * share (the aim is under 20); signalling messages are a few hundred bytes.
 */
const WEBSOCKET_BUFFER: usize = 2048;

/** The access log's batch: lines are written 4 KiB at a time (or each second). */
const LOG_BATCH: usize = 4096;

/** Never to the session (forward.ts's DROPPED_REQUEST): credentials, hop-by-hop, X-Forwarded. */
const DROPPED_REQUEST: [&str; 17] = [
    "cookie",
    "authorization",
    "proxy-authorization",
    "x-csrf-token",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-forwarded-for",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-host",
];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| fail("usage: floe-edge CONFIG.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let config: Config =
        serde_json::from_str(&text).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let edge = Arc::new(Edge::new(&config));

    let admin = UnixListener::bind(&config.admin_socket)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", config.admin_socket)));
    let users = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .unwrap_or_else(|e| fail(&format!("{}:{}: {e}", config.host, config.port)));
    tokio::spawn(serve_admin(admin, edge.clone()));
    let flusher = edge.clone();
    tokio::spawn(async move {
        let mut each_second = tokio::time::interval(Duration::from_secs(1));
        loop {
            each_second.tick().await;
            flusher.flush_log();
        }
    });
    let stopper = edge.clone();
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        term.recv().await;
        stopper.flush_log();
        std::process::exit(0);
    });
    loop {
        let Ok((stream, peer)) = users.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let edge = edge.clone();
        // written into each request's X-Forwarded-For and log line: once a connection
        let client = HeaderValue::try_from(peer.ip().to_string()).expect("an address");
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let edge = edge.clone();
                let client = client.clone();
                async move { Ok::<_, std::convert::Infallible>(edge.handle(req, client).await) }
            });
            // a browser that goes away mid-request ends only its own connection
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn fail(message: &str) -> ! {
    eprintln!("[ALERT] floe-edge: {message}");
    std::process::exit(1);
}

impl Edge {
    fn new(c: &Config) -> Edge {
        let pattern =
            |p: &str| Regex::new(p).unwrap_or_else(|e| fail(&format!("pattern {p}: {e}")));
        let header = |(name, value): &(String, String)| match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(n), Ok(v)) => (n, v),
            _ => fail(&format!("header {name}")),
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Edge {
            rules: Rules {
                session_url: pattern(&c.session_url),
                dot_segment: pattern(&c.dot_segment),
                own_paths: c.own_paths.clone(),
                own_prefixes: c.own_prefixes.clone(),
                passive_types: c.passive_types.clone(),
                passive_families: c.passive_families.clone(),
                plain_headers: c.plain_headers.clone(),
                gateway_x_headers: c.gateway_x_headers.clone(),
                security: c.security.iter().map(header).collect(),
            },
            cookie_name: c.cookie_name.clone(),
            edge_client: HeaderName::try_from(c.edge_client_header.as_str())
                .unwrap_or_else(|_| fail("edgeClientHeader")),
            gateway_socket: c.gateway_socket.clone(),
            refused_body: Bytes::from(c.refused_body.clone()),
            bad_gateway_body: Bytes::from(c.bad_gateway_body.clone()),
            access_log: c
                .access_log
                .then(|| Mutex::new(Vec::with_capacity(2 * LOG_BATCH))),
            map: RwLock::new(HashMap::new()),
            // idle connections to sessions kept a minute, and as many as were needed at once:
            // with 64 at most (nginx's keepalive in the benchmark), a burst above 64 in flight
            // opened connections that were closed again, about 100 a second at 2,900 req/s
            sessions: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(1024)
                .build(connector),
            served: AtomicU64::new(0),
            answers: Default::default(),
            to_gateway: AtomicU64::new(0),
        }
    }

    /** `client`: the browser's address, as text */
    async fn handle(&self, req: Request<Incoming>, client: HeaderValue) -> Response<Body> {
        let started = std::time::Instant::now();
        let method = req.method().clone();
        let uri = req.uri().clone();
        let path = uri.path_and_query().map_or("", |p| p.as_str());
        let (res, via) = match self.destination(&req) {
            Some((destination, rest)) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                let res = self
                    .to_session(req, &destination, &rest, path, &client)
                    .await;
                let class = (res.status().as_u16() / 100) as usize;
                self.answers[if (1..=5).contains(&class) {
                    class - 1
                } else {
                    5
                }]
                .fetch_add(1, Ordering::Relaxed);
                (res, "sessions")
            }
            None => {
                self.to_gateway.fetch_add(1, Ordering::Relaxed);
                (self.to_gateway(req, client.clone()).await, "gateway")
            }
        };
        if let Some(buffer) = &self.access_log {
            let us = started.elapsed().as_micros();
            let mut buffer = buffer.lock().expect("the log");
            buffer.extend_from_slice(client.as_bytes());
            let _ = writeln!(
                buffer,
                " {via} \"{method} {path}\" {} {}.{:02}ms",
                res.status().as_u16(),
                us / 1000,
                us % 1000 / 10
            );
            if buffer.len() >= LOG_BATCH {
                let _ = std::io::stdout().lock().write_all(&buffer);
                buffer.clear();
            }
        }
        res
    }

    /** Writes what the access log holds: a write a batch, not a line (as the gateway's). */
    fn flush_log(&self) {
        if let Some(buffer) = &self.access_log {
            let mut buffer = buffer.lock().expect("the log");
            if !buffer.is_empty() {
                let _ = std::io::stdout().lock().write_all(&buffer);
                buffer.clear();
            }
        }
    }

    /** The map's entry for this request, if the fast path has let it through, and its rest. */
    fn destination(&self, req: &Request<Incoming>) -> Option<(Arc<Destination>, String)> {
        if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
            return None;
        }
        let headers = req.headers();
        let mut hosts = headers.get_all(HOST).iter();
        let (Some(host), None) = (hosts.next(), hosts.next()) else {
            return None;
        };
        if headers.contains_key(hyper::header::UPGRADE) {
            return None;
        }
        let target = self.rules.target(req.uri().path_and_query()?.as_str())?;
        let cookie = self.cookie(headers)?;
        let host = host.to_str().ok()?;
        let mut key = String::with_capacity(66 + host.len() + target.session.len());
        hex_upper(&Sha256::digest(cookie.as_bytes()), &mut key);
        key.push('|');
        key.extend(host.chars().map(|c| c.to_ascii_lowercase()));
        key.push('|');
        key.push_str(target.session);
        let destination = self.map.read().ok()?.get(&key)?.clone();
        Some((destination, target.rest.to_string()))
    }

    /** The value of the gateway's session cookie: the first of that name, as HAProxy's. */
    fn cookie<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        for value in headers.get_all(hyper::header::COOKIE) {
            for pair in value.to_str().ok()?.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    if name == self.cookie_name {
                        return Some(value);
                    }
                }
            }
        }
        None
    }

    async fn to_session(
        &self,
        req: Request<Incoming>,
        destination: &Destination,
        rest: &str,
        request_path: &str,
        client: &HeaderValue,
    ) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let Ok(uri) = format!(
            "http://{}{}{}",
            destination.authority, destination.prefix, rest
        )
        .parse::<Uri>() else {
            return self.error(&self.bad_gateway_body);
        };
        let mut out = Request::new(body);
        *out.method_mut() = parts.method;
        *out.uri_mut() = uri;
        let headers = out.headers_mut();
        headers.reserve(parts.headers.len() + 5);
        for (name, value) in &parts.headers {
            if !DROPPED_REQUEST.contains(&name.as_str()) && *name != self.edge_client {
                headers.append(name.clone(), value.clone());
            }
        }
        forwarded(headers, &parts.headers, client);
        headers.insert(HOST, destination.host.clone());
        let res = match self.sessions.request(out).await {
            Ok(res) => res,
            Err(_) => return self.error(&self.bad_gateway_body),
        };
        let (mut parts, body) = res.into_parts();
        match self
            .rules
            .answer(parts.status.as_u16(), &parts.headers, request_path)
        {
            Ok(headers) => {
                parts.headers = headers;
                Response::from_parts(parts, Either::Left(body))
            }
            Err(_) => self.error(&self.refused_body),
        }
    }

    /** A request the gateway answers, on its private socket, with the browser's address. */
    async fn to_gateway(&self, mut req: Request<Incoming>, client: HeaderValue) -> Response<Body> {
        req.headers_mut().insert(self.edge_client.clone(), client);
        let upgrade = req
            .headers()
            .contains_key(hyper::header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let Ok(stream) = UnixStream::connect(&self.gateway_socket).await else {
            return self.error(&self.bad_gateway_body);
        };
        let Ok((mut sender, connection)) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            return self.error(&self.bad_gateway_body);
        };
        tokio::spawn(connection.with_upgrades());
        let Ok(mut res) = sender.send_request(req).await else {
            return self.error(&self.bad_gateway_body);
        };
        if let (StatusCode::SWITCHING_PROTOCOLS, Some(browser)) = (res.status(), upgrade) {
            let gateway = hyper::upgrade::on(&mut res);
            tokio::spawn(async move {
                if let (Ok(browser), Ok(gateway)) = (browser.await, gateway.await) {
                    let _ = tokio::io::copy_bidirectional_with_sizes(
                        &mut TokioIo::new(browser),
                        &mut TokioIo::new(gateway),
                        WEBSOCKET_BUFFER,
                        WEBSOCKET_BUFFER,
                    )
                    .await;
                }
            });
        }
        res.map(Either::Left)
    }

    /** The gateway's 502, with its security headers. */
    fn error(&self, body: &Bytes) -> Response<Body> {
        let mut res = Response::new(Either::Right(Full::new(body.clone())));
        *res.status_mut() = StatusCode::BAD_GATEWAY;
        let headers = res.headers_mut();
        for (name, value) in &self.rules.security {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            hyper::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        res
    }

    /** One runtime API command, as HAProxy's: what edge.ts sends. */
    fn command(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["show", "info"] => "Name: floe-edge\n".to_string(),
            ["add", "map", _, key, value] => {
                let mut parts = value.splitn(4, '|');
                let (Some(ip), Some(port), Some(prefix), Some(host)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return "malformed value\n".to_string();
                };
                let Ok(host) = HeaderValue::try_from(host) else {
                    return "malformed host\n".to_string();
                };
                let authority = match ip.parse::<IpAddr>() {
                    Ok(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
                    _ => format!("{ip}:{port}"),
                };
                let destination = Destination {
                    authority,
                    prefix: prefix.to_string(),
                    host,
                };
                self.map
                    .write()
                    .expect("the map")
                    .insert(key.to_string(), Arc::new(destination));
                String::new()
            }
            ["del", "map", _, key] => {
                self.map.write().expect("the map").remove(*key);
                String::new()
            }
            ["show", "stat"] => {
                let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
                let classes: Vec<String> = self.answers.iter().map(|c| n(c).to_string()).collect();
                format!(
                    "# pxname,svname,stot,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other\n\
                     sessions,BACKEND,{},{}\ngateway,BACKEND,{},0,0,0,0,0,0\n",
                    n(&self.served),
                    classes.join(","),
                    n(&self.to_gateway)
                )
            }
            _ => format!("Unknown command: {line}\n"),
        }
    }
}

/** X-Forwarded-* as the gateway writes them (forward.ts): appended to what the browser sent. */
fn forwarded(out: &mut HeaderMap, browser: &HeaderMap, client: &HeaderValue) {
    const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
    const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    let text = |name: &HeaderName| {
        browser
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let appended = |before: &str, value: &str| -> Option<HeaderValue> {
        if before.is_empty() {
            HeaderValue::try_from(value).ok()
        } else {
            HeaderValue::try_from(format!("{before},{value}")).ok()
        }
    };
    let host = text(&HOST);
    let port = host
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("80");
    let forwarded_host = match text(&FORWARDED_HOST) {
        "" => host,
        sent => sent,
    };
    let client_for = match text(&FORWARDED_FOR) {
        "" => Some(client.clone()),
        before => appended(before, client.to_str().unwrap_or("")),
    };
    for (name, value) in [
        (FORWARDED_FOR, client_for),
        (FORWARDED_PORT, appended(text(&FORWARDED_PORT), port)),
        (FORWARDED_PROTO, appended(text(&FORWARDED_PROTO), "http")),
        (FORWARDED_HOST, HeaderValue::try_from(forwarded_host).ok()),
    ] {
        if let Some(value) = value {
            out.insert(name, value);
        }
    }
}

fn hex_upper(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
}

/** The runtime API: one connection, commands separated by `;` or lines, answered, closed. */
async fn serve_admin(listener: UnixListener, edge: Arc<Edge>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let edge = edge.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            if stream.read_to_string(&mut text).await.is_err() {
                return;
            }
            let answer: String = text
                .split(['\n', ';'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| edge.command(c))
                .collect();
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

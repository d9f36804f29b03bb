//! Every HTTP call to AWS goes through one client: connect and read timeouts inside the
//! command's deadline, connection failures named by their endpoint and never retried,
//! answers read up to a size limit, and a record of which endpoint is being waited on for
//! `--verbose` and for error messages. [`failure`] reads what went wrong.

pub mod failure;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::dns::SharedDnsResolver;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::sdk_config::SharedAsyncSleep;

use crate::log;
use crate::message::{self, chain, one_line, single_line};

/// What a user accepts waiting at a prompt before deciding something is wrong; the AWS
/// CLI's own defaults (60 s per read) are for batch jobs, not for an interactive kubectl.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP + TLS handshake with a reachable AWS endpoint takes well under a second; this is
/// the SDK's default (3.1 s) rounded, so a black-holed address cannot eat the deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Attempts per call, as the SDKs' standard retry mode: the first and two retries.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK's own read and operation timeouts only back up our deadline, which fires first
/// and can say what was pending; a timer in the same tick would otherwise win the race.
const BACKSTOP: Duration = Duration::from_secs(1);

/// The answers read here (STS, the SSO portal and SSO-OIDC, EKS DescribeCluster, container
/// and instance metadata credentials) are a few KB; 1 MiB is far above any of them and
/// bounds what an endpoint sending an endless body can make us hold.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Backoff before a retry is random up to `INITIAL_BACKOFF * 2^n`, capped: short enough
/// that all attempts fit inside the default deadline.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The time a command may spend talking to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Hard deadline for everything the command asks of the network and of
    /// `credential_process` together.
    pub total: Duration,
    /// Per connection attempt.
    pub connect: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(DEFAULT_TIMEOUT)
    }
}

impl Limits {
    /// Limits for a total deadline; the connect timeout never exceeds it.
    pub fn new(total: Duration) -> Self {
        Self {
            total,
            connect: CONNECT_TIMEOUT.min(total),
        }
    }

    /// Retries on throttling, 5xx and dropped connections (the SDK's standard classifiers;
    /// connection failures are taken out of that set by [`Network`]), with short backoff.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_initial_backoff(INITIAL_BACKOFF)
            .with_max_backoff(MAX_BACKOFF)
    }

    /// For SDK clients we build ourselves.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.total + BACKSTOP)
            .operation_timeout(self.total + BACKSTOP)
            .build()
    }
}

/// When a command must be done: `--timeout` after it started. Made once per command,
/// before anything that can wait (the cache lock, config files, credential_process, HTTP),
/// and shared by all of them.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    limits: Limits,
    at: Instant,
}

impl Deadline {
    /// Starts the clock now.
    pub fn start(limits: Limits) -> Self {
        Self {
            limits,
            at: Instant::now() + limits.total,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The time left, zero once it has passed.
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// One run's HTTP client, handed to every SDK client and credential provider.
#[derive(Clone)]
pub struct Network {
    limits: Limits,
    state: Arc<Mutex<State>>,
    connectors: Arc<Mutex<Vec<(Settings, SharedHttpConnector)>>>,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

type Settings = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct State {
    /// The command's deadline (shared by every clone; [`Network::restart`] moves it).
    deadline: tokio::time::Instant,
    /// What the command is doing, for the deadline message.
    step: Option<String>,
    /// Endpoints of requests sent and not yet answered, oldest first.
    in_flight: Vec<String>,
    /// The endpoint of the last request sent.
    last: Option<String>,
    /// How the last answered request ended (`answered HTTP 503`).
    last_outcome: Option<String>,
}

/// The deadline passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut {
    pub after: Duration,
    /// What the command was doing (`STS AssumeRole of …`).
    pub step: Option<String>,
    /// The endpoint that had not answered, if a request was out.
    pub waiting_for: Option<String>,
    /// Otherwise the last endpoint asked and how that ended (`http://… answered HTTP 503`):
    /// the deadline passed while retrying.
    pub last_answer: Option<String>,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let step = self.step.as_deref().unwrap_or("getting AWS credentials");
        let after = message::seconds(self.after);
        match (&self.waiting_for, &self.last_answer) {
            (Some(endpoint), _) => {
                write!(
                    f,
                    "timed out after {after}: {step}: no answer from {endpoint}"
                )
            }
            (None, Some(last)) => write!(f, "timed out after {after}: {step} (retrying: {last})"),
            (None, None) => write!(f, "timed out after {after}: {step}"),
        }
    }
}

impl std::error::Error for TimedOut {}

impl Network {
    pub fn new(deadline: Deadline) -> Self {
        Self {
            limits: deadline.limits,
            state: Arc::new(Mutex::new(State {
                deadline: deadline.at.into(),
                step: None,
                in_flight: Vec::new(),
                last: None,
                last_outcome: None,
            })),
            connectors: Arc::default(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The client to give the SDK.
    pub fn http_client(&self) -> SharedHttpClient {
        SharedHttpClient::new(self.clone())
    }

    /// Names what the command does next, for the deadline message and `--verbose`.
    pub fn step(&self, what: impl Into<String>) {
        let what = what.into();
        log::debug(format_args!("{what}"));
        self.lock().step = Some(what);
    }

    /// The endpoint of the last request sent.
    pub fn last_endpoint(&self) -> Option<String> {
        self.lock().last.clone()
    }

    /// Runs `work` within what is left of the command's deadline; once it has passed,
    /// `work` is not started (a timeout polls its future before its timer, and work that
    /// blocks, such as the SDK reading a config file, would then run to the end).
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T, TimedOut> {
        let deadline = self.lock().deadline;
        if tokio::time::Instant::now() >= deadline {
            return Err(self.timed_out());
        }
        tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| self.timed_out())
    }

    /// Starts the deadline again, as long as the first: for a run that waited on a
    /// person (a login) and goes on talking to AWS, and for each call of a login.
    pub fn restart(&self) -> Deadline {
        let deadline = Deadline::start(self.limits);
        self.lock().deadline = deadline.at.into();
        deadline
    }

    fn timed_out(&self) -> TimedOut {
        let state = self.lock();
        TimedOut {
            after: self.limits.total,
            step: state.step.clone(),
            waiting_for: state.in_flight.first().cloned(),
            last_answer: state
                .last
                .as_ref()
                .zip(state.last_outcome.as_ref())
                .map(|(endpoint, outcome)| format!("{endpoint} {outcome}")),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Our limits win over any longer ones a provider asks for (the container provider
    /// asks for 5 s reads, the SDK's STS client for none).
    fn settings(&self, asked: &HttpConnectorSettings) -> Settings {
        let cap =
            |asked: Option<Duration>, ours: Duration| Some(asked.map_or(ours, |a| a.min(ours)));
        (
            cap(asked.connect_timeout(), self.limits.connect),
            cap(asked.read_timeout(), self.limits.total + BACKSTOP),
        )
    }
}

impl HttpClient for Network {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = self.settings(settings);
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, c)) = connectors.iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let inner = sdk_connector(key, components.sleep_impl(), None, None);
        let connector = SharedHttpConnector::new(Recording {
            inner: SharedHttpConnector::new(inner),
            state: self.state.clone(),
        });
        connectors.push((key, connector.clone()));
        connector
    }
}

/// An answer from a service that is not AWS ([`Network::send`]).
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why [`Network::send`] got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
    /// Unreachable, refused, a TLS certificate not trusted, a dropped connection, an
    /// answer too large.
    #[error("{0}")]
    Failed(String),
    /// A CA certificate given to trust is not PEM.
    #[error("the CA certificates given are not usable: {0}")]
    Trust(String),
}

impl Network {
    /// Sends `request` to a service that is not AWS (an OpenID provider) as AWS calls go:
    /// the same connect timeout, proxy settings, endpoint record and bounded answer,
    /// within the command's deadline, no retries. `trust` adds CA certificates (PEM) to
    /// the system's.
    pub async fn send(&self, request: HttpRequest, trust: &[Vec<u8>]) -> Result<Answer, SendError> {
        let mut store = tls::TrustStore::default();
        for pem in trust {
            store.add_pem_certificate(pem.clone());
        }
        let context = tls::TlsContext::builder()
            .with_trust_store(store)
            .build()
            .map_err(|e| SendError::Trust(one_line(&e)))?;
        let settings = (
            Some(self.limits.connect),
            Some(self.limits.total + BACKSTOP),
        );
        let connector = Recording {
            inner: SharedHttpConnector::new(sdk_connector(
                settings,
                aws_smithy_async::rt::sleep::default_async_sleep(),
                None,
                Some(context),
            )),
            state: self.state.clone(),
        };
        let endpoint = endpoint_of(request.uri());
        match self.within(connector.call(request)).await? {
            Ok(response) => Ok(Answer {
                status: response.status().as_u16(),
                body: response.body().bytes().unwrap_or_default().to_vec(),
            }),
            Err(e) => Err(SendError::Failed(why_unanswered(&e, &endpoint))),
        }
    }
}

/// Why `endpoint` gave no answer: what the connector said (no connection, an answer too
/// large), else a timeout, else the error itself.
fn why_unanswered(e: &ConnectorError, endpoint: &str) -> String {
    let said = chain(e).find_map(|e| {
        e.downcast_ref::<ConnectFailed>()
            .map(ToString::to_string)
            .or_else(|| e.downcast_ref::<TooLarge>().map(ToString::to_string))
    });
    match said {
        Some(why) => why,
        None if e.is_timeout() => format!("no answer from {endpoint}"),
        None => format!("{endpoint}: {}", one_line(e)),
    }
}

/// The SDK's HTTP client with our timeouts, the proxy settings of the environment and
/// rustls; `resolver` replaces the system's name lookup (for tests); `tls` replaces the
/// system's trust (for OpenID providers with their own CA).
fn sdk_connector(
    (connect, read): Settings,
    sleep: Option<SharedAsyncSleep>,
    resolver: Option<SharedDnsResolver>,
    tls: Option<tls::TlsContext>,
) -> aws_smithy_http_client::Connector {
    let mut asked = HttpConnectorSettings::builder();
    asked.set_connect_timeout(connect).set_read_timeout(read);
    let mut builder = aws_smithy_http_client::Connector::builder()
        .connector_settings(asked.build())
        .proxy_config(ProxyConfig::from_env());
    builder.set_sleep_impl(sleep);
    let mut builder = builder.tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    if let Some(context) = tls {
        builder = builder.tls_context(context);
    }
    match resolver {
        Some(resolver) => builder.build_with_resolver(resolver),
        None => builder.build(),
    }
}

#[derive(Debug)]
struct Recording {
    inner: SharedHttpConnector,
    state: Arc<Mutex<State>>,
}

impl HttpConnector for Recording {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let endpoint = endpoint_of(request.uri());
        let what = format!("{} {endpoint}{}", request.method(), path_of(request.uri()));
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.in_flight.push(endpoint.clone());
            state.last = Some(endpoint.clone());
        }
        let state = self.state.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let result = match response.await {
                Ok(r) => read_bounded(r, &endpoint).await,
                Err(e) => Err(not_connected(e, &endpoint)),
            };
            {
                let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(i) = state.in_flight.iter().position(|e| *e == endpoint) {
                    state.in_flight.remove(i);
                }
                state.last_outcome = Some(match &result {
                    Ok(r) => format!("answered HTTP {}", r.status().as_u16()),
                    Err(e) if e.is_timeout() => "did not answer in time".into(),
                    Err(e) if chain(e).any(|e| e.is::<ConnectFailed>()) => {
                        "could not be reached".into()
                    }
                    Err(e) if chain(e).any(|e| e.is::<TooLarge>()) => {
                        format!(
                            "sent an answer larger than {}",
                            message::size(MAX_ANSWER as u64)
                        )
                    }
                    Err(_) => "dropped the connection".into(),
                });
            }
            let ms = started.elapsed().as_millis();
            match &result {
                Ok(r) => log::debug(format_args!("http: {what} → {} ({ms} ms)", r.status())),
                Err(e) => log::debug(format_args!("http: {what} → {} ({ms} ms)", one_line(e))),
            }
            result
        })
    }
}

/// An answer larger than [`MAX_ANSWER`]: not one AWS sends, and not worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer from {endpoint} is larger than {}", message::size(MAX_ANSWER as u64))]
pub struct TooLarge {
    pub endpoint: String,
}

/// Reads the whole body, failing as soon as it passes [`MAX_ANSWER`] (at once when
/// `Content-Length` says it will). The SDK parses each of these answers whole anyway;
/// reading it here bounds it for every client and credential provider at once.
async fn read_bounded(
    mut response: HttpResponse,
    endpoint: &str,
) -> Result<HttpResponse, ConnectorError> {
    let too_large = || {
        let err = TooLarge {
            endpoint: endpoint.to_owned(),
        };
        ConnectorError::other(Box::new(err), None)
    };
    let declared = response
        .headers()
        .get("content-length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ANSWER as u64) {
        return Err(too_large());
    }
    let mut stream = ByteStream::new(response.take_body());
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        // Cut off mid-answer: the connection dropped, which is retried.
        let chunk = chunk.map_err(|e| ConnectorError::io(Box::new(e)))?;
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    *response.body_mut() = SdkBody::from(body);
    Ok(response)
}

/// A connection that could not be made: refused, unreachable, unresolvable, TLS handshake
/// failure or connect timeout. Retrying does not help, so it is not marked retryable.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {endpoint}: {why}")]
pub struct ConnectFailed {
    pub endpoint: String,
    pub why: String,
}

fn not_connected(err: ConnectorError, endpoint: &str) -> ConnectorError {
    let connect = chain(&err).find_map(|e| {
        e.downcast_ref::<hyper_util::client::legacy::Error>()
            .filter(|e| e.is_connect())
    });
    let Some(connect) = connect else {
        return err;
    };
    let why = connect_why(connect);
    ConnectorError::other(
        Box::new(ConnectFailed {
            endpoint: endpoint.to_owned(),
            why,
        }),
        None,
    )
    .never_connected()
}

/// The innermost cause, in words a user knows. The texts matched are hyper-util's
/// (`ConnectError::dns`) and aws-smithy-http-client's (`HttpTimeoutError`): the tests
/// build both through the real client.
fn connect_why(err: &(dyn std::error::Error + 'static)) -> String {
    for e in chain(err) {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".into(),
                HostUnreachable | NetworkUnreachable => return "network unreachable".into(),
                _ => {}
            }
        }
        let text = e.to_string();
        if text == "dns error" {
            return "the host name does not resolve".into();
        }
        if text.starts_with("HTTP connect timeout") {
            return text.replace(
                "HTTP connect timeout occurred after",
                "no connection within",
            );
        }
    }
    let innermost = chain(err).last().map(|e| e.to_string()).unwrap_or_default();
    single_line(&innermost)
}

/// `scheme://host[:port]`: enough to name the endpoint, nothing from path or query.
fn endpoint_of(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "an invalid URL".into(),
    }
}

fn path_of(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}

/// Runs `future` to completion on a current-thread runtime, then leaves the runtime's
/// blocking threads behind instead of joining them: a DNS lookup that hangs must not
/// hold the process past the deadline.
pub fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(future);
    runtime.shutdown_background();
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_scheme_host_and_port_only() {
        assert_eq!(
            endpoint_of("https://sts.eu-west-1.amazonaws.com/?Action=AssumeRole"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_of("http://127.0.0.1:8080/federation/credentials?role_name=x"),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn one_deadline_covers_every_step() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let deadline = Deadline::start(Limits::new(Duration::from_millis(600)));
        // Time spent before the network is set up (the cache lock) counts too.
        std::thread::sleep(Duration::from_millis(200));
        let network = Network::new(deadline);
        runtime.block_on(async {
            let nap = || tokio::time::sleep(Duration::from_millis(250));
            assert!(network.within(nap()).await.is_ok());
            network.step("second step");
            let late = network.within(nap()).await.unwrap_err();
            assert_eq!(late.step.as_deref(), Some("second step"));
            assert_eq!(late.after, Duration::from_millis(600));
            // Once it has passed, nothing more starts, not even work that is ready at once.
            network.step("third step");
            let never = network
                .within(async { panic!("started late") })
                .await
                .unwrap_err();
            assert_eq!(never.step.as_deref(), Some("third step"));
        });
        assert_eq!(deadline.left(), Duration::ZERO);
    }

    #[test]
    fn answers_are_read_up_to_one_mib() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let answer = |body: Vec<u8>, declared: Option<&'static str>| {
            let mut r = HttpResponse::new(200.try_into().unwrap(), SdkBody::from(body));
            if let Some(n) = declared {
                r.headers_mut().insert("content-length", n);
            }
            runtime.block_on(read_bounded(r, "http://127.0.0.1:9"))
        };
        let whole = answer(vec![b'x'; MAX_ANSWER], None).unwrap();
        assert_eq!(whole.body().bytes().map(<[u8]>::len), Some(MAX_ANSWER));
        for (body, declared) in [
            (vec![b'x'; MAX_ANSWER + 1], None),
            // A declared length past the limit fails before a byte is read.
            (Vec::new(), Some("1048577")),
        ] {
            let err = answer(body, declared).unwrap_err();
            // No retryable kind: the SDK's classifiers leave it alone.
            assert!(err.is_other() && err.as_other().is_none(), "{err:?}");
            assert_eq!(
                failure::classify(&err, None).to_string(),
                "the answer from http://127.0.0.1:9 is larger than 1 MiB"
            );
        }
    }

    /// Pins the words [`connect_why`] reads, from errors the SDK's own client makes.
    #[test]
    fn connect_failures_are_read_from_the_http_clients_own_words() {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

        #[derive(Debug)]
        struct Unknown;
        impl ResolveDns for Unknown {
            fn resolve_dns<'a>(&'a self, _: &'a str) -> DnsFuture<'a> {
                DnsFuture::ready(Err(ResolveDnsError::new("no such host")))
            }
        }
        #[derive(Debug)]
        struct Silent;
        impl ResolveDns for Silent {
            fn resolve_dns<'a>(&'a self, _: &'a str) -> DnsFuture<'a> {
                DnsFuture::new(std::future::pending())
            }
        }

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let why = |resolver: SharedDnsResolver| {
            let settings = (
                Some(Duration::from_millis(50)),
                Some(Duration::from_secs(5)),
            );
            let connector = sdk_connector(settings, None, Some(resolver), None);
            let request = HttpRequest::get("http://eks-token.invalid/").unwrap();
            let err = runtime
                .block_on(async { connector.call(request).await })
                .unwrap_err();
            let err = not_connected(err, "http://eks-token.invalid");
            let failed = chain(&err).find_map(|e| e.downcast_ref::<ConnectFailed>());
            failed.map(|f| f.why.clone())
        };
        assert_eq!(
            why(SharedDnsResolver::new(Unknown)).as_deref(),
            Some("the host name does not resolve")
        );
        assert_eq!(
            why(SharedDnsResolver::new(Silent)).as_deref(),
            Some("no connection within 50ms")
        );
    }

    #[test]
    fn connect_timeout_never_exceeds_the_deadline() {
        assert_eq!(
            Limits::new(Duration::from_secs(1)).connect,
            Duration::from_secs(1)
        );
        assert_eq!(Limits::default().connect, CONNECT_TIMEOUT);
    }

    #[test]
    fn deadline_messages_say_what_was_pending() {
        let t = |waiting_for: Option<&str>, last_answer: Option<&str>| TimedOut {
            after: Duration::from_secs(2),
            step: Some("STS AssumeRole of r".into()),
            waiting_for: waiting_for.map(Into::into),
            last_answer: last_answer.map(Into::into),
        };
        assert_eq!(
            t(Some("http://h:1"), None).to_string(),
            "timed out after 2s: STS AssumeRole of r: no answer from http://h:1"
        );
        assert_eq!(
            t(None, Some("http://h:1 answered HTTP 503")).to_string(),
            "timed out after 2s: STS AssumeRole of r (retrying: http://h:1 answered HTTP 503)"
        );
        assert_eq!(
            t(None, None).to_string(),
            "timed out after 2s: STS AssumeRole of r"
        );
    }
}

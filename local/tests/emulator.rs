//! The emulator on its own, behind a recording test integration, driven over real TCP.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use futures::SinkExt;
use serde_json::{Value, json};
use switchboard_local::emulator::routes::{CONNECT, DEFAULT, DISCONNECT};
use switchboard_local::emulator::{
    Emulator, EmulatorConfig, Integration, IntegrationError, IntegrationResponse, RouteTable,
    RunningEmulator, ThrottleConfig,
};
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use support::*;

/// Records every event; misbehaves on request: a `$connect` with `?status=N` answers N,
/// a message `panic` panics and a message `fail` fails.
struct Recorder {
    events: mpsc::UnboundedSender<Value>,
}

#[async_trait]
impl Integration for Recorder {
    async fn invoke(&self, event: Value) -> Result<IntegrationResponse, IntegrationError> {
        let _ = self.events.send(event.clone());
        let status = event["queryStringParameters"]["status"]
            .as_str()
            .and_then(|s| s.parse().ok());
        match event["body"].as_str() {
            Some("panic") => panic!("handler bug"),
            Some("fail") => Err(IntegrationError::Failed("function error".into())),
            _ => Ok(IntegrationResponse {
                status: status.unwrap_or(200),
                headers: Vec::new(),
                body: status.map(|_| "{\"message\":\"refused\"}".to_owned()),
            }),
        }
    }
}

struct Harness {
    emulator: RunningEmulator,
    events: Mutex<mpsc::UnboundedReceiver<Value>>,
}

impl Harness {
    async fn start(config: EmulatorConfig) -> Self {
        Self::with_routes(config, &[CONNECT, DISCONNECT, DEFAULT, "chat"]).await
    }

    async fn with_routes(config: EmulatorConfig, keys: &[&str]) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder: Arc<dyn Integration> = Arc::new(Recorder { events: tx });
        let routes = keys.iter().fold(RouteTable::new("action"), |table, key| {
            table.route(*key, Arc::clone(&recorder))
        });
        let emulator = Emulator::new(config, routes, switchboard::clock::system());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self {
            emulator: emulator.serve(listener).unwrap(),
            events: Mutex::new(rx),
        }
    }

    fn url(&self) -> String {
        self.emulator.websocket_url()
    }

    /// The next recorded event, checked to deserialise as the Lambda runtime would.
    async fn event(&self) -> Value {
        let event = tokio::time::timeout(PATIENCE, self.events.lock().await.recv())
            .await
            .expect("an event in time")
            .expect("recorder alive");
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(event.clone())
            .expect("event deserialises as ApiGatewayWebsocketProxyRequest");
        event
    }

    /// The connection id of the next event: the one a client just opened.
    async fn connection_id(&self) -> String {
        self.event().await["requestContext"]["connectionId"]
            .as_str()
            .expect("events name their connection")
            .to_owned()
    }

    /// The next event whose route key is `key`, skipping others.
    async fn event_for(&self, key: &str) -> Value {
        loop {
            let event = self.event().await;
            if event["requestContext"]["routeKey"] == key {
                return event;
            }
        }
    }

    fn http(&self, id: &str) -> String {
        format!("{}/@connections/{id}", self.emulator.management_url())
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn management_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Config, Region};
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(switchboard::aws::dummy_credentials())
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

#[tokio::test]
async fn events_match_api_gateway_shapes_and_fixtures() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&format!("{}?room=a%20b", harness.url())).await;

    let connect = harness.event().await;
    let expected = fixture("ws-connect.powertools-python.json");
    let context = &connect["requestContext"];
    assert_eq!(
        keys(&connect),
        &keys(&expected)
            | &BTreeSet::from([
                "queryStringParameters".into(),
                "multiValueQueryStringParameters".into()
            ])
    );
    assert_eq!(keys(context), keys(&expected["requestContext"]));
    assert_eq!(context["routeKey"], "$connect");
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["stage"], "dev");
    assert_eq!(context["messageDirection"], "IN");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["identity"]["userAgent"], "switchboard-tests/1");
    assert_eq!(connect["queryStringParameters"]["room"], "a b");
    assert_eq!(connect["headers"]["User-Agent"], "switchboard-tests/1");
    assert_eq!(connect["headers"]["X-Forwarded-For"], "127.0.0.1");
    assert!(connect["headers"].get("Connection").is_none());
    let id = context["connectionId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert!(id.ends_with('='));
    let connected_at = context["connectedAt"].as_i64().unwrap();

    send(&mut client, r#"{"action":"chat","text":"hi"}"#).await;
    let chat = harness.event().await;
    let expected = fixture("ws-custom-route-message.powertools-python.json");
    assert_eq!(keys(&chat), keys(&expected));
    assert_eq!(
        keys(&chat["requestContext"]),
        keys(&expected["requestContext"])
    );
    assert_eq!(chat["requestContext"]["routeKey"], "chat");
    assert_eq!(chat["body"], r#"{"action":"chat","text":"hi"}"#);

    send(&mut client, "{\r\n\t\"a\": 1\r\n}").await;
    let default = harness.event().await;
    assert_eq!(
        keys(&default),
        keys(&fixture("ws-default-message.aws-lambda-go.json"))
    );
    assert_eq!(default["requestContext"]["routeKey"], "$default");
    assert_eq!(default["requestContext"]["eventType"], "MESSAGE");
    assert_eq!(default["body"], "{\r\n\t\"a\": 1\r\n}");
    assert_ne!(
        default["requestContext"]["messageId"],
        chat["requestContext"]["messageId"]
    );
    for event in [&chat, &default] {
        assert_eq!(event["requestContext"]["connectedAt"], connected_at);
        assert_eq!(event["requestContext"]["connectionId"], id.as_str());
        assert!(
            event["requestContext"]["requestTimeEpoch"]
                .as_i64()
                .unwrap()
                >= connected_at
        );
    }

    close(&mut client).await;
    let disconnect = harness.event().await;
    let expected = fixture("ws-disconnect.1005.powertools-python.json");
    assert_eq!(keys(&disconnect), keys(&expected));
    assert_eq!(
        keys(&disconnect["requestContext"]),
        keys(&expected["requestContext"])
    );
    assert_eq!(keys(&disconnect["headers"]), keys(&expected["headers"]));
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1000);
    assert_eq!(disconnect["requestContext"]["disconnectReason"], "bye");
    assert_eq!(disconnect["requestContext"]["connectedAt"], connected_at);
}

#[tokio::test]
async fn connect_refusal_fails_the_handshake_with_its_status() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    assert_eq!(
        refused_status(&format!("{}?status=401", harness.url())).await,
        401
    );
    assert_eq!(
        harness.event().await["requestContext"]["routeKey"],
        "$connect"
    );
    assert_eq!(harness.emulator.open_connections(), 0);

    // The refused connection gets no $disconnect: the next event is the next connection's.
    let _client = connect(&harness.url()).await;
    let next = harness.event().await;
    assert_eq!(next["requestContext"]["routeKey"], "$connect");
    assert!(next["queryStringParameters"].is_null());
}

#[tokio::test]
async fn connection_ids_are_distinct() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut ids = BTreeSet::new();
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(connect(&harness.url()).await);
        let event = harness.event_for(CONNECT).await;
        ids.insert(
            event["requestContext"]["connectionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 20);
    assert_eq!(harness.emulator.open_connections(), 20);
}

#[tokio::test]
async fn handler_failure_or_panic_answers_internal_server_error_and_keeps_the_socket() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    let id = harness.event().await["requestContext"]["connectionId"].clone();

    for body in ["fail", "panic"] {
        send(&mut client, body).await;
        let frame = next_json(&mut client).await;
        assert_eq!(frame["message"], "Internal server error");
        assert_eq!(frame["connectionId"], id);
        assert_eq!(frame["requestId"].as_str().unwrap().len(), 12);
    }
    send(&mut client, "fine").await;
    loop {
        let event = harness.event_for(DEFAULT).await;
        if event["body"] == "fine" {
            break;
        }
    }
    assert_eq!(harness.emulator.open_connections(), 1);
}

#[tokio::test]
async fn frame_over_32_kb_closes_with_1009_and_runs_disconnect() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;

    send(&mut client, &"x".repeat(32 * 1024 + 1)).await;
    assert_eq!(close_code(&mut client).await, 1009);
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1009);
}

#[tokio::test]
async fn frame_of_exactly_32_kb_is_delivered() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;

    send(&mut client, &"x".repeat(32 * 1024)).await;
    let event = harness.event_for(DEFAULT).await;
    assert_eq!(event["body"].as_str().unwrap().len(), 32 * 1024);
}

#[tokio::test]
async fn fragmented_message_over_128_kb_closes_with_1009() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;

    let chunk = vec![b'x'; 30 * 1024];
    for index in 0..5 {
        let opcode = if index == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(chunk.clone(), opcode, index == 4);
        if client.send(Message::Frame(frame)).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut client).await, 1009);
}

#[tokio::test]
async fn protocol_violations_close_with_1002_and_bad_text_with_1007() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let cases = [
        (
            Frame::message(vec![1], OpCode::Data(Data::Reserved(3)), true),
            1002,
        ),
        (
            Frame::message(vec![b'x'], OpCode::Data(Data::Continue), true),
            1002,
        ),
        (
            Frame::message(vec![0xff, 0xfe], OpCode::Data(Data::Text), true),
            1007,
        ),
    ];
    for (frame, code) in cases {
        let mut client = connect(&harness.url()).await;
        harness.event_for(CONNECT).await;
        client.send(Message::Frame(frame)).await.unwrap();
        assert_eq!(close_code(&mut client).await, code);
        let disconnect = harness.event_for(DISCONNECT).await;
        assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], code);
    }
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;

    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut client).await, 1003);
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1003);
}

#[tokio::test]
async fn idle_connection_is_closed_with_1001_and_disconnected() {
    let config = EmulatorConfig {
        idle_timeout: Duration::from_millis(400),
        ..EmulatorConfig::default()
    };
    let harness = Harness::start(config).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;

    // Messages keep it alive past one idle period.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send(&mut client, "still here").await;
    }
    assert_eq!(harness.emulator.open_connections(), 1);
    assert_eq!(close_code(&mut client).await, 1001);
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1001);
    assert_eq!(harness.emulator.open_connections(), 0);
}

#[tokio::test]
async fn connection_is_closed_at_its_maximum_duration_despite_activity() {
    let config = EmulatorConfig {
        max_duration: Duration::from_millis(500),
        ..EmulatorConfig::default()
    };
    let harness = Harness::start(config).await;
    let mut client = connect(&harness.url()).await;
    harness.event().await;
    let started = tokio::time::Instant::now();
    let keep_busy = async {
        loop {
            send(&mut client, "busy").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(300), keep_busy).await;
    assert_eq!(close_code(&mut client).await, 1001);
    assert!(started.elapsed() >= Duration::from_millis(450));
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(
        disconnect["requestContext"]["disconnectReason"],
        "Going away"
    );
}

#[tokio::test]
async fn stage_throttle_refuses_messages_with_a_frame_and_connects_with_429() {
    let config = EmulatorConfig {
        throttle: ThrottleConfig {
            rate: 0.001,
            burst: 2,
        },
        ..EmulatorConfig::default()
    };
    let harness = Harness::start(config).await;
    let mut client = connect(&harness.url()).await;
    let id = harness.event().await["requestContext"]["connectionId"].clone();

    send(&mut client, "first").await;
    assert_eq!(harness.event().await["body"], "first");
    send(&mut client, "second").await;
    let frame = next_json(&mut client).await;
    assert_eq!(frame["message"], "Too Many Requests");
    assert_eq!(frame["connectionId"], id);

    assert_eq!(refused_status(&harness.url()).await, 429);
    assert_eq!(harness.emulator.open_connections(), 1);
}

#[tokio::test]
async fn message_without_route_or_default_is_answered_forbidden() {
    let harness = Harness::with_routes(EmulatorConfig::default(), &["chat"]).await;
    let mut client = connect(&harness.url()).await;
    send(&mut client, r#"{"action":"other"}"#).await;
    assert_eq!(next_json(&mut client).await["message"], "Forbidden");
    send(&mut client, r#"{"action":"chat"}"#).await;
    assert_eq!(harness.event().await["requestContext"]["routeKey"], "chat");
}

#[tokio::test]
async fn management_api_posts_describes_and_deletes() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    let id = harness.connection_id().await;
    let http = reqwest::Client::new();

    // The id's `=` percent-encoded once reaches the connection.
    let encoded = id.replace('=', "%3D");
    let response = http
        .post(harness.http(&encoded))
        .body("{\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(next_text(&mut client).await, "{\"n\":1}");

    // Encoded twice, it decodes once to a different id, which is gone.
    let twice = id.replace('=', "%253D");
    let response = http
        .post(harness.http(&twice))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);

    let response = http.get(harness.http(&encoded)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(info["identity"]["userAgent"], "switchboard-tests/1");
    assert!(info["connectedAt"].as_str().unwrap().ends_with('Z'));
    assert!(info["lastActiveAt"].as_str().unwrap() >= info["connectedAt"].as_str().unwrap());

    let big = "x".repeat(128 * 1024 + 1);
    let response = http
        .post(harness.http(&encoded))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "PayloadTooLargeException"
    );

    let response = http.delete(harness.http(&encoded)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(close_code(&mut client).await, 1000);
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(disconnect["requestContext"]["disconnectStatusCode"], 1000);

    let response = http
        .post(harness.http(&encoded))
        .body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    assert_eq!(response.headers()["x-amzn-errortype"], "GoneException");
    let response = http.delete(harness.http(&encoded)).send().await.unwrap();
    assert_eq!(response.status(), 410);
}

#[tokio::test]
async fn sdk_client_posts_reads_and_sees_gone_exception() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut client = connect(&harness.url()).await;
    let id = harness.connection_id().await;
    let sdk = management_client(&harness.emulator.management_url());

    sdk.post_to_connection()
        .connection_id(&id)
        .data(aws_smithy_types::Blob::new(br#"{"via":"sdk"}"#.to_vec()))
        .send()
        .await
        .expect("post through the SDK");
    assert_eq!(next_json(&mut client).await, json!({"via": "sdk"}));

    let info = sdk
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    let identity = info.identity().unwrap();
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));
    assert_eq!(identity.user_agent(), Some("switchboard-tests/1"));

    sdk.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(close_code(&mut client).await, 1000);

    let error = sdk
        .post_to_connection()
        .connection_id(&id)
        .data(aws_smithy_types::Blob::new(b"late".to_vec()))
        .send()
        .await
        .unwrap_err();
    let service = error.into_service_error();
    assert!(service.is_gone_exception(), "{service:?}");
}

#[tokio::test]
async fn unknown_paths_are_forbidden() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let base = harness.emulator.local_addr();
    let response = reqwest::get(format!("http://{base}/other/@connections/x"))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["x-amzn-errortype"], "ForbiddenException");

    // Known paths with methods they do not serve are forbidden too, never 405.
    let http = reqwest::Client::new();
    let stage = harness.url().replace("ws://", "http://");
    let response = http.post(&stage).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let response = http.put(harness.http("x")).send().await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn post_past_the_read_limit_is_payload_too_large_in_the_sdk_shape() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let _client = connect(&harness.url()).await;
    let id = harness.connection_id().await;
    let response = reqwest::Client::new()
        .post(harness.http(&id))
        .body("x".repeat(3 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "PayloadTooLargeException"
    );
}

#[tokio::test]
async fn stop_closes_sockets_with_1001_and_runs_disconnect() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    let mut first = connect(&harness.url()).await;
    let mut second = connect(&harness.url()).await;
    harness.event().await;
    harness.event().await;

    let Harness { emulator, events } = harness;
    let stopping = tokio::spawn(emulator.stop());
    assert_eq!(close_code(&mut first).await, 1001);
    assert_eq!(close_code(&mut second).await, 1001);
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .unwrap()
        .unwrap();

    let mut events = events.into_inner();
    let mut codes = Vec::new();
    while let Ok(event) = events.try_recv() {
        codes.push(event["requestContext"]["disconnectStatusCode"].clone());
    }
    assert_eq!(codes, [json!(1001), json!(1001)]);
}

#[tokio::test]
async fn client_that_stops_reading_is_still_closed_by_delete_and_disconnected() {
    let harness = Harness::start(EmulatorConfig::default()).await;
    // Connected, then never read again: the server's writes fill the TCP window.
    let _stalled = connect(&harness.url()).await;
    let id = harness.connection_id().await;
    let http = reqwest::Client::new();
    let url = harness.http(&id.replace('=', "%3D"));
    let frame = "x".repeat(128 * 1024);
    let mut throttled = 0;
    for _ in 0..400 {
        let status = http
            .post(&url)
            .body(frame.clone())
            .send()
            .await
            .unwrap()
            .status();
        match status.as_u16() {
            200 => {}
            429 => throttled += 1,
            other => panic!("post answered {other}"),
        }
        if throttled > 5 {
            break;
        }
    }
    assert!(throttled > 5, "the client's outbound queue never filled");

    let response = http.delete(&url).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let disconnect = harness.event_for(DISCONNECT).await;
    assert_eq!(disconnect["requestContext"]["connectionId"], id.as_str());
    let gone = http.post(&url).body("late").send().await.unwrap();
    assert_eq!(gone.status(), 410);
}

//! Extractors: typed path, query, JSON, form, headers, cookies, state; 422, 415 and 413.

use asgi_framework::testing::TestClient;
use asgi_framework::{
    Application, Cookies, Form, FromRequestParts, HeaderParams, HttpError, Json, Path, Query,
    Request, State, get, post,
};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
    limit: Option<u32>,
}

async fn item(Path(id): Path<i64>, Query(search): Query<Search>) -> Json<Value> {
    Json(json!({ "id": id, "q": search.q, "limit": search.limit }))
}

fn items_app() -> Application {
    Application::new().route("/items/{id}", get(item))
}

#[tokio::test]
async fn typed_path_and_query_parse() {
    let res = TestClient::new(items_app())
        .get("/items/42")
        .query(&[("q", "hello"), ("limit", "3")])
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>(),
        json!({"id": 42, "q": "hello", "limit": 3})
    );
}

#[tokio::test]
async fn bad_path_int_is_422_in_fastapi_shape() {
    let res = TestClient::new(items_app()).get("/items/abc").send().await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.text(),
        r#"{"detail":[{"type":"int_parsing","loc":["path","id"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]}"#
    );
}

#[tokio::test]
async fn bad_query_value_names_the_query_field() {
    let res = TestClient::new(items_app())
        .get("/items/1?limit=many")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.json::<Value>()["detail"][0],
        json!({"type":"int_parsing","loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"many"})
    );
}

#[tokio::test]
async fn errors_of_every_argument_are_reported_together() {
    let res = TestClient::new(items_app())
        .get("/items/abc?limit=x")
        .send()
        .await;

    let detail = res.json::<Value>()["detail"].clone();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail.as_array().map(Vec::len), Some(2));
    assert_eq!(detail[0]["loc"], json!(["path", "id"]));
    assert_eq!(detail[1]["loc"], json!(["query", "limit"]));
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Required {
    ms: u64,
    ratio: f64,
    flag: bool,
}

#[tokio::test]
async fn missing_float_and_bool_errors_mirror_pydantic() {
    async fn handler(Query(_): Query<Required>) -> &'static str {
        "ok"
    }
    let client = TestClient::new(Application::new().route("/", get(handler)));

    let missing = client
        .get("/?ratio=1&flag=true")
        .send()
        .await
        .json::<Value>();
    let float = client
        .get("/?ms=1&ratio=x&flag=true")
        .send()
        .await
        .json::<Value>();
    let boolean = client
        .get("/?ms=1&ratio=1&flag=maybe")
        .send()
        .await
        .json::<Value>();

    assert_eq!(
        missing["detail"][0],
        json!({"type":"missing","loc":["query","ms"],"msg":"Field required","input":null})
    );
    assert_eq!(
        float["detail"][0],
        json!({"type":"float_parsing","loc":["query","ratio"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"})
    );
    assert_eq!(
        boolean["detail"][0],
        json!({"type":"bool_parsing","loc":["query","flag"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"})
    );
}

#[tokio::test]
async fn every_invalid_query_field_is_reported_in_field_order() {
    async fn handler(Query(_): Query<Required>) -> &'static str {
        "ok"
    }
    let client = TestClient::new(Application::new().route("/", get(handler)));

    let res = client.get("/?flag=maybe&ratio=x").send().await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        res.text(),
        concat!(
            r#"{"detail":["#,
            r#"{"type":"missing","loc":["query","ms"],"msg":"Field required","input":null},"#,
            r#"{"type":"float_parsing","loc":["query","ratio"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"},"#,
            r#"{"type":"bool_parsing","loc":["query","flag"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}"#,
            r#"]}"#
        )
    );
}

#[tokio::test]
async fn every_invalid_path_parameter_is_reported() {
    async fn pair(Path((a, b)): Path<(u32, u32)>) -> String {
        format!("{a} {b}")
    }
    let client = TestClient::new(Application::new().route("/p/{a}/{b}", get(pair)));

    let res = client.get("/p/x/y").send().await;

    let detail = res.json::<Value>()["detail"].clone();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(detail.as_array().map(Vec::len), Some(2));
    assert_eq!(detail[0]["loc"], json!(["path", "a"]));
    assert_eq!(detail[1]["loc"], json!(["path", "b"]));
}

#[tokio::test]
async fn bad_uuid_is_uuid_parsing() {
    async fn by_id(Path(id): Path<uuid::Uuid>) -> String {
        id.to_string()
    }
    let client = TestClient::new(Application::new().route("/u/{id}", get(by_id)));

    let ok = client
        .get("/u/67e55044-10b1-426f-9247-bb680e5fe0c8")
        .send()
        .await;
    let bad = client.get("/u/xyz").send().await.json::<Value>();

    assert_eq!(ok.text(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
    assert_eq!(bad["detail"][0]["type"], "uuid_parsing");
    assert_eq!(bad["detail"][0]["loc"], json!(["path", "id"]));
    assert_eq!(
        bad["detail"][0]["msg"],
        "Input should be a valid UUID, invalid character: found `x` at 0"
    );
}

#[derive(Deserialize, serde::Serialize)]
struct Item {
    name: String,
    price: f64,
}

async fn create(Json(item): Json<Item>) -> (StatusCode, Json<Item>) {
    (StatusCode::CREATED, Json(item))
}

fn create_app() -> Application {
    Application::new().route("/items", post(create))
}

#[tokio::test]
async fn json_body_round_trips() {
    let res = TestClient::new(create_app())
        .post("/items")
        .json(&json!({"name": "pen", "price": 1.5}))
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>(), json!({"name": "pen", "price": 1.5}));
}

#[tokio::test]
async fn json_with_wrong_content_type_is_415() {
    let res = TestClient::new(create_app())
        .post("/items")
        .header("content-type", "text/plain")
        .body(r#"{"name":"pen","price":1}"#)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.text(), r#"{"detail":"Unsupported Media Type"}"#);
}

#[tokio::test]
async fn json_without_content_type_is_read_as_json() {
    let res = TestClient::new(create_app())
        .post("/items")
        .body(r#"{"name":"pen","price":2}"#)
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn invalid_json_is_json_invalid_and_bad_fields_are_located() {
    let client = TestClient::new(create_app());

    let syntax = client
        .post("/items")
        .header("content-type", "application/json")
        .body("{\"name\": }")
        .send()
        .await;
    let field = client
        .post("/items")
        .json(&json!({"name": "pen", "price": "cheap"}))
        .send()
        .await;

    assert_eq!(syntax.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        syntax.json::<Value>()["detail"][0],
        json!({"type":"json_invalid","loc":["body",9],"msg":"JSON decode error","input":{},"ctx":{"error":"expected value"}})
    );
    assert_eq!(
        field.json::<Value>()["detail"][0],
        json!({"type":"float_parsing","loc":["body","price"],"msg":"Input should be a valid number, unable to parse string as a number","input":"cheap"})
    );
}

#[tokio::test]
async fn body_over_the_app_limit_is_413() {
    async fn echo(body: bytes::Bytes) -> bytes::Bytes {
        body
    }
    let app = Application::new().body_limit(8).route("/echo", post(echo));
    let client = TestClient::new(app);

    let small = client.post("/echo").body("12345678").send().await;
    let declared = client.post("/echo").body("123456789").send().await;
    let streamed = client
        .post("/echo")
        .body_chunks(["12345", "67890"])
        .send()
        .await;

    assert_eq!(small.text(), "12345678");
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn route_body_limit_overrides_the_app_limit() {
    async fn echo(body: String) -> String {
        body
    }
    let app = Application::new()
        .body_limit(4)
        .route("/big", post(echo).body_limit(100))
        .route("/small", post(echo));
    let client = TestClient::new(app);

    assert_eq!(
        client.post("/big").body("0123456789").send().await.status(),
        StatusCode::OK
    );
    assert_eq!(
        client
            .post("/small")
            .body("0123456789")
            .send()
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn chunked_body_is_reassembled() {
    async fn echo(body: bytes::Bytes) -> bytes::Bytes {
        body
    }
    let client = TestClient::new(Application::new().route("/echo", post(echo)));

    let res = client
        .post("/echo")
        .body_chunks(["ab", "", "cd", "e"])
        .send()
        .await;

    assert_eq!(res.text(), "abcde");
}

#[tokio::test]
async fn urlencoded_form_is_parsed_and_validated() {
    #[derive(Deserialize)]
    struct Login {
        user: String,
        age: u8,
    }
    async fn login(Form(form): Form<Login>) -> String {
        format!("{} {}", form.user, form.age)
    }
    let client = TestClient::new(Application::new().route("/login", post(login)));

    let ok = client
        .post("/login")
        .form(&[("user", "ann"), ("age", "30")])
        .send()
        .await;
    let bad = client
        .post("/login")
        .form(&[("user", "ann"), ("age", "old")])
        .send()
        .await;

    assert_eq!(ok.text(), "ann 30");
    assert_eq!(
        bad.json::<Value>()["detail"][0]["loc"],
        json!(["body", "age"])
    );
}

#[tokio::test]
async fn headers_and_cookies_are_extracted() {
    #[derive(Deserialize)]
    struct Auth {
        x_token: String,
    }
    async fn me(HeaderParams(auth): HeaderParams<Auth>, cookies: Cookies) -> String {
        format!("{} {}", auth.x_token, cookies.get("theme").unwrap_or("-"))
    }
    let client = TestClient::new(Application::new().route("/me", get(me)));

    let ok = client
        .get("/me")
        .header("x-token", "secret")
        .header("cookie", "theme=dark")
        .send()
        .await;
    let missing = client.get("/me").send().await.json::<Value>();

    assert_eq!(ok.text(), "secret dark");
    assert_eq!(missing["detail"][0]["loc"], json!(["header", "x-token"]));
}

struct Counter(std::sync::atomic::AtomicU32);

#[tokio::test]
async fn state_is_shared_between_requests() {
    async fn hit(State(counter): State<Counter>) -> String {
        let n = counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        n.to_string()
    }
    let app = Application::new()
        .state(Counter(0.into()))
        .route("/hit", get(hit));
    let client = TestClient::new(app);

    client.get("/hit").send().await;
    let second = client.get("/hit").send().await;

    assert_eq!(second.text(), "2");
}

#[tokio::test]
async fn missing_state_is_500() {
    async fn hit(State(_): State<Counter>) -> &'static str {
        "unreachable"
    }
    let res = TestClient::new(Application::new().route("/", get(hit)))
        .get("/")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

struct User(String);

impl FromRequestParts for User {
    type Rejection = HttpError;

    async fn from_request_parts(request: &mut Request) -> Result<Self, HttpError> {
        request
            .header("x-user")
            .map(|name| User(name.to_owned()))
            .ok_or_else(|| HttpError::new(StatusCode::UNAUTHORIZED))
    }
}

#[tokio::test]
async fn user_defined_extractors_can_reject() {
    async fn whoami(user: User, maybe: Option<User>) -> String {
        format!("{} {}", user.0, maybe.is_some())
    }
    let client = TestClient::new(Application::new().route("/", get(whoami)));

    let ok = client.get("/").header("x-user", "ann").send().await;
    let denied = client.get("/").send().await;

    assert_eq!(ok.text(), "ann true");
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(denied.text(), r#"{"detail":"Unauthorized"}"#);
}

#[tokio::test]
async fn request_exposes_url_parts_and_client() {
    async fn show(request: Request) -> String {
        format!(
            "{} {} {:?} {}",
            request.method(),
            request.url(),
            request.query_param("a"),
            request.client().map(|c| c.to_string()).unwrap_or_default()
        )
    }
    let client = TestClient::new(Application::new().route("/p", get(show)));

    let res = client.get("/p?a=1&b=2").send().await;

    assert_eq!(
        res.text(),
        "GET http://testserver/p?a=1&b=2 Some(\"1\") 127.0.0.1:50000"
    );
}

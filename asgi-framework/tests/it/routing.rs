//! Routing: methods, HEAD, 404/405, converters, mounts, nesting, hosts, slashes, reverse URLs.

use asgi_core::{HttpScope, Scope, app_fn};
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, Path, Request, Router, get, post};
use http::StatusCode;

async fn list() -> &'static str {
    "list"
}

async fn create() -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "created")
}

#[tokio::test]
async fn routes_dispatch_by_method() {
    let app = Application::new().route("/items", get(list).post(create));
    let client = TestClient::new(app);

    let got = client.get("/items").send().await;
    let posted = client.post("/items").send().await;

    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.text(), "list");
    assert_eq!(posted.status(), StatusCode::CREATED);
    assert_eq!(posted.text(), "created");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_header() {
    let app = Application::new().route("/items", get(list).post(create));

    let res = TestClient::new(app).delete("/items").send().await;

    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.header("allow"), Some("GET, HEAD, POST"));
    assert_eq!(res.text(), r#"{"detail":"Method Not Allowed"}"#);
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let app = Application::new().route("/items", get(list));

    let res = TestClient::new(app).get("/nope").send().await;

    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.text(), r#"{"detail":"Not Found"}"#);
}

#[tokio::test]
async fn head_is_served_by_get_without_a_body() {
    let app = Application::new().route("/items", get(list));

    let res = TestClient::new(app).head("/items").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), Some("4"));
    assert!(res.bytes().is_empty(), "{res:?}");
}

#[tokio::test]
async fn int_converter_mismatch_is_404() {
    async fn item(Path(id): Path<u64>) -> String {
        format!("item {id}")
    }
    let app = Application::new().route("/items/{id:int}", get(item));
    let client = TestClient::new(app);

    let ok = client.get("/items/12").send().await;
    let miss = client.get("/items/abc").send().await;

    assert_eq!(ok.text(), "item 12");
    assert_eq!(miss.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn path_converter_takes_the_rest_of_the_path() {
    async fn file(Path(rest): Path<String>) -> String {
        rest
    }
    let app = Application::new().route("/files/{rest:path}", get(file));

    let res = TestClient::new(app).get("/files/a/b/c.txt").send().await;

    assert_eq!(res.text(), "a/b/c.txt");
}

#[tokio::test]
async fn static_segments_win_over_parameters() {
    async fn me() -> &'static str {
        "me"
    }
    async fn user(Path(name): Path<String>) -> String {
        name
    }
    let app = Application::new()
        .route("/users/me", get(me))
        .route("/users/{name}", get(user));
    let client = TestClient::new(app);

    assert_eq!(client.get("/users/me").send().await.text(), "me");
    assert_eq!(client.get("/users/bob").send().await.text(), "bob");
}

#[tokio::test]
async fn mounted_raw_app_gets_root_path_and_full_path() {
    let raw = app_fn(|scope, _receive, send| async move {
        let Scope::Http(HttpScope {
            root_path, target, ..
        }) = scope
        else {
            return Err("http only".into());
        };
        let text = format!("root={root_path} path={}", target.path);
        send.send(asgi_core::HttpSend::start(
            StatusCode::OK,
            asgi_core::Headers::new(),
        ))
        .await?;
        send.send(asgi_core::HttpSend::body(text)).await?;
        Ok(())
    });
    let app = Application::new().mount("/sub", raw);
    let client = TestClient::new(app);

    let deep = client.get("/sub/a/b").send().await;
    let exact = client.get("/sub").send().await;

    assert_eq!(deep.text(), "root=/sub path=/sub/a/b");
    assert_eq!(exact.text(), "root=/sub path=/sub");
}

#[tokio::test]
async fn mounted_router_routes_below_its_prefix() {
    async fn where_am_i(request: Request) -> String {
        format!("{} {}", request.root_path(), request.route_path())
    }
    let inner = Router::new().route("/items/{id}", get(where_am_i));
    let app = Application::new().mount("/api", inner);
    let client = TestClient::new(app);

    let res = client.get("/api/items/3").send().await;
    let missing = client.get("/api/other").send().await;

    assert_eq!(res.text(), "/api /items/3");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn missing_trailing_slash_redirects_with_307() {
    let app = Application::new().route("/items/", get(list));

    let res = TestClient::new(app).get("/items?x=1").send().await;

    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(res.header("location"), Some("/items/?x=1"));
}

#[tokio::test]
async fn extra_trailing_slash_redirects_and_can_be_disabled() {
    let on = Application::new().route("/items", get(list));
    let off = Application::new().router(
        Router::new()
            .route("/items", get(list))
            .redirect_slashes(false),
    );

    let redirected = TestClient::new(on).get("/items/").send().await;
    let not_found = TestClient::new(off).get("/items/").send().await;

    assert_eq!(redirected.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(redirected.header("location"), Some("/items"));
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn url_for_builds_paths_of_named_routes() {
    async fn item() -> &'static str {
        "item"
    }
    async fn links(request: Request) -> String {
        let path = request
            .url_path_for("item", &[("id", "42")])
            .unwrap_or_default();
        let url = request.url_for("item", &[("id", "7")]).unwrap_or_default();
        let missing = request.url_path_for("nope", &[]).is_err();
        format!("{path} {url} {missing}")
    }
    let api = Router::new().route("/items/{id}", get(item).name("item"));
    let app = Application::new()
        .nest("/api", api)
        .route("/links", get(links));

    let res = TestClient::new(app).get("/links").send().await;

    assert_eq!(
        res.text(),
        "/api/items/42 http://testserver/api/items/7 true"
    );
}

#[tokio::test]
async fn nested_routes_match_under_the_prefix() {
    let api = Router::new().route("/items", get(list).post(create));
    let app = Application::new().nest("/api/v1", api);
    let client = TestClient::new(app);

    assert_eq!(client.get("/api/v1/items").send().await.text(), "list");
    assert_eq!(
        client.get("/items").send().await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn host_routes_go_first() {
    async fn tenant() -> &'static str {
        "tenant"
    }
    let tenants = Router::new().route("/", get(tenant));
    let app = Application::new()
        .host("{name}.example.com", tenants)
        .route("/", get(list));
    let client = TestClient::new(app);

    let by_host = client
        .get("/")
        .header("host", "acme.example.com:8000")
        .send()
        .await;
    let default = client.get("/").send().await;

    assert_eq!(by_host.text(), "tenant");
    assert_eq!(default.text(), "list");
}

#[tokio::test]
async fn same_path_registered_twice_merges_methods() {
    let app = Application::new()
        .route("/items", get(list))
        .route("/items", post(create));
    let client = TestClient::new(app);

    assert_eq!(
        client.post("/items").send().await.status(),
        StatusCode::CREATED
    );
    assert_eq!(client.get("/items").send().await.text(), "list");
}

#[test]
#[should_panic(expected = "cannot add route")]
fn conflicting_routes_panic_at_registration() {
    let _ = Router::new()
        .route("/items/{id}", get(list))
        .route("/items/{name}", get(list));
}

#[test]
fn routes_describe_their_parameters_for_documentation() {
    use asgi_framework::extract::ParamLocation;
    async fn item(
        Path(_): Path<u32>,
        asgi_framework::Query(_): asgi_framework::Query<Vec<(String, String)>>,
    ) -> &'static str {
        "item"
    }
    let app = Application::new()
        .route("/items/{id}", get(item).name("item"))
        .mount("/raw", Router::new());

    let routes = app.routes();

    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0].path, "/items/{id}");
    assert_eq!(routes[0].name.as_deref(), Some("item"));
    let (method, params) = &routes[0].methods[0];
    assert_eq!(method, http::Method::GET);
    let locations: Vec<ParamLocation> = params.iter().map(|p| p.location).collect();
    assert_eq!(locations, [ParamLocation::Path, ParamLocation::Query]);
    assert!(routes[1].mount);
}

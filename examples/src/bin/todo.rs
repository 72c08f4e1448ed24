//! Run with: cargo run -p examples --bin todo
//!
//! A JSON CRUD API on SQLite, the embedded default: no server to set up,
//! the database is the file given by `--db` (default `./todo.db`).
//!
//! | route | |
//! |---|---|
//! | `GET /todos` | every todo |
//! | `POST /todos` `{"title": "..", "done": false}` | 201 the new todo; 409 if the title exists |
//! | `GET /todos/{id}` | the todo, or 404 |
//! | `PATCH /todos/{id}` `{"title"?: "..", "done"?: true}` | the changed todo |
//! | `DELETE /todos/{id}` | 204, or 404 |
//! | `POST /todos/pair` `{"first": {..}, "second": {..}}` | both in one transaction: 201, or 409 and nothing written |
//!
//! **The driver.** [`rusqlite`] with its bundled SQLite: no system library,
//! no setup, and a plain synchronous API. Synchronous means blocking: every
//! query may wait on the disk. So every route here is a `blocking(..)`
//! handler, run on the framework's blocking pool; a database call never runs
//! on the event loop, which keeps serving other requests meanwhile. The one
//! connection sits behind a mutex, taken only on pool threads (SQLite
//! serialises writers anyway). An async driver (`sqlx`) would run its own
//! worker thread for SQLite, the same idea hidden inside the library.
//!
//! **Lifespan.** The database is opened, and the schema created, by a startup
//! hook (on the blocking pool too); a failure stops the server before it
//! accepts a request. The server runs lifespan by default (`--lifespan auto`).
//!
//! **The transaction.** `POST /todos/pair` inserts two todos atomically.
//! Titles are unique, so a second todo whose title already exists fails: the
//! first insert is rolled back, and the 409 says so.

use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;
use std::sync::{Mutex, MutexGuard, PoisonError};

use asgi_framework::asgi_core::{BoxError, LifespanState};
use asgi_framework::extract::{ErrorDetail, LocItem};
use asgi_framework::http::StatusCode;
use asgi_framework::{
    Application, HttpError, IntoResponse, Json, Path, Response, State, ValidationError, blocking,
    get, post, run_blocking,
};
use clap::Parser;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The longest title accepted.
const MAX_TITLE: usize = 200;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS todos (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT    NOT NULL UNIQUE,
        done  INTEGER NOT NULL DEFAULT 0
    );
";

/// The database: one SQLite connection, used only on blocking-pool threads.
#[derive(Debug)]
struct Db(Mutex<Connection>);

impl Db {
    /// Opens (or creates) the database at `path` and creates the schema.
    fn open(path: &FsPath) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self(Mutex::new(conn)))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stored todo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Todo {
    id: i64,
    title: String,
    done: bool,
}

/// The body of `POST /todos`.
#[derive(Debug, Deserialize)]
struct NewTodo {
    title: String,
    #[serde(default)]
    done: bool,
}

/// The body of `PATCH /todos/{id}`: only the fields given change.
#[derive(Debug, Deserialize)]
struct TodoPatch {
    title: Option<String>,
    done: Option<bool>,
}

/// The body of `POST /todos/pair`.
#[derive(Debug, Deserialize)]
struct Pair {
    first: NewTodo,
    second: NewTodo,
}

/// Why a request failed, and the status that says so.
#[derive(Debug)]
enum ApiError {
    /// 422: the body passed the types but not the rules (empty title).
    Invalid(ValidationError),
    /// 404.
    NotFound(i64),
    /// 409: a todo with this title exists.
    Duplicate(String),
    /// 500: anything else the database reports.
    Database(rusqlite::Error),
}

impl ApiError {
    /// A constraint violation is the client's 409; any other error is ours.
    fn from_insert(error: rusqlite::Error, title: &str) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::ConstraintViolation) => ApiError::Duplicate(title.to_owned()),
            _ => ApiError::Database(error),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::Database(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid(error) => error.into_response(),
            ApiError::NotFound(id) => HttpError::not_found()
                .with_detail(format!("todo {id} not found"))
                .into_response(),
            ApiError::Duplicate(title) => HttpError::new(StatusCode::CONFLICT)
                .with_detail(format!("a todo titled {title:?} already exists"))
                .into_response(),
            ApiError::Database(error) => {
                tracing::error!(%error, "database error");
                HttpError::internal().into_response()
            }
        }
    }
}

/// The title trimmed, or pydantic's length error at `loc`.
fn valid_title(title: &str, loc: &[&str]) -> Result<String, ValidationError> {
    let title = title.trim();
    let loc: Vec<LocItem> = loc.iter().map(|&name| name.into()).collect();
    let count = title.chars().count();
    let (kind, msg, ctx) = if count == 0 {
        (
            "string_too_short",
            "String should have at least 1 character",
            json!({ "min_length": 1 }),
        )
    } else if count > MAX_TITLE {
        (
            "string_too_long",
            "String should have at most 200 characters",
            json!({ "max_length": MAX_TITLE }),
        )
    } else {
        return Ok(title.to_owned());
    };
    let mut detail = ErrorDetail::new(kind, loc, msg, json!(title));
    detail.ctx = Some(ctx);
    Err(detail.into())
}

fn insert(tx: &Transaction<'_>, title: &str, done: bool) -> Result<Todo, ApiError> {
    tx.execute(
        "INSERT INTO todos (title, done) VALUES (?1, ?2)",
        params![title, done],
    )
    .map_err(|error| ApiError::from_insert(error, title))?;
    Ok(Todo {
        id: tx.last_insert_rowid(),
        title: title.to_owned(),
        done,
    })
}

fn find(conn: &Connection, id: i64) -> Result<Todo, ApiError> {
    conn.query_row(
        "SELECT id, title, done FROM todos WHERE id = ?1",
        [id],
        |row| {
            Ok(Todo {
                id: row.get(0)?,
                title: row.get(1)?,
                done: row.get(2)?,
            })
        },
    )
    .optional()?
    .ok_or(ApiError::NotFound(id))
}

fn list(State(db): State<Db>) -> Result<Json<Vec<Todo>>, ApiError> {
    let conn = db.conn();
    let mut statement = conn.prepare("SELECT id, title, done FROM todos ORDER BY id")?;
    let todos = statement
        .query_map([], |row| {
            Ok(Todo {
                id: row.get(0)?,
                title: row.get(1)?,
                done: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(todos))
}

fn create(
    State(db): State<Db>,
    Json(new): Json<NewTodo>,
) -> Result<(StatusCode, Json<Todo>), ApiError> {
    let title = valid_title(&new.title, &["body", "title"]).map_err(ApiError::Invalid)?;
    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let todo = insert(&tx, &title, new.done)?;
    tx.commit()?;
    Ok((StatusCode::CREATED, Json(todo)))
}

fn read(State(db): State<Db>, Path(id): Path<i64>) -> Result<Json<Todo>, ApiError> {
    find(&db.conn(), id).map(Json)
}

fn update(
    State(db): State<Db>,
    Path(id): Path<i64>,
    Json(patch): Json<TodoPatch>,
) -> Result<Json<Todo>, ApiError> {
    let title = match &patch.title {
        Some(title) => Some(valid_title(title, &["body", "title"]).map_err(ApiError::Invalid)?),
        None => None,
    };
    let conn = db.conn();
    let mut todo = find(&conn, id)?;
    if let Some(title) = title {
        todo.title = title;
    }
    if let Some(done) = patch.done {
        todo.done = done;
    }
    conn.execute(
        "UPDATE todos SET title = ?1, done = ?2 WHERE id = ?3",
        params![todo.title, todo.done, id],
    )
    .map_err(|error| ApiError::from_insert(error, &todo.title))?;
    Ok(Json(todo))
}

fn delete(State(db): State<Db>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    match db.conn().execute("DELETE FROM todos WHERE id = ?1", [id])? {
        0 => Err(ApiError::NotFound(id)),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Inserts both todos in one transaction. If the second insert fails, the
/// transaction is rolled back, so the first one is gone too, and the 409 says so.
fn create_pair(State(db): State<Db>, Json(pair): Json<Pair>) -> Result<Response, ApiError> {
    let mut invalid: Option<ValidationError> = None;
    let mut check = |title: &str, which: &str| match valid_title(title, &["body", which, "title"]) {
        Ok(title) => title,
        Err(error) => {
            match &mut invalid {
                Some(all) => all.extend(error),
                None => invalid = Some(error),
            }
            String::new()
        }
    };
    let (first_title, second_title) = (
        check(&pair.first.title, "first"),
        check(&pair.second.title, "second"),
    );
    if let Some(error) = invalid {
        return Err(ApiError::Invalid(error));
    }

    let mut conn = db.conn();
    let tx = conn.transaction()?;
    let first = match insert(&tx, &first_title, pair.first.done) {
        Ok(todo) => todo,
        Err(ApiError::Duplicate(title)) => {
            tx.rollback()?;
            return Ok(conflict(
                format!(
                    "first insert failed: a todo titled {title:?} already exists; nothing was written"
                ),
                None,
            ));
        }
        Err(other) => return Err(other),
    };
    match insert(&tx, &second_title, pair.second.done) {
        Ok(second) => {
            tx.commit()?;
            let body = json!({ "committed": true, "todos": [first, second] });
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Err(ApiError::Duplicate(title)) => {
            tx.rollback()?;
            Ok(conflict(
                format!(
                    "second insert failed: a todo titled {title:?} already exists; \
                     the first insert ({:?}) was rolled back",
                    first.title
                ),
                Some(first),
            ))
        }
        Err(other) => Err(other),
    }
}

/// The 409 of a failed pair: nothing committed, and what was undone.
fn conflict(detail: String, rolled_back: Option<Todo>) -> Response {
    let body = json!({
        "detail": detail,
        "committed": false,
        "rolled_back": rolled_back.map(|todo| vec![todo]).unwrap_or_default(),
    });
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// The todo app on the database at `db_path`, opened at lifespan startup.
fn app(db_path: PathBuf) -> Application {
    Application::new()
        .on_startup(move |state: LifespanState| {
            let path = db_path.clone();
            async move {
                let db = run_blocking(move || Db::open(&path)).await??;
                tracing::info!(path = %db_path_display(&db), "todo database ready");
                state.insert(db);
                Ok::<_, BoxError>(())
            }
        })
        .route("/todos", get(blocking(list)).post(blocking(create)))
        .route(
            "/todos/{id}",
            get(blocking(read))
                .patch(blocking(update))
                .delete(blocking(delete)),
        )
        .route("/todos/pair", post(blocking(create_pair)))
}

fn db_path_display(db: &Db) -> String {
    db.conn().path().unwrap_or(":memory:").to_owned()
}

/// A JSON todo API on SQLite.
#[derive(Debug, Parser)]
#[command(name = "todo")]
struct Cli {
    #[command(flatten)]
    server: asgi_server::ServerArgs,
    /// The SQLite database file (created if missing).
    #[arg(long, env = "TODO_DB", default_value = "./todo.db")]
    db: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    asgi_server::run_with(cli.server.into_config(), app(cli.db))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use asgi_framework::testing::{LifespanError, TestClient};
    use serde_json::Value;

    use super::*;

    /// A database file in the temp folder, removed when dropped.
    struct TempDb(PathBuf);

    impl TempDb {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "todo-test-{}-{}.db",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            Self(std::env::temp_dir().join(name))
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    async fn started(path: &FsPath) -> TestClient {
        let mut client = TestClient::new(app(path.to_owned()));
        client.start().await.expect("startup opens the database");
        client
    }

    async fn titles(client: &TestClient) -> Vec<String> {
        let todos: Vec<Todo> = client.get("/todos").send().await.json();
        todos.into_iter().map(|todo| todo.title).collect()
    }

    #[tokio::test]
    async fn crud_round_trip() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let created = client
            .post("/todos")
            .json(&json!({"title": "  write docs  "}))
            .send()
            .await;
        assert_eq!(created.status(), 201);
        let todo: Todo = created.json();
        assert_eq!((todo.title.as_str(), todo.done), ("write docs", false));
        let path = format!("/todos/{}", todo.id);

        let read: Todo = client.get(&path).send().await.json();
        assert_eq!(read, todo);

        let patched = client
            .patch(&path)
            .json(&json!({"done": true}))
            .send()
            .await;
        assert_eq!(patched.status(), 200);
        assert_eq!(patched.json::<Value>()["done"], true);

        let listed: Vec<Todo> = client.get("/todos").send().await.json();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].done);

        let deleted = client.delete(&path).send().await;
        assert_eq!(deleted.status(), 204);
        assert_eq!(client.get(&path).send().await.status(), 404);
        assert!(titles(&client).await.is_empty());
    }

    #[tokio::test]
    async fn missing_todos_are_404() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let get = client.get("/todos/99").send().await;
        let patch = client
            .patch("/todos/99")
            .json(&json!({"done": true}))
            .send()
            .await;
        let delete = client.delete("/todos/99").send().await;

        assert_eq!(get.status(), 404);
        assert_eq!(get.json::<Value>()["detail"], "todo 99 not found");
        assert_eq!(patch.status(), 404);
        assert_eq!(delete.status(), 404);
    }

    #[tokio::test]
    async fn bad_input_is_a_clear_4xx() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let empty = client
            .post("/todos")
            .json(&json!({"title": "   "}))
            .send()
            .await;
        let long = client
            .post("/todos")
            .json(&json!({"title": "x".repeat(201)}))
            .send()
            .await;
        let wrong_type = client
            .post("/todos")
            .json(&json!({"title": 5}))
            .send()
            .await;
        let missing = client
            .post("/todos")
            .json(&json!({"done": true}))
            .send()
            .await;
        let malformed = client
            .post("/todos")
            .header("content-type", "application/json")
            .body("{\"title\":")
            .send()
            .await;
        let not_json = client
            .post("/todos")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("title=x")
            .send()
            .await;
        let untyped_garbage = client.post("/todos").body("title=x").send().await;
        let bad_id = client.get("/todos/abc").send().await;

        assert_eq!(empty.status(), 422);
        assert_eq!(
            empty.json::<Value>()["detail"][0]["type"],
            "string_too_short"
        );
        assert_eq!(
            empty.json::<Value>()["detail"][0]["loc"],
            json!(["body", "title"])
        );
        assert_eq!(long.status(), 422);
        assert_eq!(long.json::<Value>()["detail"][0]["type"], "string_too_long");
        assert_eq!(wrong_type.status(), 422);
        assert_eq!(
            wrong_type.json::<Value>()["detail"][0]["loc"],
            json!(["body", "title"])
        );
        assert_eq!(missing.status(), 422);
        assert_eq!(missing.json::<Value>()["detail"][0]["type"], "missing");
        assert_eq!(malformed.status(), 422);
        assert_eq!(not_json.status(), 415);
        // Without a content type the body is read as JSON, as FastAPI does: invalid here.
        assert_eq!(untyped_garbage.status(), 422);
        assert_eq!(bad_id.status(), 422);
        assert_eq!(
            bad_id.json::<Value>()["detail"][0]["loc"],
            json!(["path", "id"])
        );
        assert!(titles(&client).await.is_empty());
    }

    #[tokio::test]
    async fn duplicate_titles_are_409() {
        let db = TempDb::new();
        let client = started(&db.0).await;
        client
            .post("/todos")
            .json(&json!({"title": "a"}))
            .send()
            .await;
        let b: Todo = client
            .post("/todos")
            .json(&json!({"title": "b"}))
            .send()
            .await
            .json();

        let again = client
            .post("/todos")
            .json(&json!({"title": "a"}))
            .send()
            .await;
        let rename = client
            .patch(&format!("/todos/{}", b.id))
            .json(&json!({"title": "a"}))
            .send()
            .await;

        assert_eq!(again.status(), 409);
        assert_eq!(
            again.json::<Value>()["detail"],
            "a todo titled \"a\" already exists"
        );
        assert_eq!(rename.status(), 409);
        assert_eq!(titles(&client).await, ["a", "b"]);
    }

    #[tokio::test]
    async fn pair_commits_both() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let response = client
            .post("/todos/pair")
            .json(&json!({"first": {"title": "one"}, "second": {"title": "two", "done": true}}))
            .send()
            .await;

        assert_eq!(response.status(), 201);
        let body: Value = response.json();
        assert_eq!(body["committed"], true);
        assert_eq!(body["todos"][1]["done"], true);
        assert_eq!(titles(&client).await, ["one", "two"]);
    }

    #[tokio::test]
    async fn pair_whose_second_insert_fails_rolls_back_the_first() {
        let db = TempDb::new();
        let client = started(&db.0).await;
        client
            .post("/todos")
            .json(&json!({"title": "taken"}))
            .send()
            .await;

        let response = client
            .post("/todos/pair")
            .json(&json!({"first": {"title": "fresh"}, "second": {"title": "taken"}}))
            .send()
            .await;

        assert_eq!(response.status(), 409);
        let body: Value = response.json();
        assert_eq!(body["committed"], false);
        assert_eq!(body["rolled_back"][0]["title"], "fresh");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("second insert failed") && d.contains("rolled back")),
            "{body}"
        );
        assert_eq!(titles(&client).await, ["taken"]);
    }

    #[tokio::test]
    async fn pair_with_twice_the_same_title_writes_nothing() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let response = client
            .post("/todos/pair")
            .json(&json!({"first": {"title": "same"}, "second": {"title": "same"}}))
            .send()
            .await;

        assert_eq!(response.status(), 409);
        assert_eq!(response.json::<Value>()["rolled_back"][0]["title"], "same");
        assert!(titles(&client).await.is_empty());
    }

    #[tokio::test]
    async fn pair_reports_every_invalid_title() {
        let db = TempDb::new();
        let client = started(&db.0).await;

        let response = client
            .post("/todos/pair")
            .json(&json!({"first": {"title": ""}, "second": {"title": ""}}))
            .send()
            .await;

        assert_eq!(response.status(), 422);
        let body: Value = response.json();
        assert_eq!(body["detail"][0]["loc"], json!(["body", "first", "title"]));
        assert_eq!(body["detail"][1]["loc"], json!(["body", "second", "title"]));
    }

    #[tokio::test]
    async fn data_outlives_a_restart_and_in_memory_works() {
        let db = TempDb::new();
        let mut first = started(&db.0).await;
        first
            .post("/todos")
            .json(&json!({"title": "kept"}))
            .send()
            .await;
        first.stop().await.unwrap();

        let second = started(&db.0).await;
        let memory = started(FsPath::new(":memory:")).await;

        assert_eq!(titles(&second).await, ["kept"]);
        assert!(titles(&memory).await.is_empty());
    }

    #[tokio::test]
    async fn an_unopenable_database_fails_startup() {
        let dir = std::env::temp_dir();
        let mut client = TestClient::new(app(dir));

        let result = client.start().await;

        assert!(
            matches!(result, Err(LifespanError::StartupFailed(_))),
            "{result:?}"
        );
    }

    #[test]
    fn db_defaults_to_todo_db() {
        let cli = Cli::try_parse_from(["todo"]).unwrap();
        assert_eq!(cli.db, PathBuf::from("./todo.db"));
        let cli = Cli::try_parse_from(["todo", "--db", "/tmp/x.db", "--port", "0"]).unwrap();
        assert_eq!(cli.db, PathBuf::from("/tmp/x.db"));
    }
}

"""FastAPI app with the framework benchmark's routes, the Python peer of the
`framework` scenario (same routes as the axum peer and our demo app).

Run by bench/run.sh as `uvicorn --app-dir bench/apps fastapi_app:app
--no-access-log --loop uvloop --http httptools`.
"""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello():
    return "Hello, world!"


@app.get("/json")
async def json():
    return {"message": "Hello, world!"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"id": item_id, "q": q}

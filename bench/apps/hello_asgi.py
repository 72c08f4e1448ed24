"""Raw ASGI hello app (no framework), the Uvicorn peer of the `hello` scenario.

GET / -> 200 text/plain; charset=utf-8 "Hello, world!". Run by bench/run.sh as
`uvicorn --app-dir bench/apps hello_asgi:app --no-access-log --loop uvloop --http httptools`.
"""

BODY = b"Hello, world!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(START)
    await send(END)

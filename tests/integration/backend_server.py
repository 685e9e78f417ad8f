"""A small API stand-in for the load balancer tests: answers any GET with its own name and the
headers it received, serves a WebSocket echo at /ws, and 200 on the health paths.

    python backend_server.py NAME HOST PORT [CERT KEY]   (with CERT and KEY: HTTPS)
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response


def main(name: str, host: str, port: int, tls: tuple[str, str] | None = None) -> None:
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            text = message.decode() if isinstance(message, bytes) else message
            await ws.send(f"{name}:{text}")

    def answer(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/ws":
            return None  # go on with the WebSocket handshake
        body: dict[str, Any] = {"backend": name, "path": request.path, "headers": list(request.headers.raw_items())}
        response = connection.respond(HTTPStatus.OK, json.dumps(body) + "\n")
        response.headers["Content-Type"] = "application/json"
        response.headers["X-Backend"] = name
        response.headers["Server"] = "backend-under-test"
        return response

    async def run() -> None:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        async with serve(echo, host, port, process_request=answer, server_header=None, ssl=context):
            print("ready", flush=True)
            await asyncio.get_running_loop().create_future()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else None)

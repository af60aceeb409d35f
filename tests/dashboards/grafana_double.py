"""A loopback HTTP server that answers the few Grafana API calls ``dashboards push`` makes.

No Grafana server can be installed on this machine, so this is a test double of Grafana
(the one double in these tests): a real HTTP server on 127.0.0.1 that records every
request and answers with the status codes and JSON shapes Grafana's HTTP API documents.
``mode`` picks the failure to play: ``ok``, ``no-plugin``, ``forbidden``, ``not-grafana``
(404 everywhere), ``web-page`` (200 HTML everywhere).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "glsa_test-token"
PLUGIN_SETTINGS = "/api/plugins/grafana-clickhouse-datasource/settings"


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body: dict | None


@dataclass
class GrafanaDouble:
    mode: str = "ok"
    requests: list[Request] = field(default_factory=list)
    datasources: dict[str, dict] = field(default_factory=dict)
    folders: dict[str, dict] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "DELETE")]

    def answer(self, request: Request) -> tuple[int, object]:
        if self.mode == "not-grafana":
            return 404, "<html>Not Found</html>"
        if self.mode == "web-page":
            return 200, "<html>Welcome to nginx!</html>"
        if request.path == "/api/health":
            return 200, {"commit": "0000000", "database": "ok", "version": "11.3.0"}
        if request.authorization != f"Bearer {TOKEN}":
            return 401, {"message": "Invalid API key", "traceID": ""}
        if self.mode == "forbidden":
            return 403, {"message": "You'll need additional permissions to perform this action."}
        if request.path == PLUGIN_SETTINGS:
            if self.mode == "no-plugin":
                return 404, {"message": "Plugin not found, no installed plugin with that id"}
            return 200, {
                "id": "grafana-clickhouse-datasource",
                "enabled": True,
                "type": "datasource",
            }
        return self._resource(request)

    def _resource(self, request: Request) -> tuple[int, object]:
        method, path, body = request.method, request.path, request.body or {}
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.datasources:
                return 404, {"message": "Data source not found"}
            if method == "PUT":
                self.datasources[uid] = body
                return 200, {"message": "Datasource updated", "datasource": body}
            return 200, self.datasources[uid]
        if path == "/api/datasources" and method == "POST":
            self.datasources[body["uid"]] = body
            return 200, {"message": "Datasource added", "id": 1, "datasource": body}
        if path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.folders:
                return 404, {"message": "folder not found", "status": "not-found"}
            return 200, self.folders[uid]
        if path == "/api/folders" and method == "POST":
            self.folders[body["uid"]] = body
            return 200, {"uid": body["uid"], "title": body["title"], "id": 1}
        if path == "/api/dashboards/db" and method == "POST":
            uid = body["dashboard"]["uid"]
            self.dashboards[uid] = body
            return 200, {"status": "success", "uid": uid, "version": 1}
        return 404, {"message": "Not found"}


def serve(double: GrafanaDouble) -> tuple[ThreadingHTTPServer, str]:
    """Start the double on a free loopback port; returns the server and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=self.path.split("?", 1)[0],
                authorization=self.headers.get("Authorization"),
                body=json.loads(raw) if raw else None,
            )
            double.requests.append(request)
            status, payload = double.answer(request)
            is_text = isinstance(payload, str)
            data = payload.encode() if is_text else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

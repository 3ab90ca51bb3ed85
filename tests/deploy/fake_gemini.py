"""A local HTTP server speaking the part of the Gemini REST API `booth doctor` uses
(GET /{version}/models/{model}), so the real google-genai SDK is exercised via GEMINI_BASE_URL."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GOOD_KEY = "test-key-accepted"


class FakeGemini:
    def __init__(self, models=("gemini-2.5-flash-image",), force_status: int | None = None):
        self.models = set(models)
        self.force_status = force_status
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                key = self.headers.get("x-goog-api-key", "")
                outer.requests.append((self.path, key))
                if outer.force_status:
                    return self._send(outer.force_status, _error(outer.force_status))
                if key != GOOD_KEY:
                    return self._send(400, {"error": {
                        "code": 400, "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                     "reason": "API_KEY_INVALID"}]}})
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if name not in outer.models:
                    return self._send(404, {"error": {"code": 404, "status": "NOT_FOUND",
                                                      "message": f"models/{name} is not found"}})
                return self._send(200, {"name": f"models/{name}", "displayName": name,
                                        "version": "2.5", "inputTokenLimit": 32768,
                                        "supportedGenerationMethods": ["generateContent"]})

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _error(code: int) -> dict:
    status = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL"}.get(code, "ERROR")
    return {"error": {"code": code, "message": "fake failure", "status": status}}

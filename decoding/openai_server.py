"""A minimal OpenAI-compatible HTTP endpoint over any Backend (stdlib http.server, localhost).

    server, url = serve(LocalBackend(...))       # url: http://127.0.0.1:PORT/v1
    ...                                           # LiteLLMBackend("openai/local", api_base=url)
    server.shutdown()

Serves POST /v1/chat/completions and /v1/completions (non-streaming) and GET /v1/models, with
per-token log-probs when the backend's trace has them. For tests and local use, not production.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from decoding.protocols import Backend, Generation, Sampling


def _pieces(gen: Generation, tokenizer: Any) -> list[tuple[str, float]]:
    trace = gen.trace
    if trace is None or trace.target not in trace.token_logprobs:
        return []
    lps = trace.token_logprobs[trace.target]
    texts = [tokenizer.decode([t]) for t in gen.token_ids] if tokenizer is not None else [""] * len(lps)
    return list(zip(texts, lps))


def completion_body(gen: Generation, chat: bool, want_logprobs: bool, tokenizer: Any) -> dict[str, Any]:
    pieces = _pieces(gen, tokenizer) if want_logprobs else []
    usage = {"prompt_tokens": gen.trace.prompt_tokens if gen.trace else 0, "completion_tokens": len(gen.token_ids)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    base = {"id": f"cmpl-{int(time.time() * 1000)}", "created": int(time.time()), "model": gen.model, "usage": usage}
    if chat:
        logprobs: dict[str, Any] | None = {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
                                for t, lp in pieces]} if want_logprobs else None
        choice = {"index": 0, "message": {"role": "assistant", "content": gen.text}, "finish_reason": "stop",
                  "logprobs": logprobs}
        return {**base, "object": "chat.completion", "choices": [choice]}
    text_lp: dict[str, Any] | None = {"tokens": [t for t, _ in pieces], "token_logprobs": [lp for _, lp in pieces],
                "top_logprobs": None, "text_offset": []} if want_logprobs else None
    choice = {"index": 0, "text": gen.text, "finish_reason": "stop", "logprobs": text_lp}
    return {**base, "object": "text_completion", "choices": [choice]}


def make_handler(backend: Backend, tokenizer: Any) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()  # one generation at a time: the models hold KV caches

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": backend.name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            chat = self.path.rstrip("/").endswith("/chat/completions")
            if not chat and not self.path.rstrip("/").endswith("/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if chat:
                prompt = "\n".join(str(m.get("content", "")) for m in req.get("messages", []))
            else:
                prompt = req.get("prompt", "")
                prompt = prompt[0] if isinstance(prompt, list) else prompt
            sampling = Sampling(temperature=float(req.get("temperature") or 0.0), top_p=float(req.get("top_p") or 1.0),
                                seed=req.get("seed"))
            with lock:
                gen = backend.generate(prompt, max_new_tokens=int(req.get("max_tokens") or 64), sampling=sampling)
            self._send(200, completion_body(gen, chat, bool(req.get("logprobs")), tokenizer))

    return Handler


def serve(backend: Backend, host: str = "127.0.0.1", port: int = 0, tokenizer: Any = None) -> tuple[ThreadingHTTPServer, str]:
    """Start serving in a daemon thread; returns (server, base url ending in /v1). Stop: server.shutdown()."""
    if tokenizer is None:
        tokenizer = getattr(getattr(backend, "target", None), "tokenizer", None)
    server = ThreadingHTTPServer((host, port), make_handler(backend, tokenizer))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/v1"

"""LiteLLMBackend against a real OpenAI-compatible HTTP server on 127.0.0.1 (our LocalBackend behind it)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from decoding.backends import LiteLLMBackend, LocalBackend, logprob_pieces
from decoding.openai_server import serve


@pytest.fixture(scope="module")
def server(tokenizer, lm_pair):
    target, drafter = lm_pair
    local = LocalBackend(target=(target, tokenizer), drafter=(drafter, tokenizer))
    srv, url = serve(local)
    yield local, url
    srv.shutdown()
    srv.server_close()


def test_raw_http_chat(server):
    _, url = server
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "def f"}], "max_tokens": 5,
                       "logprobs": True}).encode()
    req = urllib.request.Request(url + "/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    assert data["object"] == "chat.completion"
    assert len(data["choices"][0]["logprobs"]["content"]) == data["usage"]["completion_tokens"]


@pytest.mark.parametrize("mode", ["chat", "completion"])
def test_litellm_backend_matches_local(server, mode):
    local, url = server
    remote = LiteLLMBackend("openai/tiny", api_base=url, api_key="test-key", mode=mode)
    gen = remote.generate("import os", max_new_tokens=12)
    want = local.generate("import os", max_new_tokens=12)
    assert gen.text == want.text
    lps = gen.trace.token_logprobs["openai/tiny"]
    assert lps == pytest.approx(want.trace.token_logprobs[local.target.name], abs=1e-4)


def test_logprob_pieces_forms():
    chat = {"logprobs": {"content": [{"token": "a", "logprob": -0.5}]}}
    text = {"logprobs": {"tokens": ["a", "b"], "token_logprobs": [-1.0, -2.0]}}
    assert logprob_pieces(chat) == [("a", -0.5)]
    assert logprob_pieces(text) == [("a", -1.0), ("b", -2.0)]
    assert logprob_pieces({"logprobs": None}) == []

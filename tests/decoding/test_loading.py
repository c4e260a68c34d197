"""Loading bundled, local and hub models: offline, safetensors only, clear errors, cards."""

from __future__ import annotations

import json
import socket

import pytest

from decoding import loading
from trustcheck.cli import main
from trustcheck.errors import TrustcheckError

BUNDLED = ("target", "drafter", "validator-a", "validator-b")
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack")


@pytest.fixture
def offline(monkeypatch):
    """No network: hub offline flags set and any socket connection fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_all_four_models_are_bundled():
    assert set(BUNDLED) <= set(loading.bundled_names())


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_model_is_safetensors_with_a_complete_card(name):
    model_dir = loading.BUNDLED_DIR / name
    files = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "card.json", "README.md"} <= files
    assert not [f for f in files if f.endswith(FORBIDDEN_SUFFIXES)]
    card = loading.bundled_card(name)
    for field in ("name", "arch", "model_type", "parameters", "seed", "data", "training", "eval", "date", "tokenizer"):
        assert field in card, field
    assert card["name"] == name
    assert card["eval"]["ppl"] > 1 and card["training"]["tokens_seen"] > 0
    assert card["data"]["shard"] in ("target", "validator-a", "validator-b")
    if name == "drafter":
        assert card["distillation"]["ppl_before"] > 1


def test_validators_are_independent_of_the_target():
    cards = {n: loading.bundled_card(n) for n in BUNDLED}
    shards = {cards[n]["data"]["shard"] for n in ("target", "validator-a", "validator-b")}
    assert len(shards) == 3  # disjoint by construction: one shard each
    assert len({cards[n]["seed"] for n in BUNDLED}) == 4
    assert cards["validator-a"]["model_type"] != cards["target"]["model_type"] != cards["validator-b"]["model_type"]
    manifest = json.loads((loading.BUNDLED_DIR / "data-manifest.json").read_text())
    hashes = [
        {row[2] for row in manifest["shards"][s]["entries"]} for s in ("target", "validator-a", "validator-b", "eval")
    ]
    assert all(not (a & b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])


def test_no_pickled_weights_anywhere_in_the_package():
    package = loading.BUNDLED_DIR.parent
    assert not [p for p in package.rglob("*") if p.suffix in FORBIDDEN_SUFFIXES]


def test_bundle_fits_the_size_budget():
    total = sum(p.stat().st_size for p in loading.BUNDLED_DIR.rglob("*") if p.is_file())
    assert total <= 64 * 1024 * 1024


def test_load_bundled_drafter_offline(offline):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    loading.clear_cache()
    loaded = loading.load_model("bundled:drafter")
    assert loaded.name == "bundled:drafter" and loaded.card["name"] == "drafter"
    assert loaded.model.dtype == torch.float32 and not loaded.model.training
    ids = loaded.tokenizer("def add(a, b):\n    return", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = loaded.model(input_ids=ids).logits
    assert logits.shape == (1, ids.shape[1], len(loaded.tokenizer))
    assert loading.load_model("bundled:drafter") is loaded  # cached per process


def test_bundled_models_share_one_tokenizer():
    texts = {(loading.BUNDLED_DIR / n / "tokenizer.json").read_text() for n in BUNDLED}
    assert len(texts) == 1


def test_load_from_local_directory(tmp_path, offline):
    torch = pytest.importorskip("torch")
    from decoding.training.configs import build_model
    from decoding.training.tokenizer import load_tokenizer

    torch.set_num_threads(1)
    tokenizer = load_tokenizer(loading.BUNDLED_DIR / "drafter")
    build_model("tiny", 0, len(tokenizer)).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    loaded = loading.load_model(str(tmp_path), dtype="bfloat16")
    assert loaded.model.dtype == torch.bfloat16 and loaded.card == {}


def test_unknown_bundled_name_lists_the_real_ones():
    with pytest.raises(TrustcheckError) as err:
        loading.load_model("bundled:nope")
    assert "bundled:target" in err.value.hint


def test_missing_local_path_is_a_user_error(tmp_path):
    with pytest.raises(TrustcheckError, match="no model directory"):
        loading.load_model(str(tmp_path / "absent"))
    with pytest.raises(TrustcheckError, match="config.json"):
        loading.load_model(str(tmp_path))


def test_hub_id_needs_permission_to_download(offline):
    pytest.importorskip("transformers")
    with pytest.raises(TrustcheckError) as err:
        loading.load_model("someone/not-a-cached-model")
    assert "allow_download" in err.value.hint


def test_cli_models_list_and_info(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert all(f"bundled:{n}" in out for n in BUNDLED)
    assert main(["models", "info", "target"]) == 0
    assert "held-out" in capsys.readouterr().out
    assert main(["models", "info", "bundled:drafter", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "drafter"
    assert main(["models", "info", "nope"]) == 2


def test_cli_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, trustcheck.cli.models; print('torch' in sys.modules or 'transformers' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_wheel_package_data_includes_the_bundle():
    import tomllib

    pyproject = tomllib.loads((loading.BUNDLED_DIR.parents[1] / "pyproject.toml").read_text())
    assert "bundled/**/*" in pyproject["tool"]["setuptools"]["package-data"]["decoding"]

"""Asynchronous speculative decoding (AMUSD): the drafter drafts on in its own process while the
target verifies; rejected drafts roll both back to the agreed prefix.

Drafter process (`_draft_loop`): keeps extending its own sequence greedily, sending each token as
("draft", epoch, position, token); stays at most `max_ahead` tokens past the last verified length.
Target (the caller's process): waits for at least one draft, takes every draft that has arrived (up
to `max_block`), verifies them in one forward pass, appends accepted + 1. On a mismatch it bumps the
epoch and sends ("rollback", epoch, position, tokens): the drafter truncates to `position`, appends
the verified tokens and drafts on; drafts from older epochs are discarded on arrival.
Greedy only: output equals the target's greedy decoding. (Exact sampling would also be possible here,
sending q with each draft; it is not implemented.)

Process hygiene: the worker is a daemon, ignores SIGINT (the parent decides), reports exceptions as
("error", text), and `DraftWorker.close()` (also on `with` exit / errors / Ctrl-C in the parent)
asks it to stop, then joins, then terminates if it must.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Sequence
from typing import Any

import torch

from decoding.acceptance import accept_greedy
from decoding.protocols import GREEDY, Sampling, Verifier
from decoding.schedulers.common import OnTokens, Output, now, record
from decoding.trace import DecodeTrace, Round


def _setup_child(threads: int, core: int | None) -> None:
    """In a worker: leave Ctrl-C to the parent, set torch's threads, pin to a core if asked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    if core is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})


def _load_prefix(seq: torch.Tensor, kind: str, pos: int, toks: Sequence[int]) -> tuple[torch.Tensor, int]:
    """Apply a "reset" (fresh buffer) or "rollback" (overwrite from `pos`) message to a worker's token
    buffer; returns the buffer and the new agreed length."""
    if kind == "reset":
        seq = torch.empty(pos + len(toks) + 4096, dtype=torch.long)
    seq[pos: pos + len(toks)] = torch.tensor(toks, dtype=torch.long)
    return seq, pos + len(toks)


def _draft_loop(conn: Any, model: Any, max_ahead: int, threads: int, core: int | None = None) -> None:
    """Worker body: (reset | rollback | ack | stop) messages in, draft tokens out."""
    _setup_child(threads, core)
    from decoding.drafters import make_lm

    busy = 0.0
    try:
        lm = make_lm(model, fast=True)
        seq = torch.empty(0, dtype=torch.long)
        length = verified = epoch = 0
        active = False
        with torch.inference_mode():
            while True:
                while conn.poll(0) or not active or length - verified >= max_ahead:
                    msg = conn.recv()
                    kind = msg[0]
                    if kind == "stop":
                        return
                    if kind == "stats":
                        conn.send(("stats", [busy]))
                        busy = 0.0
                        active = False
                        continue
                    _, ep, pos, toks = msg
                    if kind in ("reset", "rollback"):
                        active = active or kind == "reset"
                        epoch = ep
                        seq, length = _load_prefix(seq, kind, pos, toks)
                        verified = length
                    elif kind == "ack" and ep == epoch:
                        verified = max(verified, pos)
                t0 = time.perf_counter()
                tok = int(lm.forward(seq[:length])[-1].argmax())
                seq[length] = tok
                length += 1
                busy += time.perf_counter() - t0
                conn.send(("draft", epoch, length - 1, tok))
    except Exception:  # noqa: BLE001 - any failure is reported to the parent, never left to hang it
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))


class DraftWorker:
    """A drafter model running in a child process; reusable across generations. Use as a context manager."""

    def __init__(self, model: Any, name: str = "drafter", max_ahead: int = 8, threads: int = 1,
                 start_method: str = "fork", core: int | None = None, timeout: float = 60.0) -> None:
        self.name = name
        self.max_ahead = max_ahead
        ctx: Any = mp.get_context(start_method)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_draft_loop, args=(child, model, max_ahead, threads, core), daemon=True)
        self.timeout = timeout
        self.process.start()
        child.close()

    def send(self, msg: tuple) -> None:
        self.conn.send(msg)

    def recv(self) -> tuple:
        """The next message; raises if the worker failed, died, or said nothing for `timeout` seconds."""
        if not self.conn.poll(self.timeout):
            raise TimeoutError(f"no message from the drafter process in {self.timeout:.0f}s")
        msg = self.conn.recv()
        if msg[0] == "error":
            raise RuntimeError(f"drafter process failed:\n{msg[1]}")
        return msg

    def close(self, timeout: float = 2.0) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        self.conn.close()

    def __enter__(self) -> DraftWorker:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def asynchronous(verifier: Verifier, worker: DraftWorker, prompt_ids: torch.Tensor, *, max_new_tokens: int = 128,
                 max_block: int = 8, min_block: int | None = None, sampling: Sampling = GREEDY,
                 eos_token_id: int | None = None, extra_verifiers: Sequence[Verifier] = (),
                 on_tokens: OnTokens | None = None, generator: torch.Generator | None = None) -> DecodeTrace:
    """Verify whatever the drafter process has drafted, as it arrives; see the module docstring.

    min_block: wait for at least this many drafts before verifying (default max_block - 1). A verify
    pass costs nearly the same for 2 tokens as for 5 on a CPU, so verifying each draft as it arrives
    wastes target passes whenever the drafter is slowed down (cores shared with other work: measured
    94 -> 115 tok/s on the bundled models with min_block 1 -> 3). Capped at the worker's
    max_ahead - 1 (the most it drafts past the target's bonus token): never waits for drafts that
    cannot come.
    """
    if not sampling.greedy:
        raise ValueError("asynchronous decoding is greedy only; use the speculative scheduler to sample")
    out = Output(prompt_ids, max_new_tokens, eos_token_id)
    wanted = max_block - 1 if min_block is None else min_block
    min_block = max(1, min(wanted, max_block, getattr(worker, "max_ahead", 2) - 1))
    trace = DecodeTrace("async", verifier.name, [worker.name], prompt_ids.shape[0],
                        meta={"max_block": max_block, "min_block": min_block})
    epoch, rollbacks, received, wasted = 1, 0, 0, 0
    start = now()
    worker.send(("reset", epoch, 0, prompt_ids.tolist()))
    drafts: list[int] = []
    try:
        while not out.done:
            t0 = now()
            while len(drafts) < min_block or (len(drafts) < max_block and worker.conn.poll(0)):
                _, ep, pos, tok = worker.recv()
                received += 1
                if ep != epoch:
                    wasted += 1
                    continue
                length = out.length
                if pos < length:  # a position the target already decided (its bonus token)
                    if tok != int(out.buf[pos]):
                        epoch += 1
                        rollbacks += 1
                        worker.send(("rollback", epoch, pos, out.buf[pos:length].tolist()))
                    continue
                if pos == length + len(drafts):
                    drafts.append(tok)
            t1 = now()
            context = out.context
            block = torch.tensor(drafts, dtype=torch.long)
            logits = verifier.logits(context, block)
            n, new = accept_greedy(block, logits)
            appended = out.append(new)
            if n < len(drafts):  # the drafter's tokens from drafts[n] on are wrong: roll it back
                epoch += 1
                rollbacks += 1
                wasted += len(drafts) - n
                worker.send(("rollback", epoch, out.length - 1, [int(new[-1])]))
            else:
                worker.send(("ack", epoch, out.length - 1, []))
            t2 = now()
            extra_s = record(trace, verifier.name, logits, context, appended, extra_verifiers, on_tokens)
            trace.rounds.append(Round(len(drafts), n, t1 - t0, t2 - t1, extra_s, worker.name))
            drafts = []
        worker.send(("stats",))
        while (msg := worker.recv())[0] != "stats":
            pass
        busy = msg[1]  # seconds busy, top stage first, the drafter last
    except BaseException:
        worker.close()  # on errors and Ctrl-C: no orphaned drafter
        raise
    trace.total_s = now() - start
    verify_busy = sum(r.verify_s for r in trace.rounds)
    trace.meta.update(rollbacks=rollbacks, drafted_received=received, wasted_drafts=wasted,
                      target_busy=verify_busy / trace.total_s, drafter_busy=busy[-1] / trace.total_s)
    if len(busy) > 1:
        trace.meta["stage_busy"] = [b / trace.total_s for b in busy[:-1]]
    return trace


def _stage_loop(up: Any, down: Any, model: Any, max_ahead: int, max_block: int, threads: int,
                core: int | None = None) -> None:
    """An intermediate stage (PipeSpec): verifies the stream from the stage below with its own model,
    streams its verified tokens up as drafts, and cascades rollbacks from above down."""
    from multiprocessing.connection import wait

    from decoding.verifiers import ModelVerifier

    _setup_child(threads, core)
    busy = 0.0
    try:
        verifier = ModelVerifier(model, fast=True)
        seq = torch.empty(0, dtype=torch.long)
        length = verified = epoch_up = 0
        epoch_down = 1
        drafts: list[int] = []
        active = False
        with torch.inference_mode():
            while True:
                # messages from above first; block on both pipes when there is nothing to verify
                while up.poll(0) or not active or length - verified >= max_ahead or (not drafts and not down.poll(0)):
                    ready = [up] if not active or length - verified >= max_ahead else wait([up, down])
                    if up not in ready:
                        break
                    msg = up.recv()
                    kind = msg[0]
                    if kind == "stop":
                        down.send(("stop",))
                        return
                    if kind == "stats":
                        down.send(("stats",))
                        while (reply := down.recv())[0] != "stats":
                            pass
                        up.send(("stats", [busy, *reply[1]]))
                        busy, active = 0.0, False
                        continue
                    _, ep, pos, toks = msg
                    if kind in ("reset", "rollback"):
                        active = active or kind == "reset"
                        epoch_up = ep
                        seq, length = _load_prefix(seq, kind, pos, toks)
                        verified = length
                        epoch_down += 1  # cascade: the stage below restarts from the same prefix
                        down.send(("reset" if kind == "reset" else "rollback", epoch_down, 0 if kind == "reset" else pos,
                                   seq[:length].tolist() if kind == "reset" else toks))
                        drafts = []
                    elif kind == "ack" and ep == epoch_up:
                        verified = max(verified, pos)
                while down.poll(0) and len(drafts) < max_block:
                    msg = down.recv()
                    if msg[0] == "error":
                        raise RuntimeError(msg[1])
                    _, ep, pos, tok = msg
                    if ep != epoch_down:
                        continue
                    if pos < length:
                        if tok != int(seq[pos]):
                            epoch_down += 1
                            down.send(("rollback", epoch_down, pos, seq[pos:length].tolist()))
                        continue
                    if pos == length + len(drafts):
                        drafts.append(tok)
                if not drafts:
                    continue
                t0 = time.perf_counter()
                block = torch.tensor(drafts, dtype=torch.long)
                n, new = accept_greedy(block, verifier.logits(seq[:length], block))
                m = new.shape[0]
                seq[length: length + m] = new
                for i, tok in enumerate(new.tolist()):
                    up.send(("draft", epoch_up, length + i, tok))
                length += m
                if n < len(drafts):
                    epoch_down += 1
                    down.send(("rollback", epoch_down, length - 1, [int(new[-1])]))
                else:
                    down.send(("ack", epoch_down, length - 1, []))
                drafts = []
                busy += time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - reported to the parent
        with contextlib.suppress(OSError):
            up.send(("error", traceback.format_exc()))


class PipelineWorker(DraftWorker):
    """A chain of processes: models[0] drafts, models[1:] verify the stage below them (PipeSpec);
    the caller's target verifies the top stage. Same protocol as DraftWorker for `asynchronous`."""

    def __init__(self, models: Sequence[Any], name: str = "pipeline", max_ahead: int = 8, max_block: int = 8,
                 threads: int = 1, start_method: str = "fork", cores: Sequence[int] | None = None,
                 timeout: float = 60.0) -> None:
        self.name = name
        self.max_ahead = max_ahead
        self.timeout = timeout

        def core(i: int) -> int | None:
            return cores[i % len(cores)] if cores else None

        ctx: Any = mp.get_context(start_method)
        self.processes = []
        below, child = ctx.Pipe()
        self.processes.append(ctx.Process(target=_draft_loop, args=(child, models[0], max_ahead, threads, core(0)),
                                          daemon=True))
        for i, model in enumerate(models[1:], start=1):
            above, child_up = ctx.Pipe()
            self.processes.append(ctx.Process(target=_stage_loop, args=(child_up, below, model, max_ahead, max_block,
                                                                         threads, core(i)), daemon=True))
            below = above
        self.conn = below
        for p in self.processes:
            p.start()
        self.process = self.processes[-1]

    def close(self, timeout: float = 2.0) -> None:
        if self.process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self.conn.send(("stop",))
        for p in reversed(self.processes):
            p.join(timeout)
            if p.is_alive():
                p.terminate()
                p.join(timeout)
        self.conn.close()

"""Asynchronous drafter process: greedy output identical to the target; no child process left behind."""

from __future__ import annotations

import multiprocessing as mp

import pytest
import torch

from decoding.schedulers.asynchronous import DraftWorker, asynchronous
from decoding.verifiers import ModelVerifier


def test_async_greedy_identical(target, drafter_model, prompts, references):
    with DraftWorker(drafter_model, max_ahead=6) as worker, torch.inference_mode():
        for prompt, ref in zip(prompts, references):
            trace = asynchronous(ModelVerifier(target), worker, prompt, max_new_tokens=24, max_block=6)
            assert trace.tokens == ref[:24]
            assert 0 <= trace.meta["drafter_busy"] <= 1
    assert not worker.process.is_alive()
    assert not mp.active_children()


def test_async_min_block_waits_for_drafts(target, drafter_model, prompts, references):
    """Every round verifies at least min_block drafts; a min_block the drafter could never fill (it
    stops max_ahead tokens past the target) is capped instead of waiting forever."""
    with DraftWorker(drafter_model, max_ahead=4) as worker, torch.inference_mode():
        trace = asynchronous(ModelVerifier(target), worker, prompts[3], max_new_tokens=24, max_block=6, min_block=3)
        assert trace.tokens == references[3][:24]
        assert all(r.drafted >= 3 for r in trace.rounds)
        capped = asynchronous(ModelVerifier(target), worker, prompts[5], max_new_tokens=24, max_block=6,
                              min_block=10)
        assert capped.tokens == references[5][:24]
        assert capped.meta["min_block"] == 3


def test_async_with_bad_drafter_still_exact(target, prompts, references, harness):
    with DraftWorker(harness.tiny_llama(7), max_ahead=3) as worker, torch.inference_mode():
        trace = asynchronous(ModelVerifier(target), worker, prompts[4], max_new_tokens=24)
    assert trace.tokens == references[4][:24]
    assert trace.meta["rollbacks"] > 0


def test_child_exception_is_raised_and_process_reaped(target, prompts):
    class Broken(torch.nn.Module):
        config = None

    worker = DraftWorker(Broken())
    with pytest.raises(RuntimeError, match="drafter process failed"), torch.inference_mode():
        asynchronous(ModelVerifier(target), worker, prompts[0], max_new_tokens=8)
    worker.process.join(5)
    assert not worker.process.is_alive()


def test_interrupt_in_parent_stops_child(target, drafter_model, prompts):
    def interrupt(_tokens):
        raise KeyboardInterrupt

    worker = DraftWorker(drafter_model)
    with pytest.raises(KeyboardInterrupt), torch.inference_mode():
        asynchronous(ModelVerifier(target), worker, prompts[0], max_new_tokens=24, on_tokens=interrupt)
    assert not worker.process.is_alive()


def test_async_pipeline_greedy_identical(target, drafter_model, prompts, references, harness):
    from decoding.schedulers.asynchronous import PipelineWorker

    middle = harness.perturbed(target, 0.15, seed=9)
    with PipelineWorker([drafter_model, middle], max_ahead=6) as worker, torch.inference_mode():
        for prompt, ref in zip(prompts, references):
            trace = asynchronous(ModelVerifier(target), worker, prompt, max_new_tokens=24, max_block=6)
            assert trace.tokens == ref[:24]
        assert len(trace.meta["stage_busy"]) == 1
    assert not any(p.is_alive() for p in worker.processes)
    assert not mp.active_children()


class Sleeper(torch.nn.Module):
    """A 'model' whose forward never returns in time."""

    config = None

    def forward(self, **_kw):
        import time

        time.sleep(30)


def test_timeout_raises_and_process_reaped(target, prompts):
    worker = DraftWorker(Sleeper(), timeout=1.0)
    with pytest.raises(TimeoutError), torch.inference_mode():
        asynchronous(ModelVerifier(target), worker, prompts[0], max_new_tokens=8)
    assert not worker.process.is_alive()


def test_cores_pinning_accepted(target, drafter_model, prompts, references):
    with DraftWorker(drafter_model, core=0) as worker, torch.inference_mode():
        trace = asynchronous(ModelVerifier(target), worker, prompts[0], max_new_tokens=24)
    assert trace.tokens == references[0][:24]

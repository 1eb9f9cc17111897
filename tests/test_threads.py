"""Decode threads chosen by timing (`generate.threads`): the choice follows the measured costs, and never changes
the numbers, so a seed gives the same piece on any thread count."""

import dataclasses

import numpy as np
import pytest
import torch

import musenet
import musenet.generate.engine as engine
from musenet.generate.config import GenerateConfig
from musenet.generate.threads import ThreadChooser, same_on_threads, thread_options, threads
from musenet.model.decode import Decoder
from musenet.model.gpt import Positions


class Clock:
    """A clock that the work itself advances: each call of `work(n)` takes `costs[n]` seconds."""

    def __init__(self, costs: dict[int, float]):
        self.costs, self.now, self.log = costs, 0.0, []

    def __call__(self) -> float:
        return self.now

    def work(self, units: float = 1.0) -> int:
        n = torch.get_num_threads()
        self.now += self.costs[n] * units
        self.log.append(n)
        return n


def run(chooser: ThreadChooser, clock: Clock, calls: int) -> list[int]:
    with threads(torch.get_num_threads()):
        return [chooser.run(clock.work) for _ in range(calls)]


@pytest.mark.parametrize("costs, winner", [({2: 0.1, 1: 0.006}, 1), ({2: 0.002, 1: 0.003}, 2)])
def test_the_faster_thread_count_wins_and_the_slower_is_retimed_within_its_budget(costs, winner):
    clock = Clock(costs)
    chooser = ThreadChooser((2, 1), probe=3, warmup=1, budget=0.02, clock=clock)
    used = run(chooser, clock, 10_000)
    assert used[:4] == [2] * 4 and used[4:8] == [1] * 4  # each timed in turn: a warm-up call, then 3
    assert chooser.best == winner
    assert used[-100:].count(winner) >= 96
    loser = 3 - winner
    # the loser's probes (4 calls each) come back after ~probe * ratio / budget calls: they cost <= ~budget of the time
    spent = sum(costs[n] for n in used[8:] if n == loser)
    assert 0 < spent <= 1.5 * chooser.budget * sum(costs[n] for n in used[8:])


def test_a_machine_that_frees_up_gets_its_threads_back():
    clock = Clock({2: 0.1, 1: 0.006})  # busy: two threads lose
    chooser = ThreadChooser((2, 1), clock=clock)
    run(chooser, clock, 50)
    assert chooser.best == 1
    clock.costs = {2: 0.002, 1: 0.003}  # the other job ends
    used = run(chooser, clock, 20_000)
    assert used[-100:].count(2) >= 96


def test_calls_of_different_sizes_are_compared_per_unit_of_work():
    clock = Clock({2: 0.001, 1: 0.002})  # seconds per token of a refill
    chooser = ThreadChooser((2, 1), probe=1, warmup=0, clock=clock)
    with threads(torch.get_num_threads()):
        chooser.run(clock.work, 400, units=400)  # a full window on 2 threads: 0.4 s
        chooser.run(clock.work, 100, units=100)  # a short one on 1 thread: 0.2 s, twice the time a token
    assert chooser.best == 2 and chooser.cost == pytest.approx({2: 0.001, 1: 0.002})


def test_one_option_is_never_timed_or_changed():
    clock = Clock({1: 0.01})
    chooser = ThreadChooser((1,), clock=clock)
    assert run(chooser, clock, 10) == [1] * 10 and chooser.cost == {}
    with pytest.raises(ValueError, match="positive"):
        ThreadChooser((0, 1))


def test_thread_options():
    assert thread_options(1, 8) == (1,)  # a single stream's step: matrix-vector products on one thread
    assert thread_options(2, 1) == (1,)
    assert thread_options(4, 2) == (2, 1)


@pytest.fixture(scope="module")
def composer():
    return musenet.load(None)


@pytest.mark.parametrize("batch", [1, 2, 4])
@pytest.mark.parametrize(
    "tokens", [100, 300]
)  # a fill of a short primer (here MKL splits some sums), a refill
def test_where_the_probes_allow_two_threads_the_logits_are_the_same(composer, batch, tokens):
    m = composer.model
    g = torch.Generator().manual_seed(batch)
    idx = torch.randint(0, composer.vocab.n_notes, (batch, tokens + 20), generator=g)
    pos = Positions(*(torch.randint(0, 50, (batch, tokens + 20), generator=g) for _ in range(4)))
    fills, steps = [], []
    with threads(torch.get_num_threads()):
        for n in (1, 2):
            torch.set_num_threads(n)
            step, cache = Decoder(m), m.new_cache(batch, tokens + 20)
            with torch.inference_mode():
                fills.append(step.fill(idx[:, :tokens], Positions(*(f[:, :tokens] for f in pos)), cache))
                out = [
                    step(idx[:, t], Positions(*(f[:, t] for f in pos)), cache)
                    for t in range(tokens, tokens + 20)
                ]
            steps.append(torch.stack(out))
    step = Decoder(m)
    if same_on_threads(step.probes(batch, tokens), 2):
        assert torch.equal(fills[0], fills[1])
        if same_on_threads(step.probes(batch), 2):
            assert torch.equal(steps[0], steps[1])


class FirstChoice(ThreadChooser):
    """A chooser that always runs the first of the options it is offered: the timing's verdict, forced."""

    def pick(self) -> int:
        return self.options[0]


@pytest.mark.parametrize("request_kind", ["guided band", "primer"])
def test_a_seed_gives_the_same_piece_whatever_the_threads(composer, monkeypatch, request_kind):
    if request_kind == "guided band":
        sampling = dataclasses.replace(composer.sampling, guidance=2.0)
        cfg, primer = GenerateConfig("pop", ("piano", "bass", "drums"), 4.0, 2, 7, sampling), None
    else:  # one stream after a primer of ~100 tokens: its fill is one of the shapes whose sums MKL splits here
        first = engine.generate_ids(
            composer.model, composer.vocab, GenerateConfig("pop", ("piano",), 6.0, 1, 3)
        )
        ids = first[0].ids
        body = ids[int(np.flatnonzero(ids == composer.vocab.start)[0]) + 1 :]
        body = (
            body[: int(np.flatnonzero(body == composer.vocab.end)[0])] if composer.vocab.end in body else body
        )
        primer = engine.Primer(body[:100], 600)
        cfg = GenerateConfig(
            "pop", ("piano",), 8.0, 1, 5, dataclasses.replace(composer.sampling, guidance=1.0)
        )
    before = torch.get_num_threads()
    pieces = []
    monkeypatch.setattr(engine, "ThreadChooser", FirstChoice)
    # whatever the timing decides among the options the engine offers: two threads first, one first, or timed
    for policy in ((2, 1), (1, 2), None):
        options = thread_options if policy is None else lambda r, a, p=policy: p if r > 1 else (1,)
        monkeypatch.setattr(engine, "thread_options", options)
        if policy is None:
            monkeypatch.setattr(engine, "ThreadChooser", ThreadChooser)
        out = engine.generate_ids(composer.model, composer.vocab, cfg, primer)
        pieces.append([g.ids for g in out])
        assert torch.get_num_threads() == before  # restored after the loop
    for other in pieces[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(pieces[0], other, strict=True))

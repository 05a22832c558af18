"""Every rule (the noise rules too) runs in time linear in the length of
the line, on crafted worst cases: a local user can write any line with
logger(1), up to 64 KiB.  Timed as a ratio between sizes, never against a
clock: a match on a line eight times longer may take about eight times as
long, not sixty-four."""

import re
import time

import pytest
from helpers import NOW
from test_parsing import SAMPLES

import authwatch

SIZES = (1024, 8 * 1024, 64 * 1024)
LINEAR = 8  # how much longer each line is than the one before
FLOOR = 50e-6  # seconds: below this, a time says more of the timer than of the pattern
SLACK = 2.5  # timers and caches: a quadratic pattern shows 8 times more than this allows


def crafted(message, size):
    """Given a message a rule matches and a size, return hostile variants of
    about that size: the message repeated, and its head followed by a piece
    of it (one to six words, or one character) pumped again and again, so
    that what must end the match never comes: the pieces a pattern may try
    again at every place.
    """
    bounds = sorted(
        {0, len(message)} | {index for index, char in enumerate(message) if char == " "}
    )
    variants = [(message + " ") * (size // (len(message) + 1) + 1)]
    for first, start in enumerate(bounds):
        for end in bounds[first + 1 : first + 7]:
            piece = message[start:end]
            variants.append(message[:start] + piece * (size // len(piece) + 1))
        # and one character pumped: a word that never ends
        for at in (start, start + 1):
            if at < len(message):
                variants.append(message[:at] + message[at] * size)
    return [variant[:size] for variant in variants]


def slowest(match, texts, runs=3):
    """Given a match function and texts, return the most seconds any text
    took (the best of a few runs each)."""
    worst = 0.0
    for text in texts:
        best = min(timed(match, text) for _ in range(runs))
        worst = max(worst, best)
    return worst


def timed(match, text):
    started = time.perf_counter()
    match(text)
    return time.perf_counter() - started


def messages_by_rule():
    """Return {rule name: [messages of its samples]} (two samples a rule)."""
    found = {}
    for *_, line, _ in SAMPLES:
        record = authwatch.parse_line(line, NOW)
        name = authwatch.classify(record).rule
        if name and len(found.setdefault(name, [])) < 2:
            found[name].append(record.message)
    return found


MESSAGES = messages_by_rule()


def growth(match, messages, suspects=3):
    """Given a match function and messages, return how much longer crafted
    lines took than those eight times shorter (1 to 8 KiB, 8 to 64 KiB), for
    the few variants that were slowest at the shorter size."""
    by_size = [[text for message in messages for text in crafted(message, size)] for size in SIZES]
    ratios = []
    for small, large in zip(by_size, by_size[1:]):
        order = sorted(range(len(small)), key=lambda index: -timed(match, small[index]))
        ratios += [
            slowest(match, [large[index]]) / max(slowest(match, [small[index]]), FLOOR)
            for index in order[:suspects]
        ]
    return max(ratios)


@pytest.mark.parametrize("rule", authwatch.RULES, ids=lambda rule: rule.name)
def test_every_rule_is_linear(rule):
    match = re.compile(rule.pattern).fullmatch
    messages = MESSAGES.get(rule.name)
    assert messages, f"{rule.name} has no sample to craft lines from"
    assert growth(match, messages) < LINEAR * SLACK


def test_the_header_parser_is_linear():
    lines = [line for *_, line, _ in SAMPLES[:: max(1, len(SAMPLES) // 40)]]
    assert growth(lambda line: authwatch.parse_line(line, NOW), lines) < LINEAR * SLACK

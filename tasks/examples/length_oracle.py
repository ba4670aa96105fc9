#!/usr/bin/env python3
"""An example migrate oracle: copy this file and replace score() with your own objective.

Toy objective: write a phrase exactly TARGET characters long. The reward is 1.0 for exactly TARGET characters
and falls linearly to 0 at 0 or 2*TARGET characters, so the search gets a useful signal from near misses.

Protocol (docs/oracle.md): migrate writes one JSON object per line on stdin,
    {"id": 7, "candidate": "some text"}
and expects exactly one JSON line per request on stdout, in any order,
    {"id": 7, "reward": 0.75, "valid": true, "info": "length 9"}
"valid" (default true) and "info" (default "") may be left out. stdout is the protocol channel: log to stderr.
A real oracle (a SimCSE similarity for Semantle, a docking score) loads its model once, before the loop.

Try it:  echo '{"id": 1, "candidate": "hello world!"}' | python3 tasks/examples/length_oracle.py
Use it:  task: {type: oracle, command: "python3 tasks/examples/length_oracle.py", solved_reward: 1.0, prompt: ...}
"""
import json
import sys

TARGET = 12


def score(candidate):
    """Returns (reward, valid, info). Raise, or return valid=False, for a candidate that cannot be scored."""
    n = len(candidate)  # characters (code points), not bytes
    if n == 0:
        return 0.0, False, "empty candidate"
    return max(0.0, 1.0 - abs(n - TARGET) / TARGET), True, f"length {n}"


def main():
    # Expensive set-up (loading a model) goes here, before the first request is read.
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            reward, valid, info = score(request["candidate"])
        except Exception as exc:  # one bad candidate must not take the worker down
            reward, valid, info = 0.0, False, f"{type(exc).__name__}: {exc}"
        reply = {"id": request["id"], "reward": float(reward), "valid": bool(valid), "info": str(info)}
        print(json.dumps(reply), flush=True)  # flush: migrate waits for the line, not for the buffer


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Test helper for tests/unit/test_oracle.c: an oracle that misbehaves on cue. The candidate picks what it does:

  sleep    never answers                          -> the call times out
  crash    exits with status 3                    -> "oracle exited with status 3"
  kill     kills itself with SIGKILL              -> "oracle was killed by signal 9 ..."
  garbage  prints a line that is not JSON
  nan      prints reward NaN (Python's json writes it; it is not JSON)
  big      answers reward 1e308: finite, but beyond the allowed range (|reward| <= 1e9)
  edge     answers reward -1e9, the end of the allowed range (valid)
  noid     answers without an id
  wrongid  answers an id it was not asked
  huge     prints a 2 MB line
  reject   answers valid: false, info "rejected", and no reward
  stderr   writes to stderr, then answers correctly
  blank    prints blank lines (which are skipped), then answers correctly
  slow     waits 0.3 s, then answers correctly (so replies come back out of order)
anything else: reward = len(candidate) / 100, info = the candidate itself (checks the text arrived intact).
"""
import json
import os
import signal
import sys
import time


def answer(rid, candidate):
    return {"id": rid, "reward": len(candidate) / 100, "valid": True, "info": candidate}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        rid, c = request["id"], request["candidate"]
        if c == "sleep":
            time.sleep(3600)
        elif c == "crash":
            sys.exit(3)
        elif c == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif c == "garbage":
            print("this is not json", flush=True)
        elif c == "nan":
            print(json.dumps({"id": rid, "reward": float("nan")}), flush=True)
        elif c == "big":
            print(json.dumps({"id": rid, "reward": 1e308}), flush=True)
        elif c == "edge":
            print(json.dumps({"id": rid, "reward": -1e9, "info": "edge"}), flush=True)
        elif c == "noid":
            print(json.dumps({"reward": 0.5}), flush=True)
        elif c == "wrongid":
            print(json.dumps({"id": rid + 1000, "reward": 0.5}), flush=True)
        elif c == "huge":
            print(json.dumps({"id": rid, "reward": 0.5, "info": "x" * (2 << 20)}), flush=True)
        elif c == "reject":
            print(json.dumps({"id": rid, "valid": False, "info": "rejected"}), flush=True)
        else:
            if c == "blank":
                print("\n  \t", flush=True)
            elif c == "stderr":
                print("misbehaving_oracle: a note on stderr", file=sys.stderr, flush=True)
            elif c == "slow":
                time.sleep(0.3)
            print(json.dumps(answer(rid, c)), flush=True)


if __name__ == "__main__":
    main()

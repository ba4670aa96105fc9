#!/usr/bin/env python3
"""A stand-in Semantle oracle for the tests (standard library only; docs/oracle.md's protocol): a guess shares k
distinct letters with the secret word and scores 1 - 0.5**(k+1), the secret itself 1.0 ("found"). Its info reads
like the built-in task's ("rank N/1000", N = 1000 x reward, at most 999), so `migrate ablate`'s rank columns can be
checked against the rewards. --seen FILE: append the secret word to FILE when starting, so a
test can see which target each oracle process was given; --calls FILE: append each candidate it is asked to score.
"""
import argparse
import json
import re
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--seen")
    ap.add_argument("--calls")
    args = ap.parse_args()
    if args.seen:
        with open(args.seen, "a") as f:
            f.write(args.target + "\n")
    secret = set(args.target)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if args.calls:
            with open(args.calls, "a") as f:
                f.write(json.dumps(request["candidate"]) + "\n")
        m = re.search(r"[A-Za-z][A-Za-z'-]*", request["candidate"])
        word = m.group(0).rstrip("'-").lower() if m else ""
        if not word:
            reply = {"reward": 0.0, "valid": False, "info": "no word"}
        elif word == args.target:
            reply = {"reward": 1.0, "valid": True, "info": "found"}
        else:
            reward = 1.0 - 0.5 ** (len(secret & set(word)) + 1)
            rank = min(999, int(reward * 1000))
            reply = {"reward": reward, "valid": True, "info": f"rank {rank}/1000"}
        reply["id"] = request["id"]
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()

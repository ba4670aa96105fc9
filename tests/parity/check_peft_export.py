"""Checks that PEFT loads the adapter `migrate run` leaves behind and computes what the engine computes with it.

    python3 tests/parity/check_peft_export.py BUILD_DIR

Runs a short MiGrATe search on the tiny Llama fixture (LoRA r 8 on all-linear, i.e. the seven projections, a large learning rate so the
adapter moves), exports the adapter from the checkpoint with `migrate export`, loads it with
PeftModel.from_pretrained and compares per-token log-probabilities of a completion with `migrate score --adapter`.
Not a ctest (it needs PyTorch and peft); the C side of the round trip is tests/unit/test_peft.c.
"""
import os
import re
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

build = sys.argv[1]
migrate = os.path.join(build, "migrate")
base_dir = "tests/parity/fixtures/llama3-tiny"
out = tempfile.mkdtemp()
subprocess.run([migrate, "run", "jobs/semantle-demo.yaml", "--quiet", "--set", f"model={base_dir}",
                "--set", "iterations=4", "--set", "training.learning_rate=5e-2", "--set", "lora.r=8",
                "--set", "lora.target_modules=all-linear", "--set", f"output_dir={out}/run"], check=True,
               capture_output=True)
subprocess.run([migrate, "export", f"{out}/run/checkpoint.h5", "--out", f"{out}/peft"], check=True, capture_output=True)

prompt, completion = "The ocean is", " deep and blue, said the sailor."
res = subprocess.run([migrate, "score", "--model", base_dir, "--adapter", f"{out}/peft", "--prompt", prompt,
                      "--completion", completion], check=True, capture_output=True, text=True).stdout
ours = [(int(m.group(1)), float(m.group(2))) for m in re.finditer(r"^\s*(\d+)\s+.*?logp\s+(\S+)", res, re.M)]
base = subprocess.run([migrate, "score", "--model", base_dir, "--prompt", prompt, "--completion", completion],
                      check=True, capture_output=True, text=True).stdout
ours_base = [float(m.group(1)) for m in re.finditer(r"logp\s+(\S+)", base)]

tok = AutoTokenizer.from_pretrained(base_dir)
model = AutoModelForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
model = PeftModel.from_pretrained(model, f"{out}/peft")
model.eval()
p_ids = tok(prompt, add_special_tokens=True)["input_ids"]
c_ids = [i for i, _ in ours]
ids = torch.tensor([p_ids + c_ids])
with torch.no_grad():
    logp = torch.log_softmax(model(ids).logits[0].float(), -1)
theirs = [logp[len(p_ids) - 1 + t, c].item() for t, c in enumerate(c_ids)]
err = max(abs(a - b) for (_, a), b in zip(ours, theirs))
moved = max(abs(a - b) for (_, a), b in zip(ours, ours_base))
print(f"{len(c_ids)} completion tokens: |engine - peft| max {err:.2e}; the adapter moves logp by up to {moved:.3f}")
assert err < 1e-3, err
assert moved > 1e-3, "the adapter did not change anything: the check would be vacuous"

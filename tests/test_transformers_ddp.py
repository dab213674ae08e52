"""HF Transformers adapter under ``torchrun --nproc_per_node 2`` (gloo, CPU): one run, rank 0 only.

Both ranks build the same Trainer with ``report_to="tracker_core"``; every callback hook
fires on both. Exactly one run must exist afterwards, written by rank 0's process, and
rank 1 must never have opened a run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch.distributed as dist

SCRIPT = r'''
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
import tracker_core.integrations.transformers as hf
from tracker_core import sdk

transformers.logging.set_verbosity_error()


class TinyDataset(torch.utils.data.Dataset):
    def __init__(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 50, (n, 8), generator=g)
        self.y = torch.randint(0, 2, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "attention_mask": torch.ones_like(self.x[i]), "labels": self.y[i]}


out = sys.argv[1]
torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=32))
args = TrainingArguments(output_dir=out, max_steps=4, per_device_train_batch_size=2, per_device_eval_batch_size=4,
                         logging_steps=2, eval_strategy="steps", eval_steps=2, save_strategy="no",
                         report_to="tracker_core", use_cpu=True, ddp_backend="gloo", disable_tqdm=True,
                         metric_for_best_model="eval_loss", seed=0)
trainer = Trainer(model=model, args=args, train_dataset=TinyDataset(16), eval_dataset=TinyDataset(8, seed=1))
trainer.train()
trainer.evaluate()
trainer.predict(TinyDataset(8, seed=2))
cb = [c for c in trainer.callback_handler.callbacks if isinstance(c, hf.TrackerCallback)][0]
result = {
    "rank": int(os.environ["RANK"]),
    "world_size": trainer.args.world_size,
    "pid": os.getpid(),
    "world_zero": trainer.state.is_world_process_zero,
    "run": cb.run.path if cb.run is not None else None,
    "live_runs": len(sdk._live),
    "global_step": trainer.state.global_step,
}
with open(os.path.join(out, f"rank{result['rank']}.json"), "w") as f:
    json.dump(result, f)
import tracker_core as tc
tc.finish()  # rank 0's run; a no-op on rank 1
if torch.distributed.is_initialized():
    # leaving gloo's threads to interpreter exit sometimes aborts a rank ("terminate called
    # without an active exception"): close the group first, on every rank
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
# Skip interpreter teardown: on a loaded machine a rank sometimes aborted there inside
# torch's C++ threads ("terminate called without an active exception"), after all of
# the work above was done and written.
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed + gloo")
def test_torchrun_two_processes_one_run_written_by_rank_zero(tmp_path, child_env, api):
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(child_env, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TRANSFORMERS_NO_ADVISORY_WARNINGS="1")
    for var in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), str(script), str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # torchrun forwards it to its workers (their own sessions)
        try:
            stdout, stderr = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        pytest.fail("torchrun timed out:\n" + stdout[-3000:] + stderr[-5000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-5000:]

    ranks = {r: json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)}
    assert [ranks[r]["world_size"] for r in (0, 1)] == [2, 2]
    assert [ranks[r]["world_zero"] for r in (0, 1)] == [True, False]
    assert ranks[1]["run"] is None and ranks[1]["live_runs"] == 0  # rank 1 never opened a run
    assert ranks[0]["run"] is not None

    runs = list(api.runs("huggingface"))
    assert len(runs) == 1
    run = runs[0]
    assert "/".join(run.path) == ranks[0]["run"]
    assert run.metadata["pid"] == ranks[0]["pid"]
    assert run.state == "finished"  # closed at rank 0's interpreter exit

    def steps(key):
        return [row["train/global_step"] for row in run.scan_history(keys=[key, "train/global_step"])]

    assert steps("train/loss") == [2, 4]
    assert steps("eval/loss") == [2, 4, 4]  # 2 evaluations + evaluate(), each logged once
    assert steps("test/loss") == [4]
    evals = [row["eval/loss"] for row in run.scan_history(keys=["eval/loss"])]
    assert run.summary["eval/loss"] == {"best": min(evals)}
    assert "train_runtime" in run.summary

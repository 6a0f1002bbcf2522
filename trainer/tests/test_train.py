"""Training a tiny random Llama on CPU: full fine-tune and LoRA, loss falls on a repeated batch, checkpoints,
resume, and the JSON-lines progress contract (in-process and through `python -m refusenik_trainer train`)."""

import io
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from refusenik_trainer.progress import EventWriter
from refusenik_trainer.train import TrainOptions, train

# Small enough for CPU: 4 rows, the whole data set is one optimizer step (2 x 2 accumulation).
FAST = {"micro_batch_size": 2, "global_batch_size": 4, "warmup_ratio": 0.0, "scheduler": "constant"}


def run_bounded(cmd, env, timeout):
    """subprocess.run in its own process group, killed whole on timeout (torchrun's workers included)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout}s: {err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run(model_dir, data_dir, out, preset="full", **kw):
    hyper = {**FAST, **kw.pop("overrides", {})}  # hyper-parameter options, over the preset
    buf = io.StringIO()
    opts = TrainOptions(
        model=str(model_dir),
        data=str(data_dir),
        output_dir=str(out),
        preset=preset,
        logging_steps=1,
        save_steps=kw.pop("save_steps", 1000),
        use_cpu=True,
        **hyper,
        **kw,
    )
    summary = train(opts, EventWriter(buf))
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    return summary, events


def losses(events):
    return [e["loss"] for e in events if e["event"] == "step"]


def test_full_fine_tune_loss_falls_and_events(tiny_model_dir, data_dir, tmp_path):
    summary, events = run(tiny_model_dir, data_dir, tmp_path / "out", max_steps=8, overrides={"lr": 1e-2})
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("step") == 8
    start = events[0]
    assert start["preset"] == "full" and start["gradient_accumulation_steps"] == 2
    assert start["data"]["kinds"] == {"help": 2, "rto": 1, "vanilla": 1}
    assert start["loss"] == "chunked" and start["checkpointed_layers"] == 2
    step = events[1]
    assert {"step", "loss", "lr", "tokens", "tokens_per_s", "epoch"} <= step.keys()
    assert step["lr"] == pytest.approx(1e-2)
    # non-padding tokens: one pass over the 4 rows per step
    expected_tokens = sum(len(json.loads(l)["input_ids"]) for l in (data_dir / "train.jsonl").read_text().splitlines())
    assert step["tokens"] == expected_tokens and step["tokens_per_s"] > 0
    ls = losses(events)
    assert all(math.isfinite(x) for x in ls)
    assert all(b < a for a, b in zip(ls, ls[1:])) and ls[-1] < ls[0] - 2.0, ls  # same batch every step
    assert math.log(128256) * 0.8 < ls[0] < math.log(128256) * 1.2  # random init starts near uniform
    out = tmp_path / "out"
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert summary["step"] == 8


def test_stock_and_chunked_losses_agree(tiny_model_dir, data_dir, tmp_path):
    _, a = run(tiny_model_dir, data_dir, tmp_path / "a", max_steps=2, loss="stock")
    _, b = run(tiny_model_dir, data_dir, tmp_path / "b", max_steps=2, loss="chunked")
    assert a[0]["loss"] == "stock" and b[0]["loss"] == "chunked"
    for x, y in zip(losses(a), losses(b)):
        assert x == pytest.approx(y, rel=1e-4)


def test_lora_trains_only_adapters(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "lora"
    summary, events = run(tiny_model_dir, data_dir, out, preset="lora", max_steps=8, overrides={"lr": 1e-2})
    start = events[0]
    assert start["hyper"]["lora_r"] == 96 and start["hyper"]["lora_alpha"] == 16
    assert start["hyper"]["block_size"] == 512
    # 2 layers x 7 projections, each r x (in + out); hidden 32, MLP 64, 2 KV heads of 8
    per_layer = 96 * ((32 + 32) * 2 + (32 + 16) * 2 + (32 + 64) * 2 + (64 + 32))
    assert start["trainable_params"] == 2 * per_layer
    ls = losses(events)
    assert all(math.isfinite(x) for x in ls) and ls[-1] < ls[0], ls
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 96 and cfg["lora_alpha"] == 16 and cfg["lora_dropout"] == 0.05
    assert set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert summary["adapter"] is True and not (out / "model.safetensors").exists()


def test_checkpoint_and_resume_match_an_uninterrupted_run(tiny_model_dir, data_dir, tmp_path):
    straight = tmp_path / "straight"
    run(tiny_model_dir, data_dir, straight, max_steps=4, overrides={"lr": 1e-3})

    split = tmp_path / "split"
    run(tiny_model_dir, data_dir, split, max_steps=2, save_steps=2, overrides={"lr": 1e-3})
    assert (split / "checkpoint-2" / "optimizer.pt").is_file()
    _, events = run(tiny_model_dir, data_dir, split, max_steps=4, overrides={"lr": 1e-3})
    resume = next(e for e in events if e["event"] == "resume")
    assert Path(resume["path"]).name == "checkpoint-2"
    assert [e["step"] for e in events if e["event"] == "step"] == [3, 4]

    a, b = load_file(straight / "model.safetensors"), load_file(split / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)


def test_cli_writes_only_json_lines_on_stdout(tiny_model_dir, data_dir, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "refusenik_trainer", "train", "--model", str(tiny_model_dir), "--data", str(data_dir)]
    cmd += ["--output-dir", str(tmp_path / "cli"), "--max-steps", "2", "--logging-steps", "1", "--cpu"]
    cmd += ["--micro-batch-size", "2", "--global-batch-size", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # every stdout line is JSON
    assert [e["event"] for e in events] == ["start", "step", "step", "save", "done"]  # a checkpoint at the end
    assert events[0]["hyper"]["lr"] == 2e-5 and events[0]["hyper"]["scheduler"] == "cosine"


def test_cli_bad_data_exits_2_naming_the_line(tiny_model_dir, tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"input_ids": [1, 2], "labels": [-100, 2]}\n{"input_ids": [1, 2]}\n')
    cmd = [sys.executable, "-m", "refusenik_trainer", "train", "--model", str(tiny_model_dir), "--data", str(bad)]
    proc = subprocess.run(cmd + ["--output-dir", str(tmp_path / "o"), "--cpu"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    err = json.loads(proc.stdout.splitlines()[-1])
    assert err["event"] == "error" and err["kind"] == "input"
    assert f"{bad}:2: labels: expected a list of integers" in err["message"]


def test_multi_gpu_config_files_parse():
    import yaml

    configs = Path(__file__).resolve().parents[1] / "configs"
    zero3 = json.loads((configs / "deepspeed_zero3_offload.json").read_text())
    assert zero3["zero_optimization"]["stage"] == 3
    assert zero3["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert zero3["optimizer"]["params"]["betas"] == [0.9, 0.999]
    assert json.loads((configs / "deepspeed_zero2.json").read_text())["zero_optimization"]["stage"] == 2
    for name, kind in (("accelerate_ddp.yaml", "MULTI_GPU"), ("accelerate_fsdp.yaml", "FSDP"), ("accelerate_deepspeed.yaml", "DEEPSPEED")):
        assert yaml.safe_load((configs / name).read_text())["distributed_type"] == kind


def test_torchrun_two_processes_on_cpu(tiny_model_dir, data_dir, tmp_path):
    """The multi-GPU path (DDP through torchrun, gloo on CPU): both ranks train, only rank 0 writes events, and
    gradient accumulation is derived from the world size."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "refusenik_trainer", "train", "--model", str(tiny_model_dir), "--data", str(data_dir)]
    cmd += ["--output-dir", str(tmp_path / "ddp"), "--max-steps", "2", "--logging-steps", "1", "--cpu"]
    cmd += ["--micro-batch-size", "1", "--global-batch-size", "4"]
    proc = run_bounded(cmd, env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "step", "step", "save", "done"]
    assert events[0]["world_size"] == 2 and events[0]["gradient_accumulation_steps"] == 2
    assert events[0]["global_batch_size"] == 4 and events[0]["loss"] == "chunked"
    assert all(math.isfinite(e["loss"]) for e in events if e["event"] == "step")
    assert (tmp_path / "ddp" / "model.safetensors").is_file()


def test_epochs_already_unrolled_by_the_builder_are_not_repeated(tiny_model_dir, data_dir, tmp_path):
    # `refusenik derta build --rto-keep` writes one copy of the rows per epoch and says so in stats.json.
    (data_dir / "stats.json").write_text(json.dumps({"epochs_unrolled": 2}))
    summary, events = run(tiny_model_dir, data_dir, tmp_path / "o", overrides={"epochs": 2})
    assert events[0]["epochs_unrolled_in_data"] == 2 and events[0]["hyper"]["epochs"] == 1
    assert summary["step"] == 1  # 4 rows, 4 per optimizer step, one pass


def test_constrained_loss_at_the_reference_is_its_closed_form():
    """With the model equal to the reference every log-ratio is 0, so each token costs (2 / beta_t) * ln 2."""
    from refusenik_trainer.objectives.constrained import BetaSchedule, constrained_loss, response_positions

    torch.manual_seed(0)
    logits = torch.randn(2, 9, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6, 7, 8, 9], [-100, 1, 2, 3, -100, -100, -100, -100, -100]])
    sched = BetaSchedule()
    # Shifted labels: row 0 has 7 response tokens (positions 1..7), row 1 has 3.
    assert response_positions(labels[:, 1:]).tolist() == [[0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 0, 0, 0, 0, 0]]
    betas = [0.5, 2, 2, 2, 2, 0.1, 0.1] + [0.5, 2, 2]
    expected = sum(2 / b * math.log(2) for b in betas) / len(betas)
    assert constrained_loss(logits, logits.clone(), labels, sched).item() == pytest.approx(expected, rel=1e-6)
    # Raising the target tokens' probability lowers it; the first tokens' large beta caps how far.
    better = logits.clone()
    for r in range(2):
        for t in range(8):
            y = labels[r, t + 1].item()
            if y != -100:
                better[r, t, y] += 3.0
    assert constrained_loss(better, logits, labels, sched).item() < expected


def test_constrained_objective_trains_lora_and_is_lora_only(tiny_model_dir, data_dir, tmp_path):
    from refusenik_trainer.train import OptionError

    summary, events = run(
        tiny_model_dir, data_dir, tmp_path / "c", preset="lora", max_steps=6, objective="constrained", overrides={"lr": 5e-2}
    )
    start = next(e for e in events if e["event"] == "start")
    assert start["objective"] == "constrained" and start["beta"]["first"] == 0.5
    ls = losses(events)
    assert len(ls) == 6 and all(math.isfinite(x) for x in ls)
    assert ls[-1] < ls[0]
    # At step 1 the adapter is zero, so the model is its reference: the loss is the closed form's size.
    assert 0.1 < ls[0] < 2 / 0.1 * math.log(2) + 1e-6
    with pytest.raises(OptionError, match="needs --preset lora"):
        run(tiny_model_dir, data_dir, tmp_path / "f", preset="full", max_steps=1, objective="constrained")


def test_bf16_lora_path_on_cpu(tiny_model_dir, data_dir, tmp_path):
    """The GPU recipe's path, run on the CPU: bf16 autocast with the frozen base held in bf16, LoRA, full
    gradient checkpointing and the chunked loss, together; the adapters stay fp32 master weights and learn."""
    summary, events = run(
        tiny_model_dir,
        data_dir,
        tmp_path / "bf16",
        preset="lora",
        precision="bf16",
        loss="chunked",
        max_steps=4,
        overrides={"lr": 5e-3, "checkpointing": 1.0},
    )
    start = events[0]
    assert start["precision"] == "bf16" and start["loss"] == "chunked"
    assert start["checkpointed_layers"] == 2 and start["hyper"]["lora"] is True
    steps = losses(events)
    assert len(steps) == 4 and all(math.isfinite(x) for x in steps)
    assert steps[-1] < steps[0]
    adapter = load_file(tmp_path / "bf16" / "adapter_model.safetensors")
    assert adapter and all(t.dtype == torch.float32 for t in adapter.values())
    assert summary["adapter"] is True

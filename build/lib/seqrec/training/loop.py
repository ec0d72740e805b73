"""The training loop: many-to-many next-item training with cross-entropy over the whole catalogue (or, with
loss="sampled", over popularity-drawn negatives for large catalogues; see seqrec.model.losses), reporting through
callbacks.

Callbacks get a BatchInfo after every batch and an EpochInfo after every epoch, so the UI (progress bar, live
chart, Stop button) and the CLI (tqdm on stderr) share this code. A stop request is honoured between batches, and
early stopping on validation Recall@K restores the best weights.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from seqrec.config import AUTO_DROPOUT, AUTO_DROPOUT_REPEATS, TrainConfig
from seqrec.data.split import SplitData, pad_batch
from seqrec.errors import SeqrecError
from seqrec.evaluation.protocol import evaluate_model
from seqrec.model.losses import (
    NegativeSampler,
    full_softmax_loss,
    loss_chunk_positions,
    make_sampler,
    sampled_softmax_loss,
)
from seqrec.model.recurrent import SeqRecModel
from seqrec.runtime import pick_device

MAX_VALID_USERS = 10_000  # validation each epoch uses at most this many users (a fixed, seeded subset)
_INIT_LOCK = threading.Lock()  # weight init uses the process-wide RNG: seed and build under a lock


@dataclass
class BatchInfo:
    epoch: int
    batch: int
    n_batches: int
    loss: float
    elapsed: float
    sequences_per_second: float
    step: int


@dataclass
class EpochInfo:
    epoch: int
    epochs: int
    train_loss: float
    valid: dict
    elapsed: float
    sequences_per_second: float
    best_epoch: int
    improved: bool


class Callback:
    """Override what you need; every hook is optional."""

    def on_batch(self, info: BatchInfo) -> None: ...

    def on_epoch(self, info: EpochInfo) -> None: ...


@dataclass
class TrainResult:
    model: SeqRecModel
    config: TrainConfig
    best_epoch: int
    epochs_run: int
    best_valid: dict
    train_seconds: float
    sequences_per_second: float
    stopped_by_user: bool
    batch_losses: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    stop_reason: str = ""


def _hook(callback, name: str, info) -> None:
    """Call callback.name(info) if it has that hook: like Callback subclasses, plain objects may define just one."""
    fn = getattr(callback, name, None)
    if fn is not None:
        fn(info)



def resolve_auto(config: TrainConfig, split: SplitData) -> TrainConfig:
    """The config with its automatic settings (None) chosen from the training data: dropout 0.2 when at least 5% of
    the training sequences' next items repeat an earlier one (shop and click logs), else 0.5 (ratings). A config
    without automatic settings comes back unchanged."""
    if config.dropout is not None:
        return config
    often = split.repeat_share >= AUTO_DROPOUT_REPEATS
    return config.replace(dropout=AUTO_DROPOUT[int(often)])


def build_model(n_items: int, config: TrainConfig, device: torch.device | None = None) -> SeqRecModel:
    with _INIT_LOCK:
        torch.manual_seed(config.seed)
        model = SeqRecModel(n_items, config)
    return model.to(device or torch.device("cpu"))


def training_windows(train: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut each training sequence into windows of max_len + 1 items (overlapping by one, newest kept whole) so long
    histories are used entirely; returns a right-padded matrix and the window lengths."""
    w = max_len + 1
    pieces = []
    for s in train:
        n = len(s)
        if n < 2:
            continue
        end = n
        while True:
            start = max(0, end - w)
            pieces.append(s[start:end])
            if start == 0:
                break
            end = start + 1
    if not pieces:
        raise SeqrecError("No user has a training history of at least 2 items (each user's last two items are held out "
                          "for validation and test); use data with longer sequences or lower the filters.")
    return pad_batch(pieces)


def length_bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length windows, so little compute is spent on padding."""
    perm = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start: start + pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def batch_loss_backward(model: SeqRecModel, seq: torch.Tensor, n_items: int,
                        sampler: NegativeSampler | None = None) -> tuple[torch.Tensor, int]:
    """Cross-entropy of every next item in the batch (full softmax, or sampled when a sampler is given) and its
    gradients. Only real (non-padding) positions reach the output layer, and the output layer runs over chunks of
    positions: faster (a chunk's logits stay in cache) and bounded in memory on large catalogues (the gradients
    equal one pass over the whole batch).
    Returns the mean loss and the number of target tokens it averages over."""
    inputs, targets = seq[:, :-1], seq[:, 1:]
    real = targets > 0
    hidden = model.hidden_states(inputs)[real]  # (tokens, H)
    targets = targets[real]
    n_tokens = int(targets.numel())
    if n_tokens == 0:
        return torch.zeros((), device=seq.device), 0
    row_of = pos = None
    if model.repeat is not None:  # each token's history row and its position in it, for the repeat scores
        row_of, pos = real.nonzero(as_tuple=True)

    def steps(part: slice | None = None):
        """The repeat scores' (rows, row_of, pos) for these tokens (all when part is None); None without them."""
        if row_of is None:
            return None
        return (inputs, row_of, pos) if part is None else (inputs, row_of[part], pos[part])

    if sampler is not None:
        negs = sampler.draw()
        loss_sum = sampled_softmax_loss(model, hidden, targets, negs, sampler.log_expected)
        (loss_sum / n_tokens).backward()
        return loss_sum.detach() / n_tokens, n_tokens
    rows = loss_chunk_positions(n_items)
    if n_tokens <= rows:
        loss_sum = full_softmax_loss(model, hidden, targets, steps())
        (loss_sum / n_tokens).backward()
        return loss_sum.detach() / n_tokens, n_tokens
    # Run the recurrent part once, then the output layer chunk by chunk into the hidden states' gradient, and
    # finally backpropagate that through the recurrent part.
    detached = hidden.detach().requires_grad_()
    total = torch.zeros((), device=seq.device)
    for start in range(0, n_tokens, rows):
        part = slice(start, start + rows)
        loss_sum = full_softmax_loss(model, detached[part], targets[part], steps(part))
        (loss_sum / n_tokens).backward()
        total = total + loss_sum.detach()
    hidden.backward(detached.grad)
    return total / n_tokens, n_tokens


def _make_optimizer(model: SeqRecModel, config: TrainConfig) -> torch.optim.Optimizer:
    try:
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


def train(split: SplitData, config: TrainConfig, callbacks: Sequence[Callback] = (),
          stop_event: threading.Event | None = None, device: str | torch.device | None = None) -> TrainResult:
    """Train one model on the split's training parts; early stopping on the validation metric config.monitor at the
    largest K (validated every config.eval_every epochs), the learning rate warmed up over config.warmup_steps batches
    and, with lr_schedule="plateau", halved after each validation without improvement."""
    config = resolve_auto(config.validate(), split)
    device = pick_device(device) if not isinstance(device, torch.device) else device
    model = build_model(split.n_items, config, device)
    # dropout masks from the run's own seeded generator: NumPy's PCG64 on the CPU (far cheaper per draw than torch's
    # CPU generator), torch's on a GPU
    model.generator = (np.random.default_rng(config.seed) if device.type == "cpu"
                       else torch.Generator(device=device).manual_seed(config.seed))
    rng = np.random.default_rng(config.seed)
    windows, lengths = training_windows(split.train, config.max_len)
    windows_t = torch.from_numpy(windows)
    n_users = len(split.users)
    valid_users = None
    if n_users > MAX_VALID_USERS:
        valid_users = np.sort(np.random.default_rng(config.seed).choice(n_users, MAX_VALID_USERS, replace=False))
    opt = _make_optimizer(model, config)
    sampler = make_sampler(split, config, device)
    key = f"{config.monitor}@{config.monitor_k}"
    lr = config.lr
    best_score, best_state, best_epoch, best_valid = -1.0, None, 0, {}
    batch_losses, epochs_log = [], []
    t0, seen, step, bad_epochs, stopped, out_of_time = time.perf_counter(), 0, 0, 0, False, False
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        batches = length_bucketed_batches(lengths, config.batch_size, rng)
        epoch_loss, epoch_tokens = 0.0, 0
        for b, idx in enumerate(batches):
            if stop_event is not None and stop_event.is_set():
                stopped = True
                break
            width = int(lengths[idx].max())
            seq = windows_t[torch.from_numpy(idx), :width].to(device)
            if step < config.warmup_steps:
                _set_lr(opt, lr * (step + 1) / config.warmup_steps)
            elif step == config.warmup_steps and config.warmup_steps:
                _set_lr(opt, lr)
            opt.zero_grad(set_to_none=True)
            loss, ntok = batch_loss_backward(model, seq, split.n_items, sampler)
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise SeqrecError(f"Training diverged (the loss became {lv}) at epoch {epoch}; lower the learning "
                                  f"rate (now {config.lr:g}) or raise gradient clipping, then train again.")
            epoch_loss += lv * ntok
            epoch_tokens += ntok
            seen += len(idx)
            step += 1
            batch_losses.append(lv)
            elapsed = time.perf_counter() - t0
            info = BatchInfo(epoch, b + 1, len(batches), lv, elapsed, seen / max(elapsed, 1e-9), step)
            for cb in callbacks:
                _hook(cb, "on_batch", info)
            if config.max_minutes and elapsed >= 60 * config.max_minutes:
                out_of_time = True
                break
        if stopped and epoch_tokens == 0 and best_state is not None:
            epoch -= 1
            break
        last = stopped or out_of_time or epoch == config.epochs or (
            config.max_minutes and time.perf_counter() - t0 >= 60 * config.max_minutes)
        if epoch % config.eval_every and not last:
            continue
        valid = evaluate_model(model, split, "valid", config, device, valid_users)
        score = valid[key]
        improved = score > best_score
        if improved:
            best_score, best_epoch, best_valid = score, epoch, valid
            best_state = copy.deepcopy(model.state_dict())
            bad_epochs = 0
        else:
            bad_epochs += 1
            if config.lr_schedule == "plateau":
                lr *= 0.5
                if step >= config.warmup_steps:
                    _set_lr(opt, lr)
        elapsed = time.perf_counter() - t0
        rec = dict(epoch=epoch, train_loss=epoch_loss / max(1, epoch_tokens), elapsed=elapsed, **valid)
        epochs_log.append(rec)
        info = EpochInfo(epoch, config.epochs, rec["train_loss"], valid, elapsed, seen / max(elapsed, 1e-9),
                         best_epoch, improved)
        for cb in callbacks:
            _hook(cb, "on_epoch", info)
        if config.max_minutes and elapsed >= 60 * config.max_minutes:
            out_of_time = True
        if stopped or out_of_time or (config.patience > 0 and bad_epochs >= config.patience):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    elapsed = time.perf_counter() - t0
    reason = ("stopped by user" if stopped else f"time limit ({config.max_minutes:g} min)" if out_of_time
              else "early stopping" if epoch < config.epochs else "all epochs")
    return TrainResult(model=model, config=config, best_epoch=best_epoch, epochs_run=epoch, best_valid=best_valid,
                       train_seconds=elapsed, sequences_per_second=seen / max(elapsed, 1e-9), stopped_by_user=stopped,
                       batch_losses=batch_losses, epochs=epochs_log, stop_reason=reason)

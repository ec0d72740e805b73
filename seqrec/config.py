"""One typed config per concern, and what one setting means and allows.

Every typed config of seqrec is a dataclass whose fields each carry a `Setting` in their metadata (`setting_field`):
TrainConfig (here: a training run, used by the UI, the CLI, saved runs and the tests), the data Filters
(seqrec/data/prepare.py) and TuneConfig (seqrec/training/space.py). Each config's validate(), the CLI's options
(seqrec/cli.py) and the app's widgets (studio/setting_widgets.py) are generated from these, so a limit, a default or
a help text is written once and the three cannot disagree about it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from seqrec.errors import SeqrecError
from seqrec.runtime import ServerSettings

# ---- Setting: one field's metadata -------------------------------------------------------------------------------

# ints: a tuple of whole numbers (the K values); choices: a non-empty tuple of some of `choices` (the cells to tune);
# text: one text (a date); texts: a list of texts (event types, row conditions)
KINDS = ("int", "float", "choice", "choices", "ints", "switch", "text", "texts")


@dataclass(frozen=True)
class Setting:
    """What one config field means and allows. `help` is one text for `--help` and the form's tooltip."""

    kind: str  # one of KINDS
    label: str  # the form's label
    help: str  # whole sentences; the CLI appends the range and the default
    lo: float | None = None  # inclusive bounds (ints, floats, and each K value); None: unbounded on that side
    hi: float | None = None
    open_below: bool = False  # lo itself is refused (a learning rate must be > 0)
    step: float = 1  # the form's +/- step
    fmt: str | None = None  # the form's printf-style display format (floats)
    choices: tuple[str, ...] = ()
    count: tuple[int, int] | None = None  # for "ints": how many values
    flag: str = ""  # the CLI flag; "--" + the field name with dashes when empty
    noun: str = ""  # how a message names the field; the field name with spaces when empty
    name: str = ""  # filled in from the field (settings_of)
    # The Tune search (seqrec/training/tune.py): the default range (inclusive) searched for this field, and whether
    # it is searched on a log scale; None: not searched (the base config's value is used). Inside (lo, hi).
    search: tuple[float, float] | None = None
    log: bool = False
    # A float field that may also be None: "automatic", chosen from the data when training starts (the CLI takes
    # `auto`, the form an empty box). Only dropout has one (seqrec.training.loop.resolve_auto).
    auto: bool = False
    # A field that may be None, meaning "this is off", in words (e.g. "no limit"): the form's empty box shows it as
    # its placeholder and the CLI's help as the default. Empty: None is not allowed (unless `auto`).
    off: str = ""
    unit: str = ""  # a float's unit (e.g. "minutes"): messages then say "a number of minutes from 1 to 60"
    why: str = ""  # the reason for the bounds, added to the message about a value outside them
    var: str = ""  # the CLI's metavar, when the kind's (N, F, K) does not say enough (DATE, COND)
    append: bool = False  # texts: the CLI takes one value per option, repeated (--where A --where B)

    @property
    def integer(self) -> bool:
        return self.kind in ("int", "ints")

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str | None:
        return self.var or {"int": "N", "float": "F", "ints": "K", "text": "T", "texts": "T"}.get(self.kind)

    @property
    def called(self) -> str:
        """How a message names the field."""
        return self.noun or self.name.replace("_", " ")

    def allowed(self) -> str:
        """The allowed values in words, as a message says them: `a whole number of at least 3`, `a number in
        [0.0, 0.9] or auto`, `empty or a number of minutes above 0 and at most 525,600`."""
        phrase = self._values()
        if self.auto:
            phrase += " or auto"
        if self.off:
            phrase = "empty or " + phrase
        return phrase + (f", {self.why}" if self.why else "")

    def _values(self) -> str:
        if self.kind == "int":
            return (f"a whole number between {self.lo} and {self.hi}" if self.hi is not None
                    else f"a whole number of at least {self.lo}")
        if self.kind == "float":
            if self.lo is None and self.hi is None:
                return "a number"
            if self.unit:
                if self.open_below:
                    return f"a number of {self.unit} above {self.lo:g} and at most {self.hi:,g}"
                return f"a number of {self.unit} from {self.lo:g} to {self.hi:,g}"
            return f"a number in {'(' if self.open_below else '['}{self.lo}, {self.hi}]"
        if self.kind == "choice":
            return " or ".join(self.choices) if len(self.choices) == 2 else "one of " + ", ".join(self.choices)
        if self.kind == "choices":
            return "one or more of " + ", ".join(self.choices)
        if self.kind == "ints":
            few, many = self.count
            return f"{few} to {many} whole numbers between {self.lo} and {self.hi}"
        if self.kind == "text":
            return "a text"
        if self.kind == "texts":
            return "a list of texts"
        return "true or false"  # "switch"

    def accepts(self, v) -> bool:
        """Whether `v` is an allowed value of the field."""
        if v is None:
            return self.auto or bool(self.off)
        if self.kind == "int":
            return _whole(v) and self._within(v)
        if self.kind == "float":
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            return number and v == v and self._within(v)  # v == v: not NaN
        if self.kind == "choice":
            return v in self.choices
        if self.kind == "choices":
            return isinstance(v, (tuple, list)) and len(v) > 0 and all(c in self.choices for c in v)
        if self.kind == "ints":
            few, many = self.count
            return isinstance(v, tuple) and few <= len(v) <= many and all(_whole(k) and self._within(k) for k in v)
        if self.kind == "text":
            return isinstance(v, str)
        if self.kind == "texts":
            return isinstance(v, (tuple, list))
        return isinstance(v, bool)  # "switch"

    def _within(self, v) -> bool:
        above = self.lo is None or (v > self.lo if self.open_below else v >= self.lo)
        return above and (self.hi is None or v <= self.hi)

    def problem(self, v) -> str | None:
        """The sentence validate() reports for a bad value `v`, or None when `v` is allowed."""
        return None if self.accepts(v) else f"{self.called} must be {self.allowed()} (got {v!r})"


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def setting_field(default, kind: str, label: str, help: str, **spec):
    """A dataclass field whose metadata holds its Setting."""
    assert kind in KINDS, kind
    return dataclasses.field(default=default, metadata={"setting": Setting(kind, label, help, **spec)})


def settings_of(cls) -> dict[str, Setting]:
    """Field name -> Setting (with its name filled in) of a config dataclass, in field order."""
    return {f.name: dataclasses.replace(f.metadata["setting"], name=f.name) for f in fields(cls)}


def problems(config, settings: dict[str, Setting]) -> list[str]:
    """The sentence of every field of `config` whose value its Setting refuses, in field order."""
    return [p for name, s in settings.items() if (p := s.problem(getattr(config, name))) is not None]


_field = setting_field

# ---- TrainConfig -------------------------------------------------------------------------------------------------

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("full", "sampled")  # sampled: softmax over popularity-drawn negatives, for large catalogues
MONITORS = ("recall", "ndcg", "mrr")  # the validation metric (at the largest K) that early stopping follows
SCHEDULES = ("constant", "plateau")  # plateau: halve the learning rate after each validation without improvement
MAX_K = 1000
# The most seeds one "repeat with N seeds" training takes (the CLI's --seeds, the Train page, the library's check in
# seqrec.evaluation.uncertainty): enough for a mean and spread, few enough that a series stays minutes, not hours.
MAX_SEEDS = 10


# The bounds (inclusive) are sane limits for every numeric setting. Beyond them a CPU training is either pointless
# (dropout 0.95 keeps 1 unit in 20; lr > 1 diverges under Adam) or unbounded in cost (hidden 4096 is 200 MB of
# recurrent weights per layer; 8 stacked layers of a next-item RNN do not train better than 2). The memory estimate
# (training/budget.py) then checks what the data adds (catalogue size, sequence lengths) against the machine's budget.
# The app's form offers exactly these bounds, so it cannot build a config that validate() refuses.
@dataclass
class TrainConfig:
    """Hyperparameters of one training run. Defaults were chosen by experiment (see BENCHMARKS.md)."""

    model: str = _field("gru", "choice", "Recurrent cell", choices=CELLS,
                        help="RNN: plain recurrence. LSTM and GRU: gated cells that keep a longer memory.")
    embedding_dim: int = _field(64, "int", "Embedding size", "Length of the vector that represents each item.",
                                lo=1, hi=1024, step=4, search=(16, 256), log=True)
    hidden_size: int = _field(128, "int", "Hidden size", "Size of the recurrent state that summarises the history.",
                              lo=1, hi=1024, step=4, search=(32, 512), log=True)
    layers: int = _field(1, "int", "Layers", "Stacked recurrent layers; more can learn more, but train slower.",
                         lo=1, hi=4)
    # Automatic by default (docs/experiments/defaults-on-real-data.md, "Round 5"): one fixed value could not serve both
    # kinds of real log. 0.2 is clearly better on purchase logs where people come back to items (Online Retail, 32% of
    # next items repeat an earlier one: MRR@20 0.189 vs 0.158 in 3 minutes), 0.5 clearly better on ratings, where an
    # item appears once per user (MovieLens-shaped: test Recall@20 0.354 vs 0.265).
    dropout: float | None = _field(None, "float", "Dropout", "Share of units dropped on the embeddings and between "
                                   "layers during training, against overfitting. Automatic when left empty (`auto`, "
                                   "the default): 0.2 when users often come back to items (at least 5% of the "
                                   "training sequences' next items repeat an earlier one: shop and click logs), "
                                   "else 0.5 (ratings, where each item appears once per user); the run records the "
                                   "value used.", lo=0.0, hi=0.9, step=0.05, fmt="%.2f", search=(0.0, 0.6),
                                   auto=True)
    # six decimals: the form's smallest learning rate (the bound itself is open) is then 0.000001
    lr: float = _field(0.005, "float", "Learning rate", "Adam learning rate (step size); too high diverges, too low "
                       "is slow.", lo=0.0, hi=1.0, open_below=True, step=0.0005, fmt="%.6f",
                       search=(1e-4, 3e-2), log=True)
    weight_decay: float = _field(0.0, "float", "Weight decay", "Adam weight decay, an L2 penalty on the weights "
                                 "(0 = off).", lo=0.0, hi=1.0, step=0.0001, fmt="%.4f")
    batch_size: int = _field(64, "int", "Batch size", "Sequences per optimisation step.", lo=1, hi=4096, step=8,
                                search=(32, 512), log=True)
    epochs: int = _field(100, "int", "Max epochs", "Upper limit on passes over the data; early stopping usually "
                         "ends sooner.", lo=1, hi=1000)
    # 50 rather than 200 (docs/experiments/defaults-on-real-data.md, round 3): shorter training windows give ~2.5x more
    # optimisation steps per epoch for about the same compute, which is what a log of a few hundred long histories
    # (the MovieLens-shaped one) needs to converge within a minute; next-item signal sits in the recent items anyway.
    max_len: int = _field(50, "int", "Max history length", "Longest history the model reads: only the most recent "
                          "items are fed in, and longer training sequences are cut into windows of this length "
                          "(shorter windows: more training steps per epoch).", lo=2, hi=2000,
                          search=(20, 400), log=True)
    grad_clip: float = _field(5.0, "float", "Gradient clipping", "Largest gradient norm allowed (0 = off).",
                              lo=0.0, hi=1000.0, step=0.5, fmt="%.1f")
    patience: int = _field(10, "int", "Early-stopping patience", "Stop after this many validations without a better "
                           "validation score (the monitored metric; 0 = never stop early).", lo=0, hi=1000)
    max_minutes: float = _field(4.0, "float", "Time limit (minutes)", "Training stops after this many minutes and "
                                "keeps the best weights so far (0 = no limit).", lo=0.0, hi=1440.0, step=0.5,
                                fmt="%.1f")  # 1440: a day
    # CPU threads of one training, fixed when it starts. The float sums inside torch depend on the thread
    # count, so the same seed gives the same numbers only at the same count; the run records the count it used.
    cpus: int = _field(0, "int", "CPU threads", "CPU cores (torch threads) this training uses, fixed for the whole "
                       "run: on this machine at most its cores; on a Ray cluster, the CPUs its task asks for. 0 = "
                       "automatic: an equal share of the cores among the trainings running or waiting when it "
                       "starts (all of them for a lone training). The same seed repeats its numbers exactly only "
                       "with the same thread count; the saved run records the count it used.", lo=0, hi=256)
    seed: int = _field(42, "int", "Seed", "Random seed: the same seed and settings give the same run (the same "
                       "numbers on CPU).", lo=0, hi=2**32 - 1)  # numpy's seed range
    ks: tuple[int, ...] = _field((10, 20), "ints", "Evaluate at K", "Cut-offs K for Recall@K, MRR@K and NDCG@K; the "
                                 "largest drives early stopping.", lo=1, hi=MAX_K, count=(1, 10), flag="--k",
                                 noun="K values")
    exclude_seen: bool = _field(False, "switch", "Exclude items already seen from recommendations",
                                "Never recommend (or count as hits) items the user already interacted with: good "
                                "for shops where people rarely re-buy, off when repeats are common.")
    loss: str = _field("full", "choice", "Loss", "Full: every item is scored at every step (exact; best below "
                       "~10,000 items). Sampled: each target against the sampled negatives, drawn by popularity: many "
                       "times faster on large catalogues for a small accuracy cost (see BENCHMARKS.md).",
                       choices=LOSSES)
    negatives: int = _field(512, "int", "Sampled negatives", "With the sampled loss: items scored against each "
                            "target per batch (drawn by popularity).", lo=1, hi=100_000, step=64)
    tie_weights: bool = _field(True, "switch", "Tie output to item embedding", "Score each item by the dot product "
                               "of the (projected) hidden state with the item's own input embedding, instead of a "
                               "separate output layer: fewer weights, the same vector for reading and predicting. On "
                               "by default: better on every real and generated log measured (BENCHMARKS.md).")
    repeat: bool = _field(True, "switch", "Repeat-aware scores", "Add a learned score to items already in the "
                          "history, larger for recent and frequent ones (RepeatNet-style): people come back to items "
                          "in shops, music and click sessions, which a recurrent state alone recalls poorly. When "
                          "seen items are excluded it only shapes training. Full loss only (the sampled loss trains "
                          "without them).")
    hybrid: bool = _field(True, "switch", "Also score a hybrid with kNN", "Beside the network, report a hybrid "
                          "that blends its next-item probabilities with a neighbourhood method's normalised scores "
                          "(Session kNN or Item kNN), the partner and the blend weight chosen on the validation "
                          "targets: its own row and its own verdict. Neighbours are strong on short sessions and "
                          "sparse logs, the network on order; the network's own row, verdict and explanations stay "
                          "as they are. On by default: better than the network alone on every log measured.")
    layer_norm: bool = _field(False, "switch", "Layer norm before output", "Normalise the top hidden state (layer "
                              "norm) before the output layer.")
    monitor: str = _field("recall", "choice", "Early stopping follows", "The validation metric at the largest K "
                          "that early stopping and the kept best weights follow: recall, ndcg or mrr (NDCG and MRR "
                          "are smoother on a few hundred validation users).", choices=MONITORS)
    lr_schedule: str = _field("constant", "choice", "Learning-rate schedule", "Constant, or plateau: halve the "
                              "learning rate after each validation without improvement.", choices=SCHEDULES,
                              noun="lr schedule")
    warmup_steps: int = _field(0, "int", "Warm-up steps", "Raise the learning rate linearly from near 0 over this "
                               "many batches (0 = off).", lo=0, hi=100_000, step=50)
    eval_every: int = _field(1, "int", "Validate every N epochs", "Validation runs every N epochs (and after the "
                             "last one); patience counts validations.", lo=1, hi=100)

    def __post_init__(self):
        if isinstance(self.ks, (list, tuple)):
            self.ks = tuple(self.ks)  # anything else (a bare number, a string) is reported by validate()

    @property
    def monitor_k(self) -> int:
        """The K whose validation metric (config.monitor) drives early stopping (the largest requested)."""
        return max(self.ks)

    def validate(self) -> TrainConfig:
        """Collect every nonsense value and raise one SeqrecError naming them all, in field order (or return self)."""
        found = problems(self, SETTINGS)
        if found:
            raise SeqrecError("Invalid training settings: " + "; ".join(found) + ".")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ks"] = list(self.ks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Rebuild a config from a saved dict; unknown keys (from a newer version) are refused clearly."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SeqrecError(f"The saved run has unknown settings {sorted(unknown)}; it was made by a different "
                              f"version of seqrec.")
        return cls(**{**LEGACY_DEFAULTS, **d}).validate()

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


# Automatic dropout (a None dropout; seqrec.training.loop.resolve_auto): (rarely repeated items, often repeated items),
# and the share of the training sequences' next items that repeat an earlier one (seqrec.data.split.repeat_share)
# from which the second applies. docs/experiments/defaults-on-real-data.md, round 5.
AUTO_DROPOUT = (0.5, 0.2)
AUTO_DROPOUT_REPEATS = 0.05

# Settings added after runs were first saved, with the value that reproduces what a run saved without them did
LEGACY_DEFAULTS: dict[str, object] = {"repeat": False, "tie_weights": False, "hybrid": False}

SETTINGS: dict[str, Setting] = settings_of(TrainConfig)
# Derived views kept for code that reads them: the bounds of every numeric setting (lr's lower bound is open).
LIMITS: dict[str, tuple[float, float]] = {name: (s.lo, s.hi) for name, s in SETTINGS.items()
                                          if s.kind in ("int", "float")}

PRESETS: dict[str, dict] = {
    # cpus 1: a model this small trains no faster on 2 threads than on 1 (10.0 s vs 11.6 s alone, RELIABILITY.md
    # section 7), and a workshop's first trainings then leave a core to the pages and the next one
    "Quick demo": dict(embedding_dim=32, hidden_size=64, layers=1, dropout=0.2, lr=0.01, batch_size=64, epochs=10,
                       patience=3, max_minutes=0.5, cpus=1),
    "Balanced": dict(embedding_dim=64, hidden_size=128, layers=1, dropout=None, lr=0.005, batch_size=64, epochs=30,
                     patience=5),
    "Thorough": dict(embedding_dim=64, hidden_size=128, layers=2, dropout=None, lr=0.003, batch_size=64, epochs=100,
                     patience=10),
}
# What each preset is for is page copy, kept on the app's side with the rest of its text.


# ---- a server-wide cap on minutes per training -----------------------------------------------------------------------
# TrainConfig allows up to a day (max_minutes 1440, or 0 = no limit) for the command line; a shared server (the app)
# caps every training it runs, whatever its form or config file says, so one participant cannot hold a worker slot
# for hours. The app applies it when a training is queued.
MAX_TRAIN_MINUTES_ENV = ServerSettings.variables()["max_train_minutes"].env
DEFAULT_MAX_TRAIN_MINUTES = ServerSettings().max_train_minutes


def server_minutes_cap() -> float:
    """Minutes one training may run on this server: SEQREC_MAX_TRAIN_MINUTES, default 30 (one sentence if bad)."""
    return ServerSettings.read("max_train_minutes")


def cap_training_minutes(config: TrainConfig) -> tuple[TrainConfig, str | None]:
    """(config with max_minutes within the server's cap, the sentence saying so when it was lowered, else None)."""
    cap = server_minutes_cap()
    if config.max_minutes and config.max_minutes <= cap:
        return config, None
    asked = "no time limit" if not config.max_minutes else f"a time limit of {config.max_minutes:g} minutes"
    return config.replace(max_minutes=cap), (f"This server allows at most {cap:g} minutes per training, so the "
                                             f"training stops after {cap:g} minutes (the settings asked for {asked}) "
                                             f"and keeps the best weights so far.")

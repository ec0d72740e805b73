"""`python -m seqrec` — the command-line face of the library: train, evaluate, recommend, stats, gates, runs.

stdout gets exactly one JSON object; progress goes to stderr. Any bad input: exit code 2 and one line
`error: <sentence>` on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

import numpy as np

# Everything imported here is free of torch (seqrec's package import already loads pandas and numpy), so
# `python -m seqrec --help`, `stats` and every bad-input message start in well under a second. Modules that need
# torch (training, scoring, tracing, the dataset fingerprint) are imported inside the commands that use them.
from seqrec.config import LEGACY_DEFAULTS, MAX_SEEDS, SETTINGS, Setting, TrainConfig
from seqrec.data.metadata import load_item_metadata
from seqrec.data.prepare import FILTER_SETTINGS, Filters, filter_settings, load_interactions
from seqrec.data.samples import SAMPLE_PREFIX, SAMPLES, sample_named
from seqrec.data.stats import dataset_stats
from seqrec.errors import SeqrecError
from seqrec.runs.bundle import looks_like_bundle, read_bundle, read_config
from seqrec.runs.export import to_safe_csv
from seqrec.runs.store import CLI_OWNER, DB_NAME, check_name, is_run_id, store_home
from seqrec.runtime import ServerSettings
from seqrec.service.library import open_store
from seqrec.training.space import TUNE_SETTINGS, TuneConfig, parse_space, search_space

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        message = message[0].upper() + message[1:]
        raise SeqrecError(f"{message} (see `python -m seqrec {self.prog.split()[-1]} --help`)."
                          if " " in self.prog else f"{message} (see `python -m seqrec --help`).")


def _add_column_options(p: argparse.ArgumentParser, training: bool = True) -> None:
    g = p.add_argument_group("columns (guessed from common names when omitted)")
    g.add_argument("--user-col", metavar="C", help="column with user (or session) IDs, e.g. user_id")
    g.add_argument("--item-col", metavar="C", help="column with item IDs, e.g. item_id, movieId")
    g.add_argument("--time-col", metavar="C", help="column with epoch seconds/milliseconds or dates; '(file order)' "
                   "for a file without one whose rows are already in time order")
    g.add_argument("--event-col", metavar="C", help="optional column with event types (view, purchase, ...)")
    g.add_argument("--rating-col", metavar="C", help="optional column with ratings/weights")
    # one option per Filters field, generated from its Setting (the Data page's filter widgets are too)
    groups = {"filters": p.add_argument_group("filters"), "sessions": p.add_argument_group("sessions")}
    defaults = Filters() if training else Filters(min_user_interactions=1)  # a new user's one event is a history
    for name, s in filter_settings(training).items():
        group = groups["sessions" if name in _SESSION_FILTERS else "filters"]
        _add_setting_option(group, s, getattr(defaults, name))


_SESSION_FILTERS = ("session_gap_minutes", "min_session_length")  # listed apart in --help


SAMPLES_HELP = "A bundled sample by name: " + "; ".join(f"{SAMPLE_PREFIX}{s.key} ({s.about})"
                                                   for s in SAMPLES.values()) + "."
RUN_HELP = ("a folder saved with `train --save`, a run bundle (.zip) downloaded from the app, or a run id from "
            "`python -m seqrec runs`")


def _add_run_and_history(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_HELP)
    p.add_argument("--history", nargs="+", required=True, metavar="ITEM", help="item IDs, oldest first")


def _filters(a) -> Filters:
    return Filters(**{name: getattr(a, name) for name in FILTER_SETTINGS})  # each option's dest is its field


def _sources(names: Sequence[str]) -> list[str]:
    """The data arguments with each bundled-sample name (sample:synthetic, sample:retail) replaced by its file."""
    return [str(sample_named(n).interactions) if str(n).startswith(SAMPLE_PREFIX) else n for n in names]


def _load(a, training: bool = True):
    data = load_interactions(_sources(a.data), user=a.user_col, item=a.item_col, time=a.time_col, event=a.event_col,
                             rating=a.rating_col, filters=_filters(a), training=training)
    for note in data.notes:  # what was changed on the way in is said, not only put in the JSON
        if note.startswith(("dropped ", "unpacked ", "no time column")) or "not UTF-8" in note or \
                "read as whole numbers" in note:
            print(f"note: {note}.", file=sys.stderr)
    return data


def _bounds(s: Setting) -> str:
    """The allowed values of a numeric setting, in words, e.g. `1 to 1024`, `above 0, up to 1` or `3 or more`."""
    if s.lo is None and s.hi is None:
        return "any number"
    lo, hi = (f"{b}" if s.integer else f"{b:g}" for b in (s.lo, s.hi))
    if s.hi is None:
        each = f"above {lo}" if s.open_below else f"{lo} or more"
    else:
        each = f"above {lo}, up to {hi}" if s.open_below else f"{lo} to {hi}"
    return f"{s.count[0]} to {s.count[1]} values, each {each}" if s.kind == "ints" else each


def _add_setting_options(group, settings: dict[str, Setting], defaults, required: Sequence[str] = ()) -> None:
    """One option per field of a config (TrainConfig, TuneConfig), generated from its Setting."""
    for name, s in settings.items():
        _add_setting_option(group, s, getattr(defaults, name), required=name in required)


def _add_setting_option(group, s: Setting, default, required: bool = False) -> None:
    """One option generated from a Setting: flag, type, choices, default and help (the help text the app's form
    shows, plus the allowed values and the default). dest is the field's name."""
    text = s.help.rstrip(".").replace("%", "%%")  # argparse %-formats help texts
    shown = "required" if required else f"default {_shown(s, default)}"
    first = shown[0].upper() + shown[1:]  # where it starts a sentence
    common = dict(dest=s.name, metavar=s.metavar, default=None if required else default)
    if s.kind == "switch" and default:  # on by default: --NAME / --no-NAME
        group.add_argument(s.option, dest=s.name, action=argparse.BooleanOptionalAction, default=True,
                           help=f"{text}. On by default.")
    elif s.kind == "switch":
        group.add_argument(s.option, dest=s.name, action="store_true", help=f"{text}.")
    elif s.kind == "choice":
        group.add_argument(s.option, dest=s.name, choices=s.choices, default=default, help=f"{text}. {first}.")
    elif s.kind == "choices":
        group.add_argument(s.option, **{**common, "default": list(default)}, nargs="+", choices=s.choices,
                           help=f"{text}. Allowed: {' '.join(s.choices)}; {shown}.")
    elif s.kind == "ints":
        group.add_argument(s.option, **{**common, "default": list(default)}, type=int, nargs="+",
                           help=f"{text}. Allowed: {_bounds(s)}; {shown}.")
    elif s.kind == "texts":  # one value per option, repeated, or several after one option
        repeat = "; repeat the option for several" if s.append else ""
        group.add_argument(s.option, **common, **({"action": "append"} if s.append else {"nargs": "+"}),
                           help=f"{text}{repeat}. {first}.")
    elif s.kind == "text":
        group.add_argument(s.option, **common, required=required, help=f"{text}. {first}.")
    elif s.auto:  # a number, or `auto` (None: chosen from the data when training starts)
        group.add_argument(s.option, **{**common, "metavar": "F|auto"}, type=_number_or_auto,
                           help=f"{text}. Allowed: {_bounds(s)} or auto; {shown}.")
    else:
        group.add_argument(s.option, **common, type=int if s.integer else float, required=required,
                           help=f"{text}. Allowed: {_bounds(s)}; {shown}.")


def _shown(s: Setting, default) -> str:
    """A setting's default as --help shows it."""
    if default is None:
        return "auto" if s.auto else s.off
    if isinstance(default, (tuple, list)):
        return " ".join(map(str, default))
    return f"{default}" if s.integer or isinstance(default, str) else f"{default:g}"


def _number_or_auto(text: str) -> float | None:
    """An option that takes a number or `auto`: None for auto (argparse reports anything else as not 'a number or
    auto')."""
    if text.strip().lower() == "auto":
        return None
    return float(text)


_number_or_auto.__name__ = "number or auto"  # argparse names the type in its message: "invalid number or auto value"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="seqrec", description="Train and inspect RNN / LSTM / GRU next-item recommenders on an "
                "interaction CSV (user, item, time). Every command prints one JSON object on stdout.")
    sub = p.add_subparsers(dest="command", metavar="{train,evaluate,recommend,stats,gates,runs,tune}",
                           parser_class=_Parser)

    t = sub.add_parser("train", help="train a model and print test metrics beside the baselines",
                       description="Train on DATA.csv with per-user leave-last-out (last item = test, second-to-last "
                       "= validation) and print full-ranking test metrics of the model and of five baselines "
                       "(MostPopular, item transitions, repeat, item kNN, session kNN) as JSON, each with a 95%% "
                       "interval, the paired comparison with the best baseline, an order check and metrics by "
                       "history length. Progress goes to stderr.")
    t.add_argument("data", nargs="+", metavar="DATA.csv", help="interaction CSV(s); several files with the same "
                   "columns are appended. " + SAMPLES_HELP)
    _add_setting_options(t.add_argument_group("run settings (the app's Train form offers the same ones)"), SETTINGS,
                         TrainConfig())
    t.add_argument("--config", metavar="FILE", help="start from the settings in a run config JSON (downloaded from the "
                   "app's run library, or a saved run's config.json); options given here override the file")
    t.add_argument("--save", metavar="DIR",
                   help="save the trained run (config, vocabulary, weights, metrics) to this folder")
    t.add_argument("--store", action="store_true", help="also keep the run in the run library ($SEQREC_HOME, "
                   "default ./.seqrec), listed by `python -m seqrec runs`")
    t.add_argument("--publish", action="store_true", help="keep the run in the library's gallery, which every app "
                   "session sees (e.g. runs prepared for a workshop); implies --store")
    t.add_argument("--seeds", nargs="+", type=int, metavar="N", help="train the same settings once per seed (e.g. "
                   f"--seeds 0 1 2; at most {MAX_SEEDS}) and report the mean and spread across seeds beside the first "
                   "seed's run, whose metrics, intervals and files are the ones printed and saved; replaces --seed")
    t.add_argument("--name", help="a name for the run")
    t.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    t.add_argument("--ray", metavar="ADDRESS", default=None, help="train as a task on this Ray cluster (e.g. auto, "
                   "10.0.0.5:6379; default $SEQREC_RAY_ADDRESS, else a worker process on this machine); needs "
                   "`pip install \"ray[default]\"`")
    t.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    _add_column_options(t)

    e = sub.add_parser("evaluate", help="score a saved run on a data file (same protocol as train)",
                       description="Evaluate a saved run on DATA.csv with the same leave-last-out protocol and print "
                       "its test metrics beside the baselines. Items the run never saw cannot be recommended.")
    e.add_argument("run_dir", metavar="RUN_DIR", help=RUN_HELP)
    e.add_argument("data", nargs="+", metavar="DATA.csv")
    e.add_argument("--exclude-seen", action="store_true", help="exclude items the user already interacted with")
    _add_column_options(e)

    r = sub.add_parser("recommend", help="top-K next items for a history of item IDs, or for every user of a file",
                       description="Print the top-K next items for a history (oldest first) as JSON; item IDs the "
                       "run does not know are listed under unknown_items. With --all-users DATA.csv --out FILE, write "
                       "the top-K after each user's whole history as CSV (user, rank, item, score[, title]).")
    r.add_argument("run_dir", metavar="RUN_DIR", help=RUN_HELP)
    r.add_argument("--history", nargs="+", metavar="ITEM", help="item IDs, oldest first")
    r.add_argument("--all-users", metavar="DATA.csv", help="recommend for every user of this interaction file "
                   "(every user, even one with a single event; the column and filter options apply)")
    r.add_argument("--out", metavar="FILE.csv", help="where --all-users writes its CSV")
    r.add_argument("--items", metavar="ITEMS.csv", help="item metadata (item_id, title): adds a title column")
    r.add_argument("--k", type=int, default=10, metavar="N", help="how many items (default 10)")
    r.add_argument("--exclude-seen", action="store_true", help="do not recommend items in the history")
    _add_column_options(r, training=False)  # a new user with one event gets recommendations too

    s = sub.add_parser("stats", help="dataset statistics as JSON",
                       description="Load DATA.csv with the same validation and filters as train and print users, "
                       "items, interactions, sequence lengths, sparsity, most popular items and time span.")
    s.add_argument("data", nargs="+", metavar="DATA.csv")
    _add_column_options(s)

    g = sub.add_parser("gates", help="trace gate activations and hidden states over a history",
                       description="Replay the run's recurrent weights step by step over a history and print, as "
                       "JSON, every gate's activations (gate -> layer -> steps x units) plus summaries.")
    _add_run_and_history(g)
    g.add_argument("--top-units", type=int, default=20, metavar="N", help="how many most responsive units to list")

    lr = sub.add_parser("runs", help="list the run library (saved by the app or `train --store`)",
                        description="List the runs kept in the run library ($SEQREC_HOME, default ./.seqrec) as JSON, "
                        "newest first, or change one of them. For the server's admin: it lists the runs of EVERY "
                        "workspace with its owner, i.e. each workspace's private code (anyone with a code can change "
                        "that workspace's runs), so do not share its output.")
    change = lr.add_mutually_exclusive_group()  # one change per call: a deleted run cannot then be published
    change.add_argument("--delete", metavar="ID", help="delete this run (row and files)")
    change.add_argument("--publish", metavar="ID", help="put this run in the gallery every app session sees")
    change.add_argument("--unpublish", metavar="ID", help="take this run out of the gallery")

    tu = sub.add_parser("tune", help="equal-budget hyperparameter search for each cell (Optuna TPE, pruning)",
                        description="Search hyperparameters for each chosen cell with the same time budget (an equal "
                        "share of --budget-minutes each): Optuna's seeded TPE sampler, the defaults as the first "
                        "trial, trials pruned on the per-epoch validation metric. Selection uses validation only; the "
                        "best trial of each cell is scored on the test targets once, at the end, with 95%% bootstrap "
                        "intervals. Prints {trials, best, budget_seconds} as JSON; progress goes to stderr.")
    tu.add_argument("data", nargs="+", metavar="DATA.csv", help="interaction CSV(s); several files with the same "
                    "columns are appended")
    # the search's settings, generated from TuneConfig (the app's Tune page offers the same ones); a command line
    # must say how long it may run, where the page starts at its default budget
    _add_setting_options(tu.add_argument_group("search settings (the app's Tune page offers the same ones)"),
                         TUNE_SETTINGS, TuneConfig(), required=("budget_minutes",))
    tu.add_argument("--space", nargs="+", default=[], metavar="NAME=LO:HI", help="narrow the search: e.g. "
                    "lr=0.001:0.01 hidden_size=64:256, or NAME=VALUE to fix one (searched by default: embedding_dim, "
                    "hidden_size, dropout, lr, batch_size, max_len)")
    tu.add_argument("--save-best", metavar="DIR", help="save each cell's best run to DIR/<cell>")
    tu.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    tu.add_argument("--quiet", action="store_true", help="no progress on stderr")
    _add_column_options(tu)
    return p


class _TqdmProgress:
    """Prints training progress to stderr with tqdm: one bar per epoch, validation metrics after each."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def on_batch(self, info):
        if not self.enabled:
            return
        from tqdm import tqdm  # only a training with its progress bar on needs it

        if self.bar is None:
            self.bar = tqdm(total=info.n_batches, desc=f"epoch {info.epoch}", file=sys.stderr, leave=False,
                            dynamic_ncols=True)
        self.bar.update(1)
        if info.batch % 5 == 0 or info.batch == info.n_batches:
            self.bar.set_postfix(loss=f"{info.loss:.3f}", seq_s=f"{info.sequences_per_second:.0f}")

    def on_epoch(self, info):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        metrics = " ".join(f"{k}={v:.4f}" for k, v in info.valid.items() if not k.startswith("coverage"))
        mark = " *" if info.improved else ""
        print(f"epoch {info.epoch}/{info.epochs} loss={info.train_loss:.4f} valid {metrics} "
              f"({info.elapsed:.1f}s){mark}", file=sys.stderr, flush=True)


def _explicit_options(argv: Sequence[str]) -> set[str]:
    """The train options typed on the command line (they override a --config file): the arguments parsed again with
    every default suppressed, so only what was given lands in the namespace."""
    p = build_parser()
    sub = next(x for x in p._actions if isinstance(x, argparse._SubParsersAction))
    for action in sub.choices["train"]._actions:
        action.default = argparse.SUPPRESS
    return set(vars(p.parse_args(list(argv))))


def train_config(a):
    """TrainConfig from the defaults, then the --config file, then the options typed on the command line."""
    values, doc = {}, {}
    explicit = None
    if a.config:
        values, doc = read_config(a.config)
        values = {**LEGACY_DEFAULTS, **values}  # a config saved before a setting existed keeps its behaviour
        explicit = _explicit_options(a.argv)
    for name in SETTINGS:  # every field has an option whose dest is the field's name
        if explicit is None or name in explicit or name not in values:
            values[name] = getattr(a, name)
    return TrainConfig(**values).validate(), doc


def cmd_train(a) -> dict:
    config, doc = train_config(a)
    data = _load(a)
    # torch loads only now, once the settings and the data are known to be good (a bad value is reported at once)
    from seqrec.data.fingerprint import interactions_fingerprint
    from seqrec.runs.files import save_run
    from seqrec.runs.run import dataset_summary

    dataset = {**dataset_summary(data), "name": ", ".join(os.path.basename(str(d)) for d in a.data),
               "fingerprint": interactions_fingerprint(data)}
    store, name = None, a.name or doc.get("name")
    if a.store or a.publish:  # a bad name or an unusable library is reported now, not after a long training
        store, name = open_store(), (check_name(name) if name else None)
    recorded = (doc.get("dataset") or {}).get("fingerprint") if isinstance(doc.get("dataset"), dict) else None
    if recorded and recorded != dataset["fingerprint"]:
        print(f"note: this data differs from the data the config's run was trained on ("
              f"{doc['dataset'].get('name', '?')}), so the metrics will differ too.", file=sys.stderr)
    series = _seeds(a, config, name)
    if series is None:
        run = _train_through_executor(a, data, config, name, dataset)
        out = run.summary()
    else:
        run, out = _train_seeds(data, config, series, a, dataset)
    out["dropped_rows"] = dict(data.dropped_rows)  # rows with an empty user, item or time, per column
    if a.save:
        save_run(run, a.save)
    if a.save:
        out["saved_to"] = a.save
    if store is not None:
        rec = store.save(run, CLI_OWNER, published=a.publish)
        out["store_id"], out["store"] = rec.id, str(store.home)
    return out


def _train_through_executor(a, data, config, name, dataset, baselines=None, executor=None):
    """Every training of the CLI (one run, or each of --seeds) goes through the process's executor: a spawned worker
    process (default), a task on the Ray cluster at --ray / SEQREC_RAY_ADDRESS, or this thread with
    SEQREC_EXECUTOR=thread. Progress comes back to stderr. `data`: the interactions or a split."""
    # torch (through the executor and the training code): loaded only once the settings and data are good
    from seqrec.data.split import SplitData, leave_last_out
    from seqrec.service.executor import get_executor

    executor = executor or get_executor(a.ray)
    split = data if isinstance(data, SplitData) else leave_last_out(data)
    handle = executor.submit(split, config, name=name, dataset=dataset, device=a.device, baselines=baselines)
    return handle.consume([_TqdmProgress(not a.quiet)])


def _seeds(a, config, name):
    """The trainings of --seeds, checked (None without it); --seed and --seeds together are refused."""
    if a.seeds is None:
        return None
    if "seed" in _explicit_options(a.argv):
        raise SeqrecError("Give either --seed N (one run) or --seeds N N ... (one run per seed), not both.")
    from seqrec.service.seeds import seed_series  # numpy only; keeps the module list of start-up small

    return seed_series(config, a.seeds, name, what="--seeds")


def _train_seeds(data, config, series: list, a, dataset) -> tuple:
    """Train the config once per seed on one split, with the baselines fitted and scored once; the first seed's run
    is the one printed in full (and saved), the others add their metrics and the mean and spread across seeds."""
    # torch: only a training pays for it
    from seqrec.data.split import leave_last_out
    from seqrec.evaluation.protocol import evaluate_baselines
    from seqrec.evaluation.uncertainty import seed_summary
    from seqrec.service.executor import get_executor

    executor = get_executor(a.ray)  # each seed trains through the same executor as a single run
    split = leave_last_out(data)
    baselines = evaluate_baselines(split, config.ks, config.exclude_seen)
    runs = []
    for one in series:
        print(f"seed {one.seed} ({len(runs) + 1} of {len(series)})", file=sys.stderr, flush=True)
        runs.append(_train_through_executor(a, split, one.config, one.name, dataset, baselines=baselines,
                                            executor=executor))
    seeds = [one.seed for one in series]
    out = runs[0].summary()
    out["seeds"] = {**seed_summary(seeds, [r.metrics for r in runs]),
                    "per_seed": [{"seed": s, "threads": r.threads, "metrics": r.metrics,
                                  "comparison": r.uncertainty_summary().get("comparison")}
                                 for s, r in zip(seeds, runs)]}
    return runs[0], out


def load_run_arg(ref: str):
    """A run from a saved folder, a bundle zip, or a run-library id (in that order)."""
    from seqrec.runs.files import load_run  # torch: only the commands that use a run pay for it

    if os.path.isdir(ref):
        return load_run(ref)
    if looks_like_bundle(ref) or (os.path.isfile(ref) and ref.lower().endswith(".zip")):
        return read_bundle(ref)  # a damaged or foreign .zip gets the bundle's own sentence
    if not os.path.exists(ref):
        if is_run_id(ref) and (store_home() / DB_NAME).exists():
            return open_store().load(ref)
    return load_run(ref)  # its own sentence for a missing folder, a stray file or a pickle


def cmd_evaluate(a) -> dict:
    from seqrec.evaluation.protocol import evaluate_run_on  # torch: scores a model

    run = load_run_arg(a.run_dir)
    data = _load(a)
    return evaluate_run_on(run, data, exclude_seen=a.exclude_seen)


def cmd_recommend(a) -> dict:
    if bool(a.history) == bool(a.all_users):
        raise SeqrecError("Give either --history ITEM ... (one history) or --all-users DATA.csv --out FILE.csv "
                          "(every user), not both or neither.")
    if a.all_users and not a.out:
        raise SeqrecError("--all-users needs --out FILE.csv: the recommendations for every user are written as CSV "
                          "there (stdout keeps the JSON summary).")
    if a.all_users:
        a.data = [a.all_users]
        data = _load(a, training=False)  # bad data is reported before the model loads
        items = None
        if a.items:
            items = load_item_metadata(a.items)
        run = load_run_arg(a.run_dir)
        return recommend_all_users(run, data, a.k, a.exclude_seen, items, a.out)
    run = load_run_arg(a.run_dir)
    return run.recommend(a.history, k=a.k, exclude_seen=a.exclude_seen)


def recommend_all_users(run, data, k: int, exclude_seen: bool, items, out: str) -> dict:
    """Write the top-k for every user to `out` (spreadsheet-safe CSV) and return a summary."""
    from seqrec.runs.recommend import top_k_for_all_users  # torch: scores every user

    titles = None
    if items is not None:
        titles = lambda i: str(items["title"].get(i, "")) if i in items.index else ""
    table, unknown = top_k_for_all_users(run, data, k, exclude_seen, titles=titles)
    try:
        with open(out, "wb") as f:
            f.write(to_safe_csv(table))
    except OSError as e:
        raise SeqrecError(f"Could not write {out} ({e.strerror or e}); choose a writable path for --out.") from None
    return {"out": out, "run": run.name, "users": int(table["user"].nunique()) if len(table) else 0,
            "rows": int(len(table)), "k": int(k), "exclude_seen": bool(exclude_seen),
            "unknown_history_items": unknown}


def cmd_stats(a) -> dict:
    return dataset_stats(_load(a))


def cmd_gates(a) -> dict:
    from seqrec.inspect.gates import trace_history_json  # torch: replays the recurrent weights

    run = load_run_arg(a.run_dir)
    return trace_history_json(run, a.history, top_units=a.top_units)


def cmd_tune(a) -> dict:
    settings = TuneConfig(**{name: getattr(a, name) for name in TUNE_SETTINGS}).validate(by_flag=True)
    minutes = settings.budget_minutes
    space = parse_space(a.space)
    search_space(space)  # a bad option or range is reported before the data loads
    data = _load(a)
    # torch and optuna load only now, once the options and the data are known to be good
    from seqrec.data.fingerprint import interactions_fingerprint
    from seqrec.data.split import leave_last_out
    from seqrec.runs.files import save_run
    from seqrec.runs.run import dataset_summary
    from seqrec.service.executor import get_executor
    from seqrec.training.tune import Tuner

    dataset = {**dataset_summary(data), "name": ", ".join(os.path.basename(str(d)) for d in a.data),
               "fingerprint": interactions_fingerprint(data)}

    def progress(rec):
        if not a.quiet:
            value = "—" if rec.value is None else f"{rec.value:.4f}"
            params = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.params.items())
            print(f"{rec.cell} trial {rec.number}: {rec.state} valid {value} ({rec.seconds:.1f}s, {rec.epochs} epochs)"
                  f" {params}{' · ' + rec.reason if rec.state == 'failed' else ''}", file=sys.stderr, flush=True)

    tuner = Tuner.from_settings(leave_last_out(data), settings, space=space, dataset=dataset, device=a.device,
                                on_trial=progress, executor=get_executor())
    if not a.quiet:
        print(f"tuning {', '.join(tuner.cells)} for {minutes:g} min ({minutes / len(tuner.cells):.2g} min each, "
              f"{tuner.parallel} trial(s) at once) on {tuner.metric}", file=sys.stderr, flush=True)
    try:
        result = tuner.run()
    except KeyboardInterrupt:  # Ctrl-C: stop the trials in flight and report what was found
        tuner.stop()
        raise
    out = result.to_dict()
    if a.save_best:
        for cell, best in result.best.items():
            folder = os.path.join(a.save_best, cell)
            save_run(best.run, folder)
            out["best"][cell]["saved_to"] = folder
    return out


def cmd_runs(a) -> dict:
    store = open_store()
    for ref, action in ((a.delete, "delete"), (a.publish, "publish"), (a.unpublish, "unpublish")):
        if ref:
            if action == "delete":
                store.delete(ref)
            else:
                store.publish(ref, published=action == "publish")
    rows = [{"id": r.id, "name": r.name, "model": r.model, "created": r.created, "owner": r.owner,
             "published": r.published, "dataset": r.dataset.get("name", ""), "fingerprint": r.fingerprint,
             f"recall@{r.monitor_k}": r.headline(), "files": str(r.folder) if r.available else "missing"}
            for r in store.list(scope="all")]
    return {"store": str(store.home), "runs": rows}


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "recommend": cmd_recommend, "stats": cmd_stats,
            "gates": cmd_gates, "runs": cmd_runs, "tune": cmd_tune}


def main(argv: Sequence[str] | None = None) -> int:
    # Idle OpenMP threads must not spin: with torch on every core, any other load on one core makes a training step
    # many times slower. Passive waiting costs ~25% on an idle machine and saves far more on a shared one
    # (docs/experiments/openmp-wait-policy.md). Torch loads lazily, after this line; an explicit setting in the
    # environment wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        parser = build_parser()
        a = parser.parse_args(argv)
        a.argv = list(sys.argv[1:] if argv is None else argv)  # train --config: which options were typed
        ServerSettings.from_env()  # every SEQREC_* variable checked at start: a bad one is its sentence, exit 2
        if not a.command:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        out = COMMANDS[a.command](a)
        print(json.dumps(out, indent=2, default=_json_default))
        return 0
    except SeqrecError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m seqrec stats x.csv | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        print("error: ran out of memory; use a smaller file (fewer users or items) or a smaller model.",
              file=sys.stderr)
        return EXIT_BAD_INPUT


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)

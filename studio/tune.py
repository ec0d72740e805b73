"""The Tune page's side: the session's search (a Tuner in a background thread), the search-space widgets, its
tables and Optuna's plotly figures, and the actions on a cell's best run (keep it, copy its config to Train)."""
from __future__ import annotations

import threading
import time

import pandas as pd
import streamlit as st

from seqrec.config import CELLS, SETTINGS, TrainConfig
from seqrec.errors import SeqrecError
from seqrec.service.executor import get_executor
from seqrec.service.sessions import REAPER
from seqrec.training.space import METRICS, TUNE_SETTINGS, TuneConfig
from seqrec.training.tune import SEARCHABLE, Tuner
from studio import state
from studio.setting_widgets import number_input
from studio.train_form import MODELS, NUMBERS

SEARCH = "tuning"  # session key of the TuneSearch (outside the "tune_" widget prefix that keep_widget_values restores)
CELL_LABELS = [label for label, cell in MODELS.items() if cell in CELLS]  # GRU, LSTM, RNN


class TuneSearch:
    """One search of this session: the Tuner, the thread running it, and its outcome (result or error). A search
    whose browser session is gone (tab closed, and Streamlit's reconnect window over) is stopped by the same reaper
    as the training jobs (seqrec.service.sessions): its trials would otherwise hold the machine's cores for the rest
    of its budget."""

    def __init__(self, ds, tuner: Tuner, owner: str | None = None):
        self.ds, self.tuner, self.owner = ds, tuner, owner
        self.error = ""
        self.abandoned = False  # stopped because its session was closed
        self.started = time.monotonic()
        self.kept: set[str] = set()  # cells whose best run joined the run library
        self.thread = threading.Thread(target=self._main, name="seqrec-tune", daemon=True)
        self.thread.start()
        REAPER.track(self)

    # -- what the reaper asks of the work it watches ----------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.running

    @property
    def stop_requested(self) -> bool:
        return self.tuner.stopped

    def stop(self, reason: str = "") -> None:
        """Its session is gone: end the search, keeping what was found."""
        self.abandoned = True
        self.tuner.stop()

    def _main(self):
        try:
            base = self.tuner.base
            self.tuner.baselines = self.ds.baseline_metrics(base.ks, base.exclude_seen)  # cached per dataset
            self.tuner.run()
        except SeqrecError as e:
            self.error = str(e)
        except Exception as e:
            self.error = f"The search failed unexpectedly ({type(e).__name__}: {e}); try other settings."
        finally:
            REAPER.forget(self)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def result(self):
        return None if self.running else self.tuner.result

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def current() -> TuneSearch | None:
    return st.session_state.get(SEARCH)


def start(ds, settings: TuneConfig, space: dict) -> TuneSearch:
    """Start this session's search (a bad setting raises SeqrecError before anything runs)."""
    if not settings.cells:
        raise SeqrecError("Choose at least one cell to tune.")
    tuner = Tuner.from_settings(ds.split, settings.validate(), space=space, dataset=ds.run_info(),
                                executor=get_executor())
    search = st.session_state[SEARCH] = TuneSearch(ds, tuner, owner=state.browser_session())
    return search


def _space_defaults(name: str) -> dict:
    s = SETTINGS[name]
    if s.log and not s.integer:
        return {f"tune_{name}_lo": float(s.search[0]), f"tune_{name}_hi": float(s.search[1])}
    return {f"tune_{name}": (int(s.search[0]), int(s.search[1])) if s.integer else
            (float(s.search[0]), float(s.search[1]))}


def init_form() -> None:
    """First visit: the widgets start at TuneConfig's defaults (every cell, 3 minutes, Recall@20, no trial limit)
    and the whole search space."""
    d = TuneConfig()
    defaults = dict(tune_cells=[label for label in CELL_LABELS if MODELS[label] in d.cells],
                    tune_minutes=d.budget_minutes, tune_metric=d.chosen_metric, tune_trials=d.trials,
                    tune_exclude=d.exclude_seen)
    for name in SEARCHABLE:
        defaults.update(_space_defaults(name))
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def settings_form() -> TuneConfig:
    """The search settings the page offers (cells, budget, metric, trials, seen items), each widget from its
    TuneConfig Setting; the others (seed, K values, epochs and patience per trial) keep their defaults. Not validated
    here (start() does that)."""
    s = TUNE_SETTINGS
    c = st.columns([2, 1, 1, 1])
    cells = c[0].multiselect(s["cells"].label, CELL_LABELS, key="tune_cells", help=s["cells"].help)
    minutes = number_input(c[1], s["budget_minutes"], "tune_minutes")
    metrics = [f"{m}@{k}" for k in sorted(TuneConfig().ks, reverse=True) for m in METRICS]  # recall@20, mrr@20, ...
    metric = c[2].selectbox(s["metric"].label, metrics, key="tune_metric", help=s["metric"].help)
    trials = number_input(c[3], s["trials"], "tune_trials")
    exclude = st.toggle(s["exclude_seen"].label, key="tune_exclude", help=s["exclude_seen"].help)
    return TuneConfig(cells=tuple(MODELS[label] for label in cells), budget_minutes=minutes, trials=trials,
                      metric=metric, exclude_seen=exclude)


def space_form() -> dict:
    """One range widget per searchable field (from the config's metadata); returns the narrowed space."""
    out = {}
    cols = st.columns(3)
    for i, name in enumerate(SEARCHABLE):
        s = SETTINGS[name]
        lo, hi = s.search
        if s.log and not s.integer:  # the learning rate: a log range reads best as two numbers
            a, b = cols[i % 3].columns(2)
            value = (a.number_input(f"{s.label} from", float(lo), float(hi), key=f"tune_{name}_lo", format="%.4f",
                                    step=0.0005, help=s.help),
                     b.number_input("to", float(lo), float(hi), key=f"tune_{name}_hi", format="%.4f", step=0.0005))
        elif s.integer:
            value = cols[i % 3].slider(s.label, int(lo), int(hi), key=f"tune_{name}", help=s.help)
        else:
            value = cols[i % 3].slider(s.label, float(lo), float(hi), step=0.05, key=f"tune_{name}", help=s.help)
        out[name] = tuple(value)
    return out


def trials_table(search: TuneSearch) -> pd.DataFrame:
    """One row per trial: cell, number, state, the validation metric, time, epochs and the sampled settings."""
    metric = search.tuner.metric
    rows = []
    for r in search.tuner.snapshot():
        row = {"Cell": r.cell.upper(), "Trial": r.number, "State": r.state,
               f"Valid {metric}": r.value, "Seconds": round(r.seconds or (time.monotonic() - r.started), 1),
               "Epochs": r.epochs, "Pruned": r.state == "pruned"}
        row.update({SETTINGS[k].label: v for k, v in r.params.items()})
        row["Note"] = r.reason if r.state in ("failed", "stopped") else ""
        rows.append(row)
    return pd.DataFrame(rows)


def best_table(search: TuneSearch) -> pd.DataFrame:
    """One row per cell: validation and test metric (with its 95% interval) and the best config's settings."""
    result, metric = search.result, search.tuner.metric
    rows = []
    for cell, b in (result.best.items() if result else []):
        lo, hi = b.intervals.get(metric, (float("nan"), float("nan")))
        row = {"Cell": cell.upper(), "Best trial": b.trial, f"Valid {metric}": b.valid.get(metric),
               f"Test {metric}": b.metrics.get(metric), "95% interval": f"{lo:.3f} – {hi:.3f}"}
        row.update({SETTINGS[k].label: getattr(b.config, k) for k in SEARCHABLE})
        rows.append(row)
    return pd.DataFrame(rows)


def ranking_sentence(result) -> str:
    """The cells ranked by their best test metric, each below the first with the paired interval of its difference
    (one sentence; empty with fewer than two cells)."""
    rows = result.ranking()
    if len(rows) < 2:
        return ""
    first = rows[0]
    parts = [f"{first['cell'].upper()} first ({first['metric']} {first['test']:.3f})"]
    for r in rows[1:]:
        v = r.get("vs_first")
        if v:
            parts.append(f"{r['cell'].upper()} {v['difference']:+.3f} (95% interval {v['ci95'][0]:+.3f} to "
                         f"{v['ci95'][1]:+.3f}: {v['verdict']})")
    return "Same budget for every cell, ranked on the test users: " + "; ".join(parts) + "."


def figures(search: TuneSearch, cell: str):
    """Optuna's optimisation history and parallel coordinates of a cell's study; None for each it cannot draw yet."""
    import optuna.visualization as vis  # plotly figures: imported only when the page draws them

    study = search.tuner.studies.get(cell)
    done = [t for t in study.get_trials(deepcopy=False) if t.value is not None] if study is not None else []
    if not done:
        return None, None
    out = []
    for plot in (vis.plot_optimization_history, vis.plot_parallel_coordinate):
        try:
            fig = plot(study, target_name=f"valid {search.tuner.metric}")
            fig.update_layout(height=360, margin=dict(l=30, r=30, t=40, b=30))
            out.append(fig)
        except Exception:
            out.append(None)
    return tuple(out)


def keep_run(search: TuneSearch, cell: str) -> str:
    """The cell's best run joins the session's runs and the run library, like a finished training."""
    best = search.result.best[cell]
    run = best.run
    run.dataset = {**search.ds.run_info(), **(run.dataset or {})}
    state.add_run(run)
    state.save_to_store(run)
    search.kept.add(cell)
    return run.name


def copy_to_train(config: TrainConfig) -> None:
    """Fill the Train page's form (its tf_<field> session keys) with this config."""
    st.session_state.setdefault("tf_preset", "Quick demo")  # a first visit to Train must not apply a preset over it
    for name in NUMBERS:
        st.session_state[f"tf_{name}"] = getattr(config, name)
    label = next(label for label, cell in MODELS.items() if cell == config.model)
    st.session_state.update(tf_model=label, tf_seed=config.seed, tf_ks=list(config.ks), tf_exclude=config.exclude_seen,
                            tf_loss=config.loss)


"""Why this recommendation, and what the model learned: history influence (occlusion + gradient x input), the item map,
the interest trajectory and similar items, for RNN, LSTM and GRU runs on the sample and on another, uploaded dataset.

The trained sample runs come from conftest (each cell trains once per session); the uploaded dataset is small and
its runs tiny."""
import html
import io
import math
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from seqrec import SeqrecError, TrainConfig, load_interactions, train_run
from seqrec.data.split import ItemVocab
from seqrec.evaluation.metrics import target_ranks
from seqrec.inspect import embedding_map as em
from seqrec.inspect import influence as infl
from seqrec.model.recurrent import SeqRecModel
from seqrec.runs.run import Run
from studio.copy import WHY_TEXTS, why_text
from studio.figures import why as wf

CELLS = ("rnn", "lstm", "gru")


@pytest.fixture(scope="module")
def uploaded():
    """Another dataset, as a user would upload it: semicolon-separated, its own column names, no item metadata,
    numeric item IDs; small sequences alternating between two 'channels' so the runs have something to learn."""
    rng = np.random.default_rng(5)
    rows = []
    for u in range(120):
        a, b = rng.integers(0, 6, size=2) * 10
        for t in range(int(rng.integers(6, 14))):
            item = (a if t % 2 == 0 else b) + t // 2
            rows.append(f"c{u:03d};{item};{1000 + 60 * t}")
    text = "customer;product;ts\n" + "\n".join(rows) + "\n"
    data = load_interactions(io.BytesIO(text.encode()), names=["orders.csv"])
    return data


@pytest.fixture(scope="module")
def uploaded_runs(uploaded):
    return {cell: train_run(uploaded, TrainConfig(model=cell, embedding_dim=8, hidden_size=16, layers=2, epochs=2,
                                                  patience=0, batch_size=32, seed=4), name=f"upload {cell}",
                            baselines={})
            for cell in CELLS}


@pytest.fixture(scope="module")
def uploaded_split(uploaded):
    from seqrec import leave_last_out

    return leave_last_out(uploaded)


def brute_force(run, codes, target, exclude_seen=False):
    """The target's probability, score and rank after each shortened history, scored one at a time through the
    run's own public scoring path."""
    out = []
    for t in range(len(codes)):
        scores = run.score_histories([np.delete(codes, t)])[0].double()
        mask = torch.zeros_like(scores, dtype=torch.bool)
        mask[0] = True
        if exclude_seen:
            mask[torch.as_tensor(codes)] = True
            mask[target] = False
        masked = scores.masked_fill(mask, -math.inf)
        p = torch.softmax(masked, 0)[target].item()
        rank = target_ranks(masked.unsqueeze(0), torch.tensor([target]))[0].item()
        out.append((p, scores[target].item(), rank))
    return np.array(out)


# ------------------------------------------------------------------------------------------------------------------
# Occlusion and gradient x input are what they claim to be
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_occlusion_agrees_with_rescoring_every_shortened_history(trained_runs, sample_split, cell):
    run = trained_runs[cell]
    codes = sample_split.train[7][-12:]
    inf = infl.explain(run, codes)  # index codes are accepted as well as raw IDs
    tgt = int(run.vocab.encode([inf.target])[0][0])
    full = run.score_histories([codes])[0]
    full[0] = -math.inf
    assert tgt == int(torch.argmax(full))  # default target: the top recommendation
    assert inf.rank == 1 and inf.items == run.vocab.decode(codes)
    expected = brute_force(run, codes, tgt)
    assert np.allclose(inf.probability_without, expected[:, 0], atol=1e-5)
    assert np.allclose(inf.score_without, expected[:, 1], atol=1e-4)
    assert np.array_equal(inf.rank_without, expected[:, 2])
    assert np.allclose(inf.occlusion, inf.probability - expected[:, 0], atol=1e-5)


def test_occlusion_with_exclude_seen_and_a_chosen_target_matches_rescoring(trained_runs, sample_split):
    run = trained_runs["gru"]
    history = run.vocab.decode(sample_split.train[3][-9:])
    target = history[2]  # an item already seen: with exclude-seen it stays a candidate because we asked for it
    inf = infl.explain(run, history + ["NOT-AN-ITEM"], target, exclude_seen=True)
    assert inf.unknown_items == ["NOT-AN-ITEM"] and inf.target == target and inf.exclude_seen
    codes, _ = run.vocab.encode(history)
    expected = brute_force(run, codes, int(codes[2]), exclude_seen=True)
    assert np.allclose(inf.probability_without, expected[:, 0], atol=1e-5)
    assert np.array_equal(inf.rank_without, expected[:, 2])
    top = infl.explain(run, history, exclude_seen=True).target
    assert top not in history  # the default target skips seen items with exclude-seen on


def test_all_removals_go_through_the_network_in_one_batched_forward(gru_run, sample_split):
    codes = next(h for h in sample_split.train if len(h) >= 15)[-15:]
    grads = [None if p.grad is None else p.grad.clone() for p in gru_run.model.parameters()]
    calls = []
    hook = gru_run.model.embedding.register_forward_hook(lambda m, args, out: calls.append(tuple(args[0].shape)))
    try:
        infl.explain(gru_run, codes, with_gradient=False)
        assert calls == [(16, 15)]  # the whole history plus 15 shortened ones, padded to one batch
        calls.clear()
        infl.explain(gru_run, codes)
        assert calls == [(16, 15), (1, 15)]  # plus one pass for the gradient
    finally:
        hook.remove()
    after = [p.grad for p in gru_run.model.parameters()]  # explaining never touches the weights' gradients
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(grads, after))


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_x_input_is_the_slope_of_scaling_each_item(trained_runs, sample_split, cell):
    """Gradient . embedding = d/d(eps) log p(target) when item t's embedding is scaled by (1 + eps): checked by a
    central difference through the run's own scoring path."""
    run = trained_runs[cell]
    codes = sample_split.train[21][-8:]
    inf = infl.explain(run, codes)
    tgt = int(run.vocab.encode([inf.target])[0][0])
    eps = 1e-2

    def logp(t, scale):
        def hook(module, args, out):
            out = out.clone()
            out[:, t] *= scale
            return out

        h = run.model.embedding.register_forward_hook(hook)
        try:
            s = run.score_histories([codes])[0].double()
        finally:
            h.remove()
        s[0] = -math.inf
        return torch.log_softmax(s, 0)[tgt].item()

    slopes = np.array([(logp(t, 1 + eps) - logp(t, 1 - eps)) / (2 * eps) for t in range(len(codes))])
    assert np.allclose(inf.gradient, slopes, atol=0.02 * np.abs(slopes).max() + 1e-3)


def memoryless_run(n_items=12):
    """An RNN whose recurrent weights are zero: its state after the last item depends on that item alone."""
    torch.manual_seed(0)
    config = TrainConfig(model="rnn", embedding_dim=6, hidden_size=8, layers=2, epochs=1)
    model = SeqRecModel(n_items, config).eval()
    with torch.no_grad():
        for cell in model.cells:
            cell.weight_hh_l0.zero_()
    return Run(name="memoryless", config=config, vocab=ItemVocab([f"i{k}" for k in range(n_items)]), model=model,
               metrics={})


def test_items_a_memoryless_network_cannot_see_have_exactly_no_influence():
    run = memoryless_run()
    history = ["i3", "i7", "i1", "i9", "i4", "i2"]
    inf = infl.explain(run, history)
    assert np.allclose(inf.occlusion[:-1], 0, atol=1e-7) and abs(inf.occlusion[-1]) > 1e-4
    assert np.allclose(inf.gradient[:-1], 0, atol=1e-7) and abs(inf.gradient[-1]) > 1e-4
    assert inf.reach() == 1 and inf.older_half_share() == pytest.approx(0, abs=1e-6)
    assert "early items barely matter to the RNN" in infl.influence_sentence(inf)
    one = infl.explain(run, ["i5"])  # removing the only item leaves an empty history: scored from the zero state
    assert one.n_steps == 1 and np.isfinite(one.probability_without).all()


def long_histories(split, n=12, length=80, seed=0):
    """Several users' sequences back to back: long histories whose early part lies far in the past."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        seq = np.concatenate([split.full_sequence(int(u)) for u in rng.choice(len(split.users), 8, replace=False)])
        if len(seq) >= length:
            out.append(seq[-length:])
    return out


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_removing_an_item_beyond_the_models_memory_changes_little(trained_runs, sample_split, cell):
    """Items more than 40 steps back are beyond what an RNN or this GRU's recurrent state remembers: removing one
    moves the recommendation's probability by under a point, a small fraction of what the influential items do. The
    one exception is the recommended item itself: the repeat-aware scores recall an earlier occurrence of it from
    anywhere in the window (max_len items), by design."""
    run = trained_runs[cell]
    for codes in long_histories(sample_split):
        inf = infl.explain(run, codes, with_gradient=False)
        far = np.zeros(inf.n_steps, dtype=bool)
        far[: inf.n_steps - 40] = True
        far &= np.asarray(inf.items) != inf.target  # occurrences of the recommended item: the repeat scores' recall
        assert np.abs(inf.occlusion[far]).max() < 0.01
        assert np.abs(inf.log_change[far]).max() < 0.1 * np.abs(inf.log_change).max()


def test_an_lstm_and_a_gru_remember_further_back_than_a_plain_rnn(trained_runs, sample_split):
    histories = [h[-20:] for h in sample_split.train[:60]]
    profiles = {cell.upper(): infl.average_profile(trained_runs[cell], histories) for cell in CELLS}
    assert all(len(p) == 20 and np.nanmin(p) >= 0 and np.nanmax(p) <= 1 for p in profiles.values())
    beyond_five = {cell: float(np.nansum(p[5:])) for cell, p in profiles.items()}
    assert beyond_five["RNN"] < beyond_five["GRU"] and beyond_five["RNN"] < beyond_five["LSTM"]
    sentence = infl.profile_sentence(profiles)
    assert sentence.startswith("On average the latest 3 items hold") and sentence.index("for RNN") < min(
        sentence.index("for GRU"), sentence.index("for LSTM"))  # the shortest memory holds the most on them
    shared = long_histories(sample_split, n=1, length=30)[0]
    influences = infl.explain_runs([trained_runs[c] for c in CELLS], sample_split.vocab.decode(shared))
    sentence = infl.compare_sentence(influences)
    assert "remembers furthest back" in sentence and "(RNN)" in sentence.split("against")[1]
    table = infl.memory_table(influences)
    assert [r["Model"] for r in table] == ["RNN", "LSTM", "GRU"]
    assert all(0 <= r["Older half (removal)"] <= 1 for r in table)


# ------------------------------------------------------------------------------------------------------------------
# The sample's planted long-range cue
# ------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cue_cases(sample_split, repo_root):
    """Users whose held-out item is a step of one of their 'projects' (sample_data/make_sample.py) and whose
    previous step of that project lies 2 or more items back: (history, target, how far back the cue is)."""
    sys.path.insert(0, str(repo_root / "sample_data"))
    try:
        from make_sample import CATALOG, JOURNEY_LEN
    finally:
        sys.path.remove(str(repo_root / "sample_data"))
    items = pd.read_csv(repo_root / "sample_data" / "items.csv", dtype=str).set_index("item_id")["title"]
    step = {title: (cat, j) for cat, titles in CATALOG.items() for j, title in enumerate(titles[:JOURNEY_LEN])}
    journey = {iid: step.get(title) for iid, title in items.items()}
    cases = []
    for u in range(len(sample_split.users)):
        full = sample_split.vocab.decode(sample_split.full_sequence(u))
        history, target = full[:-1], full[-1]
        where = journey.get(target)
        if where is None:
            continue
        for back in range(1, len(history) + 1):
            prev = journey.get(history[-back])
            if prev and prev[0] == where[0] and where[1] - prev[1] in (1, 2):
                if back >= 2:
                    cases.append((history, target, back))
                break
        if len(cases) == 40:
            break
    assert len(cases) == 40
    return cases


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_planted_long_range_cue_shows_up_as_influential(trained_runs, cue_cases, cell):
    """The next step of a project depends on the project's previous step 2-4 items back, not on the latest item:
    removing that cue should be among the two biggest changes, and should make the right item less likely."""
    run = trained_runs[cell]
    top_two = lowers = 0
    for history, target, back in cue_cases:
        inf = infl.explain(run, history, target, with_gradient=False)
        cue = inf.n_steps - back
        top_two += cue in inf.ranking()[:2]
        lowers += inf.occlusion[cue] > 0
    assert top_two >= 0.7 * len(cue_cases)
    assert lowers >= 0.9 * len(cue_cases)


# ------------------------------------------------------------------------------------------------------------------
# Sentences
# ------------------------------------------------------------------------------------------------------------------

def made_up(prob, without, gradient=None, cell="gru"):
    n = len(without)
    return infl.Influence(run_name="r", cell=cell, items=[f"I{k}" for k in range(1, n + 1)], target="T",
                          probability=prob, score=0.0, rank=1, probability_without=np.array(without, dtype=float),
                          score_without=np.zeros(n), rank_without=np.ones(n),
                          gradient=np.array(gradient if gradient is not None else np.zeros(n), dtype=float))


def test_the_sentence_names_the_main_reasons_and_says_whether_early_items_matter():
    label = {"I4": "Paper Filters", "I6": "Gooseneck Kettle", "T": "Burr Grinder"}.get
    inf = made_up(0.4, [0.4, 0.4, 0.4, 0.1, 0.39, 0.05])
    s = infl.influence_sentence(inf, lambda i: label(i) or i)
    assert s.startswith("“Burr Grinder” is recommended mostly because of “Gooseneck Kettle” and "
                        "“Paper Filters”")
    assert "drop from 40.0% to 5.0%" in s and "early items barely matter to the GRU" in s
    early = made_up(0.4, [0.05, 0.4, 0.39, 0.4, 0.4, 0.38], cell="lstm")
    assert "The LSTM still draws on the early items" in infl.influence_sentence(early)
    flat = made_up(0.2, [0.199, 0.201, 0.2, 0.2])
    assert infl.influence_sentence(flat).startswith("No single item drives “T”")
    against = made_up(0.2, [0.2, 0.35, 0.05, 0.2])
    assert "“I2” pulls the other way (without it the probability would rise to 35.0%)" in \
        infl.influence_sentence(against)


def test_the_agreement_sentence_says_when_the_gradient_points_elsewhere():
    inf = made_up(0.4, [0.4, 0.1, 0.3], gradient=[0.0, 2.0, 0.5])
    assert infl.agreement_sentence(inf) == "Both methods agree: “I2” matters most."
    inf = made_up(0.4, [0.4, 0.1, 0.3], gradient=[3.0, 2.0, 0.5])
    s = infl.agreement_sentence(inf)
    assert "removing “I2” changes the most" in s and "gradient points at “I1”" in s and "Trust the removal" in s


def test_every_view_has_a_plain_language_text():
    assert set(WHY_TEXTS) == {"influence", "gradient", "compare", "profile", "map", "trajectory", "similar"}
    assert all(len(why_text(v)) > 100 for v in WHY_TEXTS)
    with pytest.raises(SeqrecError, match="choose one of"):
        why_text("heatmap")


# ------------------------------------------------------------------------------------------------------------------
# Bad input: one sentence each
# ------------------------------------------------------------------------------------------------------------------

def test_bad_histories_targets_and_settings_are_one_sentence(gru_run):
    with pytest.raises(SeqrecError, match="empty"):
        infl.explain(gru_run, [])
    with pytest.raises(SeqrecError, match="known to this run"):
        infl.explain(gru_run, ["nope", "nada"])
    with pytest.raises(SeqrecError, match="not known to this run"):
        infl.explain(gru_run, list(gru_run.vocab.ids[:3]), target="NOT-AN-ITEM")
    with pytest.raises(SeqrecError, match="between 1 and 300"):
        infl.explain(gru_run, np.array([0, 5]))
    with pytest.raises(SeqrecError, match="'occlusion' or 'gradient'"):
        infl.explain(gru_run, list(gru_run.vocab.ids[:3])).effect("attention")
    with pytest.raises(SeqrecError, match="not known to this run"):
        em.nearest_items(gru_run, "NOT-AN-ITEM")
    with pytest.raises(SeqrecError, match="at least 1"):
        em.nearest_items(gru_run, str(gru_run.vocab.ids[0]), k=0)
    with pytest.raises(SeqrecError, match="'pca' or 'tsne'"):
        em.item_map(gru_run, "umap")
    with pytest.raises(SeqrecError, match="share no item"):
        infl.explain_runs([gru_run], ["nope"])


def test_tsne_is_refused_above_its_item_limit_with_a_pointer_to_pca(gru_run, monkeypatch):
    monkeypatch.setattr(em, "TSNE_MAX_ITEMS", 100)
    with pytest.raises(SeqrecError, match="up to 100 items .* use the PCA map"):
        em.item_map(gru_run, "tsne")
    assert len(em.item_map(gru_run, "pca")) == 300


def test_long_histories_keep_the_last_max_len_items_like_the_model(gru_run):
    history = [str(i) for i in gru_run.vocab.ids[:50]] * 5  # 250 > max_len (default 50)
    inf = infl.explain(gru_run, history, with_gradient=False)
    assert inf.n_steps == gru_run.config.max_len
    assert inf.dropped_items == history[:len(history) - gru_run.config.max_len]


# ------------------------------------------------------------------------------------------------------------------
# Item map, trajectory, similar items
# ------------------------------------------------------------------------------------------------------------------

def test_item_map_has_one_seeded_point_per_item_with_its_popularity(gru_run, sample_split):
    pop = em.popularity_for_run(gru_run, sample_split)
    points = em.item_map(gru_run, "pca", popularity=pop)
    assert list(points["item"]) == [str(i) for i in gru_run.vocab.ids] and len(points) == 300
    first = str(gru_run.vocab.ids[0])
    assert points["popularity"].iloc[0] == sum(int((seq == 1).sum()) for seq in sample_split.train) \
        + int((sample_split.valid_target == 1).sum()) + int((sample_split.test_target == 1).sum())
    assert pop.max() == pop[0] and first == str(sample_split.vocab.ids[0])
    again = em.item_map(gru_run, "tsne", seed=3)
    assert np.array_equal(again[["x", "y"]].to_numpy(), em.item_map(gru_run, "tsne", seed=3)[["x", "y"]].to_numpy())
    assert np.isfinite(again[["x", "y"]].to_numpy()).all()


def test_the_output_vectors_put_items_of_a_department_together(gru_run, sample_items_csv):
    """What the model learned: by its output-layer vectors (how it scores an item as the next one), an item's
    nearest neighbours come from its own department far more often than the 10% of chance (10 departments)."""
    meta = pd.read_csv(sample_items_csv, dtype=str).set_index("item_id")["category"]
    same = [np.mean([meta[n] == meta[str(i)] for n in em.nearest_items(gru_run, str(i), 5, "output")["item"]])
            for i in gru_run.vocab.ids]
    assert np.mean(same) > 0.2


def test_nearest_neighbours_are_sorted_by_cosine_and_exclude_the_item(trained_runs):
    for cell in CELLS:
        run = trained_runs[cell]
        item = str(run.vocab.ids[17])
        for which in ("input", "output"):
            near = em.nearest_items(run, item, k=8, which=which)
            assert len(near) == 8 and item not in set(near["item"])
            assert (np.diff(near["similarity"].to_numpy()) <= 0).all()
            v = em.item_vectors(run, which)
            unit = v / np.linalg.norm(v, axis=1, keepdims=True)
            sims = unit @ unit[17]
            sims[17] = -np.inf
            assert near["similarity"].tolist() == pytest.approx(np.sort(sims)[::-1][:8].tolist(), abs=1e-9)
    small = memoryless_run(n_items=4)
    assert len(em.nearest_items(small, "i0", k=10)) == 3  # never more than the other items


def test_next_items_are_the_training_transition_counts(sample_split):
    transitions = em.fit_transitions(sample_split)
    item = str(sample_split.vocab.ids[4])
    code = 5
    counts = {}
    for seq in sample_split.train:
        for a, b in zip(seq[:-1], seq[1:]):
            if a == code:
                counts[int(b)] = counts.get(int(b), 0) + 1
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    out = em.next_items(transitions, sample_split.vocab, item, 10)
    assert out["item"].tolist() == sample_split.vocab.decode([c for c, _ in best])
    assert out["count"].tolist() == [n for _, n in best]
    assert out["share"].iloc[0] == pytest.approx(best[0][1] / sum(counts.values()))
    assert em.next_items(transitions, sample_split.vocab, "NOT-AN-ITEM").empty


def test_trajectory_has_one_point_per_step_in_a_space_fitted_on_many_users(trained_runs, sample_split):
    histories = em.sample_histories(sample_split, 300)
    assert len(histories) == 300 and histories == em.sample_histories(sample_split, 300)  # seeded
    for cell in CELLS:
        run = trained_runs[cell]
        space = em.fit_state_space(run, histories)
        assert space.n_users == 300 and space.background.shape == (2000, 2)
        assert space.explained[0] >= space.explained[1] > 0
        history = sample_split.vocab.decode(sample_split.train[9])
        path = em.trajectory(run, history + ["ghost"], space)
        assert len(path) == len(history) and path["step"].tolist() == list(range(1, len(history) + 1))
        assert path["item"].tolist() == history
        _, states = em.hidden_path(run, history)
        assert np.allclose(path[["x", "y"]].to_numpy(), space.project(states))
        assert len(em.drift(path)) == len(path) and em.drift(path)[0] == 0


# ------------------------------------------------------------------------------------------------------------------
# Every view, for every cell, on the sample and on an uploaded dataset
# ------------------------------------------------------------------------------------------------------------------

def every_view(run, split, history, label=str, category=None):
    """Everything the page shows for one run and history, as the figures a user would see."""
    inf = infl.explain(run, history)
    recs = [r["item"] for r in run.recommend(history, k=5)["recommendations"]]
    figs = {"influence": wf.influence_bars(inf, label)}
    points = em.item_map(run, "tsne", popularity=em.popularity_for_run(run, split))
    figs["map"] = wf.item_map_figure(points, label, category, "category" if category else "popularity",
                                     inf.items, recs)
    space = em.fit_state_space(run, em.sample_histories(split, 100))
    figs["path"] = wf.trajectory_figure(em.trajectory(run, history, space), space, label)
    near = em.nearest_items(run, recs[0], 5)
    follow = em.next_items(em.fit_transitions(split), split.vocab, recs[0], 5)
    figs["similar"] = wf.similar_items_figure(near, follow, recs[0], label)
    return inf, recs, figs


@pytest.mark.parametrize("cell", CELLS)
def test_every_view_works_on_the_sample(trained_runs, sample_split, sample_items_csv, cell):
    meta = pd.read_csv(sample_items_csv, dtype=str).set_index("item_id")
    run = trained_runs[cell]
    history = sample_split.vocab.decode(sample_split.train[2])
    inf, recs, figs = every_view(run, sample_split, history, lambda i: meta.title[i], lambda i: meta.category[i])
    assert infl.influence_sentence(inf, lambda i: meta.title[i]).startswith(f"“{meta.title[recs[0]]}”")
    bars = figs["influence"]
    assert len(bars.data[0].x) == len(history) and meta.title[history[0]] in bars.data[0].customdata[0][0]
    map_names = [t.name for t in figs["map"].data]
    assert sum(1 for n in map_names if html.unescape(n) in set(meta.category)) == 10  # one entry per department
    assert "history (numbered, oldest first)" in map_names and "recommended" in map_names
    assert len(figs["path"].data[1].x) == len(history)
    assert figs["similar"].data[0].customdata[0] == meta.title[em.nearest_items(run, recs[0], 5)["item"][0]]


@pytest.mark.parametrize("cell", CELLS)
def test_every_view_works_on_an_uploaded_dataset(uploaded_runs, uploaded_split, cell):
    run = uploaded_runs[cell]
    history = uploaded_split.vocab.decode(uploaded_split.train[0])
    inf, recs, figs = every_view(run, uploaded_split, history)
    assert inf.items == history and len(recs) == 5
    assert figs["map"].data[0].marker.colorbar.title.text.startswith("popularity")  # no metadata: popularity
    assert [t.name for t in figs["map"].data[1:]] == ["history (numbered, oldest first)", "recommended"]
    assert len(figs["path"].data[1].x) == len(history)
    compared = infl.explain_runs(list(uploaded_runs.values()), history, target=recs[0])
    assert {c.target for c in compared} == {recs[0]}  # the same item explained by every run
    fig = wf.compare_influence(compared)
    assert len(fig.data) == 3 and all(len(t.y) == len(history) for t in fig.data)


def test_item_names_never_become_markup_in_figures(gru_run, sample_split):
    evil = {str(gru_run.vocab.ids[0]): "<a href='https://evil.example'>click</a>",
            str(gru_run.vocab.ids[1]): "<b>bold</b> & more"}

    def label(i):
        return evil.get(i, i)

    history = [str(gru_run.vocab.ids[1]), str(gru_run.vocab.ids[0]), str(gru_run.vocab.ids[5])]
    inf = infl.explain(gru_run, history, target=str(gru_run.vocab.ids[0]))
    points = em.item_map(gru_run, "pca")
    near = em.nearest_items(gru_run, str(gru_run.vocab.ids[0]), 5)
    follow = em.next_items(em.fit_transitions(sample_split), sample_split.vocab, str(gru_run.vocab.ids[0]), 5)
    figs = [wf.influence_bars(inf, label), wf.item_map_figure(points, label, None, "popularity", history,
                                                              [str(gru_run.vocab.ids[0])]),
            wf.compare_influence([inf], label), wf.similar_items_figure(near, follow, str(gru_run.vocab.ids[0]), label)]
    for fig in figs:
        text = fig.to_json()
        assert "<a href" not in text and "<b>bold" not in text
        assert "&lt;a href" in text or "&lt;b&gt;bold" in text


def test_the_average_profile_skips_histories_that_leave_nothing_to_recommend():
    """With 'exclude seen', a sampled history that holds the whole (tiny) catalogue has no recommendation to explain:
    it is skipped, and the profile of the other histories is still drawn instead of the whole chart failing."""
    rows = [(f"u{u}", f"i{(u + t) % 4}", t) for u in range(20) for t in range(8)]
    raw = pd.DataFrame(rows, columns=["user", "item", "time"]).to_csv(index=False).encode()
    run = train_run(load_interactions(io.BytesIO(raw), names=["tiny.csv"]),
                    TrainConfig(model="rnn", layers=2, embedding_dim=4, hidden_size=4, epochs=1, batch_size=16,
                                seed=1), baselines={})
    every = [str(i) for i in run.vocab.ids]
    with pytest.raises(SeqrecError, match="nothing left to recommend"):
        infl.explain(run, every, exclude_seen=True)
    profile = infl.average_profile(run, [every, every[:1], every[:2]], exclude_seen=True, last=3)
    # latest item: share 1 of the 1-item history, and 1 - (older item's share) of the 2-item one
    assert profile[0] == pytest.approx(1.0 - profile[1] / 2) and 0 <= profile[1] <= 1
    assert np.isnan(profile[2])  # no kept history is 3 items long

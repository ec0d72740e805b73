"""The app's pages: the one registry of page script paths (PAGE), and the guided-path order with titles, icons and
blurbs (STEPS). The router (app.py) builds the navigation from these, the Home page shows STEPS as cards, and every
page link, page switch and test names a page through PAGE, never by its path."""

PAGE = {
    "home": "views/home.py",
    "data": "views/data.py",
    "train": "views/train.py",
    "inside": "views/inside.py",
    "recommend": "views/recommend.py",
    "why": "views/why.py",
    "compare": "views/compare.py",
    "runs": "views/runs.py",
    "tune": "views/tune.py",
}

STEPS = [
    (PAGE["data"], "Data", ":material/table_chart:", "Load the bundled sample or your own CSVs, map the columns, "
     "filter and look at the data."),
    (PAGE["train"], "Train", ":material/model_training:", "Pick RNN, LSTM or GRU and a preset, then watch the loss "
     "and validation metrics live."),
    (PAGE["inside"], "Inside the network", ":material/neurology:", "See what the recurrent network does with a "
     "sequence, step by step."),
    (PAGE["recommend"], "Recommend", ":material/recommend:", "Top-K next items for a user or a history you build "
     "by hand, across all runs."),
    (PAGE["why"], "Why this?", ":material/psychology_alt:", "Which history items a recommendation rests on, how "
     "far back each model remembers, and a map of what it learned."),
    (PAGE["compare"], "Compare", ":material/leaderboard:", "All runs and the baselines in one table and chart: "
     "does the network beat them?"),
    (PAGE["tune"], "Tune", ":material/tune:", "The same search budget for RNN, LSTM and GRU: the best settings "
     "of each, found on validation and scored on test."),
    (PAGE["runs"], "Runs", ":material/bookmarks:", "Saved runs: reload, rename, publish to the workshop gallery, "
     "export or import a bundle."),
]

"""The app's pages in guided-path order: the router (app.py) builds the navigation from this list and the Home
page shows it as cards."""

STEPS = [
    ("views/data.py", "Data", ":material/table_chart:", "Load the bundled sample or your own CSVs, map the columns, "
     "filter and look at the data."),
    ("views/train.py", "Train", ":material/model_training:", "Pick RNN, LSTM or GRU and a preset, then watch the loss "
     "and validation metrics live."),
    ("views/inside.py", "Inside the network", ":material/neurology:", "See what the recurrent network does with a "
     "sequence, step by step."),
    ("views/recommend.py", "Recommend", ":material/recommend:", "Top-K next items for a user or a history you build "
     "by hand, across all runs."),
    ("views/why.py", "Why this?", ":material/psychology_alt:", "Which history items a recommendation rests on, how "
     "far back each model remembers, and a map of what it learned."),
    ("views/compare.py", "Compare", ":material/leaderboard:", "All runs and the baselines in one table and chart: "
     "does the network beat them?"),
    ("views/runs.py", "Runs", ":material/bookmarks:", "Saved runs: reload, rename, publish to the workshop gallery, "
     "export or import a bundle."),
]

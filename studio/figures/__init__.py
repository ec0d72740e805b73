"""Plotly figures for the pages, one module per subject: data, training (curves and comparisons), compare
(metrics by history length), gates, why;
style holds what the data and training charts share."""

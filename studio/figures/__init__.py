"""Plotly figures for the pages, one module per subject: data, training (curves and comparisons), gates, why;
style holds what the data and training charts share."""

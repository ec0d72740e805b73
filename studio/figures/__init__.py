"""Plotly figures for the pages: data, training curves, gates, why."""

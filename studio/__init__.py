"""Streamlit-facing helpers for the seqrec studio app: session state, shared sidebar, small widget helpers.

Everything that computes lives in `seqrec`; this package only keeps per-session state and draws widgets.
"""

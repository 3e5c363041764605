"""Plotly figures for the autohelper's threshold decision."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go


def confidence_histogram(golden: pd.DataFrame, threshold: float) -> go.Figure:
    frame = golden.assign(outcome=golden.correct.map({True: "right", False: "wrong"}))
    figure = px.histogram(frame, x="confidence", color="outcome", nbins=20, barmode="overlay",
                          title="Golden items: confidence when the model is right and wrong",
                          color_discrete_map={"right": "#2f6fdb", "wrong": "#d9534f"})
    figure.add_vline(x=threshold, line_dash="dash")
    return figure


def accuracy_coverage(curve: pd.DataFrame, threshold: float, coverage: float, accuracy: float) -> go.Figure:
    figure = px.line(curve, x="coverage", y="accuracy", title="Accuracy of accepted golden items vs coverage",
                     hover_data=["threshold"])
    figure.add_scatter(x=[coverage], y=[accuracy], mode="markers", marker={"size": 12},
                       name=f"threshold {threshold:.3f}")
    return figure


def cost_curve(curve: pd.DataFrame, threshold: float) -> go.Figure:
    figure = px.line(curve, x="threshold", y="crowd_cost", title="Crowd cost by threshold")
    figure.add_vline(x=threshold, line_dash="dash")
    return figure

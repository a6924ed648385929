"""Models: the model cards of the shipped models (written by ``python -m fer train``):
validation accuracy with and without flip TTA, per-class F1, confusion matrix, speed, size and
the training recipe to reproduce them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer.emotions import EMOTIONS
from fer.errors import FerError
from fer.output.charts import (
    confusion_matrix_chart,
    per_class_f1_chart,
    reliability_chart,
    robustness_chart,
    training_history_chart,
)
from fer.quality.balance import operating_point_caption
from fer.quality.calibration import calibration_caption, reliability_series
from fer.quality.dataset import fer2013_dir, ferplus_dir
from fer.quality.label_sets import LabelAgreement, compare_label_sets
from fer.quality.robustness import robustness_caption, robustness_rows
from fer.serving.card import ModelCard, Report, Serving, Training
from fer.serving.registry import HOW_TO_TRAIN, MODEL_NAMES, ModelInfo, available_models
from fer.settings import models_dir
from pages._common import ensure_entry_point, show_model_missing

NOT_RECORDED = "not recorded"
DASH = "–"  # metrics are narrow: a dash, with the reason in their help


def _pct(value) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, (int, float)) else NOT_RECORDED


def _duration(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return NOT_RECORDED
    minutes = round(seconds / 60)
    return (
        f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds / 60:.1f} min"
    )


def _file_mb(info: ModelInfo) -> float | None:
    size = info.model_card.file_bytes
    if size is None and info.path.exists():
        size = info.path.stat().st_size
    return size / 1e6 if size else None


def _number(value: float | None, fmt: str) -> str:
    return format(value, fmt) if value is not None else NOT_RECORDED


def overview(models: list[ModelInfo]) -> pd.DataFrame:
    rows = []
    for m in models:
        card = m.model_card
        mb = _file_mb(m)
        rows.append(
            {
                "model": m.name,
                "validated on": card.validation_split_short or NOT_RECORDED,
                "accuracy": _pct(card.accuracy("off")),
                "with flip TTA": _pct(card.accuracy("flip")),
                "with flip + shift TTA": _pct(card.accuracy("shift")),
                "FER+ Valid (flip TTA)": _stored(card, "FER+ Valid", "flip"),
                "FER2013 PublicTest (flip TTA)": _stored(card, "PublicTest", "flip"),
                "ms / face (batch 1)": _number(card.speed.ms_per_face_batch1, ".2f"),
                "faces / s (batch 64)": _number(card.speed.faces_per_s_batch64, ",.0f"),
                "parameters": _number(card.parameters, ","),
                "file": f"{mb:.1f} MB" if mb else NOT_RECORDED,
                "epochs": str(card.training.epochs if card.training else NOT_RECORDED),
                "training time": _duration(card.training.wall_seconds if card.training else None),
                "robustness: mean drop": _points(card.robustness.get("off", {}).get("mean_drop")),
                "ECE": _pct(card.calibration.get("ece_shown")),
            }
        )
    return pd.DataFrame(rows)


def _stored(card: ModelCard, split: str, tta: str) -> str:
    """An ``evaluate --write-card`` figure (FER+: against the majority of ten votes)."""
    entry = card.evaluation(split, tta)
    return _pct(entry.get("accuracy")) if entry else NOT_RECORDED


def _points(value) -> str:
    return f"{100 * value:.1f} pts" if isinstance(value, (int, float)) else NOT_RECORDED


def model_card(info: ModelInfo) -> None:
    if not info.card:
        st.info(
            f"The {info.name} model is installed ({info.path.name}) but has no model card "
            f"({info.path.with_suffix('.json').name}); training writes one."
        )
        return
    card = info.model_card
    headline_metrics(info, card)
    if card.validation_split:
        st.caption(f"Validated on {card.validation_split}.")
    serving_summary(card.serving)
    operating_point(card)
    per_class_and_confusion(card)
    robustness_and_calibration(card)
    training_and_members(card)


def _or_dash(value: str) -> str:
    return DASH if value == NOT_RECORDED else value


def _points_over(accuracy: float | None, base: float | None) -> str | None:
    """``+1.2 pts``: a TTA mode's gain over plain accuracy, for a metric's delta."""
    if accuracy is None or base is None:
        return None
    return f"{100 * (accuracy - base):+.1f} pts"


def headline_metrics(info: ModelInfo, card: ModelCard) -> None:
    """Accuracy in each TTA mode, speed, parameters and file size, in one row."""
    plain, speed = card.accuracy("off"), card.speed
    c1, c2, c3, c4, c5, c6 = st.columns(6)
    c1.metric(
        "Validation accuracy",
        _or_dash(_pct(plain)),
        help=card.validation_split or "FER2013 PublicTest",
    )
    c2.metric(
        "With flip TTA",
        _or_dash(_pct(card.accuracy("flip"))),
        delta=_points_over(card.accuracy("flip"), plain),
        help="Each face and its mirror image, probabilities averaged.",
    )
    c3.metric(
        "With flip + shift TTA",
        _or_dash(_pct(card.accuracy("shift"))),
        delta=_points_over(card.accuracy("shift"), plain),
        help="Ten views per face: the face and its mirror, each also moved 2 pixels "
        "left, right, up and down; probabilities averaged.",
    )
    speed_help = "One face at a time"
    if speed.faces_per_s_batch64 is not None:
        speed_help += f"; {speed.faces_per_s_batch64:,.0f} faces/s in batches of 64"
    engine = (card.serving.runtime if card.serving else None) or speed.engine
    speed_help += (
        f" ({engine or 'engine not recorded'}, {speed.machine or 'machine not recorded'})."
    )
    c4.metric("ms per face", _or_dash(_number(speed.ms_per_face_batch1, ".2f")), help=speed_help)
    c5.metric("Parameters", _or_dash(_number(card.parameters, ",")))
    mb = _file_mb(info)
    c6.metric("File size", f"{mb:.1f} MB" if mb else DASH, help="The Keras model file.")


def per_class_and_confusion(card: ModelCard) -> None:
    plain, flip = card.reports.get("off", Report()), card.reports.get("flip", Report())
    left, right = st.columns(2)
    with left:
        st.markdown("**Per-class F1**")
        if plain.per_class:
            series = {"plain": plain.per_class}
            if flip.per_class:
                series["flip TTA"] = flip.per_class
            st.altair_chart(per_class_f1_chart(series), width="stretch")
            table = pd.DataFrame(plain.per_class).T.reindex(list(EMOTIONS))
            st.dataframe(
                table, column_config={"support": st.column_config.NumberColumn(format="%d")}
            )
        else:
            st.caption(f"Per-class scores {NOT_RECORDED}.")
    with right:
        st.markdown("**Confusion matrix** (rows: true, columns: predicted)")
        if plain.confusion_matrix:
            st.altair_chart(
                confusion_matrix_chart(plain.confusion_matrix, list(card.labels or EMOTIONS))
            )
        else:
            st.caption(f"Confusion matrix {NOT_RECORDED}.")


def training_and_members(card: ModelCard) -> None:
    """The training recipe and history, and each ensemble member's own."""
    st.markdown("**Training**")
    if card.training:
        _training_details(card.training, card.augmentation, card.preprocessing, card)
    else:
        st.caption(f"Training recipe {NOT_RECORDED}.")
    for i, member in enumerate(card.members, start=1):
        accuracy = member.accuracy
        st.markdown(
            f"**Member {i}**: {member.architecture or 'network'}, "
            f"{_pct(accuracy.get('off'))} alone ({_pct(accuracy.get('flip'))} with flip "
            f"TTA, {_pct(accuracy.get('shift'))} with 10 views)"
        )
        if member.training:
            _training_details(member.training, member.augmentation, member.preprocessing)


def robustness_and_calibration(card: ModelCard) -> None:
    """The robustness suite's accuracies and the reliability diagram, as the card records them."""
    robustness = card.robustness.get("off")
    calibration = card.calibration
    left, right = st.columns(2)
    with left:
        st.markdown("**Robustness** (accuracy under shifts real photos bring)")
        rows = robustness_rows(robustness) if robustness else []
        if rows:
            st.altair_chart(robustness_chart(rows), width="stretch")
            st.caption(robustness_caption(robustness))
            st.code(robustness.get("command", ""), language="bash")
        else:
            st.caption(f"Robustness {NOT_RECORDED}.")
    with right:
        st.markdown("**Calibration** (reliability diagram)")
        series = reliability_series(calibration) if calibration else {}
        if series:
            st.altair_chart(reliability_chart(series), width="stretch")
            st.caption(calibration_caption(calibration))
            st.code(calibration.get("command", ""), language="bash")
        else:
            st.caption(f"Calibration {NOT_RECORDED}.")


def operating_point(card: ModelCard) -> None:
    """The balanced operating point, where the card has one: what serving divides by and what
    that does to the figures (the card's other accuracies are the network's, before it)."""
    text = operating_point_caption(card.prior_correction)
    if text:
        st.caption(text)
        st.code(card.prior_correction.get("command", ""), language="bash")


def serving_summary(serving: Serving | None) -> None:
    """What the app runs: the serving file, its form and how that form was chosen."""
    if serving is None:
        st.caption(f"Serving file {NOT_RECORDED}.")
        return
    size = f", {serving.bytes / 1e6:.1f} MB" if serving.bytes else ""
    difference = (
        f"{serving.max_abs_diff_vs_keras:.4f}"
        if serving.max_abs_diff_vs_keras is not None
        else NOT_RECORDED
    )
    st.caption(
        f"Runs from **{serving.file}** ({serving.quantization}{size}, "
        f"{serving.runtime or 'LiteRT'}); largest difference from the Keras model's "
        f"probabilities on 512 PublicTest faces: {difference}. Rule: "
        f"{serving.rule or NOT_RECORDED}."
    )
    if len(serving.candidates) > 1:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "form": form,
                        "accuracy": _pct(c["accuracy"].get("off")),
                        "with flip TTA": _pct(c["accuracy"].get("flip")),
                        "MB": round(c["bytes"] / 1e6, 2),
                        "shipped": form == serving.quantization,
                    }
                    for form, c in serving.candidates.items()
                ]
            ),
            hide_index=True,
        )


def _training_details(
    training: Training,
    augmentation: str | None,
    preprocessing: str | None,
    card: ModelCard | None = None,
) -> None:
    """The recipe table, the accuracy curve and the commands of one training run."""
    recipe = {
        "epochs": training.epochs,
        "training time": _duration(training.wall_seconds),
        "machine": training.machine,
        "notes": "; ".join(training.notes) or None,
        **training.recipe,
        "augmentation": augmentation,
        "preprocessing": preprocessing,
    }
    st.table(
        pd.DataFrame(
            {"value": [str(v) for v in recipe.values() if v is not None]},
            index=[k for k, v in recipe.items() if v is not None],
        )
    )
    if training.history:
        st.altair_chart(training_history_chart(list(training.history)), width="stretch")
    if training.command:
        st.markdown("To reproduce this model:")
        st.code(training.command, language="bash")
    commands = (
        (("Evaluate it", card.evaluate_command), ("Time it", card.speed_command)) if card else ()
    )
    for label, command in commands:
        if command:
            st.markdown(f"{label}:")
            st.code(command, language="bash")


@st.cache_data(show_spinner="Matching FER+'s faces to FER2013's...")
def _label_agreement(ferplus: str, fer2013: str) -> LabelAgreement | str:
    try:
        return compare_label_sets(ferplus, fer2013)
    except FerError as exc:
        return str(exc)


def label_sets_section() -> None:
    """Why the cards give two accuracies: FER2013's one label against FER+'s ten votes."""
    st.subheader("Two label sets for the same faces")
    st.caption(
        "FER2013 gives each face one label from one person; FER+ (Barsoum et al., 2016) asked "
        "ten people. The models learn from the ten votes (mixed with FER2013's label), so their "
        "accuracy is given against both: FER+ Valid's majority and FER2013 PublicTest's label."
    )
    ferplus, fer2013 = ferplus_dir(), fer2013_dir()
    if not (ferplus.is_dir() and fer2013.is_dir()):
        st.caption(
            f"Set FERPLUS_DIR and FER2013_DIR (now {ferplus} and {fer2013}) to see where the "
            "two label sets disagree."
        )
        return
    result = _label_agreement(str(ferplus), str(fer2013))
    if isinstance(result, str):
        st.warning(result)
        return
    commonest = ", ".join(f"{a} → {b} ({n})" for a, b, n in result.commonest[:3])
    st.markdown(
        f"On PublicTest's {result.scored:,} faces with a clear FER+ majority, FER2013's label "
        f"is the majority's on **{result.agreement:.0%}**. Commonest disagreements (FER2013 → "
        f"FER+): {commonest}."
    )
    for column, example in zip(st.columns(len(result.examples) or 1), result.examples):
        votes = ", ".join(f"{k} {v}" for k, v in example.votes.items())
        column.image(example.face, width=144, clamp=True)
        column.caption(
            f"FER2013: **{example.fer2013_label}**; FER+: **{example.majority}** ({votes})"
        )


def main() -> None:
    ensure_entry_point()
    st.title("Models")
    st.caption("What each model was trained on, how accurate and how fast it is.")
    models = available_models()
    if not models:
        show_model_missing(name=None)
        return
    st.dataframe(overview(models), hide_index=True)
    by_name = {m.name: m for m in models}
    names = [*MODEL_NAMES, *(n for n in by_name if n not in MODEL_NAMES)]
    for tab, name in zip(st.tabs(names), names):
        with tab:
            if name in by_name:
                model_card(by_name[name])
            else:
                st.info(
                    f"The {name} model is not installed in {models_dir()}; "
                    + HOW_TO_TRAIN.format(name=name)
                    + "."
                )
    label_sets_section()


main()

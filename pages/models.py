"""Models: the model cards of the shipped models (written by ``python -m fer train``):
validation accuracy with and without flip TTA, per-class F1, confusion matrix, speed, size and
the training recipe to reproduce them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer.calibration import calibration_caption, reliability_series
from fer.charts import (
    confusion_matrix_chart,
    per_class_f1_chart,
    reliability_chart,
    robustness_chart,
    training_history_chart,
)
from fer.emotions import EMOTIONS
from fer.registry import HOW_TO_TRAIN, MODEL_NAMES, ModelInfo, available_models
from fer.robustness import robustness_caption, robustness_rows
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
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{seconds / 60:.1f} min"


def _file_mb(info: ModelInfo) -> float | None:
    size = info.card.get("file_bytes")
    if size is None and info.path.exists():
        size = info.path.stat().st_size
    return size / 1e6 if size else None


def overview(models: list[ModelInfo]) -> pd.DataFrame:
    rows = []
    for m in models:
        card, speed, training = m.card, m.card.get("speed", {}), m.card.get("training", {})
        mb = _file_mb(m)
        rows.append({
            "model": m.name,
            "accuracy": _pct(m.accuracy),
            "with flip TTA": _pct(m.accuracy_tta),
            "with flip + shift TTA": _pct(m.accuracy_by_tta().get("shift")),
            "ms / face (batch 1)": (f"{speed['ms_per_face_batch1']:.2f}"
                                    if "ms_per_face_batch1" in speed else NOT_RECORDED),
            "faces / s (batch 64)": (f"{speed['faces_per_s_batch64']:,.0f}"
                                     if "faces_per_s_batch64" in speed else NOT_RECORDED),
            "parameters": f"{card['parameters']:,}" if "parameters" in card else NOT_RECORDED,
            "file": f"{mb:.1f} MB" if mb else NOT_RECORDED,
            "epochs": str(training.get("epochs", NOT_RECORDED)),
            "training time": _duration(training.get("wall_seconds")),
            "robustness: mean drop": _points((card.get("robustness") or {}).get("off", {})
                                             .get("mean_drop")),
            "ECE": _pct((card.get("calibration") or {}).get("ece_shown")),
        })
    return pd.DataFrame(rows)


def _points(value) -> str:
    return f"{100 * value:.1f} pts" if isinstance(value, (int, float)) else NOT_RECORDED


def model_card(info: ModelInfo) -> None:
    card = info.card
    if not card:
        st.info(f"The {info.name} model is installed ({info.path.name}) but has no model card "
                f"({info.path.with_suffix('.json').name}); training writes one.")
        return
    headline_metrics(info)
    if card.get("validation_split"):
        st.caption(f"Validated on {card['validation_split']}.")
    serving_summary(card.get("serving"))
    per_class_and_confusion(card)
    robustness_and_calibration(card)
    training_and_members(card)


def _or_dash(value: str) -> str:
    return DASH if value == NOT_RECORDED else value


def _points_over(accuracy: float | None, base: float | None) -> str | None:
    """``+1.2 pts``: a TTA mode's gain over plain accuracy, for a metric's delta."""
    if not isinstance(accuracy, (int, float)) or not isinstance(base, (int, float)):
        return None
    return f"{100 * (accuracy - base):+.1f} pts"


def headline_metrics(info: ModelInfo) -> None:
    """Accuracy in each TTA mode, speed, parameters and file size, in one row."""
    card, speed = info.card, info.card.get("speed", {})
    shift = info.accuracy_by_tta().get("shift")
    c1, c2, c3, c4, c5, c6 = st.columns(6)
    c1.metric("Validation accuracy", _or_dash(_pct(info.accuracy)),
              help=card.get("validation_split", "FER2013 PublicTest"))
    c2.metric("With flip TTA", _or_dash(_pct(info.accuracy_tta)),
              delta=_points_over(info.accuracy_tta, info.accuracy),
              help="Each face and its mirror image, probabilities averaged.")
    c3.metric("With flip + shift TTA", _or_dash(_pct(shift)),
              delta=_points_over(shift, info.accuracy),
              help="Ten views per face: the face and its mirror, each also moved 2 pixels "
                   "left, right, up and down; probabilities averaged.")
    speed_help = "One face at a time"
    if "faces_per_s_batch64" in speed:
        speed_help += f"; {speed['faces_per_s_batch64']:,.0f} faces/s in batches of 64"
    engine = card.get("serving", {}).get("runtime") or speed.get("engine", "engine not recorded")
    speed_help += f" ({engine}, {speed.get('machine', 'machine not recorded')})."
    c4.metric("ms per face", f"{speed['ms_per_face_batch1']:.2f}"
              if "ms_per_face_batch1" in speed else DASH, help=speed_help)
    c5.metric("Parameters", f"{card['parameters']:,}" if "parameters" in card else DASH)
    mb = _file_mb(info)
    c6.metric("File size", f"{mb:.1f} MB" if mb else DASH, help="The Keras model file.")


def per_class_and_confusion(card: dict) -> None:
    plain, tta = card.get("validation", {}), card.get("validation_tta", {})
    left, right = st.columns(2)
    with left:
        st.markdown("**Per-class F1**")
        if plain.get("per_class"):
            series = {"plain": plain["per_class"]}
            if tta.get("per_class"):
                series["flip TTA"] = tta["per_class"]
            st.altair_chart(per_class_f1_chart(series), width="stretch")
            table = pd.DataFrame(plain["per_class"]).T.reindex(list(EMOTIONS))
            st.dataframe(table, column_config={
                "support": st.column_config.NumberColumn(format="%d")})
        else:
            st.caption(f"Per-class scores {NOT_RECORDED}.")
    with right:
        st.markdown("**Confusion matrix** (rows: true, columns: predicted)")
        if plain.get("confusion_matrix"):
            st.altair_chart(confusion_matrix_chart(plain["confusion_matrix"],
                                                   card.get("labels", list(EMOTIONS))))
        else:
            st.caption(f"Confusion matrix {NOT_RECORDED}.")


def training_and_members(card: dict) -> None:
    """The training recipe and history, and each ensemble member's own."""
    st.markdown("**Training**")
    if card.get("training"):
        _training_details(card["training"], card)
    else:
        st.caption(f"Training recipe {NOT_RECORDED}.")
    for i, member in enumerate(card.get("members") or [], start=1):
        accuracy = member.get("accuracy", {})
        st.markdown(f"**Member {i}**: {member.get('architecture') or 'network'}, "
                    f"{_pct(accuracy.get('off'))} alone ({_pct(accuracy.get('flip'))} with flip "
                    f"TTA, {_pct(accuracy.get('shift'))} with 10 views)")
        if member.get("training"):
            _training_details(member["training"], member)


def robustness_and_calibration(card: dict) -> None:
    """The robustness suite's accuracies and the reliability diagram, as the card records them."""
    robustness = (card.get("robustness") or {}).get("off")
    calibration = card.get("calibration")
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


def serving_summary(serving: dict | None) -> None:
    """What the app runs: the serving file, its form and how that form was chosen."""
    if not serving:
        st.caption(f"Serving file {NOT_RECORDED}.")
        return
    st.caption(f"Runs from **{serving['file']}** ({serving['quantization']}, "
               f"{serving['bytes'] / 1e6:.1f} MB, {serving.get('runtime', 'LiteRT')}); largest "
               f"difference from the Keras model's probabilities on 512 PublicTest faces: "
               f"{serving.get('max_abs_diff_vs_keras', float('nan')):.4f}. Rule: "
               f"{serving.get('rule', NOT_RECORDED)}.")
    candidates = serving.get("candidates") or {}
    if len(candidates) > 1:
        st.dataframe(pd.DataFrame([
            {"form": form, "accuracy": _pct(c["accuracy"].get("off")),
             "with flip TTA": _pct(c["accuracy"].get("flip")), "MB": round(c["bytes"] / 1e6, 2),
             "shipped": form == serving["quantization"]}
            for form, c in candidates.items()]), hide_index=True)


def _training_details(training: dict, card: dict) -> None:
    """The recipe table, the accuracy curve and the commands of one training run."""
    recipe = {
        "epochs": training.get("epochs"),
        "training time": _duration(training.get("wall_seconds")),
        "machine": training.get("machine"),
        "notes": "; ".join(training.get("notes") or []) or None,
        "optimizer": training.get("optimizer"),
        "schedule": training.get("schedule"),
        "loss": training.get("loss"),
        "batch size": training.get("batch_size"),
        "seed": training.get("seed"),
        "training images": training.get("train_images"),
        "augmentation": card.get("augmentation"),
        "preprocessing": card.get("preprocessing"),
    }
    st.table(pd.DataFrame({"value": [str(v) for v in recipe.values() if v is not None]},
                          index=[k for k, v in recipe.items() if v is not None]))
    if training.get("history"):
        st.altair_chart(training_history_chart(training["history"]), width="stretch")
    if training.get("command"):
        st.markdown("To reproduce this model:")
        st.code(training["command"], language="bash")
    for label, key in (("Evaluate it", "evaluate_command"), ("Time it", "speed_command")):
        if card.get(key):
            st.markdown(f"{label}:")
            st.code(card[key], language="bash")


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
                st.info(f"The {name} model is not installed in {models_dir()}; "
                        + HOW_TO_TRAIN.format(name=name) + ".")


main()

"""Models: the model cards of the shipped models (written by ``python -m fer train``):
validation accuracy with and without flip TTA, per-class F1, confusion matrix, speed, size and
the training recipe to reproduce them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer.charts import confusion_matrix_chart, per_class_f1_chart, training_history_chart
from fer.emotions import EMOTIONS
from fer.registry import HOW_TO_TRAIN, MODEL_NAMES, ModelInfo, available_models
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
        })
    return pd.DataFrame(rows)


def model_card(info: ModelInfo) -> None:
    card = info.card
    if not card:
        st.info(f"The {info.name} model is installed ({info.path.name}) but has no model card "
                f"({info.path.with_suffix('.json').name}); training writes one.")
        return
    plain, tta = card.get("validation", {}), card.get("validation_tta", {})
    speed, training = card.get("speed", {}), card.get("training", {})

    c1, c2, c2b, c3, c4, c5 = st.columns(6)
    delta = None
    if isinstance(info.accuracy, (int, float)) and isinstance(info.accuracy_tta, (int, float)):
        delta = f"{100 * (info.accuracy_tta - info.accuracy):+.1f} pts"

    def shown(value: str) -> str:
        return DASH if value == NOT_RECORDED else value

    c1.metric("Validation accuracy", shown(_pct(info.accuracy)),
              help=card.get("validation_split", "FER2013 PublicTest"))
    c2.metric("With flip TTA", shown(_pct(info.accuracy_tta)), delta=delta,
              help="Each face and its mirror image, probabilities averaged.")
    shift = info.accuracy_by_tta().get("shift")
    c2b.metric("With flip + shift TTA", shown(_pct(shift)),
               delta=(f"{100 * (shift - info.accuracy):+.1f} pts"
                      if shift is not None and isinstance(info.accuracy, (int, float)) else None),
               help="Ten views per face: the face and its mirror, each also moved 2 pixels "
                    "left, right, up and down; probabilities averaged.")
    speed_help = "One face at a time"
    if "faces_per_s_batch64" in speed:
        speed_help += f"; {speed['faces_per_s_batch64']:,.0f} faces/s in batches of 64"
    speed_help += (f" ({card.get('serving', {}).get('runtime') or speed.get('engine', 'engine not recorded')}, "
                   f"{training.get('machine', 'machine not recorded')}).")
    c3.metric("ms per face", f"{speed['ms_per_face_batch1']:.2f}"
              if "ms_per_face_batch1" in speed else DASH, help=speed_help)
    c4.metric("Parameters", f"{card['parameters']:,}" if "parameters" in card else DASH)
    mb = _file_mb(info)
    c5.metric("File size", f"{mb:.1f} MB" if mb else DASH)
    if card.get("validation_split"):
        st.caption(f"Validated on {card['validation_split']}.")
    serving_summary(card.get("serving"))

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

    st.markdown("**Training**")
    if training:
        _training_details(training, card)
    else:
        st.caption(f"Training recipe {NOT_RECORDED}.")
    for i, member in enumerate(card.get("members") or [], start=1):
        accuracy = member.get("accuracy", {})
        st.markdown(f"**Member {i}**: {member.get('architecture') or 'network'}, "
                    f"{_pct(accuracy.get('off'))} alone ({_pct(accuracy.get('flip'))} with flip "
                    f"TTA, {_pct(accuracy.get('shift'))} with 10 views)")
        if member.get("training"):
            _training_details(member["training"], member)


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

"""Live: the webcam through WebRTC, each frame analysed on the server (this machine).

The frame callback (fer.live.LiveProcessor) runs on streamlit-webrtc's worker thread; it reads
the sidebar settings at every frame (so changing the model does not restart the stream) and
reports per-frame samples through a queue that the fragment below drains every second.
"""

from __future__ import annotations

import streamlit as st

from fer.charts import timeline_chart, timeline_dataframe
from fer.emotions import DISPLAY_NAMES
from fer.live import LiveProcessor, ice_servers_from_env
from pages._common import (
    WebRtcUnavailable,
    get_config,
    import_webrtc,
    installed_models,
    require_model,
)

WINDOW_S = 30.0  # the rolling chart shows the last 30 s
REFRESH_S = 1.0
K_PROCESSOR, K_HISTORY, K_LAST = "live_processor", "live_history", "live_last"


def processor_for_session() -> LiveProcessor:
    """This session's processor, kept across reruns (its analyzers and tracks survive)."""
    processor = st.session_state.get(K_PROCESSOR)
    if not isinstance(processor, LiveProcessor):
        processor = LiveProcessor()
        st.session_state[K_PROCESSOR] = processor
    return processor


def update_history(processor: LiveProcessor) -> tuple[list, list[str]]:
    """Move queued samples into the session's rolling history; returns (history, errors)."""
    history = st.session_state.setdefault(K_HISTORY, [])
    errors = []
    for sample in processor.drain():
        if sample.is_error:
            errors.append(sample.error)
            continue
        history.append(sample)
        st.session_state[K_LAST] = sample
    if history:
        newest = history[-1].time
        while history and history[0].time < newest - WINDOW_S:
            history.pop(0)
    return history, errors


def show_stats(processor: LiveProcessor, playing: bool) -> None:
    history, errors = update_history(processor)
    last = st.session_state.get(K_LAST)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("FPS", f"{last.fps:.1f}" if last else "–",
              help="Frames analysed per second (moving average).")
    c2.metric("Latency", f"{last.latency_ms:.0f} ms" if last else "–",
              help="Time to detect, classify and draw one frame (moving average).")
    c3.metric("Faces", str(last.faces) if last else "–")
    c4.metric("Main face", DISPLAY_NAMES[last.label] if last and last.label else "–",
              help="Smoothed label of the largest face.")
    for message in dict.fromkeys(errors):  # each distinct error once
        st.warning(message)
    if last is not None and last.notice:
        st.caption(last.notice)
    with_face = [s for s in history if s.probabilities is not None]
    if with_face:
        newest = history[-1].time
        df = timeline_dataframe([s.time - newest for s in with_face],
                                [s.probabilities for s in with_face])
        st.altair_chart(timeline_chart(df, time_title="seconds ago (0 = now)"), width="stretch")
    elif playing:
        st.caption("Waiting for a face…")


def main() -> None:
    st.title("Live")
    st.caption("Press START and allow the camera. Frames are analysed on this machine; the "
               "sidebar settings apply immediately, without restarting the stream.")
    config = get_config()
    if not require_model(config):
        return

    try:
        webrtc = import_webrtc()
    except WebRtcUnavailable as exc:
        st.error(str(exc))
        return

    both = st.toggle("Both models", key="live_both_models",
                     help="Also run the other model on each face and show its label below.",
                     disabled=len(installed_models()) < 2)
    processor = processor_for_session()
    processor.configure(config, both_models=bool(both) and len(installed_models()) >= 2)

    ice_servers, ice_warning = ice_servers_from_env()
    if ice_warning:
        st.warning(ice_warning)
    try:
        ctx = webrtc.webrtc_streamer(
            key="fer-live",
            mode=webrtc.WebRtcMode.SENDRECV,
            video_frame_callback=processor,
            on_video_ended=processor.reset,
            media_stream_constraints={"video": True, "audio": False},
            rtc_configuration={"iceServers": ice_servers},
            async_processing=True,
        )
    except Exception as exc:  # the rest of the app must keep working
        st.error(f"The webcam component could not start: {exc}")
        return
    ice_note = ("No STUN/TURN servers are configured (FER_ICE_SERVERS), which is right for "
                "localhost; set FER_ICE_SERVERS to a JSON list to reach the app across networks."
                if not ice_servers else None)

    # Refreshes on its own: the component's `playing` flag reaches the script only on a rerun,
    # while frames reaching the processor say at once whether the stream runs.
    @st.fragment(run_every=REFRESH_S)
    def stats() -> None:
        playing = bool(ctx.state.playing) or processor.streaming()
        if not playing:
            st.info("The stream is stopped. Press START above to begin; the chart of the main "
                    "face's expressions over the last 30 s appears here.",
                    icon=":material/videocam:")
            if ice_note:
                st.caption(ice_note)
        show_stats(processor, playing)

    stats()


main()

"""Live: the webcam through WebRTC, each frame analysed on the server (this machine).

The frame callback (fer.jobs.live.LiveProcessor) runs on streamlit-webrtc's worker thread; it reads
the sidebar settings at every frame (so changing the model does not restart the stream) and
reports per-frame samples through a queue that the fragment below drains every second.
"""

from __future__ import annotations

import streamlit as st

from fer.emotions import DISPLAY_NAMES
from fer.jobs.live import LiveHistory, LiveProcessor, ice_servers_from_env
from fer.output.charts import timeline_chart
from pages._common import (
    WebRtcUnavailable,
    get_config,
    import_webrtc,
    installed_models,
    require_model,
)

REFRESH_S = 1.0
K_PROCESSOR, K_HISTORY = "live_processor", "live_history"


def session_object(key: str, kind: type):
    """This session's ``kind()`` under ``key``, kept across reruns (a processor's analyzers
    and tracks, the chart's history)."""
    value = st.session_state.get(key)
    if not isinstance(value, kind):
        value = kind()
        st.session_state[key] = value
    return value


def show_stats(processor: LiveProcessor, playing: bool) -> None:
    history = session_object(K_HISTORY, LiveHistory)
    errors = history.add(processor.drain())
    last = history.last
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "FPS",
        f"{last.fps:.1f}" if last else "–",
        help="Frames analysed per second (moving average).",
    )
    c2.metric(
        "Latency",
        f"{last.latency_ms:.0f} ms" if last else "–",
        help="Time to detect, classify and draw one frame (moving average).",
    )
    c3.metric("Faces", str(last.faces) if last else "–")
    c4.metric(
        "Main face",
        DISPLAY_NAMES[last.label] if last and last.label else "–",
        help="Smoothed label of the largest face.",
    )
    for message in errors:
        st.warning(message)
    if last is not None and last.notice:
        st.caption(last.notice)
    timeline = history.timeline()
    if len(timeline):
        st.altair_chart(
            timeline_chart(timeline, time_title="seconds ago (0 = now)"), width="stretch"
        )
    elif playing:
        st.caption("Waiting for a face…")


def start_stream(webrtc, processor: LiveProcessor):
    """The webcam component, or None when it cannot start (said on the page)."""
    ice_servers, ice_warning = ice_servers_from_env()
    if ice_warning:
        st.warning(ice_warning)
    try:
        return webrtc.webrtc_streamer(
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
        return None


def live_stats(ctx, processor: LiveProcessor) -> None:
    """The metrics and the rolling chart, refreshed on their own every second: the component's
    ``playing`` flag reaches the script only on a rerun, while frames reaching the processor
    say at once whether the stream runs."""
    no_ice = not ice_servers_from_env()[0]

    @st.fragment(run_every=REFRESH_S)
    def stats() -> None:
        playing = bool(ctx.state.playing) or processor.streaming()
        if not playing:
            st.info(
                "The stream is stopped. Press START above to begin; the chart of the main "
                "face's expressions over the last 30 s appears here.",
                icon=":material/videocam:",
            )
            if no_ice:
                st.caption(
                    "No STUN/TURN servers are configured (FER_ICE_SERVERS), which is "
                    "right for localhost; set FER_ICE_SERVERS to a JSON list to reach the "
                    "app across networks."
                )
        show_stats(processor, playing)

    stats()


def main() -> None:
    st.title("Live")
    st.caption(
        "Press START and allow the camera. Frames are analysed on this machine; the "
        "sidebar settings apply immediately, without restarting the stream."
    )
    config = get_config()
    if not require_model(config):
        return
    try:
        webrtc = import_webrtc()
    except WebRtcUnavailable as exc:
        st.error(str(exc))
        return
    two_models = len(installed_models()) >= 2
    both = st.toggle(
        "Both models",
        key="live_both_models",
        disabled=not two_models,
        help="Also run the other model on each face and show its label below.",
    )
    processor = session_object(K_PROCESSOR, LiveProcessor)
    processor.configure(config, both_models=bool(both) and two_models)
    ctx = start_stream(webrtc, processor)
    if ctx is not None:
        live_stats(ctx, processor)


main()

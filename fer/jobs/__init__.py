"""Jobs: one photo, many photos, a video, the live webcam and a comparison of models, each
turning inputs into rows of the results table; the input files they take (inputs), the video
files they read and write (video_io) and the face tracking that video and live share."""

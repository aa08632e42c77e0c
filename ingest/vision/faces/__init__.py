"""Faces: detect, align, embed and match faces from door-camera snapshots and video streams.

`pack` loads the model pack (detector, recogniser, their config), `analysis` turns an image
into scored faces with embeddings, `gallery` holds enrolled residents, `tracking` follows
faces across frames, `captures` turns faces into events, `snapshots` and `video` are the two
sources, `search` is the audited identify, `cli` the `pingan faces` commands.
"""

"""Media processing: probe an upload, transcode its HLS ladder, make thumbnail, preview and sound.

Usable without the API: a worker calls `process_source(...)` and stores what it wrote.
"""

from reels.media.errors import MediaRejected, TranscodeError
from reels.media.ladder import Rendition
from reels.media.pipeline import ProcessedMedia, process_source
from reels.media.probe import ProbeFacts, probe, validate

__all__ = [
    "MediaRejected",
    "ProbeFacts",
    "ProcessedMedia",
    "Rendition",
    "TranscodeError",
    "probe",
    "process_source",
    "validate",
]

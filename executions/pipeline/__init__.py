"""The streaming backup pipeline: compression, hashing and chunking, free of Django."""

from executions.pipeline.compression import Compressor, make_compressor, open_decompressed
from executions.pipeline.stream import (
    ChunkInfo,
    PipelineResult,
    Progress,
    run_pipeline,
)

__all__ = [
    "ChunkInfo",
    "Compressor",
    "PipelineResult",
    "Progress",
    "make_compressor",
    "open_decompressed",
    "run_pipeline",
]

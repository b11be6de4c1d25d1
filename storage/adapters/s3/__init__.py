"""Amazon S3 and S3-compatible services (Wasabi and others).

``S3CompatibleAdapter`` (``adapter``) holds everything the S3 API has in common, with streamed
uploads in ``writer`` and error translation in ``errors``; each S3-speaking type only maps its
own configuration to a bucket, a prefix and client settings (``S3Settings``).
"""

from storage.adapters.s3.adapter import S3CompatibleAdapter
from storage.adapters.s3.amazon import S3Adapter
from storage.adapters.s3.settings import S3Settings, checksums_field, relative_key
from storage.adapters.s3.writer import MIB, part_size_for

__all__ = [
    "MIB",
    "S3Adapter",
    "S3CompatibleAdapter",
    "S3Settings",
    "checksums_field",
    "part_size_for",
    "relative_key",
]

"""What an S3-speaking type's configuration boils down to, and the options they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from rest_framework import serializers

from storage.adapters.base import relative_parts

# The checksum sent with every part and object when checksums are on; botocore computes it
# without optional dependencies, and every service that takes flexible checksums accepts it.
CHECKSUM_ALGORITHM = "CRC32"


@dataclass(frozen=True)
class S3Settings:
    """What an S3-compatible type's configuration boils down to."""

    bucket: str
    prefix: str
    region: str | None
    access_key_id: str
    # repr=False: an exception or a log line that formats the settings must not show the key.
    secret_access_key: str = field(repr=False)
    endpoint_url: str | None = None
    storage_class: str | None = None
    # The ``checksums`` option as configured: "auto", "on" or "off" (see ``checksums_on``).
    checksums: str = "auto"

    @property
    def checksums_on(self) -> bool:
        """Whether uploads carry a CRC32 per part (and per object) for the service to verify.

        ``auto`` turns them on for Amazon S3 itself, which verifies them, and off for any other
        endpoint: several S3-compatible services reject the checksum headers.
        """
        if self.checksums != "auto":
            return self.checksums == "on"
        if not self.endpoint_url:
            return True
        host = urlsplit(self.endpoint_url).hostname or ""
        return host == "amazonaws.com" or host.endswith(".amazonaws.com")


def relative_key(path: str, *, allow_root: bool = False) -> str:
    """Validate a location-relative path and return it normalised to ``a/b/c`` form.

    The same rules as the local adapter: object keys have no directories to escape, but a
    ``..`` or an absolute path from a job or restore request is still a mistake worth refusing
    rather than a key to store literally.
    """
    return "/".join(relative_parts(path, allow_root=allow_root))


def checksums_field() -> serializers.ChoiceField:
    """The ``checksums`` option every S3-speaking type has: ``auto``, ``on`` or ``off``."""
    return serializers.ChoiceField(
        choices=["auto", "on", "off"],
        required=False,
        default="auto",
        help_text=(
            "CRC32 checksums on uploads, verified by the service: auto (on for Amazon S3, "
            "off for other endpoints), on, or off."
        ),
    )

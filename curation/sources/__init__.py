"""Where videos come from: VGGSound CSVs (+ yt-dlp), URL templates for mirrors, local folders."""

from curation.sources.ids import UNSAFE_ID, is_rejected, is_safe_id, vggsound_key
from curation.sources.item import SourceItem

__all__ = ["SourceItem", "UNSAFE_ID", "is_rejected", "is_safe_id", "vggsound_key"]

"""Where videos come from: VGGSound CSVs (+ yt-dlp), URL templates for mirrors, local folders."""

from curation.sources.item import SourceItem

__all__ = ["SourceItem"]
